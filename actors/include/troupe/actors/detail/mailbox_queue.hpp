#pragma once
/// \file Internals of bounded_actor: the lock and the intrusive queue its
/// mailbox uses. Not part of troupe's API.

#include <caf/mailbox_element.hpp>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace troupe::detail {

/// A test-and-test-and-set lock for the mailbox's few-instruction critical
/// sections: under contention a std::mutex parks threads in the kernel, which
/// costs more than the work it protects.
class spin_lock {
public:
  void lock() noexcept {
    // Yield rather than spin with `pause`: on two vCPUs the holder is often
    // preempted, and pause-spinning measured slower in the fan-in benchmark.
    while (flag_.exchange(true, std::memory_order_acquire))
      while (flag_.load(std::memory_order_relaxed))
        std::this_thread::yield();
  }
  void unlock() noexcept { flag_.store(false, std::memory_order_release); }

private:
  std::atomic<bool> flag_{false};
};

/// A FIFO of mailbox elements linked through their own `next` field: admitting
/// a message allocates nothing (a flood into a std::deque spent its time in
/// malloc).
class waiting_queue {
public:
  waiting_queue() = default;
  waiting_queue(const waiting_queue&) = delete;
  waiting_queue& operator=(const waiting_queue&) = delete;
  ~waiting_queue() { clear(); }

  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }

  void push_back(caf::mailbox_element_ptr ptr) noexcept;
  caf::mailbox_element_ptr pop_front() noexcept;

  /// Unlinks and returns the first element for which `pred` holds, or null.
  template <class Predicate> caf::mailbox_element_ptr take_first(Predicate pred) noexcept {
    caf::mailbox_element* prev = nullptr;
    for (auto* x = head_; x != nullptr; prev = x, x = next_of(x)) {
      if (pred(*x)) {
        if (prev)
          prev->next = x->next;
        else
          head_ = next_of(x);
        if (x == tail_)
          tail_ = prev;
        --size_;
        x->next = nullptr;
        return caf::mailbox_element_ptr{x};
      }
    }
    return nullptr;
  }

  /// Appends a chain already linked through `next`, `first` to `last`, of
  /// `count` elements: O(1), so a long chain is walked once, by its maker.
  void append_chain(caf::mailbox_element* first, caf::mailbox_element* last, std::size_t count) noexcept {
    if (!first)
      return;
    last->next = nullptr;
    if (tail_)
      tail_->next = first;
    else
      head_ = first;
    tail_ = last;
    size_ += count;
  }

  /// Moves everything out (in order) into `out`.
  void drain_into(std::vector<caf::mailbox_element_ptr>& out);

  void clear() noexcept;

private:
  static caf::mailbox_element* next_of(caf::mailbox_element* x) noexcept {
    return static_cast<caf::mailbox_element*>(x->next);
  }
  caf::mailbox_element* head_ = nullptr;
  caf::mailbox_element* tail_ = nullptr;
  std::size_t size_ = 0;
};

} // namespace troupe::detail
