// Physics step time on the "pile" scene (the benchmark scene of TARGETS.md):
// 10k and 50k spheres, 1 and 2 worker threads (a tbb::task_arena of that size).
// The pile is formed first (60 warm-up ticks), then each iteration is one step.
//
//   physics_bench --benchmark_filter=PileStep
//
// Reports wall time per step (UseRealTime: the step fans out to other threads)
// and the same as a "ms_per_step" counter.
#include <troupe/sim/advance.hpp>
#include <troupe/sim/scenario.hpp>

#include <benchmark/benchmark.h>

#include <oneapi/tbb/task_arena.h>

#include <chrono>
#include <vector>

namespace {

using namespace troupe::sim;

constexpr int warmup_ticks = 60;

void PileStep(benchmark::State& state) {
  const auto bodies = static_cast<std::uint32_t>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  tbb::task_arena arena(threads);
  const Parallel parallel = threads == 1 ? Parallel::sequential() : Parallel::in_arena(arena);
  World world = make_scenario({"pile", bodies, 1, 60.0});
  const PhysicsSettings settings;
  std::vector<ContactEvent> events;
  for (int t = 0; t < warmup_ticks; ++t) {
    events.clear();
    step(world, settings, parallel, events);
  }
  double total_ms = 0.0;
  std::uint64_t contacts = 0;
  for (auto _ : state) {
    events.clear();
    const auto t0 = std::chrono::steady_clock::now();
    const StepStats stats = step_tick(world, settings, parallel, events);
    const auto t1 = std::chrono::steady_clock::now();
    total_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
    contacts = stats.contacts;
    benchmark::DoNotOptimize(world.bodies.data());
  }
  state.counters["ms_per_step"] = benchmark::Counter(total_ms, benchmark::Counter::kAvgIterations);
  state.counters["contacts"] = static_cast<double>(contacts);
  state.counters["threads"] = threads;
}

BENCHMARK(PileStep)
  ->ArgNames({"bodies", "threads"})
  ->Args({10000, 1})
  ->Args({10000, 2})
  ->Args({50000, 1})
  ->Args({50000, 2})
  ->Unit(benchmark::kMillisecond)
  ->UseRealTime()
  ->MinTime(2.0);

} // namespace

BENCHMARK_MAIN();
