#pragma once
/// \file Running a topology: the entry point apps/ uses. CAF stays behind this
/// header (apps/ compiles without it).
///
/// `run` starts every node of the topology in this process (or, with
/// RunOptions::only_node, one node: `troupe node`), each as its own CAF actor
/// system listening on its node's host:port and connected to its peers through
/// CAF's middleman, so an actor on another node is reached over real TCP with
/// real serialization, and the actor code is the same whatever the placement.
///
/// Nodes greet each other with their protocol version and a digest of the
/// topology (a mismatch is refused on both sides), watch their links with
/// heartbeats, and reconnect and rewire their actors when a lost peer comes back.
/// The node that hosts logic coordinates the run: it starts it, collects every
/// node's reports at the end and tells the other nodes to finish.

#include <troupe/config/topology.hpp>
#include <troupe/error.hpp>
#include <troupe/messages/messages.hpp>

#include <cstdint>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <variant>
#include <string>
#include <string_view>
#include <vector>

namespace caf {
class actor_system_config;
}

namespace troupe {

/// What every actor system troupe runs is given (a node's, a benchmark's):
/// the middleman, troupe's message types, CAF's console log off, and the
/// scheduler tuned for a simulation that idles between ticks
/// (docs/architecture.md, "Scheduling"). A node adds TLS and heartbeats.
/// It also keeps the process's freed memory for reuse (keep_freed_memory,
/// troupe/memory.hpp).
void configure_actor_system(caf::actor_system_config& cfg);

/// One command of a script: the tick it is due and what it does, or an input
/// directive (`burst N`: N droppable input events at that tick). The source
/// (kind "input") reads scripts.
struct ScriptLine {
  std::uint64_t tick = 0;
  std::uint32_t source = 1;
  std::uint64_t seq = 0;  ///< 0 = assign in file order
  std::optional<sim::Action> action;
  std::uint64_t burst = 0;
};

/// Reads a timeline file ("TICK ACTION...") or a command log ("TICK SOURCE SEQ
/// ACTION..." after its header). A bad_script Error names the file and line.
Expected<std::vector<ScriptLine>> load_script(const std::string& path);

/// What load_script does with a file's text (`path` only names it in errors).
/// Caps: 256 MiB a file, 4096 bytes a line, bursts of at most 1,000,000.
Expected<std::vector<ScriptLine>> parse_script(std::string_view text, const std::string& path);

struct RunResult;

/// A run as the live view sees it from outside the actors (the dashboard's
/// buttons, /report.json): the run connects it once started and disconnects
/// it before it stops. Thread-safe.
class RunHandle {
public:
  /// Hands `text` (one command line: "pause", "spawn ...") to input, which
  /// parses, sequences and logs it like a typed one; false when no run here
  /// takes live commands now.
  bool send_command(const std::string& text) const;
  /// Whether `send_command` can succeed now.
  bool takes_commands() const;
  /// The report as it stands now (every actor asked, none flushed): only in
  /// the process with logic, while the run goes on (and answers within 10 s).
  std::optional<RunResult> report() const;

  /// For the runtime.
  void connect(std::function<void(const std::string&)> deliver, std::function<RunResult()> report);
  void disconnect();

private:
  mutable std::mutex mutex_;
  std::function<void(const std::string&)> deliver_;
  std::function<RunResult()> report_;
};

/// What `troupe run` was asked for beyond the topology.
struct RunOptions {
  std::optional<std::uint64_t> ticks;    ///< overrides [simulation] ticks
  std::optional<std::uint32_t> threads;  ///< overrides [simulation] threads
  std::optional<config::Mode> mode;      ///< overrides [simulation] mode
  std::string out_dir = "out";           ///< where logs and checkpoints go
  std::uint64_t checkpoint_every = 0;    ///< 0 = no checkpoints
  std::string resume_from;               ///< checkpoint file to start from
  /// This node's process was started again within the same run (`troupe up`
  /// restarting a node that died): what its readers wrote is on disk, and a
  /// reader that logs what it took (audio) carries on from its log.
  bool restarted = false;
  std::string replay_log;                ///< command log to replay instead of the timeline
  /// The TOML text the topology was read from, embedded in the command log;
  /// empty = read the file at topology.path.
  std::string topology_text;
  bool progress = true;                  ///< print a progress line to stderr
  /// Fault injection: per actor name, a per-tick probability of a real failure
  /// (`--chaos physics=0.01`), and a tick at which the first incarnation exits
  /// (`--kill physics@120`). Seeded by the simulation seed.
  std::map<std::string, double> chaos;
  std::map<std::string, std::uint64_t> kill;
  /// Every actor that can open a window does (`--window`).
  bool window = false;
  /// Every audio actor's output, "wav" or "device" (`--audio`); "" = as configured.
  std::string audio_output;
  /// A rules plugin to start with (`--rules`; overrides the logic's `rules`),
  /// and whether to reload it whenever the file changes (`--watch`).
  std::string rules;
  bool watch = false;
  /// Overrides every node's supervision.max_restarts (`--max-restarts`).
  std::optional<std::uint32_t> max_restarts;
  /// Run only this node of the topology (`troupe node`); empty = every node.
  std::string only_node;
  /// The cluster key file (`--key-file`; overrides [network] key_file).
  std::string key_file;
  /// The protocol version this node announces when it greets its peers (a test
  /// of version skew sets another one).
  std::uint32_t announce_version = protocol_version;
  /// Set (from a signal handler's thread) to end the run early: logic stops at
  /// its current tick and the reports are written as usual.
  std::atomic<bool>* stop_requested = nullptr;
  /// Called with (tick, target, bodies, last tick ms) while running.
  std::function<void(std::uint64_t, std::uint64_t, std::size_t, double)> on_progress;
  /// Connected while the run goes on (RunHandle).
  std::shared_ptr<RunHandle> handle;
};

/// What a run produced.
struct RunResult {
  bool ok = false;
  /// Why not, when !ok: errc::escalated (a supervisor gave up: troupe exits 3),
  /// a bad-input code (is_bad_input: a config, script, file, plugin, or a peer
  /// that refused this node: exit 2), or another failure (exit 1).
  Error error;
  std::uint64_t ticks = 0;        ///< world tick at the end (a failed run: the last it reported)
  std::uint64_t world_hash = 0;
  std::size_t bodies = 0;
  double wall_seconds = 0;
  std::uint32_t threads = 0;
  std::vector<ActorReport> actors; ///< in start order
  std::vector<std::pair<std::string, std::uint16_t>> node_ports; ///< ports bound
  std::string command_log;        ///< path written
  /// This process ran a node that does not host logic: it served until the
  /// coordinator said the run was over (no reports or hash here).
  bool served = false;
  std::string served_until;       ///< how serving ended ("the run is over", a signal)
};

/// Runs the topology to its last tick. Never throws for run-time failures: they
/// come back in RunResult::error.
RunResult run(const config::Topology& topology, const RunOptions& options);

/// Writes a fresh cluster key to `path` (64 hex digits, readable by its owner
/// only): on plain TCP every node proves it knows the key before a byte of
/// it reaches an actor (docs/architecture.md, "Trust").
Expected<void> make_key_file(const std::string& path);

/// The effective tick count, thread count and mode after overrides.
config::SimulationSpec effective_simulation(const config::Topology& topology,
                                            const RunOptions& options);

} // namespace troupe
