#include <troupe/actors/bounded_actor.hpp>

#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

namespace troupe {

namespace {

/// Messages that bypass the bound: CAF's own system traffic and anything urgent
/// or a response (someone is waiting for it).
bool is_unbounded(const caf::mailbox_element& x) {
  if (x.mid.is_response() || x.is_high_priority())
    return true;
  const auto& content = x.content();
  return content.match_element<caf::exit_msg>(0) || content.match_element<caf::down_msg>(0) ||
         content.match_element<caf::error>(0) ||
         content.match_element<caf::timeout_msg>(0);
}

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
  return x.content().match_element<CommandBatch>(0);
}

bounded_actor::bounded_actor(caf::actor_config& cfg, config::MailboxSpec spec)
  : super(cfg), spec_(spec) {
  stats_.capacity = spec.capacity;
  stats_.overflow = static_cast<std::uint8_t>(spec.overflow);
}

caf::mailbox_element_ptr bounded_actor::take_same_type(const caf::mailbox_element& incoming) {
  for (auto i = waiting_.begin(); i != waiting_.end(); ++i) {
    if (same_type(**i, incoming)) {
      auto out = std::move(*i);
      waiting_.erase(i);
      return out;
    }
  }
  return nullptr;
}

bounded_actor::Verdict bounded_actor::make_room(const caf::mailbox_element& incoming,
                                                caf::mailbox_element_ptr& evicted) {
  using config::Overflow;
  const bool reliable = is_reliable(incoming);
  if (spec_.overflow == Overflow::latest && !reliable) {
    // The newest of a kind replaces the older one even when there is room.
    if ((evicted = take_same_type(incoming)))
      return Verdict::admit;
  }
  if (waiting_.size() < spec_.capacity)
    return Verdict::admit;
  if (spec_.overflow == Overflow::drop_oldest || spec_.overflow == Overflow::latest) {
    // Evict the oldest message that may be lost; commands never are.
    for (auto i = waiting_.begin(); i != waiting_.end(); ++i) {
      if (!is_reliable(**i)) {
        evicted = std::move(*i);
        waiting_.erase(i);
        return Verdict::admit;
      }
    }
  }
  if (reliable || spec_.overflow == Overflow::reject)
    return Verdict::reject_new;
  return Verdict::drop_new;
}

void bounded_actor::enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) {
  if (is_unbounded(*ptr)) {
    super::enqueue(std::move(ptr), eu);
    return;
  }
  caf::mailbox_element_ptr evicted;
  caf::mailbox_element_ptr deliver;
  Verdict verdict;
  errc drop_reason = errc::mailbox_dropped;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_) {
      verdict = Verdict::drop_new;
      drop_reason = errc::shutting_down;
    } else {
      verdict = make_room(*ptr, evicted);
      if (evicted)
        ++stats_.dropped;
      if (verdict == Verdict::admit) {
        ++stats_.admitted;
        if (in_delivery_ == nullptr) {
          in_delivery_ = ptr.get();
          deliver = std::move(ptr);
        } else {
          waiting_.push_back(std::move(ptr));
          stats_.high_water = std::max<std::uint64_t>(stats_.high_water, waiting_.size());
        }
      } else if (verdict == Verdict::drop_new) {
        ++stats_.dropped;
      } else {
        ++stats_.rejected;
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

caf::invoke_message_result bounded_actor::consume(caf::mailbox_element& x) {
  auto result = super::consume(x);
  caf::mailbox_element_ptr next;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (&x != in_delivery_ || result == caf::invoke_message_result::skipped)
      return result;
    in_delivery_ = nullptr;
    if (!waiting_.empty() && !closed_) {
      next = std::move(waiting_.front());
      waiting_.pop_front();
      in_delivery_ = next.get();
    }
  }
  if (next)
    super::enqueue(std::move(next), context());
  return result;
}

bool bounded_actor::cleanup(caf::error&& reason, caf::execution_unit* host) {
  std::deque<caf::mailbox_element_ptr> left;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    closed_ = true;
    left.swap(waiting_);
    in_delivery_ = nullptr;
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
  std::lock_guard<std::mutex> guard{mtx_};
  return stats_;
}

std::size_t bounded_actor::mailbox_depth() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return waiting_.size();
}

} // namespace troupe
