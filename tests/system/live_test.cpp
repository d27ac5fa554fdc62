// The live view from outside: a real `troupe run` and `troupe up` serving
// /metrics on ports the kernel picked, checked by Prometheus's own promtool,
// scraped twice while the world runs, and fed hostile bytes meanwhile; and
// the traces they write (--trace), read back as JSON.

#include "common/http.hpp"
#include "common/net.hpp"
#include "common/process.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace troupe::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// The families the issue asks every node's /metrics for (a node shows those
/// of the actors it runs).
const std::vector<std::string> run_families = {
  "troupe_mailbox_messages",          "troupe_mailbox_capacity_messages", "troupe_mailbox_high_water_messages",
  "troupe_mailbox_admitted_total",    "troupe_mailbox_dropped_total",     "troupe_mailbox_rejected_total",
  "troupe_restarts_total",            "troupe_tick_seconds",              "troupe_step_seconds",
  "troupe_handoff_seconds",           "troupe_frame_seconds",             "troupe_commands_sent_total",
  "troupe_commands_applied_total",    "troupe_link_lost_total",           "troupe_link_back_total",
  "troupe_process_wire_sent_bytes_total", "troupe_bodies",                "troupe_tick",
  "troupe_generation"};

bool has_family(const std::string& metrics, const std::string& family) {
  return metrics.find("# TYPE " + family + " ") != std::string::npos;
}

/// The value of one series (NAME{LABELS}); -1 when absent.
double series(const std::string& metrics, const std::string& name) {
  const auto at = metrics.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(metrics.substr(at + name.size() + 2));
}

/// promtool's verdict on a scrape: "" when it passes, else what it said.
std::string promtool_check(const std::string& metrics, const std::string& dir) {
  const auto file = dir + "/scrape.prom";
  std::ofstream(file) << metrics;
  const auto r = run_command("promtool check metrics < " + file, 60);
  return r.exit_code == 0 ? std::string{} : "promtool exit " + std::to_string(r.exit_code) + ": " + r.output;
}

/// Scrapes until `done` holds for the text (the world moves on meanwhile), at
/// most `within`; the last scrape.
template <class Done>
std::string scrape_until(std::uint16_t port, Done done, std::chrono::seconds within = 60s) {
  const auto until = Clock::now() + within;
  std::string text;
  do {
    const auto reply = http_request(port, "/metrics");
    text = reply.status == 200 ? reply.body : std::string{};
    if (!text.empty() && done(text))
      return text;
    Connection(port).closed_within(100ms); // a short pause that a served request also ends
  } while (Clock::now() < until);
  return text;
}

/// Every kind of bad input at once: garbage, a 1 MiB header, a client that
/// sends one byte at a time, and a thousand connections. Returns once each
/// has been answered or hung up on.
void attack(std::uint16_t port) {
  raise_open_files(4096);
  Connection garbage(port);
  const char bytes[] = "\x00\xff\x13\x37 garbage\r\n\r\n";
  garbage.send(std::string(bytes, sizeof bytes - 1));
  Connection big(port);
  big.send("GET /metrics HTTP/1.1\r\nX-Big: " + std::string(1 << 20, 'x') + "\r\n\r\n");
  Connection slow(port);
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::size_t i = 0; i < request.size() && slow.send(request.substr(i, 1)) && !slow.closed_within(1s); ++i) {
  }
  EXPECT_EQ(garbage.read_all(10s).rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(big.read_all(10s).rfind("HTTP/1.1 431", 0), 0u);
  std::vector<Connection> flood;
  for (int i = 0; i < 1000; ++i)
    flood.emplace_back(port);
  for (auto& c : flood)
    c.closed_within(10s);
}

TEST(Live, RunServesMetricsThatPromtoolAcceptsAndThatGrowWhileHostileBytesChangeNothing) {
  const auto dir = fresh_dir("live-run");
  const auto port = free_port();
  // Realtime, so the run lasts long enough to be watched; physics crashes
  // once (its restart must show, and the hash must not care).
  const auto command = "timeout -s KILL 200 " + exe + " run " + examples +
                       "sandbox.toml --realtime --ticks 1200 --kill physics@60 --http " + std::to_string(port) +
                       " --out " + dir + "/out 2>&1";
  FILE* run = ::popen(command.c_str(), "r");
  ASSERT_NE(run, nullptr);
  std::string output;
  ASSERT_TRUE(wait_for(run, "live view at http://127.0.0.1:" + std::to_string(port) + "/", output))
    << output;

  const auto tick_of = [](const std::string& m) { return series(m, R"(troupe_tick{actor="logic",kind="logic",node="main"})"); };
  const auto first = scrape_until(port, [&](const std::string& m) {
    return tick_of(m) > 80 && series(m, R"(troupe_restarts_total{actor="physics",kind="physics",node="main"})") == 1;
  });
  ASSERT_GT(tick_of(first), 80) << first;
  EXPECT_EQ(promtool_check(first, dir), "");
  for (const auto& family : run_families)
    EXPECT_TRUE(has_family(first, family)) << family << "\n" << first;

  // The report as it stands: valid, of this run, every actor in it.
  const auto live_report = http_request(port, "/report.json");
  ASSERT_EQ(live_report.status, 200);
  const auto report_now = parse_report(live_report.body);
  EXPECT_EQ(report_now.value("schema", ""), "troupe-report/1");
  EXPECT_GE(report_now.value("ticks", 0), 80);
  EXPECT_FALSE(report_actor(report_now, "logic").is_null());
  EXPECT_FALSE(report_actor(report_now, "render").is_null());
  EXPECT_GT(report_actor(report_now, "physics")["mailbox"].value("admitted", 0), 0);

  attack(port);

  const auto second = scrape_until(port, [&](const std::string& m) { return tick_of(m) > tick_of(first) + 30; });
  EXPECT_EQ(promtool_check(second, dir), "");
  for (const auto& name : {R"(troupe_tick_seconds_count{actor="logic",kind="logic",node="main"})",
                           R"(troupe_step_seconds_count{actor="physics",kind="physics",node="main"})",
                           R"(troupe_mailbox_admitted_total{actor="physics",kind="physics",node="main"})",
                           R"(troupe_mailbox_admitted_total{actor="observer",kind="observer",node="main"})",
                           R"(troupe_generation{actor="logic",kind="logic",node="main"})"})
    EXPECT_GT(series(second, name), series(first, name)) << name;
  EXPECT_GT(series(second, R"(troupe_http_refused_total{node="main",reason="connections"})"), 0) << second;
  EXPECT_GT(series(second, R"(troupe_http_refused_total{node="main",reason="header_too_large"})"), 0);
  EXPECT_GT(series(second, R"(troupe_http_refused_total{node="main",reason="malformed"})"), 0);

  EXPECT_EQ(finish(run, output), 0) << output;
  // The same world as a batch run that no one watched or attacked.
  const auto quiet = run_command(exe + " run " + examples + "sandbox.toml --batch --ticks 1200 --out " + dir + "/quiet");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.output;
  const auto hash = report_hash(read_text(dir + "/out/report.json"));
  EXPECT_FALSE(hash.empty());
  EXPECT_EQ(hash, report_hash(read_text(dir + "/quiet/report.json")));
}

TEST(Live, EveryNodeOfUpServesItsOwnMetrics) {
  const auto dir = fresh_dir("live-up");
  const std::uint16_t node_ports[3] = {free_port(), free_port(), free_port()};
  const std::uint16_t http_ports[3] = {free_port(), free_port(), free_port()};
  auto text = read_text(examples + "sandbox-three-nodes.toml");
  for (int i = 0; i < 3; ++i)
    text = std::regex_replace(text, std::regex("port = 4710" + std::to_string(i + 1)),
                              "port = " + std::to_string(node_ports[i]) +
                                (i == 0 ? std::string{} : "\nhttp_port = " + std::to_string(http_ports[i])));
  std::filesystem::copy_file(examples + "sandbox.timeline", dir + "/sandbox.timeline");
  std::ofstream(dir + "/three.toml") << text;
  // The node with logic takes its port from --http; the others from the config.
  FILE* up = start_up(dir + "/three.toml",
                      "--realtime --ticks 600 --http " + std::to_string(http_ports[0]) + " --out " + dir + "/out");
  ASSERT_NE(up, nullptr);
  std::string output;
  ASSERT_TRUE(wait_for(up, "live view at http://127.0.0.1:" + std::to_string(http_ports[0]), output)) << output;

  const std::string nodes[3] = {"main", "physics-node", "media-node"};
  const std::string kinds[3] = {"logic", "physics", "render"};
  for (int i = 0; i < 3; ++i) {
    const auto label = R"(kind=")" + kinds[i] + R"(",node=")" + nodes[i] + R"(")";
    const auto admitted = "troupe_mailbox_admitted_total{actor=\"" + kinds[i] + "\"," + label + "}";
    const auto first = scrape_until(http_ports[i], [&](const std::string& m) { return series(m, admitted) > 0; });
    ASSERT_GT(series(first, admitted), 0) << nodes[i] << "\n" << first;
    EXPECT_EQ(promtool_check(first, dir), "") << nodes[i];
    const auto second =
      scrape_until(http_ports[i], [&](const std::string& m) { return series(m, admitted) > series(first, admitted); });
    EXPECT_GT(series(second, admitted), series(first, admitted)) << nodes[i];
    EXPECT_TRUE(has_family(second, "troupe_link_lost_total")) << nodes[i];
    // Only the process with logic has the whole report to serve.
    EXPECT_EQ(http_request(http_ports[i], "/report.json").status, i == 0 ? 200 : 404) << nodes[i];
    // Logic sends snapshots, physics step results, once the first tick runs
    // (after every reader subscribed: mailboxes admit messages before that);
    // media-node's readers only send acknowledgements (atoms, not troupe messages).
    const auto sent = R"(troupe_process_wire_sent_bytes_total{node=")" + nodes[i] + R"("})";
    if (i < 2) {
      const auto ticking = scrape_until(http_ports[i], [&](const std::string& m) { return series(m, sent) > 0; });
      EXPECT_GT(series(ticking, sent), 0) << nodes[i];
    } else {
      EXPECT_GE(series(second, sent), 0) << nodes[i];
    }
  }
  EXPECT_EQ(finish(up, output), 0) << output;
}

TEST(Live, RegionsShowTheirOwnFigures) {
  const auto dir = fresh_dir("live-regions");
  // The example's node ports, made free: other tests run beside this one.
  std::filesystem::copy_file(examples + "sandbox.timeline", dir + "/sandbox.timeline");
  std::ofstream(dir + "/regions-four.toml") << with_free_ports(read_text(examples + "regions-four.toml"));
  const auto port = free_port();
  const auto command = "timeout -s KILL 200 " + exe + " run " + dir + "/regions-four.toml --realtime --ticks 300 --http " +
                       std::to_string(port) + " --out " + dir + "/out 2>&1";
  FILE* run = ::popen(command.c_str(), "r");
  ASSERT_NE(run, nullptr);
  std::string output;
  ASSERT_TRUE(wait_for(run, "live view at", output)) << output;
  // Labels of region i: it runs on region_nodes[i % 2] (main, region-node: the example).
  auto labels = [](int i) {
    return R"({actor="physics/)" + std::to_string(i) + R"(",kind="physics",node=")" +
           (i % 2 == 0 ? "main" : "region-node") + R"("})";
  };
  auto region_bodies = [&](const std::string& m) {
    double sum = 0;
    for (int i = 0; i < 4; ++i)
      sum += series(m, "troupe_region_bodies" + labels(i));
    return sum;
  };
  auto logic_bodies = [](const std::string& m) {
    return series(m, R"(troupe_bodies{actor="logic",kind="logic",node="main"})");
  };
  // A scrape reads the actors one by one while the fountain spawns: it is
  // taken between ticks once every region has reported (regions set their
  // gauges at the end of their step, logic at the end of the tick).
  const auto metrics = scrape_until(port, [&](const std::string& m) {
    return series(m, "troupe_region_bodies" + labels(3)) > 0 && region_bodies(m) == logic_bodies(m);
  });
  EXPECT_EQ(promtool_check(metrics, dir), "");
  for (int i = 0; i < 4; ++i) {
    EXPECT_GE(series(metrics, "troupe_region_ghosts" + labels(i)), 0) << i;
    EXPECT_GT(series(metrics, "troupe_step_seconds_count" + labels(i)), 0) << i;
  }
  EXPECT_EQ(region_bodies(metrics), logic_bodies(metrics)) << metrics;
  EXPECT_EQ(finish(run, output), 0) << output;
}

TEST(Live, ABadHttpAddressNamesTheFileLineAndKey) {
  const auto dir = fresh_dir("live-bad-config");
  auto text = read_text(examples + "sandbox.toml");
  text = std::regex_replace(text, std::regex("http_address = \"127.0.0.1\""), "http_address = \"localhost\"");
  std::ofstream(dir + "/bad.toml") << text;
  std::filesystem::copy_file(examples + "sandbox.timeline", dir + "/sandbox.timeline");
  const auto r = run_command(exe + " check " + dir + "/bad.toml");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("bad.toml:[0-9]+:[0-9]+: nodes\\[0\\]\\.http_address: expected an IP address")))
    << r.output;
}

} // namespace
} // namespace troupe::testing

namespace troupe::testing {
namespace {

/// The spans (ph X) named `name` of a trace, by their tick.
std::map<std::int64_t, nlohmann::json> spans_by_tick(const nlohmann::json& trace, const std::string& name) {
  std::map<std::int64_t, nlohmann::json> out;
  for (const auto& e : trace["traceEvents"])
    if (e.value("ph", "") == "X" && e.value("name", "") == name && e.contains("args"))
      out[e["args"].value("tick", std::int64_t{-1})] = e;
  return out;
}

TEST(Trace, UpMergesTheNodesIntoOneTraceWhereEachStepLiesInsideItsTick) {
  const auto dir = fresh_dir("trace-up");
  std::filesystem::copy_file(examples + "sandbox.timeline", dir + "/sandbox.timeline");
  std::ofstream(dir + "/three.toml") << with_free_ports(read_text(examples + "sandbox-three-nodes.toml"));
  const auto r = run_command(exe + " up " + dir + "/three.toml --ticks 120 --quiet --out " + dir + "/out --trace " +
                             dir + "/out/trace.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(dir + "/out/trace.json");
  const auto trace = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(trace.is_object() && trace.contains("traceEvents")) << r.output;

  std::map<int, std::string> processes; // pid -> "node NAME"
  for (const auto& e : trace["traceEvents"])
    if (e.value("name", "") == "process_name")
      processes[e.value("pid", 0)] = e["args"].value("name", "");
  EXPECT_EQ(processes.size(), 3u) << trace.dump().substr(0, 2000);
  std::set<std::string> names;
  for (const auto& [pid, name] : processes)
    names.insert(name);
  EXPECT_EQ(names, (std::set<std::string>{"node main", "node physics-node", "node media-node"}));

  // Logic (on main) and physics (on physics-node) are separate processes: the
  // steady clock they share puts every step inside logic's tick.
  const auto ticks = spans_by_tick(trace, "tick");
  const auto steps = spans_by_tick(trace, "step");
  ASSERT_EQ(ticks.size(), 120u);
  ASSERT_EQ(steps.size(), 120u);
  for (const auto& [tick, step] : steps) {
    ASSERT_TRUE(ticks.count(tick)) << tick;
    const auto& t = ticks.at(tick);
    EXPECT_NE(t["pid"], step["pid"]);
    EXPECT_LE(t["ts"].get<double>(), step["ts"].get<double>()) << tick;
    EXPECT_GE(t["ts"].get<double>() + t["dur"].get<double>(), step["ts"].get<double>() + step["dur"].get<double>())
      << tick;
  }
  EXPECT_FALSE(spans_by_tick(trace, "publish").empty());
  EXPECT_FALSE(spans_by_tick(trace, "mix").empty());
  EXPECT_FALSE(spans_by_tick(trace, "draw").empty());
  EXPECT_FALSE(spans_by_tick(trace, "save").empty());
}

TEST(Trace, ARestartIsAMomentOnItsActorsTrack) {
  const auto dir = fresh_dir("trace-restart");
  const auto r = run_command(exe + " run " + examples + "sandbox.toml --ticks 120 --quiet --kill physics@60 --out " +
                             dir + "/out --trace " + dir + "/trace.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(dir + "/trace.json");
  const auto trace = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(trace.is_object()) << r.output;
  std::map<int, std::string> tracks;
  for (const auto& e : trace["traceEvents"])
    if (e.value("name", "") == "thread_name")
      tracks[e.value("tid", 0)] = e["args"].value("name", "");
  int restarts = 0;
  for (const auto& e : trace["traceEvents"])
    if (e.value("name", "") == "restart" && e.value("ph", "") == "i") {
      ++restarts;
      EXPECT_EQ(tracks[e.value("tid", 0)], "physics");
    }
  EXPECT_EQ(restarts, 1);
  EXPECT_EQ(spans_by_tick(trace, "tick").size(), 120u);
}

} // namespace
} // namespace troupe::testing

namespace troupe::testing {
namespace {

/// A running `troupe run` whose pid we know (the shell execs it).
struct RunningTroupe {
  FILE* out = nullptr;
  pid_t pid = -1;
  std::string output;
  explicit RunningTroupe(const std::string& args) {
    out = ::popen(("echo PID $$; exec " + exe + " run " + args + " 2>&1").c_str(), "r");
    if (out && wait_for(out, "PID ", output))
      pid = std::stoi(output.substr(output.find("PID ") + 4));
  }
};

TEST(Dashboard, ShowsPlotsAndTheWorldInChromiumAndItsButtonsAreLoggedCommandsThatAReplayRepeats) {
  const auto dir = fresh_dir("dashboard");
  // Input takes live commands; no timeline, so the only pause is the click.
  auto text = read_text(examples + "sandbox.toml");
  text = std::regex_replace(text, std::regex("\\[actors\\.input\\]\n"), "[actors.input]\nlive = true\n");
  text = std::regex_replace(text, std::regex("\ntimeline = [^\n]*"), "\n");
  std::ofstream(dir + "/live.toml") << text;
  const auto port = free_port();
  RunningTroupe run(dir + "/live.toml --realtime --ticks 3600 --quiet --http " + std::to_string(port) + " --out " +
                    dir + "/out");
  ASSERT_GT(run.pid, 0) << run.output;
  ASSERT_TRUE(wait_for(run.out, "live view at", run.output)) << run.output;

  const auto browser = run_command("env NODE_PATH=" TROUPE_WEB_DIR "/node_modules node " TROUPE_SOURCE_DIR
                                   "/tests/system/dashboard_browser.cjs dashboard " +
                                     std::to_string(port) + " " + dir,
                                   180);
  ::kill(run.pid, SIGINT); // ends the run at its tick, reports written
  EXPECT_EQ(finish(run.out, run.output), 0) << run.output;
  ASSERT_EQ(browser.exit_code, 0) << browser.output;
  const auto seen = nlohmann::json::parse(browser.output.substr(browser.output.rfind("\n{") + 1), nullptr, false);
  ASSERT_TRUE(seen.is_object()) << browser.output;
  EXPECT_TRUE(seen["page_errors"].empty()) << seen.dump();
  EXPECT_TRUE(seen["input_live"].get<bool>());
  EXPECT_GT(seen["generations"][1].get<int>(), seen["generations"][0].get<int>()); // the WebSocket brings new worlds
  EXPECT_GT(seen["drawn"]["world"].get<int>(), 5000) << seen.dump();  // bodies on the canvas
  EXPECT_GT(seen["drawn"]["times"].get<int>(), 500) << seen.dump();   // plotted lines
  EXPECT_GT(seen["drawn"]["bodies"].get<int>(), 200) << seen.dump();
  EXPECT_GE(seen["actors_listed"].get<int>(), 6);
  EXPECT_TRUE(std::filesystem::file_size(dir + "/dashboard.png") > 10000);

  // The click became one logged command; the report names the tick it took
  // effect, and the dashboard saw the world paused from then on.
  const auto log = read_text(dir + "/out/commands.log");
  std::smatch pause;
  ASSERT_TRUE(std::regex_search(log, pause, std::regex("\n([0-9]+) [0-9]+ [0-9]+ pause\n"))) << log;
  const auto tick = std::stoll(pause[1].str());
  const auto report = parse_report(read_text(dir + "/out/report.json"));
  EXPECT_EQ(report_actor(report, "logic")["notes"].value("pause_event_1", ""),
            "tick " + std::to_string(tick) + ": paused");
  EXPECT_GT(seen["paused_at_tick"].get<long long>(), tick);
  // The Spawn click after it: one logged spawn, with the numbers the page was told of.
  std::smatch spawn;
  ASSERT_TRUE(std::regex_search(log, spawn, std::regex("\n[0-9]+ [0-9]+ [0-9]+ spawn ([^\n]*)\n"))) << log;
  auto numbers = [](const std::string& words) {
    std::istringstream in(words);
    std::vector<double> out;
    for (double v; in >> v;)
      out.push_back(v);
    return out;
  };
  const auto sent = seen.value("spawn_note", std::string{}).substr(std::string("sent: spawn").size());
  EXPECT_EQ(numbers(spawn[1].str()), numbers(sent)) << spawn[1].str() << " vs" << sent;
  EXPECT_EQ(numbers(sent).size(), 7u) << sent;

  // The run's report.html, opened from disk: uPlot draws every plot, with
  // axis labels, and hovering shows a value.
  const auto page = run_command("env NODE_PATH=" TROUPE_WEB_DIR "/node_modules node " TROUPE_SOURCE_DIR
                           "/tests/system/dashboard_browser.cjs report " +
                             dir + "/out/report.html",
                           120);
  ASSERT_EQ(page.exit_code, 0) << page.output;
  const auto plots = nlohmann::json::parse(page.output.substr(page.output.rfind("\n{") + 1), nullptr, false);
  ASSERT_TRUE(plots.is_object()) << page.output;
  EXPECT_TRUE(plots["page_errors"].empty()) << plots.dump();
  EXPECT_GE(plots["plots"].get<int>(), 5) << plots.dump();
  EXPECT_GE(plots["drawn"].size(), plots["plots"].size()) << plots.dump();
  for (const auto& pixels : plots["drawn"])
    EXPECT_GT(pixels.get<int>(), 100) << plots.dump();
  EXPECT_NE(plots["hover"].get<std::string>(), "--") << plots.dump(); // a value under the cursor
  EXPECT_NE(plots["axis_labels"].dump().find("tick"), std::string::npos) << plots.dump();

  // A replay of that log, to the tick the run stopped at, gives its hash.
  const auto ticks = report.value("ticks", 0);
  const auto replay = run_command(exe + " replay " + dir + "/out/commands.log --quiet --ticks " +
                                  std::to_string(ticks) + " --out " + dir + "/replay");
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  EXPECT_EQ(report_hash(read_text(dir + "/replay/report.json")), report.value("world_hash", std::string{"?"}));
}

} // namespace
} // namespace troupe::testing
