// The registry of kinds (subsystem.hpp) and the reader actor (reader.hpp): the
// built-ins register like any kind, a kind of the test's own runs in a real
// run, readers get only the topics they subscribed to, a recorded snapshot a
// reader finishes on a worker holds logic until the worker is done, and a
// reader with a thread of its own may yield it to the simulation.

#include <troupe/actors/kinds.hpp>
#include <troupe/actors/reader.hpp>
#include <troupe/actors/runtime.hpp>
#include <troupe/actors/subsystem.hpp>
#include <troupe/config/topology.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include <sched.h>

namespace troupe {
namespace {

TEST(Registry, BuiltInKindsAreRegisteredByRoleInStartOrder) {
  std::vector<std::pair<std::string, Role>> kinds;
  for (const auto* kind : subsystems().kinds())
    kinds.emplace_back(kind->name, kind->role);
  ASSERT_GE(kinds.size(), 6u);
  const std::vector<std::pair<std::string, Role>> builtins = {
    {"physics", Role::stepper}, {"logic", Role::coordinator}, {"input", Role::source},
    {"observer", Role::reader}, {"audio", Role::reader},      {"render", Role::reader}};
  EXPECT_TRUE(std::equal(builtins.begin(), builtins.end(), kinds.begin()));
  EXPECT_EQ(find_subsystem("render")->mailbox.overflow, config::Overflow::latest);
  EXPECT_EQ(find_subsystem("nonesuch"), nullptr);
}

TEST(Registry, RefusesATakenNameAKindWithoutParserAndOneThatCannotRun) {
  Subsystem twin = *find_subsystem("observer");
  auto refused = register_subsystem(twin);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::bad_argument);
  EXPECT_NE(refused.error().message.find("registered already"), std::string::npos);

  Subsystem unparsed;
  unparsed.name = "unparsed";
  unparsed.make_reader = find_subsystem("observer")->make_reader;
  EXPECT_FALSE(register_subsystem(unparsed));

  Subsystem idle;
  idle.name = "idle";
  idle.role = Role::stepper;
  idle.parse = [](config::ParamsReader&) { return std::any{}; };
  EXPECT_FALSE(register_subsystem(idle)) << "a stepper needs a spawn function";
  EXPECT_EQ(find_subsystem("idle"), nullptr);
}

/// A reader of the test's own: it takes contacts only and counts them.
struct ProbeParams {
  std::uint32_t limit = 5;
};

std::atomic<std::uint64_t> probe_contacts{0};
std::atomic<bool> probe_yielded{true};
std::atomic<int> probe_policy{-1};

class Probe final : public Reader {
public:
  Subscription subscription() const override { return {topic_contacts, 0, 1}; }
  void on_contacts(const ContactBatch& batch, ReaderContext&) override { probe_contacts += batch.events.size(); }
  void on_snapshot(const Snapshot&, ReaderContext&) override { ADD_FAILURE() << "a snapshot it did not ask for"; }
};

const Subsystem& probe_kind() {
  static const bool registered = [] {
    Subsystem kind;
    kind.name = "probe";
    kind.role = Role::reader;
    kind.mailbox = {64, config::Overflow::drop_oldest};
    kind.parse = config::parse_as<ProbeParams>(
      [](config::ParamsReader& in, ProbeParams& p) { in.integer("limit", p.limit, 1, 100); });
    kind.make_reader = [](const ActorContext&, ReaderContext& ctx) -> Expected<std::unique_ptr<Reader>> {
      // Not blocking: it runs on a CAF worker, whose thread is every actor's.
      probe_yielded = ctx.yield_to_simulation();
      probe_policy = ::sched_getscheduler(0);
      return std::unique_ptr<Reader>(std::make_unique<Probe>());
    };
    return static_cast<bool>(register_subsystem(std::move(kind)));
  }();
  EXPECT_TRUE(registered);
  return *find_subsystem("probe");
}

config::Topology topology_with_probe(const std::string& dir) {
  probe_kind();
  auto parsed = config::parse_topology("[simulation]\nticks = 60\nbodies = 300\nseed = 5\n[[nodes]]\nname = \"n\"\n"
                                       "[actors.physics]\n[actors.logic]\n[actors.input]\n"
                                       "[actors.observer]\n[actors.probe]\nlimit = 7\n",
                                       dir + "/t.toml", subsystems());
  if (!parsed)
    throw std::runtime_error(parsed.error().to_string());
  return *parsed;
}

TEST(Registry, AnApplicationKindIsReadDescribedAndRunLikeABuiltIn) {
  const auto dir = (std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / "registry-probe").string();
  std::filesystem::create_directories(dir);
  const auto topology = topology_with_probe(dir);
  const auto& probe = *topology.actor("probe");
  EXPECT_EQ(probe.role, Role::reader);
  EXPECT_EQ(probe.params_as<ProbeParams>().limit, 7u);
  EXPECT_EQ(probe.mailbox.capacity, 64u);
  // No describe of its own: `troupe check` prints its resolved keys.
  EXPECT_NE(config::describe(topology).find("limit 7"), std::string::npos) << config::describe(topology);
  // Its keys are checked like a built-in's.
  auto bad = config::parse_topology("[[nodes]]\nname = \"n\"\n[actors.physics]\n[actors.logic]\n[actors.input]\n"
                                    "[actors.probe]\nlimit = 0\n",
                                    "t.toml", subsystems());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().to_string(), "t.toml:7:1: actors.probe.limit: expected an integer in [1, 100], got 0");

  probe_contacts = 0;
  RunOptions options;
  options.out_dir = dir;
  options.progress = false;
  const auto result = run(topology, options);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_GT(probe_contacts.load(), 0u);
  EXPECT_FALSE(probe_yielded.load()) << "a reader on a CAF worker cannot change the worker's thread";
  EXPECT_EQ(probe_policy.load(), SCHED_OTHER);
  for (const auto& report : result.actors) {
    auto counter = [&](const std::string& name) {
      for (const auto& [key, value] : report.counters)
        if (key == name)
          return value;
      return -1.0;
    };
    if (report.name == "probe") {
      EXPECT_EQ(report.role, "reader");
      EXPECT_EQ(counter("snapshots_seen"), 0) << "it subscribed to contacts only";
      EXPECT_EQ(counter("contact_events"), static_cast<double>(probe_contacts.load()));
    }
    if (report.name == "observer") {
      EXPECT_GT(counter("snapshots_seen"), 0);
    }
  }
}

/// A slow frame writer: each recorded tick takes it 10 ms (the work, not a
/// wait for anything), on a thread of its own, like render's. Logic steps a
/// tick of this small world in far less, so it runs ahead of the writer
/// unless it holds the tick while `window` are unfinished.
class SlowWorker {
public:
  static constexpr std::uint32_t window = 2;
  SlowWorker() : thread_([this] { work(); }) {}
  ~SlowWorker() {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void push(std::uint64_t tick, RecordedDone done) {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (last_taken_ != 0 && tick != last_taken_ + 5)
        ADD_FAILURE() << "recorded tick " << tick << " after " << last_taken_;
      last_taken_ = tick;
      pending_.emplace_back(std::move(done));
    }
    wake_.notify_all();
  }
  /// Waits until everything pushed is finished (the run's end).
  void finish() {
    std::unique_lock<std::mutex> lock{mutex_};
    idle_.wait(lock, [&] { return pending_.empty(); });
  }
  /// Finished, counted before its RecordedDone runs (so before logic hears).
  std::uint64_t finished() const { return finished_.load(); }

private:
  void work() {
    std::unique_lock<std::mutex> lock{mutex_};
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty())
        return;
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(10)); // encoding
      ++finished_;
      lock.lock();
      auto done = std::move(pending_.front());
      lock.unlock();
      done();
      lock.lock();
      pending_.pop_front(); // after done: finish() waits for it too
      idle_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<RecordedDone> pending_;
  std::uint64_t last_taken_ = 0;
  bool stopping_ = false;
  std::atomic<std::uint64_t> finished_{0};
  std::thread thread_;
};

constexpr std::uint64_t holding_every = 5;
std::atomic<std::uint64_t> holding_violations{0}, holding_snapshots{0};
std::atomic<bool> holding_yielded{false};
std::atomic<int> holding_policy{-1};

class HoldingReader final : public Reader {
public:
  explicit HoldingReader(SlowWorker& worker) : worker_(worker) {}
  Subscription subscription() const override {
    return {static_cast<std::uint8_t>(topic_snapshots | topic_recorded_frames), holding_every, SlowWorker::window};
  }
  void on_recorded(const Snapshot& snapshot, ReaderContext& ctx) override {
    worker_.push(snapshot.tick, ctx.finish_recorded_later());
  }
  void on_snapshot(const Snapshot& snapshot, ReaderContext&) override {
    // Logic stepped to this tick only with fewer than `window` recorded
    // ticks before it unfinished.
    const auto recorded_before = (snapshot.tick - 1) / holding_every;
    if (recorded_before > worker_.finished() + (SlowWorker::window - 1))
      ++holding_violations;
    holding_policy = ::sched_getscheduler(0); // the reader's own thread
    ++holding_snapshots;
  }
  void on_finish(std::uint64_t, ReaderContext&) override { worker_.finish(); }

private:
  SlowWorker& worker_;
};

const Subsystem& holding_kind() {
  static const bool registered = [] {
    Subsystem kind;
    kind.name = "holding";
    kind.role = Role::reader;
    kind.blocking = true; // a thread of its own, like render's
    kind.mailbox = {64, config::Overflow::latest};
    kind.parse = [](config::ParamsReader&) { return std::any{}; };
    kind.prepare = [](const ActorContext&) -> Expected<std::shared_ptr<void>> {
      return std::shared_ptr<void>(std::make_shared<SlowWorker>());
    };
    kind.make_reader = [](const ActorContext& ctx, ReaderContext& out) -> Expected<std::unique_ptr<Reader>> {
      holding_yielded = out.yield_to_simulation();
      return std::unique_ptr<Reader>(std::make_unique<HoldingReader>(ctx.state_as<SlowWorker>()));
    };
    return static_cast<bool>(register_subsystem(std::move(kind)));
  }();
  EXPECT_TRUE(registered);
  return *find_subsystem("holding");
}

TEST(Reader, ARecordedSnapshotFinishedOnAWorkerHoldsLogicUntilItIsDoneAndIsTakenOnce) {
  holding_kind();
  const auto dir = (std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / "reader-holding").string();
  std::filesystem::create_directories(dir);
  auto parsed = config::parse_topology("[simulation]\nticks = 60\nbodies = 100\nseed = 3\n[[nodes]]\nname = \"n\"\n"
                                       "[actors.physics]\n[actors.logic]\n[actors.input]\n[actors.holding]\n",
                                       dir + "/t.toml", subsystems());
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  holding_violations = 0;
  holding_snapshots = 0;
  RunOptions options;
  options.out_dir = dir;
  options.progress = false;
  const auto result = run(*parsed, options);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_GT(holding_snapshots.load(), 0u);
  EXPECT_EQ(holding_violations.load(), 0u) << "logic ran ahead of recorded ticks a worker had not finished";
  // A blocking reader may yield: its own thread runs SCHED_BATCH from then on.
  EXPECT_TRUE(holding_yielded.load());
  EXPECT_EQ(holding_policy.load(), SCHED_BATCH);
  for (const auto& report : result.actors) {
    if (report.name != "holding")
      continue;
    for (const auto& [key, value] : report.counters) {
      if (key == "recorded") {
        EXPECT_EQ(value, 12) << "ticks 5, 10, ... 60, each once";
      }
      if (key == "recorded_duplicates") {
        EXPECT_EQ(value, 0);
      }
    }
  }
}

} // namespace
} // namespace troupe
