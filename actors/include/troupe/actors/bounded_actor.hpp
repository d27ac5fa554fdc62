#pragma once
/// \file An event-based actor with a bounded mailbox (DESIGN.md, Mailboxes).
///
/// CAF 0.17 mailboxes are unbounded, so admission happens in `enqueue`, on the
/// sender's thread: ordinary messages wait in a fixed-capacity queue of ours and
/// are handed to CAF's mailbox one at a time; `consume` tells when the actor took
/// one, and the next goes in. So at most `capacity` messages wait, plus the one
/// in delivery, whatever producers do, local or remote.
///
/// Never bounded: system messages (exit, down, errors), responses, and urgent
/// messages. Never dropped: command batches (`reliable` messages) are refused
/// back to their sender (`rejected_atom`) when there is no room, whatever the
/// policy, because the sender keeps them until acknowledged and resends.

#include <troupe/config/topology.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/event_based_actor.hpp>
#include <caf/mailbox_element.hpp>

#include <deque>
#include <mutex>

namespace troupe {

/// Base of every troupe subsystem actor.
class bounded_actor : public caf::event_based_actor {
public:
  using super = caf::event_based_actor;

  bounded_actor(caf::actor_config& cfg, config::MailboxSpec spec);

  using super::enqueue;

  /// Admission control; runs on the sender's thread.
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override;

  /// Counters so far. Thread-safe.
  MailboxStats mailbox_stats() const;

  /// Messages waiting right now (not counting the one in delivery). Thread-safe.
  std::size_t mailbox_depth() const;

protected:
  /// Tells when the actor took a message; moves the next waiting one in.
  caf::invoke_message_result consume(caf::mailbox_element& x) override;

  /// Bounces waiting requests and drops the rest on termination.
  bool cleanup(caf::error&& reason, caf::execution_unit* host) override;

private:
  enum class Verdict { admit, drop_new, reject_new };

  /// Decides what happens to `incoming` when the queue is full; may evict a
  /// waiting message into `evicted`. Caller holds `mtx_`.
  Verdict make_room(const caf::mailbox_element& incoming, caf::mailbox_element_ptr& evicted);

  /// Removes the waiting message of the same type as `incoming` (for `latest`).
  caf::mailbox_element_ptr take_same_type(const caf::mailbox_element& incoming);

  /// Drops a message: requests get an error response so no one waits forever.
  void discard(caf::mailbox_element_ptr ptr, errc why, caf::execution_unit* eu);

  /// Hands a refused reliable message back to its sender.
  void refuse(caf::mailbox_element_ptr ptr, caf::execution_unit* eu);

  const config::MailboxSpec spec_;
  mutable std::mutex mtx_;
  std::deque<caf::mailbox_element_ptr> waiting_;
  const caf::mailbox_element* in_delivery_ = nullptr; // guarded by mtx_
  bool closed_ = false;                                // guarded by mtx_
  MailboxStats stats_;                                 // guarded by mtx_
};

/// True for messages that must never be dropped (commands).
bool is_reliable(const caf::mailbox_element& x);

} // namespace troupe
