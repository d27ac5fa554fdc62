#pragma once
// What the runtime and the built-in kinds share inside actors/: the built-in
// kinds' registrations, the reader actor, and small helpers. Private.

#include <troupe/actors/kinds.hpp>
#include <troupe/actors/reader.hpp>
#include <troupe/actors/subsystem.hpp>
#include <troupe/config/topology.hpp>
#include <troupe/live/telemetry.hpp>
#include <troupe/messages/messages.hpp>
#include <troupe/sim/regions.hpp>

#include <caf/fwd.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace troupe {

/// Puts the calling thread, and the threads it starts from then on, under
/// Linux SCHED_BATCH: it keeps its share of the CPU but no longer preempts the
/// running thread each time it wakes (docs/architecture.md, "Scheduling").
/// False when not done (another OS, or refused).
bool stop_preempting_on_wakeup();

/// A config triple [x, y, z] as a sim vector.
inline sim::Vec3 vec3(const std::array<double, 3>& v) {
  return {static_cast<float>(v[0]), static_cast<float>(v[1]), static_cast<float>(v[2])};
}

/// The built-in kinds, each registered from its own file, in start order
/// within their roles.
Subsystem physics_subsystem();
Subsystem logic_subsystem();
Subsystem input_subsystem();
Subsystem observer_subsystem();
Subsystem audio_subsystem();
Subsystem render_subsystem();

/// How far a reader's recorded snapshots and contacts got, across its
/// incarnations: the next recorded tick it takes (0 = not started), how many
/// it took, and the contact events published through the last batch it took
/// (ContactBatch::published_events).
struct ReaderCursor {
  std::mutex mutex;
  std::uint64_t next_recorded = 0;
  std::uint64_t recorded = 0;
  std::uint64_t contacts_through = 0;
  /// Recorded ticks taken whose outputs a worker of the kind still writes
  /// (ReaderContext::finish_recorded_later): not acknowledged yet.
  std::set<std::uint64_t> unfinished;
  /// Acknowledges a recorded tick to logic, from any thread (a worker's
  /// RecordedDone); holds the coordinator weakly, so a worker that finishes
  /// after the run ended sends nothing.
  std::function<void(std::uint64_t tick)> acknowledge;
};

/// Spawns one incarnation of a reader kind (reader.cpp): the reader actor that
/// runs `kind.make_reader`'s Reader.
caf::actor spawn_reader(caf::actor_system& sys, const Subsystem& kind, const ActorContext& ctx,
                        std::shared_ptr<ReaderCursor> cursor);

/// The physics kind run as regions (region.cpp): what a region keeps across
/// incarnations (its cell of the starting world), and one incarnation.
Expected<std::shared_ptr<void>> prepare_region(const ActorContext& ctx);
caf::actor spawn_region(caf::actor_system& sys, const ActorContext& ctx);

/// How a world run as regions is cut at the start: evenly over its arena,
/// into the cells the physics params ask for.
sim::Layout starting_layout(const sim::Arena& arena, const PhysicsParams& params);

/// The identity and mailbox part of an actor's report.
ActorReport make_report(const config::ActorSpec& spec, const MailboxStats& mailbox);

/// An actor's labels on the live metrics: node, actor, kind.
live::Labels labels_of(const config::ActorSpec& spec);

} // namespace troupe
