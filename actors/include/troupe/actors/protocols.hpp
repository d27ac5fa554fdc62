#pragma once
/// \file The typed protocols of the four roles (docs/architecture.md, "One
/// tick"): every message an actor of a role takes, who sends it, and what it
/// answers. The one-tick data path reads from here:
///
///   source --CommandBatch--> coordinator --(step, StepRequest)--> stepper
///   source <--(ack, tick, seq)-- coordinator <--StepResult-------- stepper
///   coordinator --ContactBatch, Snapshot | CompactSnapshot--> readers
///
/// A stepper run as regions (docs/architecture.md, "Regions"):
///
///   coordinator --(step, RegionStep)--> each region --RegionParcel--> every other region
///   coordinator <--RegionStepped------- each region --Snapshot part--> readers
///
/// Each role's actor builds its behaviour as `X_actor::behavior_type{...}`, so
/// the compiler checks its handlers against this list, and talks to the other
/// roles through typed handles, so every send and every answer is checked too.
/// Stable names (supervisor.hpp) are untyped actors that forward to the
/// current incarnation: they are cast to these handles.
///
/// CAF 0.17 typed actors; included by actors/ sources only (CAF is heavy).

#include <troupe/messages/caf_types.hpp>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace troupe {

/// The stepper (kind "physics"). Messages come from the coordinator.
using stepper_actor = caf::typed_actor<
  /// Step this world one tick (sim::step_tick); the world is handed over.
  caf::replies_to<step_atom, StepRequest>::with<StepResult>,
  /// The end-of-run report (from the runtime).
  caf::replies_to<report_atom>::with<ActorReport>>;

/// One region of a stepper run as regions (kind "physics" with regions > 1).
using region_actor = caf::typed_actor<
  /// From the runtime: every region's stable name, by index, and the coordinator.
  caf::reacts_to<connect_atom, std::vector<caf::actor>, caf::actor>,
  /// From the coordinator: step the bodies held through this plan.
  caf::replies_to<step_atom, RegionStep>::with<RegionStepped>,
  /// From another region: its parcel for this region in a tick.
  caf::reacts_to<RegionParcel>,
  /// From a restarted region (index): send it your parcel of this tick again.
  caf::reacts_to<resend_atom, std::uint64_t, std::uint32_t>,
  /// From the coordinator: be at this tick, of this epoch, from here on: what
  /// the region holds if it is there, else its piece of the cut at that tick
  /// (or the run's start). Answers the tick it holds.
  caf::replies_to<restore_atom, std::uint64_t, std::uint32_t>::with<std::uint64_t>,
  /// From the coordinator: a reader's subscription, as the coordinator took it.
  caf::reacts_to<subscribe_atom, caf::actor, std::string, std::uint8_t, std::uint64_t, std::uint32_t>,
  /// From the coordinator: a recording reader wrote every recorded tick through this one.
  caf::reacts_to<capture_atom, std::string, std::uint64_t>,
  /// From a reader on another node: the newest generation of this region's part it decoded.
  caf::reacts_to<ack_atom, caf::actor, std::uint64_t>,
  /// From a reader's bounded mailbox: a recorded part refused for room.
  caf::reacts_to<rejected_atom, capture_atom, Snapshot>,
  /// The end-of-run report (from the runtime).
  caf::replies_to<report_atom>::with<ActorReport>>;

/// The coordinator (kind "logic").
using coordinator_actor = caf::typed_actor<
  /// From the runtime: the stepper to use (again, after its node came back).
  caf::reacts_to<connect_atom, caf::actor>,
  /// From the runtime: the regions of a stepper run as regions, by index
  /// (again, after a node of theirs came back).
  caf::reacts_to<connect_atom, std::vector<caf::actor>>,
  /// From the runtime: start ticking; progress and the end go to this controller.
  caf::reacts_to<start_atom, caf::actor>,
  /// From a source: its commands, sealed through a tick.
  caf::reacts_to<CommandBatch>,
  /// From a source: a droppable pointer event.
  caf::reacts_to<InputEvent>,
  /// From a reader: subscribe `reader` (its stable name), called `name`, to
  /// `topics` (reader.hpp's Topic bits), recording every N ticks within a window.
  caf::reacts_to<subscribe_atom, caf::actor, std::string, std::uint8_t, std::uint64_t, std::uint32_t>,
  /// From a recording reader: recorded tick written.
  caf::reacts_to<capture_atom, std::string, std::uint64_t>,
  /// From a reader on another node: the newest generation it decoded (0: none).
  caf::reacts_to<ack_atom, caf::actor, std::uint64_t>,
  /// From a kept-contacts reader (by name): every batch through this count of
  /// published events taken.
  caf::reacts_to<ack_atom, std::string, std::uint64_t>,
  /// From a reader's bounded mailbox: a recorded snapshot or kept contact
  /// batch refused for room.
  caf::reacts_to<rejected_atom, capture_atom, Snapshot>, caf::reacts_to<rejected_atom, capture_atom, ContactBatch>,
  /// From a reader (a window closed) or the runtime (a signal): end at this tick.
  caf::reacts_to<done_atom>,
  /// Its own: a paced tick is due; ask the step again; a reload verdict is in;
  /// the rules file changed (--watch).
  caf::reacts_to<tick_atom>, caf::reacts_to<step_atom>, caf::reacts_to<rules_atom, std::uint64_t>,
  /// Its own: ask this region again to be where the world is (a rollback).
  caf::reacts_to<restore_atom, std::uint32_t>,
  /// The end-of-run report (from the runtime).
  caf::replies_to<report_atom>::with<ActorReport>>;

/// The source (kind "input").
using source_actor = caf::typed_actor<
  /// From the runtime: the coordinator to feed (again, after a restart of it).
  caf::reacts_to<connect_atom, caf::actor>,
  /// From the runtime: start sending.
  caf::reacts_to<start_atom>,
  /// From the coordinator: every command through seq is applied, the world is at tick.
  caf::reacts_to<ack_atom, std::uint64_t, std::uint64_t>,
  /// From the coordinator's bounded mailbox: a batch refused for room (resent).
  caf::reacts_to<rejected_atom, CommandBatch>,
  /// Its own: resend after a refusal.
  caf::reacts_to<flush_atom>,
  /// From anyone (a reader's window, a live client, the coordinator's --watch):
  /// a command typed live, in the timeline's text form.
  caf::reacts_to<action_atom, std::string>,
  /// The end-of-run report (from the runtime).
  caf::replies_to<report_atom>::with<ActorReport>>;

/// A reader (every reader kind runs in the reader actor, reader.hpp).
using reader_actor = caf::typed_actor<
  /// From the runtime: the coordinator, the reader's own stable name (it
  /// subscribes with it, so recorded frames wait there while it restarts),
  /// and the source (where its commands go).
  caf::reacts_to<connect_atom, caf::actor, caf::actor, caf::actor>,
  /// From the coordinator, by topic.
  caf::reacts_to<Snapshot>, caf::reacts_to<CompactSnapshot>, caf::reacts_to<ContactBatch>,
  caf::reacts_to<RulesEvent>, caf::reacts_to<capture_atom, Snapshot>,
  /// From the coordinator as a recording reader subscribes: the first recorded
  /// tick it has not seen acknowledged (before it sends those again).
  caf::reacts_to<capture_atom, std::uint64_t>,
  /// From the coordinator (topic_kept_contacts): a tick's contacts, kept there
  /// until acknowledged.
  caf::reacts_to<capture_atom, ContactBatch>,
  /// Its own: a timer of the reader's; the flush's deadline.
  caf::reacts_to<tick_atom>, caf::reacts_to<flush_atom>,
  /// From the runtime at the end of a finished run: deliver everything through
  /// this tick, finish, then report.
  caf::replies_to<flush_atom, std::uint64_t>::with<ActorReport>,
  /// The end-of-run report of a failed run (from the runtime).
  caf::replies_to<report_atom>::with<ActorReport>>;

} // namespace troupe
