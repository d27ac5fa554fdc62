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

namespace troupe {
namespace {

using namespace std::chrono_literals;

double counter(const ActorReport& r, const std::string& name) {
  for (auto& [n, v] : r.counters)
    if (n == name)
      return v;
  return -1;
}

TEST(AudioActor, AFloodOfContactsStaysWithinMailboxAndVoiceBounds) {
  caf::actor_system_config cfg;
  register_message_types(cfg);
  caf::actor_system sys{cfg};
  const auto dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / "audio-flood";
  std::filesystem::create_directories(dir);
  // The real audio kind, as the runtime makes one: a topology, its prepare,
  // then one incarnation of the reader actor.
  auto topology = config::parse_topology("[[nodes]]\nname = \"main\"\n[actors.physics]\n[actors.logic]\n"
                                         "[actors.input]\n[actors.audio]\nvoices = 16\n",
                                         (dir / "t.toml").string(), subsystems());
  ASSERT_TRUE(topology) << topology.error().to_string();
  const auto& spec = *topology->actor("audio");
  ASSERT_EQ(spec.mailbox.capacity, 256u);
  RunOptions options;
  options.out_dir = dir.string();
  const RunFacts facts;
  const auto& kind = subsystem_of(spec);
  ActorContext ctx{spec, *topology, topology->simulation, options, facts, 0, {}, nullptr};
  auto state = kind.prepare(ctx);
  ASSERT_TRUE(state);
  ctx.state = *state;
  auto audio = spawn_reader(sys, kind, ctx, std::make_shared<ReaderCursor>());
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

} // namespace
} // namespace troupe
