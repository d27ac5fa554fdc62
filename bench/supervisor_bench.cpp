// Restart latency: from a child's failure to its replacement serving again
// through the stable name, next to plain CAF spawn-and-first-reply.

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/metrics.hpp>
#include <troupe/actors/supervisor.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

#include <benchmark/benchmark.h>

#include <functional>
#include <memory>

namespace troupe {
namespace {

using namespace std::chrono_literals;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;

// (An argument: CAF 0.17 spawns argument-less function actors through a null tuple.)
caf::behavior pinger(caf::event_based_actor* self, int answer) {
  self->set_exception_handler(exception_to_error);
  return {
    [answer](ping_atom) { return answer; },
    [](crash_atom) -> int { throw std::runtime_error("crash on purpose"); },
  };
}

void counters(benchmark::State& state, const SampleRecorder& ns) {
  const auto p = ns.percentiles();
  state.counters["p50_us"] = p.p50 / 1e3;
  state.counters["p99_us"] = p.p99 / 1e3;
  state.counters["max_us"] = p.max / 1e3;
}

/// Runs `rounds` timed cycles inside an event-based actor and records each one:
/// a blocking (scoped) actor as the driver would add a condition-variable
/// wake-up to every reply, which is the driver's cost, not the thing measured.
/// `cycle(self, done)` starts one cycle and calls `done()` when it is over.
using Cycle = std::function<void(caf::event_based_actor*, std::function<void()>)>;

caf::behavior timing_driver(caf::event_based_actor* self, int rounds, SampleRecorder* samples, Cycle cycle,
                            caf::actor report_to) {
  auto left = std::make_shared<int>(rounds);
  auto next = std::make_shared<std::function<void()>>();
  *next = [=] {
    if ((*left)-- == 0) {
      self->send(report_to, done_atom::value);
      self->quit();
      return;
    }
    const auto start = steady_now_ns();
    cycle(self, [=] {
      samples->add(static_cast<double>(steady_now_ns() - start));
      (*next)();
    });
  };
  (*next)();
  return {[](ping_atom) {}};
}

/// Runs state.range(0) cycles in one benchmark iteration and reports their
/// percentiles; the iteration's time is the median cycle.
void drive(benchmark::State& state, caf::actor_system& sys, const Cycle& cycle) {
  SampleRecorder samples;
  for (auto _ : state) {
    caf::scoped_actor self{sys};
    sys.spawn(timing_driver, static_cast<int>(state.range(0)), &samples, cycle, caf::actor{self});
    self->receive([](done_atom) {});
    state.SetIterationTime(1e-9 * samples.percentiles().p50);
  }
  counters(state, samples);
  state.counters["cycles"] = static_cast<double>(samples.size());
}

void BM_RestartToServing(benchmark::State& state) {
  caf::actor_system_config cfg;
  register_message_types(cfg);
  caf::actor_system sys{cfg};
  SupervisorSpec spec;
  spec.max_restarts = 1u << 30;
  spec.backoff_min = 0us; // the figure is the machinery, not the policy's wait
  spec.backoff_max = 0us;
  ChildSpec child;
  child.name = "worker";
  child.start = [](caf::actor_system& s, std::uint32_t) { return s.spawn(pinger, 1); };
  auto sup = spawn_supervisor(sys, spec, {child});
  caf::actor stable;
  {
    caf::scoped_actor self{sys};
    self->request(sup, 5s, lookup_atom::value, std::string{"worker"})
      .receive([&](caf::actor& a) { stable = a; }, [&](caf::error&) {});
  }
  // Failure -> a ping through the stable name answered by the next incarnation.
  // A ping may still reach the dying incarnation: it fails and is sent again.
  drive(state, sys, [stable](caf::event_based_actor* self, std::function<void()> done) {
    self->send(stable, crash_atom::value);
    auto ping = std::make_shared<std::function<void()>>();
    *ping = [=] {
      self->request(stable, caf::infinite, ping_atom::value).then([=](int) { done(); }, [=](caf::error&) { (*ping)(); });
    };
    (*ping)();
  });
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}
BENCHMARK(BM_RestartToServing)->Arg(10000)->Iterations(1)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_CafSpawnAndFirstReply(benchmark::State& state) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  drive(state, sys, [](caf::event_based_actor* self, std::function<void()> done) {
    auto a = self->spawn(pinger, 1);
    self->request(a, caf::infinite, ping_atom::value).then([=](int) {
      self->send_exit(a, caf::exit_reason::user_shutdown);
      done();
    });
  });
}
BENCHMARK(BM_CafSpawnAndFirstReply)->Arg(10000)->Iterations(1)->UseManualTime()->Unit(benchmark::kMicrosecond);

} // namespace
} // namespace troupe
