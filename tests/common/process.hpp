#pragma once
// Running the real troupe executable from system tests and reading what it wrote.

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
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

/// The "world_hash" of a report.json.
inline std::string report_hash(const std::string& report_json) {
  std::smatch m;
  static const std::regex re("\"world_hash\": \"(0x[0-9a-f]{16})\"");
  return std::regex_search(report_json, m, re) ? m[1].str() : std::string{};
}

/// A number inside the report entry of one actor: `"key": N`.
inline double actor_value(const std::string& report_json, const std::string& actor,
                          const std::string& key) {
  const auto start = report_json.find("{\"name\": \"" + actor + "\"");
  if (start == std::string::npos)
    return -1;
  const auto end = report_json.find("\n    {", start + 1);
  const auto entry = report_json.substr(start, end == std::string::npos ? std::string::npos : end - start);
  std::smatch m;
  const std::regex re("\"" + key + "\": (-?[0-9.]+)");
  return std::regex_search(entry, m, re) ? std::stod(m[1].str()) : -1;
}

} // namespace troupe::testing
