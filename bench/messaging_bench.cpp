// Snapshot hand-off latency (one actor system, and two systems over the
// middleman) and bounded-mailbox throughput next to a plain CAF actor.
//
// Hand-off: a publisher sends a Snapshot (shared_ptr<const World>) to a
// subscriber whose mailbox is bounded with `latest`; the subscriber measures
// publish -> handler on the steady clock and answers, so each sample is one
// isolated hand-off. Counters: p50_us, p99_us.

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/metrics.hpp>
#include <troupe/actors/runtime.hpp>
#include <troupe/memory.hpp>
#include <troupe/messages/caf_types.hpp>
#include <troupe/messages/compact.hpp>
#include <troupe/sim/advance.hpp>
#include <troupe/sim/physics.hpp>
#include <troupe/sim/rules.hpp>
#include <troupe/sim/scenario.hpp>

#include "common/net.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/wait.h>

namespace troupe {
namespace {

using namespace std::chrono_literals;

/// An actor system as a troupe node has it (its scheduler included), so the
/// figures are those of a run.
class bench_config : public caf::actor_system_config {
public:
  bench_config() { configure_actor_system(*this); }
};

/// Answers every snapshot with its hand-off latency in nanoseconds.
class latency_subscriber : public bounded_actor {
public:
  explicit latency_subscriber(caf::actor_config& cfg)
    : bounded_actor(cfg, {4, config::Overflow::latest}) {}

  caf::behavior make_behavior() override {
    return {
      [](const Snapshot& s) { return steady_now_ns() - s.published_ns; },
      [](const WorldPtr&) {},
    };
  }
};

WorldPtr world_of(std::uint32_t bodies) {
  return std::make_shared<const sim::World>(
    sim::make_scenario({.name = "pile", .bodies = bodies, .seed = 1, .tick_hz = 60}));
}

void report(benchmark::State& state, const SampleRecorder& samples_ns) {
  const auto p = samples_ns.percentiles();
  state.counters["p50_us"] = p.p50 / 1e3;
  state.counters["p99_us"] = p.p99 / 1e3;
  state.counters["max_us"] = p.max / 1e3;
}

/// Publishes `rounds` snapshots one after the other, each as soon as the
/// previous was handled, and hands the latencies to `done`: the scheduler stays
/// busy, as it is in a running simulation.
class publisher : public caf::event_based_actor {
public:
  publisher(caf::actor_config& cfg, caf::actor reader, WorldPtr world, int rounds, caf::actor finished)
    : event_based_actor(cfg), subscriber_(std::move(reader)), world_(std::move(world)),
      rounds_(rounds), done_(std::move(finished)) {}

  caf::behavior make_behavior() override {
    publish();
    return {[](int) {}};
  }

private:
  void publish() {
    Snapshot snapshot{++generation_, world_->tick, world_, {}, 0, steady_now_ns()};
    request(subscriber_, caf::infinite, std::move(snapshot))
      .then(
        [this](std::int64_t ns) {
          samples_.push_back(static_cast<double>(ns));
          if (static_cast<int>(samples_.size()) < rounds_)
            publish();
          else
            finish();
        },
        [this](caf::error&) { finish(); });
  }

  void finish() {
    send(done_, samples_);
    subscriber_ = nullptr;
    done_ = nullptr;
    quit();
  }

  caf::actor subscriber_;
  WorldPtr world_;
  int rounds_;
  caf::actor done_;
  std::uint64_t generation_ = 0;
  std::vector<double> samples_;
};

void handoff(benchmark::State& state, caf::actor_system& publisher_sys, const caf::actor& subscriber,
             int rounds) {
  const auto world = world_of(static_cast<std::uint32_t>(state.range(0)));
  caf::scoped_actor self{publisher_sys};
  SampleRecorder samples;
  for (auto _ : state) {
    publisher_sys.spawn<publisher>(subscriber, world, rounds, caf::actor{self});
    self->receive([&](std::vector<double>& ns) {
      for (double v : ns)
        samples.add(v);
    });
  }
  report(state, samples);
}

void BM_SnapshotHandoffInProcess(benchmark::State& state) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  auto subscriber = sys.spawn<latency_subscriber>();
  handoff(state, sys, subscriber, 20000);
  caf::anon_send_exit(subscriber, caf::exit_reason::user_shutdown);
}
BENCHMARK(BM_SnapshotHandoffInProcess)->Arg(1000)->Arg(100000)->Iterations(1)->UseRealTime()
  ->Unit(benchmark::kMillisecond);

void BM_SnapshotHandoffAcrossNodes(benchmark::State& state) {
  // Two actor systems have two node ids: the middleman really serializes.
  bench_config cfg_a, cfg_b;
  caf::actor_system node_a{cfg_a};
  caf::actor_system node_b{cfg_b};
  auto subscriber = node_b.spawn<latency_subscriber>();
  auto port = node_b.middleman().publish(subscriber, 0, "127.0.0.1");
  if (!port) {
    state.SkipWithError("publish failed");
    return;
  }
  auto proxy = node_a.middleman().remote_actor("127.0.0.1", *port);
  if (!proxy) {
    state.SkipWithError("connect failed");
    return;
  }
  handoff(state, node_a, *proxy, state.range(0) > 10000 ? 50 : 1000);
  node_b.middleman().unpublish(subscriber, *port);
  caf::anon_send_exit(subscriber, caf::exit_reason::user_shutdown);
}
BENCHMARK(BM_SnapshotHandoffAcrossNodes)->Arg(1000)->Arg(100000)->Iterations(1)->UseRealTime()
  ->Unit(benchmark::kMillisecond);

// What crossing a node costs before the network: encode and decode of a
// snapshot (Boost payload in a WireEnvelope, through CAF's serializer).
void BM_SnapshotEncode(benchmark::State& state) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  const auto world = world_of(static_cast<std::uint32_t>(state.range(0)));
  Snapshot snapshot{1, world->tick, world, {}, 0, 0};
  std::vector<char> buf;
  for (auto _ : state) {
    buf.clear();
    caf::binary_serializer sink{sys, buf};
    benchmark::DoNotOptimize(sink(snapshot));
  }
  state.counters["bytes"] = static_cast<double>(buf.size());
  state.counters["bytes_per_body"] = static_cast<double>(buf.size()) / static_cast<double>(state.range(0));
}
BENCHMARK(BM_SnapshotEncode)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);

void BM_SnapshotDecode(benchmark::State& state) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  const auto world = world_of(static_cast<std::uint32_t>(state.range(0)));
  Snapshot snapshot{1, world->tick, world, {}, 0, 0};
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  (void)sink(snapshot);
  for (auto _ : state) {
    Snapshot out;
    caf::binary_deserializer source{sys, buf};
    benchmark::DoNotOptimize(source(out));
  }
}
BENCHMARK(BM_SnapshotDecode)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);

// --- Compact snapshots ------------------------------------------------------

/// The worlds of a sandbox of 10k bodies falling from their lattice into a pile
/// (fountain on), one per tick for a second: simulated once, shared by the runs.
const std::vector<WorldPtr>& falling_sandbox() {
  static const std::vector<WorldPtr> worlds = [] {
    sim::World world = sim::make_scenario({.name = "sandbox", .bodies = 10000, .seed = 1, .tick_hz = 60});
    tbb::task_arena arena;
    const auto parallel = sim::Parallel::in_arena(arena);
    std::vector<sim::ContactEvent> events;
    std::vector<WorldPtr> out;
    for (int t = 0; t < 60; ++t) {
      (void)sim::advance(world, {}, nullptr, sim::PhysicsSettings{}, parallel, events); // no rules: cannot fail
      events.clear();
      out.push_back(std::make_shared<const sim::World>(world));
    }
    return out;
  }();
  return worlds;
}

// One remote subscriber that acknowledges every generation before the next:
// a keyframe, then deltas against the previous generation. Counters:
// bytes_per_moving_body (body bytes of the deltas per body that moved),
// wire_bytes_per_moving_body (the whole framed message), keyframe_bytes_per_body,
// raw_bytes_per_body (Boost encoding of the world), encode_us and decode_us per
// snapshot (encode includes quantizing the world).
void BM_CompactSnapshotBytes(benchmark::State& state) {
  keep_freed_memory(); // as in every troupe process, whichever benchmarks ran before
  const auto& worlds = falling_sandbox();
  using clock = std::chrono::steady_clock;
  double encode_s = 0, decode_s = 0, body_bytes = 0, wire_bytes = 0, moving = 0, keyframe_bytes = 0;
  std::size_t snapshots = 0;
  std::vector<char> frame;
  for (auto _ : state) {
    SnapshotEncoder encoder(std::make_shared<SnapshotHistory>());
    SnapshotDecoder decoder;
    std::uint64_t acked = 0;
    for (std::size_t k = 0; k < worlds.size(); ++k) {
      const Snapshot in{k + 1, worlds[k]->tick, worlds[k], {{1, k}}, sim::world_hash(*worlds[k]), 0};
      const auto t0 = clock::now();
      const CompactSnapshot compact = encoder.encode(in, acked);
      const auto t1 = clock::now();
      Snapshot out;
      if (auto err = decoder.decode(compact, out)) {
        state.SkipWithError(err->message.c_str());
        return;
      }
      const auto t2 = clock::now();
      encode_s += std::chrono::duration<double>(t1 - t0).count();
      decode_s += std::chrono::duration<double>(t2 - t1).count();
      ++snapshots;
      acked = out.generation;
      encode_framed(compact, frame);
      if (compact.base_generation == 0) {
        keyframe_bytes = static_cast<double>(compact.bytes.size()) / compact.body_count;
      } else {
        body_bytes += static_cast<double>(compact.bytes.size());
        wire_bytes += static_cast<double>(frame.size());
        moving += compact.moving_count;
      }
    }
  }
  state.counters["bytes_per_moving_body"] = body_bytes / moving;
  state.counters["wire_bytes_per_moving_body"] = wire_bytes / moving;
  state.counters["keyframe_bytes_per_body"] = keyframe_bytes;
  state.counters["raw_bytes_per_body"] =
    static_cast<double>(encode(*worlds.back()).size()) / static_cast<double>(worlds.back()->size());
  state.counters["encode_us"] = encode_s * 1e6 / static_cast<double>(snapshots);
  state.counters["decode_us"] = decode_s * 1e6 / static_cast<double>(snapshots);
}
BENCHMARK(BM_CompactSnapshotBytes)->Iterations(3)->Unit(benchmark::kMillisecond);

// --- 20 senders into 1 -----------------------------------------------------

constexpr int senders = 20;
constexpr int per_sender = 50000;

/// Counts messages; tells `done` when all arrived.
template <class Base>
caf::behavior counting(Base* self, caf::actor finished, int expected) {
  auto count = std::make_shared<int>(0);
  return {
    [=](int) {
      if (++*count == expected)
        self->send(finished, done_atom::value);
    },
  };
}

class plain_sink : public caf::event_based_actor {
public:
  plain_sink(caf::actor_config& cfg, caf::actor finished) : event_based_actor(cfg), done_(std::move(finished)) {}
  caf::behavior make_behavior() override { return counting(this, done_, senders * per_sender); }

private:
  caf::actor done_;
};

/// A sink with a bounded mailbox big enough that the flood is never cut: the
/// figure is the cost of admission control, per policy family.
template <config::Overflow Policy>
class bounded_sink : public bounded_actor {
public:
  bounded_sink(caf::actor_config& cfg, caf::actor finished)
    : bounded_actor(cfg, {1u << 21, Policy}), done_(std::move(finished)) {}
  caf::behavior make_behavior() override { return counting(this, done_, senders * per_sender); }

private:
  caf::actor done_;
};

/// One flood: 20 senders, 50,000 messages each, into a new `Sink`. Returns
/// its seconds; raises `high_water` to the sink's (bounded ones).
template <class Sink> double flood(caf::actor_system& sys, caf::scoped_actor& self, double& high_water) {
  const auto start = std::chrono::steady_clock::now();
  auto sink = sys.spawn<Sink>(caf::actor{self});
  for (int s = 0; s < senders; ++s)
    sys.spawn([sink](caf::event_based_actor* sender) {
      for (int i = 0; i < per_sender; ++i)
        sender->send(sink, i);
      sender->quit();
    });
  self->receive([](done_atom) {});
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  if (auto* bounded = dynamic_cast<bounded_actor*>(caf::actor_cast<caf::abstract_actor*>(sink)))
    high_water = std::max(high_water, static_cast<double>(bounded->mailbox_stats().high_water));
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  return took.count();
}

/// A plain CAF actor, `reject` and `drop-oldest` bounded mailboxes, one flood
/// each per iteration in a rotating order (drift and warm-up fall on all
/// three alike): M msg/s of each, and each bounded one against plain CAF.
void BM_FanIn(benchmark::State& state) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  std::array<double, 3> seconds{};
  double high_water = 0;
  const std::array<std::function<double()>, 3> kinds{
    [&] { return flood<plain_sink>(sys, self, high_water); },
    [&] { return flood<bounded_sink<config::Overflow::reject>>(sys, self, high_water); },
    [&] { return flood<bounded_sink<config::Overflow::drop_oldest>>(sys, self, high_water); },
  };
  std::size_t round = 0;
  for (auto _ : state) {
    for (std::size_t k = 0; k < kinds.size(); ++k) {
      const std::size_t kind = (round + k) % kinds.size();
      seconds[kind] += kinds[kind]();
    }
    ++round;
  }
  const double millions = static_cast<double>(senders * per_sender) * static_cast<double>(state.iterations()) / 1e6;
  state.counters["plain_M_per_s"] = millions / seconds[0];
  state.counters["reject_M_per_s"] = millions / seconds[1];
  state.counters["drop_oldest_M_per_s"] = millions / seconds[2];
  state.counters["reject_x"] = seconds[0] / seconds[1];
  state.counters["drop_oldest_x"] = seconds[0] / seconds[2];
  state.counters["high_water"] = high_water; // how far a bounded sink fell behind the senders
}
BENCHMARK(BM_FanIn)->Iterations(6)->UseRealTime()->Unit(benchmark::kMillisecond);

} // namespace
} // namespace troupe

namespace {

/// The machine's own floor under a snapshot to another process: one message of
/// `bytes` from a forked process over loopback TCP to this one, blocked in
/// `recv`, once per 60 Hz tick (each send finds the receiver asleep, as a
/// tick's snapshot finds its reader). Send to received, p50 in microseconds;
/// -1 when a socket failed.
double loopback_hop_p50_us(std::size_t bytes, int sends) {
  bytes = std::max(bytes, sizeof(std::int64_t));
  std::vector<char> buf(bytes); // before the fork: the child allocates nothing
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || ::listen(listener, 1) != 0) {
    ::close(listener);
    return -1;
  }
  const pid_t child = ::fork();
  if (child == 0) {
    const int out = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (out < 0 || ::connect(out, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::setsockopt(out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
      ::_exit(1);
    for (int i = 0; i < sends; ++i) {
      timespec tick{0, 16'666'667};
      ::nanosleep(&tick, nullptr);
      const std::int64_t now = troupe::steady_now_ns();
      std::memcpy(buf.data(), &now, sizeof now);
      for (std::size_t at = 0; at < bytes;) {
        const ssize_t n = ::send(out, buf.data() + at, bytes - at, MSG_NOSIGNAL);
        if (n <= 0)
          ::_exit(1);
        at += static_cast<std::size_t>(n);
      }
    }
    ::_exit(0);
  }
  pollfd ready{listener, POLLIN, 0};
  const int in = child > 0 && ::poll(&ready, 1, 5000) == 1 ? ::accept(listener, nullptr, nullptr) : -1;
  ::close(listener);
  troupe::SampleRecorder hop_us;
  for (int i = 0; in >= 0 && i < sends; ++i) {
    std::size_t at = 0;
    while (at < bytes) {
      const ssize_t n = ::recv(in, buf.data() + at, bytes - at, 0);
      if (n <= 0)
        break;
      at += static_cast<std::size_t>(n);
    }
    if (at < bytes)
      break;
    std::int64_t sent = 0;
    std::memcpy(&sent, buf.data(), sizeof sent);
    hop_us.add(static_cast<double>(troupe::steady_now_ns() - sent) / 1e3);
  }
  if (in >= 0)
    ::close(in);
  if (child > 0)
    ::waitpid(child, nullptr, 0);
  return hop_us.size() == static_cast<std::size_t>(sends) ? hop_us.percentiles().p50 : -1;
}

/// The machine's own floor under a realtime hand-off: one thread wakes
/// another, blocked on a condition variable, once per 60 Hz tick (as logic's
/// snapshot wakes a reader's idle worker), `wakes` times. Notify to woken.
troupe::Percentiles thread_wake_us(int wakes) {
  std::mutex mutex;
  std::condition_variable woken;
  std::int64_t stamp = 0;
  int sent = 0;
  troupe::SampleRecorder us;
  std::thread reader([&] {
    std::unique_lock<std::mutex> lock{mutex};
    for (int seen = 0; seen < wakes; ++seen) {
      woken.wait(lock, [&] { return sent > seen; });
      us.add(static_cast<double>(troupe::steady_now_ns() - stamp) / 1e3);
    }
  });
  for (int i = 0; i < wakes; ++i) {
    std::this_thread::sleep_for(std::chrono::nanoseconds{16'666'667});
    {
      std::lock_guard<std::mutex> guard{mutex};
      stamp = troupe::steady_now_ns();
      ++sent;
    }
    woken.notify_one();
  }
  reader.join();
  return us.percentiles();
}

} // namespace

// A snapshot from logic to an observer in another process (`troupe up`, two
// nodes on this host): publish to handled, after the wire and the compact
// decode. Both processes read the same monotonic clock. Arg: bodies.
// Beside it, the floor this machine puts under it in the same run: logic's
// compact encode p50, the reader's decode p50, and one loopback TCP message
// of the run's mean compact size between two processes (loopback_hop_p50_us);
// `floor_us` is their sum, what is left above it is the middleman's hops.
void BM_SnapshotAcrossProcesses(benchmark::State& state) {
  using troupe::testing::free_port;
  const auto dir = std::filesystem::temp_directory_path() / ("troupe-bench-procs-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto config = (dir / "two.toml").string();
  std::ofstream(config) << "[simulation]\nticks = 600\nmode = \"realtime\"\nscenario = \"sandbox\"\nbodies = "
                        << state.range(0) << "\n[[nodes]]\nname = \"main\"\nport = " << free_port()
                        << "\n[[nodes]]\nname = \"reader\"\nport = " << free_port()
                        << "\n[actors.physics]\n[actors.logic]\n[actors.input]\n[actors.observer]\nnode = \"reader\"\n";
  nlohmann::json report;
  for (auto _ : state) {
    const auto command = std::string(TROUPE_EXE) + " up " + config + " --quiet --out " + (dir / "out").string() +
                         " > " + (dir / "log").string() + " 2>&1";
    if (std::system(command.c_str()) != 0) {
      state.SkipWithError("troupe up failed");
      return;
    }
    std::ifstream in(dir / "out" / "report.json");
    report = nlohmann::json::parse(in, nullptr, false);
  }
  auto actor = [&](const std::string& name) {
    for (const auto& entry : report.value("actors", nlohmann::json::array()))
      if (entry.value("name", std::string{}) == name)
        return entry;
    return nlohmann::json::object();
  };
  auto distribution = [&](const std::string& name, const std::string& which) {
    return actor(name).value("distributions", nlohmann::json::object()).value(which, nlohmann::json::object());
  };
  const auto handoff = distribution("observer", "handoff_us");
  const auto logic = actor("logic").value("counters", nlohmann::json::object());
  state.counters["p50_us"] = handoff.value("p50", -1.0);
  state.counters["p99_us"] = handoff.value("p99", -1.0);
  state.counters["bytes_per_moving_body"] = logic.value("bytes_per_moving_body", -1.0);
  const double encode = distribution("logic", "compact_encode_us").value("p50", -1.0);
  const double decode = distribution("observer", "compact_decode_us").value("p50", -1.0);
  const double sent = logic.value("compact_snapshots_sent", 0.0);
  const double hop = loopback_hop_p50_us(
    sent > 0 ? static_cast<std::size_t>(logic.value("compact_bytes_sent", 0.0) / sent) : 0, 300);
  state.counters["encode_p50_us"] = encode;
  state.counters["decode_p50_us"] = decode;
  state.counters["loopback_hop_p50_us"] = hop;
  state.counters["floor_us"] = encode < 0 || decode < 0 || hop < 0 ? -1.0 : encode + decode + hop;
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SnapshotAcrossProcesses)->Arg(1000)->Arg(10000)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// The hand-off as a run sees it (beside BM_SnapshotHandoffInProcess, whose
// scheduler never sleeps): `troupe run` of the demo's sandbox with every reader
// of the demo (observer, audio, render on lavapipe), in batch mode (arg 0) and
// realtime at 60 Hz (arg 1); the observer's hand-off from logic's publish to its
// handler. Arg 2 is realtime with render and audio removed. Beside each
// realtime run, the floor under it: one bare thread wake-up at 60 Hz in this
// process right after it (wake_p50_us, wake_p99_us).
void BM_SnapshotHandoffInARun(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / ("troupe-bench-run-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string config = std::string(TROUPE_SOURCE_DIR) + "/config/examples/sandbox.toml";
  if (state.range(0) == 2) {
    config = (dir / "bare.toml").string();
    std::ofstream(config) << "[simulation]\nticks = 600\nseed = 42\nscenario = \"sandbox\"\nbodies = 2000\n"
                             "[[nodes]]\nname = \"main\"\n"
                             "[actors.physics]\n[actors.logic]\n[actors.input]\n[actors.observer]\n";
  }
  nlohmann::json report;
  for (auto _ : state) {
    const auto command = std::string(TROUPE_EXE) + " run " + config + (state.range(0) > 0 ? " --realtime" : "") +
                         " --quiet --out " + (dir / "out").string() + " > " + (dir / "log").string() + " 2>&1";
    if (std::system(command.c_str()) != 0) {
      state.SkipWithError("troupe run failed");
      return;
    }
    std::ifstream in(dir / "out" / "report.json");
    report = nlohmann::json::parse(in, nullptr, false);
  }
  for (const auto& entry : report.value("actors", nlohmann::json::array()))
    if (entry.value("name", std::string{}) == "observer") {
      const auto handoff =
        entry.value("distributions", nlohmann::json::object()).value("handoff_us", nlohmann::json::object());
      state.counters["p50_us"] = handoff.value("p50", -1.0);
      state.counters["p99_us"] = handoff.value("p99", -1.0);
    }
  if (state.range(0) > 0) { // beside a realtime run, what one bare wake-up costs on this machine now
    const auto wake = thread_wake_us(300);
    state.counters["wake_p50_us"] = wake.p50;
    state.counters["wake_p99_us"] = wake.p99;
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SnapshotHandoffInARun)->ArgName("realtime")->Arg(0)->Arg(1)->Arg(2)->Iterations(1)->UseRealTime()
  ->Unit(benchmark::kMillisecond);
