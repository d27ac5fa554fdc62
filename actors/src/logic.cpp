// Kind "logic", the coordinator: owns the world, runs the first half of each
// tick (sim::prepare_tick: the commands in canonical order, the rules) when
// every source has sealed it, asks the stepper for the second half, and
// publishes the result to the readers by topic.
//
// Threads: a CAF worker runs every handler; the heavy step runs on the
// stepper (its own thread), so handlers here stay short.

#include "console.hpp"
#include "publisher.hpp"
#include "subsystems.hpp"

#include <troupe/live/trace.hpp>
#include <troupe/live/world_view.hpp>

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/metrics.hpp>
#include <troupe/actors/protocols.hpp>
#include <troupe/messages/caf_types.hpp>
#include <troupe/messages/compact.hpp>
#include <troupe/plugins/rules_plugin.hpp>
#include <troupe/sim/advance.hpp>
#include <troupe/sim/scenario.hpp>

#include <caf/all.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include <sys/inotify.h>
#include <unistd.h>

namespace troupe {
namespace {

using namespace std::chrono_literals;

using RulesPtr = std::shared_ptr<const plugins::RulesPlugin>;

/// A reload logic was asked for and has not acted on yet.
struct PendingReload {
  std::string path;
  std::uint64_t asked_tick = 0;
  std::uint64_t install_tick = 0; ///< the verdict (install or reject) takes effect here
};

/// With --watch: inotify on the rules file's folder, read without blocking at
/// each tick (no thread, no handle to keep): a new build written in place or
/// moved over the file becomes a `reload PATH` command through the sources.
class RulesWatch {
public:
  RulesWatch(const std::string& path) : path_(path), name_(std::filesystem::path(path).filename().string()) {
    const auto dir = std::filesystem::path(path).parent_path();
    const auto folder = dir.empty() ? std::filesystem::path(".") : dir;
    fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd_ < 0 || ::inotify_add_watch(fd_, folder.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
      std::cerr << "troupe: --watch: cannot watch " << folder << ": " << std::strerror(errno) << std::endl;
      return;
    }
    std::cout << "troupe: watching " << path << " for new builds of the rules" << std::endl;
  }
  RulesWatch(const RulesWatch&) = delete;
  RulesWatch& operator=(const RulesWatch&) = delete;
  ~RulesWatch() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  /// Whether the file was written since the last call.
  bool changed() {
    if (fd_ < 0)
      return false;
    bool seen = false;
    alignas(inotify_event) char buffer[4096];
    for (ssize_t n; (n = ::read(fd_, buffer, sizeof buffer)) > 0;)
      for (ssize_t at = 0; at < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        seen = seen || (event->len > 0 && name_ == event->name);
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    return seen;
  }

  const std::string& path() const { return path_; }

private:
  std::string path_;
  std::string name_;
  int fd_ = -1;
};

/// A world run as regions: where logic can take every region back to. The
/// newest consistent cut (every region's piece and logic's written after the
/// same tick; at first the run's start) and the commands of every tick since,
/// so the ticks after it can be run again the same way.
struct CutLog {
  std::uint64_t tick = 0;
  std::shared_ptr<const sim::Ledger> ledger;
  std::uint64_t hash = 0;
  std::uint64_t published_events = 0; ///< contact events published through the cut
  std::map<std::uint64_t, std::vector<Command>> commands; ///< by tick, from `tick` on
  std::map<std::uint64_t, RulesPtr> rules;                ///< the body rules each tick ran, from `tick` on
  std::uint32_t epoch = 0;                                ///< RegionStep::epoch now
  bool restored = false;                                  ///< the regions were brought to the start once
};

/// What logic leaves behind for its next incarnation: the last published
/// state. Lives on logic's node, made before the run starts.
struct LogicState {
  std::string plugin_dir;   ///< the only folder plugins load from (set before the run)
  std::mutex mutex;
  RulesPtr rules;       ///< the plugin running now (null: the built-in rules only)
  RulesPtr known_good;  ///< what `rules` falls back to if it fails while running
  std::optional<PendingReload> pending_reload;
  std::vector<RulesEvent> rules_events;
  WorldPtr world;
  std::shared_ptr<const sim::Ledger> ledger;  ///< a world run as regions: all of it but the bodies
  std::uint64_t last_hash = 0;                ///< the world hash of the last published tick
  std::uint64_t published_events = 0;         ///< contact events published through it
  std::shared_ptr<CutLog> cuts = std::make_shared<CutLog>(); ///< a world run as regions
  std::uint64_t generation = 0;
  std::vector<SourceAck> acks;
  /// The readers and what they have not written: a new incarnation publishes
  /// to them at once (readers subscribe again too, to it).
  std::shared_ptr<Publisher> publisher;
  std::set<std::string> awaiting;             ///< readers not yet subscribed
  bool started = false;                       ///< an incarnation ran
  std::unique_ptr<RulesWatch> watch;          ///< --watch
};

/// What one incarnation starts from.
struct LogicSetup {
  const config::ActorSpec* spec = nullptr;
  config::SimulationSpec simulation;
  LogicParams params;
  PhysicsParams physics; ///< the stepper's: the rules smoke test, the regions' halo and layout
  std::uint32_t regions = 0;    ///< the stepper runs as this many regions (0: one physics actor)
  std::vector<std::uint32_t> sources;   ///< command sources to wait for
  std::optional<Checkpoint> resume;     ///< start from here instead of the scenario
  std::shared_ptr<const sim::Ledger> ledger; ///< a restart of a partitioned run: start from here
  std::uint64_t last_hash = 0;          ///< and the world hash there
  std::optional<Checkpoint> resumed_cut; ///< a partitioned run resumed from logic's piece of a cut
  std::uint64_t checkpoint_every = 0;
  std::string checkpoint_dir;
  std::shared_ptr<LogicState> state;     ///< written every tick
  /// Readers by name: the first tick waits until each has subscribed (or
  /// declined), so every run sees the same ticks.
  std::set<std::string> awaiting_readers;
  std::uint64_t applied_before_run = 0;  ///< commands a resumed checkpoint had applied
  Chaos chaos;
};

/// The world a run starts from (no checkpoint): the scenario, with logic's
/// fountain override.
/// Logic's fountain override of the scenario's.
void override_fountain(sim::WorldSettings& settings, const LogicParams& params) {
  if (params.fountain_every > 0) {
    settings.fountain.every_ticks = params.fountain_every;
    settings.fountain.max_bodies = params.fountain_max;
  }
}

sim::ScenarioSpec scenario_of(const config::SimulationSpec& simulation) {
  return {simulation.scenario, simulation.bodies, simulation.seed, simulation.tick_hz};
}

sim::World starting_world(const config::SimulationSpec& simulation, const LogicParams& params) {
  auto world = sim::make_scenario(scenario_of(simulation));
  override_fountain(world, params);
  return world;
}

/// The bodies a partitioned run smoke-tests rules on: the scenario's starting
/// world, up to this many (logic never holds the whole world there).
constexpr std::uint32_t partitioned_smoke_bodies = 20'000;

/// What rules are smoke-tested on in a partitioned run: its scenario's
/// starting world, with no more than partitioned_smoke_bodies.
sim::World smoke_world(config::SimulationSpec simulation, const LogicParams& params) {
  simulation.bodies = std::min(simulation.bodies, partitioned_smoke_bodies);
  return starting_world(simulation, params);
}

/// How a plan names body rules (null: none): the file by its absolute path,
/// which every region loads from its own plugin directory, and the digest.
sim::RulesRef rules_ref(const RulesPtr& rules) {
  if (!rules)
    return {};
  return {std::filesystem::absolute(rules->path()).lexically_normal().string(), rules->digest()};
}

/// Why a partitioned run takes no world rules.
constexpr const char* partitioned_rules_refusal =
  "works on the whole world (scope world), which no actor holds when physics runs as regions (regions > 1): "
  "write it as body rules (TROUPE_BODY_RULES_PLUGIN, rules_abi.hpp) or run it with regions = 1";

/// Loads the rules plugin at `path` and smoke-tests it on a copy of `world` as
/// logic's `params` say; a partitioned run takes body rules only. Blocking
/// (many ticks' work): off the tick path.
Expected<RulesPtr> load_tested_rules(const std::string& path, const std::string& plugin_dir, const sim::World& world,
                                     const LogicParams& params, const sim::PhysicsSettings& physics,
                                     bool partitioned) {
  auto loaded = plugins::RulesPlugin::load(path, plugin_dir);
  if (!loaded)
    return loaded.error();
  if (partitioned && loaded->scope() != plugins::RulesScope::body)
    return Error{errc::bad_plugin, loaded->name() + " " + loaded->version() + " " + partitioned_rules_refusal, path};
  auto plugin = std::make_shared<plugins::RulesPlugin>(std::move(*loaded));
  plugins::SmokeTest test;
  test.ticks = params.smoke_ticks;
  test.budget = std::chrono::milliseconds(params.smoke_budget_ms);
  test.physics = physics;
  if (auto tested = plugins::smoke_test(*plugin, world, test); !tested)
    return Error{errc::bad_plugin, plugin->name() + " " + plugin->version() + ": " + tested.error().message, path};
  return RulesPtr{std::move(plugin)};
}

/// A reload under test, off the tick path: the validator fills it in on its
/// own thread and then tells logic (the message orders the writes before the
/// reads).
struct ReloadJob {
  PendingReload request;
  WorldPtr world;               ///< the world the smoke test starts from (null: a sample of the scenario)
  config::SimulationSpec simulation; ///< the scenario sampled when there is no world
  LogicParams params;           ///< how to test it
  std::string plugin_dir;       ///< where it may be loaded from
  sim::PhysicsSettings physics; ///< with the topology's physics
  bool partitioned = false;     ///< physics runs as regions: body rules only
  RulesPtr plugin;              ///< loaded and passed, or null
  std::string error;            ///< why not
  std::atomic<bool> done{false};
};

/// "installed", "rejected" or "rolled back".
const char* verb(const RulesEvent& e) {
  static constexpr const char* verbs[] = {"installed", "rejected", "rolled back"};
  return verbs[e.kind];
}

/// "wind 1 (plugins/wind.so): REASON", for the log line and the report.
std::string subject(const RulesEvent& e) {
  return (e.name.empty() ? e.path : e.name + " " + e.version + " (" + e.path + ")") +
         (e.reason.empty() ? std::string{} : ": " + e.reason);
}

/// Loads and smoke-tests a plugin (detached: the test takes many ticks' time).
caf::behavior rules_validator(caf::event_based_actor* self, std::shared_ptr<ReloadJob> job, caf::actor logic) {
  // A partitioned run's logic holds no bodies: a sample of the scenario, made here (off the tick path).
  const auto world =
    job->world ? job->world : std::make_shared<const sim::World>(smoke_world(job->simulation, job->params));
  auto tested =
    load_tested_rules(job->request.path, job->plugin_dir, *world, job->params, job->physics, job->partitioned);
  if (tested)
    job->plugin = std::move(*tested);
  else
    job->error = tested.error().to_string();
  job->done = true;
  self->send(logic, rules_atom::value, job->request.install_tick);
  self->quit();
  return {};
}

class logic_actor : public bounded_actor {
public:
  logic_actor(caf::actor_config& cfg, LogicSetup setup)
    : bounded_actor(cfg, setup.spec->mailbox), setup_(std::move(setup)) {
    const auto labels = labels_of(*setup_.spec);
    tick_ms_.mirror(live::histogram("troupe_tick_seconds", "Logic's tick: commands, the step, publishing", labels),
                    1e-3);
    live_.tick = live::gauge("troupe_tick", "The last tick logic finished", labels);
    live_.generation = live::gauge("troupe_generation", "Snapshots logic published", labels);
    live_.bodies = live::gauge("troupe_bodies", "Bodies in the world", labels);
    live_.applied = live::counter("troupe_commands_applied_total", "Commands logic applied", labels);
    live_.late = live::counter("troupe_commands_late_total",
                               "Commands that arrived after their tick was sealed (applied at once)", labels);
    if (setup_.resume) {
      world_ = std::make_shared<const sim::World>(std::move(setup_.resume->world));
      generation_ = setup_.resume->generation;
      published_events_ = setup_.resume->published_events;
      for (auto& ack : setup_.resume->acks)
        applied_seq_[ack.source] = ack.seq;
      setup_.resume.reset();
    } else if (!partitioned()) {
      world_ = std::make_shared<const sim::World>(starting_world(setup_.simulation, setup_.params));
    }
    if (partitioned()) {
      // Logic keeps all of the world but the bodies; the regions hold those.
      sim::Ledger start;
      if (setup_.ledger) { // a restart of this logic
        start = *setup_.ledger;
        last_hash_ = setup_.last_hash;
      } else if (setup_.resumed_cut) { // logic's piece of a cut
        start = std::move(setup_.resumed_cut->ledger);
        last_hash_ = setup_.resumed_cut->world_hash;
      } else if (world_) { // a whole world's checkpoint
        start = sim::make_ledger(*world_, starting_layout(world_->arena, setup_.physics));
        last_hash_ = sim::world_hash(*world_);
      } else { // the scenario, never held whole
        start = sim::scenario_ledger(
          scenario_of(setup_.simulation), [&](sim::WorldSettings& s) { override_fountain(s, setup_.params); },
          [&](const sim::Arena& arena) { return starting_layout(arena, setup_.physics); }, last_hash_);
      }
      // Rebalancing by itself is the config's, whatever the ledger came from.
      start.rebalance_every = setup_.physics.rebalance == "auto" ? setup_.physics.rebalance_every : 0;
      start.rebalance_after = setup_.physics.rebalance_after;
      ledger_ = std::make_shared<const sim::Ledger>(std::move(start));
      world_ = std::make_shared<const sim::World>(sim::header_world(*ledger_));
      if (!cuts_.restored) {
        cuts_.tick = ledger_->tick;
        cuts_.ledger = ledger_;
        cuts_.hash = last_hash_;
        cuts_.published_events = published_events_;
      }
    }
    for (auto source : setup_.sources)
      sealed_[source] = 0, applied_seq_.try_emplace(source, 0);
    {
      // Recorded frames a reader has not written yet survive a logic restart,
      // and so do the rules and a reload under way.
      std::lock_guard<std::mutex> guard{setup_.state->mutex};
      rules_ = setup_.state->rules;
      known_good_ = setup_.state->known_good;
      pending_reload_ = setup_.state->pending_reload;
      rules_events_ = setup_.state->rules_events;
    }
    awaiting_ = setup_.awaiting_readers;
    was_paused_ = world_ && world_->paused;
  }

  caf::behavior make_behavior() override {
    // The readers the last incarnation published to are this one's too.
    for (const auto& s : publisher_.subscriptions())
      monitor(s.reader);
    set_down_handler([this](caf::down_msg& msg) {
      // A reader removed for good: stop holding ticks for it.
      if (publisher_.down(msg.source, msg.reason == caf::exit_reason::remote_link_unreachable))
        try_tick();
    });
    return coordinator_actor::behavior_type{
      [this](connect_atom, const caf::actor& stepper) {
        physics_ = caf::actor_cast<stepper_actor>(stepper);
        // A new physics (its node came back): the step in flight went nowhere.
        if (stepping_)
          request_step();
        else
          try_tick();
      },
      [this](connect_atom, const std::vector<caf::actor>& regions) {
        regions_.clear();
        for (const auto& r : regions)
          regions_.push_back(caf::actor_cast<region_actor>(r));
        // Regions publish to the readers too: they take the subscriptions as
        // logic took them (again, when a node of theirs came back).
        for (const auto& s : publisher_.subscriptions())
          for (const auto& region : regions_)
            send(region, subscribe_atom::value, s.reader, s.name, s.topics, s.every, s.window);
        if (restoring_)
          ask_restore(); // the regions restored so far may be gone: again, to all
        else if (stepping_)
          request_step();
        else
          try_tick();
      },
      [this](subscribe_atom, const caf::actor& reader, const std::string& name, std::uint8_t topics,
             std::uint64_t every, std::uint32_t window) {
        if (publisher_.subscribe(this, reader, name, topics, every, window))
          monitor(reader);
        for (const auto& region : regions_)
          send(region, subscribe_atom::value, reader, name, topics, every, window);
        awaiting_.erase(name);
        save_awaiting();
        try_tick();
      },
      [this](capture_atom, const std::string& name, std::uint64_t tick) {
        publisher_.captured(name, tick);
        save_checkpoint_when_recorded();
        for (const auto& region : regions_)
          send(region, capture_atom::value, name, tick);
        try_tick();
      },
      [this](rejected_atom, capture_atom, Snapshot& snapshot) {
        // The reader's mailbox was full: try again shortly (it stays unacked).
        ++capture_retries_;
        delayed_send(caf::actor_cast<caf::actor>(current_sender()), 1ms, capture_atom::value,
                     std::move(snapshot));
      },
      [this](ack_atom, const std::string& name, std::uint64_t published_events) {
        publisher_.contacts_taken(name, published_events);
        save_checkpoint_when_recorded();
        try_tick();
      },
      [this](rejected_atom, capture_atom, ContactBatch& batch) {
        ++capture_retries_; // as a recorded snapshot: again shortly, still kept
        delayed_send(caf::actor_cast<caf::actor>(current_sender()), 1ms, capture_atom::value, std::move(batch));
      },
      [this](start_atom, const caf::actor& controller) {
        if (controller_)
          return; // already running (a repeated start after a restart of someone else)
        controller_ = controller;
        start_tick_ = world_->tick;
        if (pending_reload_)
          launch_reload(); // the last incarnation's test died with it
        // Logic's first incarnation (or its node's, resuming a cut) brings
        // every region to where it starts: regions of a node that outlived
        // logic's are ahead of it.
        if (partitioned() && !cuts_.restored)
          restore_regions();
        try_tick();
      },
      [this](CommandBatch& batch) {
        receive(batch);
        try_tick();
      },
      [this](InputEvent& event) {
        ++events_;
        pointer_ = event.pointer;
      },
      [this](tick_atom) {
        timer_pending_ = false;
        try_tick();
      },
      [this](rules_atom, std::uint64_t) { try_tick(); }, // a verdict is in
      [this](done_atom) {
        // Someone ended the run early (the window was closed): the current
        // tick is the last; the run finishes as if it were the configured one.
        stop_requested_ = true;
        try_tick();
      },
      [this](step_atom) {
        if (stepping_)
          request_step();
      },
      [this](restore_atom, std::uint32_t region) {
        if (restoring_ && region < regions_.size())
          ask_restore(region);
      },
      [this](ack_atom, const caf::actor& reader, std::uint64_t generation) {
        // A remote reader decoded this generation (0: it holds none).
        publisher_.acked(reader.address(), generation);
      },
      [this](report_atom) { return report(); },
    }
      .unbox();
  }

  // Handles to peers form cycles (input <-> logic): drop them on exit so every
  // actor object is destroyed and detached threads can end.
  void on_exit() override {
    physics_ = nullptr;
    regions_.clear();
    controller_ = nullptr;
    source_actors_.clear();
  }

private:
  void receive(CommandBatch& batch) {
    auto sealed = sealed_.find(batch.source);
    if (sealed == sealed_.end()) {
      console() << "logic: refused commands of unknown source " << batch.source << "\n";
      ++refused_;
      return;
    }
    source_actors_[batch.source] = caf::actor_cast<source_actor>(current_sender());
    const auto applied = applied_seq_[batch.source];
    for (auto& command : batch.commands) {
      // Batches repeat every unacknowledged command: keep each seq once.
      if (command.seq <= applied || !queued_seqs_.insert({command.source, command.seq}).second)
        continue;
      pending_[command.tick].push_back(std::move(command));
    }
    sealed->second = std::max(sealed->second, batch.sealed_through);
  }

  bool all_sealed(std::uint64_t tick) const {
    return std::all_of(sealed_.begin(), sealed_.end(),
                       [&](const auto& kv) { return kv.second >= tick; });
  }

  bool partitioned() const { return setup_.regions > 0; }

  /// Bodies in the world now (logic holds them only when not partitioned).
  std::uint64_t bodies() const { return partitioned() ? ledger_->alive : world_->size(); }

  void try_tick() {
    if (!controller_ || stepping_ || finished_ || restoring_ ||
        (partitioned() ? regions_.size() != setup_.regions : !physics_))
      return;
    const auto tick = world_->tick;
    if (tick >= setup_.simulation.ticks || stop_requested_) {
      finish();
      return;
    }
    if (!all_sealed(tick))
      return; // a CommandBatch will call again
    if (!awaiting_.empty())
      return; // a recording reader has yet to subscribe: its subscription calls again
    if (pending_reload_ && pending_reload_->install_tick <= tick && !(reload_job_ && reload_job_->done))
      return; // the verdict on a reload is due now: its message calls again
    if (publisher_.holding()) {
      ++capture_holds_;
      return; // a recording reader is behind: its acknowledgement calls again
    }
    if (setup_.simulation.mode == config::Mode::realtime) {
      const auto now = steady_now_ns();
      // The schedule starts with the first tick that can run: waiting for the
      // readers to subscribe (render opening its device) or for the first
      // commands is not lateness to make up with ticks back to back.
      if (started_ns_ == 0)
        started_ns_ = now;
      const auto due = due_ns(tick);
      if (now < due) {
        if (!timer_pending_) {
          timer_pending_ = true;
          delayed_send(this, std::chrono::nanoseconds(due - now), tick_atom::value);
        }
        return;
      }
      if (now - due > period_ns())
        ++ticks_behind_;
    }
    begin_tick(tick);
  }

  /// When a paced (realtime) tick is due to start; 0 in batch mode.
  std::int64_t due_ns(std::uint64_t tick) const {
    if (setup_.simulation.mode != config::Mode::realtime)
      return 0;
    return started_ns_ + static_cast<std::int64_t>(tick - start_tick_) * period_ns();
  }

  std::int64_t period_ns() const { return static_cast<std::int64_t>(1e9 / setup_.simulation.tick_hz); }

  void begin_tick(std::uint64_t tick) {
    tick_started_ns_ = steady_now_ns();
    // --watch: a new build of the rules becomes a command, sequenced by the
    // sources like one typed live (and logged, so a replay reloads it too).
    if (setup_.state->watch && setup_.state->watch->changed())
      for (auto& [source, actor] : source_actors_)
        send(actor, action_atom::value, "reload " + setup_.state->watch->path());
    const bool installing = pending_reload_ && pending_reload_->install_tick <= tick;
    if (installing) {
      // The pause an install causes counts from when this tick could have
      // started: the end of the last one, or its due time when paced.
      install_from_ns_ = std::max(last_tick_end_ns_, due_ns(tick));
      finish_reload(tick);
    }
    // This tick's commands, in canonical order; a reload is logic's own
    // business (the world is untouched by it). A tick run again after the
    // regions were rolled back takes the commands it took the first time.
    tick_commands_.clear();
    const auto again = partitioned() ? cuts_.commands.find(tick) : cuts_.commands.end();
    if (again != cuts_.commands.end())
      tick_commands_ = again->second;
    for (auto it = pending_.begin(); it != pending_.end() && it->first <= tick && again == cuts_.commands.end();) {
      if (it->first < tick)
        late_ += it->second.size(); // a source broke its seal: apply now, but count it
      for (auto& command : it->second) {
        queued_seqs_.erase({command.source, command.seq});
        tick_commands_.push_back(std::move(command));
      }
      it = pending_.erase(it);
    }
    sim::sort_canonical(tick_commands_);
    if (partitioned())
      cuts_.commands[tick] = tick_commands_;
    for (const auto& command : tick_commands_) {
      if (const auto* load = std::get_if<sim::LoadRules>(&command.action); load && again == cuts_.commands.end())
        ask_reload(load->path, tick);
      auto& applied = applied_seq_[command.source];
      applied = std::max(applied, command.seq);
    }
    install_pause_pending_ = installing;
    stepping_ = true;
    step_tick_ = tick;
    request_step();
  }

  /// Builds the world physics steps (sim::prepare_tick on a copy of the last
  /// snapshot's) and hands it over. A physics incarnation that dies with the
  /// request answers with an error: ask again (the stable name holds it until
  /// the next incarnation), so physics re-runs the pending tick from a world
  /// built anew. That is the only second copy of a tick's world.
  void request_step() {
    if (partitioned()) {
      request_regions();
      return;
    }
    auto next = std::make_shared<sim::World>(*world_);
    const sim::RulesStep rules = rules_ ? sim::RulesStep{[this](sim::World& w) { return rules_->step(w); }}
                                        : sim::RulesStep{};
    if (auto prepared = sim::prepare_tick(*next, tick_commands_, &rules); !prepared)
      roll_back(step_tick_, prepared.error().message);
    // Chaos strikes mid-tick, after the commands were applied: the next
    // incarnation must rebuild this tick from the last snapshot and input's resend.
    setup_.chaos.strike(step_tick_);
    request(physics_, caf::infinite, step_atom::value, StepRequest{step_tick_, std::move(next)})
      .then([this](StepResult& result) {
              // A step asked twice (physics came back) may be answered twice.
              if (stepping_ && result.tick == step_tick_) {
                world_ = std::move(result.world);
                const auto hash = sim::world_hash(*world_);
                step_ms_.add(result.step_ms);
                end_tick(std::move(result.contacts), hash);
              }
            },
            [this](caf::error&) {
              // Ask again a moment later (a flood would only fill the stable
              // name's hold); the supervisor decides when physics is beyond help.
              ++step_retries_total_;
              delayed_send(this, std::chrono::milliseconds(1), step_atom::value);
            });
  }

  /// A world run as regions: every region is asked for the tick's plan (the
  /// same for all); the tick ends when each has answered. A region that died
  /// with the request is asked again (its next incarnation re-runs the tick
  /// from what it held); one that answered is not.
  void request_regions() {
    if (!plan_) {
      next_ledger_ = *ledger_; // the tick's working copy: ledger_ stays the last tick's (shared with the kind state)
      // The body rules this tick ran the first time, when it runs again.
      const auto& rules = cuts_.rules.try_emplace(step_tick_, rules_).first->second;
      plan_ = std::make_shared<const sim::TickPlan>(next_ledger_->plan(
        tick_commands_, setup_.physics, rules_ref(rules), rules ? rules->max_speedup() : 0.f));
      stepped_.assign(regions_.size(), std::nullopt);
      if (!(plan_->layout == ledger_->layout))
        note_rebalance(plan_->layout);
    }
    setup_.chaos.strike(step_tick_);
    const bool checkpoint = setup_.checkpoint_every > 0 && (step_tick_ + 1) % setup_.checkpoint_every == 0;
    for (std::uint32_t i = 0; i < regions_.size(); ++i) {
      if (stepped_[i])
        continue;
      request(regions_[i], caf::infinite, step_atom::value,
              RegionStep{plan_, generation_ + 1, checkpoint, cuts_.epoch})
        .then(
          [this, i, checkpoint, epoch = cuts_.epoch](RegionStepped& answer) {
            if (epoch != cuts_.epoch || !stepping_ || !plan_ || answer.report.tick != step_tick_ + 1 || stepped_[i])
              return; // an answer to a step asked twice, or from before a rollback
            stepped_[i] = std::move(answer);
            if (std::all_of(stepped_.begin(), stepped_.end(), [](const auto& s) { return s.has_value(); }))
              end_regions_tick(checkpoint);
          },
          [this, epoch = cuts_.epoch](caf::error& err) {
            if (epoch != cuts_.epoch || !stepping_)
              return;
            if (err.category() == caf::atom("troupe") && err.code() == static_cast<std::uint8_t>(errc::out_of_step)) {
              roll_back_regions("a region lost its state"); // its node was restarted
              return;
            }
            if (err.category() == caf::atom("troupe") && err.code() == static_cast<std::uint8_t>(errc::bad_plugin) &&
                plan_ && !plan_->rules.path.empty()) {
              roll_back_region_rules(error_words(err));
              return;
            }
            ++step_retries_total_;
            delayed_send(this, std::chrono::milliseconds(1), step_atom::value);
          });
    }
  }

  /// The cuts moved (a `rebalance` command, or by itself): say where to.
  void note_rebalance(const sim::Layout& layout) {
    std::string cuts;
    for (int a = 0; a < 3; ++a) {
      if (layout.cuts[a].empty())
        continue;
      cuts += std::string(cuts.empty() ? "" : "; ") + "xyz"[a] + " at";
      for (const float c : layout.cuts[a])
        cuts += " " + config::format_number(c);
    }
    const auto line = "tick " + std::to_string(step_tick_) + ": " + cuts;
    if (rebalances_.empty() || rebalances_.back() != line) { // a tick run again moves them again
      console() << "logic: regions rebalanced at " << line << "\n";
      rebalances_.push_back(line);
    }
  }

  /// Brings every region back to the newest consistent cut and runs the
  /// ticks since again, with the commands they took: a region lost what it
  /// held (its node was restarted), and the world must come out the same.
  void roll_back_regions(const std::string& why) {
    if (restoring_)
      return;
    ++rollbacks_;
    console() << "logic: " << why << " at tick " << step_tick_ << ": every region goes back to tick "
               << cuts_.tick << " and the ticks since run again\n";
    stepping_ = false;
    plan_.reset();
    next_ledger_.reset();
    stepped_.clear();
    tick_commands_.clear();
    ledger_ = cuts_.ledger;
    last_hash_ = cuts_.hash;
    published_events_ = cuts_.published_events;
    world_ = std::make_shared<const sim::World>(sim::header_world(*ledger_));
    restore_regions();
  }

  /// Asks every region to be at world_->tick in a new epoch; ticks wait until
  /// each has answered.
  void restore_regions() {
    restoring_ = true;
    ++cuts_.epoch;
    ask_restore();
  }

  void ask_restore() {
    restored_.assign(regions_.size(), false);
    for (std::uint32_t i = 0; i < regions_.size(); ++i)
      ask_restore(i);
  }

  void ask_restore(std::uint32_t i) {
    const auto tick = world_->tick;
    request(regions_[i], caf::infinite, restore_atom::value, tick, cuts_.epoch)
      .then(
        [this, i, epoch = cuts_.epoch](std::uint64_t) {
          if (!restoring_ || epoch != cuts_.epoch || i >= restored_.size())
            return;
          restored_[i] = true;
          if (std::all_of(restored_.begin(), restored_.end(), [](bool b) { return b; })) {
            restoring_ = false;
            cuts_.restored = true;
            try_tick();
          }
        },
        [this, i, epoch = cuts_.epoch](caf::error& err) {
          if (!restoring_ || epoch != cuts_.epoch)
            return;
          // A region not there yet (its node is coming back), or one that
          // cannot find its piece of the cut: say so, and ask again.
          if (restore_failures_++ % 50 == 0)
            console() << "logic: restoring region " << i << ": " << system().render(err) << "\n";
          delayed_send(this, std::chrono::milliseconds(100), restore_atom::value, i);
        });
  }

  void end_regions_tick(bool checkpoint) {
    std::vector<sim::RegionReport> reports;
    double slowest = 0, sum = 0;
    std::uint64_t exchanged = 0;
    bool pieces_written = true;
    for (auto& answer : stepped_) {
      pieces_written = pieces_written && answer->checkpointed;
      slowest = std::max(slowest, answer->step_ms);
      sum += answer->step_ms;
      exchanged += answer->exchange_bytes;
      reports.push_back(std::move(answer->report));
    }
    std::vector<sim::ContactEvent> contacts;
    const auto hash = next_ledger_->finish(reports, contacts);
    ledger_ = std::make_shared<const sim::Ledger>(std::move(*next_ledger_));
    next_ledger_.reset();
    plan_.reset();
    stepped_.clear();
    world_ = std::make_shared<const sim::World>(sim::header_world(*ledger_));
    if (checkpoint)
      write_cut(hash, published_events_ + contacts.size(), pieces_written);
    step_ms_.add(slowest);
    const double mean = sum / static_cast<double>(reports.size());
    imbalance_.add(mean > 0 ? slowest / mean : 1.0);
    exchange_bytes_.add(static_cast<double>(exchanged));
    end_tick(std::move(contacts), hash);
  }

  /// Logic's piece of the cut after the tick that just ended, saved last
  /// (when the recorded frames through it are written): with it on disk the
  /// cut is whole (every region wrote its piece first). It is where a
  /// rollback goes from now on.
  void write_cut(std::uint64_t hash, std::uint64_t published_events, bool pieces_written) {
    const auto tick = ledger_->tick;
    if (!pieces_written) {
      console() << "logic: a region could not write its piece of the cut after tick " << tick
                 << ": the cut is not kept\n";
      return;
    }
    Checkpoint cut;
    cut.generation = generation_ + 1;
    cut.parts = cut.part = setup_.regions;
    cut.ledger = *ledger_;
    cut.world_hash = hash;
    cut.published_events = published_events;
    for (auto& [source, seq] : applied_seq_)
      cut.acks.push_back({source, seq});
    unsaved_checkpoint_ = std::move(cut);
    cuts_.tick = tick;
    cuts_.ledger = ledger_;
    cuts_.hash = hash;
    cuts_.published_events = published_events;
    cuts_.commands.erase(cuts_.commands.begin(), cuts_.commands.lower_bound(tick));
    cuts_.rules.erase(cuts_.rules.begin(), cuts_.rules.lower_bound(tick));
  }

  /// Publishes the tick that just ended (world_ holds it, or its header when
  /// partitioned) and acknowledges the sources.
  void end_tick(std::vector<sim::ContactEvent> contacts, std::uint64_t hash) {
    stepping_ = false;
    tick_commands_.clear();
    ++generation_;
    Snapshot snapshot;
    snapshot.generation = generation_;
    snapshot.tick = world_->tick;
    snapshot.world = world_;
    for (auto& [source, seq] : applied_seq_)
      snapshot.acks.push_back({source, seq});
    snapshot.world_hash = hash;
    last_hash_ = snapshot.world_hash;
    snapshot.published_ns = steady_now_ns();
    if (partitioned())
      snapshot.parts = snapshot.part = setup_.regions; // the regions publish the bodies
    // Contacts first: a reader has every impact of a tick before the snapshot
    // that says the tick is over (audio renders up to the snapshot's tick).
    if (!contacts.empty()) {
      ContactBatch batch{world_->tick - 1, std::move(contacts), 0};
      published_events_ += batch.events.size();
      batch.published_events = published_events_;
      publisher_.publish_contacts(this, std::move(batch));
    }
    const auto publish_ns = steady_now_ns();
    publisher_.publish(this, snapshot);
    // Spans name the tick stepped (world.tick before the step), as StepRequest does.
    live::trace_span("publish", setup_.spec->node, setup_.spec->name, publish_ns, steady_now_ns(),
                     static_cast<std::int64_t>(snapshot.tick) - 1);
    if (!partitioned() && live::world_view_wanted()) // a dashboard is watching (regions: the readers show it)
      live::offer_world_view(*world_, generation_);
    if (world_->paused != was_paused_) { // a pause or resume command took effect in this tick
      was_paused_ = world_->paused;
      pause_events_.push_back("tick " + std::to_string(snapshot.tick - 1) + ": " +
                              (was_paused_ ? "paused" : "resumed"));
    }
    {
      std::lock_guard<std::mutex> guard{setup_.state->mutex};
      setup_.state->world = world_;
      if (partitioned())
        setup_.state->ledger = ledger_;
      setup_.state->last_hash = last_hash_;
      setup_.state->published_events = published_events_;
      setup_.state->generation = generation_;
      setup_.state->acks.clear();
      for (auto& [source, seq] : applied_seq_)
        setup_.state->acks.push_back({source, seq});
    }
    for (auto& [source, actor] : source_actors_)
      send(actor, ack_atom::value, world_->tick, applied_seq_[source]);
    const auto tick_end_ns = steady_now_ns();
    const double tick_ms = static_cast<double>(tick_end_ns - tick_started_ns_) / 1e6;
    tick_ms_.add(tick_ms);
    live::trace_span("tick", setup_.spec->node, setup_.spec->name, tick_started_ns_, tick_end_ns,
                     static_cast<std::int64_t>(world_->tick) - 1);
    if (install_pause_pending_ && install_from_ns_ != 0)
      install_pause_ms_.add(static_cast<double>(tick_end_ns - install_from_ns_) / 1e6);
    install_pause_pending_ = false;
    last_tick_end_ns_ = tick_end_ns;
    bodies_.add(static_cast<double>(bodies()));
    live_.tick.set(static_cast<double>(world_->tick));
    live_.generation.set(static_cast<double>(generation_));
    live_.bodies.set(static_cast<double>(bodies()));
    live_.applied.raise_to(static_cast<double>(applied_total()));
    live_.late.raise_to(static_cast<double>(late_));
    maybe_checkpoint();
    const auto now = steady_now_ns();
    if (now - last_progress_ns_ > 100'000'000 || world_->tick == setup_.simulation.ticks) {
      last_progress_ns_ = now;
      send(controller_, progress_atom::value, world_->tick, bodies(), tick_ms, last_hash_);
    }
    try_tick();
  }

  /// A `reload PATH` command applied at `tick`: test the plugin off the tick
  /// path, decide at tick + install_after_ticks (a fixed tick, so replays and
  /// restarts decide at the same place).
  void ask_reload(const std::string& path, std::uint64_t tick) {
    if (pending_reload_)
      publish_rules_event({RulesEvent::rejected, tick, pending_reload_->path, "", "",
                           "superseded by a reload of " + path + " before it was installed"});
    pending_reload_ = PendingReload{path, tick, tick + setup_.params.install_after_ticks};
    save_rules();
    launch_reload();
  }

  void launch_reload() {
    reload_job_ = std::make_shared<ReloadJob>();
    reload_job_->request = *pending_reload_;
    // A partitioned run's world_ is a header: the validator samples the scenario.
    reload_job_->world = partitioned() ? nullptr : world_;
    reload_job_->simulation = setup_.simulation;
    reload_job_->partitioned = partitioned();
    reload_job_->params = setup_.params;
    reload_job_->physics = setup_.physics;
    reload_job_->plugin_dir = setup_.state->plugin_dir;
    spawn<caf::detached>(rules_validator, reload_job_, caf::actor_cast<caf::actor>(this));
  }

  /// Installs the tested plugin, or keeps the rules and says why not.
  void finish_reload(std::uint64_t tick) {
    const auto& job = *reload_job_;
    if (job.plugin) {
      known_good_ = rules_;
      rules_ = job.plugin;
      publish_rules_event({RulesEvent::installed, tick, job.request.path, rules_->name(), rules_->version(), ""});
    } else {
      publish_rules_event({RulesEvent::rejected, tick, job.request.path, "", "", job.error});
    }
    pending_reload_.reset();
    reload_job_.reset();
    save_rules();
  }

  /// Installed rules failed while running: the next incarnation runs the rules
  /// from before them, from the snapshot before this tick.
  [[noreturn]] void roll_back(std::uint64_t tick, const std::string& why) {
    const auto back_to = known_good_ ? known_good_->name() + " " + known_good_->version() : "the built-in rules";
    publish_rules_event({RulesEvent::rolled_back, tick, rules_->path(), rules_->name(), rules_->version(),
                         why + "; back to " + back_to});
    rules_ = known_good_;
    known_good_ = nullptr;
    save_rules();
    throw std::runtime_error("rules failed: " + why);
  }

  /// Body rules failed in a region at this tick (or a region could not load
  /// them): the rules from before them run this tick in every region, from
  /// the newest cut (the ticks since run again as they ran), as one physics
  /// actor would run it again from the world before it.
  void roll_back_region_rules(const std::string& why) {
    const auto tick = step_tick_;
    const auto failed = cuts_.rules[tick];
    const auto back_to = known_good_ ? known_good_->name() + " " + known_good_->version() : "the built-in rules";
    if (failed && failed == rules_) {
      publish_rules_event({RulesEvent::rolled_back, tick, failed->path(), failed->name(), failed->version(),
                           why + "; back to " + back_to});
      rules_ = known_good_;
      known_good_ = nullptr;
      save_rules();
    } else if (failed) {
      // Rules of a tick run again that a region no longer has (its file was
      // rebuilt in place, and the region lost the build it had loaded).
      console() << "logic: tick " << tick << " ran " << failed->name() << " " << failed->version()
                << ", which cannot run again (" << why << "): it runs again with the rules in force now, "
                << "and the world departs from the first run\n";
    }
    cuts_.rules.erase(cuts_.rules.lower_bound(tick), cuts_.rules.end());
    cuts_.rules[tick] = rules_;
    roll_back_regions("the body rules failed");
  }

  void publish_rules_event(RulesEvent event) {
    console() << "logic: rules " << verb(event) << " at tick " << event.tick << ": " << subject(event) << "\n";
    publisher_.broadcast(this, topic_rules_events, caf::make_message(event));
    rules_events_.push_back(std::move(event));
  }

  void save_rules() {
    std::lock_guard<std::mutex> guard{setup_.state->mutex};
    setup_.state->rules = rules_;
    setup_.state->known_good = known_good_;
    setup_.state->pending_reload = pending_reload_;
    setup_.state->rules_events = rules_events_;
  }

  void save_awaiting() {
    std::lock_guard<std::mutex> guard{setup_.state->mutex};
    setup_.state->awaiting = awaiting_;
  }

  double rules_count(std::uint8_t kind) const {
    return static_cast<double>(
      std::count_if(rules_events_.begin(), rules_events_.end(), [&](const RulesEvent& e) { return e.kind == kind; }));
  }

  std::uint64_t applied_total() const {
    std::uint64_t total = 0;
    for (auto& [source, seq] : applied_seq_)
      total += seq;
    return total;
  }

  void maybe_checkpoint() {
    // A world run as regions: the cut was made when the regions answered (write_cut).
    if (setup_.checkpoint_every > 0 && world_->tick % setup_.checkpoint_every == 0 && !partitioned()) {
      Checkpoint checkpoint;
      checkpoint.generation = generation_;
      checkpoint.world = *world_;
      checkpoint.world_hash = last_hash_;
      checkpoint.published_events = published_events_;
      for (auto& [source, seq] : applied_seq_)
        checkpoint.acks.push_back({source, seq});
      unsaved_checkpoint_ = std::move(checkpoint);
    }
    save_checkpoint_when_recorded();
  }

  /// Saves the checkpoint made last once every recorded snapshot through its
  /// tick was written: a run resumed from it then loses no frame (it starts
  /// after that tick). A newer checkpoint replaces one still waiting.
  void save_checkpoint_when_recorded() {
    if (!unsaved_checkpoint_ || !publisher_.recorded_through(unsaved_checkpoint_->tick()))
      return;
    std::filesystem::create_directories(setup_.checkpoint_dir);
    auto path = setup_.checkpoint_dir + "/tick-" + std::to_string(unsaved_checkpoint_->tick()) + ".ckpt";
    if (auto saved = save_checkpoint(path, *unsaved_checkpoint_); !saved)
      console() << "logic: " << saved.error().to_string() << "\n";
    else
      ++checkpoints_;
    unsaved_checkpoint_.reset();
  }

  void finish() {
    finished_ = true;
    // A run that ran no tick has hashed nothing yet (a partitioned one always has: its start).
    send(controller_, done_atom::value, world_->tick, last_hash_ ? last_hash_ : sim::world_hash(*world_), bodies());
  }

  void fail(std::string why) {
    finished_ = true;
    console() << "logic: " << why << "\n";
    send(controller_, done_atom::value, std::move(why));
  }

  ActorReport report() {
    auto out = make_report(*setup_.spec, mailbox_stats());
    const auto& c = publisher_.counters();
    out.counters = {{"ticks", static_cast<double>(tick_ms_.size())},
                    {"generation", static_cast<double>(generation_)},
                    // From the acks, so that it counts across incarnations.
                    {"commands_applied", static_cast<double>(applied_total() - setup_.applied_before_run)},
                    {"commands_late", static_cast<double>(late_)},
                    {"commands_after_end", static_cast<double>(queued_seqs_.size())},
                    {"batches_refused", static_cast<double>(refused_)},
                    {"input_events", static_cast<double>(events_)},
                    {"checkpoints", static_cast<double>(checkpoints_)},
                    {"subscribers", static_cast<double>(publisher_.subscriptions().size())},
                    {"compact_snapshots_sent", static_cast<double>(c.compact_sent)},
                    {"compact_keyframes_sent", static_cast<double>(c.keyframes_sent)},
                    {"compact_bytes_sent", static_cast<double>(c.compact_bytes)},
                    {"bytes_per_moving_body",
                     c.compact_moving == 0 ? 0.0
                                           : static_cast<double>(c.compact_bytes) / static_cast<double>(c.compact_moving)},
                    {"regions", static_cast<double>(setup_.regions)},
                    {"region_rollbacks", static_cast<double>(rollbacks_)},
                    {"rebalances", static_cast<double>(rebalances_.size())},
                    {"step_retries", static_cast<double>(step_retries_total_)},
                    {"capture_holds", static_cast<double>(capture_holds_)},
                    {"ticks_behind", static_cast<double>(ticks_behind_)},
                    {"rules_installed", rules_count(RulesEvent::installed)},
                    {"rules_rejected", rules_count(RulesEvent::rejected)},
                    {"rules_rolled_back", rules_count(RulesEvent::rolled_back)},
                    {"capture_retries", static_cast<double>(capture_retries_)},
                    {"incarnation", static_cast<double>(setup_.chaos.incarnation)}};
    out.distributions = {{"tick_ms", tick_ms_.percentiles()},
                         {"step_ms", step_ms_.percentiles()},
                         {"install_pause_ms", install_pause_ms_.percentiles()}};
    if (c.compact_sent > 0) {
      out.distributions.emplace_back("bytes_per_moving_body", c.bytes_per_moving.percentiles());
      out.distributions.emplace_back("compact_encode_us", c.encode_us.percentiles());
    }
    if (partitioned()) {
      // How even the regions' work is: the slowest region's step over the mean, per tick.
      out.distributions.emplace_back("region_imbalance", imbalance_.percentiles());
      out.distributions.emplace_back("exchange_bytes", exchange_bytes_.percentiles());
    }
    out.notes = {{"rules", rules_ ? rules_->name() + " " + rules_->version() + " (" + rules_->path() + ")"
                                  : std::string{"built-in"}}};
    for (std::size_t i = 0; i < rebalances_.size(); ++i)
      out.notes.emplace_back("rebalance_" + std::to_string(i + 1), rebalances_[i]);
    for (std::size_t i = 0; i < pause_events_.size(); ++i)
      out.notes.emplace_back("pause_event_" + std::to_string(i + 1), pause_events_[i]);
    for (std::size_t i = 0; i < rules_events_.size(); ++i)
      out.notes.emplace_back("rules_event_" + std::to_string(i + 1),
                             "tick " + std::to_string(rules_events_[i].tick) + ": " + verb(rules_events_[i]) + " " +
                                 subject(rules_events_[i]));
    out.series = {{"tick_ms", tick_ms_.series()}, {"bodies", bodies_.series()}};
    if (partitioned()) {
      out.series.emplace_back("region_imbalance", imbalance_.series());
      out.series.emplace_back("exchange_bytes", exchange_bytes_.series());
    }
    return out;
  }

  LogicSetup setup_;
  WorldPtr world_;
  std::uint64_t generation_ = 0;
  /// Pauses and resumes as they took effect, for the report ("tick T: paused").
  bool was_paused_ = false;
  std::vector<std::string> pause_events_;
  /// What the live metrics show of logic (see the constructor for the names).
  struct {
    live::Gauge tick, generation, bodies;
    live::Counter applied, late;
  } live_;
  std::uint64_t last_hash_ = 0;
  stepper_actor physics_;
  // A world run as regions: the regions by index, what logic holds of the
  // world (all but the bodies), and the tick under way.
  std::vector<region_actor> regions_;
  std::shared_ptr<const sim::Ledger> ledger_; ///< after the last tick (set when partitioned)
  std::optional<sim::Ledger> next_ledger_;
  std::shared_ptr<const sim::TickPlan> plan_;
  std::vector<std::optional<RegionStepped>> stepped_;
  CutLog& cuts_ = *setup_.state->cuts;
  std::optional<Checkpoint> unsaved_checkpoint_; // made, waiting for the recorded frames through it
  bool restoring_ = false;          // regions are being brought to world_->tick: no tick runs
  std::vector<bool> restored_;      // which have answered
  std::uint64_t rollbacks_ = 0, restore_failures_ = 0;
  std::vector<std::string> rebalances_; // "tick T: x at ...", one per move of the cuts
  SampleRecorder imbalance_, exchange_bytes_;
  caf::actor controller_;
  Publisher& publisher_ = *setup_.state->publisher;
  std::map<std::uint32_t, source_actor> source_actors_;
  std::map<std::uint32_t, std::uint64_t> sealed_;      // source -> sealed through tick
  std::map<std::uint32_t, std::uint64_t> applied_seq_; // source -> last applied seq
  std::map<std::uint64_t, std::vector<Command>> pending_; // tick -> commands
  std::set<std::pair<std::uint32_t, std::uint64_t>> queued_seqs_;
  sim::Vec3 pointer_;
  std::vector<Command> tick_commands_; // the tick being stepped: its commands, sorted
  std::uint64_t step_tick_ = 0;        // and its number
  std::uint64_t step_retries_total_ = 0;
  std::set<std::string> awaiting_;              // recording readers yet to subscribe
  std::uint64_t capture_holds_ = 0;
  std::uint64_t ticks_behind_ = 0; // realtime: ticks that could start only a period or more after they were due
  RulesPtr rules_;                         // the plugin running (null: built-in only)
  RulesPtr known_good_;                    // what rules_ falls back to
  std::optional<PendingReload> pending_reload_;
  std::shared_ptr<ReloadJob> reload_job_;  // the test of pending_reload_
  std::vector<RulesEvent> rules_events_;
  bool install_pause_pending_ = false;
  std::int64_t last_tick_end_ns_ = 0;
  std::int64_t install_from_ns_ = 0;
  SampleRecorder install_pause_ms_;
  std::uint64_t capture_retries_ = 0;
  bool stepping_ = false;
  bool finished_ = false;
  bool stop_requested_ = false;
  bool timer_pending_ = false;
  std::int64_t started_ns_ = 0; // realtime: when the first tick of this incarnation could run
  std::int64_t tick_started_ns_ = 0;
  std::int64_t last_progress_ns_ = 0;
  std::uint64_t start_tick_ = 0;
  std::uint64_t late_ = 0;
  std::uint64_t refused_ = 0;
  std::uint64_t events_ = 0;
  std::uint64_t checkpoints_ = 0;
  std::uint64_t published_events_ = 0;
  SampleRecorder tick_ms_;
  SampleRecorder step_ms_;
  SampleRecorder bodies_;
};

LogicSetup setup_of(const ActorContext& ctx) {
  LogicSetup setup;
  setup.spec = &ctx.spec;
  setup.simulation = ctx.simulation;
  setup.params = ctx.params<LogicParams>();
  // The rules smoke test runs the stepper's settings when it is a stepper of
  // sim::PhysicsSettings (the built-in one), the defaults otherwise.
  if (const auto* physics = std::any_cast<PhysicsParams>(&ctx.topology.the(Role::stepper).params))
    setup.physics = *physics;
  if (const auto& stepper = ctx.topology.the(Role::stepper); stepper.parts > 1)
    setup.regions = stepper.parts;
  setup.sources = {1};
  setup.resume = ctx.run.resume;
  if (ctx.run.resume && ctx.run.resume->parts > 0)
    setup.resumed_cut = ctx.run.resume;
  setup.checkpoint_every = ctx.options.checkpoint_every;
  setup.checkpoint_dir = ctx.options.out_dir + "/checkpoints";
  setup.state = std::static_pointer_cast<LogicState>(ctx.state);
  setup.chaos = ctx.chaos;
  setup.awaiting_readers = {ctx.run.readers.begin(), ctx.run.readers.end()};
  if (ctx.run.resume)
    for (auto& ack : ctx.run.resume->acks)
      setup.applied_before_run += ack.seq;
  std::lock_guard<std::mutex> guard{setup.state->mutex};
  if (setup.state->started) {
    // A restart: from the last published snapshot, waiting only for readers
    // that have not subscribed yet.
    if (setup.state->world) {
      setup.resume = Checkpoint{};
      setup.resume->generation = setup.state->generation;
      setup.resume->world = *setup.state->world;
      setup.resume->acks = setup.state->acks;
      setup.resume->published_events = setup.state->published_events;
    }
    setup.ledger = setup.state->ledger;
    setup.last_hash = setup.state->last_hash;
    setup.awaiting_readers = setup.state->awaiting;
  }
  setup.state->started = true;
  return setup;
}

} // namespace

std::string starting_rules(const config::Topology& topology, const RunOptions& options) {
  if (!options.rules.empty())
    return options.rules;
  const auto& rules = topology.the(Role::coordinator).params_as<LogicParams>().rules;
  return rules.empty() ? std::string{} : config::resolve_relative(topology, rules);
}

std::string plugin_dir(const config::Topology& topology, const RunOptions& options) {
  const auto& dir = topology.the(Role::coordinator).params_as<LogicParams>().plugin_dir;
  if (!dir.empty())
    return config::resolve_relative(topology, dir);
  const auto rules = starting_rules(topology, options);
  if (rules.empty())
    return {};
  const auto folder = std::filesystem::path(rules).parent_path();
  return folder.empty() ? std::string{"."} : folder.string();
}

Subsystem logic_subsystem() {
  Subsystem kind;
  kind.name = "logic";
  kind.role = Role::coordinator;
  kind.mailbox = {4096, config::Overflow::reject}; // commands are never lost: refused, kept, sent again
  kind.parse = config::parse_as<LogicParams>([](config::ParamsReader& in, LogicParams& p) {
    in.integer("fountain_every", p.fountain_every, 0, 1'000'000);
    in.integer("fountain_max", p.fountain_max, 0, 1'000'000);
    in.path("rules", p.rules);
    in.path("plugin_dir", p.plugin_dir);
    in.integer("smoke_ticks", p.smoke_ticks, 1, 100'000);
    in.integer("smoke_budget_ms", p.smoke_budget_ms, 1, 600'000);
    in.integer("install_after_ticks", p.install_after_ticks, 1, 1'000'000);
  });
  kind.describe = [](const config::ActorSpec& spec, const config::Topology&) {
    const auto& p = spec.params_as<LogicParams>();
    std::string out = p.fountain_every == 0 ? std::string{"fountain: scenario default"}
                                            : "fountain: one body every " + std::to_string(p.fountain_every) +
                                                " ticks, up to " + std::to_string(p.fountain_max) + " bodies";
    out += ", rules " + (p.rules.empty() ? std::string{"built-in"} : p.rules);
    if (!p.plugin_dir.empty())
      out += ", plugins from " + p.plugin_dir;
    return out + " (smoke " + std::to_string(p.smoke_ticks) + " ticks within " + std::to_string(p.smoke_budget_ms) +
           " ms, install after " + std::to_string(p.install_after_ticks) + " ticks)";
  };
  // The rules plugin the run starts with (--rules, or `rules`): loaded and
  // smoke-tested on the starting world before anything starts.
  kind.prepare = [](const ActorContext& ctx) -> Expected<std::shared_ptr<void>> {
    auto state = std::make_shared<LogicState>();
    state->awaiting = {ctx.run.readers.begin(), ctx.run.readers.end()};
    state->publisher = std::make_shared<Publisher>(ctx.topology.network.keyframe_every);
    state->plugin_dir = plugin_dir(ctx.topology, ctx.options);
    const auto path = starting_rules(ctx.topology, ctx.options);
    if (ctx.options.watch && path.empty())
      return Error{errc::bad_argument, "--watch: no rules plugin to watch (give --rules PATH or set [actors." +
                                         ctx.spec.name + "] rules)"};
    if (!path.empty()) {
      const auto& params = ctx.params<LogicParams>();
      const bool partitioned = ctx.topology.the(Role::stepper).parts > 1;
      const auto world = partitioned        ? smoke_world(ctx.simulation, params)
                         : ctx.run.resume ? ctx.run.resume->world
                                          : starting_world(ctx.simulation, params);
      sim::PhysicsSettings physics;
      if (const auto* p = std::any_cast<PhysicsParams>(&ctx.topology.the(Role::stepper).params))
        physics = *p;
      auto tested = load_tested_rules(path, state->plugin_dir, world, params, physics, partitioned);
      if (!tested)
        return Error{errc::bad_plugin, "rules: " + tested.error().to_string()};
      state->rules = std::move(*tested);
    }
    if (ctx.options.watch)
      state->watch = std::make_unique<RulesWatch>(path);
    return std::shared_ptr<void>(std::move(state));
  };
  kind.spawn = [](caf::actor_system& sys, const ActorContext& ctx) { return sys.spawn<logic_actor>(setup_of(ctx)); };
  return kind;
}

} // namespace troupe
