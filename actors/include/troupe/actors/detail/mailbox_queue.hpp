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

/// A FIFO of mailbox elements: their addresses in a ring that doubles when
/// full (a flood allocates a few times, never per message). Whoever takes
/// from it knows the next messages' addresses ahead and can fetch them while
/// it handles the one before (a list linked through the messages made every
/// step a cache miss in series).
class waiting_queue {
public:
  waiting_queue() = default;
  waiting_queue(const waiting_queue&) = delete;
  waiting_queue& operator=(const waiting_queue&) = delete;
  ~waiting_queue() { clear(); }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  void push_back(caf::mailbox_element_ptr ptr);
  caf::mailbox_element_ptr pop_front() noexcept;

  /// Unlinks and returns the first element for which `pred` holds, or null.
  template <class Predicate> caf::mailbox_element_ptr take_first(Predicate pred) noexcept {
    for (std::size_t i = 0; i < size_; ++i) {
      caf::mailbox_element* x = at(i);
      if (pred(*x)) {
        for (std::size_t j = i; j > 0; --j) // close the gap from the front: it is near it
          at(j) = at(j - 1);
        head_ = (head_ + 1) & (ring_.size() - 1);
        --size_;
        return caf::mailbox_element_ptr{x};
      }
    }
    return nullptr;
  }

  /// Appends a chain linked through `next`, newest first (a staging stack),
  /// oldest first: one walk of the chain.
  void append_stack(caf::mailbox_element* newest);

  /// Moves everything out (in order) into `out`.
  void drain_into(std::vector<caf::mailbox_element_ptr>& out);

  void clear() noexcept;

private:
  caf::mailbox_element*& at(std::size_t i) noexcept { return ring_[(head_ + i) & (ring_.size() - 1)]; }
  /// Room for `more` elements (the ring's size stays a power of two).
  void reserve_more(std::size_t more);

  std::vector<caf::mailbox_element*> ring_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::vector<caf::mailbox_element*> scratch_; // append_stack's, kept to reuse
};

} // namespace troupe::detail
