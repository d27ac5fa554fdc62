// Kind "physics" run as regions (docs/architecture.md, "Regions"): one actor
// per cell of the layout, owning the bodies whose centres lie in it from tick
// to tick. A tick: logic sends every region the same plan; each applies it to
// the bodies it holds, sends every other region one parcel (bodies that change
// owner, and ghosts within the halo), steps when every parcel is in, publishes
// its part of the world to the readers and answers logic with its report.
//
// Blocking (its own thread and TBB arena), like the one physics actor: a step
// takes milliseconds. What a region holds between ticks lives in its kind
// state, so a restarted incarnation re-runs the pending tick from it; a
// region that lost it with its node is brought back by logic to a consistent
// cut: every region's piece on disk after the same tick (or the run's start).

#include "console.hpp"
#include "publisher.hpp"
#include "step_threads.hpp"
#include "subsystems.hpp"

#include <troupe/live/trace.hpp>

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/metrics.hpp>
#include <troupe/actors/kinds.hpp>
#include <troupe/actors/protocols.hpp>
#include <troupe/plugins/rules_plugin.hpp>
#include <troupe/sim/regions.hpp>
#include <troupe/sim/scenario.hpp>

#include <caf/all.hpp>


#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

namespace troupe {
namespace {

using namespace std::chrono_literals;

/// What a region keeps across incarnations (made before the run, on its node).
struct RegionState {
  std::mutex mutex;
  std::uint32_t epoch = 0;                 ///< RegionStep::epoch of the plans it takes
  /// How to be at the run's start tick again (the scenario, or the checkpoint
  /// the run resumed from), and where pieces of cuts lie (read and written).
  std::uint64_t start_tick = 0;
  std::function<Expected<sim::Region>()> start;
  std::vector<std::string> cut_dirs;
  std::string write_dir;
  /// The bodies it holds at the end of the last completed tick (a tick under
  /// way reads it and replaces it when its step ends: a new incarnation runs
  /// that tick again from it).
  sim::Region region{0, {}};
  std::uint64_t tick = 0;                  ///< ticks completed
  std::optional<RegionStepped> last;       ///< the answer for the last completed tick
  /// The parcels it sent for the tick it began last (`sent_tick`), by
  /// destination: a restarted neighbour asks for its own again.
  std::uint64_t sent_tick = ~0ull;
  std::map<std::uint32_t, RegionParcel> sent;
  std::shared_ptr<Publisher> publisher;
  /// The body rules it ran lately, newest first, loaded from `plugin_dir`
  /// (the folder logic's node loads from, by the same config). A few builds
  /// are kept: ticks run again after a rollback may need the build before a
  /// reload, and its file may have been rebuilt in place since.
  std::string plugin_dir;
  std::vector<std::shared_ptr<const plugins::RulesPlugin>> rules;
  static constexpr std::size_t rules_kept = 4;
  // What the report shows, over every incarnation.
  SampleRecorder step_ms, wait_ms, owned, ghosts, exchange_bytes;
  std::uint64_t steps = 0, migrations = 0, exchange_messages = 0, contacts = 0, events = 0;
};

/// Region `part` of `parts` from its piece of the cut after `tick` at `path`.
Expected<sim::Region> region_from(const std::string& path, std::uint32_t part, std::uint32_t parts, std::uint64_t tick) {
  auto piece = load_checkpoint(path);
  if (!piece)
    return piece.error();
  if (piece->parts != parts || piece->part != part || piece->world.tick != tick)
    return Error{errc::bad_file,
                 "holds piece " + std::to_string(piece->part) + " of " + std::to_string(piece->parts) +
                   " regions after tick " + std::to_string(piece->world.tick) + ", not piece " + std::to_string(part) +
                   " of " + std::to_string(parts) + " after tick " + std::to_string(tick),
                 path};
  std::vector<sim::WholeBody> bodies;
  bodies.reserve(piece->world.size());
  for (std::size_t k = 0; k < piece->world.size(); ++k)
    bodies.push_back({piece->world.bodies[k], piece->world.infos[k]});
  return sim::Region(part, std::move(bodies));
}

class region_impl : public bounded_actor {
public:
  region_impl(caf::actor_config& cfg, const ActorContext& ctx)
    : bounded_actor(cfg, ctx.spec.mailbox),
      spec_(ctx.spec),
      chaos_(ctx.chaos),
      threads_(ctx.simulation.threads),
      settings_(ctx.params<PhysicsParams>()),
      state_(ctx.state_as<RegionState>()) {
    const auto labels = labels_of(spec_);
    state_.step_ms.mirror(live::histogram("troupe_step_seconds", "One physics step (a tick)", labels), 1e-3);
    live_owned_ = live::gauge("troupe_region_bodies", "Bodies the region owns", labels);
    live_ghosts_ = live::gauge("troupe_region_ghosts", "Copies of its neighbours' bodies the region holds", labels);
    live_exchange_ = live::counter("troupe_region_exchange_bytes_total",
                                   "Bytes of parcels the region sent its neighbours", labels);
  }

  caf::behavior make_behavior() override {
    // The readers the last incarnation published to are this one's too.
    for (const auto& s : state_.publisher->subscriptions())
      monitor(s.reader);
    set_down_handler([this](caf::down_msg& msg) {
      state_.publisher->down(msg.source, msg.reason == caf::exit_reason::remote_link_unreachable);
    });
    return region_actor::behavior_type{
      [this](connect_atom, const std::vector<caf::actor>& regions, const caf::actor& coordinator) {
        regions_.clear();
        for (const auto& r : regions)
          regions_.push_back(caf::actor_cast<region_actor>(r));
        coordinator_ = coordinator;
        // New handles (a node came back): what was sent to the old ones in
        // the last tick may be lost both ways. Send again, ask again (parcels
        // are taken once; one of a tick already stepped is dropped).
        if (connected() && state_.sent_tick != ~0ull) {
          for (const auto& [to, parcel] : state_.sent)
            send(regions_[to], parcel);
          if (step_)
            ask_resend(step_->plan->tick);
        }
        // A plan that came before the regions were known (a new incarnation
        // is asked again as soon as it exists).
        auto deferred = std::move(deferred_);
        deferred_.clear();
        for (auto& [step, promise] : deferred)
          start(std::move(step), std::move(promise));
      },
      [this](step_atom, RegionStep& step) -> caf::result<RegionStepped> { return begin(std::move(step)); },
      [this](RegionParcel& parcel) {
        if (parcel.epoch != state_.epoch || parcel.tick < state_.tick)
          return; // from before a rollback, or a resend of a tick this region finished
        inbox_[parcel.tick].try_emplace(parcel.parcel.from, std::move(parcel.parcel));
        try_step();
      },
      [this](resend_atom, std::uint64_t tick, std::uint32_t to) {
        if (state_.sent_tick == tick)
          if (auto i = state_.sent.find(to); i != state_.sent.end() && to < regions_.size())
            send(regions_[to], i->second);
      },
      [this](restore_atom, std::uint64_t tick, std::uint32_t epoch) -> caf::result<std::uint64_t> {
        return restore(tick, epoch);
      },
      [this](subscribe_atom, const caf::actor& reader, const std::string& name, std::uint8_t topics,
             std::uint64_t every, std::uint32_t window) {
        if (state_.publisher->subscribe(this, reader, name, topics, every, window))
          monitor(reader);
      },
      [this](capture_atom, const std::string& name, std::uint64_t tick) { state_.publisher->captured(name, tick); },
      [this](ack_atom, const caf::actor& reader, std::uint64_t generation) {
        state_.publisher->acked(reader.address(), generation);
      },
      [this](rejected_atom, capture_atom, Snapshot& part) {
        // The reader's mailbox was full: try again shortly (it stays unacked).
        delayed_send(caf::actor_cast<caf::actor>(current_sender()), 1ms, capture_atom::value, std::move(part));
      },
      [this](report_atom) { return report(); },
    }
      .unbox();
  }

  void on_exit() override {
    // A step asked of this incarnation is asked again of the next: say so.
    for (auto& promise : pending_)
      promise.deliver(make_error(errc::crashed, spec_.name + " stopped during a step"));
    for (auto& [step, promise] : deferred_)
      promise.deliver(make_error(errc::crashed, spec_.name + " stopped during a step"));
    pending_.clear();
    deferred_.clear();
    regions_.clear();
    coordinator_ = nullptr;
  }

private:
  std::uint32_t index() const { return spec_.part; }

  bool connected() const { return regions_.size() == spec_.parts; }

  /// A plan from logic: applies it and sends the parcels; the answer comes
  /// when every other region's parcel is in (try_step).
  caf::result<RegionStepped> begin(RegionStep step) {
    chaos_.strike(step.plan->tick);
    auto promise = make_response_promise<RegionStepped>();
    if (!connected())
      deferred_.emplace_back(std::move(step), promise);
    else
      start(std::move(step), promise);
    return promise;
  }

  void start(RegionStep step, caf::typed_response_promise<RegionStepped> promise) {
    const auto tick = step.plan->tick;
    if (step.epoch != state_.epoch) {
      promise.deliver(make_error(errc::out_of_step, spec_.name + " is in epoch " + std::to_string(state_.epoch) +
                                                      ", was asked a plan of epoch " + std::to_string(step.epoch)));
      return;
    }
    if (state_.last && state_.tick == tick + 1) {
      promise.deliver(*state_.last); // asked again (logic lost the answer): the same one
      return;
    }
    if (tick != state_.tick) {
      // It lost what it held (its node was restarted): logic rolls back.
      promise.deliver(make_error(errc::out_of_step, spec_.name + " holds tick " + std::to_string(state_.tick) +
                                                      ", was asked for tick " + std::to_string(tick)));
      return;
    }
    if (step_ && step_->plan->tick == tick) {
      pending_.push_back(promise); // asked again while the tick is under way
      return;
    }
    began_ns_ = steady_now_ns();
    step_ = std::move(step);
    state_.region.begin(*step_->plan);
    sent_bytes_ = 0;
    {
      std::lock_guard<std::mutex> guard{state_.mutex};
      state_.sent.clear();
      for (std::uint32_t to = 0; to < regions_.size(); ++to)
        if (to != index()) {
          RegionParcel parcel{tick, state_.region.parcel_for(to), state_.epoch};
          sent_bytes_ += parcel.parcel.bodies.size() * sizeof(sim::WholeBody);
          state_.sent.emplace(to, std::move(parcel));
        }
      state_.sent_tick = tick;
    }
    for (auto& [to, parcel] : state_.sent)
      send(regions_[to], parcel);
    // A new incarnation may have lost parcels sent to the last one: ask again
    // (a region that has not begun this tick yet sends its parcel when it does).
    if (!asked_resend_ && chaos_.incarnation > 0) {
      asked_resend_ = true;
      ask_resend(tick);
    }
    pending_.push_back(promise);
    try_step();
  }

  /// Asks every other region for its parcel of `tick` again.
  void ask_resend(std::uint64_t tick) {
    for (std::uint32_t to = 0; to < regions_.size(); ++to)
      if (to != index())
        send(regions_[to], resend_atom::value, tick, index());
  }

  void try_step() {
    if (!step_ || !connected())
      return;
    const auto tick = step_->plan->tick;
    auto& inbox = inbox_[tick];
    if (inbox.size() + 1 < regions_.size())
      return;
    const auto parcels_in_ns = steady_now_ns();
    std::vector<sim::Parcel> parcels;
    parcels.reserve(inbox.size());
    for (auto& [from, parcel] : inbox)
      parcels.push_back(std::move(parcel));
    inbox_.erase(inbox_.begin(), inbox_.upper_bound(tick));
    RegionStepped out;
    auto rules = body_rules(step_->plan->rules);
    if (!rules) {
      fail_tick(rules.error());
      return;
    }
    const sim::RulesStep run_rules =
      *rules ? sim::RulesStep{[plugin = *rules](sim::World& w) { return plugin->step(w); }} : sim::RulesStep{};
    auto report = state_.region.step(parcels, settings_, threads_.parallel, &run_rules);
    if (!report) {
      fail_tick(report.error());
      return;
    }
    out.report = std::move(*report);
    const auto done_ns = steady_now_ns();
    out.step_ms = static_cast<double>(done_ns - parcels_in_ns) / 1e6;
    live::trace_span("step", spec_.node, spec_.name, parcels_in_ns, done_ns, static_cast<std::int64_t>(tick));
    live::trace_span("wait for parcels", spec_.node, spec_.name, began_ns_, parcels_in_ns,
                     static_cast<std::int64_t>(tick));
    out.wait_ms = static_cast<double>(parcels_in_ns - began_ns_) / 1e6;
    out.exchange_bytes = sent_bytes_;
    out.exchange_messages = regions_.size() - 1;
    publish_part(*step_, out);
    {
      std::lock_guard<std::mutex> guard{state_.mutex};
      state_.region.commit();
      state_.tick = tick + 1;
      state_.last = out;
      state_.step_ms.add(out.step_ms);
      state_.wait_ms.add(out.wait_ms);
      state_.owned.add(static_cast<double>(out.report.owned));
      state_.ghosts.add(static_cast<double>(out.report.ghosts));
      state_.exchange_bytes.add(static_cast<double>(out.exchange_bytes));
      live_owned_.set(static_cast<double>(out.report.owned));
      live_ghosts_.set(static_cast<double>(out.report.ghosts));
      live_exchange_.add(static_cast<double>(out.exchange_bytes));
      ++state_.steps;
      state_.migrations += out.report.arrived;
      state_.exchange_messages += out.exchange_messages;
      state_.contacts += out.report.stats.contacts;
      state_.events += out.report.events.size();
    }
    step_.reset();
    for (auto& promise : pending_)
      promise.deliver(out);
    pending_.clear();
  }

  /// The body rules a plan names, loaded here the first time (null: none).
  /// Refused when this node's file is not the build logic tested.
  Expected<const plugins::RulesPlugin*> body_rules(const sim::RulesRef& ref) {
    if (ref.path.empty())
      return nullptr;
    std::lock_guard<std::mutex> guard{state_.mutex};
    auto& kept = state_.rules;
    const auto known = std::find_if(kept.begin(), kept.end(), [&](const auto& rules) {
      return rules->digest() == ref.digest && rules->path() == ref.path;
    });
    if (known != kept.end()) {
      std::rotate(kept.begin(), known, known + 1);
      return kept.front().get();
    }
    auto loaded = plugins::RulesPlugin::load(ref.path, state_.plugin_dir);
    if (!loaded)
      return loaded.error();
    if (loaded->digest() != ref.digest)
      return Error{errc::bad_plugin,
                   "this node's file is another build than the one logic tested (digest " +
                     std::to_string(loaded->digest()) + ", logic's " + std::to_string(ref.digest) + ")",
                   ref.path};
    if (loaded->scope() != plugins::RulesScope::body)
      return Error{errc::bad_plugin, "not body rules (scope body): a region runs no others", ref.path};
    kept.insert(kept.begin(), std::make_shared<const plugins::RulesPlugin>(std::move(*loaded)));
    if (kept.size() > RegionState::rules_kept)
      kept.pop_back();
    console() << spec_.name << ": body rules " << kept.front()->name() << " " << kept.front()->version()
              << " loaded from " << ref.path << "\n";
    return kept.front().get();
  }

  /// The body rules failed in this tick (or could not be loaded): nothing is
  /// committed, and logic takes the rules back in every region.
  void fail_tick(const Error& error) {
    console() << spec_.name << ": tick " << step_->plan->tick << ": " << error.to_string() << "\n";
    for (auto& promise : pending_)
      promise.deliver(make_error(errc::bad_plugin, spec_.name + ": " + error.message)); // the event names the file
    pending_.clear();
    step_.reset();
  }

  /// This region's bodies after the tick: to the readers that subscribed
  /// (through logic) to snapshots or recorded frames, and to its piece of a
  /// cut when logic asked for one.
  void publish_part(const RegionStep& step, RegionStepped& out) {
    if (state_.publisher->subscriptions().empty() && !step.checkpoint)
      return;
    Snapshot part;
    part.generation = step.generation;
    part.tick = step.plan->tick + 1;
    part.world = std::make_shared<const sim::World>(
      sim::part_world(step.plan->settings, part.tick, state_.region.stepped()));
    part.published_ns = steady_now_ns();
    part.parts = spec_.parts;
    part.part = index();
    state_.publisher->publish(this, part);
    if (step.checkpoint)
      out.checkpointed = write_piece(part);
  }

  /// Its piece of the cut after `part.tick`, next to logic's (written last).
  bool write_piece(const Snapshot& part) {
    std::error_code ignored;
    std::filesystem::create_directories(state_.write_dir, ignored);
    Checkpoint piece;
    piece.generation = part.generation;
    piece.world = *part.world;
    piece.parts = spec_.parts;
    piece.part = index();
    const auto path = region_checkpoint_path(state_.write_dir + "/tick-" + std::to_string(part.tick) + ".ckpt", index());
    if (auto saved = save_checkpoint(path, piece); !saved) {
      console() << spec_.name << ": " << saved.error().to_string() << "\n";
      return false;
    }
    return true;
  }

  /// Logic's rollback (or its start): be at `tick` in `epoch`. What the region
  /// holds if it is there; else its piece of the cut after `tick`, or the
  /// run's start.
  caf::result<std::uint64_t> restore(std::uint64_t tick, std::uint32_t epoch) {
    for (auto& promise : pending_)
      promise.deliver(make_error(errc::out_of_step, spec_.name + " was rolled back"));
    pending_.clear();
    deferred_.clear();
    inbox_.clear();
    step_.reset();
    std::lock_guard<std::mutex> guard{state_.mutex};
    state_.epoch = epoch;
    state_.last.reset();
    state_.sent.clear();
    state_.sent_tick = ~0ull;
    if (state_.tick == tick)
      return tick;
    auto region = tick == state_.start_tick ? state_.start() : load_piece(tick);
    if (!region)
      return make_error(region.error().code, region.error().to_string());
    state_.region = std::move(*region);
    state_.tick = tick;
    console() << spec_.name << ": back at tick " << tick << " (epoch " << epoch << ")\n";
    return tick;
  }

  /// Its piece of the cut after `tick`, from the first folder that has it.
  Expected<sim::Region> load_piece(std::uint64_t tick) {
    Error missing{errc::bad_file, "no piece of the cut after tick " + std::to_string(tick) + " for " + spec_.name};
    for (const auto& dir : state_.cut_dirs) {
      const auto path = region_checkpoint_path(dir + "/tick-" + std::to_string(tick) + ".ckpt", index());
      if (!std::filesystem::exists(path))
        continue;
      return region_from(path, spec_.part, spec_.parts, tick);
    }
    return missing;
  }

  ActorReport report() {
    auto out = make_report(spec_, mailbox_stats());
    std::lock_guard<std::mutex> guard{state_.mutex};
    const auto& c = state_.publisher->counters();
    out.counters = {{"region", static_cast<double>(index())},
                    {"regions", static_cast<double>(spec_.parts)},
                    {"steps", static_cast<double>(state_.steps)},
                    {"threads", static_cast<double>(threads_.count)},
                    {"owned", static_cast<double>(state_.region.held().size())},
                    {"migrations", static_cast<double>(state_.migrations)},
                    {"exchange_messages", static_cast<double>(state_.exchange_messages)},
                    {"contacts", static_cast<double>(state_.contacts)},
                    {"contact_events", static_cast<double>(state_.events)},
                    {"compact_parts_sent", static_cast<double>(c.compact_sent)},
                    {"compact_bytes_sent", static_cast<double>(c.compact_bytes)},
                    {"incarnation", static_cast<double>(chaos_.incarnation)}};
    out.distributions = {{"step_ms", state_.step_ms.percentiles()},
                         {"wait_ms", state_.wait_ms.percentiles()},
                         {"owned", state_.owned.percentiles()},
                         {"ghosts", state_.ghosts.percentiles()},
                         {"exchange_bytes", state_.exchange_bytes.percentiles()}};
    out.series = {{"step_ms", state_.step_ms.series()},
                  {"owned", state_.owned.series()},
                  {"ghosts", state_.ghosts.series()},
                  {"exchange_bytes", state_.exchange_bytes.series()}};
    return out;
  }

  const config::ActorSpec& spec_;
  live::Gauge live_owned_, live_ghosts_;
  live::Counter live_exchange_;
  Chaos chaos_;
  StepThreads threads_;
  sim::PhysicsSettings settings_;
  RegionState& state_;
  std::vector<region_actor> regions_; ///< every region's stable name, by index (this one's too)
  caf::actor coordinator_;
  std::optional<RegionStep> step_;     ///< the tick under way (begun on state_.region)
  std::map<std::uint64_t, std::map<std::uint32_t, sim::Parcel>> inbox_; ///< by tick, by sender
  std::vector<caf::typed_response_promise<RegionStepped>> pending_;
  std::vector<std::pair<RegionStep, caf::typed_response_promise<RegionStepped>>> deferred_;
  std::uint64_t sent_bytes_ = 0;
  std::int64_t began_ns_ = 0;
  bool asked_resend_ = false;
};

} // namespace

sim::Layout starting_layout(const sim::Arena& arena, const PhysicsParams& params) {
  return sim::Layout::even(arena, params.cells());
}

Expected<std::shared_ptr<void>> prepare_region(const ActorContext& ctx) {
  auto state = std::make_shared<RegionState>();
  const auto part = ctx.spec.part, parts = ctx.spec.parts;
  const auto params = ctx.params<PhysicsParams>();
  const auto simulation = ctx.simulation;
  const auto resume_from = ctx.options.resume_from;
  const bool resumed_cut = ctx.run.resume && ctx.run.resume->parts > 0;
  const auto start_tick = ctx.run.start_tick;
  state->start_tick = start_tick;
  // The run's start, of which this region keeps its cell: its piece of the
  // cut the run resumed from, the checkpoint's whole world, or the scenario.
  // Read again when wanted (a rollback to the start), never kept.
  state->start = [=]() -> Expected<sim::Region> {
    if (resumed_cut)
      return region_from(region_checkpoint_path(resume_from, part), part, parts, start_tick);
    if (resume_from.empty()) // the scenario, never held whole
      return sim::Region(part, sim::scenario_part({simulation.scenario, simulation.bodies, simulation.seed,
                                                   simulation.tick_hz},
                                                  [&](const sim::Arena& arena) { return starting_layout(arena, params); },
                                                  part));
    auto checkpoint = load_checkpoint(resume_from);
    if (!checkpoint)
      return checkpoint.error();
    return sim::Region(part, sim::bodies_in(checkpoint->world, starting_layout(checkpoint->world.arena, params), part));
  };
  auto start = state->start();
  if (!start)
    return start.error();
  state->region = std::move(*start);
  state->tick = start_tick;
  state->write_dir = ctx.options.out_dir + "/checkpoints";
  if (!resume_from.empty())
    state->cut_dirs.push_back(std::filesystem::path(resume_from).parent_path().string());
  state->cut_dirs.push_back(state->write_dir);
  state->publisher = std::make_shared<Publisher>(ctx.topology.network.keyframe_every);
  state->plugin_dir = plugin_dir(ctx.topology, ctx.options);
  return std::shared_ptr<void>(std::move(state));
}

caf::actor spawn_region(caf::actor_system& sys, const ActorContext& ctx) {
  return sys.spawn<region_impl, caf::detached>(ctx);
}

} // namespace troupe
