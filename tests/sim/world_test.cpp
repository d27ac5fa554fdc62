#include <troupe/sim/world.hpp>

#include "common/sim_scenes.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

using namespace troupe::sim;
using troupe::test::empty_world;

namespace {

BodySpec at(float x, float y = 1.f, float z = 0.f) {
  BodySpec s;
  s.position = {x, y, z};
  return s;
}

} // namespace

TEST(WorldHandles, SpawnedBodyIsFoundAtItsDenseIndex) {
  World w = empty_world();
  const BodyId a = spawn(w, at(0));
  const BodyId b = spawn(w, at(1));
  EXPECT_TRUE(a.valid());
  EXPECT_EQ(find(w, a), 0u);
  EXPECT_EQ(find(w, b), 1u);
  EXPECT_EQ(w.size(), 2u);
  EXPECT_FALSE(check_invariants(w).has_value());
}

TEST(WorldHandles, DefaultAndZeroHandlesFindNothing) {
  World w = empty_world();
  spawn(w, at(0));
  EXPECT_FALSE(find(w, BodyId{}).has_value());
  EXPECT_FALSE(find(w, BodyId{0, 0}).has_value());
  EXPECT_FALSE(find(w, BodyId{99, 1}).has_value());
}

TEST(WorldHandles, StaleHandleAfterRemoveAndReuseFindsNothing) {
  World w = empty_world();
  const BodyId a = spawn(w, at(0));
  ASSERT_TRUE(remove(w, a));
  EXPECT_FALSE(find(w, a).has_value());
  EXPECT_FALSE(remove(w, a));
  const BodyId b = spawn(w, at(2));
  EXPECT_EQ(b.index, a.index); // slot reused
  EXPECT_NE(b.generation, a.generation);
  EXPECT_FALSE(find(w, a).has_value());
  EXPECT_EQ(find(w, b), 0u);
  EXPECT_FALSE(check_invariants(w).has_value());
}

TEST(WorldHandles, FreedSlotsAreReusedLastInFirstOut) {
  World w = empty_world();
  const BodyId a = spawn(w, at(0));
  const BodyId b = spawn(w, at(1));
  spawn(w, at(2));
  remove(w, a);
  remove(w, b);
  EXPECT_EQ(spawn(w, at(3)).index, b.index);
  EXPECT_EQ(spawn(w, at(4)).index, a.index);
}

TEST(WorldHandles, RemovalKeepsSpawnOrderAndUpdatesLaterIndices) {
  World w = empty_world();
  std::vector<BodyId> ids;
  for (int k = 0; k < 5; ++k)
    ids.push_back(spawn(w, at(static_cast<float>(k))));
  ASSERT_TRUE(remove(w, ids[1]));
  ASSERT_EQ(w.size(), 4u);
  const float expected[] = {0.f, 2.f, 3.f, 4.f};
  for (std::size_t k = 0; k < 4; ++k)
    EXPECT_EQ(w.bodies[k].position.x, expected[k]);
  EXPECT_EQ(find(w, ids[0]), 0u);
  EXPECT_EQ(find(w, ids[2]), 1u);
  EXPECT_EQ(find(w, ids[4]), 3u);
  EXPECT_FALSE(check_invariants(w).has_value());
}

TEST(WorldInvariants, HoldForFreshAndChurnedWorlds) {
  World w = empty_world();
  EXPECT_FALSE(check_invariants(w).has_value());
  std::vector<BodyId> ids;
  for (int k = 0; k < 50; ++k)
    ids.push_back(spawn(w, at(static_cast<float>(k % 10))));
  for (int k = 0; k < 50; k += 3)
    remove(w, ids[static_cast<std::size_t>(k)]);
  for (int k = 0; k < 7; ++k)
    spawn(w, at(1));
  EXPECT_FALSE(check_invariants(w).has_value());
}

TEST(WorldInvariants, DetectCorruptSlotTable) {
  World w = empty_world();
  spawn(w, at(0));
  spawn(w, at(1));
  w.slots[0].dense = 1;
  EXPECT_TRUE(check_invariants(w).has_value());
}

TEST(WorldInvariants, DetectNonFiniteStateAndBadRadius) {
  World w = empty_world();
  spawn(w, at(0));
  World nan_world = w;
  nan_world.bodies[0].velocity.y = std::nanf("");
  EXPECT_TRUE(check_invariants(nan_world).has_value());
  World bad_radius = w;
  bad_radius.bodies[0].radius = 0.f;
  EXPECT_TRUE(check_invariants(bad_radius).has_value());
  World mismatch = w;
  mismatch.infos.pop_back();
  EXPECT_TRUE(check_invariants(mismatch).has_value());
}

// Every number of every body is checked, wherever the body lies (the check
// takes four lanes at a time), and each fault is named.
TEST(WorldInvariants, EveryBadNumberOfAnyBodyIsNamed) {
  World w = empty_world();
  for (int i = 0; i < 7; ++i)
    spawn(w, at(static_cast<float>(i)));
  ASSERT_FALSE(check_invariants(w).has_value());
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::nanf("");
  const std::string not_finite = "a body's position or velocity is not finite";
  const std::string radius = "a body's radius is not a positive finite number";
  const std::string mass = "a body's inverse mass is negative or not finite";
  const std::string restitution = "a body's restitution is not finite";
  struct Fault {
    const char* what;
    std::function<void(Body&, BodyInfo&)> apply;
    std::string message;
  };
  const std::vector<Fault> faults = {
    {"position.x inf", [&](Body& b, BodyInfo&) { b.position.x = inf; }, not_finite},
    {"position.y nan", [&](Body& b, BodyInfo&) { b.position.y = nan; }, not_finite},
    {"position.z -inf", [&](Body& b, BodyInfo&) { b.position.z = -inf; }, not_finite},
    {"velocity.x nan", [&](Body& b, BodyInfo&) { b.velocity.x = nan; }, not_finite},
    {"velocity.z inf", [&](Body& b, BodyInfo&) { b.velocity.z = inf; }, not_finite},
    {"radius 0", [&](Body& b, BodyInfo&) { b.radius = 0.f; }, radius},
    {"radius -1", [&](Body& b, BodyInfo&) { b.radius = -1.f; }, radius},
    {"radius nan", [&](Body& b, BodyInfo&) { b.radius = nan; }, radius},
    {"radius inf", [&](Body& b, BodyInfo&) { b.radius = inf; }, radius},
    {"inv_mass -1", [&](Body& b, BodyInfo&) { b.inv_mass = -1.f; }, mass},
    {"inv_mass nan", [&](Body& b, BodyInfo&) { b.inv_mass = nan; }, mass},
    {"inv_mass inf", [&](Body& b, BodyInfo&) { b.inv_mass = inf; }, mass},
    {"restitution nan", [&](Body&, BodyInfo& info) { info.restitution = nan; }, restitution},
  };
  for (const auto& fault : faults)
    for (const std::size_t k : {std::size_t{0}, std::size_t{3}, w.size() - 1}) {
      World broken = w;
      fault.apply(broken.bodies[k], broken.infos[k]);
      const auto found = check_invariants(broken);
      ASSERT_TRUE(found.has_value()) << fault.what << " on body " << k;
      EXPECT_EQ(std::string(*found), fault.message) << fault.what << " on body " << k;
    }
  // The edges that are fine: a static body (inverse mass 0, also -0) and a tiny radius.
  World edges = w;
  edges.bodies[2].inv_mass = 0.f;
  edges.bodies[4].inv_mass = -0.f;
  edges.bodies[5].radius = std::numeric_limits<float>::denorm_min();
  EXPECT_FALSE(check_invariants(edges).has_value()) << *check_invariants(edges);
}

TEST(WorldMass, InverseMassComesFromDensityAndVolume) {
  World w = empty_world();
  BodySpec s = at(0);
  s.radius = 0.5f;
  s.density = 1000.f;
  spawn(w, s);
  const double expected = 1.0 / (1000.0 * 4.0 / 3.0 * std::numbers::pi * 0.125);
  EXPECT_NEAR(w.bodies[0].inv_mass, expected, expected * 1e-6);
  s.density = 0.f;
  spawn(w, s);
  EXPECT_EQ(w.bodies[1].inv_mass, 0.f);
}

TEST(WorldRandom, IsSplitmix64) {
  World w = empty_world();
  w.rng_state = 0;
  // Reference values of splitmix64 seeded with 0.
  EXPECT_EQ(next_random(w), 0xe220a8397b1dcdafull);
  EXPECT_EQ(next_random(w), 0x6e789e6aa1b965f4ull);
}

TEST(WorldRandom, FloatsStayInTheHalfOpenRange) {
  World w = empty_world();
  for (int k = 0; k < 10000; ++k) {
    const float v = random_float(w, -2.f, 3.f);
    ASSERT_GE(v, -2.f);
    ASSERT_LT(v, 3.f);
  }
}

TEST(WorldHash, EqualForCopies) {
  World w = troupe::test::pile(100);
  const World copy = w;
  EXPECT_EQ(world_hash(w), world_hash(copy));
}

TEST(WorldHash, ChangesWhenOnePositionBitFlips) {
  World w = troupe::test::pile(100);
  const std::uint64_t before = world_hash(w);
  for (std::uint32_t bit : {0u, 7u, 22u, 31u}) {
    World changed = w;
    float& y = changed.bodies[57].position.y;
    y = std::bit_cast<float>(std::bit_cast<std::uint32_t>(y) ^ (1u << bit));
    EXPECT_NE(world_hash(changed), before) << "bit " << bit;
  }
}

TEST(WorldHash, CoversTickSettingsAndColdFields) {
  const World w = troupe::test::pile(10);
  const std::uint64_t h = world_hash(w);
  World a = w;
  a.tick += 1;
  EXPECT_NE(world_hash(a), h);
  World b = w;
  b.rng_state ^= 1;
  EXPECT_NE(world_hash(b), h);
  World c = w;
  c.paused = true;
  EXPECT_NE(world_hash(c), h);
  World d = w;
  d.infos[3].color ^= 0x100;
  EXPECT_NE(world_hash(d), h);
  World e = w;
  e.fountain.every_ticks = 5;
  EXPECT_NE(world_hash(e), h);
  World f = w;
  f.gravity.x = 0.5f;
  EXPECT_NE(world_hash(f), h);
  World g = w;
  g.arena.max.y += 1.f;
  EXPECT_NE(world_hash(g), h);
  World u = w;
  u.infos[4].user_data = 1;
  EXPECT_NE(world_hash(u), h) << "user data is simulated state: it is in the hash";
}

TEST(WorldUserData, ASpawnedBodyCarriesItsSpecsUserData) {
  World w = troupe::test::empty_world();
  BodySpec spec;
  spec.user_data = 0xfeedface12345678ull;
  const auto id = spawn(w, spec);
  EXPECT_EQ(w.infos[*find(w, id)].user_data, 0xfeedface12345678ull);
}
