// The physics actor: a pure World -> World step behind a mailbox. Spawned
// detached (its own thread) because a step blocks for milliseconds while it fans
// out over its TBB arena; CAF's scheduler workers are never blocked by it.

#include "subsystems.hpp"

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/metrics.hpp>
#include <troupe/messages/caf_types.hpp>

#include <troupe/sim/advance.hpp>

#include <caf/all.hpp>

#include <tbb/task_arena.h>

namespace troupe {
namespace {

class physics_actor : public bounded_actor {
public:
  physics_actor(caf::actor_config& cfg, PhysicsSetup setup)
    : bounded_actor(cfg, setup.id.mailbox),
      setup_(std::move(setup)),
      arena_(static_cast<int>(setup_.threads)),
      parallel_(setup_.threads > 1 ? sim::Parallel::in_arena(arena_) : sim::Parallel::sequential()),
      settings_(physics_settings(setup_.params)) {}

  caf::behavior make_behavior() override {
    return {
      [this](step_atom, StepRequest& request) -> StepResult { return step(request); },
      [this](report_atom) { return report(); },
    };
  }

private:
  StepResult step(StepRequest& request) {
    setup_.chaos.strike(request.tick);
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
    const auto stats = sim::step_tick(*world, settings_, parallel_, result.contacts);
    result.world = std::move(world);
    result.step_ms = static_cast<double>(steady_now_ns() - start) / 1e6;
    step_ms_.add(result.step_ms);
    contacts_ += stats.contacts;
    events_ += result.contacts.size();
    return result;
  }

  ActorReport report() {
    auto out = make_report(setup_.id, mailbox_stats());
    out.counters = {{"steps", static_cast<double>(step_ms_.size())},
                    {"threads", static_cast<double>(setup_.threads)},
                    {"contacts", static_cast<double>(contacts_)},
                    {"contact_events", static_cast<double>(events_)},
                    {"world_copies", static_cast<double>(world_copies_)}};
    out.distributions = {{"step_ms", step_ms_.percentiles()}};
    out.series = {{"step_ms", step_ms_.series()}};
    return out;
  }

  PhysicsSetup setup_;
  tbb::task_arena arena_;
  sim::Parallel parallel_;
  sim::PhysicsSettings settings_;
  SampleRecorder step_ms_;
  std::uint64_t contacts_ = 0;
  std::uint64_t events_ = 0;
  std::uint64_t world_copies_ = 0; ///< requests whose world was shared
};

} // namespace

sim::PhysicsSettings physics_settings(const config::PhysicsParams& params) {
  sim::PhysicsSettings settings;
  settings.substeps = params.substeps;
  settings.iterations = params.iterations;
  settings.friction = static_cast<float>(params.friction);
  settings.contact_event_speed = static_cast<float>(params.contact_event_speed);
  return settings;
}

caf::actor spawn_physics(caf::actor_system& sys, PhysicsSetup setup) {
  return sys.spawn<physics_actor, caf::detached>(std::move(setup));
}

} // namespace troupe
