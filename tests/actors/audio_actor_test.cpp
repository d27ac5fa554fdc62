// The audio actor under a flood: 100,000 contact events in 100,000 batches
// while it is busy. Memory stays within the mailbox bound, voices within the
// voice limit, and every lost event is counted.

#include "subsystems.hpp"

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/audio/mixer.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace troupe {
namespace {

using namespace std::chrono_literals;

double counter(const ActorReport& r, const std::string& name) {
  for (auto& [n, v] : r.counters)
    if (n == name)
      return v;
  return -1;
}

/// The real audio kind as the runtime makes one: a topology (`audio_keys`
/// under [actors.audio]), its prepare, then one incarnation of the reader
/// actor. Holds what the actor refers to, so it outlives the actor.
class AudioUnderTest {
public:
  AudioUnderTest(const std::filesystem::path& dir, const std::string& audio_keys, bool restarted = false)
    : topology_(config::parse_topology("[[nodes]]\nname = \"main\"\n[actors.physics]\n[actors.logic]\n"
                                       "[actors.input]\n[actors.audio]\n" +
                                         audio_keys,
                                       (dir / "t.toml").string(), subsystems())) {
    options_.out_dir = dir.string();
    options_.restarted = restarted; // as a node `troupe up` started again
  }

  /// The topology's error, or "" when it parsed.
  std::string error() const { return topology_ ? std::string{} : topology_.error().to_string(); }
  const config::ActorSpec& spec() const { return *topology_->actor("audio"); }

  caf::actor spawn(caf::actor_system& sys) {
    const auto& kind = subsystem_of(spec());
    ActorContext ctx{spec(), *topology_, topology_->simulation, options_, facts_, 0, {}, nullptr};
    auto state = kind.prepare(ctx);
    if (!state) {
      ADD_FAILURE() << state.error().message;
      return {};
    }
    ctx.state = *state;
    return spawn_reader(sys, kind, ctx, std::make_shared<ReaderCursor>());
  }

private:
  config::LoadResult topology_;
  RunOptions options_;
  const RunFacts facts_;
};

TEST(AudioActor, AFloodOfContactsStaysWithinMailboxAndVoiceBounds) {
  caf::actor_system_config cfg;
  register_message_types(cfg);
  caf::actor_system sys{cfg};
  const auto dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / "audio-flood";
  std::filesystem::create_directories(dir);
  AudioUnderTest under_test{dir, "voices = 16\n"};
  ASSERT_EQ(under_test.error(), "");
  ASSERT_EQ(under_test.spec().mailbox.capacity, 256u);
  auto audio = under_test.spawn(sys);
  const auto wav_path = (dir / "audio.wav").string();
  auto* raw = dynamic_cast<bounded_actor*>(caf::actor_cast<caf::abstract_actor*>(audio));
  ASSERT_NE(raw, nullptr);

  constexpr std::uint64_t events = 100'000;
  for (std::uint64_t i = 0; i < events; ++i) {
    sim::ContactEvent event;
    event.a = {static_cast<std::uint32_t>(i % 500), 1};
    event.point = {static_cast<float>(i % 20) - 10.f, 0.5f, 0.f};
    event.normal = {0.f, 1.f, 0.f};
    event.impulse = 0.1f + static_cast<float>(i % 7);
    event.approach_speed = 2.f;
    event.radius = 0.25f;
    event.restitution = 0.5f;
    // Ten batches per tick: the actor renders as ticks go by.
    caf::anon_send(audio, ContactBatch{i / 10, {event}, i + 1});
  }
  // The snapshot that ends the last tick: the actor renders through it.
  caf::anon_send(audio, Snapshot{1, events / 10, nullptr, {}, 0, 0});
  caf::scoped_actor self{sys};
  ActorReport report;
  self->request(audio, 60s, flush_atom::value, events / 10)
    .receive([&](ActorReport& r) { report = std::move(r); },
             [&](caf::error& e) { FAIL() << sys.render(e); });
  EXPECT_LE(report.mailbox.high_water, 256u);
  EXPECT_LE(counter(report, "peak_voices"), 16);
  const auto received = counter(report, "contact_events_received");
  const auto dropped = counter(report, "contact_events_dropped");
  EXPECT_EQ(received + dropped, static_cast<double>(events));
  EXPECT_EQ(counter(report, "flush_timeouts"), 0);
  EXPECT_EQ(static_cast<double>(report.mailbox.dropped), dropped)
    << "one event per batch: every dropped batch is one dropped event";
  auto wav = audio::read_wav(wav_path);
  ASSERT_TRUE(std::holds_alternative<audio::WavData>(wav));
  EXPECT_EQ(std::get<audio::WavData>(wav).samples.size(), (events / 10) * 800 * 2);
  caf::anon_send_exit(audio, caf::exit_reason::user_shutdown);
}

/// One audio actor of a fresh process (its own actor system and state) that
/// takes `batches` and ends at `final_tick`; `restarted` as a node `troupe up`
/// started again.
ActorReport run_audio(const std::filesystem::path& dir, bool restarted, const std::vector<ContactBatch>& batches,
                      std::uint64_t final_tick) {
  caf::actor_system_config cfg;
  register_message_types(cfg);
  caf::actor_system sys{cfg};
  AudioUnderTest under_test{dir, "", restarted};
  EXPECT_EQ(under_test.error(), "");
  auto audio = under_test.spawn(sys);
  for (const auto& batch : batches)
    caf::anon_send(audio, batch);
  caf::anon_send(audio, Snapshot{1, final_tick, nullptr, {}, 0, 0});
  caf::scoped_actor self{sys};
  ActorReport report;
  self->request(audio, 60s, flush_atom::value, final_tick)
    .receive([&](ActorReport& r) { report = std::move(r); },
             [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  caf::anon_send_exit(audio, caf::exit_reason::user_shutdown);
  return report;
}

std::vector<char> bytes_of(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(AudioActor, AProcessStartedAgainRendersTheWavAgainFromItsContactLog) {
  const auto dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / "audio-log";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::vector<ContactBatch> batches;
  for (std::uint64_t i = 0; i < 40; ++i) {
    sim::ContactEvent event;
    event.a = {static_cast<std::uint32_t>(i), 1};
    event.point = {static_cast<float>(i % 9) - 4.f, 0.5f, 1.f};
    event.impulse = 0.5f + static_cast<float>(i % 5);
    event.approach_speed = 3.f;
    event.radius = 0.3f;
    event.restitution = 0.4f;
    batches.push_back({3 * i, {event}, i + 1});
  }
  // The first process takes every batch: the WAV, and the log it is made of.
  run_audio(dir, false, batches, 150);
  const auto wav = bytes_of(dir / "audio.wav");
  const auto log = bytes_of(dir / "audio.contacts");
  ASSERT_GT(wav.size(), 44u);
  ASSERT_GT(log.size(), 16u);

  // Killed while it appended a record: the tail is torn. The process started
  // again renders the same WAV from the whole records, drops the torn one,
  // and takes no batch twice (logic sends the unacknowledged ones again).
  {
    std::ofstream torn(dir / "audio.contacts", std::ios::binary | std::ios::app);
    const std::uint32_t length = 1000;
    torn.write(reinterpret_cast<const char*>(&length), sizeof length);
    torn.write("half a record", 13);
  }
  const auto again = run_audio(dir, true, {batches.end() - 5, batches.end()}, 150);
  EXPECT_EQ(bytes_of(dir / "audio.wav"), wav);
  EXPECT_EQ(bytes_of(dir / "audio.contacts"), log);
  EXPECT_EQ(counter(again, "late_batches"), 0);
  EXPECT_EQ(counter(again, "contact_batches_replayed"), static_cast<double>(batches.size()));

  // Damaged bytes in a record (a disk, a person): the replay stops before it,
  // says so, and the process runs on; the log keeps the records before it.
  auto damaged = log;
  damaged[damaged.size() / 2] ^= 0x5a;
  std::ofstream(dir / "audio.contacts", std::ios::binary | std::ios::trunc)
    .write(damaged.data(), static_cast<std::streamsize>(damaged.size()));
  run_audio(dir, true, {}, 150);
  const auto kept = bytes_of(dir / "audio.contacts");
  EXPECT_LT(kept.size(), log.size() / 2 + 1);
  EXPECT_TRUE(std::equal(kept.begin(), kept.end(), log.begin()));
  EXPECT_TRUE(std::holds_alternative<audio::WavData>(audio::read_wav((dir / "audio.wav").string())));

  // A fresh run (not started again) begins both anew.
  run_audio(dir, false, {batches.front()}, 150);
  EXPECT_LT(bytes_of(dir / "audio.contacts").size(), log.size() / 10);
}

} // namespace
} // namespace troupe
