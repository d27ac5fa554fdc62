#pragma once
// What an actor that publishes to readers keeps (docs/architecture.md,
// "Readers"): logic publishes the world (or, partitioned, its header) and
// every region publishes its part, the same way. Private to actors/.
//
// - Subscribers by their stable names, with the topics each asked for; a
//   message of a topic goes to its subscribers only.
// - Live snapshots go as they are (a pointer) on this node, compact to a
//   reader on another node (quantized, a delta against the newest
//   generation that reader acknowledged).
// - Recorded snapshots (every N ticks to a recording reader) and, for a reader
//   that asks, every contact batch are kept until the reader acknowledges
//   them, and sent again to its next incarnation (KeptFor).
//
// Threads: used by one incarnation of its owner at a time, on its thread. It
// lives in the owner's kind state, so it outlives incarnations.

#include "subsystems.hpp"

#include <troupe/actors/metrics.hpp>

#include <troupe/messages/caf_types.hpp>
#include <troupe/messages/compact.hpp>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace troupe {

/// What a publisher keeps for one reader until the reader acknowledges it,
/// sent as `(capture_atom, Message)` and again, in order, to each new
/// incarnation of the reader (one on a restarted node too).
template <class Message> struct KeptFor {
  caf::actor reader;             ///< the reader's stable name (null while its node is lost)
  std::deque<Message> unacked;   ///< oldest first

  /// Keeps `message` and sends it (unless the reader's node is lost).
  void keep_and_send(caf::event_based_actor* self, const Message& message) {
    unacked.push_back(message);
    if (reader)
      self->send(reader, capture_atom::value, message);
  }

  /// Sends everything kept to the reader again.
  void resend(caf::event_based_actor* self) const {
    for (const auto& message : unacked)
      self->send(reader, capture_atom::value, message);
  }

  /// Forgets the oldest messages while `taken` says the reader took them.
  template <class Taken> void forget(Taken taken) {
    while (!unacked.empty() && taken(unacked.front()))
      unacked.pop_front();
  }
};

/// A reader that records snapshots (render's frames): it is sent every
/// `every`-th tick's snapshot, `window` of them at most unacknowledged.
struct CaptureLog : KeptFor<Snapshot> {
  std::uint64_t every = 0;
  std::uint32_t window = 1;
};

/// A reader that takes every contact batch (topic_kept_contacts).
using KeptContacts = KeptFor<ContactBatch>;

/// Contact batches a kept-contacts reader may leave unacknowledged before the
/// tick waits (ten seconds at 60 Hz): what bounds the log while its node is lost.
constexpr std::size_t kept_contacts_window = 600;

class Publisher {
public:
  explicit Publisher(std::uint32_t keyframe_every) : keyframe_every_(keyframe_every) {}

  /// `reader` (a stable name) called `name` subscribes, or again, to `topics`
  /// (reader.hpp's Topic bits), recording every `every` ticks within `window`
  /// (every = 0: not recording). A recording reader is sent what it has not
  /// acknowledged. Returns true for a reader not known before (monitor it).
  bool subscribe(caf::event_based_actor* self, const caf::actor& reader, const std::string& name,
                 std::uint8_t topics, std::uint64_t every, std::uint32_t window);

  /// A subscriber went down: forget it. A reader on a lost node keeps its
  /// recorded snapshots (its next incarnation subscribes and gets them); one
  /// its supervisor removed for good stops being recorded for. Returns true
  /// when a recording reader was removed (the owner may tick again).
  bool down(const caf::actor_addr& reader, bool node_lost);

  /// A recording reader wrote every recorded tick through `tick`.
  void captured(const std::string& name, std::uint64_t tick);

  /// A kept-contacts reader took every batch through `published_events`.
  void contacts_taken(const std::string& name, std::uint64_t published_events);

  /// A reader on another node decoded `generation` (0: it holds none).
  void acked(const caf::actor_addr& reader, std::uint64_t generation);

  /// One message, shared by every subscriber of `topic` on this node (and
  /// serialized once per link to another).
  void broadcast(caf::event_based_actor* self, std::uint8_t topic, const caf::message& message);

  /// A tick's contacts to every subscriber of contacts, and, kept until
  /// acknowledged, to every kept-contacts reader.
  void publish_contacts(caf::event_based_actor* self, ContactBatch batch);

  /// A snapshot to every subscriber of snapshots, and to every recording
  /// reader whose turn it is.
  void publish(caf::event_based_actor* self, const Snapshot& snapshot);

  /// Whether some recording reader has `window` snapshots unacknowledged, or
  /// a kept-contacts reader kept_contacts_window batches: the tick waits.
  bool holding() const;

  /// Whether every recorded snapshot through `tick` was written and every
  /// kept contact batch before it taken (a checkpoint at `tick` may be saved:
  /// a run resumed from it loses none).
  bool recorded_through(std::uint64_t tick) const;

  /// A subscription as it was taken.
  struct Subscription {
    caf::actor reader;
    std::string name;
    std::uint8_t topics = 0;
    std::uint64_t every = 0;
    std::uint32_t window = 1;
  };
  /// Every subscription: for an owner that must monitor the readers again (a
  /// new incarnation), or pass the subscriptions on (logic to its regions).
  const std::vector<Subscription>& subscriptions() const { return subscribers_; }

  /// Names of the readers that record.
  std::vector<std::string> recording() const;

  /// Counters for the owner's report: compact snapshots, keyframes and bytes
  /// sent, bytes per moving body, and the microseconds each encode took (what
  /// a reader on another node waits for before the wire).
  struct Counters {
    std::uint64_t compact_sent = 0, keyframes_sent = 0, compact_bytes = 0, compact_moving = 0;
    SampleRecorder bytes_per_moving, encode_us;
  };
  const Counters& counters() const { return counters_; }

private:
  /// A subscriber on another node: its encoder and the newest generation it
  /// acknowledged (the base of the next delta).
  struct Remote {
    SnapshotEncoder encoder;
    std::uint64_t acked = 0;
  };

  std::shared_ptr<SnapshotHistory> history();

  /// The first recorded tick `log`'s reader has not acknowledged: the oldest
  /// kept, or else the next one due after the newest published tick (0: none
  /// published yet, nothing to say).
  std::uint64_t next_recorded(const CaptureLog& log) const;

  std::uint32_t keyframe_every_;
  std::vector<Subscription> subscribers_;
  std::map<caf::actor_addr, Remote> remote_;
  std::shared_ptr<SnapshotHistory> history_;
  std::map<std::string, CaptureLog> captures_; ///< by reader name
  std::map<std::string, KeptContacts> kept_;   ///< by reader name
  Counters counters_;
  std::optional<std::uint64_t> published_tick_; ///< the newest published snapshot's tick
};

} // namespace troupe
