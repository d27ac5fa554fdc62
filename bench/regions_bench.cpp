// A world split into regions on processes of their own (issue 13), against
// the same world in one process, measured in the same run: the real
// executable (`troupe run`, `troupe up`) on a pile, figures from its
// report.json.
//
// BM_RegionsAcrossProcesses: 200k bodies; 2 regions, each in a process of its
//   own on one thread, against one physics actor on 2 threads in one process.
//   `ratio` is tick time (p50) split / whole (target <= 1.25).
// BM_RegionsMemory: 1M bodies; 4 regions on 4 processes against one process;
//   `region_rss_ratio` is the largest region process's peak RSS over the one
//   process's (target <= 0.35), `logic_rss_ratio` the node with logic's (<= 0.2).
// Both also report the tick time, ghosts and exchange bytes per tick per
// boundary, and check that the split ends with the same world hash.

#include "common/net.hpp"

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

using troupe::testing::free_port;

/// A run's report.json.
struct Report {
  nlohmann::json json;

  const nlohmann::json& actor(const std::string& name) const {
    static const nlohmann::json none = nlohmann::json::object();
    const auto actors = json.find("actors");
    if (actors == json.end() || !actors->is_array())
      return none;
    for (const auto& entry : *actors)
      if (entry.value("name", std::string{}) == name)
        return entry;
    return none;
  }
  /// A counter of one actor, or -1.
  double number(const std::string& name, const std::string& key) const {
    return actor(name).value("counters", nlohmann::json::object()).value(key, -1.0);
  }
  /// A distribution's p50, or -1.
  double p50(const std::string& name, const std::string& distribution) const {
    const auto distributions = actor(name).value("distributions", nlohmann::json::object());
    return distributions.value(distribution, nlohmann::json::object()).value("p50", -1.0);
  }
  std::string hash() const { return json.value("world_hash", std::string{}); }
};

/// Runs `troupe VERB CONFIG` into `out`; its report, or nothing on failure.
bool run(const std::string& verb, const std::filesystem::path& config, const std::filesystem::path& out,
         Report& report) {
  const auto command = std::string(TROUPE_EXE) + " " + verb + " " + config.string() + " --quiet --out " +
                       out.string() + " > " + (out.string() + ".log") + " 2>&1";
  if (std::system(command.c_str()) != 0)
    return false;
  std::ifstream in(out / "report.json");
  report.json = nlohmann::json::parse(in, nullptr, false);
  return report.json.is_object();
}

/// A pile of `bodies` run `ticks` ticks: one node, one physics actor.
std::string whole(std::uint32_t bodies, std::uint32_t ticks, std::uint32_t threads) {
  return "[simulation]\nscenario = \"pile\"\nseed = 3\nbodies = " + std::to_string(bodies) +
         "\nticks = " + std::to_string(ticks) + "\nthreads = " + std::to_string(threads) +
         "\n[[nodes]]\nname = \"main\"\n[actors.physics]\n[actors.logic]\n[actors.input]\ntimeline = \"\"\n";
}

/// The same pile in `regions` regions (`grid`), region i on node "region-i";
/// logic and input on "main" (with region 0 when `logic_with_region`).
std::string split(std::uint32_t bodies, std::uint32_t ticks, std::uint32_t regions, const std::string& grid,
                  bool logic_with_region) {
  std::string out = "[simulation]\nscenario = \"pile\"\nseed = 3\nbodies = " + std::to_string(bodies) +
                    "\nticks = " + std::to_string(ticks) +
                    "\nthreads = 1\n[network]\nnode_timeout_ms = 20000\nconnect_timeout_ms = 60000\n";
  out += "[[nodes]]\nname = \"main\"\nport = " + std::to_string(free_port()) + "\n";
  std::string nodes;
  for (std::uint32_t i = 0; i < regions; ++i) {
    const auto node = logic_with_region && i == 0 ? std::string("main") : "region-" + std::to_string(i);
    if (node != "main")
      out += "[[nodes]]\nname = \"" + node + "\"\nport = " + std::to_string(free_port()) + "\n";
    nodes += (i ? ", \"" : "\"") + node + "\"";
  }
  out += "[actors.physics]\nregions = " + std::to_string(regions) + "\nregion_nodes = [" + nodes + "]\n" + grid +
         "\n[actors.logic]\n[actors.input]\ntimeline = \"\"\n";
  return out;
}

std::filesystem::path fresh(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("troupe-bench-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// Ghosts, exchange bytes per tick per boundary and step time of the regions.
void region_counters(benchmark::State& state, const Report& split, std::uint32_t regions, double boundaries) {
  double ghosts = 0, bytes = 0, step = 0;
  for (std::uint32_t i = 0; i < regions; ++i) {
    const auto name = "physics/" + std::to_string(i);
    ghosts += split.p50(name, "ghosts");
    bytes += split.p50(name, "exchange_bytes");
    step = std::max(step, split.p50(name, "step_ms"));
  }
  state.counters["ghosts_per_region"] = ghosts / regions;
  // Each boundary is crossed both ways; a region sends to every other.
  state.counters["exchange_kb_per_boundary"] = bytes / 1024.0 / (2.0 * boundaries);
  state.counters["region_step_ms"] = step;
}

/// Runs the whole world (`troupe run`) and its split (`troupe up`) from the
/// configs in `dir`; false (the benchmark skipped with the reason) when
/// either fails or they end at different world hashes.
bool run_both(benchmark::State& state, const std::filesystem::path& dir, Report& whole, Report& split) {
  for (auto _ : state) {
    if (!run("run", dir / "whole.toml", dir / "whole", whole) || !run("up", dir / "split.toml", dir / "split", split)) {
      state.SkipWithError("a troupe run failed (see the logs under the temporary folder)");
      return false;
    }
  }
  if (whole.hash() != split.hash()) {
    state.SkipWithError("the split run ended at another world hash");
    return false;
  }
  return true;
}

void BM_RegionsAcrossProcesses(benchmark::State& state) {
  constexpr std::uint32_t bodies = 200'000, ticks = 60;
  const auto dir = fresh("regions-200k");
  std::ofstream(dir / "whole.toml") << whole(bodies, ticks, 2);
  std::ofstream(dir / "split.toml") << split(bodies, ticks, 2, "cut = \"x\"", true);
  Report one, two;
  if (!run_both(state, dir, one, two))
    return;
  const double whole_tick = one.p50("logic", "tick_ms"), split_tick = two.p50("logic", "tick_ms");
  state.counters["whole_2t_tick_ms"] = whole_tick;
  state.counters["split_tick_ms"] = split_tick;
  state.counters["ratio"] = split_tick / whole_tick;
  region_counters(state, two, 2, 1);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RegionsAcrossProcesses)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

void BM_RegionsMemory(benchmark::State& state) {
  constexpr std::uint32_t bodies = 1'000'000, ticks = 10;
  const auto dir = fresh("regions-1m");
  std::ofstream(dir / "whole.toml") << whole(bodies, ticks, 1);
  std::ofstream(dir / "split.toml") << split(bodies, ticks, 4, "grid = [2, 1, 2]", false);
  Report one, four;
  if (!run_both(state, dir, one, four))
    return;
  const double whole_rss = one.number("links@main", "process_peak_rss_mb");
  double region_rss = 0;
  for (int i = 0; i < 4; ++i)
    region_rss = std::max(region_rss, four.number("links@region-" + std::to_string(i), "process_peak_rss_mb"));
  const double logic_rss = four.number("links@main", "process_peak_rss_mb");
  state.counters["whole_rss_mb"] = whole_rss;
  state.counters["region_rss_mb"] = region_rss;
  state.counters["logic_rss_mb"] = logic_rss;
  state.counters["region_rss_ratio"] = region_rss / whole_rss;
  state.counters["logic_rss_ratio"] = logic_rss / whole_rss;
  state.counters["whole_tick_ms"] = one.p50("logic", "tick_ms");
  state.counters["split_tick_ms"] = four.p50("logic", "tick_ms");
  // A 2 x 1 x 2 grid has 4 boundaries between neighbours (and regions that
  // touch only at a corner exchange their corner's ghosts too).
  region_counters(state, four, 4, 4);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RegionsMemory)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

} // namespace
