// The supervisor against OTP's semantics: strategies, restart types, intensity,
// backoff, and stable names that hold messages across a restart.

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/supervisor.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <thread>

namespace troupe {
namespace {

using namespace std::chrono_literals;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;

/// A child that answers pings with its name and incarnation, crashes or stops
/// on request, and (for `crash_first` incarnations) fails right at start.
caf::behavior worker(caf::event_based_actor* self, std::string name, std::uint32_t n,
                     std::uint32_t crash_first) {
  self->set_exception_handler(exception_to_error);
  if (n < crash_first) {
    self->quit(make_error(errc::decode_failed, name + " failed at start"));
    return {};
  }
  return {
    [=](ping_atom) { return name + "#" + std::to_string(n); },
    [=](crash_atom) { throw std::runtime_error(name + " crashed on purpose"); },
    [=](stop_atom) { self->quit(); },
  };
}

ChildSpec child(const std::string& name, Restart restart = Restart::permanent, std::uint32_t crash_first = 0) {
  ChildSpec spec;
  spec.name = name;
  spec.restart = restart;
  spec.start = [=](caf::actor_system& sys, std::uint32_t n) {
    return sys.spawn(worker, name, n, crash_first);
  };
  return spec;
}

struct Supervision : ::testing::Test {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self;
  caf::actor sup;
  std::map<std::string, caf::actor> stable;

  void SetUp() override {
    register_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    self = std::make_unique<caf::scoped_actor>(*sys);
  }

  void TearDown() override {
    if (sup)
      caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    stable.clear();
    sup = nullptr;
    self.reset();
  }

  void start(SupervisorSpec spec, std::vector<ChildSpec> children) {
    ASSERT_FALSE(validate(spec, children));
    std::vector<std::string> names;
    for (auto& c : children)
      names.push_back(c.name);
    sup = spawn_supervisor(*sys, spec, std::move(children));
    for (auto& name : names)
      (*self)->request(sup, 5s, lookup_atom::value, name).receive(
        [&](caf::actor& a) { stable[name] = a; }, [&](caf::error& e) { FAIL() << sys->render(e); });
  }

  /// Pings a child through its stable name; waits through a restart.
  std::string ping(const std::string& name) {
    std::string out;
    (*self)->request(stable[name], 10s, ping_atom::value)
      .receive([&](std::string& s) { out = s; }, [&](caf::error& e) { out = sys->render(e); });
    return out;
  }

  /// Pings until an incarnation answers: a request that reached a dying
  /// incarnation fails with request_receiver_down, and the sender retries.
  std::string ping_until_up(const std::string& name) {
    for (int i = 0; i < 1000; ++i)
      if (auto out = ping(name); out.find("request_receiver_down") == std::string::npos)
        return out;
    return "never up";
  }

  /// Crashes a child and waits (with a deadline) until the supervisor noticed:
  /// from then on its stable name holds messages until the next incarnation.
  /// Requests already in the dying incarnation's mailbox fail with
  /// request_receiver_down, as in Erlang; the sender retries.
  void crash(const std::string& name) {
    const auto before = counters()["restarts_" + name] + counters()["removed_" + name];
    (*self)->send(stable[name], crash_atom::value);
    for (int i = 0; i < 10000; ++i) {
      auto c = counters();
      if (c["restarts_" + name] + c["removed_" + name] > before || c.empty())
        return;
      std::this_thread::yield();
    }
    ADD_FAILURE() << "supervisor never noticed the crash of " << name;
  }

  std::map<std::string, double> counters() {
    std::map<std::string, double> out;
    (*self)->request(sup, 5s, report_atom::value).receive(
      [&](ActorReport& r) {
        for (auto& [k, v] : r.counters)
          out[k] = v;
      },
      [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
    return out;
  }
};

SupervisorSpec fast(Strategy strategy) {
  SupervisorSpec spec;
  spec.strategy = strategy;
  spec.backoff_min = 100us;
  spec.backoff_max = 2ms;
  return spec;
}

TEST_F(Supervision, OneForOneRestartsOnlyTheFailedChild) {
  start(fast(Strategy::one_for_one), {child("a"), child("b"), child("c")});
  EXPECT_EQ(ping("b"), "b#0");
  crash("b");
  EXPECT_EQ(ping("b"), "b#1");
  EXPECT_EQ(ping("a"), "a#0");
  EXPECT_EQ(ping("c"), "c#0");
  EXPECT_EQ(counters()["restarts"], 1);
}

TEST_F(Supervision, OneForAllRestartsTheSiblings) {
  start(fast(Strategy::one_for_all), {child("a"), child("b"), child("c")});
  crash("b");
  EXPECT_EQ(ping("b"), "b#1");
  EXPECT_EQ(ping("a"), "a#1");
  EXPECT_EQ(ping("c"), "c#1");
}

TEST_F(Supervision, RestForOneRestartsTheLaterSiblings) {
  start(fast(Strategy::rest_for_one), {child("a"), child("b"), child("c")});
  crash("b");
  EXPECT_EQ(ping("b"), "b#1");
  EXPECT_EQ(ping("c"), "c#1");
  EXPECT_EQ(ping("a"), "a#0");
}

TEST_F(Supervision, TransientChildEndingNormallyIsNotRestarted) {
  start(fast(Strategy::one_for_one), {child("t", Restart::transient), child("p")});
  (*self)->send(stable["t"], stop_atom::value);
  for (int i = 0; i < 10000 && counters()["removed_t"] == 0; ++i)
    std::this_thread::yield();
  EXPECT_EQ(ping("p"), "p#0");
  auto c = counters();
  EXPECT_EQ(c["restarts_t"], 0);
  EXPECT_EQ(c["removed_t"], 1);
}

TEST_F(Supervision, TransientChildCrashingIsRestarted) {
  start(fast(Strategy::one_for_one), {child("t", Restart::transient)});
  crash("t");
  EXPECT_EQ(ping("t"), "t#1");
}

TEST_F(Supervision, TemporaryChildIsNeverRestarted) {
  start(fast(Strategy::one_for_one), {child("tmp", Restart::temporary), child("p")});
  crash("tmp");
  EXPECT_EQ(ping("p"), "p#0");
  EXPECT_EQ(counters()["restarts_tmp"], 0);
  EXPECT_EQ(counters()["removed_tmp"], 1);
}

TEST_F(Supervision, ARemovedChildTakesItsStableNameWithIt) {
  start(fast(Strategy::one_for_one), {child("tmp", Restart::temporary), child("p")});
  // Whoever holds the name learns that nothing will answer there again (logic
  // stops waiting for a recording reader that is gone for good).
  (*self)->monitor(stable["tmp"]);
  crash("tmp");
  caf::actor_addr gone;
  (*self)->receive([&](caf::down_msg& m) { gone = m.source; });
  EXPECT_EQ(gone, stable["tmp"].address());
  EXPECT_EQ(ping("p"), "p#0");
}

TEST_F(Supervision, AnUnrecoverableChildEscalatesAtOnce) {
  auto spec = fast(Strategy::one_for_one);
  spec.max_restarts = 100;
  ChildSpec hopeless;
  hopeless.name = "render";
  hopeless.start = [](caf::actor_system& s, std::uint32_t) {
    return s.spawn([](caf::event_based_actor* actor, std::string why) -> caf::behavior {
      actor->quit(make_error(errc::unrecoverable, why));
      return {};
    }, std::string{"no usable Vulkan device"});
  };
  (*self)->monitor(sup = spawn_supervisor(*sys, spec, {child("p"), hopeless}));
  caf::error reason;
  (*self)->receive([&](caf::down_msg& m) { reason = m.reason; });
  EXPECT_EQ(reason.code(), static_cast<std::uint8_t>(errc::escalated));
  const auto text = sys->render(reason);
  EXPECT_NE(text.find("render cannot run: "), std::string::npos) << text;
  EXPECT_NE(text.find("no usable Vulkan device"), std::string::npos) << text;
  sup = nullptr;
}

TEST_F(Supervision, ExceedingIntensityEscalates) {
  auto spec = fast(Strategy::one_for_one);
  spec.max_restarts = 3;
  spec.period = 10s;
  start(spec, {child("flaky")});
  (*self)->monitor(sup);
  for (int i = 0; i < 3; ++i) {
    crash("flaky");
    EXPECT_EQ(ping("flaky"), "flaky#" + std::to_string(i + 1));
  }
  (*self)->send(stable["flaky"], crash_atom::value); // the fourth: one too many
  caf::error reason;
  (*self)->receive([&](caf::down_msg& m) { reason = m.reason; });
  EXPECT_EQ(reason.category(), caf::atom("troupe"));
  EXPECT_EQ(reason.code(), static_cast<std::uint8_t>(errc::escalated));
  const auto text = sys->render(reason);
  EXPECT_NE(text.find("flaky"), std::string::npos) << text;
  EXPECT_NE(text.find("crashed on purpose"), std::string::npos) << text;
  sup = nullptr;
}

TEST_F(Supervision, ChildFailingAtStartBacksOffExponentiallyWithoutStarvingOthers) {
  auto spec = fast(Strategy::one_for_one);
  spec.backoff_min = 1ms;
  spec.backoff_max = 64ms;
  spec.max_restarts = 100;
  start(spec, {child("ok"), child("bad", Restart::permanent, 6)});
  // While "bad" fails and waits, "ok" keeps answering.
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(ping("ok"), "ok#0");
  EXPECT_EQ(ping_until_up("bad"), "bad#6");
  std::vector<float> backoff;
  (*self)->request(sup, 5s, report_atom::value).receive(
    [&](ActorReport& r) {
      for (auto& [k, v] : r.series)
        if (k == "restart_backoff_ms")
          backoff = v;
    },
    [&](caf::error&) {});
  ASSERT_EQ(backoff.size(), 6u);
  // min * 2^k with jitter in [0.5, 1.5): each step at least ~doubles the floor.
  for (std::size_t k = 0; k < backoff.size(); ++k) {
    const double base = 1.0 * std::pow(2.0, static_cast<double>(k));
    EXPECT_GE(backoff[k], 0.5 * base - 1e-3) << k;
    EXPECT_LT(backoff[k], 1.5 * base + 1e-3) << k;
  }
}

TEST_F(Supervision, MessagesSentDuringARestartAreHeldAndDelivered) {
  auto spec = fast(Strategy::one_for_one);
  spec.backoff_min = 5ms;
  spec.backoff_max = 5ms;
  start(spec, {child("s")});
  crash("s");
  // Sent while "s" is down or restarting (the backoff is 5 ms): none is lost,
  // and the new incarnation answers them in order.
  for (int i = 0; i < 50; ++i)
    (*self)->send(stable["s"], ping_atom::value);
  for (int i = 0; i < 50; ++i)
    (*self)->receive([&](std::string& s) { EXPECT_EQ(s, "s#1"); });
}

TEST(SupervisorSpecs, DuplicateNamesAreRefusedBeforeAnythingStarts) {
  SupervisorSpec spec;
  auto err = validate(spec, {child("x"), child("x")});
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("two children are named \"x\""), std::string::npos);
  ChildSpec nameless = child("");
  EXPECT_TRUE(validate(spec, {nameless}));
}

} // namespace
} // namespace troupe

namespace troupe {
namespace {

// (Takes an argument: CAF 0.17 spawns argument-less function actors through a
// null tuple pointer, which UBSan rightly reports.)
caf::behavior stubborn(caf::event_based_actor* self, std::string name) {
  // Ignores the polite exit: only a kill ends it.
  self->set_exit_handler([](caf::exit_msg&) {});
  return {[name](ping_atom) { return name; }};
}

TEST_F(Supervision, ShutdownStopsInReverseOrderAndKillsWhoOutlivesItsTimeout) {
  auto spec = fast(Strategy::one_for_one);
  ChildSpec slow;
  slow.name = "slow";
  slow.shutdown_timeout = 20ms;
  slow.start = [](caf::actor_system& s, std::uint32_t) { return s.spawn(stubborn, std::string{"stubborn"}); };
  start(spec, {child("first"), slow});
  EXPECT_EQ(ping("slow"), "stubborn");
  auto report_before = counters();
  EXPECT_EQ(report_before["killed_at_shutdown"], 0);
  (*self)->monitor(sup);
  bool done = false;
  (*self)->request(sup, 10s, done_atom::value).receive([&](done_atom) { done = true; },
                                                       [&](caf::error& e) { FAIL() << sys->render(e); });
  // "slow" ignores its exit message: the supervisor can only answer once the
  // 20 ms timeout has killed it.
  EXPECT_TRUE(done);
  (*self)->receive([](caf::down_msg&) {});
  sup = nullptr;
}

} // namespace
} // namespace troupe
