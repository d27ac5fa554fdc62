// Starting, wiring, running and stopping a topology in this process: one CAF
// actor system per node, each publishing a directory actor on its node's port.
// Peers are found by topology name through the directory of the node the
// topology puts them on, so a cross-node handle is a real middleman proxy.

#include "subsystems.hpp"

#include <troupe/live/trace.hpp>
#include "wire.hpp"

#include <troupe/actors/metrics.hpp>
#include <troupe/actors/supervisor.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <troupe/memory.hpp>
#include <troupe/sim/scenario.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <fstream>
#include <map>
#include <sstream>

namespace troupe {
namespace {

using namespace std::chrono_literals;

/// One line to stderr in one write: the nodes of `troupe up` share a terminal.
void say(const std::string& line) {
  std::cerr << line + "\n" << std::flush;
}

std::string hex(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

/// How long a run may go without a progress message before it is declared stuck.
constexpr auto stall_timeout = 60s;

} // namespace

void configure_actor_system(caf::actor_system_config& cfg) {
  keep_freed_memory();
  cfg.load<caf::io::middleman>();
  register_message_types(cfg);
  cfg.set("logger.console", caf::atom("none"));
  // An idle CAF worker polls 100 times, then 500 times with a 50 us sleep
  // in between (25 ms), and only then waits on a condition variable that a
  // new job signals. A realtime run is idle most of each tick, so each
  // snapshot found its readers' workers in those sleeps and waited out one
  // (60 to 110 us here with the kernel's timer slack). Without the middle
  // phase a job wakes its worker at once (a futex, a few us), and an idle
  // node burns no CPU on polls.
  cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
}

bool stop_preempting_on_wakeup() {
  sched_param unused{};
  return ::pthread_setschedparam(::pthread_self(), SCHED_BATCH, &unused) == 0;
}

namespace {

class node_config : public caf::actor_system_config {
public:
  node_config(const config::Topology& topology, const config::NodeSpec& node) {
    configure_actor_system(*this);
    if (topology.network.tls()) {
      // Mutual TLS: this node shows its certificate and trusts only the CA's.
      load<caf::openssl::manager>();
      openssl_cafile = config::resolve_relative(topology, topology.network.tls_ca);
      openssl_certificate = config::resolve_relative(topology, node.tls_certificate);
      openssl_key = config::resolve_relative(topology, node.tls_key);
    }
    // 0.17 ships heartbeats off: a dead peer would be noticed only when TCP
    // gives up. Over TLS, 0.17's heartbeats break links (they drop every few
    // seconds): there the link watcher pings instead.
    if (!topology.network.tls()) {
      set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(topology.network.heartbeat_ms)});
      set("middleman.connection-timeout", caf::timespan{std::chrono::milliseconds(topology.network.node_timeout_ms)});
    }
  }
};

/// One node of the topology, running in this process.
struct LocalNode {
  const config::NodeSpec* spec = nullptr;
  std::unique_ptr<node_config> cfg;
  std::unique_ptr<caf::actor_system> system;
  std::shared_ptr<wire::Gate> gate; ///< every byte from a peer passes it (wire.hpp)
  caf::io::middleman_actor mm;      ///< connects and accepts through the gate
  caf::actor supervisor;
  caf::actor directory;
  std::uint16_t port = 0;
  std::map<std::string, caf::actor> actors;      // stable names of local actors
  std::mutex peers_mutex;                        // guards what changes when a lost node comes back:
  std::map<std::string, caf::actor> directories; // other nodes' directories, by node name
  std::map<std::string, caf::actor> peers;       // every actor's stable name, seen from here
  std::map<std::string, std::uint64_t> greeted;  // nodes that dial us: the greeting we last took
  std::vector<live::Probe> probes;               // its figures on the live metrics

  std::map<std::string, caf::actor> peers_copy() {
    std::lock_guard<std::mutex> guard{peers_mutex};
    return peers;
  }
};

/// A node's front door, published on its port: peers greet it (protocol version
/// and topology digest), then look up the stable names of its actors, ask for its
/// supervisor's report, and, from the coordinator, tell it the run is over.
struct DirectoryState {
  std::string node;
  std::uint32_t version = protocol_version;
  std::uint64_t digest = 0;
  std::map<std::string, caf::actor> names;
  caf::actor supervisor;
  caf::actor controller; ///< told when the coordinator finishes the run
  std::set<caf::node_id> greeted;
  /// Directories of the nodes that dialed us, and the number of their latest
  /// greeting: a node that was lost and came back (after a restart, or a
  /// freeze: then it is the same actor) greets again with a higher number.
  std::map<std::string, std::pair<caf::actor, std::uint64_t>> greeters;
  std::uint64_t greetings = 0;
  std::function<ActorReport()> links_report;  ///< this node's links@NODE entry
};

caf::behavior directory_behavior(caf::stateful_actor<DirectoryState>* self, DirectoryState init) {
  self->state = std::move(init);
  // Only a peer that greeted us with the right version and topology gets in.
  auto admitted = [self] {
    const auto& sender = self->current_sender();
    return sender && (sender->node() == self->node() || self->state.greeted.count(sender->node()) > 0);
  };
  auto refusal = [self] {
    return make_error(errc::not_greeted, "node " + self->state.node + " refuses a peer that has not greeted it");
  };
  return {
    [self](hello_atom, std::uint32_t version, std::uint64_t digest, const std::string& peer,
           const caf::actor& directory) -> caf::result<std::string> {
      auto& st = self->state;
      std::string why;
      if (version != st.version)
        why = "it speaks protocol version " + std::to_string(version) + ", node " + st.node + " speaks " +
              std::to_string(st.version);
      else if (digest != st.digest)
        why = "its topology differs from node " + st.node + "'s (digest " + hex(digest) + ", here " + hex(st.digest) +
              "): start every node from the same config";
      if (!why.empty()) {
        say("troupe: node " + st.node + ": refused node " + peer + ": " + why);
        return make_error(errc::protocol_mismatch, "node " + st.node + " refused node " + peer + ": " + why);
      }
      // A greeting may come without a sender: BASP delivers one so when the
      // peer's proxy could not be made (its link went down as it arrived).
      // Nothing to admit then; the peer greets again once its link is back.
      const auto& sender = self->current_sender();
      if (!sender)
        return make_error(errc::not_greeted, "node " + st.node + " took a greeting from node " + peer +
                                               " without a sender (its link went down): greet again");
      st.greeted.insert(sender->node());
      st.greeters[peer] = {directory, ++st.greetings};
      return st.node;
    },
    // This node dialed a peer that accepted its greeting: admit the peer too.
    [self](hello_atom, const caf::node_id& peer) {
      if (self->current_sender() && self->current_sender()->node() == self->node())
        self->state.greeted.insert(peer);
    },
    // This node asks whether `peer` has dialed it (yet again, after a loss).
    [self](hello_atom, const std::string& peer) -> caf::result<caf::actor, std::uint64_t> {
      if (self->current_sender() && self->current_sender()->node() == self->node())
        if (auto i = self->state.greeters.find(peer); i != self->state.greeters.end())
          return {i->second.first, i->second.second};
      return make_error(errc::unknown_peer, "node " + peer + " has not dialed node " + self->state.node);
    },
    [self, admitted, refusal](lookup_atom, const std::string& name) -> caf::result<caf::actor> {
      if (!admitted())
        return refusal();
      auto i = self->state.names.find(name);
      if (i == self->state.names.end())
        return make_error(errc::unknown_peer, "no actor named \"" + name + "\" on node " + self->state.node);
      return i->second;
    },
    [self, admitted, refusal](report_atom, const std::string&) -> caf::result<ActorReport> {
      if (!admitted())
        return refusal();
      return self->state.links_report();
    },
    [self, admitted, refusal](report_atom) -> caf::result<ActorReport> {
      if (!admitted())
        return refusal();
      auto promise = self->make_response_promise<ActorReport>();
      self->request(self->state.supervisor, 10s, report_atom::value)
        .then([promise](ActorReport& report) mutable { promise.deliver(std::move(report)); },
              [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
      return promise;
    },
    // A sign of life for a peer's link watcher.
    [self](tick_atom) { return caf::make_message(tick_atom::value, self->state.node); },
    [self, admitted](finish_atom) {
      if (admitted())
        self->send(self->state.controller, finish_atom::value);
    },
  };
}

/// This process's peak resident set (VmHWM), in MiB.
double peak_rss_mb() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0; // kilobytes on Linux
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class Cluster {
public:
  Cluster(const config::Topology& topology, const RunOptions& options)
    : topology_(topology), options_(options), sim_(effective_simulation(topology, options)) {}

  ~Cluster() { shutdown(); }

  RunResult run() {
    RunResult result;
    result.threads = sim_.threads;
    const auto started = steady_now_ns();
    if (auto prepared = prepare(); !prepared) {
      result.error = prepared.error();
      return result;
    }
    if (auto started_up = start(); !started_up) {
      result.error = started_up.error();
      if (stop_requested() && !coordinator_) {
        result.ok = true; // asked to stop before the run began: nothing was lost
        result.served = true;
        result.served_until = "stopped by a signal before the run began";
      }
      shutdown();
      return result;
    }
    for (auto& node : nodes_)
      result.node_ports.emplace_back(node->spec->name, node->port);
    if (options_.handle) {
      const auto& source = topology_.the(Role::source);
      std::function<void(const std::string&)> deliver;
      if (facts_.live_commands && is_local(source.node))
        // Through input's stable name: a restarted input takes them too.
        deliver = [input = node_of(source.node).actors.at(source.name)](const std::string& text) {
          caf::anon_send(input, action_atom::value, text);
        };
      std::function<RunResult()> report;
      if (coordinator_)
        report = [this] { return ask_for_report(); };
      options_.handle->connect(std::move(deliver), std::move(report));
    }
    if (coordinator_) {
      wait_for_end(result, started);
      result.wall_seconds = static_cast<double>(steady_now_ns() - started) / 1e9;
      collect_reports(result);
      result.command_log = command_log_;
    } else {
      serve(result);
      result.wall_seconds = static_cast<double>(steady_now_ns() - started) / 1e9;
    }
    shutdown();
    return result;
  }

private:
  /// Everything that can fail because of user input, before any actor
  /// starts: the node, the checkpoint, and each local actor's kind's prepare.
  Expected<void> prepare() {
    if (!options_.only_node.empty() && !topology_.node(options_.only_node)) {
      std::string names;
      for (const auto& node : topology_.nodes)
        names += (names.empty() ? "" : ", ") + node.name;
      return Error{errc::bad_argument, "no node named \"" + options_.only_node + "\" (nodes: " + names + ")",
                   topology_.path};
    }
    if (!options_.only_node.empty())
      if (auto err = config::separate_processes_error(topology_); !err.empty())
        return Error{errc::bad_config, err};
    coordinator_ = is_local(topology_.the(Role::coordinator).node);
    if (!topology_.network.tls()) {
      // Plain TCP: every node proves it knows the cluster key (wire.hpp). One
      // process running every node makes a key of its own; a node of a
      // cluster of processes reads the cluster's.
      const auto file = !options_.key_file.empty()          ? options_.key_file
                        : !topology_.network.key_file.empty() ? config::resolve_relative(topology_, topology_.network.key_file)
                                                              : std::string{};
      if (!file.empty()) {
        auto key = wire::read_key_file(file);
        if (!key)
          return key.error();
        key_ = *key;
      } else if (options_.only_node.empty()) {
        key_ = wire::random_key();
      } else {
        return Error{errc::bad_argument,
                     "node " + options_.only_node + " needs the cluster key: set [network] key_file (make one with "
                     "troupe key FILE) or pass --key-file; troupe up makes one for its nodes",
                     topology_.path};
      }
    }
    std::filesystem::create_directories(options_.out_dir);
    if (!options_.resume_from.empty()) {
      auto checkpoint = load_checkpoint(options_.resume_from);
      if (!checkpoint)
        return checkpoint.error();
      // A cut of a world run as regions resumes from logic's piece, as many regions.
      const auto regions = topology_.the(Role::stepper).parts;
      if (checkpoint->parts > 0 && checkpoint->part != checkpoint->parts)
        return Error{errc::bad_file,
                     "region " + std::to_string(checkpoint->part) +
                       "'s piece of a cut: resume from logic's piece of it (tick-N.ckpt)",
                     options_.resume_from};
      if (checkpoint->parts > 0 && checkpoint->parts != regions)
        return Error{errc::bad_file,
                     "a cut of " + std::to_string(checkpoint->parts) + " regions cannot run with regions = " +
                       std::to_string(regions) + ": resume it with regions = " + std::to_string(checkpoint->parts),
                     options_.resume_from};
      facts_.start_tick = checkpoint->tick();
      facts_.resume = std::move(*checkpoint);
    }
    command_log_ = options_.out_dir + "/commands.log";
    facts_.command_log = command_log_;
    facts_.log_header = log_header();
    facts_.live_commands = options_.watch;
    for (const auto& spec : topology_.actors) {
      const auto& kind = subsystem_of(spec);
      if (spec.role == Role::reader)
        facts_.readers.push_back(spec.name);
      if (kind.takes_live_commands && kind.takes_live_commands(spec, options_))
        facts_.live_commands = true;
    }
    // Made here, read-only later: supervisors of several nodes spawn concurrently.
    for (const auto& spec : topology_.actors) {
      if (!is_local(spec.node))
        continue;
      const auto& kind = subsystem_of(spec);
      if (kind.prepare) {
        auto prepared = kind.prepare(context(spec, 0, nullptr));
        if (!prepared)
          return prepared.error();
        states_[spec.name] = std::move(*prepared);
      }
      if (spec.role == Role::reader)
        cursors_[spec.name] = std::make_shared<ReaderCursor>();
    }
    return {};
  }

  ActorContext context(const config::ActorSpec& spec, std::uint32_t incarnation, std::shared_ptr<void> state) const {
    return ActorContext{spec, topology_, sim_, options_, facts_, incarnation, chaos_for(spec, incarnation),
                        std::move(state)};
  }

  std::string log_header() const {
    std::ostringstream out;
    out << "# troupe command log 1\n";
    out << "# config: " << topology_.path << "\n";
    out << "# ticks: " << sim_.ticks << "\n";
    if (const auto rules = starting_rules(topology_, options_); !rules.empty())
      out << "# rules: " << rules << "\n";
    if (facts_.resume)
      out << "# resumed-from-tick: " << facts_.resume->tick() << "\n";
    out << "# The topology this log was recorded with (troupe replay reads it):\n";
    std::istringstream config_text(options_.topology_text.empty() ? read_file(topology_.path)
                                                                  : options_.topology_text);
    for (std::string line; std::getline(config_text, line);)
      out << "#= " << line << "\n";
    out << "# TICK SOURCE SEQ ACTION\n";
    return out.str();
  }

  Chaos chaos_for(const config::ActorSpec& spec, std::uint32_t incarnation) const {
    Chaos chaos;
    chaos.name = spec.name;
    chaos.seed = sim_.seed;
    chaos.incarnation = incarnation;
    if (auto i = options_.chaos.find(spec.name); i != options_.chaos.end())
      chaos.probability = i->second;
    if (auto i = options_.kill.find(spec.name); i != options_.kill.end())
      chaos.kill_at = i->second;
    return chaos;
  }

  /// Spawns incarnation `n` of an actor: its kind makes it; incarnations
  /// after the first pick up what their kind's state keeps.
  caf::actor spawn(caf::actor_system& sys, const config::ActorSpec& spec, std::uint32_t n) {
    const auto& kind = subsystem_of(spec);
    const auto state = states_.find(spec.name);
    const auto ctx = context(spec, n, state == states_.end() ? nullptr : state->second);
    auto actor = kind.make_reader && !kind.spawn ? spawn_reader(sys, kind, ctx, cursors_.at(spec.name))
                                                 : kind.spawn(sys, ctx);
    expose_mailbox(labels_of(spec), actor);
    const auto restarts =
      live::counter("troupe_restarts_total", "Times the supervisor started the actor again", labels_of(spec));
    if (n > 0) {
      restarts.add();
      live::trace_instant("restart", spec.node, spec.name, steady_now_ns(), -1,
                          "incarnation " + std::to_string(n));
    }
    return actor;
  }

  /// Connects a (new) incarnation to its peers by role, using the handles its
  /// node resolved. Runs in the node's supervisor after a restart.
  void wire(LocalNode& node, const config::ActorSpec& spec, const caf::actor& child, bool restarted) {
    const auto peers = node.peers_copy();
    switch (spec.role) {
    case Role::stepper:
      if (spec.parts > 1)
        connect_region(child, peers);
      break;
    case Role::coordinator:
      connect_to_stepper(child, peers);
      if (restarted) {
        caf::anon_send(child, start_atom::value, controller_handle_);
        // Readers subscribe again; sources send everything not acknowledged.
        for (const auto& other : topology_.actors)
          if ((other.role == Role::source || other.role == Role::reader) && peers.at(other.name))
            connect_to_coordinator(other, peers.at(other.name), peers);
      }
      break;
    case Role::source:
      connect_to_coordinator(spec, child, peers);
      if (restarted)
        caf::anon_send(child, start_atom::value);
      break;
    case Role::reader:
      connect_to_coordinator(spec, child, peers);
      break;
    }
  }

  /// Tells the coordinator where the stepper is: one physics actor, or every
  /// region by index.
  void connect_to_stepper(const caf::actor& coordinator, const std::map<std::string, caf::actor>& peers) {
    if (topology_.the(Role::stepper).parts > 1)
      caf::anon_send(coordinator, connect_atom::value, regions(peers));
    else
      caf::anon_send(coordinator, connect_atom::value, peers.at(topology_.the(Role::stepper).name));
  }

  /// Tells a region (an incarnation or a stable name) where every region and
  /// the coordinator are.
  void connect_region(const caf::actor& region, const std::map<std::string, caf::actor>& peers) {
    caf::anon_send(region, connect_atom::value, regions(peers), peers.at(topology_.the(Role::coordinator).name));
  }

  /// The regions' stable names, by index.
  std::vector<caf::actor> regions(const std::map<std::string, caf::actor>& peers) const {
    std::vector<caf::actor> out;
    for (const auto* region : topology_.with_role(Role::stepper))
      out.push_back(peers.at(region->name));
    return out;
  }

  /// Tells `target` (an incarnation or a stable name) where the coordinator
  /// is. A reader also learns its own stable name (it subscribes with it, so
  /// recorded frames wait there while it restarts) and the source (where its
  /// commands go).
  void connect_to_coordinator(const config::ActorSpec& spec, const caf::actor& target,
                              const std::map<std::string, caf::actor>& peers) {
    const auto& coordinator = peers.at(topology_.the(Role::coordinator).name);
    if (spec.role == Role::reader)
      caf::anon_send(target, connect_atom::value, coordinator, peers.at(spec.name),
                     peers.at(topology_.the(Role::source).name));
    else
      caf::anon_send(target, connect_atom::value, coordinator);
  }

  bool is_local(const std::string& node) const {
    return options_.only_node.empty() || options_.only_node == node;
  }

  Expected<void> start() {
    for (const auto& spec : topology_.nodes) {
      if (!is_local(spec.name))
        continue;
      auto node = std::make_unique<LocalNode>();
      node->spec = &spec;
      node->cfg = std::make_unique<node_config>(topology_, spec);
      node->system = std::make_unique<caf::actor_system>(*node->cfg);
      node->gate = std::make_shared<wire::Gate>(spec.name, wire::limits_of(topology_), key_);
      node->mm = wire::spawn_middleman(*node->system, node->gate, topology_.network.tls());
      expose(*node);
      nodes_.push_back(std::move(node));
    }
    // One supervisor per node, its children in start order (stepper,
    // coordinator, source, readers); each child is reached through its stable
    // name.
    for (auto& node : nodes_) {
      const auto& supervision = node->spec->supervision;
      SupervisorSpec spec;
      spec.name = "supervisor@" + node->spec->name;
      spec.strategy = supervision.strategy;
      spec.max_restarts = options_.max_restarts.value_or(supervision.max_restarts);
      spec.period = std::chrono::milliseconds(supervision.period_ms);
      spec.backoff_min = std::chrono::microseconds(std::llround(supervision.backoff_min_ms * 1000));
      spec.backoff_max = std::chrono::microseconds(std::llround(supervision.backoff_max_ms * 1000));
      spec.seed = sim_.seed;
      std::vector<ChildSpec> children;
      for (const auto& actor : topology_.actors) {
        if (actor.node != node->spec->name)
          continue;
        ChildSpec child;
        child.name = actor.name;
        child.restart = actor.restart;
        // The stable name bounds like the child it stands for: same capacity and
        // overflow policy, during restarts too.
        child.hold = actor.mailbox;
        child.shutdown_timeout = std::chrono::milliseconds(actor.shutdown_timeout_ms);
        const auto* spec_ptr = &actor;
        auto* node_ptr = node.get();
        child.start = [this, spec_ptr](caf::actor_system& sys, std::uint32_t n) { return spawn(sys, *spec_ptr, n); };
        child.on_started = [this, spec_ptr, node_ptr](const caf::actor& c, std::uint32_t n) {
          if (n > 0)
            wire(*node_ptr, *spec_ptr, c, true);
        };
        children.push_back(std::move(child));
      }
      if (auto err = validate(spec, children))
        return Error{errc::bad_config, *err};
      node->supervisor = spawn_supervisor(*node->system, spec, std::move(children));
      caf::scoped_actor self{*node->system};
      // A child that cannot run at all (render with no device) makes the
      // supervisor give up while we still look its children up: say why.
      self->monitor(node->supervisor);
      for (const auto& actor : topology_.actors) {
        if (actor.node != node->spec->name)
          continue;
        std::optional<Error> err;
        self->request(node->supervisor, 10s, lookup_atom::value, actor.name)
          .receive([&](caf::actor& a) { node->actors[actor.name] = a; },
                   [&](caf::error& e) { err = to_error(e, node->system->render(e)); });
        if (err) {
          self->receive(
            [&](caf::down_msg& down) {
              // The supervisor gave up (a child that cannot run at all): exit 3.
              err = Error{errc::escalated, node->system->render(down.reason)};
            },
            caf::after(std::chrono::seconds(1)) >> [] {});
          return *err;
        }
        started_.push_back({node.get(), actor.name, node->actors[actor.name]});
      }
    }
    // The controller: the coordinator's end-of-run channel, or what a served
    // node waits on for the coordinator's word.
    auto& home = *nodes_.front();
    const auto& logic = topology_.the(Role::coordinator);
    controller_ = std::make_unique<caf::scoped_actor>(coordinator_ ? *node_of(logic.node).system : *home.system);
    controller_handle_ = caf::actor{*controller_};
    for (auto& node : nodes_) {
      DirectoryState directory;
      directory.node = node->spec->name;
      directory.version = options_.announce_version;
      directory.digest = config::topology_digest(topology_);
      directory.names = node->actors;
      directory.supervisor = node->supervisor;
      directory.controller = controller_handle_;
      directory.links_report = [this, name = node->spec->name] { return links_report(name); };
      node->directory = node->system->spawn(directory_behavior, std::move(directory));
      auto port = wire::publish(*node->system, node->mm, node->directory, node->spec->port, node->spec->host);
      if (!port)
        return Error{errc::run_failed, "node " + node->spec->name + ": cannot listen on " + node->spec->host + ":" +
                                         std::to_string(node->spec->port) + ": " + node->system->render(port.error())};
      node->port = *port;
    }
    // Every node greets every other node, then resolves every actor's stable
    // name once (local, or a proxy).
    for (auto& node : nodes_) {
      // The nodes this one dials first (a refusal ends it at once), then those
      // that dial it.
      std::vector<const config::NodeSpec*> others;
      for (const bool dialing : {true, false})
        for (const auto& other : topology_.nodes)
          if (other.name != node->spec->name && dials(node->spec->name, other.name) == dialing)
            others.push_back(&other);
      for (const auto* other_ptr : others) {
        const auto& other = *other_ptr;
        auto reached = reach(*node, other, steady_now_ns() + ms_to_ns(topology_.network.connect_timeout_ms));
        if (!reached)
          return reached.error();
        node->directories[other.name] = *reached;
      }
      for (const auto& actor : topology_.actors) {
        std::string err;
        auto found = resolve(*node, actor, err);
        if (!err.empty())
          return Error{errc::unknown_peer, err};
        std::lock_guard<std::mutex> guard{node->peers_mutex};
        node->peers[actor.name] = std::move(found);
      }
    }
    if (coordinator_) {
      for (auto& node : nodes_)
        (*controller_)->monitor(node->supervisor);
    }
    for (const auto& spec : topology_.actors)
      if (is_local(spec.node)) {
        auto& node = node_of(spec.node);
        wire(node, spec, node.actors[spec.name], false);
      }
    // Regions on other nodes may hold handles of regions of an earlier
    // process of this node (it was restarted): the coordinator's node tells
    // them where every region is now.
    if (coordinator_)
      for (const auto* region : topology_.with_role(Role::stepper))
        if (region->parts > 1 && !is_local(region->node)) {
          const auto peers = node_of(topology_.the(Role::coordinator).node).peers_copy();
          connect_region(peers.at(region->name), peers);
        }
    for (auto& node : nodes_)
      if (!node->directories.empty())
        watchers_.emplace_back([this, n = node.get()] { watch_links(*n); });
    if (coordinator_) {
      auto& logic_node = node_of(logic.node);
      logic_actor_ = logic_node.actors[logic.name];
      (*controller_)->send(logic_actor_, start_atom::value, controller_handle_);
      caf::anon_send(logic_node.peers_copy().at(topology_.the(Role::source).name), start_atom::value);
    }
    return {};
  }

  bool stop_requested() const { return options_.stop_requested && options_.stop_requested->load(); }

  static std::int64_t ms_to_ns(std::uint64_t ms) { return static_cast<std::int64_t>(ms) * 1'000'000; }

  /// Of two nodes, the one listed first in the topology dials the other: one
  /// connection per pair (BASP keeps only one of two crossing connections, and
  /// what was sent on the other is lost).
  bool dials(const std::string& from, const std::string& to) const {
    for (const auto& node : topology_.nodes) {
      if (node.name == from)
        return true;
      if (node.name == to)
        return false;
    }
    return false;
  }

  /// `from`'s handle on `to`'s directory, after a greeting both sides agree
  /// on: `from` dials `to` and greets it, or waits for `to` to do so. Retries
  /// with backoff until `deadline_ns` (a peer may not be up yet, or be
  /// restarting); `lost` is a handle that no longer counts. A refused greeting
  /// ends the attempt at once.
  Expected<caf::actor> reach(LocalNode& from, const config::NodeSpec& to, std::int64_t deadline_ns) {
    const std::uint16_t port = is_local(to.name) ? node_of(to.name).port : to.port;
    const auto where = to.host + ":" + std::to_string(port);
    const bool dialing = dials(from.spec->name, to.name);
    auto backoff = 20ms;
    std::string last_error;
    for (int attempt = 1;; ++attempt) {
      if (stopping_ || stop_requested())
        return Error{errc::run_failed, "node " + from.spec->name + ": stopped while reaching node " + to.name};
      last_error.clear();
      caf::scoped_actor self{*from.system};
      if (!dialing) {
        // A greeting newer than the one taken last (none at the start).
        caf::actor found;
        std::uint64_t greeting = 0;
        self->request(from.directory, 1s, hello_atom::value, to.name)
          .receive(
            [&](caf::actor& directory, std::uint64_t number) {
              found = std::move(directory);
              greeting = number;
            },
            [&](caf::error&) { last_error = "it has not dialed this node yet"; });
        if (found && greeting > from.greeted[to.name]) {
          from.greeted[to.name] = greeting;
          return found;
        }
        if (found)
          last_error = "it has not dialed this node again yet";
      } else if (auto directory = wire::remote_actor(*from.system, from.mm, to.host, port)) {
        std::string refused;
        self->request(*directory, 5s, hello_atom::value, options_.announce_version,
                      config::topology_digest(topology_), from.spec->name, from.directory)
          .receive([](std::string&) {},
                   [&](caf::error& e) {
                     if (e.category() == caf::atom("troupe") && e.code() == static_cast<std::uint8_t>(errc::protocol_mismatch))
                       refused = from.system->render(e);
                     else
                       last_error = from.system->render(e);
                   });
        if (!refused.empty())
          return Error{errc::protocol_mismatch,
                       "node " + from.spec->name + ": refused by node " + to.name + " at " + where + ": " + refused};
        if (last_error.empty()) {
          self->send(from.directory, hello_atom::value, directory->node());
          return *directory;
        }
      } else {
        last_error = from.system->render(directory.error());
      }
      if (steady_now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(backoff).count() > deadline_ns) {
        std::string hint;
        if (topology_.network.tls())
          hint = " (with TLS, check that both nodes' certificates are signed by the CA in [network] tls_ca)";
        return Error{errc::unknown_peer, "node " + from.spec->name + ": cannot reach node " + to.name + " at " + where +
                                           " after " +
                                           std::to_string(attempt) + " attempts: " + last_error + hint};
      }
      if (attempt == 1 || attempt % 10 == 0)
        say("troupe: node " + from.spec->name + ": waiting for node " + to.name + " at " + where + " (" +
            last_error + ")");
      std::this_thread::sleep_for(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, 500ms);
    }
  }

  caf::actor resolve(LocalNode& from, const config::ActorSpec& target, std::string& err) {
    if (target.node == from.spec->name)
      return from.actors[target.name];
    caf::actor found;
    caf::scoped_actor self{*from.system};
    // A node that was dialed learns of the greeting before the dialer's own
    // directory admits it (the dialer admits it once the answer is back): a
    // refusal for want of a greeting is asked again, briefly.
    for (int attempt = 1;; ++attempt) {
      bool not_yet = false;
      err.clear();
      self->request(from.directories.at(target.node), 10s, lookup_atom::value, target.name)
        .receive([&](caf::actor& a) { found = std::move(a); },
                 [&](caf::error& e) {
                   not_yet = e.category() == caf::atom("troupe") &&
                             e.code() == static_cast<std::uint8_t>(errc::not_greeted);
                   err = "node " + from.spec->name + ": lookup of " + target.name + " on node " + target.node +
                         " failed: " + from.system->render(e);
                 });
      if (!not_yet || attempt == 50)
        return found;
      std::this_thread::sleep_for(20ms);
    }
  }

  /// Watches `node`'s links to its peers. A lost peer (its process died, or
  /// heartbeats stopped for node_timeout_ms) is reached again with backoff; when
  /// it is back, its actors are resolved anew and this node's actors are told
  /// their new handles. Meanwhile logic holds the tick: a step or a subscription
  /// that went nowhere is asked again.
  void watch_links(LocalNode& node) {
    caf::scoped_actor self{*node.system};
    std::map<caf::actor_addr, std::string> watched;
    for (auto& [name, directory] : node.directories) {
      self->monitor(directory);
      watched[directory.address()] = name;
    }
    // Over TLS the links are watched by pings (see node_config): a peer that
    // answers none for node_timeout_ms is silent; its link recovers by itself
    // when the network does (TCP retransmits), and the peer is back.
    const bool pinging = topology_.network.tls();
    const auto heartbeat_ns = ms_to_ns(topology_.network.heartbeat_ms);
    const auto timeout_ns = ms_to_ns(topology_.network.node_timeout_ms);
    std::map<std::string, std::int64_t> last_seen;
    std::map<std::string, std::int64_t> silent_since;
    std::int64_t last_ping = 0;
    for (auto& [name, directory] : node.directories)
      last_seen[name] = steady_now_ns();
    while (!stopping_) {
      std::string lost;
      caf::error reason;
      const auto now = steady_now_ns();
      if (pinging && now - last_ping >= heartbeat_ns) {
        last_ping = now;
        for (auto& [addr, name] : watched)
          self->send(directory_of(node, name), tick_atom::value);
        for (auto& [name, seen] : last_seen) {
          if (now - seen > timeout_ns && !silent_since.count(name)) {
            silent_since[name] = now;
            say("troupe: node " + node.spec->name + ": lost node " + name + " (silent for " +
                std::to_string(topology_.network.node_timeout_ms) + " ms); waiting for its link to come back");
            record_link_event(node, "lost node " + name + " (silent)");
          }
        }
      }
      self->receive([&](caf::down_msg& down) {
                      if (auto i = watched.find(down.source); i != watched.end()) {
                        lost = i->second;
                        reason = down.reason;
                        watched.erase(i);
                      }
                    },
                    [&](tick_atom, const std::string& peer) {
                      last_seen[peer] = steady_now_ns();
                      if (auto i = silent_since.find(peer); i != silent_since.end()) {
                        const auto outage_ms = static_cast<double>(last_seen[peer] - i->second + timeout_ns) / 1e6;
                        silent_since.erase(i);
                        say("troupe: node " + node.spec->name + ": node " + peer + " is back after " +
                            std::to_string(static_cast<long long>(outage_ms)) + " ms");
                        record_link_event(node, "node " + peer + " back after " +
                                                  std::to_string(static_cast<long long>(outage_ms)) + " ms",
                                          outage_ms);
                      }
                    },
                    caf::after(100ms) >> [] {});
      if (lost.empty() || stopping_)
        continue;
      const auto lost_ns = steady_now_ns();
      const auto& spec = *topology_.node(lost);
      say("troupe: node " + node.spec->name + ": lost node " + lost + " (" + node.system->render(reason) +
          "); reaching it again");
      record_link_event(node, "lost node " + lost);
      auto reached = reach(node, spec, lost_ns + ms_to_ns(topology_.network.connect_timeout_ms));
      if (stopping_)
        return;
      if (!reached) {
        say("troupe: " + reached.error().message);
        caf::anon_send(controller_handle_, done_atom::value,
                       "node " + lost + " was lost and did not come back within " +
                         std::to_string(topology_.network.connect_timeout_ms) + " ms: " + reached.error().message);
        return;
      }
      auto directory = *reached;
      {
        std::lock_guard<std::mutex> guard{node.peers_mutex};
        node.directories[lost] = directory;
      }
      self->monitor(directory);
      watched[directory.address()] = lost;
      last_seen[lost] = steady_now_ns();
      silent_since.erase(lost);
      for (const auto& actor : topology_.actors) {
        if (actor.node != lost)
          continue;
        std::string err;
        auto found = resolve(node, actor, err);
        std::lock_guard<std::mutex> guard{node.peers_mutex};
        node.peers[actor.name] = found;
      }
      rewire(node, lost);
      const auto outage_ms = static_cast<double>(steady_now_ns() - lost_ns) / 1e6;
      say("troupe: node " + node.spec->name + ": node " + lost + " is back after " +
          std::to_string(static_cast<long long>(outage_ms)) + " ms");
      record_link_event(node, "node " + lost + " back after " + std::to_string(static_cast<long long>(outage_ms)) +
                                " ms",
                        outage_ms);
    }
  }

  /// After `back` returned: this node's actors learn the new handles of the
  /// actors they talk to there, by role (their own subscriptions and sends
  /// follow).
  void rewire(LocalNode& node, const std::string& back) {
    const auto peers = node.peers_copy();
    const auto& coordinator = topology_.the(Role::coordinator);
    const auto& source = topology_.the(Role::source);
    const auto steppers = topology_.with_role(Role::stepper);
    const bool stepper_back =
      std::any_of(steppers.begin(), steppers.end(), [&](const config::ActorSpec* s) { return s->node == back; });
    for (const auto& spec : topology_.actors) {
      const bool feeds = spec.role == Role::source || spec.role == Role::reader;
      if (spec.node != node.spec->name) {
        // The coordinator's node tells the sources and readers of the node
        // that came back where it is too: that node may not have noticed a
        // loss at all (it was frozen, and its links were re-made at once), and
        // then only this side knows they must subscribe again.
        if (feeds && spec.node == back && coordinator.node == node.spec->name)
          connect_to_coordinator(spec, peers.at(spec.name), peers);
        continue;
      }
      const auto& local = node.actors.at(spec.name);
      if (spec.role == Role::coordinator && stepper_back)
        connect_to_stepper(local, peers);
      else if (spec.role == Role::stepper && spec.parts > 1 && (stepper_back || coordinator.node == back))
        connect_region(local, peers);
      else if (feeds && (coordinator.node == back || (spec.role == Role::reader && source.node == back)))
        connect_to_coordinator(spec, local, peers);
    }
  }

  caf::actor directory_of(LocalNode& node, const std::string& peer) {
    std::lock_guard<std::mutex> guard{node.peers_mutex};
    return node.directories.at(peer);
  }

  /// A node's links and its gate on the live metrics; the process's wire
  /// bytes and memory with the first node.
  void expose(LocalNode& node) {
    const live::Labels labels{{"node", node.spec->name}};
    for (const auto* name : {"troupe_link_lost_total", "troupe_link_back_total"})
      live::counter(name, "Peer nodes this node lost (or saw come back)", labels);
    const auto gate = node.gate;
    for (const auto& [reason, field] : wire::refusal_kinds)
      node.probes.push_back(live::probe(live::Type::counter, "troupe_wire_refused_total",
                                        "Connections and messages from peers the node refused",
                                        {{"node", node.spec->name}, {"reason", reason}},
                                        [gate, field = field] { return static_cast<double>(gate->refusals().*field); }));
    if (nodes_.empty()) { // called before the node joins nodes_
      node.probes.push_back(live::probe(live::Type::counter, "troupe_process_wire_sent_bytes_total",
                                        "Bytes of troupe messages (snapshots, commands, results) this process serialized for other nodes", labels,
                                        [] { return static_cast<double>(wire_bytes_sent()); }));
      node.probes.push_back(live::probe(live::Type::gauge, "troupe_process_peak_resident_bytes",
                                        "The most memory this process has held", labels,
                                        [] { return peak_rss_mb() * 1024 * 1024; }));
    }
  }

  void record_link_event(LocalNode& node, const std::string& what, double outage_ms = -1) {
    live::counter(outage_ms < 0 ? "troupe_link_lost_total" : "troupe_link_back_total",
                  "Peer nodes this node lost (or saw come back)", {{"node", node.spec->name}})
      .add();
    const auto now = steady_now_ns();
    if (outage_ms < 0)
      live::trace_instant("link lost", node.spec->name, "links", now, -1, what);
    else
      live::trace_span("link outage", node.spec->name, "links", now - static_cast<std::int64_t>(outage_ms * 1e6), now,
                       -1, what);
    std::lock_guard<std::mutex> guard{links_mutex_};
    auto& links = links_[node.spec->name];
    links.events.push_back(what);
    if (outage_ms < 0) {
      ++links.lost;
    } else {
      ++links.back;
      links.max_outage_ms = std::max(links.max_outage_ms, outage_ms);
    }
  }

  /// The coordinator: runs until logic reports the last tick, a supervisor gives
  /// up, the run stalls, or a stop is requested (then logic ends at its tick).
  void wait_for_end(RunResult& result, std::int64_t started_ns) {
    bool running = true;
    bool stop_sent = false;
    auto& self = *controller_;
    auto last_progress = steady_now_ns();
    while (running) {
      self->receive(
        [&](progress_atom, std::uint64_t tick, std::uint64_t bodies, double tick_ms, std::uint64_t hash) {
          last_progress = steady_now_ns();
          // Where the run got to: what a run that fails later still reports.
          result.ticks = tick;
          result.bodies = bodies;
          result.world_hash = hash;
          if (options_.on_progress)
            options_.on_progress(tick, sim_.ticks, bodies, tick_ms);
        },
        [&](report_atom) { // the live view asks (ask_for_report)
          auto now = report_now(result, started_ns);
          {
            std::lock_guard<std::mutex> guard{live_report_.mutex};
            live_report_.result = std::move(now);
            live_report_.answered = live_report_.asked;
          }
          live_report_.ready.notify_all();
        },
        [&](done_atom, std::uint64_t tick, std::uint64_t hash, std::uint64_t bodies) {
          result.ok = true;
          result.ticks = tick;
          result.world_hash = hash;
          result.bodies = bodies;
          running = false;
        },
        [&](done_atom, std::string& why) {
          result.error = Error{errc::run_failed, std::move(why)};
          running = false;
        },
        [&](caf::down_msg& down) {
          // A node supervisor gave up: its restart intensity was exceeded.
          result.error = Error{errc::escalated, self->system().render(down.reason)};
          running = false;
        },
        caf::after(100ms) >> [] {});
      if (!running)
        break;
      const auto now = steady_now_ns();
      if (options_.stop_requested && options_.stop_requested->load() && !stop_sent) {
        std::cerr << "troupe: stop requested: ending the run at the current tick" << std::endl;
        caf::anon_send(logic_actor_, done_atom::value);
        stop_sent = true;
        last_progress = now;
      } else if (stop_sent && now - last_progress > ms_to_ns(5000)) {
        result.error = Error{errc::run_failed, "stopped before logic could finish its tick"};
        running = false;
      } else if (now - last_progress > std::chrono::duration_cast<std::chrono::nanoseconds>(stall_timeout).count()) {
        result.error = Error{errc::run_failed, "no progress for " + std::to_string(stall_timeout.count()) +
                                                 " s: the run is stuck (see the actor reports)"};
        running = false;
      }
    }
  }

  /// A node without logic: serves its actors until the coordinator says the run
  /// is over, a stop is requested, or the coordinator is lost for good.
  void serve(RunResult& result) {
    bool running = true;
    auto& self = *controller_;
    while (running) {
      self->receive(
        [&](finish_atom) {
          result.ok = true, running = false;
          result.served_until = "the run is over";
        },
        [&](done_atom, std::string& why) { result.error = Error{errc::run_failed, std::move(why)}, running = false; },
        caf::after(100ms) >> [] {});
      if (running && options_.stop_requested && options_.stop_requested->load()) {
        result.ok = true;
        result.served_until = "stopped by a signal";
        running = false;
      }
    }
    result.served = true;
  }

  /// The live view's report, from another thread: the coordinator's thread
  /// makes it (CAF actors are made and asked from troupe's own threads only:
  /// a scoped actor made on a foreign thread kept its system from ever
  /// shutting down). An empty result (no actors) when it does not answer
  /// within 10 s.
  RunResult ask_for_report() {
    std::unique_lock<std::mutex> lock{live_report_.mutex};
    const auto ticket = ++live_report_.asked;
    caf::anon_send(controller_handle_, report_atom::value);
    if (!live_report_.ready.wait_for(lock, 10s, [&] { return live_report_.answered >= ticket; }))
      return RunResult{};
    return live_report_.result;
  }

  /// The report as it stands now, for the live view: where the run got to
  /// (`so_far`: logic's last progress) and every actor asked, none flushed, a
  /// short wait for each. On the coordinator's thread.
  RunResult report_now(const RunResult& so_far, std::int64_t started_ns) {
    RunResult result;
    result.ok = true;
    result.ticks = so_far.ticks;
    result.world_hash = so_far.world_hash;
    result.bodies = so_far.bodies;
    result.wall_seconds = static_cast<double>(steady_now_ns() - started_ns) / 1e9;
    for (auto& node : nodes_)
      result.node_ports.emplace_back(node->spec->name, node->port);
    collect_reports(result, true);
    result.command_log = command_log_;
    return result;
  }

  /// Every actor's report, its supervisors' and its links': at the end (readers
  /// flushed first), or `live` (none flushed, 2 s for each).
  void collect_reports(RunResult& result, bool live = false) {
    auto& home = node_of(topology_.the(Role::coordinator).node);
    caf::scoped_actor self{*home.system};
    const auto wait = live ? 2s : 10s;
    auto ask = [&](const caf::actor& target, const std::string& name, bool flush) {
      // A reader that failed while it flushed is flushed again: its stable
      // name hands the request to its next incarnation, which takes what the
      // last one had not (its recorded frames are sent to it again).
      for (int attempt = 1;; ++attempt) {
        auto request = flush ? self->request(target, 60s, flush_atom::value, result.ticks)
                             : self->request(target, wait, report_atom::value);
        bool failed = false, timed_out = false;
        std::move(request).receive([&](ActorReport& report) { result.actors.push_back(std::move(report)); },
                                   [&](caf::error& err) {
                                     failed = true;
                                     timed_out = err == caf::sec::request_timeout;
                                   });
        if (!failed)
          return;
        if (!flush || timed_out || attempt == 3) {
          ActorReport missing;
          missing.name = name;
          missing.counters = {{"report_failed", 1}};
          result.actors.push_back(std::move(missing));
          return;
        }
      }
    };
    if (result.error.code == errc::escalated)
      return;
    // Supervisors first (node order), local or through their node's directory.
    for (const auto& spec : topology_.nodes) {
      const auto before = result.actors.size();
      ask(is_local(spec.name) ? node_of(spec.name).supervisor : directory_of(home, spec.name),
          "supervisor@" + spec.name, false);
      if (result.actors.size() > before)
        result.actors.back().node = spec.name;
    }
    const auto peers = home.peers_copy();
    for (const auto& spec : topology_.actors) {
      // Readers first take everything through the last tick and finish (audio
      // renders and closes its file, render writes its last recorded frames).
      const bool flush = spec.role == Role::reader && result.ok && !live;
      ask(peers.at(spec.name), spec.name, flush);
    }
    // Each node's links: lost and found peers, and the bytes its process sent.
    for (const auto& spec : topology_.nodes) {
      if (is_local(spec.name)) {
        result.actors.push_back(links_report(spec.name));
        continue;
      }
      self->request(directory_of(home, spec.name), wait, report_atom::value, std::string{"links"})
        .receive([&](ActorReport& report) { result.actors.push_back(std::move(report)); }, [](caf::error&) {});
    }
  }

  /// links@NODE: what this process saw of node `name`'s links to its peers.
  ActorReport links_report(const std::string& name) {
    std::lock_guard<std::mutex> guard{links_mutex_};
    const auto& links = links_[name];
    ActorReport report;
    report.name = "links@" + name;
    report.kind = "links";
    report.role = "links";
    report.node = name;
    report.counters = {{"peers_lost", static_cast<double>(links.lost)},
                       {"peers_back", static_cast<double>(links.back)},
                       {"max_outage_ms", links.max_outage_ms},
                       // One process may run several nodes (`troupe run`): then
                       // this is all of them together.
                       {"process_wire_bytes_sent", static_cast<double>(wire_bytes_sent())},
                       // The most memory this node's process has held (its
                       // high-water mark so far, every node of it together).
                       {"process_peak_rss_mb", peak_rss_mb()}};
    for (const auto& node : nodes_) {
      if (node->spec->name != name || !node->gate)
        continue;
      const auto refused = node->gate->refusals();
      for (const auto& [kind, field] : wire::refusal_kinds)
        report.counters.emplace_back(std::string("refused_") + kind, static_cast<double>(refused.*field));
    }
    for (const auto& event : links.events)
      report.notes.emplace_back("event", event);
    return report;
  }

  /// Reverse start order; each actor gets a grace period, then is killed.
  void shutdown() {
    stopping_ = true;
    if (options_.handle)
      options_.handle->disconnect();
    for (auto& watcher : watchers_)
      watcher.join();
    watchers_.clear();
    if (nodes_.empty())
      return;
    // The coordinator tells the other nodes (other processes) the run is over.
    if (coordinator_ && !options_.only_node.empty()) {
      caf::scoped_actor self{*nodes_.front()->system}; // a directory answers greeted nodes only
      for (auto& [name, directory] : nodes_.front()->directories)
        self->send(directory, finish_atom::value);
    }
    controller_.reset();
    controller_handle_ = nullptr;
    logic_actor_ = nullptr;
    started_.clear();
    // Nodes in reverse order; each supervisor stops its children one by one in
    // reverse start order, killing any that outlives its shutdown timeout.
    for (auto i = nodes_.rbegin(); i != nodes_.rend(); ++i) {
      auto& node = **i;
      if (!node.supervisor)
        continue;
      caf::scoped_actor self{*node.system};
      self->monitor(node.supervisor);
      self->request(node.supervisor, 60s, done_atom::value).receive([](done_atom) {}, [](caf::error&) {});
      self->send_exit(node.supervisor, caf::exit_reason::user_shutdown);
      self->receive([](caf::down_msg&) {},
                    caf::after(5s) >> [&] { self->send_exit(node.supervisor, caf::exit_reason::kill); });
      node.supervisor = nullptr;
    }
    for (auto& node : nodes_) {
      node->actors.clear();
      node->peers.clear();
      node->directories.clear();
      if (node->directory) {
        wire::unpublish(*node->system, node->mm, node->directory, node->port);
        caf::anon_send_exit(node->directory, caf::exit_reason::user_shutdown);
        node->directory = nullptr;
      }
      if (node->mm) {
        caf::anon_send_exit(node->mm, caf::exit_reason::user_shutdown);
        node->mm = nullptr;
      }
    }
    // Systems die in reverse order of creation; each waits for its actors.
    while (!nodes_.empty())
      nodes_.pop_back();
  }

  LocalNode& node_of(const std::string& name) {
    for (auto& node : nodes_)
      if (node->spec->name == name)
        return *node;
    throw std::logic_error("validated topology names an unknown node: " + name);
  }

  struct Started {
    LocalNode* node;
    std::string name;
    caf::actor actor;
  };

  const config::Topology& topology_;
  const RunOptions& options_;
  config::SimulationSpec sim_;
  RunFacts facts_;
  std::optional<wire::ClusterKey> key_; ///< plain TCP: what every node proves it knows
  std::map<std::string, std::shared_ptr<void>> states_;          ///< each local actor's kind state
  std::map<std::string, std::shared_ptr<ReaderCursor>> cursors_; ///< each local reader's
  std::string command_log_;
  std::vector<std::unique_ptr<LocalNode>> nodes_;
  std::vector<Started> started_;
  std::unique_ptr<caf::scoped_actor> controller_;
  caf::actor controller_handle_;
  caf::actor logic_actor_;
  bool coordinator_ = true; ///< this process hosts logic: it runs the run
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> watchers_;
  struct LinkLog {
    std::uint64_t lost = 0, back = 0;
    double max_outage_ms = 0;
    std::vector<std::string> events;
  };
  std::mutex links_mutex_;
  struct {
    std::mutex mutex;
    std::condition_variable ready;
    std::uint64_t asked = 0, answered = 0;
    RunResult result;
  } live_report_; ///< ask_for_report's exchange with the coordinator's thread
  std::map<std::string, LinkLog> links_; ///< per local node
};

} // namespace

Expected<void> make_key_file(const std::string& path) {
  auto written = wire::write_key_file(path);
  if (!written)
    return written.error();
  return {};
}

config::SimulationSpec effective_simulation(const config::Topology& topology,
                                            const RunOptions& options) {
  auto sim = topology.simulation;
  if (options.ticks)
    sim.ticks = *options.ticks;
  if (options.threads)
    sim.threads = *options.threads;
  if (options.mode)
    sim.mode = *options.mode;
  return sim;
}


bool RunHandle::send_command(const std::string& text) const {
  std::lock_guard<std::mutex> guard{mutex_};
  if (!deliver_)
    return false;
  deliver_(text);
  return true;
}

bool RunHandle::takes_commands() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return static_cast<bool>(deliver_);
}

std::optional<RunResult> RunHandle::report() const {
  // Held while the actors are asked: the run cannot stop under it.
  std::lock_guard<std::mutex> guard{mutex_};
  if (!report_)
    return std::nullopt;
  auto result = report_();
  if (result.actors.empty())
    return std::nullopt; // it did not answer in time
  return result;
}

void RunHandle::connect(std::function<void(const std::string&)> deliver, std::function<RunResult()> report) {
  std::lock_guard<std::mutex> guard{mutex_};
  deliver_ = std::move(deliver);
  report_ = std::move(report);
}

void RunHandle::disconnect() {
  std::lock_guard<std::mutex> guard{mutex_};
  deliver_ = nullptr;
  report_ = nullptr;
}

RunResult run(const config::Topology& topology, const RunOptions& options) {
  try {
    Cluster cluster(topology, options);
    return cluster.run();
  } catch (const std::exception& e) {
    RunResult result;
    result.error = Error{errc::run_failed, e.what()};
    return result;
  }
}

} // namespace troupe
