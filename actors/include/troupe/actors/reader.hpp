#pragma once
/// \file Readers: the kinds that take what logic publishes (docs/architecture.md,
/// "Readers"). A reader kind implements `Reader`; the runtime runs it in one
/// reader actor shared by every reader kind (observer, audio and render
/// included), which does what each would otherwise write again:
/// - subscribes to logic through the reader's stable name, by topic: only the
///   topics asked for are sent (`Subscription`);
/// - decodes compact snapshots from a logic on another node and acknowledges
///   them (a reader always sees a whole `Snapshot`);
/// - delivers live snapshots in generation order, never one twice, never an
///   older one (a slow reader skips generations: its mailbox keeps the newest);
/// - delivers recorded snapshots (every `record_every` ticks) exactly once per
///   tick across incarnations and in tick order, acknowledging each after
///   `on_recorded` returned (or, for one a reader finishes on a worker of its
///   own, after that worker called the `RecordedDone` it was given), so logic
///   holds the tick while `record_window` are outstanding and a run records
///   the same frames whatever crashes;
/// - injects faults (`--chaos`), flushes at the end of the run (waits for the
///   last snapshot and recorded frame, then `on_finish`) and counts what came.
///
/// Threads: every hook of one reader runs on that reader's thread, one at a
/// time, in the order its messages came; the reader's own thread when its
/// kind is `blocking`, a CAF worker otherwise. Hooks never run concurrently
/// with each other, so a Reader needs no locks of its own.

#include <troupe/actors/subsystem.hpp>
#include <troupe/messages/messages.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace troupe {

/// What a reader takes from logic (bits of Subscription::topics).
enum Topic : std::uint8_t {
  topic_snapshots = 1 << 0,       ///< the newest world, after every tick (`latest`)
  topic_contacts = 1 << 1,        ///< the impacts of every tick (before its snapshot)
  topic_rules_events = 1 << 2,    ///< rules plugins installed, rejected, rolled back
  topic_recorded_frames = 1 << 3, ///< every record_every-th tick's world, never dropped
  /// The impacts of every tick, none lost (instead of topic_contacts): logic
  /// keeps each batch until the reader took it and sends it again to its next
  /// incarnation (its node's too); the tick waits while 600 are outstanding.
  topic_kept_contacts = 1 << 4,
};

/// What a reader subscribes to.
struct Subscription {
  std::uint8_t topics = topic_snapshots;
  std::uint64_t record_every = 0;  ///< with topic_recorded_frames: every N ticks
  std::uint32_t record_window = 1; ///< recorded snapshots unwritten before logic holds the tick
};

/// Says that a recorded snapshot's outputs are written: call it once, from any
/// thread (see ReaderContext::finish_recorded_later).
using RecordedDone = std::function<void()>;

/// What a reader's hooks may ask of the runtime (on the reader's thread).
class ReaderContext {
public:
  virtual ~ReaderContext() = default;
  /// The actor's name in the topology.
  virtual const std::string& actor_name() const = 0;
  /// Sends `action` ("pause", "spawn 0 5 0 0 0 0 0.5") to the source as a live
  /// command: it is scheduled, numbered and logged like a timeline's, so a
  /// replay gives the same hash. Refused by a source that is not live.
  virtual void command(const std::string& action) = 0;
  /// Ends the run at logic's current tick (a window was closed).
  virtual void end_run() = 0;
  /// Calls `on_timer` once after `delay`.
  virtual void after(std::chrono::nanoseconds delay) = 0;
  /// Prints one line for the user (the node's terminal or log).
  virtual void say(const std::string& line) = 0;
  /// Subscribes again with the reader's current `subscription()` (it changed:
  /// a reader that lost its device declines recorded frames).
  virtual void resubscribe() = 0;
  /// Only inside `on_recorded`: the snapshot's outputs are finished later, off
  /// the reader's thread (a frame encoded on a worker). The tick counts as
  /// taken at once (no later incarnation gets it again), but logic counts it
  /// outstanding against `record_window` until the returned RecordedDone ran.
  /// So the work must outlive the reader: keep the worker in the kind's state
  /// (it survives restarts), and wait for it in `on_finish`.
  virtual RecordedDone finish_recorded_later() = 0;
  /// Lets the reader's thread, and the threads it starts from then on (a
  /// software Vulkan driver's), keep their share of the CPU without preempting
  /// the simulation's threads each time they wake (Linux SCHED_BATCH). For
  /// heavy work that is not bound to a deadline: drawing, an offline mix. On
  /// two cores a woken renderer or mixer otherwise took the core of the
  /// worker about to hand the next snapshot to a reader. Only a kind with a
  /// thread of its own (`blocking`) changes anything; false when not done.
  virtual bool yield_to_simulation() = 0;
};

/// A reader kind's behaviour. Every hook has a default that does nothing.
class Reader {
public:
  virtual ~Reader() = default;
  /// What to subscribe to; asked whenever the reader (re)subscribes.
  virtual Subscription subscription() const { return {}; }
  /// The newest world (topic_snapshots).
  virtual void on_snapshot(const Snapshot& /*snapshot*/, ReaderContext& /*ctx*/) {}
  /// The impacts of one tick (topic_contacts), before that tick's snapshot.
  virtual void on_contacts(const ContactBatch& /*batch*/, ReaderContext& /*ctx*/) {}
  /// What became of a rules plugin (topic_rules_events).
  virtual void on_rules_event(const RulesEvent& /*event*/, ReaderContext& /*ctx*/) {}
  /// A recorded world (topic_recorded_frames): exactly once per recorded tick,
  /// in tick order. Throw to fail the reader: the next incarnation gets the
  /// same snapshot again.
  virtual void on_recorded(const Snapshot& /*snapshot*/, ReaderContext& /*ctx*/) {}
  /// A timer asked for with ReaderContext::after is due.
  virtual void on_timer(ReaderContext& /*ctx*/) {}
  /// The run ended at `final_tick` and every snapshot and recorded world up to
  /// it was delivered (or the wait for them timed out): finish files.
  virtual void on_finish(std::uint64_t /*final_tick*/, ReaderContext& /*ctx*/) {}
  /// Adds to the actor's report: counters, distributions, series, notes. The
  /// identity, the mailbox and the reader actor's own counters are in `out`
  /// already (a counter of the same name may be set again: set_counter).
  virtual void report(ActorReport& /*out*/) const {}
};

/// Sets counter `name` of `report` to `value` (adds it when missing).
void set_counter(ActorReport& report, const std::string& name, double value);

} // namespace troupe
