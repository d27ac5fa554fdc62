// Physics step time on the "pile" scene (the benchmark scene of TARGETS.md):
// 10k and 50k spheres. The pile is formed first (60 warm-up ticks), then the
// same ticks are stepped on one thread and on two (a tbb::task_arena of 2):
// `one_thread_ms` and `two_threads_ms` per tick, their ratio `speedup`, and a
// check that both give the same bits.
//
//   troupe_benchmarks --benchmark_filter=PileStep --benchmark_counters_tabular=true
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
  tbb::task_arena arena(2);
  const Parallel one = Parallel::sequential(), two = Parallel::in_arena(arena);
  World world = make_scenario({"pile", bodies, 1, 60.0});
  const PhysicsSettings settings;
  std::vector<ContactEvent> events;
  for (int t = 0; t < warmup_ticks; ++t) {
    events.clear();
    step(world, settings, one, events);
  }
  const auto ticks = static_cast<int>(state.range(1));
  // The same ticks on one thread (a copy) and on two, in turns of 10 ticks:
  // equal work for both, run back to back within a turn as a batch run steps
  // them, and a shared machine's drift falls on both alike.
  constexpr int turn = 10;
  std::uint64_t contacts = 0;
  auto run = [&](World& w, const Parallel& parallel) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < turn; ++t) {
      events.clear();
      contacts = step_tick(w, settings, parallel, events).contacts;
      benchmark::DoNotOptimize(w.bodies.data());
    }
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  double one_ms = 0.0, two_ms = 0.0;
  int stepped = 0; // ticks, whole turns
  for (auto _ : state) {
    World copy = world;
    for (; stepped < ticks; stepped += turn) {
      one_ms += run(copy, one);
      two_ms += run(world, two);
    }
    if (world_hash(copy) != world_hash(world)) {
      state.SkipWithError("one and two threads stepped the pile to different bits");
      return;
    }
  }
  one_ms /= stepped;
  two_ms /= stepped;
  state.counters["one_thread_ms"] = one_ms;
  state.counters["two_threads_ms"] = two_ms;
  state.counters["speedup"] = one_ms / two_ms;
  state.counters["contacts"] = static_cast<double>(contacts);
}

// Ticks 60-179 and 60-99 of the pile: about 2 s each on one thread here.
BENCHMARK(PileStep)->ArgNames({"bodies", "ticks"})->Args({10000, 120})->Args({50000, 40})->Iterations(1)
  ->UseRealTime()->Unit(benchmark::kMillisecond);

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
