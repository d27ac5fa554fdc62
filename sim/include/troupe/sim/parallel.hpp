#pragma once
/// \file How sim/ runs data-parallel work without owning threads: the caller
/// passes a `Parallel`, which runs a chunk function over fixed chunks of a range.
///
/// Determinism: chunk boundaries depend only on the range and the chunk size,
/// never on the thread count, and every chunk writes only its own outputs; results
/// that are gathered are concatenated in chunk order.

#include <cstddef>
#include <functional>
#include <utility>

#include <oneapi/tbb/task_arena.h>

namespace troupe::sim {

/// Work on the half-open range [begin, end).
using ChunkFn = std::function<void(std::size_t begin, std::size_t end)>;

/// Runs `fn` over [0, count) split into chunks of `chunk` elements (the last may
/// be shorter). Chunks may run concurrently and in any order.
class Parallel {
public:
  using Runner = std::function<void(std::size_t count, std::size_t chunk, const ChunkFn& fn)>;

  /// Runs everything on the calling thread.
  static Parallel sequential();

  /// Runs chunks as tasks in `arena` (its concurrency is the thread count). The
  /// arena must outlive every call.
  static Parallel in_arena(tbb::task_arena& arena);

  /// Splits [0, count) into chunks and runs them; ranges below `min_parallel`
  /// elements run on the calling thread (a task costs more than it saves there).
  void for_chunks(std::size_t count, std::size_t chunk, const ChunkFn& fn,
                  std::size_t min_parallel = 2048) const;

  /// Worker threads this runs on (1 for sequential).
  int concurrency() const { return concurrency_; }

private:
  Parallel(Runner runner, int concurrency)
    : runner_(std::move(runner)), concurrency_(concurrency) {}
  Runner runner_;
  int concurrency_ = 1;
};

} // namespace troupe::sim
