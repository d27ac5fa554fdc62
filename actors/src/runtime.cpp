// Starting, wiring, running and stopping a topology in this process: one CAF
// actor system per node, each publishing a directory actor on its node's port.
// Peers are found by topology name through the directory of the node the
// topology puts them on, so a cross-node handle is a real middleman proxy.

#include "subsystems.hpp"

#include <troupe/actors/metrics.hpp>
#include <troupe/actors/supervisor.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <troupe/sim/scenario.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <fstream>
#include <map>
#include <sstream>

namespace troupe {
namespace {

using namespace std::chrono_literals;

/// How long a run may go without a progress message before it is declared stuck.
constexpr auto stall_timeout = 60s;

class node_config : public caf::actor_system_config {
public:
  node_config() {
    load<caf::io::middleman>();
    register_message_types(*this);
    set("logger.console", caf::atom("none"));
  }
};

/// One node of the topology, running in this process.
struct LocalNode {
  const config::NodeSpec* spec = nullptr;
  node_config cfg;
  std::unique_ptr<caf::actor_system> system;
  caf::actor supervisor;
  caf::actor directory;
  std::uint16_t port = 0;
  std::map<std::string, caf::actor> actors; // stable names of local actors
  std::map<std::string, caf::actor> peers;  // every actor's stable name, seen from here
};

caf::behavior directory_behavior(caf::event_based_actor*, std::map<std::string, caf::actor> names) {
  return {
    [names](lookup_atom, const std::string& name) -> caf::result<caf::actor> {
      auto i = names.find(name);
      if (i == names.end())
        return make_error(errc::unknown_peer, "no actor named \"" + name + "\" on this node");
      return i->second;
    },
  };
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
    if (auto err = prepare(); !err.empty()) {
      result.error = err;
      result.bad_input = bad_input_;
      return result;
    }
    if (auto err = start(); !err.empty()) {
      result.error = err;
      result.escalated = escalated_at_start_;
      shutdown();
      return result;
    }
    for (auto& node : nodes_)
      result.node_ports.emplace_back(node->spec->name, node->port);
    wait_for_end(result);
    result.wall_seconds = static_cast<double>(steady_now_ns() - started) / 1e9;
    collect_reports(result);
    result.command_log = command_log_;
    shutdown();
    return result;
  }

private:
  /// Everything that can fail because of user input, before any actor starts.
  std::string prepare() {
    std::filesystem::create_directories(options_.out_dir);
    if (!options_.resume_from.empty()) {
      Checkpoint checkpoint;
      if (auto err = load_checkpoint(options_.resume_from, checkpoint))
        return *err;
      resume_ = std::move(checkpoint);
    }
    const auto* input = topology_.actors_of_kind("input").front();
    const auto& params = std::get<config::InputParams>(input->params);
    std::string script_path = options_.replay_log;
    if (script_path.empty() && !params.timeline.empty())
      script_path = config::resolve_relative(topology_, params.timeline);
    if (!script_path.empty()) {
      auto loaded = load_script(script_path);
      if (auto* err = std::get_if<ScriptError>(&loaded))
        return err->message;
      script_ = std::move(std::get<std::vector<ScriptLine>>(loaded));
    }
    command_log_ = options_.out_dir + "/commands.log";
    if (auto err = prepare_rules(); !err.empty()) {
      bad_input_ = true;
      return err;
    }
    // Made here, read-only later: supervisors of several nodes spawn concurrently.
    for (const auto* render : topology_.actors_of_kind("render"))
      render_states_[render->name] = std::make_shared<RenderState>();
    for (const auto* audio : topology_.actors_of_kind("audio"))
      audio_states_[audio->name] = std::make_shared<AudioState>();
    return {};
  }

  /// The rules plugin the run starts with (--rules, or logic's `rules`): loaded
  /// and smoke-tested on the starting world before anything starts.
  std::string prepare_rules() {
    const auto& logic = *topology_.actors_of_kind("logic").front();
    const auto& params = std::get<config::LogicParams>(logic.params);
    rules_path_ = !options_.rules.empty() ? options_.rules
                  : params.rules.empty()  ? std::string{}
                                          : config::resolve_relative(topology_, params.rules);
    if (options_.watch && rules_path_.empty())
      return "--watch: no rules plugin to watch (give --rules PATH or set [actors.logic] rules)";
    if (rules_path_.empty())
      return {};
    const auto world =
      resume_ ? resume_->world : sim::make_scenario({sim_.scenario, sim_.bodies, sim_.seed, sim_.tick_hz});
    auto tested = load_tested_rules(rules_path_, world, params);
    if (auto* err = std::get_if<std::string>(&tested))
      return "rules: " + *err;
    std::lock_guard<std::mutex> guard{logic_state_->mutex};
    logic_state_->rules = std::get<RulesPtr>(std::move(tested));
    return {};
  }

  /// With --watch: a new build of the rules file (written in place, or moved
  /// over it) becomes a `reload PATH` command through input, like one typed live.
  void start_watching() {
    const auto path = std::filesystem::path(rules_path_);
    const auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    watch_fd_ = ::inotify_init1(IN_CLOEXEC);
    if (watch_fd_ < 0 || ::pipe(watch_stop_) != 0 ||
        ::inotify_add_watch(watch_fd_, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
      std::cerr << "troupe: --watch: cannot watch " << dir << ": " << std::strerror(errno) << "\n";
      return;
    }
    const auto& input = *topology_.actors_of_kind("input").front();
    auto target = node_of(input.node).actors[input.name];
    std::cout << "troupe: watching " << rules_path_ << " for new builds of the rules" << std::endl;
    watcher_ = std::thread([this, target, name = path.filename().string(), rules = rules_path_] {
      alignas(inotify_event) char buffer[4096];
      for (;;) {
        pollfd fds[2] = {{watch_fd_, POLLIN, 0}, {watch_stop_[0], POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0 || (fds[1].revents & POLLIN))
          return;
        const auto n = ::read(watch_fd_, buffer, sizeof buffer);
        for (ssize_t at = 0; at < n;) {
          const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
          if (event->len > 0 && name == event->name)
            caf::anon_send(target, action_atom::value, "reload " + rules);
          at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        }
      }
    });
  }

  void stop_watching() {
    if (watcher_.joinable()) {
      [[maybe_unused]] auto written = ::write(watch_stop_[1], "x", 1);
      watcher_.join();
    }
    for (int fd : {watch_fd_, watch_stop_[0], watch_stop_[1]})
      if (fd >= 0)
        ::close(fd);
    watch_fd_ = watch_stop_[0] = watch_stop_[1] = -1;
  }

  std::string log_header() const {
    std::ostringstream out;
    out << "# troupe command log 1\n";
    out << "# config: " << topology_.path << "\n";
    out << "# ticks: " << sim_.ticks << "\n";
    if (!rules_path_.empty())
      out << "# rules: " << rules_path_ << "\n";
    if (resume_)
      out << "# resumed-from-tick: " << resume_->world.tick << "\n";
    out << "# The topology this log was recorded with (troupe replay reads it):\n";
    std::istringstream config_text(options_.topology_text.empty() ? read_file(topology_.path)
                                                                  : options_.topology_text);
    for (std::string line; std::getline(config_text, line);)
      out << "#= " << line << "\n";
    out << "# TICK SOURCE SEQ ACTION\n";
    return out.str();
  }

  Identity identity(const config::ActorSpec& spec) const {
    return Identity{spec.name, spec.kind, spec.node, spec.mailbox};
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

  /// Spawns incarnation `n` of an actor. Incarnations after the first pick up
  /// what their predecessor left (logic: the last snapshot; input: its acks).
  caf::actor spawn(caf::actor_system& sys, const config::ActorSpec& spec, std::uint32_t n) {
    if (spec.kind == "physics") {
      PhysicsSetup setup{identity(spec), std::get<config::PhysicsParams>(spec.params), sim_.threads,
                         chaos_for(spec, n)};
      return spawn_physics(sys, std::move(setup));
    }
    if (spec.kind == "logic") {
      LogicSetup setup;
      setup.id = identity(spec);
      setup.simulation = sim_;
      setup.params = std::get<config::LogicParams>(spec.params);
      setup.sources = {1};
      setup.resume = resume_;
      setup.checkpoint_every = options_.checkpoint_every;
      setup.checkpoint_dir = options_.out_dir + "/checkpoints";
      setup.state = logic_state_;
      setup.chaos = chaos_for(spec, n);
      if (resume_)
        for (auto& ack : resume_->acks)
          setup.applied_before_run += ack.seq;
      for (const auto* render : topology_.actors_of_kind("render"))
        if (std::get<config::RenderParams>(render->params).frames_every > 0)
          setup.awaiting_readers.insert(render->name);
      {
        std::lock_guard<std::mutex> guard{logic_state_->mutex};
        if (n > 0 && logic_state_->world)
          setup.resume = Checkpoint{logic_state_->generation, *logic_state_->world, logic_state_->acks};
        if (n > 0)
          setup.awaiting_readers = logic_state_->awaiting;
      }
      return spawn_logic(sys, std::move(setup));
    }
    if (spec.kind == "input") {
      const auto& params = std::get<config::InputParams>(spec.params);
      InputSetup setup;
      setup.id = identity(spec);
      setup.source = 1;
      setup.script = script_;
      setup.lead_ticks = params.lead_ticks;
      setup.interactive = options_.watch || params.live;
      for (const auto* render : topology_.actors_of_kind("render"))
        setup.interactive |= options_.window || std::get<config::RenderParams>(render->params).window;
      if (setup.interactive) // a key takes effect within a few ticks
        setup.lead_ticks = std::min<std::uint32_t>(setup.lead_ticks, 6);
      setup.log_path = command_log_;
      setup.log_header = log_header();
      setup.state = input_state_;
      setup.chaos = chaos_for(spec, n);
      if (resume_) {
        setup.start_tick = resume_->world.tick;
        for (auto& ack : resume_->acks)
          if (ack.source == setup.source)
            setup.acked_seq = ack.seq;
        setup.sent_before_run = setup.acked_seq;
      }
      if (n > 0) {
        std::lock_guard<std::mutex> guard{input_state_->mutex};
        setup.start_tick = std::max(setup.start_tick, input_state_->acked_tick);
        setup.acked_seq = std::max(setup.acked_seq, input_state_->acked_seq);
        setup.events_sent = input_state_->events_sent;
        setup.append_log = true;
      }
      return spawn_input(sys, std::move(setup));
    }
    if (spec.kind == "audio") {
      const auto wav = options_.out_dir + (spec.name == "audio" ? "/audio.wav" : "/audio-" + spec.name + ".wav");
      return spawn_audio(sys, {identity(spec), std::get<config::AudioParams>(spec.params), sim_.tick_hz,
                               resume_ ? resume_->world.tick : 0, wav, audio_states_.at(spec.name),
                               chaos_for(spec, n)});
    }
    if (spec.kind == "render") {
      RenderSetup setup;
      setup.id = identity(spec);
      setup.params = std::get<config::RenderParams>(spec.params);
      if (options_.window)
        setup.params.window = true;
      setup.start_tick = resume_ ? resume_->world.tick : 0;
      const auto suffix = spec.name == "render" ? std::string{} : "-" + spec.name;
      setup.frames_dir = options_.out_dir + "/frames" + suffix;
      setup.video_path = options_.out_dir + "/run" + suffix + ".mp4";
      setup.state = render_states_.at(spec.name);
      setup.chaos = chaos_for(spec, n);
      return spawn_render(sys, std::move(setup));
    }
    return spawn_observer(sys, {identity(spec), std::get<config::ObserverParams>(spec.params), chaos_for(spec, n)});
  }

  /// Connects a (new) incarnation to its peers, using the handles its node
  /// resolved. Runs in the node's supervisor after a restart.
  void wire(const LocalNode& node, const config::ActorSpec& spec, const caf::actor& child, bool restarted) {
    const auto& peers = node.peers;
    const auto& physics = topology_.actors_of_kind("physics").front()->name;
    if (spec.kind == "logic") {
      caf::anon_send(child, connect_atom::value, std::string{"physics"}, peers.at(physics));
      if (restarted) {
        caf::anon_send(child, start_atom::value, controller_handle_);
        // Readers subscribe again; input sends everything logic has not acknowledged.
        for (const auto& other : topology_.actors)
          if (other.kind != "logic" && other.kind != "physics")
            connect_to_logic(other, peers.at(other.name), peers);
      }
    } else if (spec.kind != "physics") {
      connect_to_logic(spec, child, peers);
      if (spec.kind == "input" && restarted)
        caf::anon_send(child, start_atom::value);
    }
  }

  /// Tells `target` (an incarnation or a stable name) where logic is. A render
  /// actor also learns its own stable name: it subscribes with it, so logic's
  /// recorded frames wait there while it restarts.
  void connect_to_logic(const config::ActorSpec& spec, const caf::actor& target,
                        const std::map<std::string, caf::actor>& peers) {
    const auto& logic = peers.at(topology_.actors_of_kind("logic").front()->name);
    const auto& input = peers.at(topology_.actors_of_kind("input").front()->name);
    if (spec.kind == "render")
      caf::anon_send(target, connect_atom::value, std::string{"logic"}, logic, peers.at(spec.name), input);
    else
      caf::anon_send(target, connect_atom::value, std::string{"logic"}, logic);
  }

  std::string start() {
    for (const auto& spec : topology_.nodes) {
      auto node = std::make_unique<LocalNode>();
      node->spec = &spec;
      node->system = std::make_unique<caf::actor_system>(node->cfg);
      nodes_.push_back(std::move(node));
    }
    // One supervisor per node, its children in start order (physics, logic,
    // input, readers); each child is reached through its stable name.
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
        return *err;
      node->supervisor = spawn_supervisor(*node->system, spec, std::move(children));
      caf::scoped_actor self{*node->system};
      // A child that cannot run at all (render with no device) makes the
      // supervisor give up while we still look its children up: say why.
      self->monitor(node->supervisor);
      for (const auto& actor : topology_.actors) {
        if (actor.node != node->spec->name)
          continue;
        std::string err;
        self->request(node->supervisor, 10s, lookup_atom::value, actor.name)
          .receive([&](caf::actor& a) { node->actors[actor.name] = a; },
                   [&](caf::error& e) { err = node->system->render(e); });
        if (!err.empty()) {
          self->receive(
            [&](caf::down_msg& down) {
              err = node->system->render(down.reason);
              escalated_at_start_ = true;
            },
            caf::after(std::chrono::seconds(1)) >> [] {});
          return err;
        }
        started_.push_back({node.get(), actor.name, node->actors[actor.name]});
      }
    }
    for (auto& node : nodes_) {
      node->directory = node->system->spawn(directory_behavior, node->actors);
      auto port = node->system->middleman().publish(node->directory, node->spec->port,
                                                    node->spec->host.c_str(), true);
      if (!port)
        return "node " + node->spec->name + ": cannot listen on " + node->spec->host + ":" +
               std::to_string(node->spec->port) + ": " + node->system->render(port.error());
      node->port = *port;
    }
    // Every node resolves every actor's stable name once (local, or a proxy).
    for (auto& node : nodes_) {
      for (const auto& actor : topology_.actors) {
        std::string err;
        node->peers[actor.name] = resolve(*node, actor, err);
        if (!err.empty())
          return err;
      }
    }
    const auto& logic = *topology_.actors_of_kind("logic").front();
    auto& logic_node = node_of(logic.node);
    controller_ = std::make_unique<caf::scoped_actor>(*logic_node.system);
    controller_handle_ = caf::actor{*controller_};
    for (auto& node : nodes_)
      (*controller_)->monitor(node->supervisor);
    for (const auto& spec : topology_.actors) {
      auto& node = node_of(spec.node);
      wire(node, spec, node.actors[spec.name], false);
    }
    logic_actor_ = logic_node.actors[logic.name];
    (*controller_)->send(logic_actor_, start_atom::value, controller_handle_);
    const auto& input = *topology_.actors_of_kind("input").front();
    caf::anon_send(node_of(input.node).actors[input.name], start_atom::value);
    if (options_.watch)
      start_watching();
    return {};
  }

  caf::actor resolve(LocalNode& from, const config::ActorSpec& target, std::string& err) {
    if (target.node == from.spec->name)
      return from.actors[target.name];
    auto& to = node_of(target.node);
    auto directory = from.system->middleman().remote_actor(to.spec->host, to.port);
    if (!directory) {
      err = "node " + from.spec->name + ": cannot reach node " + to.spec->name + " at " +
            to.spec->host + ":" + std::to_string(to.port) + ": " + from.system->render(directory.error());
      return {};
    }
    caf::actor found;
    caf::scoped_actor self{*from.system};
    self->request(*directory, 10s, lookup_atom::value, target.name)
      .receive([&](caf::actor& a) { found = std::move(a); },
               [&](caf::error& e) {
                 err = "node " + from.spec->name + ": lookup of " + target.name + " on node " +
                       to.spec->name + " failed: " + from.system->render(e);
               });
    return found;
  }

  void wait_for_end(RunResult& result) {
    bool running = true;
    auto& self = *controller_;
    while (running) {
      self->receive(
        [&](progress_atom, std::uint64_t tick, std::uint64_t bodies, double tick_ms) {
          if (options_.on_progress)
            options_.on_progress(tick, sim_.ticks, bodies, tick_ms);
        },
        [&](done_atom, std::uint64_t tick, std::uint64_t hash, std::uint64_t bodies) {
          result.ok = true;
          result.ticks = tick;
          result.world_hash = hash;
          result.bodies = bodies;
          running = false;
        },
        [&](done_atom, std::string& why) {
          result.error = std::move(why);
          running = false;
        },
        [&](caf::down_msg& down) {
          // A node supervisor gave up: its restart intensity was exceeded.
          result.error = self->system().render(down.reason);
          result.escalated = true;
          running = false;
        },
        caf::after(stall_timeout) >> [&] {
          result.error = "no progress for " + std::to_string(stall_timeout.count()) +
                         " s: the run is stuck (see the actor reports)";
          running = false;
        });
    }
  }

  void collect_reports(RunResult& result) {
    for (auto& node : nodes_) {
      if (result.escalated)
        break;
      caf::scoped_actor self{*node->system};
      self->request(node->supervisor, 10s, report_atom::value)
        .receive([&](ActorReport& report) {
                   report.node = node->spec->name;
                   result.actors.push_back(std::move(report));
                 },
                 [&](caf::error&) {});
    }
    for (auto& entry : started_) {
      if (result.escalated)
        break;
      caf::scoped_actor self{*entry.node->system};
      // Audio first renders through the last tick and closes its file; render
      // writes its last recorded frames and finishes the video.
      const auto& kind = topology_.actor(entry.name)->kind;
      const bool flush = (kind == "audio" || kind == "render") && result.ok;
      auto request = flush ? self->request(entry.actor, 60s, flush_atom::value, result.ticks)
                           : self->request(entry.actor, 10s, report_atom::value);
      std::move(request)
        .receive([&](ActorReport& report) { result.actors.push_back(std::move(report)); },
                 [&](caf::error& e) {
                   ActorReport missing;
                   missing.name = entry.name;
                   missing.counters = {{"report_failed", 1}};
                   result.actors.push_back(std::move(missing));
                   (void)e;
                 });
    }
  }

  /// Reverse start order; each actor gets a grace period, then is killed.
  void shutdown() {
    stop_watching();
    if (nodes_.empty())
      return;
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
      if (node->directory) {
        node->system->middleman().unpublish(node->directory, node->port);
        caf::anon_send_exit(node->directory, caf::exit_reason::user_shutdown);
        node->directory = nullptr;
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
  std::optional<Checkpoint> resume_;
  std::vector<ScriptLine> script_;
  std::string command_log_;
  std::vector<std::unique_ptr<LocalNode>> nodes_;
  std::vector<Started> started_;
  std::unique_ptr<caf::scoped_actor> controller_;
  caf::actor controller_handle_;
  caf::actor logic_actor_;
  std::shared_ptr<LogicState> logic_state_ = std::make_shared<LogicState>();
  std::shared_ptr<InputState> input_state_ = std::make_shared<InputState>();
  std::map<std::string, std::shared_ptr<RenderState>> render_states_;
  std::map<std::string, std::shared_ptr<AudioState>> audio_states_;
  bool escalated_at_start_ = false;
  bool bad_input_ = false;
  std::string rules_path_;
  int watch_fd_ = -1;
  int watch_stop_[2] = {-1, -1};
  std::thread watcher_;
};

} // namespace

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

RunResult run(const config::Topology& topology, const RunOptions& options) {
  try {
    Cluster cluster(topology, options);
    return cluster.run();
  } catch (const std::exception& e) {
    RunResult result;
    result.error = e.what();
    return result;
  }
}

} // namespace troupe
