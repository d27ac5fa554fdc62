// The publisher's kept contacts (topic_kept_contacts, what a WAV-writing audio
// actor takes): each batch kept until the reader took it, sent again to its
// next incarnation in order, the tick held while kept_contacts_window are
// outstanding, and a checkpoint only once every batch before its tick was
// taken.

#include "publisher.hpp"

#include <troupe/actors/reader.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace troupe {
namespace {

using namespace std::chrono_literals;

/// A reader stand-in: tells `sink` (tag, published events) of each kept batch.
caf::behavior kept_reader(caf::event_based_actor* self, caf::actor sink, std::uint64_t tag) {
  return {[=](capture_atom, const ContactBatch& batch) { self->send(sink, tag, batch.published_events); }};
}

/// What the driver saw of the publisher, in order.
using Verdicts = std::shared_ptr<std::vector<bool>>;

/// Publishes a window of batches to `first`, acknowledges ten, then subscribes
/// `second` under the same name (a new incarnation).
void drive(caf::event_based_actor* self, caf::actor first, caf::actor second, Verdicts seen) {
  Publisher publisher{30};
  const std::uint8_t topics = topic_snapshots | topic_kept_contacts;
  publisher.subscribe(self, first, "audio", topics, 0, 1);
  // Batch k is the contacts of tick k (so the world after it is at tick k + 1).
  for (std::uint64_t k = 1; k < kept_contacts_window; ++k)
    publisher.publish_contacts(self, ContactBatch{k, {}, k});
  seen->push_back(publisher.holding()); // one short of the window: ticks go on
  publisher.publish_contacts(self, ContactBatch{kept_contacts_window, {}, kept_contacts_window});
  seen->push_back(publisher.holding());            // the window is full: the tick waits
  seen->push_back(publisher.recorded_through(11)); // batches 1-10 untaken: no checkpoint at 11
  publisher.contacts_taken("audio", 10);
  seen->push_back(publisher.holding());            // room again
  seen->push_back(publisher.recorded_through(11)); // everything before tick 11 taken
  seen->push_back(publisher.recorded_through(12)); // batch 11 is not
  publisher.subscribe(self, second, "audio", topics, 0, 1); // gets 11 to 600 again
  self->quit();
}

TEST(Publisher, KeptContactsWaitForTheReaderAreSentAgainAndHoldTheTickAtTheWindow) {
  caf::actor_system_config cfg;
  register_message_types(cfg);
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto first = sys.spawn(kept_reader, caf::actor{self}, std::uint64_t{1});
  auto second = sys.spawn(kept_reader, caf::actor{self}, std::uint64_t{2});
  auto seen = std::make_shared<std::vector<bool>>();
  self->spawn<caf::monitored>(drive, first, second, seen);
  self->receive([](const caf::down_msg&) {});
  EXPECT_EQ(*seen, (std::vector<bool>{false, true, false, false, true, false}));

  // Each incarnation got its batches in order: the first all of them, the
  // second those not taken.
  std::vector<std::uint64_t> got[3];
  const auto expected = kept_contacts_window + (kept_contacts_window - 10);
  for (std::size_t i = 0; i < expected; ++i)
    self->receive([&](std::uint64_t tag, std::uint64_t published) { got[tag].push_back(published); },
                  caf::after(10s) >> [&] { FAIL() << "batches missing after " << i; });
  ASSERT_EQ(got[1].size(), kept_contacts_window);
  ASSERT_EQ(got[2].size(), kept_contacts_window - 10);
  for (std::size_t i = 0; i < got[1].size(); ++i)
    EXPECT_EQ(got[1][i], i + 1);
  for (std::size_t i = 0; i < got[2].size(); ++i)
    EXPECT_EQ(got[2][i], i + 11);
  caf::anon_send_exit(first, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(second, caf::exit_reason::user_shutdown);
}

} // namespace
} // namespace troupe
