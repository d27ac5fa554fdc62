// Compact snapshots (compact.hpp): quantization error, delta chains over a real
// physics run, keyframe policy, missing bases, garbage, and the size target.

#include <troupe/messages/compact.hpp>

#include "common/sim_scenes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdio>
#include <deque>
#include <random>

namespace troupe {
namespace {

// Half a step, plus the float rounding of positions far from the origin.
constexpr float max_error = 0.5f * position_step + 1e-6f;

/// One tick as a run runs it.
void advance(sim::World& world) {
  static const sim::Parallel sequential = sim::Parallel::sequential();
  std::vector<sim::ContactEvent> events;
  EXPECT_TRUE(sim::advance(world, {}, nullptr, sim::PhysicsSettings{}, sequential, events));
}

Snapshot snapshot_of(const sim::World& world, std::uint64_t generation) {
  return Snapshot{generation, world.tick, std::make_shared<const sim::World>(world),
                  {{1, generation * 3}}, sim::world_hash(world), 1000 + static_cast<std::int64_t>(generation)};
}

/// Every body of `original` is in `decoded`, same handle, same place in the
/// order, within the quantization error; and what is not quantized is exact.
void expect_close(const sim::World& original, const sim::World& decoded) {
  ASSERT_EQ(decoded.size(), original.size());
  EXPECT_EQ(decoded.tick, original.tick);
  EXPECT_EQ(decoded.arena, original.arena);
  EXPECT_EQ(decoded.fountain, original.fountain);
  EXPECT_EQ(decoded.paused, original.paused);
  EXPECT_EQ(decoded.slots.size(), original.slots.size());
  EXPECT_FALSE(sim::check_invariants(decoded));
  for (std::size_t i = 0; i < original.size(); ++i) {
    const sim::Vec3 a = original.bodies[i].position, b = decoded.bodies[i].position;
    ASSERT_EQ(decoded.infos[i].id, original.infos[i].id) << "body " << i;
    ASSERT_LE(std::fabs(a.x - b.x), max_error) << "body " << i;
    ASSERT_LE(std::fabs(a.y - b.y), max_error) << "body " << i;
    ASSERT_LE(std::fabs(a.z - b.z), max_error) << "body " << i;
    ASSERT_EQ(decoded.bodies[i].radius, original.bodies[i].radius);
    ASSERT_EQ(decoded.infos[i].color, original.infos[i].color);
    ASSERT_EQ(decoded.infos[i].user_data, original.infos[i].user_data);
    ASSERT_EQ(sim::find(decoded, original.infos[i].id), i);
  }
}

/// Sends snapshots to one subscriber that acknowledges with `lag` generations of
/// delay, and checks every decoded world against the real one.
struct Link {
  std::shared_ptr<SnapshotHistory> history = std::make_shared<SnapshotHistory>();
  SnapshotEncoder encoder;
  SnapshotDecoder decoder;
  std::size_t lag;
  std::deque<std::uint64_t> acks; // decoded, not yet seen by the encoder
  std::uint64_t acked = 0;
  std::uint64_t delta_bytes = 0, delta_moving = 0, keyframes = 0;

  explicit Link(std::uint32_t keyframe_every = 60, std::size_t ack_lag = 1)
    : encoder(history, keyframe_every), lag(ack_lag) {}

  CompactSnapshot send(const sim::World& world, std::uint64_t generation) {
    const Snapshot in = snapshot_of(world, generation);
    CompactSnapshot compact = encoder.encode(in, acked);
    Snapshot out;
    auto err = decoder.decode(compact, out);
    EXPECT_FALSE(err) << err->message;
    if (err)
      return compact;
    EXPECT_EQ(out.generation, in.generation);
    EXPECT_EQ(out.world_hash, in.world_hash);
    EXPECT_EQ(out.published_ns, in.published_ns);
    EXPECT_EQ(out.acks.size(), 1u);
    expect_close(world, *out.world);
    if (compact.base_generation == 0) {
      ++keyframes;
    } else {
      delta_bytes += compact.bytes.size();
      delta_moving += compact.moving_count;
    }
    acks.push_back(generation);
    if (acks.size() >= lag) {
      acked = acks.front();
      acks.pop_front();
    }
    return compact;
  }

  double bytes_per_moving_body() const {
    return static_cast<double>(delta_bytes) / static_cast<double>(std::max<std::uint64_t>(delta_moving, 1));
  }
};

TEST(CompactSnapshot, KeyframeRoundTripsWithinHalfAStep) {
  sim::World world = sim::make_scenario({.name = "sandbox", .bodies = 800, .seed = 3, .tick_hz = 60});
  for (int t = 0; t < 5; ++t)
    advance(world);
  Link link;
  const CompactSnapshot c = link.send(world, 1);
  EXPECT_EQ(c.base_generation, 0u);
  EXPECT_EQ(c.body_count, world.size());
  EXPECT_EQ(c.moving_count, world.size());
  // The decoded world is exactly the dequantized state of the original.
  Snapshot out;
  SnapshotDecoder decoder;
  ASSERT_FALSE(decoder.decode(c, out));
  EXPECT_EQ(sim::world_hash(*out.world), sim::world_hash(dequantize(quantize(world, 1))));
  EXPECT_LT(c.bytes.size(), 20 * world.size()) << "a keyframe still beats the 56 bytes per body of Boost";
}

// Positions are rounded to the step as std::nearbyint rounds (ties to even),
// and clamped to int32: the encoder's own rounding must agree exactly.
TEST(CompactSnapshot, PositionsRoundToTheStepLikeNearbyintTiesToEven) {
  sim::World world = sim::make_scenario({.name = "empty", .bodies = 0, .seed = 1, .tick_hz = 60});
  std::vector<float> xs;
  for (int k = -6; k <= 6; ++k)
    xs.push_back((static_cast<float>(k) + 0.5f) * position_step); // every tie, even and odd
  std::mt19937 random(7);
  std::uniform_real_distribution<float> anywhere(-3000.f, 3000.f);
  for (int i = 0; i < 2000; ++i)
    xs.push_back(anywhere(random));
  xs.push_back(3e9f * position_step);  // beyond int32: clamped
  xs.push_back(-3e9f * position_step);
  for (const float x : xs)
    sim::spawn(world, {.position = {x, 0.f, -x}, .velocity = {}, .radius = 0.5f});
  const QuantizedWorld q = quantize(world, 1);
  ASSERT_EQ(q.bodies.size(), xs.size());
  auto expected = [](float v) {
    const double r = std::nearbyint(static_cast<double>(v) / static_cast<double>(position_step));
    return static_cast<std::int32_t>(std::clamp<double>(r, std::numeric_limits<std::int32_t>::min(),
                                                         std::numeric_limits<std::int32_t>::max()));
  };
  for (std::size_t i = 0; i < xs.size(); ++i) {
    EXPECT_EQ(q.bodies[i].x, expected(xs[i])) << xs[i];
    EXPECT_EQ(q.bodies[i].z, expected(-xs[i])) << -xs[i];
  }
  EXPECT_EQ(q.bodies[5].x, 0) << "-0.5 steps: the tie goes to the even 0";
  EXPECT_EQ(q.bodies[6].x, 0) << "0.5 steps: the tie goes to the even 0";
  EXPECT_EQ(q.bodies[7].x, 2) << "1.5 steps: the tie goes to the even 2";
}

TEST(CompactSnapshot, UserDataTravelsExactAndAChangeOfItIsAKeyframe) {
  sim::World world = test::pile(300);
  for (std::size_t k = 0; k < world.size(); ++k)
    world.infos[k].user_data = k * 0x9e3779b97f4a7c15ull; // large values: ten-byte varints
  Link link(50, 1);
  link.send(world, 1);
  advance(world);
  EXPECT_NE(link.send(world, 2).base_generation, 0u) << "unchanged user data: a delta";
  world.infos[7].user_data += 1;
  advance(world);
  EXPECT_EQ(link.send(world, 3).base_generation, 0u) << "changed user data cannot ride a delta";
}

TEST(CompactSnapshot, ABodyInAReusedSlotRidesADeltaInItsPlace) {
  // Bodies are in id order, so a body that takes a freed slot sits among the
  // survivors, not at the end: the delta says where.
  sim::World world = test::pile(300);
  Link link(50, 1);
  link.send(world, 1);
  ASSERT_TRUE(sim::remove(world, world.infos[40].id));
  ASSERT_TRUE(sim::remove(world, world.infos[10].id));
  advance(world);
  EXPECT_NE(link.send(world, 2).base_generation, 0u);
  sim::BodySpec spec;
  spec.position = {0.f, 8.f, 0.f};
  spec.user_data = 77;
  const sim::BodyId first = sim::spawn(world, spec); // slot 10 (freed last)
  const sim::BodyId second = sim::spawn(world, spec); // slot 40
  ASSERT_EQ(first.index, 10u);
  ASSERT_EQ(second.index, 40u);
  ASSERT_EQ(sim::find(world, first), 10u) << "in its place in id order";
  advance(world);
  const CompactSnapshot c = link.send(world, 3); // expect_close checks every body and its place
  EXPECT_NE(c.base_generation, 0u) << "a reused slot is still a delta";
  EXPECT_EQ(link.keyframes, 1u);
}

TEST(CompactSnapshot, DeltaChainOverAPhysicsRunWithSpawnsAndRemovals) {
  sim::World world = test::pile(test::scaled(1500, 400));
  world.fountain = sim::Fountain{.origin = {0.f, world.arena.max.y - 1.f, 0.f}, .every_ticks = 2,
                                 .max_bodies = 100000};
  Link lag1(50, 1), lag3(50, 3);
  std::mt19937 rng(5);
  bool reused = false;
  for (std::uint64_t generation = 1; generation <= 120; ++generation) {
    advance(world);
    if (generation % 3 == 0) { // remove some body: its slot is reused by the next spawn
      const auto k = std::uniform_int_distribution<std::size_t>(0, world.size() - 1)(rng);
      ASSERT_TRUE(sim::apply(world, sim::RemoveBody{world.infos[k].id}));
    }
    for (const sim::BodyInfo& info : world.infos)
      reused = reused || info.id.generation > 0;
    lag1.send(world, generation);
    lag3.send(world, generation);
    if (HasFailure())
      return;
  }
  EXPECT_TRUE(reused) << "the run must reuse slots, or handles are not really tested";
  EXPECT_EQ(lag1.keyframes, 3u); // generations 1, 51, 101
  // Until the first ack arrives every snapshot is a keyframe: 1, 2, 3, 53, 103.
  EXPECT_EQ(lag3.keyframes, 5u);
  std::printf("pile + fountain + removals: %.2f B per moving body (ack lag 1), %.2f (lag 3)\n",
              lag1.bytes_per_moving_body(), lag3.bytes_per_moving_body());
  EXPECT_LE(lag1.bytes_per_moving_body(), 8.0);
  EXPECT_LE(lag3.bytes_per_moving_body(), 8.0);
}

TEST(CompactSnapshot, BytesPerMovingBodyOnAFallingSandbox) {
  // Bodies falling from a lattice into a pile, with the fountain on: the scene
  // where most bodies move every tick.
  sim::World world = sim::make_scenario({.name = "sandbox", .bodies = test::scaled(4000, 1000),
                                         .seed = 11, .tick_hz = 60});
  Link lag1(0, 1), lag2(0, 2);
  std::uint64_t worst_bytes = 0, worst_moving = 1;
  for (std::uint64_t generation = 1; generation <= 90; ++generation) {
    advance(world);
    const CompactSnapshot c = lag1.send(world, generation);
    lag2.send(world, generation);
    if (c.base_generation != 0 && c.moving_count >= 100 &&
        c.bytes.size() * worst_moving > worst_bytes * c.moving_count) {
      worst_bytes = c.bytes.size();
      worst_moving = c.moving_count;
    }
    if (HasFailure())
      return;
  }
  const double worst = static_cast<double>(worst_bytes) / static_cast<double>(worst_moving);
  std::printf("falling sandbox: %.2f B per moving body (ack lag 1, worst snapshot %.2f), %.2f (lag 2)\n",
              lag1.bytes_per_moving_body(), worst, lag2.bytes_per_moving_body());
  EXPECT_LE(lag1.bytes_per_moving_body(), 6.0);
  EXPECT_LE(worst, 8.0);
  EXPECT_LE(lag2.bytes_per_moving_body(), 8.0);
}

TEST(CompactSnapshot, KeyframeEveryIsHonoured) {
  sim::World world = test::pile(200);
  for (const std::uint32_t every : {1u, 4u, 0u}) {
    Link link(every, 1);
    std::vector<std::uint64_t> keyframes;
    for (std::uint64_t generation = 1; generation <= 12; ++generation) {
      advance(world);
      if (link.send(world, generation).base_generation == 0)
        keyframes.push_back(generation);
    }
    const std::vector<std::uint64_t> expected =
      every == 1 ? std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
      : every == 4 ? std::vector<std::uint64_t>{1, 5, 9}
                   : std::vector<std::uint64_t>{1};
    EXPECT_EQ(keyframes, expected) << "keyframe_every " << every;
  }
}

TEST(CompactSnapshot, AnUnusableAckGivesAKeyframe) {
  sim::World world = test::pile(100);
  auto history = std::make_shared<SnapshotHistory>(4);
  SnapshotEncoder encoder(history, 0);
  advance(world);
  EXPECT_EQ(encoder.encode(snapshot_of(world, 1), 0).base_generation, 0u) << "no ack yet";
  advance(world);
  EXPECT_EQ(encoder.encode(snapshot_of(world, 2), 1).base_generation, 1u);
  advance(world);
  EXPECT_EQ(encoder.encode(snapshot_of(world, 3), 99).base_generation, 0u) << "never sent";
  for (std::uint64_t g = 4; g <= 8; ++g) {
    advance(world);
    encoder.encode(snapshot_of(world, g), g - 1);
  }
  advance(world);
  EXPECT_EQ(encoder.encode(snapshot_of(world, 9), 2).base_generation, 0u) << "out of the history";
}

TEST(CompactSnapshot, TwoSubscribersShareOneQuantization) {
  sim::World world = test::pile(100);
  auto history = std::make_shared<SnapshotHistory>();
  SnapshotEncoder a(history), b(history);
  advance(world);
  const Snapshot s = snapshot_of(world, 1);
  const auto state = history->add(s);
  a.encode(s, 0);
  b.encode(s, 0);
  EXPECT_EQ(history->find(1), state) << "quantized once, shared";
}

TEST(CompactSnapshot, EncodingIsAPureFunctionOfItsInputs) {
  sim::World world = sim::make_scenario({.name = "sandbox", .bodies = 300, .seed = 2, .tick_hz = 60});
  Link a, b;
  for (std::uint64_t generation = 1; generation <= 10; ++generation) {
    advance(world);
    EXPECT_EQ(a.send(world, generation).bytes, b.send(world, generation).bytes);
  }
}

TEST(CompactSnapshot, DeltaAgainstAMissingBaseFailsCleanly) {
  sim::World world = test::pile(100);
  Link link;
  advance(world);
  link.send(world, 1);
  advance(world);
  const CompactSnapshot delta = link.send(world, 2);
  ASSERT_EQ(delta.base_generation, 1u);

  SnapshotDecoder fresh;
  Snapshot out;
  out.generation = 77;
  auto err = fresh.decode(delta, out);
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("does not hold"), std::string::npos) << err->message;
  EXPECT_EQ(out.generation, 77u) << "a failed decode leaves its target unchanged";

  // Against the wrong state of the right generation: the checksum notices.
  sim::World other = test::pile(100, 99);
  const QuantizedWorld wrong = quantize(other, 1);
  QuantizedWorld state;
  err = decode_compact(delta, &wrong, state);
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("checksum"), std::string::npos) << err->message;
}

TEST(CompactSnapshot, GarbageAndTruncatedBytesFailCleanly) {
  sim::World world = sim::make_scenario({.name = "sandbox", .bodies = 200, .seed = 4, .tick_hz = 60});
  Link link;
  advance(world);
  const CompactSnapshot keyframe = link.send(world, 1);
  advance(world);
  const CompactSnapshot delta = link.send(world, 2);
  ASSERT_EQ(delta.base_generation, 1u);
  const auto previous = link.history->find(1);

  std::mt19937 rng(1);
  auto fails = [&](const CompactSnapshot& c) {
    QuantizedWorld out;
    out.tick = 4242;
    const bool failed = decode_compact(c, c.base_generation ? previous.get() : nullptr, out).has_value();
    if (failed) {
      EXPECT_EQ(out.tick, 4242u) << "a failed decode leaves its target unchanged";
    }
    return failed;
  };
  for (const CompactSnapshot* original : {&keyframe, &delta}) {
    ASSERT_FALSE(fails(*original));
    for (std::size_t n = 0; n < original->bytes.size(); n += 1 + n / 16) {
      CompactSnapshot c = *original;
      c.bytes.resize(n);
      EXPECT_TRUE(fails(c)) << "truncated to " << n;
    }
    for (int trial = 0; trial < 300; ++trial) {
      CompactSnapshot c = *original;
      const auto at = std::uniform_int_distribution<std::size_t>(0, c.bytes.size() - 1)(rng);
      c.bytes[at] ^= static_cast<std::uint8_t>(1 + rng() % 255);
      EXPECT_TRUE(fails(c)) << "byte " << at << " damaged";
    }
    for (int trial = 0; trial < 300; ++trial) {
      CompactSnapshot c = *original;
      // Random bytes after the original flags, so that they get parsed.
      c.bytes.resize(std::uniform_int_distribution<std::size_t>(1, 200)(rng));
      for (std::size_t k = 1; k < c.bytes.size(); ++k)
        c.bytes[k] = static_cast<std::uint8_t>(rng());
      EXPECT_TRUE(fails(c));
    }
  }
  // Counts that would ask for the moon, and a varint that never ends.
  const std::size_t settings_end = 82; // flags, then the settings of a keyframe
  std::vector<std::uint8_t> prefix(keyframe.bytes.begin(), keyframe.bytes.begin() + settings_end);
  prefix.push_back(1); // slot count
  const std::vector<std::uint8_t> moon{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  for (std::size_t zeros = 0; zeros < 3; ++zeros) { // huge removed, run or new-body count
    CompactSnapshot c = keyframe;
    c.bytes = prefix;
    c.bytes.insert(c.bytes.end(), zeros, 0);
    c.bytes.insert(c.bytes.end(), moon.begin(), moon.end());
    EXPECT_TRUE(fails(c)) << zeros;
  }
  CompactSnapshot endless = keyframe;
  endless.bytes = prefix;
  endless.bytes.insert(endless.bytes.end(), 12, 0xff);
  EXPECT_TRUE(fails(endless));
}

TEST(CompactSnapshot, AGapThatWrapsRoundIsRefusedWhereItIsRead) {
  // Each list of indices (removed bodies, places of new bodies, new bodies
  // with user data) is written as gaps; a gap of nearly 2^64 would wrap the
  // index round to one the list already named. Hand-made deltas, so the
  // checksum at the end is never what refuses them.
  const QuantizedWorld base = quantize(test::pile(10), 1);
  auto varint = [](std::vector<std::uint8_t>& out, std::uint64_t v) {
    for (; v >= 0x80; v >>= 7)
      out.push_back(static_cast<std::uint8_t>(v | 0x80));
    out.push_back(static_cast<std::uint8_t>(v));
  };
  constexpr std::uint64_t wraps = std::numeric_limits<std::uint64_t>::max(); // next + gap = next - 1
  auto delta = [&](const std::vector<std::uint64_t>& fields, std::size_t zeros) {
    CompactSnapshot c;
    c.generation = 2;
    c.base_generation = 1;
    c.bytes.push_back(0); // no settings
    varint(c.bytes, base.slot_count);
    for (const std::uint64_t f : fields)
      varint(c.bytes, f);
    c.bytes.insert(c.bytes.end(), zeros, 0); // new bodies, counts, checksum
    return c;
  };
  auto refused = [&](const CompactSnapshot& c) {
    QuantizedWorld out;
    const auto err = decode_compact(c, &base, out);
    return err ? err->message : std::string("accepted");
  };
  // removed: 2, at gap 0 and a gap that wraps back to index 0.
  EXPECT_NE(refused(delta({2, 0, wraps}, 8)).find("removed index"), std::string::npos);
  // no removals, no runs; two new bodies placed at 0 and 0 again.
  EXPECT_NE(refused(delta({0, 0, 2, 0, wraps}, 64)).find("new body place"), std::string::npos);
  // two new bodies at places 0 and 1 (13 zero bytes each), two with user
  // data: the first (data 5), then the first again.
  CompactSnapshot tagged = delta({0, 0, 2, 0, 0}, 26);
  for (const std::uint64_t f : {std::uint64_t{2}, std::uint64_t{0}, std::uint64_t{5}, wraps, std::uint64_t{7}})
    varint(tagged.bytes, f);
  tagged.bytes.insert(tagged.bytes.end(), 4, 0);
  EXPECT_NE(refused(tagged).find("user data index"), std::string::npos);
  // The same deltas with honest gaps get past the lists (the checksum, made
  // up here, is what fails them).
  CompactSnapshot fair = delta({2, 0, 0}, 7);
  fair.body_count = static_cast<std::uint32_t>(base.bodies.size() - 2);
  const std::string honest = refused(fair);
  EXPECT_NE(honest.find("checksum"), std::string::npos) << honest;
}

TEST(CompactSnapshot, ALaterKeyframeOfAnEarlierGenerationResetsTheDecoder) {
  // Logic restarted from a checkpoint: generations repeat with other worlds.
  sim::World world = test::pile(100);
  Link link;
  for (std::uint64_t g = 1; g <= 5; ++g) {
    advance(world);
    link.send(world, g);
  }
  EXPECT_TRUE(link.decoder.holds(5));
  SnapshotEncoder restarted(std::make_shared<SnapshotHistory>());
  Snapshot out;
  ASSERT_FALSE(link.decoder.decode(restarted.encode(snapshot_of(world, 3), 0), out));
  EXPECT_TRUE(link.decoder.holds(3));
  EXPECT_FALSE(link.decoder.holds(4));
  EXPECT_FALSE(link.decoder.holds(5));
}

} // namespace
} // namespace troupe
