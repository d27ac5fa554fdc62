#include <troupe/sim/parallel.hpp>

#include <gtest/gtest.h>

#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

using namespace troupe::sim;

namespace {

using Ranges = std::vector<std::pair<std::size_t, std::size_t>>;

Ranges chunks_of(const Parallel& p, std::size_t count, std::size_t chunk,
                 std::size_t min_parallel = 0) {
  Ranges out;
  std::mutex m;
  p.for_chunks(count, chunk, [&](std::size_t b, std::size_t e) {
    std::lock_guard lock(m);
    out.emplace_back(b, e);
  }, min_parallel);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST(Parallel, SequentialCoversTheRangeInChunkOrder) {
  const Parallel p = Parallel::sequential();
  EXPECT_EQ(p.concurrency(), 1);
  Ranges seen;
  p.for_chunks(10, 4, [&](std::size_t b, std::size_t e) { seen.emplace_back(b, e); }, 0);
  EXPECT_EQ(seen, (Ranges{{0, 4}, {4, 8}, {8, 10}}));
}

TEST(Parallel, ChunkBoundariesDependOnlyOnCountAndChunkSize) {
  tbb::task_arena two(2), three(3);
  const Ranges seq = chunks_of(Parallel::sequential(), 10007, 128);
  EXPECT_EQ(chunks_of(Parallel::in_arena(two), 10007, 128), seq);
  EXPECT_EQ(chunks_of(Parallel::in_arena(three), 10007, 128), seq);
  ASSERT_FALSE(seq.empty());
  EXPECT_EQ(seq.front().first, 0u);
  EXPECT_EQ(seq.back().second, 10007u);
}

TEST(Parallel, ArenaRunsEveryElementExactlyOnce) {
  tbb::task_arena arena(2);
  const Parallel p = Parallel::in_arena(arena);
  EXPECT_EQ(p.concurrency(), 2);
  std::vector<std::atomic<int>> hits(50000);
  p.for_chunks(hits.size(), 256, [&](std::size_t b, std::size_t e) {
    for (std::size_t k = b; k < e; ++k)
      hits[k].fetch_add(1, std::memory_order_relaxed);
  });
  for (const auto& h : hits)
    ASSERT_EQ(h.load(), 1);
}

TEST(Parallel, SmallRangesRunInlineOnTheCallingThread) {
  tbb::task_arena arena(2);
  const Parallel p = Parallel::in_arena(arena);
  const auto caller = std::this_thread::get_id();
  bool all_inline = true;
  p.for_chunks(1000, 10, [&](std::size_t, std::size_t) {
    all_inline = all_inline && std::this_thread::get_id() == caller;
  }, 2048);
  EXPECT_TRUE(all_inline);
}

TEST(Parallel, EmptyRangeRunsNothing) {
  int calls = 0;
  Parallel::sequential().for_chunks(0, 16, [&](std::size_t, std::size_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}
