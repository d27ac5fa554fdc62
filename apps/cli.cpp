// troupe's command line, as a function an application's main can call
// (troupe/cli.hpp); the troupe executable is apps/troupe.cpp.
//   troupe run CONFIG [options]   run a topology, write OUT/report.{json,html}
//   troupe check CONFIG           validate and print the resolved topology
//   troupe replay COMMAND_LOG     re-run a recorded run from its command log
//   troupe node CONFIG --node N   run one node of a topology (one process per node)
//   troupe up CONFIG [options]    every node as its own process, supervised
// Exit codes: 0 success, 1 the run failed, 2 bad config, arguments or a refused
// peer, 3 a supervisor gave up.

#include "live_view.hpp"
#include "report.hpp"
#include "up.hpp"

#include <troupe/actors/runtime.hpp>
#include <troupe/actors/subsystem.hpp>
#include <troupe/cli.hpp>
#include <troupe/config/topology.hpp>
#include <troupe/live/trace.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <atomic>
#include <csignal>
#include <thread>
#include <unistd.h>

namespace {

using namespace troupe;

constexpr int exit_run_failed = 1;
constexpr int exit_bad_input = 2;
constexpr int exit_escalated = 3;

/// Parses "physics=0.01,logic=0.005" (chaos) or "physics@120,logic@300" (kill).
template <class T>
std::optional<std::string> parse_faults(const std::string& text, char separator, std::map<std::string, T>& out) {
  std::istringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    const auto at = item.find(separator);
    if (at == std::string::npos || at == 0 || at + 1 == item.size())
      return "expected NAME" + std::string(1, separator) + "VALUE, got \"" + item + "\"";
    const auto name = item.substr(0, at);
    const auto value = item.substr(at + 1);
    try {
      std::size_t used = 0;
      if constexpr (std::is_same_v<T, double>) {
        const double p = std::stod(value, &used);
        if (used != value.size() || !(p >= 0 && p <= 1))
          return "probability of " + name + " must be in [0, 1], got \"" + value + "\"";
        out[name] = p;
      } else {
        const auto tick = std::stoull(value, &used);
        if (used != value.size())
          return "tick of " + name + " must be a number, got \"" + value + "\"";
        out[name] = tick;
      }
    } catch (const std::exception&) {
      return "cannot read \"" + value + "\" for " + name;
    }
  }
  return std::nullopt;
}

/// Loads a topology (of the registered kinds) or prints its one-line error.
std::optional<config::Topology> load_or_report(const std::string& path) {
  auto loaded = config::load_topology(path, subsystems());
  if (!loaded) {
    std::cerr << "troupe: " << loaded.error().to_string() << '\n';
    return std::nullopt;
  }
  return std::move(*loaded);
}

/// The exit code of a failure: 2 for bad input (a config, script, file,
/// plugin or argument, or a peer that refused this node), 3 when a supervisor
/// gave up, 1 otherwise.
int exit_code(const Error& error) {
  return is_bad_input(error.code) ? exit_bad_input : error.code == errc::escalated ? exit_escalated : exit_run_failed;
}

/// A progress line: rewritten in place on a terminal, every 10% otherwise;
/// the rate is measured since the first line, the ETA assumes it holds.
class Progress {
public:
  explicit Progress(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0) {}

  void update(std::uint64_t tick, std::uint64_t target, std::size_t bodies, double tick_ms) {
    if (!enabled_ || target == 0)
      return;
    const auto now = std::chrono::steady_clock::now();
    if (!started_) {
      started_ = true;
      first_tick_ = tick;
      first_time_ = now;
    }
    const auto percent = static_cast<int>(100 * tick / target);
    if (!tty_ && percent < next_percent_)
      return;
    next_percent_ = percent / 10 * 10 + 10;
    std::string rate;
    const double seconds = std::chrono::duration<double>(now - first_time_).count();
    if (tick > first_tick_ && seconds > 0) {
      const double per_second = static_cast<double>(tick - first_tick_) / seconds;
      const auto left = static_cast<long long>(static_cast<double>(target - std::min(tick, target)) / per_second + 0.5);
      char text[64];
      std::snprintf(text, sizeof text, "  %.0f ticks/s  ETA %lld:%02lld", per_second, left / 60, left % 60);
      rate = text;
    }
    std::fprintf(stderr, "%s  tick %llu/%llu  %3d%%  %zu bodies  %.2f ms/tick%s%s", tty_ ? "\r" : "",
                 static_cast<unsigned long long>(tick), static_cast<unsigned long long>(target), percent, bodies,
                 tick_ms, rate.c_str(), tty_ ? "   " : "\n");
    std::fflush(stderr);
    printed_ = true;
  }

  ~Progress() {
    if (printed_ && tty_)
      std::fputc('\n', stderr);
  }

private:
  bool enabled_;
  bool tty_;
  bool printed_ = false;
  bool started_ = false;
  int next_percent_ = 0;
  std::uint64_t first_tick_ = 0;
  std::chrono::steady_clock::time_point first_time_;
};

int run_and_report(const config::Topology& topology, RunOptions options) {
  const auto simulation = effective_simulation(topology, options);
  RunResult result;
  {
    Progress progress(options.progress);
    options.on_progress = [&](std::uint64_t tick, std::uint64_t target, std::size_t bodies, double ms) {
      progress.update(tick, target, bodies, ms);
    };
    result = troupe::run(topology, options);
  }
  if (!result.ok && is_bad_input(result.error.code) && result.node_ports.empty()) {
    // Refused before anything ran (a bad checkpoint, script or plugin): one
    // line, like a bad config, and no report of a run that never was.
    std::cerr << "troupe: " << result.error.to_string() << '\n';
    return exit_code(result.error);
  }
  std::cout << app::summary_table(result);
  std::filesystem::create_directories(options.out_dir);
  const auto json_path = options.out_dir + "/report.json";
  const auto html_path = options.out_dir + "/report.html";
  std::ofstream(json_path) << app::report_json(result, topology, simulation);
  std::ofstream(html_path) << app::report_html(result, topology, simulation);
  std::cout << "\n  wrote " << json_path << ", " << html_path;
  if (!result.command_log.empty())
    std::cout << ", " << result.command_log;
  std::cout << "\n";
  if (!result.ok) {
    std::cerr << "troupe: run failed: " << result.error.to_string() << '\n';
    return exit_code(result.error);
  }
  return 0;
}

/// SIGINT and SIGTERM end a run early and cleanly: logic stops at its tick and
/// the reports are written. Blocked before any thread starts (every thread
/// inherits the mask), then awaited by one thread; a second signal exits at once.
std::atomic<bool> stop_requested{false};

void block_stop_signals(bool with_sigchld) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (with_sigchld)
    sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void await_stop_signals() {
  std::thread([] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    for (int sig = 0;;) {
      if (sigwait(&set, &sig) != 0)
        continue;
      if (stop_requested.exchange(true))
        std::_Exit(128 + sig);
    }
  }).detach();
}

/// Reads the topology and tick count a command log was recorded with.
std::optional<config::Topology> topology_from_log(const std::string& path, RunOptions& options) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "troupe: " << path << ": cannot open command log\n";
    return std::nullopt;
  }
  std::string line, config_path, text;
  bool is_log = false;
  while (std::getline(in, line)) {
    if (line.rfind("# troupe command log", 0) == 0)
      is_log = true;
    else if (line.rfind("# config: ", 0) == 0)
      config_path = line.substr(10);
    else if (line.rfind("# ticks: ", 0) == 0)
      options.ticks = std::stoull(line.substr(9));
    else if (line.rfind("# rules: ", 0) == 0)
      options.rules = line.substr(9); // the plugin the run started with
    else if (line.rfind("# resumed-from-tick: ", 0) == 0 && options.resume_from.empty()) {
      std::cerr << "troupe: " << path << ": recorded by a run resumed at tick " << line.substr(21)
                << "; replay it from the same checkpoint: troupe replay " << path
                << " --resume CHECKPOINT\n";
      return std::nullopt;
    }
    else if (line.rfind("#= ", 0) == 0 || line == "#=")
      text += (line.size() > 3 ? line.substr(3) : std::string{}) + "\n";
  }
  if (!is_log || text.empty()) {
    std::cerr << "troupe: " << path << ":1:1: not a troupe command log (no header or no topology)\n";
    return std::nullopt;
  }
  options.topology_text = text;
  auto parsed = config::parse_topology(text, config_path.empty() ? path : config_path, subsystems());
  if (!parsed) {
    std::cerr << "troupe: " << path << ": embedded topology: " << parsed.error().to_string() << '\n';
    return std::nullopt;
  }
  return std::move(*parsed);
}

} // namespace

namespace troupe::app {
void link_openssl_guard(); // openssl_guard.cpp: its definitions must be in the executable
} // namespace troupe::app

int troupe::cli::main(int argc, char** argv) {
  app::link_openssl_guard();
  CLI::App app{"troupe: an actor-model simulation framework"};
  app.require_subcommand(1);

  std::string config_path;
  RunOptions options;
  std::uint64_t ticks = 0;
  std::uint32_t threads = 0;
  bool batch = false, realtime = false, quiet = false;

  auto add_run_options = [&](CLI::App* cmd) {
    cmd->add_option("--ticks", ticks, "ticks to run (overrides [simulation] ticks)")->check(CLI::PositiveNumber);
    cmd->add_option("--threads", threads, "physics threads (overrides [simulation] threads)")
      ->check(CLI::Range(1, 256));
    cmd->add_option("--out", options.out_dir, "output folder")->capture_default_str();
    cmd->add_flag("--quiet", quiet, "no progress line");
  };

  auto* run_cmd = app.add_subcommand("run", "run a topology");
  run_cmd->add_option("config", config_path, "topology TOML file")->required();
  add_run_options(run_cmd);
  run_cmd->add_flag("--batch", batch, "as fast as possible (overrides [simulation] mode)");
  run_cmd->add_flag("--realtime", realtime, "pace ticks at tick_hz (overrides [simulation] mode)");
  run_cmd->add_option("--checkpoint-every", options.checkpoint_every,
                      "write OUT/checkpoints/tick-N.ckpt every N ticks");
  run_cmd->add_option("--resume", options.resume_from, "start from a checkpoint file");
  std::string chaos, kill, audio_output;
  run_cmd->add_option("--audio", audio_output, "audio output for every audio actor: wav (headless, default) or device")
    ->check(CLI::IsMember({"wav", "device"}));
  run_cmd->add_flag("--window", options.window, "every render actor opens a window (needs a display)");
  run_cmd->add_option("--rules", options.rules, "a rules plugin (shared library) to run from the first tick");
  run_cmd->add_flag("--watch", options.watch, "reload the --rules plugin whenever its file changes");
  run_cmd->add_option("--chaos", chaos, "seeded per-tick failure probability per actor, e.g. physics=0.01,logic=0.005");
  run_cmd->add_option("--kill", kill, "make an actor fail once at a tick, e.g. physics@120");
  std::uint32_t max_restarts = 0;
  auto* max_restarts_option =
    run_cmd->add_option("--max-restarts", max_restarts,
                        "restarts every node supervisor allows within its period before it gives up "
                        "(exit 3); overrides [[nodes]] supervision.max_restarts")
      ->check(CLI::Range(0u, 1000000u));

  std::string trace_path;
  run_cmd->add_option("--trace", trace_path, "write a Chrome trace (Perfetto) of the run to FILE");
  std::uint16_t http_port = 0;
  run_cmd->add_option("--http", http_port,
                      "serve the live view (/metrics) on this port of 127.0.0.1 (overrides [[nodes]] http_port)")
    ->check(CLI::Range(1, 65535));

  std::string node_name;
  std::uint32_t announce_version = 0;
  auto* node_cmd = app.add_subcommand("node", "run one node of a topology (its peers run in other processes)");
  auto* up_cmd = app.add_subcommand("up", "run every node of a topology as its own process, supervised");
  for (auto* cmd : {node_cmd, up_cmd}) {
    cmd->add_option("config", config_path, "topology TOML file")->required();
    add_run_options(cmd);
    cmd->add_flag("--batch", batch, "as fast as possible (overrides [simulation] mode)");
    cmd->add_flag("--realtime", realtime, "pace ticks at tick_hz (overrides [simulation] mode)");
    cmd->add_option("--chaos", chaos, "seeded per-tick failure probability per actor, e.g. physics=0.01");
    cmd->add_option("--kill", kill, "make an actor fail once at a tick, e.g. physics@120");
    cmd->add_option("--checkpoint-every", options.checkpoint_every, "write OUT/checkpoints/tick-N.ckpt every N ticks");
    cmd->add_option("--key-file", options.key_file,
                    "the cluster key (plain TCP; overrides [network] key_file; troupe up makes one per launch)");
    cmd->add_option("--http", http_port,
                    cmd == up_cmd ? "serve the live view (/metrics) of the node with logic on this port (overrides its "
                                    "[[nodes]] http_port; the other nodes use theirs)"
                                  : "serve this node's live view (/metrics) on this port (overrides its [[nodes]] "
                                    "http_port)")
      ->check(CLI::Range(1, 65535));
    cmd->add_option("--trace", trace_path,
                    cmd == up_cmd ? "every node process records a Chrome trace (Perfetto); merged into FILE at the end"
                                  : "write a Chrome trace (Perfetto) of this node to FILE");
  }
  node_cmd->add_option("--node", node_name, "the node of the topology this process runs")->required();
  bool resume_latest = false;
  node_cmd->add_flag("--resume-latest", resume_latest,
                     "this node ran before in this run: with logic, resume from the newest checkpoint in "
                     "OUT/checkpoints when there is one; readers carry on from what they wrote (what `up` does for "
                     "a restarted node)");
  // Version skew tests: this node greets its peers as another protocol version.
  node_cmd->add_option("--announce-version", announce_version)->group("");
  // up forwards its arguments (the config and run options) to every node.
  up_cmd->allow_extras(false);

  std::string key_path;
  auto* key_cmd = app.add_subcommand("key", "write a fresh cluster key (for [network] key_file or --key-file)");
  key_cmd->add_option("file", key_path, "where to write it (readable by you only)")->required();

  auto* check_cmd = app.add_subcommand("check", "validate a topology and print it resolved");
  check_cmd->add_option("config", config_path, "topology TOML file")->required();

  std::string log_path;
  auto* replay_cmd = app.add_subcommand("replay", "re-run a run from its command log");
  replay_cmd->add_option("command_log", log_path, "OUT/commands.log of an earlier run")->required();
  add_run_options(replay_cmd);
  replay_cmd->add_option("--resume", options.resume_from, "the checkpoint a resumed run started from");

  const bool serving = argc > 1 && (std::string(argv[1]) == "node" || std::string(argv[1]) == "up" ||
                                    std::string(argv[1]) == "run");
  if (serving)
    block_stop_signals(argc > 1 && std::string(argv[1]) == "up");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : exit_bad_input;
  }
  if (ticks)
    options.ticks = ticks;
  if (max_restarts_option->count() > 0)
    options.max_restarts = max_restarts;
  if (threads)
    options.threads = threads;
  if (batch && realtime) {
    std::cerr << "troupe: --batch and --realtime exclude each other\n";
    return exit_bad_input;
  }
  if (auto err = parse_faults(chaos, '=', options.chaos)) {
    std::cerr << "troupe: --chaos: " << *err << '\n';
    return exit_bad_input;
  }
  if (auto err = parse_faults(kill, '@', options.kill)) {
    std::cerr << "troupe: --kill: " << *err << '\n';
    return exit_bad_input;
  }
  if (batch)
    options.mode = config::Mode::batch;
  if (realtime)
    options.mode = config::Mode::realtime;
  options.progress = !quiet;

  if (*key_cmd) {
    if (auto made = make_key_file(key_path); !made) {
      std::cerr << "troupe: " << made.error() << '\n';
      return exit_run_failed;
    }
    std::cout << "troupe: wrote a cluster key to " << key_path << " (keep it secret; every node needs it)\n";
    return 0;
  }
  if (*check_cmd) {
    auto topology = load_or_report(config_path);
    if (!topology)
      return exit_bad_input;
    std::cout << config::describe(*topology);
    return 0;
  }
  if (*replay_cmd) {
    RunOptions replay = options;
    auto topology = topology_from_log(log_path, replay);
    if (!topology)
      return exit_bad_input;
    if (options.ticks)
      replay.ticks = options.ticks;
    replay.replay_log = log_path;
    replay.mode = config::Mode::batch;
    std::error_code same_file_error;
    if (std::filesystem::equivalent(std::filesystem::path(replay.out_dir) / "commands.log", log_path,
                                    same_file_error)) {
      std::cerr << "troupe: replay would overwrite its own log; pass --out to another folder\n";
      return exit_bad_input;
    }
    return run_and_report(*topology, replay);
  }
  auto topology = load_or_report(config_path);
  if (!topology)
    return exit_bad_input;
  if (*up_cmd) {
    if (auto err = config::separate_processes_error(*topology); !err.empty()) {
      std::cerr << "troupe: " << err << '\n';
      return exit_bad_input;
    }
    std::error_code self_error;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", self_error);
    // --http is the coordinator's alone: the other nodes serve on their own [[nodes]] http_port.
    std::vector<std::string> node_args, coordinator_args;
    for (int i = 2; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--http" && i + 1 < argc)
        coordinator_args.insert(coordinator_args.end(), {arg, argv[++i]});
      else if (arg.rfind("--http=", 0) == 0)
        coordinator_args.push_back(arg);
      else if (arg == "--trace" && i + 1 < argc)
        ++i; // up gives every node a file of its own, and merges them
      else if (arg.rfind("--trace=", 0) == 0)
        continue;
      else
        node_args.push_back(arg);
    }
    if (!topology->network.tls() && topology->network.key_file.empty() && options.key_file.empty()) {
      // A fresh key per launch, for this launch's nodes only.
      std::filesystem::create_directories(options.out_dir);
      const auto key = options.out_dir + "/cluster.key";
      std::filesystem::remove(key);
      if (auto made = make_key_file(key); !made) {
        std::cerr << "troupe: " << made.error() << '\n';
        return exit_run_failed;
      }
      node_args.insert(node_args.end(), {"--key-file", key});
    }
    return app::up(*topology, self_error ? std::string(argv[0]) : self.string(), node_args, coordinator_args,
                   trace_path, options.out_dir);
  }
  await_stop_signals();
  options.stop_requested = &stop_requested;
  options.only_node = node_name;
  options.handle = std::make_shared<RunHandle>();
  auto endpoint = app::serve_live_view(*topology, options, http_port, options.handle);
  if (!endpoint) {
    std::cerr << "troupe: " << endpoint.error().to_string() << '\n';
    return exit_code(endpoint.error());
  }
  // Written however the run ends, once it has.
  struct TraceWriter {
    std::string path;
    std::vector<std::string> nodes;
    ~TraceWriter() {
      if (path.empty())
        return;
      if (auto written = live::write_trace(path, nodes); !written)
        std::cerr << "troupe: --trace: " << written.error().message << '\n';
      else
        std::cerr << "troupe: wrote the trace to " << path << '\n';
    }
  } trace_writer{trace_path, {}};
  if (!trace_path.empty()) {
    for (const auto& node : topology->nodes)
      trace_writer.nodes.push_back(node.name);
    live::start_trace();
  }
  if (*node_cmd) {
    const bool coordinator = topology->node(node_name) && topology->the(Role::coordinator).node == node_name;
    options.restarted = resume_latest;
    if (resume_latest && coordinator) {
      // tick-N.ckpt, written whole (renamed into place): the highest N is the newest.
      std::uint64_t newest = 0;
      std::error_code none;
      for (const auto& entry : std::filesystem::directory_iterator(options.out_dir + "/checkpoints", none)) {
        const auto name = entry.path().filename().string();
        std::uint64_t tick = 0;
        // Only logic's files (tick-N.ckpt): a region's piece of a cut is tick-N.region-I.ckpt.
        if (std::sscanf(name.c_str(), "tick-%lu.ckpt", &tick) == 1 && name == "tick-" + std::to_string(tick) + ".ckpt" &&
            tick >= newest) {
          newest = tick;
          options.resume_from = entry.path().string();
        }
      }
      if (!options.resume_from.empty())
        std::cerr << "troupe: node " << node_name << ": resuming from " << options.resume_from << '\n';
    }
    if (announce_version != 0)
      options.announce_version = announce_version;
    if (!coordinator) {
      const auto result = troupe::run(*topology, options);
      if (!result.ok) {
        std::cerr << "troupe: " << result.error.to_string() << '\n';
        return exit_code(result.error);
      }
      std::cout << "troupe: node " << node_name << ": " << result.served_until << '\n';
      return 0;
    }
  }
  options.audio_output = audio_output;
  if (options.window && std::none_of(topology->actors.begin(), topology->actors.end(), [](const config::ActorSpec& a) {
        return subsystem_of(a).opens_windows;
      })) {
    std::cerr << "troupe: --window: " << config_path << " has no actor that opens a window (add [actors.render])\n";
    return exit_bad_input;
  }
  for (const auto& [name, p] : options.chaos)
    if (!topology->actor(name)) {
      std::cerr << "troupe: --chaos: no actor named \"" << name << "\" in " << config_path << '\n';
      return exit_bad_input;
    }
  for (const auto& [name, tick] : options.kill)
    if (!topology->actor(name)) {
      std::cerr << "troupe: --kill: no actor named \"" << name << "\" in " << config_path << '\n';
      return exit_bad_input;
    }
  return run_and_report(*topology, options);
}
