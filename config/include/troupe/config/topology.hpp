#pragma once
/// \file The topology: what runs where, read from a TOML file and validated as a
/// whole before anything starts. Errors name the file, line, column and key.
///
/// Schema (every key optional unless marked):
///
///   [simulation]
///   tick_hz = 60.0          # ticks per simulated second, > 0
///   ticks = 600             # ticks to run, > 0
///   seed = 1                # scenario and rules seed
///   scenario = "sandbox"    # sandbox | pile | empty
///   bodies = 1000           # bodies the scenario starts with
///   threads = 2             # physics worker threads, >= 1
///   mode = "batch"          # batch (as fast as possible) | realtime (tick_hz)
///
///   [[nodes]]               # at least one
///   name = "main"           # required, unique
///   host = "127.0.0.1"
///   port = 0                # 0 = any free port (one process only)
///   tls_certificate = ""    # this node's certificate and key (PEM), with
///   tls_key = ""            # [network] tls_ca: mutual TLS between nodes
///
///   [network]               # how nodes find and watch each other
///   heartbeat_ms = 500      # a heartbeat on every link this often
///   node_timeout_ms = 2000  # a peer silent this long is lost
///   connect_timeout_ms = 30000 # how long a node keeps trying to reach a peer
///   keyframe_every = 30     # remote live snapshots: a full one every N
///   tls_ca = ""             # CA file (PEM): every node then needs a certificate
///
///   [actors.NAME]           # logic, input and physics are required
///   kind = "physics"        # defaults to NAME: logic | input | physics | observer |
///                           # audio | render
///   node = "main"           # defaults to the first node
///   mailbox = { capacity = 1024, overflow = "reject" }
///   ...kind parameters (see ActorSpec)

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace troupe::config {

/// What a full mailbox does with one more message (see DESIGN.md, Mailboxes).
enum class Overflow : std::uint8_t {
  latest,      ///< replace the queued message of the same type with the new one
  drop_oldest, ///< drop the oldest queued message to make room
  drop_newest, ///< drop the new message
  reject,      ///< refuse the new message and tell the sender, who retries
};

/// Config spelling of an overflow policy ("drop-oldest").
const char* to_string(Overflow overflow);

/// Parses the config spelling.
std::optional<Overflow> parse_overflow(std::string_view text);

/// Bound and policy of one actor's mailbox.
struct MailboxSpec {
  std::uint32_t capacity = 1024; ///< >= 1
  Overflow overflow = Overflow::drop_oldest;
};

/// The mailbox an actor of this kind gets when its config gives none (or gives only
/// one of the two fields): logic {4096, reject}, input {1024, reject}, physics
/// {64, reject}, observer {4, latest}, audio {256, drop-oldest}, render {8, latest};
/// any other kind gets MailboxSpec{}.
MailboxSpec default_mailbox(std::string_view kind);

/// Which children a node's supervisor restarts when one fails (OTP).
enum class Strategy : std::uint8_t {
  one_for_one,  ///< the failed child
  one_for_all,  ///< every child of the node
  rest_for_one, ///< the failed child and those started after it
};

/// Whether a child is restarted (OTP restart types).
enum class Restart : std::uint8_t {
  permanent, ///< always
  transient, ///< only after an abnormal exit
  temporary, ///< never
};

/// A node supervisor's settings: [[nodes]] supervision = { ... }.
struct SupervisionSpec {
  Strategy strategy = Strategy::one_for_one;
  std::uint32_t max_restarts = 20;  ///< more within period_ms: give up, exit 3
  std::uint32_t period_ms = 5000;
  double backoff_min_ms = 0.5;      ///< first wait; doubles per failure in a row
  double backoff_max_ms = 100.0;
};

/// One node: an actor system, listening on host:port for its peers.
struct NodeSpec {
  std::string name;
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  SupervisionSpec supervision;
  /// PEM certificate and private key this node shows its peers (mutual TLS,
  /// with [network] tls_ca); resolved relative to the config file.
  std::string tls_certificate;
  std::string tls_key;
};

/// [network]: links between nodes (one process or many).
struct NetworkSpec {
  std::uint32_t heartbeat_ms = 500;      ///< BASP heartbeat on every link
  std::uint32_t node_timeout_ms = 2000;  ///< a peer silent this long is lost
  std::uint32_t connect_timeout_ms = 30000; ///< a node retries reaching a peer this long
  std::uint32_t keyframe_every = 30;     ///< remote live snapshots: a full one every N
  /// CA certificate (PEM) that signs every node's certificate: set, links are
  /// mutual TLS and a peer without a certificate it signed is refused.
  std::string tls_ca;
  bool tls() const { return !tls_ca.empty(); }
};

/// Batch runs as fast as possible; realtime paces ticks at tick_hz.
enum class Mode : std::uint8_t { batch, realtime };

/// Config spelling of a mode ("batch", "realtime").
const char* to_string(Mode mode);

/// [simulation]
struct SimulationSpec {
  double tick_hz = 60.0;
  std::uint64_t ticks = 600;
  std::uint64_t seed = 1;
  std::string scenario = "sandbox";
  std::uint32_t bodies = 1000;
  std::uint32_t threads = 2;
  Mode mode = Mode::batch;
};

/// Parameters of the physics actor ([actors.physics]).
struct PhysicsParams {
  std::uint32_t substeps = 4;
  std::uint32_t iterations = 2;
  double friction = 0.3;
  double contact_event_speed = 0.5;
};

/// Parameters of the logic actor ([actors.logic]).
struct LogicParams {
  /// Fountain: one body every N ticks (0 = scenario default), up to max bodies.
  std::uint32_t fountain_every = 0;
  std::uint32_t fountain_max = 0;
  /// A rules plugin to run from the first tick (relative paths are relative to
  /// the config file; "" = the built-in rules only). `troupe run --rules` overrides.
  std::string rules;
  /// A new plugin first runs this many ticks on a copy of the world, within
  /// smoke_budget_ms, and is installed install_after_ticks after the tick the
  /// reload was asked for (the test runs meanwhile, off the tick path).
  std::uint32_t smoke_ticks = 30;
  std::uint32_t smoke_budget_ms = 2000;
  std::uint32_t install_after_ticks = 30;
};

/// Parameters of the input actor ([actors.input]).
struct InputParams {
  /// Scripted timeline file (relative paths are relative to the config file);
  /// empty = no scripted commands.
  std::string timeline;
  /// Ticks of commands sent ahead of the last acknowledged tick.
  std::uint32_t lead_ticks = 120;
  /// Accept live commands (`reload PATH` from any node, a window's keys): input
  /// then never promises the whole future, only a few ticks ahead. Implied by
  /// --watch and by a render window.
  bool live = false;
};

/// Parameters of an observer (a snapshot and contact subscriber that measures
/// hand-off latency, snapshot age and skipped generations).
struct ObserverParams {
  /// Simulated work per snapshot, in microseconds (0 = none); lets a run show what
  /// `latest` delivery does for a slow reader.
  std::uint32_t work_us = 0;
};

/// Parameters of the audio actor ([actors.audio]): contact sounds.
struct AudioParams {
  /// Simultaneous impact sounds; a louder impact steals the quietest voice.
  std::uint32_t voices = 64;
  /// "wav": OUT/audio.wav through OpenAL Soft's loopback device (headless,
  /// sample-exact); "device": the default output device, or the WAV file with a
  /// message when there is none.
  std::string output = "wav";
  /// Where the listener stands and what it faces (up is +y).
  std::array<double, 3> listener{0.0, 6.0, 24.0};
  std::array<double, 3> listener_target{0.0, 2.0, 0.0};
};

/// Parameters of a render actor ([actors.render]): draws the newest snapshot with
/// Vulkan and records frames.
struct RenderParams {
  std::uint32_t width = 1280;   ///< image size in pixels
  std::uint32_t height = 720;
  /// "auto" (a real GPU when present, else lavapipe), "lavapipe", "gpu", or part
  /// of a device name.
  std::string device = "auto";
  /// Record the world every N ticks as OUT/frames/frame-TICK.png (0 = no frames).
  /// Recording is lossless: logic holds the tick while more than
  /// `capture_window` recorded frames are not yet written.
  std::uint32_t frames_every = 60;
  std::uint32_t capture_window = 2;
  /// OUT/run.mp4 from the recorded frames: "auto" (when ffmpeg is on PATH) or "off".
  std::string video = "auto";
  /// Frames per second of the recorded video.
  double video_fps = 30.0;
  /// Live draws of the newest snapshot per second of wall clock (0 = every
  /// snapshot that arrives); between draws newer snapshots replace older ones.
  double max_fps = 30.0;
  /// Open a window (GLFW) instead of drawing offscreen (`--window` sets it).
  bool window = false;
  /// Without a usable Vulkan device (or a window when one is asked for): true =
  /// troupe exits with the reason; false = the run goes on without render.
  bool required = true;
  /// A fixed camera; when not given the camera frames the arena.
  std::optional<std::array<double, 3>> eye;
  std::optional<std::array<double, 3>> target;
};

/// One actor of the topology.
struct ActorSpec {
  std::string name;
  std::string kind;
  std::string node;
  MailboxSpec mailbox;
  std::variant<std::monostate, PhysicsParams, LogicParams, InputParams, ObserverParams, AudioParams,
               RenderParams>
    params;
  Restart restart = Restart::permanent;
  std::uint32_t shutdown_timeout_ms = 5000; ///< stop: exit, then kill after this
  int line = 0; ///< where [actors.NAME] starts, for later diagnostics
};

/// A loaded and validated topology.
struct Topology {
  std::string path; ///< the file it came from
  SimulationSpec simulation;
  NetworkSpec network;
  std::vector<NodeSpec> nodes;
  std::vector<ActorSpec> actors; ///< sorted: physics, logic, input, then others by name

  /// The actor with this name, or nullptr.
  const ActorSpec* actor(std::string_view name) const;
  /// The node with this name, or nullptr.
  const NodeSpec* node(std::string_view name) const;
  /// Actors of one kind in start order.
  std::vector<const ActorSpec*> actors_of_kind(std::string_view kind) const;
};

/// A config error: where and what. `to_string` gives the one-line form
/// "FILE:LINE:COL: KEY: MESSAGE" ("FILE:LINE:COL: MESSAGE" when there is no key, as
/// for a TOML syntax error or an unreadable file). Line and column count from 1; an
/// error with no precise position points at the most relevant table, or at 1:1.
struct ConfigError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key; ///< dotted path, e.g. "actors.physics.mailbox.overflow"
  std::string message;
  std::string to_string() const;
};

/// Either a topology or the first error found.
using LoadResult = std::variant<Topology, ConfigError>;

/// Reads and validates a TOML file.
LoadResult load_topology(const std::string& path);

/// Same, from text (`path` is used in messages and to resolve relative paths).
LoadResult parse_topology(std::string_view text, const std::string& path);

/// A human-readable description of the resolved topology (`troupe check`).
std::string describe(const Topology& topology);

/// Why the nodes of `topology` cannot run as separate processes (`troupe node`,
/// `troupe up`), or "" when they can: each needs a fixed port.
std::string separate_processes_error(const Topology& topology);

/// A digest of what every node must agree on (the resolved topology, wherever
/// the file lies): nodes exchange it when they connect.
std::uint64_t topology_digest(const Topology& topology);

/// Resolves a path given in the config relative to the config file's directory.
std::string resolve_relative(const Topology& topology, const std::string& path);

} // namespace troupe::config
