// Restart latency: from a child's failure to its replacement serving again
// through the stable name, next to plain CAF spawn-and-first-reply.

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/metrics.hpp>
#include <troupe/actors/supervisor.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

#include <benchmark/benchmark.h>

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
  caf::scoped_actor self{sys};
  caf::actor stable;
  self->request(sup, 5s, lookup_atom::value, std::string{"worker"})
    .receive([&](caf::actor& a) { stable = a; }, [&](caf::error&) {});
  SampleRecorder samples;
  for (auto _ : state) {
    const auto start = steady_now_ns();
    self->send(stable, crash_atom::value);
    // A ping may still reach the dying incarnation: it fails and is retried.
    for (bool up = false; !up;)
      self->request(stable, 5s, ping_atom::value).receive([&](int) { up = true; }, [&](caf::error&) {});
    samples.add(static_cast<double>(steady_now_ns() - start));
  }
  counters(state, samples);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}
BENCHMARK(BM_RestartToServing)->Iterations(10000)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_CafSpawnAndFirstReply(benchmark::State& state) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  SampleRecorder samples;
  for (auto _ : state) {
    const auto start = steady_now_ns();
    auto a = sys.spawn(pinger, 1);
    self->request(a, 5s, ping_atom::value).receive([](int) {}, [](caf::error&) {});
    samples.add(static_cast<double>(steady_now_ns() - start));
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  counters(state, samples);
}
BENCHMARK(BM_CafSpawnAndFirstReply)->Iterations(10000)->UseRealTime()->Unit(benchmark::kMicrosecond);

} // namespace
} // namespace troupe
