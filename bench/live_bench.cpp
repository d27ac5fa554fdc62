// The live view's cost (issue 15): the sandbox in realtime, once unwatched and
// once with a dashboard open (its WebSocket taking every frame) and /metrics
// scraped every second, one after the other in the same benchmark run.
//
// BM_LiveViewOverhead: `tick_p99_ms_plain` and `tick_p99_ms_watched` are
//   logic's tick time p99 from the runs' report.json, the median of three runs
//   each, alternating (one pair of runs moved the ratio by 10% either way on
//   this shared machine); `ratio` is watched over plain (target <= 1.05). Also the frames and scrapes the watcher got, and a
//   check that both runs end at the same world hash.
// BM_LiveViewUnderAttack: the same, with hostile clients on the port the whole
//   run through (garbage, a 1 MiB header, one byte a second, 1,000
//   connections at once, over and over) besides the watcher; `ratio` against
//   the unwatched run; the watcher's scrapes must keep being answered.

#include "common/http.hpp"
#include "common/net.hpp"

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using troupe::testing::Connection;

constexpr int ticks = 1200; // 20 s at 60 Hz

nlohmann::json read_report(const std::filesystem::path& out) {
  std::ifstream in(out / "report.json");
  return nlohmann::json::parse(in, nullptr, false);
}

double tick_p99(const nlohmann::json& report) {
  return report.is_object() ? report.value("tick_ms", nlohmann::json::object()).value("p99", -1.0) : -1.0;
}

/// Runs the sandbox; with a port, watches it like a dashboard and a
/// Prometheus server would. Returns the report (null on failure).
/// Hostile clients on 127.0.0.1:port until `done`: each round sends garbage,
/// a 1 MiB header, opens 1,000 connections and trickles a request a byte a
/// second; returns the rounds made.
std::uint64_t attack(std::uint16_t port, const std::atomic<bool>& done) {
  troupe::testing::raise_open_files(4096);
  std::uint64_t rounds = 0;
  while (!done) {
    Connection garbage(port);
    const char bytes[] = "\x00\xff\x13\x37 garbage\r\n\r\n";
    garbage.send(std::string(bytes, sizeof bytes - 1));
    Connection big(port);
    big.send("GET /metrics HTTP/1.1\r\nX-Big: " + std::string(1 << 20, 'x') + "\r\n\r\n");
    std::vector<Connection> flood;
    for (int i = 0; i < 1000 && !done; ++i)
      flood.emplace_back(port);
    Connection slow(port);
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    for (std::size_t i = 0; i < request.size() && !done && slow.send(request.substr(i, 1)) && !slow.closed_within(1s);
         ++i) {
    }
    ++rounds;
  }
  return rounds;
}

nlohmann::json run_sandbox(const std::filesystem::path& out, std::uint16_t port, std::uint64_t& frames,
                           std::uint64_t& scrapes, std::uint64_t* attacks = nullptr) {
  std::string command = std::string(TROUPE_EXE) + " run " + TROUPE_SOURCE_DIR +
                        "/config/examples/sandbox.toml --realtime --quiet --ticks " + std::to_string(ticks) +
                        " --out " + out.string();
  if (port != 0)
    command += " --http " + std::to_string(port);
  FILE* run = ::popen((command + " 2>&1").c_str(), "r");
  if (!run)
    return nullptr;
  std::atomic<bool> done{false};
  std::thread watcher, attacker;
  if (port != 0) {
    char line[1024];
    while (std::fgets(line, sizeof line, run) && !std::string(line).starts_with("troupe: node main: live view")) {
    }
    watcher = std::thread([&] {
      Connection dashboard(port);
      dashboard.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
      auto next_scrape = std::chrono::steady_clock::now();
      while (!done) {
        // Take whatever frames came (each has one "input_live"), for up to 100 ms.
        const auto got = dashboard.read_until("\x01never\x01", 100ms);
        for (std::size_t at = 0; (at = got.find("\"input_live\"", at)) != std::string::npos; ++at)
          ++frames;
        if (std::chrono::steady_clock::now() >= next_scrape) {
          scrapes += troupe::testing::http_request(port, "/metrics").status == 200 ? 1 : 0;
          next_scrape += 1s;
        }
      }
    });
    if (attacks)
      attacker = std::thread([&] { *attacks += attack(port, done); });
  }
  char buf[4096];
  while (std::fread(buf, 1, sizeof buf, run) > 0) {
  }
  const int status = ::pclose(run);
  done = true;
  if (watcher.joinable())
    watcher.join();
  if (attacker.joinable())
    attacker.join();
  return status == 0 ? read_report(out) : nullptr;
}

/// Runs the sandbox unwatched, then watched (and attacked, when asked), and
/// reports tick p99 of both and their ratio under `label`.
void compare(benchmark::State& state, const std::string& label, bool attacked) {
  constexpr int pairs = 3;
  const auto dir = std::filesystem::temp_directory_path() / ("troupe-bench-" + label + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::vector<double> plain_p99, watched_p99;
  std::uint64_t frames = 0, scrapes = 0, rounds = 0, ignored = 0;
  for (auto _ : state) {
    for (int i = 0; i < pairs; ++i) {
      const auto plain = run_sandbox(dir / "plain", 0, ignored, ignored);
      const auto watched =
        run_sandbox(dir / label, troupe::testing::free_port(), frames, scrapes, attacked ? &rounds : nullptr);
      if (plain.is_null() || watched.is_null()) {
        state.SkipWithError("a troupe run failed");
        return;
      }
      if (plain.value("world_hash", "a") != watched.value("world_hash", "b")) {
        state.SkipWithError(("the " + label + " run ended at another world hash").c_str());
        return;
      }
      plain_p99.push_back(tick_p99(plain));
      watched_p99.push_back(tick_p99(watched));
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  state.counters["tick_p99_ms_plain"] = median(plain_p99);
  state.counters["tick_p99_ms_" + label] = median(watched_p99);
  state.counters["ratio"] = median(watched_p99) / median(plain_p99);
  state.counters["dashboard_frames"] = static_cast<double>(frames);
  state.counters["scrapes"] = static_cast<double>(scrapes);
  if (attacked)
    state.counters["attack_rounds"] = static_cast<double>(rounds);
  std::filesystem::remove_all(dir);
}

void BM_LiveViewOverhead(benchmark::State& state) { compare(state, "watched", false); }
BENCHMARK(BM_LiveViewOverhead)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

void BM_LiveViewUnderAttack(benchmark::State& state) { compare(state, "attacked", true); }
BENCHMARK(BM_LiveViewUnderAttack)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

} // namespace
