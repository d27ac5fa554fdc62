#pragma once
/// \file Every message troupe actors exchange, as plain aggregates. Two codecs
/// stand beside them: Boost.Serialization (codec.hpp: checkpoints and the wire
/// payload) and CAF's `inspect` (caf_types.hpp, which carries the Boost bytes in a
/// WireEnvelope). Neither is needed to build or read these types.
///
/// Messages are immutable once sent: worlds travel as shared_ptr<const World>, so
/// an in-process hand-off copies a pointer, never the bodies.

#include <troupe/sim/advance.hpp>
#include <troupe/sim/physics.hpp>
#include <troupe/sim/regions.hpp>
#include <troupe/sim/rules.hpp>
#include <troupe/sim/world.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace troupe {

/// Wire protocol version: bumped on any change of a message's encoding. A peer
/// speaking another version is refused (errc::protocol_mismatch). The message
/// types that cross node boundaries are listed in wire.hpp.
inline constexpr std::uint32_t protocol_version = 11;

/// A world nobody may change any more.
using WorldPtr = std::shared_ptr<const sim::World>;

/// One user intent (sim/advance.hpp): `(tick, source, seq)` is its canonical order.
using Command = sim::Command;

/// Commands from one source, plus a promise: the source will send no further
/// command for any tick <= sealed_through. Logic runs tick T only when every
/// source has sealed T, which makes runs deterministic whatever the timing.
struct CommandBatch {
  std::uint32_t source = 0;
  std::uint64_t sealed_through = 0;
  std::vector<Command> commands;
};

/// A droppable input event (pointer motion and the like): it never changes the
/// world, so losing it under a burst is harmless. Commands are the lossless
/// channel.
struct InputEvent {
  std::uint32_t source = 0;
  std::uint64_t seq = 0;
  sim::Vec3 pointer;
};

/// Per source, the last applied command seq: the acknowledgement input waits for.
struct SourceAck {
  std::uint32_t source = 0;
  std::uint64_t seq = 0;
};

/// The world after a tick, as published by logic. A reader never sees the same
/// generation twice nor goes backwards.
///
/// A partitioned world (docs/architecture.md, "Regions") is published in
/// pieces of one generation: logic's has `parts` = N and a world of settings
/// only (sim::header_world); region i publishes `part` = i with a world of its
/// bodies (sim::part_world). The reader actor puts them together
/// (sim::assemble_parts): a reader kind only ever sees whole worlds.
struct Snapshot {
  std::uint64_t generation = 0; ///< +1 per publication
  std::uint64_t tick = 0;       ///< world->tick
  WorldPtr world;
  std::vector<SourceAck> acks;  ///< sorted by source (logic's only)
  std::uint64_t world_hash = 0; ///< sim::world_hash of the whole world
  std::int64_t published_ns = 0; ///< steady clock at publication (same host only)
  std::uint32_t parts = 0;       ///< 0: a whole world; N: a piece of a world in N regions
  std::uint32_t part = 0;        ///< which region's (with parts > 0); parts itself for logic's
};

/// Whether a snapshot is logic's piece of a partitioned world (its header).
inline bool is_header(const Snapshot& s) { return s.parts > 0 && s.part == s.parts; }

/// Logic asks physics for one step of `world`: the world after the tick's
/// commands and rules (sim::prepare_tick). Logic keeps no reference to it, so
/// physics steps it in place: one copy of the world per tick in a process.
struct StepRequest {
  std::uint64_t tick = 0; ///< world->tick, the tick being stepped
  std::shared_ptr<sim::World> world;
};

/// Physics answers with the stepped world and the impacts of the step.
struct StepResult {
  std::uint64_t tick = 0; ///< the tick that was stepped (world->tick - 1)
  WorldPtr world;
  std::vector<sim::ContactEvent> contacts;
  double step_ms = 0.0; ///< time the step took on the physics node
};

/// Logic asks each region for one tick of a partitioned world: the same plan
/// for every region (each applies what concerns the bodies it holds).
struct RegionStep {
  std::shared_ptr<const sim::TickPlan> plan;
  std::uint64_t generation = 0; ///< the generation logic publishes after the tick: parts carry it
  bool checkpoint = false;      ///< write this region's piece of a cut after the tick
  /// +1 each time logic rolls the regions back to a cut: a plan or parcel of
  /// another epoch is from before (or after) a rollback and is not used.
  std::uint32_t epoch = 0;
};

/// What one region sends another in a tick (sim::Parcel): bodies that change
/// owner, and ghosts to read.
struct RegionParcel {
  std::uint64_t tick = 0; ///< the tick being stepped
  sim::Parcel parcel;
  std::uint32_t epoch = 0; ///< RegionStep::epoch
};

/// A region's answer to a RegionStep.
struct RegionStepped {
  sim::RegionReport report;
  double step_ms = 0.0;             ///< the step itself (sim::Region::step)
  double wait_ms = 0.0;             ///< from the plan to the last parcel in
  std::uint64_t exchange_bytes = 0; ///< bodies this region sent the others this tick, in bytes
  std::uint64_t exchange_messages = 0; ///< parcels it sent this tick
  bool checkpointed = false;        ///< its part of this tick's checkpoint is written
};

/// The impacts of one tick, for audio and observers. Sent before the snapshot
/// of the same step, so a reader has every impact of tick t before it learns
/// that tick t is over.
struct ContactBatch {
  std::uint64_t tick = 0;                ///< the tick whose step produced them
  std::vector<sim::ContactEvent> events;
  std::uint64_t published_events = 0;    ///< events logic published so far, this batch included
};

/// A mailbox's counters (docs/architecture.md, "Mailboxes").
struct MailboxStats {
  std::uint32_t capacity = 0;
  std::uint8_t overflow = 0; ///< config::Overflow
  std::uint64_t admitted = 0;
  std::uint64_t dropped = 0;
  std::uint64_t rejected = 0;
  std::uint64_t high_water = 0; ///< most messages held at once
};

/// Distribution of a measured quantity.
struct Percentiles {
  std::uint64_t count = 0;
  double p50 = 0, p95 = 0, p99 = 0, max = 0, mean = 0;
};

/// What one actor reports at the end of a run.
struct ActorReport {
  std::string name;
  std::string kind;
  /// What the runtime does with it: "stepper", "coordinator", "source",
  /// "reader"; or "supervisor" and "links" for the runtime's own entries.
  std::string role;
  std::string node;
  MailboxStats mailbox;
  /// Named counters (commands sent, snapshots seen, generations skipped...).
  std::vector<std::pair<std::string, double>> counters;
  /// Named distributions (tick ms, hand-off us...).
  std::vector<std::pair<std::string, Percentiles>> distributions;
  /// Named series sampled per tick or per snapshot (for plots), decimated.
  std::vector<std::pair<std::string, std::vector<float>>> series;
  /// Named facts in words (the render device, an output file...). Two keys
  /// mean something to the report writers: "summary" (one line for the run's
  /// summary) and "series_per" (what one point of the series is: "tick" when
  /// absent, "snapshot", "frame").
  std::vector<std::pair<std::string, std::string>> notes;
};

/// What became of a rules plugin (plugins/): logic publishes one to its
/// subscribers for every reload it acted on.
struct RulesEvent {
  enum Kind : std::uint8_t {
    installed = 0,   ///< passed its smoke test; runs from `tick` on
    rejected = 1,    ///< did not load or failed its smoke test; the old rules stay
    rolled_back = 2, ///< failed while running; logic restarted with the rules before it
  };
  std::uint8_t kind = installed;
  std::uint64_t tick = 0;  ///< the tick it took effect (installed, rolled back) or was refused
  std::string path;        ///< the file asked for
  std::string name;        ///< the rules' own name and version, when it loaded
  std::string version;
  std::string reason;      ///< why (rejected, rolled back)
};

/// The framing of every message that crosses a node boundary: a protocol
/// version, the message kind (wire.hpp), and its Boost.Serialization payload.
struct WireEnvelope {
  std::uint32_t version = protocol_version;
  std::uint16_t kind = 0;
  std::vector<char> payload;
};

} // namespace troupe
