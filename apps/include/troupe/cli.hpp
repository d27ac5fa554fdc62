#pragma once
/// \file troupe's command line as a function. An application with kinds or
/// scenarios of its own registers them, then hands its arguments over:
///
///   int main(int argc, char** argv) {
///     troupe::register_subsystem(my_reader());   // troupe/actors/subsystem.hpp
///     troupe::sim::register_scenario(my_scene()); // troupe/sim/scenario.hpp
///     return troupe::cli::main(argc, argv);
///   }
///
/// Its executable is then a troupe that knows them: `run`, `check`, `replay`,
/// `node`, and `up` (which starts every node from this same executable).

namespace troupe::cli {

/// Runs the command line (`troupe run|check|replay|node|up ...`); returns the
/// exit code: 0 success, 1 the run failed, 2 bad input, 3 a supervisor gave up.
int main(int argc, char** argv);

} // namespace troupe::cli
