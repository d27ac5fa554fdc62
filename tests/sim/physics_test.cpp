#include <troupe/sim/advance.hpp>
#include <troupe/sim/physics.hpp>

#include "common/sim_scenes.hpp"

#include <gtest/gtest.h>

#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

using namespace troupe::sim;
using troupe::test::empty_world;
using troupe::test::scaled;

namespace {

BodySpec sphere(Vec3 p, Vec3 v = {}, float radius = 0.5f, float restitution = 0.3f) {
  BodySpec s;
  s.position = p;
  s.velocity = v;
  s.radius = radius;
  s.restitution = restitution;
  return s;
}

std::vector<ContactEvent> step_once(World& w, const Parallel& p = Parallel::sequential(),
                                    const PhysicsSettings& settings = {}) {
  std::vector<ContactEvent> events;
  step(w, settings, p, events);
  return events;
}

bool same_events(const std::vector<ContactEvent>& a, const std::vector<ContactEvent>& b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const ContactEvent &x = a[k], &y = b[k];
    if (x.a != y.a || x.b != y.b || !troupe::test::same_bits(x.point, y.point) ||
        !troupe::test::same_bits(x.normal, y.normal) ||
        !troupe::test::same_bits(x.impulse, y.impulse) ||
        !troupe::test::same_bits(x.approach_speed, y.approach_speed))
      return false;
  }
  return true;
}

/// One code per wall, from its normal.
std::uint64_t wall_code(Vec3 n) {
  if (n.y > 0.5f)
    return 0;
  if (n.x > 0.5f)
    return 1;
  if (n.x < -0.5f)
    return 2;
  return n.z > 0.f ? 3 : 4;
}

} // namespace

TEST(PhysicsStep, SameHashForAnyWorkerCount) {
  // >= 5000 bodies so the chunks really run on several workers.
  const std::uint32_t ticks = scaled(200, 25);
  World seq = troupe::test::pile(6000, 11);
  World two = seq;
  World three = seq;
  tbb::task_arena arena2(2), arena3(3);
  const Parallel p1 = Parallel::sequential();
  const Parallel p2 = Parallel::in_arena(arena2);
  const Parallel p3 = Parallel::in_arena(arena3);
  for (std::uint32_t t = 0; t < ticks; ++t) {
    const auto e1 = step_once(seq, p1);
    const auto e2 = step_once(two, p2);
    const auto e3 = step_once(three, p3);
    const std::uint64_t h = world_hash(seq);
    ASSERT_EQ(world_hash(two), h) << "tick " << t;
    ASSERT_EQ(world_hash(three), h) << "tick " << t;
    ASSERT_TRUE(same_events(e1, e2)) << "tick " << t;
    ASSERT_TRUE(same_events(e1, e3)) << "tick " << t;
  }
  EXPECT_GT(kinetic_energy(seq), 0.0);
}

TEST(PhysicsStep, SameHashWithRulesRunningForAnyWorkerCount) {
  // The full tick (fountain, physics, removal) on a sandbox with bodies leaving.
  const std::uint32_t ticks = scaled(120, 20);
  World seq = make_scenario({"sandbox", 5000, 3, 60.0});
  seq.bodies[10].velocity = {0.f, 0.f, 400.f}; // very fast: the margin cap path
  seq.bodies[11].position.y = 100.f;           // above the arena: removed
  World par = seq;
  tbb::task_arena arena(2);
  const Parallel p2 = Parallel::in_arena(arena);
  const Parallel p1 = Parallel::sequential();
  std::vector<ContactEvent> events;
  for (std::uint32_t t = 0; t < ticks; ++t) {
    ASSERT_TRUE(advance(seq, {}, nullptr, PhysicsSettings{}, p1, events));
    ASSERT_TRUE(advance(par, {}, nullptr, PhysicsSettings{}, p2, events));
    ASSERT_EQ(world_hash(seq), world_hash(par)) << "tick " << t;
  }
  EXPECT_FALSE(check_invariants(seq).has_value());
}

TEST(PhysicsStep, TickAdvancesByOnePerStep) {
  World w = troupe::test::pile(10);
  const auto before = w.tick;
  step_once(w);
  step_once(w);
  EXPECT_EQ(w.tick, before + 2);
}

TEST(PhysicsStep, PausedWorldDoesNotMoveButTicks) {
  World w = troupe::test::pile(200);
  w.bodies[0].velocity = {1.f, 2.f, 3.f};
  w.paused = true;
  const std::vector<Body> before = w.bodies;
  for (int t = 0; t < 10; ++t)
    EXPECT_TRUE(step_once(w).empty());
  EXPECT_EQ(w.tick, 10u);
  for (std::size_t k = 0; k < w.size(); ++k) {
    EXPECT_TRUE(troupe::test::same_bits(w.bodies[k].position, before[k].position));
    EXPECT_TRUE(troupe::test::same_bits(w.bodies[k].velocity, before[k].velocity));
  }
}

TEST(PhysicsStep, EmptyWorldOnlyTicks) {
  World w = empty_world();
  EXPECT_TRUE(step_once(w).empty());
  EXPECT_EQ(w.tick, 1u);
}

TEST(PhysicsStep, FreeBodyFallsUnderGravity) {
  World w = empty_world();
  spawn(w, sphere({0.f, 10.f, 0.f}));
  for (int t = 0; t < 30; ++t)
    step_once(w);
  // Half a second of free fall: about g t^2 / 2 = 1.23 m, speed about 4.9 m/s.
  EXPECT_NEAR(w.bodies[0].position.y, 10.f - 1.226f, 0.05f);
  EXPECT_NEAR(w.bodies[0].velocity.y, -4.9f, 0.1f);
  EXPECT_EQ(w.bodies[0].position.x, 0.f);
}

TEST(PhysicsStep, DroppedSphereBouncesThenRestsOnTheFloor) {
  World w = empty_world();
  spawn(w, sphere({0.f, 3.f, 0.f}, {}, 0.5f, 0.6f));
  bool bounced = false;
  std::size_t floor_events = 0;
  for (int t = 0; t < 600; ++t) {
    for (const ContactEvent& e : step_once(w)) {
      EXPECT_FALSE(e.b.valid());
      EXPECT_EQ(e.normal, (Vec3{0.f, 1.f, 0.f}));
      ++floor_events;
    }
    bounced = bounced || w.bodies[0].velocity.y > 1.f;
  }
  EXPECT_TRUE(bounced);
  EXPECT_GE(floor_events, 1u);
  EXPECT_NEAR(w.bodies[0].position.y, 0.5f, 1e-4f);
  EXPECT_LT(length(w.bodies[0].velocity), 1e-3f);
}

TEST(PhysicsStep, FirstImpactEventReportsTheApproachSpeed) {
  World w = empty_world();
  spawn(w, sphere({0.f, 2.5f, 0.f}, {}, 0.5f, 0.f));
  for (int t = 0; t < 120; ++t) {
    const auto events = step_once(w);
    if (events.empty())
      continue;
    ASSERT_EQ(events.size(), 1u);
    // Fell 2 m: sqrt(2 g h) = 6.26 m/s.
    EXPECT_NEAR(events[0].approach_speed, 6.26f, 0.3f);
    EXPECT_GT(events[0].impulse, 0.f);
    EXPECT_NEAR(events[0].point.y, 0.f, 1e-6f);
    return;
  }
  FAIL() << "no impact event";
}

TEST(PhysicsStep, HeadOnPairProducesOneEventFromLowerToHigher) {
  World w = empty_world();
  w.gravity = {};
  const BodyId a = spawn(w, sphere({-2.f, 5.f, 0.f}, {3.f, 0.f, 0.f}));
  const BodyId b = spawn(w, sphere({2.f, 5.f, 0.f}, {-3.f, 0.f, 0.f}));
  std::vector<ContactEvent> all;
  for (int t = 0; t < 60; ++t) {
    const auto events = step_once(w);
    all.insert(all.end(), events.begin(), events.end());
  }
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].a, a);
  EXPECT_EQ(all[0].b, b);
  EXPECT_NEAR(all[0].approach_speed, 6.f, 0.05f);
  // Normal points from b to a.
  EXPECT_LT(all[0].normal.x, -0.99f);
  // They separate afterwards and never overlap deeply.
  EXPECT_LT(w.bodies[0].velocity.x, 0.f);
  EXPECT_GT(w.bodies[1].velocity.x, 0.f);
}

TEST(PhysicsStep, RestingWorldEmitsNoEvents) {
  World w = empty_world();
  // Spheres resting on the floor, some touching side by side.
  for (int k = 0; k < 6; ++k)
    spawn(w, sphere({static_cast<float>(k), 0.5f, 0.f}));
  for (int t = 0; t < 120; ++t)
    EXPECT_TRUE(step_once(w).empty()) << "tick " << t;
  for (const Body& b : w.bodies)
    EXPECT_NEAR(b.position.y, 0.5f, 1e-3f);
}

TEST(PhysicsStep, StaticBodiesNeverMove) {
  World w = empty_world();
  BodySpec wall = sphere({0.f, 1.f, 0.f}, {}, 1.f);
  wall.density = 0.f;
  spawn(w, wall);
  spawn(w, sphere({0.f, 4.f, 0.f}));
  for (int t = 0; t < 120; ++t)
    step_once(w);
  EXPECT_EQ(w.bodies[0].position, (Vec3{0.f, 1.f, 0.f}));
  EXPECT_EQ(w.bodies[0].inv_mass, 0.f);
  // The other one landed on top of it.
  EXPECT_NEAR(w.bodies[1].position.y, 2.5f, 0.05f);
}

TEST(PhysicsStep, WallsKeepFastBodiesInside) {
  World w = empty_world();
  spawn(w, sphere({0.f, 1.f, 0.f}, {200.f, 0.f, -150.f}));
  spawn(w, sphere({5.f, 1.f, 5.f}, {0.f, -300.f, 0.f}));
  for (int t = 0; t < 30; ++t) {
    step_once(w);
    for (const Body& b : w.bodies) {
      ASSERT_GE(b.position.y, w.arena.min.y + b.radius);
      ASSERT_LE(b.position.x, w.arena.max.x - b.radius);
      ASSERT_GE(b.position.z, w.arena.min.z + b.radius);
    }
  }
}

TEST(PhysicsStep, PileSettlesWithoutEscapingOrExploding) {
  const std::uint32_t count = scaled(2000, 400);
  const std::uint32_t ticks = 600;
  World w = troupe::test::pile(count);
  double peak = 0.0;
  for (std::uint32_t t = 0; t < ticks; ++t) {
    step_once(w);
    peak = std::max(peak, kinetic_energy(w));
  }
  const double end = kinetic_energy(w);
  EXPECT_LT(end, peak * 1e-3) << "peak " << peak << " end " << end;
  EXPECT_EQ(w.size(), count);
  EXPECT_TRUE(troupe::test::all_inside(w));
  EXPECT_FALSE(check_invariants(w).has_value());
  // No deep overlaps left: the pile holds its shape.
  float top = 0.f;
  for (const Body& b : w.bodies)
    top = std::max(top, b.position.y);
  EXPECT_GT(top, 2.f);
}

TEST(PhysicsStep, EventsAreOrderedAndAtMostOnePerPairPerTick) {
  World w = troupe::test::pile(scaled(3000, 600));
  std::size_t total = 0;
  for (std::uint32_t t = 0; t < scaled(90, 60); ++t) {
    const auto events = step_once(w);
    total += events.size();
    std::set<std::pair<std::size_t, std::uint64_t>> seen;
    std::size_t last_a = 0;
    for (const ContactEvent& e : events) {
      const auto a = find(w, e.a);
      ASSERT_TRUE(a.has_value());
      ASSERT_GE(*a, last_a);
      last_a = *a;
      std::uint64_t b_key = ~0ull;
      if (e.b.valid()) {
        const auto b = find(w, e.b);
        ASSERT_TRUE(b.has_value());
        ASSERT_LT(*a, *b);
        b_key = *b;
      } else {
        b_key = (1ull << 40) + wall_code(e.normal);
      }
      ASSERT_TRUE(seen.insert({*a, b_key}).second) << "duplicate event";
      ASSERT_GE(e.approach_speed, PhysicsSettings{}.contact_event_speed);
      ASSERT_NEAR(length(e.normal), 1.f, 1e-4f);
    }
  }
  EXPECT_GT(total, 0u);
}

TEST(PhysicsStep, StatsCountPairsAndContacts) {
  World w = empty_world();
  // A resting stack of two, and one sphere far away on the floor.
  spawn(w, sphere({0.f, 0.5f, 0.f}));
  spawn(w, sphere({0.f, 1.5f, 0.f}));
  spawn(w, sphere({5.f, 0.5f, 5.f}));
  std::vector<ContactEvent> events;
  const StepStats stats = step(w, {}, Parallel::sequential(), events);
  EXPECT_EQ(stats.pairs_tested, 1u);
  EXPECT_EQ(stats.contacts, 3u); // the stacked pair and two floor contacts
  EXPECT_TRUE(events.empty());
}

TEST(PhysicsKineticEnergy, IsHalfMassSpeedSquared) {
  World w = empty_world();
  spawn(w, sphere({0.f, 1.f, 0.f}, {2.f, 0.f, 0.f}));
  const double mass = 1.0 / w.bodies[0].inv_mass;
  EXPECT_NEAR(kinetic_energy(w), 0.5 * mass * 4.0, 1e-6 * mass);
}
