// The bounded mailbox: each overflow policy under a flood, with the actor held
// busy by a gate so the flood really meets a full mailbox (no sleeps: the test
// opens the gate when it has sent everything).

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <future>
#include <numeric>

namespace troupe {
namespace {

using namespace std::chrono_literals;
using config::MailboxSpec;
using config::Overflow;
using gate_atom = caf::atom_constant<caf::atom("gate")>;

/// Records the ints it handles; its first message (a gate) blocks it until the
/// test opens the gate, after saying it has taken it.
class recorder : public bounded_actor {
public:
  recorder(caf::actor_config& cfg, MailboxSpec spec, std::shared_future<void> gate, std::promise<void>* entered)
    : bounded_actor(cfg, spec), gate_(std::move(gate)), entered_(entered) {}

  caf::behavior make_behavior() override {
    return {
      [this](gate_atom) {
        entered_->set_value();
        gate_.wait();
      },
      [this](int value) { seen_.push_back(value); },
      [this](const std::string& text) { texts_.push_back(text); },
      [this](CommandBatch& batch) { commands_ += batch.commands.size(); },
      [this](report_atom) {
        return caf::make_message(seen_, texts_, static_cast<std::uint64_t>(commands_));
      },
    };
  }

private:
  std::shared_future<void> gate_;
  std::promise<void>* entered_;
  std::vector<int> seen_;
  std::vector<std::string> texts_;
  std::size_t commands_ = 0;
};

struct BoundedMailbox : ::testing::Test {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::promise<void> gate;
  std::promise<void> entered;
  caf::actor actor;
  recorder* raw = nullptr;

  void SetUp() override {
    register_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  void TearDown() override {
    if (actor)
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    actor = nullptr;
  }

  /// Spawns a recorder and holds it at its gate: the gate message is held (in
  /// its handler) until the test opens it, so it takes one place of the
  /// capacity and every message sent next waits or meets the policy.
  void spawn_blocked(MailboxSpec spec) {
    actor = sys->spawn<recorder, caf::detached>(spec, gate.get_future().share(), &entered);
    raw = dynamic_cast<recorder*>(caf::actor_cast<caf::abstract_actor*>(actor));
    caf::anon_send(actor, gate_atom::value);
    entered.get_future().wait(); // taken: no flood can evict it now
  }

  std::vector<int> release_and_collect(std::vector<std::string>* texts = nullptr,
                                       std::uint64_t* commands = nullptr) {
    gate.set_value();
    // The report request is an ordinary (bounded) message: send it once the
    // queue has drained so that it neither evicts nor is refused.
    while (raw->mailbox_depth() > 0)
      std::this_thread::yield();
    caf::scoped_actor self{*sys};
    std::vector<int> seen;
    self->request(actor, 10s, report_atom::value)
      .receive(
        [&](std::vector<int>& s, std::vector<std::string>& t, std::uint64_t c) {
          seen = std::move(s);
          if (texts)
            *texts = std::move(t);
          if (commands)
            *commands = c;
        },
        [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
    return seen;
  }
};

TEST_F(BoundedMailbox, DropOldestKeepsTheNewestAndCountsDrops) {
  spawn_blocked({8, Overflow::drop_oldest});
  for (int i = 0; i < 1000; ++i)
    caf::anon_send(actor, i);
  const auto stats = raw->mailbox_stats();
  EXPECT_LE(stats.high_water, 8u);
  EXPECT_EQ(raw->mailbox_depth(), 8u);
  auto seen = release_and_collect();
  // The gate holds one place; the 7 newest waited.
  std::vector<int> expected{993, 994, 995, 996, 997, 998, 999};
  EXPECT_EQ(seen, expected);
  const auto final_stats = raw->mailbox_stats();
  EXPECT_EQ(final_stats.dropped, 993u);
  EXPECT_EQ(final_stats.admitted, 1000u + 1u /* gate */ + 1u /* report */);
  EXPECT_EQ(final_stats.high_water, 8u);
}

TEST_F(BoundedMailbox, DropNewestKeepsTheOldest) {
  spawn_blocked({4, Overflow::drop_newest});
  for (int i = 0; i < 100; ++i)
    caf::anon_send(actor, i);
  auto seen = release_and_collect();
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(raw->mailbox_stats().dropped, 97u);
  EXPECT_EQ(raw->mailbox_stats().high_water, 4u);
}

TEST_F(BoundedMailbox, RejectHandsTheMessageBackToItsSender) {
  spawn_blocked({2, Overflow::reject});
  caf::scoped_actor self{*sys};
  for (int i = 0; i < 5; ++i)
    self->send(actor, i);
  int returned = 0;
  for (int i = 0; i < 4; ++i)
    self->receive([&](rejected_atom, int value) { returned += value; });
  EXPECT_EQ(returned, 1 + 2 + 3 + 4);
  EXPECT_EQ(raw->mailbox_stats().rejected, 4u);
  EXPECT_EQ(release_and_collect(), (std::vector<int>{0}));
}

TEST_F(BoundedMailbox, RejectAnswersARequestWithMailboxFull) {
  spawn_blocked({1, Overflow::reject});
  caf::anon_send(actor, 0);
  caf::scoped_actor self{*sys};
  bool refused = false;
  self->request(actor, 10s, 1).receive([] {}, [&](caf::error& e) {
    refused = e.category() == caf::atom("troupe") &&
              e.code() == static_cast<std::uint8_t>(errc::mailbox_full);
  });
  EXPECT_TRUE(refused);
  release_and_collect();
}

TEST_F(BoundedMailbox, LatestKeepsOnlyTheNewestOfEachType) {
  spawn_blocked({16, Overflow::latest});
  for (int i = 0; i < 50; ++i) {
    caf::anon_send(actor, i);
    caf::anon_send(actor, "text " + std::to_string(i));
  }
  std::vector<std::string> texts;
  auto seen = release_and_collect(&texts);
  EXPECT_EQ(seen, (std::vector<int>{49}));
  EXPECT_EQ(texts, (std::vector<std::string>{"text 49"}));
  EXPECT_LE(raw->mailbox_stats().high_water, 3u);
}

TEST_F(BoundedMailbox, LatestKeepsTheNewestOfEachTypeFromEachSender) {
  // Pieces of one world come from logic and from every region: one sender's
  // newest piece never replaces another sender's.
  spawn_blocked({16, Overflow::latest});
  caf::scoped_actor logic{*sys}, region{*sys};
  for (int i = 0; i < 50; ++i) {
    logic->send(actor, i);
    region->send(actor, 100 + i);
  }
  auto seen = release_and_collect();
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int>{49, 149}));
}

TEST_F(BoundedMailbox, CommandsAreNeverDroppedEvenUnderDropOldest) {
  spawn_blocked({4, Overflow::drop_oldest});
  caf::scoped_actor self{*sys};
  // Two command batches first, then a flood of droppable ints.
  CommandBatch batch{1, 10, {Command{1, 1, 0, sim::SetPaused{true}}}};
  self->send(actor, batch);
  self->send(actor, batch);
  for (int i = 0; i < 1000; ++i)
    self->send(actor, i);
  std::uint64_t commands = 0;
  auto seen = release_and_collect(nullptr, &commands);
  EXPECT_EQ(commands, 2u);
  EXPECT_EQ(seen.back(), 999);
  EXPECT_LE(raw->mailbox_stats().high_water, 4u);
}

TEST_F(BoundedMailbox, ManySendersNeverPushMemoryPastTheBound) {
  spawn_blocked({32, Overflow::drop_oldest});
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i)
        caf::anon_send(actor, t * 100000 + i);
    });
  for (auto& s : senders)
    s.join();
  const auto stats = raw->mailbox_stats();
  EXPECT_LE(stats.high_water, 32u);
  EXPECT_EQ(stats.admitted, 80000u + 1u);
  EXPECT_EQ(stats.dropped, 80000u - 31u);
  auto seen = release_and_collect();
  EXPECT_EQ(seen.size(), 31u);
}

TEST_F(BoundedMailbox, ManySendersIntoARejectMailboxAreCountedExactly) {
  spawn_blocked({64, Overflow::reject});
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t)
    senders.emplace_back([&] {
      for (int i = 0; i < 20000; ++i)
        caf::anon_send(actor, i);
    });
  for (auto& s : senders)
    s.join();
  const auto stats = raw->mailbox_stats();
  EXPECT_EQ(stats.high_water, 64u);
  EXPECT_EQ(stats.rejected, 80000u - 63u);
  EXPECT_EQ(release_and_collect().size(), 63u);
}

// A large mailbox counts room as credits that each sender thread takes into a
// shard of its own, 8 at a time here: seven threads send one message each
// and leave with 7 places each in their shards; a flood from another thread
// finds those places rather than being refused while there is room.
TEST_F(BoundedMailbox, RoomInOtherSendersShardsIsFoundBeforeARefusal) {
  for (const auto policy : {Overflow::reject, Overflow::drop_oldest}) {
    SCOPED_TRACE(policy == Overflow::reject ? "reject" : "drop-oldest");
    gate = {};
    entered = {};
    spawn_blocked({1024, policy});
    for (int t = 0; t < 7; ++t) // one after another: no race to depend on
      std::thread([&] { caf::anon_send(actor, -1); }).join();
    std::thread([&] {
      for (int i = 0; i < 2000; ++i)
        caf::anon_send(actor, i);
    }).join();
    const auto stats = raw->mailbox_stats();
    EXPECT_EQ(raw->mailbox_depth(), 1024u) << "every place taken: the gate and 1,023";
    EXPECT_EQ(stats.high_water, 1024u);
    EXPECT_EQ(policy == Overflow::reject ? stats.rejected : stats.dropped, 2007u - 1023u);
    // (It waits for the depth to come back to 0: every place given back.)
    EXPECT_EQ(release_and_collect().size(), 1023u);
    TearDown();
  }
}

/// Answers int requests with the int, throws on 3 and quits on 7; held at a
/// gate like the recorder.
class answerer : public bounded_actor {
public:
  answerer(caf::actor_config& cfg, MailboxSpec spec, std::shared_future<void> gate)
    : bounded_actor(cfg, spec), gate_(std::move(gate)) {}

  caf::behavior make_behavior() override {
    return {
      [this](gate_atom) { gate_.wait(); },
      [this](int value) -> int {
        if (value == 3)
          throw std::runtime_error("three");
        if (value == 7)
          quit();
        return value;
      },
    };
  }

private:
  std::shared_future<void> gate_;
};

// A staged mailbox hands its actor a batch of messages at once: a request
// whose handler throws, or one queued behind the throw or behind a quit, is
// still answered (with an error), as by a plain CAF actor; the request that
// quits gets its answer.
TEST_F(BoundedMailbox, EveryRequestInADrainedBatchIsAnsweredWhenTheActorThrowsOrQuits) {
  for (const auto policy : {Overflow::drop_oldest, Overflow::reject}) {
    for (const int last : {3, 7}) {
      SCOPED_TRACE(last == 3 ? "throws" : "quits");
      SCOPED_TRACE(policy == Overflow::reject ? "reject" : "drop-oldest");
      std::promise<void> open;
      auto target = sys->spawn<answerer, caf::detached>(MailboxSpec{256, policy}, open.get_future().share());
      caf::anon_send(target, gate_atom::value);
      caf::scoped_actor self{*sys};
      std::vector<caf::response_handle<caf::blocking_actor, caf::message, true>> pending;
      for (int i = 0; i < 20; ++i) // 256 / 8 = 32 a batch: all 20 in the gate's batch or the next
        pending.push_back(self->request(target, 10s, i == 0 ? 1 : last + i - 1));
      open.set_value();
      for (int i = 0; i < 20; ++i) {
        const int sent = i == 0 ? 1 : last + i - 1;
        pending[static_cast<std::size_t>(i)].receive(
          [&](int value) {
            EXPECT_TRUE(sent < last || sent == 7) << sent << " answered after the actor ended";
            EXPECT_EQ(value, sent);
          },
          [&](caf::error& e) {
            EXPECT_GE(sent, 3) << sys->render(e);
            EXPECT_NE(e, caf::sec::request_timeout) << "request " << sent << " never answered";
            if (sent == 3) {
              EXPECT_EQ(error_words(e), "three");
            }
          });
      }
    }
  }
}

/// Skips ints until it is told to go (CAF's skip: the message waits in CAF's
/// cache), then records them.
class late_starter : public bounded_actor {
public:
  late_starter(caf::actor_config& cfg, MailboxSpec spec) : bounded_actor(cfg, spec) {}

  caf::behavior make_behavior() override {
    set_default_handler(caf::skip);
    return {
      [this](const std::string& go) {
        become(caf::keep_behavior, [this](int value) { seen_.push_back(value); },
               [this](report_atom) { return seen_; });
        return go;
      },
    };
  }

private:
  std::vector<int> seen_;
};

// A message the behaviour skips is kept, in order, and handled once the
// behaviour takes it, under every policy (the staged ones hand their actor
// batches of their own, latest goes through CAF's mailbox). The first int
// finds the mailbox idle and carries the duty to drain the rest: skipped, it
// must still give the duty up, or the rest would never come.
TEST_F(BoundedMailbox, SkippedMessagesAreHandledOnceTheBehaviourTakesThem) {
  for (const auto policy : {Overflow::drop_oldest, Overflow::reject, Overflow::drop_newest, Overflow::latest}) {
    SCOPED_TRACE(static_cast<int>(policy));
    auto target = sys->spawn<late_starter>(MailboxSpec{256, policy});
    caf::scoped_actor self{*sys};
    const int sent = policy == Overflow::latest ? 1 : 100; // latest keeps the newest int only
    for (int i = 0; i < sent; ++i)
      self->send(target, i);
    self->request(target, 10s, std::string{"go"}).receive([](const std::string&) {},
                                                          [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
    std::vector<int> expected(static_cast<std::size_t>(sent));
    std::iota(expected.begin(), expected.end(), 0);
    self->request(target, 10s, report_atom::value)
      .receive([&](const std::vector<int>& seen) { EXPECT_EQ(seen, expected); },
               [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
    caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  }
}

/// Checks that each sender's messages arrive in the order sent, and tells
/// `done` when all of them arrived.
class sequence_checker : public bounded_actor {
public:
  sequence_checker(caf::actor_config& cfg, MailboxSpec spec, caf::actor finished, int senders, int each)
    : bounded_actor(cfg, spec), done_(std::move(finished)), next_(static_cast<std::size_t>(senders), 0),
      left_(senders * each) {}

  caf::behavior make_behavior() override {
    return {
      [this](int from, int value) {
        if (value != next_[static_cast<std::size_t>(from)]++)
          ++out_of_order_;
        if (--left_ == 0)
          send(done_, done_atom::value, out_of_order_);
      },
    };
  }

private:
  caf::actor done_;
  std::vector<int> next_;
  int left_;
  int out_of_order_ = 0;
};

// Senders racing a busy actor below its bound, under each staged policy: every
// message arrives, each sender's in order (the duty to drain the staged
// messages is handed between senders and the actor without a lock, by a drain
// token or by a message that found the mailbox idle: a message left behind
// would hang this test), from threads outside CAF and from actors on its
// workers alike.
TEST_F(BoundedMailbox, SendersRacingABusyActorLoseNothingBelowTheBound) {
  constexpr int threads = 3, actors = 3, each = 20000;
  for (const auto policy : {Overflow::drop_oldest, Overflow::reject, Overflow::drop_newest}) {
    SCOPED_TRACE(static_cast<int>(policy));
    caf::scoped_actor self{*sys};
    auto checker = sys->spawn<sequence_checker>(MailboxSpec{1u << 20, policy}, caf::actor{self},
                                                threads + actors, each);
    std::vector<std::thread> senders;
    for (int t = 0; t < threads; ++t)
      senders.emplace_back([&, t] {
        for (int i = 0; i < each; ++i)
          caf::anon_send(checker, t, i);
      });
    // (Arguments passed to spawn, not captured: CAF 0.17 dereferences a null
    // argument tuple for a function actor spawned without any, which UBSan reports.)
    for (int a = 0; a < actors; ++a)
      sys->spawn(
        [](caf::event_based_actor* sender, const caf::actor& target, int from) {
          for (int i = 0; i < each; ++i)
            sender->send(target, from, i);
          sender->quit();
        },
        checker, threads + a);
    for (auto& s : senders)
      s.join();
    self->receive([](done_atom, int out_of_order) { EXPECT_EQ(out_of_order, 0); },
                  caf::after(std::chrono::seconds(60)) >> [] { ADD_FAILURE() << "messages were left behind"; });
    const auto stats = dynamic_cast<bounded_actor*>(caf::actor_cast<caf::abstract_actor*>(checker))->mailbox_stats();
    EXPECT_EQ(stats.dropped, 0u);
    EXPECT_EQ(stats.rejected, 0u);
    EXPECT_EQ(stats.admitted, static_cast<std::uint64_t>((threads + actors) * each));
    caf::anon_send_exit(checker, caf::exit_reason::user_shutdown);
  }
}

/// Answers each int with itself.
class echo : public bounded_actor {
public:
  echo(caf::actor_config& cfg, MailboxSpec spec) : bounded_actor(cfg, spec) {}
  caf::behavior make_behavior() override {
    return {[](int value) { return value; }};
  }
};

// One request at a time into an idle mailbox, as logic asks physics for each
// step: each goes to CAF's mailbox itself, carrying the duty to drain what is
// staged behind it, and gives the duty up once handled (a duty kept would
// leave the next request staged with no token to drain it: this test would
// time out).
TEST_F(BoundedMailbox, RequestsIntoAnIdleMailboxAreAnsweredOneByOne) {
  for (const auto policy : {Overflow::drop_oldest, Overflow::reject, Overflow::drop_newest}) {
    SCOPED_TRACE(static_cast<int>(policy));
    auto target = sys->spawn<echo>(MailboxSpec{4, policy});
    caf::scoped_actor self{*sys};
    constexpr int requests = 1000;
    int answered = 0;
    for (int i = 0; i < requests && answered == i; ++i) // stops at the first one left unanswered
      self->request(target, 10s, i).receive([&](int value) { answered += value == i ? 1 : 0; },
                                            [&](caf::error& e) { ADD_FAILURE() << i << ": " << sys->render(e); });
    EXPECT_EQ(answered, requests);
    const auto stats = dynamic_cast<bounded_actor*>(caf::actor_cast<caf::abstract_actor*>(target))->mailbox_stats();
    EXPECT_EQ(stats.admitted, static_cast<std::uint64_t>(requests));
    EXPECT_EQ(stats.rejected + stats.dropped, 0u);
    caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  }
}

} // namespace
} // namespace troupe
