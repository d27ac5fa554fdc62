// census-sim: troupe's command line with one more kind and one more scenario.
#include "census.hpp"

#include <troupe/cli.hpp>
#include <troupe/sim/scenario.hpp>

#include <iostream>

namespace census {
troupe::sim::Scenario rings();
}

int main(int argc, char** argv) {
  if (auto registered = troupe::register_subsystem(census::subsystem()); !registered) {
    std::cerr << "census-sim: " << registered.error() << '\n';
    return 1;
  }
  if (!troupe::sim::register_scenario(census::rings())) {
    std::cerr << "census-sim: the scenario \"rings\" is registered already\n";
    return 1;
  }
  return troupe::cli::main(argc, argv);
}
