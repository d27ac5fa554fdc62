#include <troupe/actors/bounded_actor.hpp>

#include <troupe/messages/caf_types.hpp>
#include <troupe/sim/sanitizer.hpp>

#include <caf/all.hpp>

#include <algorithm>
#include <array>
#include <mutex>
#include <utility>

namespace troupe {

/// CAF's own system traffic, and anything urgent or a response (someone is
/// waiting for it).
bool is_unbounded(const caf::mailbox_element& x) {
  if (x.mid.is_response() || x.is_high_priority())
    return true;
  // System messages are single built-in types: one type-token compare each
  // instead of a virtual type check per candidate (this runs twice a message).
  switch (x.content().type_token()) {
    case caf::make_type_token<caf::exit_msg>():
    case caf::make_type_token<caf::down_msg>():
    case caf::make_type_token<caf::error>():
    case caf::make_type_token<caf::timeout_msg>():
      return true;
    default:
      return false;
  }
}

namespace {

bool same_type(const caf::mailbox_element& a, const caf::mailbox_element& b) {
  const auto& x = a.content();
  const auto& y = b.content();
  if (x.size() != y.size())
    return false;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!y.matches(i, x.type(i)))
      return false;
  return true;
}

} // namespace

bool is_reliable(const caf::mailbox_element& x) {
  const auto& content = x.content();
  return content.match_element<CommandBatch>(0) ||
         (content.size() == 2 && content.match_element<caf::atom_value>(0) &&
          content.get_as<caf::atom_value>(0) == capture_atom::value &&
          (content.match_element<Snapshot>(1) || content.match_element<ContactBatch>(1)));
}

caf::error exception_to_error(caf::scheduled_actor*, std::exception_ptr& eptr) {
  try {
    std::rethrow_exception(eptr);
  } catch (const std::exception& e) {
    return make_error(errc::crashed, e.what());
  } catch (...) {
    return make_error(errc::crashed, "unknown exception");
  }
}

bounded_actor::bounded_actor(caf::actor_config& cfg, config::MailboxSpec spec)
  : super(cfg),
    spec_(spec),
    staged_(spec.overflow != config::Overflow::latest),
    drain_batch_(std::clamp<std::size_t>(spec.capacity / 8, 1, max_drain_batch)),
    sample_every_(std::clamp<std::size_t>(spec.capacity / 16, 1, 64)),
    credit_batch_(static_cast<std::int64_t>(std::clamp<std::size_t>(spec.capacity / (4 * credit_shards), 1, 64))) {
  set_exception_handler(exception_to_error);
}

void detail::waiting_queue::reserve_more(std::size_t more) {
  if (size_ + more <= ring_.size())
    return;
  std::size_t capacity = std::max<std::size_t>(ring_.size(), 16);
  while (capacity < size_ + more)
    capacity *= 2;
  std::vector<caf::mailbox_element*> grown(capacity);
  for (std::size_t i = 0; i < size_; ++i)
    grown[i] = at(i);
  ring_ = std::move(grown);
  head_ = 0;
}

void detail::waiting_queue::push_back(caf::mailbox_element_ptr ptr) {
  reserve_more(1);
  at(size_) = ptr.release();
  ++size_;
}

caf::mailbox_element_ptr detail::waiting_queue::pop_front() noexcept {
  return take_first([](const caf::mailbox_element&) { return true; });
}

void detail::waiting_queue::append_stack(caf::mailbox_element* newest) {
  scratch_.clear();
  for (auto* x = newest; x != nullptr; x = static_cast<caf::mailbox_element*>(x->next))
    scratch_.push_back(x);
  reserve_more(scratch_.size());
  for (auto x = scratch_.rbegin(); x != scratch_.rend(); ++x) {
    (*x)->next = nullptr;
    at(size_++) = *x;
  }
}

void detail::waiting_queue::drain_into(std::vector<caf::mailbox_element_ptr>& out) {
  while (!empty())
    out.push_back(pop_front());
}

void detail::waiting_queue::clear() noexcept {
  while (!empty())
    pop_front();
}

bounded_actor::Verdict bounded_actor::make_room(const caf::mailbox_element& incoming,
                                                caf::mailbox_element_ptr& evicted) {
  const bool reliable = is_reliable(incoming);
  // The newest of a kind from a sender replaces the older one even when there
  // is room (logic's snapshot does not replace a region's part of it).
  if (!reliable && (evicted = waiting_.take_first([&](const caf::mailbox_element& x) {
                      return x.sender == incoming.sender && same_type(x, incoming);
                    })))
    return Verdict::admit;
  if (latest_held() < spec_.capacity)
    return Verdict::admit;
  if ((evicted = evict_oldest_droppable()))
    return Verdict::admit;
  return reliable ? Verdict::reject_new : Verdict::drop_new;
}

caf::mailbox_element_ptr bounded_actor::evict_oldest_droppable() noexcept {
  // Commands and recorded snapshots are never evicted.
  return waiting_.take_first([](const caf::mailbox_element& x) { return !is_reliable(x); });
}

void bounded_actor::note_held(std::size_t held) {
  auto seen = high_water_.load(std::memory_order_relaxed);
  while (held > seen && !high_water_.compare_exchange_weak(seen, held, std::memory_order_relaxed)) {
  }
}

namespace {

/// The credit shard of the calling thread: threads take shards in turn.
std::size_t this_thread_shard(std::size_t shards) {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed);
  return mine % shards;
}

bool take_one(std::atomic<std::int64_t>& credits) {
  auto have = credits.load(std::memory_order_relaxed);
  while (have > 0)
    if (credits.compare_exchange_weak(have, have - 1, std::memory_order_acq_rel, std::memory_order_relaxed))
      return true;
  return false;
}

} // namespace

bool bounded_actor::take_credit() {
  auto& own = shards_[this_thread_shard(credit_shards)].credits;
  if (take_one(own))
    return true;
  // A batch from the pool: one for this message, the rest for the shard.
  const auto capacity = static_cast<std::int64_t>(spec_.capacity);
  auto taken = pool_taken_.load(std::memory_order_acquire);
  for (;;) {
    const auto pool = capacity + static_cast<std::int64_t>(consumed_.load(std::memory_order_acquire)) - taken;
    if (pool <= 0)
      break;
    const auto take = std::min(pool, credit_batch_);
    if (pool_taken_.compare_exchange_weak(taken, taken + take, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
      if (take > 1)
        own.fetch_add(take - 1, std::memory_order_release);
      return true;
    }
  }
  // The pool is dry: room other threads' shards hold is room too.
  for (auto& shard : shards_)
    if (take_one(shard.credits))
      return true;
  note_held(spec_.capacity);
  return false;
}

std::size_t bounded_actor::held_by_credits() const {
  // Given back, then taken: a race can only make the pool look smaller.
  const auto given_back = static_cast<std::int64_t>(consumed_.load(std::memory_order_acquire));
  auto free = static_cast<std::int64_t>(spec_.capacity) + given_back - pool_taken_.load(std::memory_order_acquire);
  for (const auto& shard : shards_)
    free += shard.credits.load(std::memory_order_acquire);
  const auto capacity = static_cast<std::int64_t>(spec_.capacity);
  return static_cast<std::size_t>(std::clamp<std::int64_t>(capacity - free, 0, capacity));
}

void bounded_actor::enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) {
  // CAF's mailbox hand-off is invisible to TSan (uninstrumented library): the
  // sender's writes happen before the handler (see consume).
  sanitizer::release(ptr.get());
  if (is_unbounded(*ptr)) {
    super::enqueue(std::move(ptr), eu);
    return;
  }
  if (staged_) {
    enqueue_staged(std::move(ptr), eu);
    return;
  }
  caf::mailbox_element_ptr evicted;
  caf::mailbox_element_ptr deliver;
  Verdict verdict;
  errc drop_reason = errc::mailbox_dropped;
  {
    std::lock_guard<detail::spin_lock> guard{mtx_};
    if (closed_) {
      verdict = Verdict::drop_new;
      drop_reason = errc::shutting_down;
    } else {
      verdict = make_room(*ptr, evicted);
      if (evicted)
        dropped_.fetch_add(1, std::memory_order_relaxed);
      if (verdict == Verdict::admit) {
        admitted_.fetch_add(1, std::memory_order_relaxed);
        if (waiting_.empty() && in_flight_.load(std::memory_order_relaxed) == 0) {
          // fetch_add, not store: the actor lowers the count without the lock.
          in_flight_.fetch_add(1, std::memory_order_acq_rel);
          deliver = std::move(ptr);
        } else {
          waiting_.push_back(std::move(ptr));
        }
        note_held(latest_held());
      } else if (verdict == Verdict::drop_new) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
      } else {
        rejected_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  // Everything that may run other code (destructors, sends) happens unlocked.
  if (evicted)
    discard(std::move(evicted), errc::mailbox_dropped, eu);
  if (deliver)
    super::enqueue(std::move(deliver), eu);
  else if (ptr && verdict == Verdict::reject_new)
    refuse(std::move(ptr), eu);
  else if (ptr)
    discard(std::move(ptr), drop_reason, eu);
}

namespace {

/// The drain token of a staged mailbox. Never announced to CAF, so no
/// peer can send one: only bounded_actor makes it.
struct drain_token {};

/// Messages a drain asks the memory for ahead of the one it handles.
constexpr std::size_t prefetch_ahead = 4;

caf::mailbox_element_ptr make_drain_token() {
  return caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, drain_token{});
}

} // namespace

void bounded_actor::enqueue_staged(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) {
  if (!take_credit()) {
    enqueue_full(std::move(ptr), eu);
    return;
  }
  // A sender that takes the drain duty (nobody held it) must see the stack
  // drained. When nothing is staged or waiting either (an idle mailbox: a
  // step request, a command now and then), the message itself goes to CAF's
  // mailbox and carries the duty (consume discharges it), so a lone message
  // costs no token. Under the lock: the actor's moves from the stack to the
  // ring are atomic then.
  const bool duty = take_drain_duty();
  if (duty) {
    bool idle = false;
    {
      std::lock_guard<detail::spin_lock> guard{mtx_};
      idle = !closed_.load(std::memory_order_relaxed) &&
             staged_head_.load(std::memory_order_seq_cst) == nullptr && waiting_.empty();
    }
    if (idle) {
      super::enqueue(std::move(ptr), eu);
      return;
    }
  }
  push_staged(ptr.release());
  if (closed_.load(std::memory_order_seq_cst))
    discard_queued(eu); // an actor that closed meanwhile left it to us
  else if (duty)
    super::enqueue(make_drain_token(), eu);
  else
    ensure_drain(eu);
}

void bounded_actor::push_staged(caf::mailbox_element* x) {
  auto* head = staged_head_.load(std::memory_order_relaxed);
  do
    x->next = head;
  while (!staged_head_.compare_exchange_weak(head, x, std::memory_order_seq_cst, std::memory_order_relaxed));
}

bool bounded_actor::take_drain_duty() {
  return !drain_pending_.load(std::memory_order_seq_cst) && !drain_pending_.exchange(true, std::memory_order_seq_cst);
}

void bounded_actor::ensure_drain(caf::execution_unit* eu) {
  // Pushed, then looked (both seq_cst): either the actor, clearing the flag
  // and then looking at the queue, finds this message, or this sender sees
  // the flag clear and sends a token (one of them does if both try).
  if (take_drain_duty())
    super::enqueue(make_drain_token(), eu);
}

void bounded_actor::discharge_drain_duty() {
  // Cleared, then looked (see ensure_drain).
  drain_pending_.store(false, std::memory_order_seq_cst);
  bool more = false;
  {
    std::lock_guard<detail::spin_lock> guard{mtx_};
    more = (!waiting_.empty() || staged_head_.load(std::memory_order_seq_cst)) &&
           !closed_.load(std::memory_order_relaxed);
  }
  if (more)
    ensure_drain(context());
}

void bounded_actor::drain(caf::mailbox_element& token) {
  std::array<caf::mailbox_element_ptr, max_drain_batch> batch;
  std::size_t count = 0;
  {
    std::lock_guard<detail::spin_lock> guard{mtx_};
    if (closed_.load(std::memory_order_relaxed))
      return;
    // Every time, not only when `waiting_` runs short: a short chain of
    // messages just sent is walked faster than a long one gone cold.
    stage_into_waiting();
    while (count < drain_batch_ && !waiting_.empty())
      batch[count++] = waiting_.pop_front();
  }
  // Handled here, as CAF's loop would. A message the behaviour skips goes on
  // into CAF's mailbox, whose loop keeps it in its cache until the behaviour
  // takes it (CAF's cache cannot be written from inside that loop, which runs
  // this token). Room goes back at the end of the batch, in one write.
  std::size_t taken = 0;
  std::size_t next = 0;
  auto drop_rest = [&] { // as on exit: requests are answered
    for (; next < count; ++next)
      discard(std::move(batch[next]), errc::shutting_down, context());
  };
  while (next < count) {
    // The messages are where they were written, cold in a flood: ask for a
    // few ahead while handling this one.
    if (next + prefetch_ahead < count)
      __builtin_prefetch(batch[next + prefetch_ahead].get());
    auto ptr = std::move(batch[next++]);
    sanitizer::acquire(ptr.get());
    try {
      if (super::consume(*ptr) == caf::invoke_message_result::skipped) {
        parked_.insert(ptr.get()); // it carries no duty to drain (see consume)
        sanitizer::release(ptr.get());
        super::enqueue(std::move(ptr), context());
      } else
        ++taken;
    } catch (...) {
      count_taken(taken + 1);
      // CAF answers the message it was handling (the token); the request that
      // threw is ours to answer, and the rest of the batch goes as on exit.
      auto eptr = std::current_exception();
      if (ptr->mid.is_request())
        make_response_promise().deliver(exception_to_error(this, eptr));
      drop_rest();
      current_mailbox_element(&token); // CAF's loop goes on with the token, not a freed message
      throw;
    }
    if (!alive()) { // it is done (CAF's own test, in finalize): the rest goes as on exit
      count_taken(taken);
      drop_rest();
      return;
    }
  }
  count_taken(taken);
  discharge_drain_duty();
}

void bounded_actor::enqueue_full(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) {
  caf::mailbox_element_ptr evicted;
  bool closed = false;
  if (spec_.overflow != config::Overflow::drop_oldest) {
    // reject and drop-newest never touch a queued message.
    closed = closed_.load(std::memory_order_seq_cst);
  } else {
    std::lock_guard<detail::spin_lock> guard{mtx_};
    closed = closed_.load(std::memory_order_relaxed);
    if (!closed) {
      // Evict the oldest message that may be lost (commands never are): the
      // new one takes its place and its credit.
      stage_into_waiting();
      evicted = evict_oldest_droppable();
      if (evicted) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        evicted_.fetch_add(1, std::memory_order_relaxed);
        waiting_.push_back(std::move(ptr));
      }
    }
  }
  if (evicted) {
    discard(std::move(evicted), errc::mailbox_dropped, eu);
    ensure_drain(eu);
  } else if (closed) {
    discard(std::move(ptr), errc::shutting_down, eu);
  } else if (is_reliable(*ptr) || spec_.overflow == config::Overflow::reject) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    refuse(std::move(ptr), eu);
  } else {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    discard(std::move(ptr), errc::mailbox_dropped, eu);
  }
}

void bounded_actor::stage_into_waiting() {
  waiting_.append_stack(staged_head_.exchange(nullptr, std::memory_order_seq_cst));
}

void bounded_actor::discard_queued(caf::execution_unit* eu) {
  std::vector<caf::mailbox_element_ptr> left;
  {
    std::lock_guard<detail::spin_lock> guard{mtx_};
    stage_into_waiting();
    waiting_.drain_into(left);
  }
  for (auto& ptr : left)
    discard(std::move(ptr), errc::shutting_down, eu);
}

caf::invoke_message_result bounded_actor::consume(caf::mailbox_element& x) {
  sanitizer::acquire(&x);
  if (staged_ && x.content().match_elements<drain_token>()) {
    drain(x);
    current_mailbox_element(&x); // CAF's loop goes on with the token, not a freed message
    return caf::invoke_message_result::consumed;
  }
  // Every message that is not unbounded came through our admission (classify
  // before the handler may move the content out).
  const bool bounded = !is_unbounded(x);
  if (!bounded)
    return super::consume(x);
  if (staged_) {
    // A bounded message in CAF's mailbox came from a sender that found the
    // mailbox idle and carries the duty to drain what was staged behind it,
    // unless it is parked: skipped by the behaviour once already (it gave the
    // duty up then, or a drain put it there). The duty is given up once,
    // whatever the handler does: kept, the staged messages would wait for a
    // token nobody sends; given up twice, two tokens could be in flight and
    // the later one hand over messages ahead of parked ones.
    const bool parked = !parked_.empty() && parked_.count(&x) > 0;
    caf::invoke_message_result result;
    try {
      result = super::consume(x);
    } catch (...) {
      if (!parked)
        discharge_drain_duty();
      throw;
    }
    if (result == caf::invoke_message_result::skipped) {
      if (!parked) {
        parked_.insert(&x);
        discharge_drain_duty();
      }
      return result;
    }
    count_taken(1);
    if (parked)
      parked_.erase(&x);
    else
      discharge_drain_duty();
    return result;
  }
  auto result = super::consume(x);
  if (result == caf::invoke_message_result::skipped) {
    // latest: a message the behaviour skips waits in CAF's cache; it leaves
    // the window (or nothing would come after it) and stays held, parked.
    if (parked_.insert(&x).second) {
      parked_count_.fetch_add(1, std::memory_order_acq_rel);
      leave_window();
    }
    return result;
  }
  count_taken(1);
  if (!parked_.empty() && parked_.erase(&x) > 0) {
    parked_count_.fetch_sub(1, std::memory_order_acq_rel);
    return result;
  }
  leave_window();
  return result;
}

void bounded_actor::leave_window() {
  // latest: producers add to the window only while `waiting_` is empty, so
  // once one waits, what is in flight falls to zero: then we look (under the
  // lock) and refill.
  if (in_flight_.fetch_sub(1, std::memory_order_seq_cst) == 1)
    refill(context());
}

std::size_t bounded_actor::latest_held() const {
  return waiting_.size() + in_flight_.load(std::memory_order_relaxed) +
         parked_count_.load(std::memory_order_relaxed);
}

void bounded_actor::count_taken(std::size_t count) {
  if (count == 0)
    return;
  if (staged_ && (unsampled_ += count) >= sample_every_) { // these still count as held
    unsampled_ = 0;
    note_held(held_by_credits());
  }
  // Their room, back: the pool is what senders took from it less what the
  // actor took, so giving back is one plain store of the single writer.
  consumed_.store(consumed_.load(std::memory_order_relaxed) + count, std::memory_order_release);
}

void bounded_actor::refill(caf::execution_unit* eu) {
  caf::mailbox_element_ptr deliver;
  {
    std::lock_guard<detail::spin_lock> guard{mtx_};
    if (closed_.load(std::memory_order_relaxed))
      return;
    // Only the actor lowers in_flight_ (maybe right now): room is never
    // overestimated, and an actor that empties its window refills itself.
    if (waiting_.empty() || in_flight_.load(std::memory_order_seq_cst) > 0)
      return;
    deliver = waiting_.pop_front();
    in_flight_.fetch_add(1, std::memory_order_acq_rel);
  }
  super::enqueue(std::move(deliver), eu);
}

bool bounded_actor::cleanup(caf::error&& reason, caf::execution_unit* host) {
  std::vector<caf::mailbox_element_ptr> left;
  {
    std::lock_guard<detail::spin_lock> guard{mtx_};
    closed_.store(true, std::memory_order_seq_cst);
    stage_into_waiting();
    waiting_.drain_into(left);
  }
  for (auto& ptr : left)
    discard(std::move(ptr), errc::shutting_down, host);
  return super::cleanup(std::move(reason), host);
}

void bounded_actor::discard(caf::mailbox_element_ptr ptr, errc why, caf::execution_unit* eu) {
  if (ptr->mid.is_request() && ptr->sender) {
    auto origin = std::move(ptr->sender);
    origin->enqueue(nullptr, ptr->mid.response_id(), caf::make_message(make_error(why)), eu);
  }
}

void bounded_actor::refuse(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) {
  if (ptr->mid.is_request()) {
    discard(std::move(ptr), errc::mailbox_full, eu);
    return;
  }
  if (!ptr->sender)
    return;
  auto origin = ptr->sender;
  auto returned = caf::make_message(rejected_atom::value);
  returned = returned + ptr->move_content_to_message();
  origin->enqueue(caf::actor_cast<caf::strong_actor_ptr>(ctrl()), caf::make_message_id(),
                  std::move(returned), eu);
}

MailboxStats bounded_actor::mailbox_stats() const {
  MailboxStats out;
  out.capacity = spec_.capacity;
  out.overflow = static_cast<std::uint8_t>(spec_.overflow);
  // Everything that went in, evicted or not.
  out.admitted = staged_ ? consumed_.load(std::memory_order_relaxed) + held_by_credits() +
                               evicted_.load(std::memory_order_relaxed)
                           : admitted_.load(std::memory_order_relaxed);
  out.dropped = dropped_.load(std::memory_order_relaxed);
  out.rejected = rejected_.load(std::memory_order_relaxed);
  out.high_water = high_water_.load(std::memory_order_relaxed);
  return out;
}

std::size_t bounded_actor::mailbox_depth() const {
  if (staged_)
    return held_by_credits();
  std::lock_guard<detail::spin_lock> guard{mtx_};
  return latest_held();
}

} // namespace troupe

namespace troupe {

void expose_mailbox(const live::Labels& labels, const caf::actor& actor) {
  if (!dynamic_cast<bounded_actor*>(caf::actor_cast<caf::abstract_actor*>(actor)))
    return;
  // Weak: the scrape must not keep a stopped incarnation (or its system) alive.
  live::watch_mailbox(labels, [weak = caf::actor_cast<caf::weak_actor_ptr>(actor)]()
                                -> std::optional<live::MailboxReading> {
    const auto strong = weak.lock();
    if (!strong)
      return std::nullopt;
    const auto* self = dynamic_cast<const bounded_actor*>(caf::actor_cast<caf::abstract_actor*>(strong));
    const auto stats = self->mailbox_stats();
    live::MailboxReading out;
    out.size = static_cast<double>(self->mailbox_depth());
    out.capacity = stats.capacity;
    out.high_water = static_cast<double>(stats.high_water);
    out.admitted = static_cast<double>(stats.admitted);
    out.dropped = static_cast<double>(stats.dropped);
    out.rejected = static_cast<double>(stats.rejected);
    return out;
  });
}

} // namespace troupe
