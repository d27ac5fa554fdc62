// Physics step time on the "pile" scene (the benchmark scene of TARGETS.md):
// 10k and 50k spheres, 1 and 2 worker threads (a tbb::task_arena of that size).
// The pile is formed first (60 warm-up ticks), then each iteration is one step.
//
//   physics_bench --benchmark_filter=PileStep
//
// Reports wall time per step (UseRealTime: the step fans out to other threads)
// and the same as a "ms_per_step" counter.
#include <troupe/sim/advance.hpp>
#include <troupe/sim/regions.hpp>
#include <troupe/sim/scenario.hpp>

#include <benchmark/benchmark.h>

#include <oneapi/tbb/task_arena.h>

#include <algorithm>
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

/// The compute side of a region split (issue 13's 200k target, without the
/// network): a pile cut into `regions` slabs along x, each region stepped on one
/// thread one after another; `slowest_ms` is the slowest region's step (what a
/// tick waits for when each region has a process of its own), beside
/// `whole_2t_ms`, the whole world on two threads measured in the same run.
/// `stepped_per_body` counts ghosts stepped redundantly (1 = none), and
/// `parcel_kb` the bytes the regions sent each other per tick, per boundary and
/// direction (slabs: regions - 1 boundaries).
void RegionSplit(benchmark::State& state) {
  const auto bodies = static_cast<std::uint32_t>(state.range(0));
  const auto regions = static_cast<std::uint32_t>(state.range(1));
  const PhysicsSettings settings;
  World world = make_scenario({"pile", bodies, 1, 60.0});
  const Parallel sequential = Parallel::sequential();
  std::vector<ContactEvent> events;
  for (int t = 0; t < warmup_ticks; ++t) {
    events.clear();
    step(world, settings, sequential, events);
  }
  tbb::task_arena arena(2);
  const Parallel two = Parallel::in_arena(arena);
  Ledger ledger;
  std::vector<Region> parts;
  partition(world, Layout::even(world.arena, {regions, 1, 1}), ledger, parts);
  double slowest_total = 0.0, whole_total = 0.0, stepped = 0.0, parcel_bytes = 0.0;
  for (auto _ : state) {
    std::vector<Command> none;
    const TickPlan plan = ledger.plan(none, settings);
    for (Region& r : parts)
      r.begin(plan);
    std::vector<std::vector<Parcel>> inbox(parts.size());
    for (const Region& from : parts)
      for (const Region& to : parts)
        if (from.index() != to.index()) {
          inbox[to.index()].push_back(from.parcel_for(to.index()));
          parcel_bytes += static_cast<double>(inbox[to.index()].back().bodies.size() * sizeof(WholeBody));
        }
    std::vector<RegionReport> reports;
    double slowest = 0.0;
    for (Region& r : parts) {
      const auto t0 = std::chrono::steady_clock::now();
      reports.push_back(*r.step(inbox[r.index()], settings, sequential));
      r.commit();
      const auto t1 = std::chrono::steady_clock::now();
      slowest = std::max(slowest, std::chrono::duration<double, std::milli>(t1 - t0).count());
      stepped += static_cast<double>(reports.back().owned + reports.back().ghosts);
    }
    events.clear();
    ledger.finish(reports, events);
    slowest_total += slowest;
    // The same tick of the whole world on two threads, for the ratio.
    World copy = world;
    const auto t0 = std::chrono::steady_clock::now();
    step_tick(copy, settings, two, events);
    const auto t1 = std::chrono::steady_clock::now();
    whole_total += std::chrono::duration<double, std::milli>(t1 - t0).count();
    world = std::move(copy);
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["slowest_ms"] = slowest_total / n;
  state.counters["whole_2t_ms"] = whole_total / n;
  state.counters["ratio"] = slowest_total / whole_total;
  state.counters["stepped_per_body"] = stepped / n / static_cast<double>(world.size());
  state.counters["parcel_kb"] = parcel_bytes / n / 1024.0 / static_cast<double>(2 * (regions - 1));
}

BENCHMARK(RegionSplit)
  ->ArgNames({"bodies", "regions"})
  ->Args({200000, 2})
  ->Args({200000, 4})
  ->Unit(benchmark::kMillisecond)
  ->UseRealTime()
  ->Iterations(8);

} // namespace

BENCHMARK_MAIN();
