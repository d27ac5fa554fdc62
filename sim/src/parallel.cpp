// Chunked data parallelism: sequential, or tasks in a caller-owned TBB arena.
#include <troupe/sim/parallel.hpp>
#include <troupe/sim/sanitizer.hpp>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>

namespace troupe::sim {

namespace {

/// Runs every chunk of [0, count) on the calling thread, in chunk order.
void run_inline(std::size_t count, std::size_t chunk, const ChunkFn& fn) {
  for (std::size_t begin = 0; begin < count; begin += chunk)
    fn(begin, std::min(count, begin + chunk));
}

} // namespace

Parallel Parallel::sequential() {
  return Parallel(run_inline, 1);
}

Parallel Parallel::in_arena(tbb::task_arena& arena) {
  auto runner = [&arena](std::size_t count, std::size_t chunk, const ChunkFn& fn) {
    const std::size_t chunks = (count + chunk - 1) / chunk;
    // TBB's task hand-off is invisible to TSan: the caller's writes happen
    // before every chunk, every chunk happens before the caller continues.
    sanitizer::release(&fn);
    arena.execute([&] {
      // One task per chunk (grain 1, simple_partitioner): the chunk, not TBB's
      // splitting, decides the boundaries, so outputs never depend on threads.
      tbb::parallel_for(
        tbb::blocked_range<std::size_t>(0, chunks, 1),
        [&](const tbb::blocked_range<std::size_t>& r) {
          sanitizer::acquire(&fn);
          for (std::size_t c = r.begin(); c != r.end(); ++c)
            fn(c * chunk, std::min(count, (c + 1) * chunk));
          sanitizer::release(&chunk);
        },
        tbb::simple_partitioner());
    });
    sanitizer::acquire(&chunk);
  };
  return Parallel(std::move(runner), std::max(1, arena.max_concurrency()));
}

void Parallel::for_chunks(std::size_t count, std::size_t chunk, const ChunkFn& fn,
                          std::size_t min_parallel) const {
  if (count == 0)
    return;
  if (chunk == 0)
    chunk = count;
  if (concurrency_ <= 1 || count < min_parallel || count <= chunk || !runner_) {
    run_inline(count, chunk, fn);
    return;
  }
  runner_(count, chunk, fn);
}

} // namespace troupe::sim
