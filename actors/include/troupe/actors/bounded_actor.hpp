#pragma once
/// \file An event-based actor with a bounded mailbox (docs/architecture.md,
/// "Mailboxes").
///
/// CAF 0.17 mailboxes are unbounded, so admission happens in `enqueue`, on the
/// sender's thread, and `consume` tells when the actor took a message:
/// - `reject`, `drop-newest` and `drop-oldest` stage messages on a lock-free
///   stack and put one drain token into CAF's mailbox; on the token the actor
///   takes a batch (up to 64) from the stack and handles it right there, so
///   each message is queued once and (drop-oldest) what waits beyond the
///   batch can still be evicted. A message that finds the mailbox idle
///   (nothing staged, waiting or being drained) goes to CAF's mailbox itself
///   and carries the token's duty: a lone message costs no token.
/// - `latest` waits in a queue of ours, handed to CAF one at a time (the newest
///   must replace whatever is not handled yet).
/// The staged policies count room as credits, `capacity` in all: a sender takes
/// one from a shard of credits its thread alone uses (mostly), refilled from a
/// pool a batch at a time and, when the pool is dry, from the other shards; the
/// actor gives one back for every message it takes. So senders on different
/// cores do not write one cache line per message between them. The high-water
/// mark is exact at the bound and otherwise sampled every `capacity / 16`
/// messages (at most 64).
/// Either way at most `capacity` messages are held, whatever producers do, local
/// or remote.
///
/// Never bounded: system messages (exit, down, errors), responses, and urgent
/// messages. Never dropped: command batches and recorded frames (`reliable`
/// messages) are refused
/// back to their sender (`rejected_atom`) when there is no room, whatever the
/// policy, because the sender keeps them until acknowledged and resends.

#include <troupe/config/topology.hpp>
#include <troupe/live/telemetry.hpp>
#include <troupe/messages/caf_types.hpp>

#include <troupe/actors/detail/mailbox_queue.hpp>

#include <caf/event_based_actor.hpp>
#include <caf/mailbox_element.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <unordered_set>
#include <vector>

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

  /// Messages held right now (waiting and in the delivery window). Thread-safe.
  std::size_t mailbox_depth() const;


protected:
  /// Tells when the actor took a message; moves the next waiting one in.
  caf::invoke_message_result consume(caf::mailbox_element& x) override;

  /// Bounces waiting requests and drops the rest on termination.
  bool cleanup(caf::error&& reason, caf::execution_unit* host) override;

private:
  enum class Verdict { admit, drop_new, reject_new };

  /// `latest`: decides what happens to `incoming`; may evict a waiting
  /// message into `evicted`. Caller holds `mtx_`.
  Verdict make_room(const caf::mailbox_element& incoming, caf::mailbox_element_ptr& evicted);

  /// Unlinks the oldest waiting message that may be lost, or null. Caller
  /// holds `mtx_`.
  caf::mailbox_element_ptr evict_oldest_droppable() noexcept;

  /// Drops a message: requests get an error response so no one waits forever.
  void discard(caf::mailbox_element_ptr ptr, errc why, caf::execution_unit* eu);

  /// Hands a refused reliable message back to its sender.
  void refuse(caf::mailbox_element_ptr ptr, caf::execution_unit* eu);

  /// `latest`: moves a waiting message into the window: on the actor's
  /// thread after it took one, or on a sender's when nothing is in flight.
  void refill(caf::execution_unit* eu);

  /// `latest`: a message left the window (taken or parked); refills it.
  void leave_window();

  /// `latest`: messages held (waiting, in the window, parked). Caller holds
  /// `mtx_`.
  std::size_t latest_held() const;

  /// Staged policies: whether the caller took the duty to see the stack
  /// drained (nobody held it).
  bool take_drain_duty();

  /// Staged policies: puts a drain token into CAF's mailbox unless one is
  /// there (or being handled) already.
  void ensure_drain(caf::execution_unit* eu);

  /// Staged policies, on the actor's thread after a drain or a message that
  /// carried the duty: gives the duty up, and sends a token if more wait.
  void discharge_drain_duty();

  /// Pushes a message onto the staging stack (lock-free).
  void push_staged(caf::mailbox_element* x);

  /// Staged policies, on the token: handles a batch of staged messages, then
  /// sends the next token if more wait.
  void drain(caf::mailbox_element& token);

  /// Bookkeeping for bounded messages the actor took: their credits back, the
  /// high-water sample.
  void count_taken(std::size_t count);

  /// Staged policies: admission below the bound (lock-free), and at the
  /// bound (drop-oldest, under the lock: evict the oldest droppable message;
  /// the others refuse or drop the new one).
  void enqueue_staged(caf::mailbox_element_ptr ptr, caf::execution_unit* eu);
  void enqueue_full(caf::mailbox_element_ptr ptr, caf::execution_unit* eu);

  /// Moves staged messages, oldest first, to the end of `waiting_`. Caller
  /// holds `mtx_`.
  void stage_into_waiting();

  /// The most messages one drain token handles.
  static constexpr std::size_t max_drain_batch = 64;

  /// Drops everything queued after the actor closed. Takes `mtx_`.
  void discard_queued(caf::execution_unit* eu);

  /// Raises the high-water mark to `held` if it is higher.
  void note_held(std::size_t held);

  /// Staged policies: takes the credit of one message, or says
  /// there is no room.
  bool take_credit();

  /// Staged policies: messages held now (capacity less free credits).
  std::size_t held_by_credits() const;

  const config::MailboxSpec spec_;
  // Every policy but latest: senders stage messages on a lock-free stack while
  // the bound holds (drop-oldest takes the lock only to evict at the bound).
  const bool staged_;
  // Staged policies: messages the actor takes from the stack per token; the rest
  // can still be evicted meanwhile.
  const std::size_t drain_batch_;
  // Staged policies: the high-water mark is sampled this often.
  const std::size_t sample_every_;
  // Credits a shard takes from the pool at once.
  const std::int64_t credit_batch_;
  mutable detail::spin_lock mtx_;
  detail::waiting_queue waiting_;    // guarded by mtx_
  // latest: bounded messages in CAF's mailbox (at most one), raised under
  // mtx_, lowered by the actor.
  std::atomic<std::size_t> in_flight_{0};
  // Messages the behaviour skipped, held by CAF (its mailbox or cache) until
  // taken; the actor's own. latest: they left the window (the count is read
  // under mtx_); staged policies: they carry no duty to drain.
  std::unordered_set<const caf::mailbox_element*> parked_;
  std::atomic<std::size_t> parked_count_{0}; // latest only
  // Staged policies: someone has the duty to see the stack drained (a token
  // or a message that carries the duty is in CAF's mailbox, or being handled).
  std::atomic<bool> drain_pending_{false};
  std::atomic<bool> closed_{false}; // set under mtx_; senders of staged messages read it
  std::atomic<caf::mailbox_element*> staged_head_{nullptr}; // newest first
  std::atomic<std::uint64_t> admitted_{0}; // latest only (the others derive it)
  std::atomic<std::uint64_t> evicted_{0};  // drop-oldest: admitted, then evicted
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> high_water_{0};
  // Staged policies: free room as credits, each on a cache line of
  // its own (shards by sender thread, the pool, the actor's count). The pool
  // holds capacity + consumed_ - pool_taken_: senders take from it with a
  // compare-and-swap, the actor gives back by counting what it took.
  static constexpr std::size_t credit_shards = 8;
  struct alignas(64) CreditShard {
    std::atomic<std::int64_t> credits{0};
  };
  std::array<CreditShard, credit_shards> shards_;
  alignas(64) std::atomic<std::int64_t> pool_taken_{0};
  alignas(64) std::atomic<std::uint64_t> consumed_{0}; // bounded messages the actor took (its writes only)
  std::size_t unsampled_ = 0; // the actor's: taken since the last high-water sample
};

/// Exposes the mailbox of `actor` (a bounded_actor; anything else is left
/// alone) on the live metrics under `labels`, replacing the incarnation
/// before (live::watch_mailbox). Holds no reference that keeps it alive.
void expose_mailbox(const live::Labels& labels, const caf::actor& actor);

/// True for messages the mailbox never bounds (system messages, responses,
/// urgent messages).
bool is_unbounded(const caf::mailbox_element& x);

/// Turns an exception escaping a handler into a troupe::crashed error that keeps
/// its what(), so supervisors and reports can name the cause. Every troupe
/// actor installs it.
caf::error exception_to_error(caf::scheduled_actor*, std::exception_ptr& eptr);

/// True for messages that must never be dropped: commands, and snapshots sent
/// to be recorded (`capture_atom, Snapshot`).
bool is_reliable(const caf::mailbox_element& x);

} // namespace troupe
