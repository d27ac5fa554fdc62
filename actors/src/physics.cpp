// Kind "physics", the stepper: sim::step_tick behind a mailbox. Blocking (its
// own thread) because a step takes milliseconds while it fans out over its
// TBB arena; CAF's scheduler workers are never blocked by it.

#include "step_threads.hpp"
#include "subsystems.hpp"

#include <troupe/live/trace.hpp>

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/metrics.hpp>
#include <troupe/actors/protocols.hpp>
#include <troupe/sim/advance.hpp>

#include <caf/all.hpp>


namespace troupe {
namespace {

class physics_actor : public bounded_actor {
public:
  physics_actor(caf::actor_config& cfg, const ActorContext& ctx)
    : bounded_actor(cfg, ctx.spec.mailbox),
      spec_(ctx.spec),
      chaos_(ctx.chaos),
      threads_(ctx.simulation.threads),
      batch_(ctx.simulation.mode == config::Mode::batch),
      settings_(ctx.params<PhysicsParams>()) {
    step_ms_.mirror(live::histogram("troupe_step_seconds", "One physics step (a tick)", labels_of(spec_)), 1e-3);
  }

  caf::behavior make_behavior() override {
    // On its own thread (a detached actor's behaviour is made there). A batch
    // run hands out the next step right after publishing a tick: woken, this
    // thread took the core of the worker that woke it, and the snapshots that
    // worker still held for the readers waited out the whole step (about 1 ms
    // of the observer's hand-off p99 in the demo). In a realtime run the step
    // keeps its claim on a core: its wake-up is the tick's latency.
    yields_on_wakeup_ = batch_ && stop_preempting_on_wakeup();
    return stepper_actor::behavior_type{
      [this](step_atom, StepRequest& request) -> StepResult { return step(request); },
      [this](report_atom) { return report(); },
    }
      .unbox();
  }

private:
  StepResult step(StepRequest& request) {
    chaos_.strike(request.tick);
    const auto start = steady_now_ns();
    // Logic hands the world over (it keeps no reference): step it in place. A
    // world someone else still holds is copied first, and counted.
    auto world = std::move(request.world);
    if (world.use_count() > 1) {
      world = std::make_shared<sim::World>(*world);
      ++world_copies_;
    }
    StepResult result;
    result.tick = request.tick;
    const auto stats = sim::step_tick(*world, settings_, threads_.parallel, result.contacts);
    result.world = std::move(world);
    const auto end = steady_now_ns();
    result.step_ms = static_cast<double>(end - start) / 1e6;
    live::trace_span("step", spec_.node, spec_.name, start, end, static_cast<std::int64_t>(request.tick));
    step_ms_.add(result.step_ms);
    contacts_ += stats.contacts;
    events_ += result.contacts.size();
    return result;
  }

  ActorReport report() {
    auto out = make_report(spec_, mailbox_stats());
    out.counters = {{"steps", static_cast<double>(step_ms_.size())},
                    {"threads", static_cast<double>(threads_.count)},
                    {"contacts", static_cast<double>(contacts_)},
                    {"contact_events", static_cast<double>(events_)},
                    {"world_copies", static_cast<double>(world_copies_)},
                    {"yields_on_wakeup", yields_on_wakeup_ ? 1.0 : 0.0},
                    {"incarnation", static_cast<double>(chaos_.incarnation)}};
    out.distributions = {{"step_ms", step_ms_.percentiles()}};
    out.series = {{"step_ms", step_ms_.series()}};
    return out;
  }

  const config::ActorSpec& spec_;
  Chaos chaos_;
  StepThreads threads_;
  const bool batch_;
  bool yields_on_wakeup_ = false;
  sim::PhysicsSettings settings_;
  SampleRecorder step_ms_;
  std::uint64_t contacts_ = 0;
  std::uint64_t events_ = 0;
  std::uint64_t world_copies_ = 0; ///< requests whose world was shared
};

constexpr std::string_view axis_names[] = {"x", "y", "z"};
constexpr std::string_view rebalance_names[] = {"off", "auto"};

/// The region keys: how many, where, how space is cut, rebalancing.
void read_regions(config::ParamsReader& in, PhysicsParams& p) {
  in.integer("regions", p.regions, 1, 1024);
  in.nodes("region_nodes", p.region_nodes);
  in.choice("cut", p.cut, axis_names);
  bool grid_given = false;
  in.integers("grid", p.grid, 1, 1024, &grid_given);
  in.choice("rebalance", p.rebalance, rebalance_names);
  in.integer("rebalance_every", p.rebalance_every, 1, 1'000'000);
  in.integer("rebalance_after", p.rebalance_after, 1, 1'000'000);
  if (!grid_given)
    p.grid = {0, 0, 0};
  const auto cells = p.cells();
  const std::uint64_t count = std::uint64_t{cells[0]} * cells[1] * cells[2];
  if (grid_given && count != p.regions)
    in.refuse("grid", "[" + std::to_string(cells[0]) + ", " + std::to_string(cells[1]) + ", " +
                        std::to_string(cells[2]) + "] has " + std::to_string(count) + " cells for " +
                        std::to_string(p.regions) + (p.regions == 1 ? " region" : " regions") +
                        ": each region steps one cell, so set regions = " + std::to_string(count));
  if (p.regions == 1 && !p.region_nodes.empty())
    in.refuse("region_nodes", "places regions, but regions = 1: set regions to 2 or more");
  if (p.regions == 1 && p.rebalance == "auto")
    in.refuse("rebalance", "moves the cuts between regions, but regions = 1: set regions to 2 or more");
  in.parts(p.regions, p.region_nodes);
}

/// ", 4 regions: slabs across x, rebalanced ..." for `troupe check`.
std::string describe_regions(const PhysicsParams& p) {
  if (p.regions <= 1)
    return {};
  const auto cells = p.cells();
  std::string out = ", " + std::to_string(p.regions) + " regions: ";
  if (p.grid[0] == 0)
    out += "slabs across " + p.cut + ", cut evenly over the arena";
  else
    out += "a grid of " + std::to_string(cells[0]) + " x " + std::to_string(cells[1]) + " x " +
           std::to_string(cells[2]) + " cells, cut evenly over the arena";
  if (p.rebalance == "auto")
    out += "; rebalanced from where the bodies are every " + std::to_string(p.rebalance_every) +
           " ticks, in effect " + std::to_string(p.rebalance_after) + " ticks later";
  return out;
}

} // namespace

std::array<std::uint32_t, 3> PhysicsParams::cells() const {
  if (grid[0] > 0)
    return grid;
  std::array<std::uint32_t, 3> out{1, 1, 1};
  out[cut == "y" ? 1 : cut == "z" ? 2 : 0] = regions;
  return out;
}

Subsystem physics_subsystem() {
  Subsystem kind;
  kind.name = "physics";
  kind.role = Role::stepper;
  kind.mailbox = {64, config::Overflow::reject}; // few step requests at a time
  kind.blocking = true;
  kind.parse = config::parse_as<PhysicsParams>([](config::ParamsReader& in, PhysicsParams& p) {
    in.integer("substeps", p.substeps, 1, 64);
    in.integer("iterations", p.iterations, 1, 64);
    in.number("friction", p.friction, 0.0, 1.0);
    // m/s; above this nothing in a sandbox ever makes a sound.
    in.number("contact_event_speed", p.contact_event_speed, 0.0, 1000.0);
    read_regions(in, p);
  });
  kind.describe = [](const config::ActorSpec& spec, const config::Topology&) {
    const auto& p = spec.params_as<PhysicsParams>();
    return "substeps " + std::to_string(p.substeps) + ", iterations " + std::to_string(p.iterations) + ", friction " +
           config::format_number(p.friction) + ", contact_event_speed " + config::format_number(p.contact_event_speed) +
           " m/s" + describe_regions(p);
  };
  // Run as regions (parts), each region keeps its bodies across incarnations.
  kind.prepare = [](const ActorContext& ctx) -> Expected<std::shared_ptr<void>> {
    if (ctx.spec.parts > 1)
      return prepare_region(ctx);
    return std::shared_ptr<void>{};
  };
  kind.spawn = [](caf::actor_system& sys, const ActorContext& ctx) {
    if (ctx.spec.parts > 1)
      return spawn_region(sys, ctx);
    return sys.spawn<physics_actor, caf::detached>(ctx);
  };
  return kind;
}

} // namespace troupe
