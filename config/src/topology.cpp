/// \file Loading and validating a topology (schema in topology.hpp).
///
/// Validation runs in two phases. Phase one reads every key of every table on its
/// own: unknown keys, types and ranges; each actor's kind reads its own keys
/// through a ParamsReader (kind.hpp). Phase two, only when phase one found
/// nothing, checks what needs the whole file: node names unique, ports free, each
/// actor's node exists, exactly one stepper, coordinator and source. Within a
/// phase every error is collected and the one nearest the top of the file is
/// returned, because that is the one a reader fixes first.

#include "troupe/config/topology.hpp"

#include "schema.hpp"

#include <troupe/sim/scenario.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <tuple>
#include <utility>

#include <arpa/inet.h>

namespace troupe::config {

using namespace detail;

namespace {

constexpr std::array<std::string_view, 4> overflow_names = {"latest", "drop-oldest", "drop-newest", "reject"};
constexpr std::array<std::string_view, 2> mode_names = {"batch", "realtime"};
constexpr std::array<std::string_view, 3> strategy_names = {"one_for_one", "one_for_all", "rest_for_one"};
constexpr std::array<std::string_view, 3> restart_names = {"permanent", "transient", "temporary"};

const Names top_level_keys = {"simulation", "network", "nodes", "actors"};
const Names network_keys = {"heartbeat_ms",     "node_timeout_ms",   "connect_timeout_ms", "keyframe_every",
                            "tls_ca",           "insecure",          "key_file",           "max_message_bytes",
                            "greeting_timeout_ms", "max_ungreeted", "max_ungreeted_per_address"};
const Names simulation_keys = {"tick_hz", "ticks", "seed", "scenario", "bodies", "threads", "mode"};
const Names node_keys = {"name",    "host",        "port",           "http_port",
                         "http_address", "supervision", "tls_certificate", "tls_key"};
const Names supervision_keys = {"strategy", "max_restarts", "period_ms", "backoff_min_ms", "backoff_max_ms"};
const Names mailbox_keys = {"capacity", "overflow"};
const Names actor_keys = {"kind", "node", "mailbox", "restart", "shutdown_timeout_ms"};

void read_simulation(Checker& checker, const toml::table& table, SimulationSpec& out) {
  for (auto&& [key, value] : table) {
    const Entry e = entry("simulation", key, value);
    if (e.name == "tick_hz") {
      read_number(checker, e, out.tick_hz, {0.0, 10000.0, true});
    } else if (e.name == "ticks") {
      read_integer(checker, e, out.ticks, 1, int_max);
    } else if (e.name == "seed") {
      read_integer(checker, e, out.seed, 0, int_max);
    } else if (e.name == "scenario") {
      const auto names = sim::scenario_names();
      const std::vector<std::string_view> choices(names.begin(), names.end());
      if (const auto index = read_choice(checker, e, choices)) {
        out.scenario = names[*index];
      }
    } else if (e.name == "bodies") {
      read_integer(checker, e, out.bodies, 0, 1'000'000);
    } else if (e.name == "threads") {
      read_integer(checker, e, out.threads, 1, 256);
    } else if (e.name == "mode") {
      if (const auto index = read_choice(checker, e, mode_names)) {
        out.mode = *index == 0 ? Mode::batch : Mode::realtime;
      }
    } else {
      unknown_key(checker, e, simulation_keys);
    }
  }
}

void read_network(Checker& checker, const toml::table& table, NetworkSpec& out) {
  for (auto&& [key, value] : table) {
    const Entry e = entry("network", key, value);
    if (e.name == "heartbeat_ms") {
      read_integer(checker, e, out.heartbeat_ms, 10, 60'000);
    } else if (e.name == "node_timeout_ms") {
      read_integer(checker, e, out.node_timeout_ms, 50, 600'000);
    } else if (e.name == "connect_timeout_ms") {
      read_integer(checker, e, out.connect_timeout_ms, 100, 3'600'000);
    } else if (e.name == "keyframe_every") {
      read_integer(checker, e, out.keyframe_every, 1, 100'000);
    } else if (e.name == "insecure") {
      read_bool(checker, e, out.insecure);
    } else if (e.name == "key_file") {
      if (auto path = read_string(checker, e, true)) {
        out.key_file = std::move(*path);
      }
    } else if (e.name == "max_message_bytes") {
      read_integer(checker, e, out.max_message_bytes, 1024, 0xffffffffll);
    } else if (e.name == "greeting_timeout_ms") {
      read_integer(checker, e, out.greeting_timeout_ms, 10, 600'000);
    } else if (e.name == "max_ungreeted") {
      read_integer(checker, e, out.max_ungreeted, 1, 100'000);
    } else if (e.name == "max_ungreeted_per_address") {
      read_integer(checker, e, out.max_ungreeted_per_address, 1, 100'000);
    } else if (e.name == "tls_ca") {
      if (auto path = read_string(checker, e, true)) {
        out.tls_ca = std::move(*path);
      }
    } else {
      unknown_key(checker, e, network_keys);
    }
  }
  if (out.node_timeout_ms <= out.heartbeat_ms) {
    checker.fail(where(table.source()), "network.node_timeout_ms",
                 "must exceed heartbeat_ms (" + std::to_string(out.heartbeat_ms) + ")");
  }
}

/// A node with the positions phase two needs.
struct NodeEntry {
  NodeSpec spec;
  std::string path; ///< "nodes[1]"
  Where at;         ///< the [[nodes]] header
  Where name_at;
  Where port_at;
  Where host_at;
  Where cert_at;
};

void read_supervision(Checker& checker, const Entry& supervision, SupervisionSpec& out) {
  const auto* table = read_table(
      checker, supervision, "a table such as { strategy = \"one_for_one\", max_restarts = 20 }");
  if (table == nullptr) {
    return;
  }
  for (auto&& [key, value] : *table) {
    const Entry e = entry(supervision.path, key, value);
    if (e.name == "strategy") {
      if (const auto index = read_choice(checker, e, strategy_names)) {
        out.strategy = static_cast<Strategy>(*index);
      }
    } else if (e.name == "max_restarts") {
      read_integer(checker, e, out.max_restarts, 0, 1'000'000);
    } else if (e.name == "period_ms") {
      read_integer(checker, e, out.period_ms, 1, 86'400'000);
    } else if (e.name == "backoff_min_ms") {
      read_number(checker, e, out.backoff_min_ms, {0.0, 60'000.0});
    } else if (e.name == "backoff_max_ms") {
      read_number(checker, e, out.backoff_max_ms, {0.0, 600'000.0});
    } else {
      unknown_key(checker, e, supervision_keys);
    }
  }
  if (out.backoff_max_ms < out.backoff_min_ms) {
    checker.fail(supervision.at, supervision.path + ".backoff_max_ms",
                 "must be at least backoff_min_ms (" + std::to_string(out.backoff_min_ms) + ")");
  }
}

void read_nodes(Checker& checker, const Entry& nodes, std::vector<NodeEntry>& out) {
  const auto* array = nodes.value.as_array();
  if (array == nullptr) {
    checker.fail(nodes.at, nodes.path,
                 "expected an array of tables ([[nodes]]), got " + show(nodes.value));
    return;
  }
  for (std::size_t index = 0; index < array->size(); ++index) {
    const toml::node& element = *array->get(index);
    NodeEntry node;
    node.path = "nodes[" + std::to_string(index) + "]";
    node.at = where(element.source());
    const auto* table = element.as_table();
    if (table == nullptr) {
      checker.fail(node.at, node.path, "expected a table ([[nodes]]), got " + show(element));
      continue;
    }
    bool named = false;
    for (auto&& [key, value] : *table) {
      const Entry e = entry(node.path, key, value);
      if (e.name == "name") {
        named = true;
        node.name_at = e.at;
        if (auto name = read_string(checker, e, true)) {
          if (!is_bare_key(*name)) {
            checker.fail(e.at, e.path,
                         "a node name uses only letters, digits, '_' and '-', got " + show(value));
          }
          node.spec.name = std::move(*name);
        }
      } else if (e.name == "host") {
        node.host_at = e.at;
        if (auto host = read_string(checker, e, true)) {
          node.spec.host = std::move(*host);
        }
      } else if (e.name == "port") {
        node.port_at = e.at;
        read_integer(checker, e, node.spec.port, 0, 65535);
      } else if (e.name == "http_port") {
        read_integer(checker, e, node.spec.http_port, 0, 65535);
      } else if (e.name == "http_address") {
        if (auto address = read_string(checker, e, true)) {
          in6_addr ignored{};
          if (::inet_pton(AF_INET, address->c_str(), &ignored) != 1 &&
              ::inet_pton(AF_INET6, address->c_str(), &ignored) != 1)
            checker.fail(e.at, e.path, "expected an IP address (127.0.0.1, 0.0.0.0, ::1), got " + show(value));
          else
            node.spec.http_address = std::move(*address);
        }
      } else if (e.name == "supervision") {
        read_supervision(checker, e, node.spec.supervision);
      } else if (e.name == "tls_certificate") {
        node.cert_at = e.at;
        if (auto path = read_string(checker, e, true)) {
          node.spec.tls_certificate = std::move(*path);
        }
      } else if (e.name == "tls_key") {
        if (auto path = read_string(checker, e, true)) {
          node.spec.tls_key = std::move(*path);
        }
      } else {
        unknown_key(checker, e, node_keys);
      }
    }
    if (!named) {
      checker.fail(node.at, node.path + ".name", "missing: every node needs a unique name");
    }
    out.push_back(std::move(node));
  }
}

/// An actor with the positions phase two needs.
struct ActorEntry {
  ActorSpec spec;
  std::size_t kind_index = 0; ///< registration order of its kind (start order within a role)
  std::string path;  ///< "actors.NAME"
  Where at;          ///< the NAME key
  Where kind_at;     ///< the kind key, or `at` when the kind comes from the name
  Where node_at;     ///< the node key, if given
  bool node_given = false;
  std::vector<TableReader::NodeRefs> node_refs; ///< node names the kind read
  std::vector<std::string> part_nodes;          ///< ParamsReader::parts
};

void read_mailbox(Checker& checker, const Entry& mailbox, MailboxSpec& out) {
  const auto* table =
      read_table(checker, mailbox, "a table such as { capacity = 1024, overflow = \"reject\" }");
  if (table == nullptr) {
    return;
  }
  for (auto&& [key, value] : *table) {
    const Entry e = entry(mailbox.path, key, value);
    if (e.name == "capacity") {
      read_integer(checker, e, out.capacity, 1, 10'000'000);
    } else if (e.name == "overflow") {
      if (const auto index = read_choice(checker, e, overflow_names)) {
        out.overflow = *parse_overflow(overflow_names[*index]);
      }
    } else {
      unknown_key(checker, e, mailbox_keys);
    }
  }
}

void read_actor(Checker& checker, const toml::key& key, const toml::node& value, const KindCatalog& kinds,
                const std::string& config_path, std::vector<ActorEntry>& out) {
  ActorEntry actor;
  actor.spec.name = std::string(key.str());
  actor.spec.table = actor.spec.name;
  actor.path = join("actors", key.str());
  actor.at = where(key.source());
  actor.kind_at = actor.at;
  actor.spec.line = where(value.source()).line;
  if (!is_bare_key(key.str())) {
    checker.fail(actor.at, actor.path,
                 "an actor name uses only letters, digits, '_' and '-', got " + quote(key.str()));
  }
  const Entry self{key.str(), actor.path, actor.at, value};
  const auto* table = read_table(checker, self, "a table ([actors." + actor.spec.name + "])");
  if (table == nullptr) {
    return;
  }

  // The kind first: it decides which other keys exist.
  const auto all = kinds.kinds();
  std::vector<std::string_view> kind_names;
  for (const KindSchema* kind : all) {
    kind_names.push_back(kind->name);
  }
  const KindSchema* kind = nullptr;
  if (const auto given = table->find("kind"); given != table->end()) {
    const Entry e = entry(actor.path, given->first, given->second);
    actor.kind_at = e.at;
    if (const auto index = read_choice(checker, e, kind_names)) {
      kind = all[*index];
    }
  } else if (const KindSchema* named = kinds.find(key.str())) {
    kind = named;
  } else {
    checker.fail(actor.at, actor.path + ".kind",
                 "no kind given and the name is not a kind; set kind to " + alternatives(kind_names));
  }
  if (kind != nullptr) {
    actor.spec.kind = kind->name;
    actor.spec.role = kind->role;
    actor.spec.schema = kind;
    actor.spec.mailbox = kind->mailbox;
    actor.kind_index = static_cast<std::size_t>(std::find(all.begin(), all.end(), kind) - all.begin());
  }

  // The keys every actor has, then the kind's own (which may look at them).
  for (auto&& [param_key, param_value] : *table) {
    const Entry e = entry(actor.path, param_key, param_value);
    if (e.name == "node") {
      actor.node_at = e.at;
      actor.node_given = true;
      if (auto node = read_string(checker, e, true)) {
        actor.spec.node = std::move(*node);
      }
    } else if (e.name == "mailbox") {
      read_mailbox(checker, e, actor.spec.mailbox);
    } else if (e.name == "restart") {
      if (const auto index = read_choice(checker, e, restart_names)) {
        actor.spec.restart = static_cast<Restart>(*index);
      }
    } else if (e.name == "shutdown_timeout_ms") {
      read_integer(checker, e, actor.spec.shutdown_timeout_ms, 0, 600'000);
    }
  }
  // With an unknown kind there is no list to check the other keys against; the
  // kind error says what to fix first.
  if (kind != nullptr) {
    TableReader reader(checker, *table, actor.spec, actor.path, actor.at, config_path);
    if (kind->parse) {
      actor.spec.params = kind->parse(reader);
    }
    reader.refuse_unknown(actor_keys);
    actor.spec.resolved = reader.take_resolved();
    actor.node_refs = reader.take_node_refs();
    actor.spec.parts = reader.part_count();
    actor.part_nodes = reader.take_part_nodes();
  }
  out.push_back(std::move(actor));
}

/// Phase two: what needs the whole file.
void cross_check(Checker& checker, const Where actors_at, const Where nodes_at, bool nodes_given,
                 std::vector<NodeEntry>& nodes, std::vector<ActorEntry>& actors, const KindCatalog& kinds) {
  if (nodes.empty()) {
    checker.fail(nodes_at, "nodes",
                 nodes_given ? "at least one node is required"
                             : "at least one node is required: add a [[nodes]] table with a name");
    return;
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const NodeSpec& a = nodes[j].spec;
      const NodeSpec& b = nodes[i].spec;
      if (a.name == b.name) {
        checker.fail(nodes[i].name_at, nodes[i].path + ".name",
                     "duplicate node name " + quote(b.name) + ", already used by " +
                         nodes[j].path + " (line " + std::to_string(nodes[j].name_at.line) + ")");
        break;
      }
      if (b.port != 0 && a.port == b.port && a.host == b.host) {
        checker.fail(nodes[i].port_at, nodes[i].path + ".port",
                     "port " + std::to_string(b.port) + " on host " + b.host +
                         " is already used by node " + quote(a.name) + " (" + nodes[j].path +
                         ")");
        break;
      }
    }
  }

  std::vector<std::string_view> node_names;
  for (const NodeEntry& node : nodes) {
    node_names.push_back(node.spec.name);
  }
  for (ActorEntry& actor : actors) {
    if (!actor.node_given) {
      actor.spec.node = nodes.front().spec.name;
    } else if (std::find(node_names.begin(), node_names.end(), actor.spec.node) ==
               node_names.end()) {
      checker.fail(actor.node_at, actor.path + ".node",
                   "no node named " + quote(actor.spec.node) + "; nodes are " +
                       alternatives(node_names, " and "));
    }
    for (const auto& refs : actor.node_refs) {
      for (const std::string& name : refs.names) {
        if (std::find(node_names.begin(), node_names.end(), name) == node_names.end()) {
          checker.fail(refs.at, refs.path,
                       "no node named " + quote(name) + "; nodes are " + alternatives(node_names, " and "));
          break;
        }
      }
    }
  }


  // Exactly one stepper, coordinator and source; "second" means second in the
  // file. A missing one is named by the first kind registered for its role.
  for (const Role role : {Role::coordinator, Role::source, Role::stepper}) {
    std::vector<const ActorEntry*> found;
    for (const ActorEntry& actor : actors) {
      if (actor.spec.role == role && actor.spec.schema != nullptr) {
        found.push_back(&actor);
      }
    }
    if (found.empty()) {
      std::string kind = to_string(role);
      for (const KindSchema* schema : kinds.kinds()) {
        if (schema->role == role) {
          kind = schema->name;
          break;
        }
      }
      checker.fail(actors_at, join("actors", kind),
                   "a " + kind + " actor is required: add [actors." + kind + "]");
      continue;
    }
    std::sort(found.begin(), found.end(), [](const ActorEntry* a, const ActorEntry* b) {
      return std::pair(a->at.line, a->at.column) < std::pair(b->at.line, b->at.column);
    });
    for (std::size_t i = 1; i < found.size(); ++i) {
      const ActorSpec& first = found[0]->spec;
      const ActorSpec& again = found[i]->spec;
      const std::string what = again.kind == first.kind
                                   ? "a second " + again.kind + " actor"
                                   : "a second " + std::string(to_string(role)) + " (kind " + again.kind + ")";
      checker.fail(found[i]->kind_at, found[i]->path + ".kind",
                   what + " (the first is " + found[0]->path + ", line " + std::to_string(first.line) +
                       "); exactly one is allowed");
    }
  }
}

LoadResult validate(const toml::table& root, const std::string& path, const KindCatalog& kinds) {
  Checker checker(path);
  Topology topology;
  topology.path = path;
  std::vector<NodeEntry> nodes;
  std::vector<ActorEntry> actors;
  Where actors_at;
  Where nodes_at;
  bool nodes_given = false;

  for (auto&& [key, value] : root) {
    const Entry e = entry("", key, value);
    if (e.name == "simulation") {
      if (const auto* table = read_table(checker, e, "a table ([simulation])")) {
        read_simulation(checker, *table, topology.simulation);
      }
    } else if (e.name == "network") {
      if (const auto* table = read_table(checker, e, "a table ([network])")) {
        read_network(checker, *table, topology.network);
      }
    } else if (e.name == "nodes") {
      nodes_at = e.at;
      nodes_given = true;
      read_nodes(checker, e, nodes);
    } else if (e.name == "actors") {
      actors_at = e.at;
      if (const auto* table = read_table(checker, e, "a table ([actors.NAME])")) {
        for (auto&& [actor_key, actor_value] : *table) {
          read_actor(checker, actor_key, actor_value, kinds, path, actors);
        }
      }
    } else {
      unknown_key(checker, e, top_level_keys);
    }
  }
  if (checker.failed()) {
    return checker.first();
  }

  cross_check(checker, actors_at, nodes_at, nodes_given, nodes, actors, kinds);
  if (checker.failed()) {
    return checker.first();
  }

  // Mutual TLS is all or nothing: with a CA, every node shows a certificate.
  for (const NodeEntry& node : nodes) {
    const bool cert = !node.spec.tls_certificate.empty();
    const bool key = !node.spec.tls_key.empty();
    if (cert != key) {
      checker.fail(node.at, node.path + (cert ? ".tls_key" : ".tls_certificate"),
                   "missing: tls_certificate and tls_key go together");
    } else if (topology.network.tls() && !cert) {
      checker.fail(node.at, node.path + ".tls_certificate",
                   "missing: [network] tls_ca is set, so every node needs a certificate and key");
    } else if (!topology.network.tls() && cert) {
      checker.fail(node.cert_at, node.path + ".tls_certificate",
                   "needs [network] tls_ca (the CA that signs the nodes' certificates)");
    }
  }
  // Plain TCP beyond this host is a choice the config makes out loud: every
  // byte on it is readable and forgeable by whoever is on the path.
  if (!topology.network.tls() && !topology.network.insecure) {
    for (const NodeEntry& node : nodes) {
      if (!is_loopback(node.spec.host)) {
        checker.fail(node.host_at, node.path + ".host",
                     "plain TCP on " + quote(node.spec.host) + ", beyond this host: set [network] tls_ca (mutual "
                     "TLS), or [network] insecure = true to accept unauthenticated, unencrypted links");
      }
    }
  }
  if (checker.failed()) {
    return checker.first();
  }
  for (NodeEntry& node : nodes) {
    topology.nodes.push_back(std::move(node.spec));
  }
  // Start order (shutdown is the reverse): by role, then by the kind's
  // registration order, then by name.
  std::sort(actors.begin(), actors.end(), [](const ActorEntry& a, const ActorEntry& b) {
    return std::tuple(a.spec.role, a.kind_index, std::string_view(a.spec.name)) <
           std::tuple(b.spec.role, b.kind_index, std::string_view(b.spec.name));
  });
  // A reader of a world run as regions takes one piece of each generation
  // from every region and one from logic: a `latest` mailbox keeps the newest
  // piece of each sender, and must not evict one of the newest generation for
  // recorded pieces (a few per sender) or other topics: 4 places per sender.
  std::uint32_t stepper_parts = 1;
  for (const ActorEntry& actor : actors) {
    if (actor.spec.role == Role::stepper) {
      stepper_parts = actor.spec.parts;
    }
  }
  for (ActorEntry& actor : actors) {
    MailboxSpec& mailbox = actor.spec.mailbox;
    if (stepper_parts > 1 && actor.spec.role == Role::reader && mailbox.overflow == Overflow::latest) {
      mailbox.capacity = std::max(mailbox.capacity, 4 * (stepper_parts + 1));
    }
  }
  // An actor its kind runs as parts becomes one actor per part, NAME/i, in
  // part order, each on its node.
  for (ActorEntry& actor : actors) {
    const std::uint32_t parts = actor.spec.parts;
    if (parts <= 1) {
      topology.actors.push_back(std::move(actor.spec));
      continue;
    }
    for (std::uint32_t i = 0; i < parts; ++i) {
      ActorSpec part = actor.spec;
      part.name = actor.spec.name + "/" + std::to_string(i);
      part.part = i;
      if (!actor.part_nodes.empty()) {
        part.node = actor.part_nodes[i % actor.part_nodes.size()];
      }
      topology.actors.push_back(std::move(part));
    }
  }
  return topology;
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) {
    text.append(width - text.size(), ' ');
  }
  return text;
}

} // namespace

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

const char* to_string(Role role) {
  switch (role) {
  case Role::stepper:
    return "stepper";
  case Role::coordinator:
    return "coordinator";
  case Role::source:
    return "source";
  case Role::reader:
    return "reader";
  }
  return "?";
}

const char* to_string(Overflow overflow) {
  switch (overflow) {
  case Overflow::latest:
    return "latest";
  case Overflow::drop_oldest:
    return "drop-oldest";
  case Overflow::drop_newest:
    return "drop-newest";
  case Overflow::reject:
    return "reject";
  }
  return "?";
}

std::optional<Overflow> parse_overflow(std::string_view text) {
  for (const Overflow overflow :
       {Overflow::latest, Overflow::drop_oldest, Overflow::drop_newest, Overflow::reject}) {
    if (text == to_string(overflow)) {
      return overflow;
    }
  }
  return std::nullopt;
}

const char* to_string(Mode mode) {
  switch (mode) {
  case Mode::batch:
    return "batch";
  case Mode::realtime:
    return "realtime";
  }
  return "?";
}

const ActorSpec* Topology::actor(std::string_view name) const {
  const auto found = std::find_if(actors.begin(), actors.end(),
                                  [&](const ActorSpec& actor) { return actor.name == name; });
  return found == actors.end() ? nullptr : &*found;
}

const NodeSpec* Topology::node(std::string_view name) const {
  const auto found = std::find_if(nodes.begin(), nodes.end(),
                                  [&](const NodeSpec& node) { return node.name == name; });
  return found == nodes.end() ? nullptr : &*found;
}

std::vector<const ActorSpec*> Topology::with_role(Role role) const {
  std::vector<const ActorSpec*> out;
  for (const ActorSpec& actor : actors) {
    if (actor.role == role) {
      out.push_back(&actor);
    }
  }
  return out;
}

const ActorSpec& Topology::the(Role role) const {
  const auto found = std::find_if(actors.begin(), actors.end(), [&](const ActorSpec& a) { return a.role == role; });
  if (found == actors.end()) {
    throw std::logic_error(std::string("a validated topology has no ") + to_string(role));
  }
  return *found;
}

LoadResult load_topology(const std::string& path, const KindCatalog& kinds) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    return Error{errc::bad_config,
                 "cannot open the file" + (error != 0 ? ": " + std::generic_category().message(error) : std::string()),
                 path, 1, 1};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Error{errc::bad_config, "cannot read the file", path, 1, 1};
  }
  return parse_topology(text.str(), path, kinds);
}

LoadResult parse_topology(std::string_view text, const std::string& path, const KindCatalog& kinds) {
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(path));
  } catch (const toml::parse_error& error) {
    // toml++ says "Error while parsing value: ..."; keep its words after that.
    std::string_view description = error.description();
    constexpr std::string_view prefix = "Error while parsing ";
    std::string message = "TOML syntax error";
    if (description.substr(0, prefix.size()) == prefix) {
      message += " in ";
      description.remove_prefix(prefix.size());
    } else {
      message += ": ";
    }
    message += description;
    const Where at = where(error.source());
    return Error{errc::bad_config, std::move(message), path, at.line, at.column};
  }
  return validate(root, path, kinds);
}

std::string describe(const Topology& topology) {
  const SimulationSpec& sim = topology.simulation;
  std::ostringstream out;
  std::array<char, 32> seconds{};
  std::snprintf(seconds.data(), seconds.size(), "%.4g",
                static_cast<double>(sim.ticks) / sim.tick_hz);
  out << "topology " << topology.path << "\n";
  out << "simulation\n";
  out << "  scenario " << sim.scenario << ", " << sim.bodies << " bodies, seed " << sim.seed
      << "\n";
  out << "  " << sim.ticks << " ticks at " << format_number(sim.tick_hz) << " Hz ("
      << seconds.data() << " s simulated), " << to_string(sim.mode) << " mode, " << sim.threads
      << (sim.threads == 1 ? " physics thread" : " physics threads") << "\n";

  std::size_t name_width = 0;
  for (const NodeSpec& node : topology.nodes) {
    name_width = std::max(name_width, node.name.size());
  }
  for (const ActorSpec& actor : topology.actors) {
    name_width = std::max(name_width, actor.name.size());
  }
  name_width += 2;

  out << "nodes (" << topology.nodes.size() << ")\n";
  for (const NodeSpec& node : topology.nodes) {
    const auto& sup = node.supervision;
    out << "  " << pad(node.name, name_width) << node.host << ":" << node.port
        << (node.port == 0 ? " (any free port)" : "") << "\n";
    out << "  " << pad("", name_width) << "supervisor " << strategy_names[static_cast<int>(sup.strategy)]
        << ", at most " << sup.max_restarts << " restarts in " << sup.period_ms << " ms, backoff "
        << sup.backoff_min_ms << ".." << sup.backoff_max_ms << " ms\n";
  }
  const NetworkSpec& net = topology.network;
  out << "network: heartbeat every " << net.heartbeat_ms << " ms, a peer is lost after "
      << net.node_timeout_ms << " ms, peers are retried for " << net.connect_timeout_ms
      << " ms, a keyframe every " << net.keyframe_every << " remote snapshots, "
      << (net.tls() ? "mutual TLS (CA " + net.tls_ca + ")" : std::string{"plain TCP"})
      << "\n";
  out << "actors (" << topology.actors.size() << ", in start order)\n";
  for (const ActorSpec& actor : topology.actors) {
    out << "  " << pad(actor.name, name_width) << pad("kind " + actor.kind, 15) << pad(to_string(actor.role), 12)
        << pad("on " + actor.node, name_width + 5) << "mailbox " << actor.mailbox.capacity
        << " " << to_string(actor.mailbox.overflow) << ", "
        << restart_names[static_cast<int>(actor.restart)] << ", stop within "
        << actor.shutdown_timeout_ms << " ms\n";
    // The parts of one table share its keys: they are described once.
    if (actor.part > 0) {
      continue;
    }
    std::string params = actor.schema && actor.schema->describe ? actor.schema->describe(actor, topology) : "";
    if (params.empty()) {
      for (const ResolvedKey& key : actor.resolved) {
        params += (params.empty() ? "" : ", ") + key.key + " " + key.value;
      }
    }
    if (!params.empty()) {
      out << "  " << pad("", name_width) << params << "\n";
    }
  }
  return out.str();
}

std::string separate_processes_error(const Topology& topology) {
  for (const NodeSpec& node : topology.nodes) {
    if (node.port == 0) {
      return topology.path + ": node " + node.name +
             " has port 0: nodes in separate processes find each other by port, give each one";
    }
  }
  return {};
}

std::string canonical_form(const Topology& topology) {
  std::ostringstream out;
  const SimulationSpec& s = topology.simulation;
  out << "simulation.tick_hz = " << format_number(s.tick_hz) << "\n"
      << "simulation.ticks = " << s.ticks << "\n"
      << "simulation.seed = " << s.seed << "\n"
      << "simulation.scenario = " << quote(s.scenario) << "\n"
      << "simulation.bodies = " << s.bodies << "\n"
      << "simulation.threads = " << s.threads << "\n"
      << "simulation.mode = " << to_string(s.mode) << "\n"
      << "network.tls = " << (topology.network.tls() ? "true" : "false") << "\n"
      << "network.keyframe_every = " << topology.network.keyframe_every << "\n";
  for (const NodeSpec& node : topology.nodes) {
    const std::string at = "nodes." + node.name + ".";
    const SupervisionSpec& sup = node.supervision;
    out << at << "host = " << quote(node.host) << "\n"
        << at << "port = " << node.port << "\n"
        << at << "supervision = " << strategy_names[static_cast<int>(sup.strategy)] << " " << sup.max_restarts << " "
        << sup.period_ms << " " << format_number(sup.backoff_min_ms) << " " << format_number(sup.backoff_max_ms)
        << "\n";
  }
  for (const ActorSpec& actor : topology.actors) {
    const std::string at = "actors." + actor.name + ".";
    out << at << "kind = " << quote(actor.kind) << "\n"
        << at << "node = " << quote(actor.node) << "\n"
        << at << "mailbox = " << actor.mailbox.capacity << " " << to_string(actor.mailbox.overflow) << "\n"
        << at << "restart = " << restart_names[static_cast<int>(actor.restart)] << "\n"
        << at << "shutdown_timeout_ms = " << actor.shutdown_timeout_ms << "\n";
    for (const ResolvedKey& key : actor.resolved) {
      if (!key.path) {
        out << at << key.key << " = " << key.value << "\n";
      }
    }
  }
  return out.str();
}

std::uint64_t topology_digest(const Topology& topology) {
  std::uint64_t hash = 0xcbf29ce484222325ull; // FNV-1a: small, stable, no dependency
  for (const unsigned char ch : canonical_form(topology)) {
    hash = (hash ^ ch) * 0x100000001b3ull;
  }
  return hash;
}

std::string resolve_relative(const Topology& topology, const std::string& path) {
  const std::filesystem::path given(path);
  if (path.empty() || given.is_absolute()) {
    return path;
  }
  const std::filesystem::path directory = std::filesystem::path(topology.path).parent_path();
  if (directory.empty()) {
    return path;
  }
  return (directory / given).string();
}

} // namespace troupe::config
