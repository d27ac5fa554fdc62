// Round trips of every message type through both codecs: Boost (codec.hpp) and
// CAF's binary serializer (which carries the Boost bytes in a WireEnvelope).

#include <troupe/messages/caf_types.hpp>
#include <troupe/messages/codec.hpp>
#include <troupe/messages/compact.hpp>
#include <troupe/sim/scenario.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/serializer_impl.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace troupe {
namespace {

WorldPtr sample_world(std::uint32_t bodies = 64) {
  return std::make_shared<const sim::World>(
    sim::make_scenario({.name = "sandbox", .bodies = bodies, .seed = 7, .tick_hz = 60}));
}

Snapshot sample_snapshot() {
  return Snapshot{.generation = 12, .tick = 11, .world = sample_world(),
                  .acks = {{1, 5}, {2, 9}}, .world_hash = 0xabcdef, .published_ns = 42, .parts = 4, .part = 2};
}

/// A tick of a world in regions: a plan with one of each body operation, a
/// parcel, and a region's answer.
RegionStep sample_region_step() {
  const auto world = sample_world(8);
  auto plan = std::make_shared<sim::TickPlan>();
  plan->tick = 30;
  plan->settings = *world;
  plan->settings.gravity = {0, -3, 0};
  plan->ops = {sim::SpawnOp{{world->bodies[0], world->infos[0]}}, sim::ImpulseOp{{3, 1}, {1, 2, 3}},
               sim::ShakeOp{{0, 4, 0}}, sim::RemoveOp{{5, 0}}};
  plan->layout = sim::Layout::even(world->arena, {2, 1, 3});
  plan->halo = 2.5f;
  return RegionStep{plan, 31, true};
}

void expect_same(const RegionStep& a, const RegionStep& b) {
  ASSERT_TRUE(b.plan);
  EXPECT_EQ(a.plan->tick, b.plan->tick);
  EXPECT_EQ(a.plan->settings.gravity.y, b.plan->settings.gravity.y);
  ASSERT_EQ(b.plan->ops.size(), 4u);
  EXPECT_EQ(std::get<sim::SpawnOp>(b.plan->ops[0]).spawned.info.id,
            std::get<sim::SpawnOp>(a.plan->ops[0]).spawned.info.id);
  EXPECT_EQ(std::get<sim::ImpulseOp>(b.plan->ops[1]).dv.z, 3.f);
  EXPECT_EQ(std::get<sim::ShakeOp>(b.plan->ops[2]).dv.y, 4.f);
  EXPECT_EQ(std::get<sim::RemoveOp>(b.plan->ops[3]).body.index, 5u);
  EXPECT_TRUE(a.plan->layout == b.plan->layout);
  EXPECT_EQ(b.plan->halo, 2.5f);
  EXPECT_EQ(b.generation, 31u);
  EXPECT_TRUE(b.checkpoint);
}

RegionParcel sample_parcel() {
  const auto world = sample_world(8);
  RegionParcel parcel{17, {3, {}}};
  for (std::size_t k = 0; k < 3; ++k)
    parcel.parcel.bodies.push_back({world->bodies[k], world->infos[k]});
  return parcel;
}

void expect_same(const RegionParcel& a, const RegionParcel& b) {
  EXPECT_EQ(b.tick, 17u);
  EXPECT_EQ(b.parcel.from, 3u);
  ASSERT_EQ(b.parcel.bodies.size(), 3u);
  EXPECT_EQ(std::memcmp(a.parcel.bodies.data(), b.parcel.bodies.data(), 3 * sizeof(sim::WholeBody)), 0);
}

RegionStepped sample_region_stepped() {
  RegionStepped out;
  out.report.region = 2;
  out.report.tick = 31;
  out.report.removed = {{4, 1}};
  out.report.events.push_back(sim::ContactEvent{{1, 0}, {}, {0, 0.5f, 0}, {0, 1, 0}, 2.f, 3.f});
  out.report.hash_part = 0x1234;
  out.report.owned = 500;
  out.report.ghosts = 40;
  out.report.arrived = 3;
  out.report.max_radius = 0.45f;
  out.report.stats = {900, 60};
  out.step_ms = 1.25;
  out.wait_ms = 0.5;
  out.exchange_bytes = 5600;
  out.exchange_messages = 3;
  out.checkpointed = true;
  return out;
}

void expect_same(const RegionStepped& a, const RegionStepped& b) {
  EXPECT_EQ(b.report.region, a.report.region);
  EXPECT_EQ(b.report.tick, a.report.tick);
  EXPECT_EQ(b.report.removed, a.report.removed);
  ASSERT_EQ(b.report.events.size(), 1u);
  EXPECT_EQ(b.report.events[0].impulse, 2.f);
  EXPECT_EQ(b.report.hash_part, a.report.hash_part);
  EXPECT_EQ(b.report.owned, 500u);
  EXPECT_EQ(b.report.ghosts, 40u);
  EXPECT_EQ(b.report.arrived, 3u);
  EXPECT_EQ(b.report.max_radius, 0.45f);
  EXPECT_EQ(b.report.stats.pairs_tested, 900u);
  EXPECT_EQ(b.step_ms, 1.25);
  EXPECT_EQ(b.wait_ms, 0.5);
  EXPECT_EQ(b.exchange_bytes, 5600u);
  EXPECT_EQ(b.exchange_messages, 3u);
  EXPECT_TRUE(b.checkpointed);
}

/// A delta against a keyframe: both sections of the body bytes are non-empty.
CompactSnapshot sample_compact_snapshot() {
  SnapshotEncoder encoder(std::make_shared<SnapshotHistory>());
  Snapshot snapshot = sample_snapshot();
  encoder.encode(snapshot, 0);
  auto moved = std::make_shared<sim::World>(*snapshot.world);
  moved->bodies[3].position.y += 0.5f;
  snapshot = Snapshot{.generation = 13, .tick = 12, .world = moved, .acks = {{1, 6}, {2, 9}},
                      .world_hash = 0x123456, .published_ns = 43};
  return encoder.encode(snapshot, 12);
}

CommandBatch sample_batch() {
  CommandBatch batch{.source = 3, .sealed_through = 99, .commands = {}};
  sim::BodySpec spec{.position = {1, 2, 3}, .velocity = {0, -1, 0}, .radius = 0.75f};
  batch.commands.push_back({3, 1, 10, sim::SpawnBody{spec}});
  batch.commands.push_back({3, 2, 10, sim::ApplyImpulse{{4, 1}, {0.5f, 1.5f, -2.f}}});
  batch.commands.push_back({3, 3, 11, sim::Shake{{1, 0, 0}}});
  batch.commands.push_back({3, 4, 12, sim::RemoveBody{{2, 0}}});
  batch.commands.push_back({3, 5, 13, sim::SetPaused{true}});
  batch.commands.push_back({3, 6, 14, sim::SetGravity{{0, -3, 0}}});
  batch.commands.push_back({3, 7, 15, sim::SetFountain{sim::Fountain{.every_ticks = 5, .max_bodies = 9}}});
  batch.commands.push_back({3, 8, 16, sim::LoadRules{"plugins/wind.so"}});
  return batch;
}

StepResult sample_step_result() {
  StepResult result{.tick = 4, .world = sample_world(), .contacts = {}, .step_ms = 1.5};
  result.contacts.push_back(sim::ContactEvent{{1, 0}, {}, {0, 0.5f, 0}, {0, 1, 0}, 2.f, 3.f});
  return result;
}

ActorReport sample_report() {
  ActorReport report{.name = "logic", .kind = "logic", .role = "coordinator", .node = "main",
                     .mailbox = {256, 1, 10, 2, 3, 200}, .counters = {{"applied", 7}},
                     .distributions = {{"tick_ms", {10, 1, 2, 3, 4, 1.5}}},
                     .series = {{"tick_ms", {1.f, 2.f}}},
                     .notes = {{"device", "llvmpipe"}}};
  return report;
}

void expect_same(const sim::World& a, const sim::World& b) {
  EXPECT_EQ(sim::world_hash(a), sim::world_hash(b));
  EXPECT_EQ(a.size(), b.size());
  EXPECT_EQ(a.slots.size(), b.slots.size());
}

void expect_same(const Snapshot& a, const Snapshot& b) {
  EXPECT_EQ(a.generation, b.generation);
  EXPECT_EQ(a.tick, b.tick);
  ASSERT_TRUE(b.world);
  expect_same(*a.world, *b.world);
  ASSERT_EQ(a.acks.size(), b.acks.size());
  EXPECT_EQ(a.acks[1].seq, b.acks[1].seq);
  EXPECT_EQ(a.world_hash, b.world_hash);
  EXPECT_EQ(a.published_ns, b.published_ns);
  EXPECT_EQ(a.parts, b.parts);
  EXPECT_EQ(a.part, b.part);
}

void expect_same(const CompactSnapshot& a, const CompactSnapshot& b) {
  EXPECT_EQ(a.generation, b.generation);
  EXPECT_EQ(a.tick, b.tick);
  EXPECT_EQ(a.base_generation, b.base_generation);
  EXPECT_EQ(a.world_hash, b.world_hash);
  EXPECT_EQ(a.published_ns, b.published_ns);
  ASSERT_EQ(a.acks.size(), b.acks.size());
  EXPECT_EQ(a.acks[0].seq, b.acks[0].seq);
  EXPECT_EQ(a.body_count, b.body_count);
  EXPECT_EQ(a.moving_count, b.moving_count);
  EXPECT_EQ(a.bytes, b.bytes);
}

void expect_same(const CommandBatch& a, const CommandBatch& b) {
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.sealed_through, b.sealed_through);
  ASSERT_EQ(a.commands.size(), b.commands.size());
  for (std::size_t i = 0; i < a.commands.size(); ++i) {
    EXPECT_EQ(a.commands[i].seq, b.commands[i].seq);
    EXPECT_EQ(a.commands[i].tick, b.commands[i].tick);
    EXPECT_EQ(sim::format_action(a.commands[i].action), sim::format_action(b.commands[i].action));
  }
}

RulesEvent sample_rules_event() {
  return {RulesEvent::rolled_back, 120, "plugins/wind.so", "wind", "2", "threw at tick 120"};
}

void expect_same(const RulesEvent& a, const RulesEvent& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.tick, b.tick);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.reason, b.reason);
}

void expect_same(const StepResult& a, const StepResult& b) {
  EXPECT_EQ(a.tick, b.tick);
  expect_same(*a.world, *b.world);
  ASSERT_EQ(b.contacts.size(), 1u);
  EXPECT_EQ(b.contacts[0].a, a.contacts[0].a);
  EXPECT_FALSE(b.contacts[0].b.valid());
  EXPECT_EQ(b.contacts[0].impulse, 2.f);
  EXPECT_EQ(a.step_ms, b.step_ms);
}

void expect_same(const ActorReport& a, const ActorReport& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.mailbox.high_water, b.mailbox.high_water);
  EXPECT_EQ(a.counters, b.counters);
  ASSERT_EQ(b.distributions.size(), 1u);
  EXPECT_EQ(b.distributions[0].second.p99, 3);
  EXPECT_EQ(a.series, b.series);
  EXPECT_EQ(a.notes, b.notes);
}

template <class T> void boost_round_trip(const T& value) {
  T out{};
  auto err = unwrap(wrap(value), out);
  ASSERT_FALSE(err) << err->message;
  expect_same(value, out);
}

struct CafRoundTrip : ::testing::Test {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  void SetUp() override {
    register_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
  template <class T> void round_trip(T value) {
    std::vector<char> buf;
    caf::binary_serializer sink{*sys, buf};
    ASSERT_FALSE(sink(value));
    T out{};
    caf::binary_deserializer source{*sys, buf};
    auto err = source(out);
    ASSERT_FALSE(err) << sys->render(err);
    expect_same(value, out);
  }
};

TEST(BoostCodec, EveryMessageRoundTrips) {
  boost_round_trip(sample_snapshot());
  boost_round_trip(sample_compact_snapshot());
  boost_round_trip(sample_batch());
  boost_round_trip(sample_step_result());
  boost_round_trip(sample_report());
  boost_round_trip(sample_rules_event());
  boost_round_trip(sample_region_step());
  boost_round_trip(sample_parcel());
  boost_round_trip(sample_region_stepped());
}

TEST(BoostCodec, CompactSnapshotSampleIsADelta) {
  const CompactSnapshot c = sample_compact_snapshot();
  EXPECT_EQ(c.base_generation, 12u);
  EXPECT_EQ(c.moving_count, 1u);
  EXPECT_EQ(c.body_count, 64u);
}

TEST(BoostCodec, WorldRoundTripsBitExact) {
  auto world = sample_world(500);
  sim::World out;
  ASSERT_FALSE(decode(encode(*world), out));
  EXPECT_EQ(sim::world_hash(*world), sim::world_hash(out));
  EXPECT_FALSE(sim::check_invariants(out));
}

TEST(BoostCodec, InputEventAndContactBatchRoundTrip) {
  InputEvent event{.source = 2, .seq = 77, .pointer = {1, 2, 3}};
  InputEvent event_out;
  ASSERT_FALSE(unwrap(wrap(event), event_out));
  EXPECT_EQ(event_out.seq, 77u);
  EXPECT_EQ(event_out.pointer, (sim::Vec3{1, 2, 3}));
  ContactBatch batch{.tick = 5, .events = sample_step_result().contacts, .published_events = 17};
  batch.events[0].radius = 0.25f;
  batch.events[0].restitution = 0.8f;
  ContactBatch batch_out;
  ASSERT_FALSE(unwrap(wrap(batch), batch_out));
  EXPECT_EQ(batch_out.tick, 5u);
  ASSERT_EQ(batch_out.events.size(), 1u);
  EXPECT_EQ(batch_out.events[0].approach_speed, 3.f);
  EXPECT_EQ(batch_out.events[0].radius, 0.25f);
  EXPECT_EQ(batch_out.events[0].restitution, 0.8f);
  EXPECT_EQ(batch_out.published_events, 17u);
}

TEST(BoostCodec, OtherProtocolVersionIsRefused) {
  auto envelope = wrap(sample_batch());
  envelope.version = protocol_version + 1;
  CommandBatch out;
  auto err = unwrap(envelope, out);
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("protocol version"), std::string::npos);
}

TEST(BoostCodec, WrongKindIsRefused) {
  auto envelope = wrap(sample_batch());
  Snapshot out;
  EXPECT_TRUE(unwrap(envelope, out));
}

TEST(BoostCodec, TruncatedPayloadIsAnErrorNotACrash) {
  auto bytes = encode(*sample_world(100));
  bytes.resize(bytes.size() / 2);
  sim::World out;
  out.tick = 1234;
  EXPECT_TRUE(decode(bytes, out));
  EXPECT_EQ(out.tick, 1234u) << "a failed decode leaves its target unchanged";
  WireEnvelope envelope;
  EXPECT_TRUE(unframe(std::vector<char>(5, 'x'), envelope));
}

// Every frame carries a checksum of its payload: a flipped bit anywhere in it
// is refused before Boost reads a byte, and a frame sealed again decodes.
TEST(BoostCodec, AFrameWithADamagedPayloadIsRefusedBeforeDecoding) {
  std::vector<char> bytes;
  encode_framed(sample_snapshot(), bytes);
  Snapshot out;
  ASSERT_FALSE(decode_framed(bytes, out));
  for (const std::size_t at : {std::size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    auto damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x10);
    Snapshot kept;
    kept.tick = 77;
    const auto err = decode_framed(damaged, kept);
    ASSERT_TRUE(err) << at;
    EXPECT_NE(err->message.find("checksum mismatch"), std::string::npos) << err->message;
    EXPECT_EQ(kept.tick, 77u);
    WireEnvelope envelope;
    EXPECT_TRUE(unframe(damaged, envelope)) << at;
  }
  auto resealed = bytes;
  seal_frame(resealed);
  EXPECT_EQ(resealed, bytes);
  WireEnvelope envelope;
  ASSERT_FALSE(unframe(bytes, envelope));
  EXPECT_EQ(frame(envelope), bytes);
}

// Counts are untrusted: one that claims more elements than the bytes left can
// hold is refused before anything is allocated for it (a count of 2^40
// commands would otherwise ask for tens of terabytes).
TEST(BoostCodec, ACountBeyondTheBytesLeftIsRefusedBeforeAllocating) {
  auto bytes = encode(sample_batch());
  // CommandBatch: source (4 bytes), sealed_through (8), then the command count (8).
  const std::uint64_t huge = std::uint64_t{1} << 40;
  std::memcpy(bytes.data() + 12, &huge, sizeof huge);
  CommandBatch out;
  auto refused = decode(bytes, out);
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->message.find("a sequence of 1099511627776 elements"), std::string::npos) << *refused;

  // Found by fuzz_envelope: Boost reads any byte into a bool (undefined
  // behaviour for all but 0 and 1). Flags travel as bytes that must be 0 or 1.
  CommandBatch pause{.source = 1, .sealed_through = 5, .commands = {{1, 1, 5, sim::SetPaused{true}}}};
  auto flag_bytes = encode(pause);
  std::get<sim::SetPaused>(pause.commands[0].action).paused = false;
  const auto unpaused = encode(pause);
  ASSERT_EQ(flag_bytes.size(), unpaused.size());
  const auto at = std::mismatch(flag_bytes.begin(), flag_bytes.end(), unpaused.begin()).first;
  ASSERT_NE(at, flag_bytes.end()) << "the flag's byte";
  *at = 2;
  auto bad_flag = decode(flag_bytes, out);
  ASSERT_TRUE(bad_flag);
  EXPECT_NE(bad_flag->message.find("a flag of value 2"), std::string::npos) << *bad_flag;

  // A world whose tables disagree is refused too: readers index by its slots.
  sim::World broken = *sample_world(10);
  broken.slots[broken.infos[3].id.index].dense = 99;
  Snapshot with_broken;
  with_broken.generation = 1;
  with_broken.world = std::make_shared<const sim::World>(broken);
  Snapshot decoded;
  auto inconsistent = decode(encode(with_broken), decoded);
  ASSERT_TRUE(inconsistent);
  EXPECT_NE(inconsistent->message.find("inconsistent world"), std::string::npos) << *inconsistent;
}
TEST(Checkpoint, SavesAndLoadsTheWorldAndAcks) {
  auto dir = std::filesystem::temp_directory_path() / "troupe_checkpoint_test";
  std::filesystem::create_directories(dir);
  auto path = (dir / "c.bin").string();
  Checkpoint in;
  in.generation = 9;
  in.world = *sample_world(200);
  in.acks = {{1, 4}};
  in.world.infos[17].user_data = 0xdeadbeefcafef00dull;
  ASSERT_TRUE(save_checkpoint(path, in));
  auto loaded = load_checkpoint(path);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  const Checkpoint& out = *loaded;
  EXPECT_EQ(out.generation, 9u);
  EXPECT_EQ(sim::world_hash(out.world), sim::world_hash(in.world));
  ASSERT_EQ(out.acks.size(), 1u);
  EXPECT_EQ(out.acks[0].seq, 4u);
  EXPECT_EQ(out.world.infos[17].user_data, 0xdeadbeefcafef00dull);
  std::filesystem::remove_all(dir);
}

TEST(Checkpoint, ForeignFileIsRefusedWithItsName) {
  auto path = (std::filesystem::temp_directory_path() / "troupe_not_a_checkpoint").string();
  { std::ofstream(path) << "hello world, not a checkpoint"; }
  auto loaded = load_checkpoint(path);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, errc::bad_file);
  EXPECT_NE(loaded.error().to_string().find(path), std::string::npos);
  std::filesystem::remove(path);
}

TEST_F(CafRoundTrip, EveryMessageRoundTrips) {
  round_trip(sample_snapshot());
  round_trip(sample_compact_snapshot());
  round_trip(sample_batch());
  round_trip(sample_step_result());
  round_trip(sample_report());
  round_trip(sample_rules_event());
  round_trip(sample_region_step());
  round_trip(sample_parcel());
  round_trip(sample_region_stepped());
}

TEST_F(CafRoundTrip, FramesAreReadWhereTheyLieInTheBufferAndLeaveTheRest) {
  // BASP's deserializer: a frame is decoded in its buffer, and reading goes
  // on right after it.
  const Snapshot snapshot = sample_snapshot();
  const RegionParcel parcel = sample_parcel();
  std::uint32_t after = 0xfeedbeef;
  std::vector<char> buf;
  caf::binary_serializer sink{*sys, buf};
  ASSERT_FALSE(sink(const_cast<Snapshot&>(snapshot), const_cast<RegionParcel&>(parcel), after));
  Snapshot snapshot_back;
  RegionParcel parcel_back;
  std::uint32_t after_back = 0;
  caf::binary_deserializer source{*sys, buf};
  ASSERT_FALSE(source(snapshot_back, parcel_back, after_back));
  expect_same(snapshot, snapshot_back);
  expect_same(parcel, parcel_back);
  EXPECT_EQ(after_back, after);
  EXPECT_EQ(source.remaining(), 0u);
  // Cut short anywhere in the snapshot's frame, or damaged inside it: an
  // error, never a crash or a value half read.
  std::vector<char> alone;
  caf::binary_serializer alone_sink{*sys, alone};
  ASSERT_FALSE(alone_sink(const_cast<Snapshot&>(snapshot)));
  for (const std::size_t size : {alone.size() - 1, alone.size() / 2, std::size_t{40}, std::size_t{3}, std::size_t{0}}) {
    Snapshot out;
    caf::binary_deserializer cut{*sys, buf.data(), size};
    EXPECT_TRUE(cut(out)) << size << " bytes";
    EXPECT_EQ(out.world, nullptr) << size << " bytes";
  }
  std::vector<char> damaged = buf;
  damaged[damaged.size() / 4] ^= 0x20;
  Snapshot out;
  caf::binary_deserializer source_damaged{*sys, damaged};
  const auto err = source_damaged(out);
  ASSERT_TRUE(err);
  EXPECT_NE(sys->render(err).find("checksum"), std::string::npos) << sys->render(err);
  EXPECT_EQ(out.world, nullptr);
}

TEST_F(CafRoundTrip, AFrameWrittenIntoBaspsBufferIsTheFrameWrittenApart) {
  // binary_serializer (BASP's) gets the frame written in place; another
  // serializer gets it framed apart and copied in: the same bytes.
  auto same_both_ways = [&](auto value) {
    EXPECT_EQ(framed_size(value), [&] {
      std::vector<char> framed;
      encode_framed(value, framed);
      return framed.size();
    }());
    std::vector<char> in_place{'x'}; // something before it, as in BASP's buffer
    caf::binary_serializer sink{*sys, in_place};
    ASSERT_FALSE(sink(value));
    std::vector<caf::byte> apart{caf::byte{'x'}};
    caf::serializer_impl<std::vector<caf::byte>> other{*sys, apart};
    ASSERT_FALSE(other(value));
    ASSERT_EQ(in_place.size(), apart.size());
    EXPECT_EQ(0, std::memcmp(in_place.data(), apart.data(), apart.size()));
  };
  same_both_ways(sample_snapshot());
  same_both_ways(sample_compact_snapshot());
  same_both_ways(sample_batch());
  same_both_ways(sample_region_step());
  same_both_ways(sample_parcel());
  same_both_ways(sample_region_stepped());
}

TEST_F(CafRoundTrip, ErrorsRenderInWords) {
  auto err = make_error(errc::mailbox_full, "logic");
  EXPECT_EQ(sys->render(err), "troupe::mailbox_full: logic");
}

} // namespace
} // namespace troupe
