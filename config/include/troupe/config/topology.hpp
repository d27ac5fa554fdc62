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
///   scenario = "sandbox"    # a registered scenario (sim/scenario.hpp)
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
///   insecure = false        # allow plain TCP on non-loopback hosts
///   key_file = ""           # plain TCP: the cluster key (troupe key FILE)
///   max_message_bytes = 0   # 0 = from the largest world the simulation allows
///   greeting_timeout_ms = 2000
///   max_ungreeted = 64
///   max_ungreeted_per_address = 16
///
///   [actors.NAME]           # one stepper, one coordinator, one source (by role);
///                           # a kind may run one table as parts NAME/0, NAME/1...
///   kind = "physics"        # defaults to NAME; a registered kind (KindCatalog)
///   node = "main"           # defaults to the first node
///   mailbox = { capacity = 1024, overflow = "reject" }  # defaults: the kind's
///   restart = "permanent"   # permanent | transient | temporary
///   shutdown_timeout_ms = 5000
///   ...the kind's own keys (its KindSchema::parse reads them)

#include <troupe/config/kind.hpp>
#include <troupe/error.hpp>

#include <any>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace troupe::config {

/// Config spelling of an overflow policy ("drop-oldest").
const char* to_string(Overflow overflow);

/// Parses the config spelling.
std::optional<Overflow> parse_overflow(std::string_view text);

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
  /// The live view's HTTP endpoint (/metrics, /report.json): 0 = off;
  /// `--http PORT` sets it from the command line.
  std::uint16_t http_port = 0;
  /// Where it listens: an IP address (loopback unless the config says otherwise).
  std::string http_address = "127.0.0.1";
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
  /// Plain TCP on an address beyond this host (not loopback) is refused
  /// unless this says so: such links are not encrypted.
  bool insecure = false;
  /// Plain TCP: the file with the cluster key every node proves it knows
  /// (relative to the config; `troupe key FILE` makes one). "" = `troupe run`
  /// makes one per run, `troupe up` one per launch for its nodes.
  std::string key_file;
  /// The largest message a peer may send (bytes; 0 = from the largest world
  /// the simulation allows); a peer that sends more is cut off.
  std::uint64_t max_message_bytes = 0;
  /// A connection must prove itself within this long ...
  std::uint32_t greeting_timeout_ms = 2000;
  /// ... and at most this many may be waiting to, per node,
  std::uint32_t max_ungreeted = 64;
  /// ... of which at most this many from one address.
  std::uint32_t max_ungreeted_per_address = 16;
  bool tls() const { return !tls_ca.empty(); }
};

/// Whether `host` names this host only: "localhost", 127.0.0.0/8 or ::1.
bool is_loopback(std::string_view host);

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

/// One actor of the topology.
struct ActorSpec {
  std::string name;
  std::string kind;
  Role role = Role::reader;
  const KindSchema* schema = nullptr; ///< its kind (the catalog outlives the topology)
  std::string node;
  MailboxSpec mailbox;
  std::any params;                   ///< the kind's own parameters (KindSchema::parse)
  std::vector<ResolvedKey> resolved; ///< the kind's keys as resolved, in the order read
  Restart restart = Restart::permanent;
  std::uint32_t shutdown_timeout_ms = 5000; ///< stop: exit, then kill after this
  int line = 0; ///< where [actors.NAME] starts, for later diagnostics
  /// An actor its kind runs as parts (ParamsReader::parts): `table` is the
  /// NAME of its [actors.NAME], `name` is NAME/part; otherwise table == name,
  /// part 0 of 1.
  std::string table;
  std::uint32_t part = 0;
  std::uint32_t parts = 1;

  /// The parameters as the kind's type; throws std::bad_any_cast for another.
  template <class Params> const Params& params_as() const { return std::any_cast<const Params&>(params); }
  template <class Params> Params& params_as() { return std::any_cast<Params&>(params); }
};

/// A loaded and validated topology.
struct Topology {
  std::string path; ///< the file it came from
  SimulationSpec simulation;
  NetworkSpec network;
  std::vector<NodeSpec> nodes;
  /// In start order: by role (stepper, coordinator, source, readers), then by
  /// the kind's registration order, then by name.
  std::vector<ActorSpec> actors;

  /// The actor with this name, or nullptr.
  const ActorSpec* actor(std::string_view name) const;
  /// The node with this name, or nullptr.
  const NodeSpec* node(std::string_view name) const;
  /// Actors of one role in start order.
  std::vector<const ActorSpec*> with_role(Role role) const;
  /// The one actor of a role there is exactly one of (stepper, coordinator,
  /// source): validation guarantees it. A stepper run as parts (regions)
  /// answers with its first part; `with_role` lists them all.
  const ActorSpec& the(Role role) const;
};

/// A topology, or the first error found: errc::bad_config with the file, line,
/// column and key; `Error::to_string` gives the one-line form
/// "FILE:LINE:COL: KEY: MESSAGE" ("FILE:LINE:COL: MESSAGE" when there is no key,
/// as for a TOML syntax error or an unreadable file). Line and column count
/// from 1; an error with no precise position points at the most relevant
/// table, or at 1:1.
using LoadResult = Expected<Topology>;

/// Reads and validates a TOML file; actors may be of the kinds in `kinds`.
LoadResult load_topology(const std::string& path, const KindCatalog& kinds);

/// Same, from text (`path` is used in messages and to resolve relative paths).
LoadResult parse_topology(std::string_view text, const std::string& path, const KindCatalog& kinds);

/// A human-readable description of the resolved topology (`troupe check`).
std::string describe(const Topology& topology);

/// Why the nodes of `topology` cannot run as separate processes (`troupe node`,
/// `troupe up`), or "" when they can: each needs a fixed port.
std::string separate_processes_error(const Topology& topology);

/// What every node must agree on, as data: the simulation, the nodes, whether
/// links are TLS, and every actor with its kind, node, mailbox, restart policy
/// and resolved keys; not file paths (they differ from host to host) nor
/// network timeouts (each node's own business). One "key = value" line each.
std::string canonical_form(const Topology& topology);

/// A digest of canonical_form: nodes exchange it when they connect.
std::uint64_t topology_digest(const Topology& topology);

/// Resolves a path given in the config relative to the config file's directory.
std::string resolve_relative(const Topology& topology, const std::string& path);

} // namespace troupe::config
