// The bounded mailbox's own queue (detail::waiting_queue), white box: FIFO
// order through its ring's growth and wrap-around, a staging stack appended
// oldest first, and an element taken from the middle.

#include <troupe/actors/detail/mailbox_queue.hpp>

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace troupe {
namespace {

caf::mailbox_element_ptr element(int value) {
  return caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, value);
}

int value_of(const caf::mailbox_element& x) { return x.content().get_as<int>(0); }

/// Pops everything, in order.
std::vector<int> take_all(detail::waiting_queue& queue) {
  std::vector<int> out;
  while (auto x = queue.pop_front())
    out.push_back(value_of(*x));
  return out;
}

TEST(WaitingQueue, KeepsOrderWhileItsRingWrapsAndGrows) {
  detail::waiting_queue queue;
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.pop_front(), nullptr);
  // Fill and half empty a few times so the front walks around the ring, then
  // push past its size so it grows with the front in the middle.
  int next_in = 0;
  int next_out = 0;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 12; ++i)
      queue.push_back(element(next_in++));
    for (int i = 0; i < 10; ++i) {
      auto x = queue.pop_front();
      ASSERT_NE(x, nullptr);
      EXPECT_EQ(value_of(*x), next_out++);
    }
  }
  for (int i = 0; i < 100; ++i)
    queue.push_back(element(next_in++));
  EXPECT_EQ(queue.size(), static_cast<std::size_t>(next_in - next_out));
  std::vector<int> want;
  for (int v = next_out; v < next_in; ++v)
    want.push_back(v);
  EXPECT_EQ(take_all(queue), want);
  EXPECT_TRUE(queue.empty());
}

TEST(WaitingQueue, AppendsAStagingStackOldestFirst) {
  detail::waiting_queue queue;
  queue.push_back(element(0));
  // A stack as senders build it: each new element links to the one before.
  caf::mailbox_element* newest = nullptr;
  for (int v = 1; v <= 40; ++v) {
    auto* x = element(v).release();
    x->next = newest;
    newest = x;
  }
  queue.append_stack(newest);
  queue.append_stack(nullptr); // nothing staged: nothing changes
  std::vector<int> want;
  for (int v = 0; v <= 40; ++v)
    want.push_back(v);
  EXPECT_EQ(take_all(queue), want);
}

TEST(WaitingQueue, TakesTheFirstMatchFromTheMiddleAndKeepsTheRestInOrder) {
  detail::waiting_queue queue;
  for (int v = 0; v < 20; ++v) // the front away from the ring's start
    queue.push_back(element(v));
  for (int v = 0; v < 15; ++v)
    queue.pop_front();
  for (int v = 20; v < 30; ++v)
    queue.push_back(element(v));
  auto taken = queue.take_first([](const caf::mailbox_element& x) { return value_of(x) % 7 == 0; });
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(value_of(*taken), 21);
  EXPECT_EQ(queue.take_first([](const caf::mailbox_element& x) { return value_of(x) > 100; }), nullptr);
  EXPECT_EQ(take_all(queue), (std::vector<int>{15, 16, 17, 18, 19, 20, 22, 23, 24, 25, 26, 27, 28, 29}));
}

} // namespace
} // namespace troupe
