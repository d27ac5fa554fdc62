// Reload pause: a realtime run (60 Hz) whose timeline reloads the rules every
// second, alternating the sample plugins; the figure is the time from the end
// of the tick before an install to the end of the install tick, next to an
// ordinary tick's time. Target: under one tick (16.7 ms).

#include <troupe/actors/runtime.hpp>
#include <troupe/actors/subsystem.hpp>
#include <troupe/config/topology.hpp>

#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>

namespace troupe {
namespace {

const Percentiles* distribution(const RunResult& result, const std::string& actor, const std::string& name) {
  for (const auto& a : result.actors)
    if (a.name == actor)
      for (const auto& [n, p] : a.distributions)
        if (n == name)
          return &p;
  return nullptr;
}

void BM_ReloadPause(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "troupe-reload-bench";
  std::filesystem::create_directories(dir);
  const std::string plugins = TROUPE_PLUGIN_DIR;
  {
    std::ofstream timeline(dir / "reloads.timeline");
    for (int second = 1; second < 10; ++second)
      timeline << second * 60 << " reload " << plugins << (second % 2 ? "/wind.so" : "/drag.so") << "\n";
  }
  const auto text = R"([simulation]
tick_hz = 60.0
ticks = 600
scenario = "sandbox"
bodies = 2000
mode = "realtime"
[[nodes]]
name = "main"
[actors.physics]
[actors.logic]
plugin_dir = ")" + plugins + R"("
[actors.input]
timeline = "reloads.timeline"
)";
  auto parsed = config::parse_topology(text, (dir / "reload-bench.toml").string(), subsystems());
  if (!parsed) {
    state.SkipWithError(parsed.error().to_string().c_str());
    return;
  }
  const auto topology = std::move(*parsed);
  RunOptions options;
  options.out_dir = (dir / "out").string();
  options.topology_text = text;
  options.progress = false;
  RunResult result;
  for (auto _ : state)
    result = run(topology, options);
  if (!result.ok) {
    state.SkipWithError(result.error.to_string().c_str());
    return;
  }
  const auto* pause = distribution(result, "logic", "install_pause_ms");
  const auto* tick = distribution(result, "logic", "tick_ms");
  if (!pause || !tick || pause->count == 0) {
    state.SkipWithError("no install happened");
    return;
  }
  state.counters["installs"] = static_cast<double>(pause->count);
  state.counters["pause_p50_ms"] = pause->p50;
  state.counters["pause_max_ms"] = pause->max;
  state.counters["tick_p50_ms"] = tick->p50;
  state.counters["budget_ms"] = 1000.0 / 60.0;
}
BENCHMARK(BM_ReloadPause)->Iterations(1)->Unit(benchmark::kMillisecond);

} // namespace
} // namespace troupe
