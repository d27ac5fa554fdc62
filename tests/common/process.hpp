#pragma once
// Running the real troupe executable from system tests and reading what it wrote.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <csignal>
#include <cstdint>
#include <sys/wait.h>

namespace troupe::testing {

/// The troupe executable under test and the shipped example configs.
inline const std::string exe = TROUPE_EXE;
inline const std::string examples = std::string(TROUPE_SOURCE_DIR) + "/config/examples/";

/// What a finished process left behind.
struct ProcessResult {
  int exit_code = -1;
  std::string output; ///< stdout and stderr, interleaved
};

/// Runs a shell command to completion (it has its own deadline: `timeout`).
inline ProcessResult run_command(const std::string& command, int timeout_s = 240) {
  ProcessResult result;
  const auto full = "timeout -s KILL " + std::to_string(timeout_s) + " " + command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe)
    return result;
  std::array<char, 4096> buf{};
  while (auto n = std::fread(buf.data(), 1, buf.size(), pipe))
    result.output.append(buf.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

/// Reads lines of a running process (popen) until one contains `text`.
inline bool wait_for(FILE* process, const std::string& text, std::string& output) {
  char line[2048];
  while (std::fgets(line, sizeof line, process)) {
    output += line;
    if (std::string(line).find(text) != std::string::npos)
      return true;
  }
  return false;
}

/// Reads a running troupe's output until its progress line passes `tick`.
inline bool wait_for_tick(FILE* process, std::uint64_t tick, std::string& output) {
  static const std::regex progress("tick ([0-9]+)/");
  char line[2048];
  while (std::fgets(line, sizeof line, process)) {
    output += line;
    std::cmatch m;
    if (std::regex_search(line, m, progress) && std::stoull(m[1].str()) >= tick)
      return true;
  }
  return false;
}

/// SIGKILLs `node`'s process (as `up` announced it) once the run passed
/// `tick`: its pid, or -1.
inline int kill_mid_run(FILE* up, const std::string& node, std::uint64_t tick, std::string& output) {
  if (!wait_for(up, "node " + node + " started (pid ", output))
    return -1;
  const auto pid = std::stoi(output.substr(output.rfind("(pid ") + 5));
  if (!wait_for_tick(up, tick, output) || ::kill(pid, SIGKILL) != 0)
    return -1;
  return pid;
}

/// Starts `troupe up CONFIG ARGS` with its output readable line by line.
inline FILE* start_up(const std::string& config, const std::string& args) {
  const auto command = "timeout -s KILL 200 " + exe + " up " + config + " " + args + " 2>&1";
  return ::popen(command.c_str(), "r");
}

/// Reads what is left of a running process's output, then its exit code.
inline int finish(FILE* process, std::string& output) {
  char line[2048];
  while (std::fgets(line, sizeof line, process))
    output += line;
  const int status = pclose(process);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// A fresh folder for one test's outputs, under the build tree.
inline std::string fresh_dir(const std::string& name) {
  auto dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The frames run `out` recorded (OUT/frames/*.png): file name -> bytes, in
/// tick order (names sort by tick); empty when it recorded none.
inline std::map<std::string, std::string> recorded_frames(const std::string& out) {
  std::map<std::string, std::string> frames;
  if (std::filesystem::exists(out + "/frames"))
    for (const auto& f : std::filesystem::directory_iterator(out + "/frames"))
      frames[f.path().filename().string()] = read_text(f.path().string());
  return frames;
}

/// Runs `a` and `b` recorded the same `count` frames: names and bytes. A
/// failure names the frame (without printing megabytes of PNG).
inline void expect_same_frames(const std::string& a, const std::string& b, std::size_t count) {
  const auto got = recorded_frames(a);
  const auto want = recorded_frames(b);
  ASSERT_EQ(got.size(), count) << a;
  ASSERT_EQ(want.size(), count) << b;
  for (auto g = got.begin(), w = want.begin(); g != got.end(); ++g, ++w) {
    EXPECT_EQ(g->first, w->first);
    EXPECT_TRUE(g->second == w->second) << g->first << " differs between " << a << " and " << b;
  }
}

/// The files at `a` and `b` hold the same bytes (and are not both missing).
inline void expect_same_bytes(const std::string& a, const std::string& b) {
  const auto got = read_text(a);
  EXPECT_FALSE(got.empty()) << a << " is empty or missing";
  EXPECT_TRUE(got == read_text(b)) << a << " differs from " << b;
}

/// A report.json, parsed; an empty object when the text is not JSON, so that a
/// missing or torn report fails the checks that read it.
inline nlohmann::json parse_report(const std::string& report_json) {
  auto report = nlohmann::json::parse(report_json, nullptr, false);
  return report.is_discarded() ? nlohmann::json::object() : report;
}

/// The "world_hash" of a report.json.
inline std::string report_hash(const std::string& report_json) {
  return parse_report(report_json).value("world_hash", std::string{});
}

/// The report entry of one actor; null when the report has none.
inline nlohmann::json report_actor(const nlohmann::json& report, const std::string& actor) {
  for (const auto& entry : report.value("actors", nlohmann::json::array()))
    if (entry.value("name", std::string{}) == actor)
      return entry;
  return nullptr;
}

/// Whether the report has an actor of `kind` on `node`.
inline bool has_actor_on(const std::string& report_json, const std::string& kind, const std::string& node) {
  for (const auto& entry : parse_report(report_json).value("actors", nlohmann::json::array()))
    if (entry.value("kind", std::string{}) == kind && entry.value("node", std::string{}) == node)
      return true;
  return false;
}

/// Commands sent by input and never applied by logic, from the report; -1 when absent.
inline double commands_lost(const std::string& report_json) {
  const auto report = parse_report(report_json);
  const auto commands = report.value("commands", nlohmann::json::object());
  return commands.value("lost", -1.0);
}

/// A mailbox figure or a counter of one actor; -1 when the report has neither.
inline double actor_value(const std::string& report_json, const std::string& actor,
                          const std::string& key) {
  const auto entry = report_actor(parse_report(report_json), actor);
  if (entry.is_null())
    return -1;
  for (const char* group : {"mailbox", "counters"})
    if (auto it = entry[group].find(key); it != entry[group].end() && it->is_number())
      return it->get<double>();
  return -1;
}

/// How many samples one distribution of an actor holds; -1 when the report has none.
inline double distribution_count(const std::string& report_json, const std::string& actor,
                                 const std::string& name) {
  const auto entry = report_actor(parse_report(report_json), actor);
  if (entry.is_null())
    return -1;
  const auto distributions = entry.value("distributions", nlohmann::json::object());
  if (auto it = distributions.find(name); it != distributions.end() && it->is_object())
    return it->value("count", -1.0);
  return -1;
}

} // namespace troupe::testing
