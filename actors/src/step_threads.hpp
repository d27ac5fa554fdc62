#pragma once
// The threads a stepper (the physics actor, each region) steps with: a TBB
// arena of the topology's `threads`, or this thread alone for one. Private to
// actors/.

#include <troupe/sim/parallel.hpp>

#include <tbb/task_arena.h>

#include <cstdint>

namespace troupe {

struct StepThreads {
  explicit StepThreads(std::uint32_t threads)
    : count(threads),
      arena(static_cast<int>(threads)),
      parallel(threads > 1 ? sim::Parallel::in_arena(arena) : sim::Parallel::sequential()) {}
  StepThreads(const StepThreads&) = delete;
  StepThreads& operator=(const StepThreads&) = delete;

  std::uint32_t count;
  tbb::task_arena arena;
  sim::Parallel parallel; ///< runs chunks on `arena`
};

} // namespace troupe
