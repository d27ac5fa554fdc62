#include <troupe/sim/rules.hpp>

#include "common/sim_scenes.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace troupe::sim;
using troupe::test::empty_world;
using troupe::test::same_bits;

namespace {

BodySpec at(Vec3 p) {
  BodySpec s;
  s.position = p;
  return s;
}

/// Bit-exact equality of two actions, field by field.
bool same_action(const Action& x, const Action& y) {
  if (x.index() != y.index())
    return false;
  return std::visit(
    [&](const auto& a) -> bool {
      using T = std::decay_t<decltype(a)>;
      const T& b = std::get<T>(y);
      if constexpr (std::is_same_v<T, SpawnBody>) {
        return same_bits(a.spec.position, b.spec.position) &&
               same_bits(a.spec.velocity, b.spec.velocity) &&
               same_bits(a.spec.radius, b.spec.radius) &&
               same_bits(a.spec.density, b.spec.density) &&
               same_bits(a.spec.restitution, b.spec.restitution) && a.spec.color == b.spec.color;
      } else if constexpr (std::is_same_v<T, ApplyImpulse>) {
        return a.body == b.body && same_bits(a.dv, b.dv);
      } else if constexpr (std::is_same_v<T, Shake>) {
        return same_bits(a.dv, b.dv);
      } else if constexpr (std::is_same_v<T, RemoveBody>) {
        return a.body == b.body;
      } else if constexpr (std::is_same_v<T, SetPaused>) {
        return a.paused == b.paused;
      } else if constexpr (std::is_same_v<T, SetGravity>) {
        return same_bits(a.gravity, b.gravity);
      } else if constexpr (std::is_same_v<T, LoadRules>) {
        return a.path == b.path;
      } else if constexpr (std::is_same_v<T, Rebalance>) {
        return a.axis == b.axis && a.cuts.size() == b.cuts.size() &&
               std::equal(a.cuts.begin(), a.cuts.end(), b.cuts.begin(), [](float p, float q) { return same_bits(p, q); });
      } else {
        return same_bits(a.fountain.origin, b.fountain.origin) &&
               same_bits(a.fountain.velocity, b.fountain.velocity) &&
               same_bits(a.fountain.spread, b.fountain.spread) &&
               same_bits(a.fountain.radius, b.fountain.radius) &&
               a.fountain.every_ticks == b.fountain.every_ticks &&
               a.fountain.max_bodies == b.fountain.max_bodies;
      }
    },
    x);
}

std::vector<Action> sample_actions() {
  BodySpec odd;
  odd.position = {0.1f, -0.f, 1e-30f};
  odd.velocity = {std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                  -123456.789f};
  odd.radius = 0.3333333f;
  odd.density = 2500.5f;
  odd.restitution = 0.7f;
  odd.color = 0x00ff0a01u;
  Fountain f;
  f.origin = {1.5f, 14.f, -2.25f};
  f.velocity = {0.f, 3.1f, 0.2f};
  f.spread = 0.75f;
  f.radius = 0.2f;
  f.every_ticks = 7;
  f.max_bodies = 4000000000u;
  return {SpawnBody{at({0.f, 5.f, 0.f})},
          SpawnBody{odd},
          ApplyImpulse{BodyId{12, 3}, {0.1f, 0.2f, 0.3f}},
          Shake{{-1e-7f, 2.f, 1.f / 3.f}},
          RemoveBody{BodyId{4294967294u, 4294967295u}},
          SetPaused{true},
          SetPaused{false},
          SetGravity{{0.f, -9.81f, 0.f}},
          SetFountain{f},
          LoadRules{"plugins/wind.so"},
          Rebalance{0, {}},
          Rebalance{2, {-4.5f, 1e-3f * 7.f, 0.1f}}};
}

} // namespace

TEST(RulesApply, EveryActionApplies) {
  World w = empty_world();
  EXPECT_TRUE(apply(w, SpawnBody{at({0.f, 5.f, 0.f})}));
  EXPECT_TRUE(apply(w, SpawnBody{at({2.f, 5.f, 0.f})}));
  ASSERT_EQ(w.size(), 2u);
  const BodyId first = w.infos[0].id;

  EXPECT_TRUE(apply(w, ApplyImpulse{first, {1.f, 0.f, 0.f}}));
  EXPECT_EQ(w.bodies[0].velocity, (Vec3{1.f, 0.f, 0.f}));

  EXPECT_TRUE(apply(w, Shake{{0.f, 2.f, 0.f}}));
  EXPECT_EQ(w.bodies[0].velocity, (Vec3{1.f, 2.f, 0.f}));
  EXPECT_EQ(w.bodies[1].velocity, (Vec3{0.f, 2.f, 0.f}));

  EXPECT_TRUE(apply(w, SetPaused{true}));
  EXPECT_TRUE(w.paused);
  EXPECT_TRUE(apply(w, SetPaused{false}));
  EXPECT_FALSE(w.paused);

  EXPECT_TRUE(apply(w, SetGravity{{0.f, -1.f, 0.f}}));
  EXPECT_EQ(w.gravity, (Vec3{0.f, -1.f, 0.f}));

  Fountain f;
  f.every_ticks = 3;
  f.max_bodies = 9;
  EXPECT_TRUE(apply(w, SetFountain{f}));
  EXPECT_EQ(w.fountain, f);

  EXPECT_TRUE(apply(w, RemoveBody{first}));
  EXPECT_EQ(w.size(), 1u);
  EXPECT_FALSE(check_invariants(w).has_value());
}

TEST(RulesApply, ActionsOnGoneBodiesDoNothing) {
  World w = empty_world();
  const BodyId id = spawn(w, at({0.f, 1.f, 0.f}));
  remove(w, id);
  spawn(w, at({0.f, 1.f, 0.f})); // reuses the slot
  EXPECT_FALSE(apply(w, ApplyImpulse{id, {1.f, 1.f, 1.f}}));
  EXPECT_FALSE(apply(w, RemoveBody{id}));
  EXPECT_EQ(w.bodies[0].velocity, Vec3{});
  EXPECT_EQ(w.size(), 1u);
}

TEST(RulesApply, InvalidValuesAreRefused) {
  World w = empty_world();
  BodySpec bad = at({0.f, 1.f, 0.f});
  bad.radius = -1.f;
  EXPECT_FALSE(apply(w, SpawnBody{bad}));
  EXPECT_FALSE(apply(w, SetGravity{{std::nanf(""), 0.f, 0.f}}));
  EXPECT_EQ(w.size(), 0u);
  EXPECT_FALSE(check_invariants(w).has_value());
}

TEST(RulesApply, StaticBodiesIgnoreImpulses) {
  World w = empty_world();
  BodySpec s = at({0.f, 1.f, 0.f});
  s.density = 0.f;
  const BodyId id = spawn(w, s);
  apply(w, ApplyImpulse{id, {1.f, 0.f, 0.f}});
  apply(w, Shake{{1.f, 0.f, 0.f}});
  EXPECT_EQ(w.bodies[0].velocity, Vec3{});
}

TEST(RulesFountain, SpawnsEveryNTicksUpToTheMaximum) {
  World w = empty_world();
  w.fountain.every_ticks = 2;
  w.fountain.max_bodies = 5;
  std::vector<std::size_t> sizes;
  std::vector<ContactEvent> events;
  for (int t = 0; t < 20; ++t) {
    before_physics(w);
    sizes.push_back(w.size());
    step(w, {}, Parallel::sequential(), events);
    after_physics(w);
  }
  EXPECT_EQ(sizes[0], 1u); // tick 0 spawns
  EXPECT_EQ(sizes[1], 1u);
  EXPECT_EQ(sizes[2], 2u);
  EXPECT_EQ(w.size(), 5u);
  for (const Body& b : w.bodies) {
    EXPECT_EQ(b.radius, w.fountain.radius);
    EXPECT_LE(std::fabs(b.position.x - w.fountain.origin.x), w.fountain.spread + 1.f);
  }
}

TEST(RulesFountain, IsDeterministicAndOffByDefault) {
  World a = empty_world();
  a.fountain.every_ticks = 1;
  a.fountain.max_bodies = 10;
  World b = a;
  for (int t = 0; t < 10; ++t) {
    before_physics(a);
    before_physics(b);
    ++a.tick;
    ++b.tick;
  }
  EXPECT_EQ(a.size(), 10u);
  EXPECT_EQ(world_hash(a), world_hash(b));
  World off = empty_world();
  before_physics(off);
  EXPECT_EQ(off.size(), 0u);
}

TEST(RulesAfterPhysics, RemovesBodiesThatLeftTheArena) {
  World w = empty_world(); // arena x/z in [-10, 10], y in [0, 20]
  const BodyId keep = spawn(w, at({0.f, 1.f, 0.f}));
  spawn(w, at({10.5f, 1.f, 0.f}));   // beyond +x
  spawn(w, at({0.f, 1.f, -11.f}));   // beyond -z
  spawn(w, at({0.f, -0.6f, 0.f}));   // below the floor by more than its radius
  spawn(w, at({0.f, 20.5f, 0.f}));   // above the top
  const BodyId keep2 = spawn(w, at({9.9f, 19.9f, -9.9f}));
  BodySpec nan_spec = at({0.f, 1.f, 0.f});
  spawn(w, nan_spec);
  w.bodies.back().velocity.x = std::numeric_limits<float>::infinity();
  EXPECT_EQ(after_physics(w), 5u);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(find(w, keep), 0u);
  EXPECT_EQ(find(w, keep2), 1u);
  EXPECT_FALSE(check_invariants(w).has_value());
  EXPECT_EQ(after_physics(w), 0u);
}

TEST(RulesFormat, ParseOfFormatIsBitExactForEveryAction) {
  for (const Action& a : sample_actions()) {
    const std::string text = format_action(a);
    std::string error;
    const auto back = parse_action(text, error);
    ASSERT_TRUE(back.has_value()) << text << ": " << error;
    EXPECT_TRUE(same_action(a, *back)) << text;
    EXPECT_EQ(format_action(*back), text);
  }
}

TEST(RulesFormat, ReadsTheDocumentedForms) {
  std::string error;
  const auto spawn_short = parse_action("spawn 0 5 0 0 0 0 0.5", error);
  ASSERT_TRUE(spawn_short.has_value()) << error;
  const auto& s = std::get<SpawnBody>(*spawn_short).spec;
  EXPECT_EQ(s.position, (Vec3{0.f, 5.f, 0.f}));
  EXPECT_EQ(s.radius, 0.5f);
  EXPECT_EQ(s.density, BodySpec{}.density);

  const auto spawn_long = parse_action("  spawn 1 2 3 4 5 6 0.25 800 0.9 ff0000ff ", error);
  ASSERT_TRUE(spawn_long.has_value()) << error;
  EXPECT_EQ(std::get<SpawnBody>(*spawn_long).spec.color, 0xff0000ffu);
  EXPECT_EQ(std::get<SpawnBody>(*spawn_long).spec.density, 800.f);
  const auto spawn_tagged = parse_action("spawn 1 2 3 4 5 6 0.25 800 0.9 ff0000ff 18446744073709551615", error);
  ASSERT_TRUE(spawn_tagged.has_value()) << error;
  EXPECT_EQ(std::get<SpawnBody>(*spawn_tagged).spec.user_data, ~0ull);
  EXPECT_EQ(format_action(*spawn_tagged), "spawn 1 2 3 4 5 6 0.25 800 0.9 ff0000ff 18446744073709551615");
  EXPECT_FALSE(parse_action("spawn 1 2 3 4 5 6 0.25 800", error));
  EXPECT_NE(error.find("takes 7, 10 or 11 arguments"), std::string::npos) << error;

  EXPECT_EQ(format_action(SetPaused{true}), "pause");
  EXPECT_EQ(format_action(SetPaused{false}), "resume");
  EXPECT_EQ(format_action(Shake{{1.f, 0.5f, -2.f}}), "shake 1 0.5 -2");
  EXPECT_EQ(format_action(RemoveBody{BodyId{3, 7}}), "remove 3 7");
  const auto g = parse_action("gravity 0 -1.62 0", error);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(std::get<SetGravity>(*g).gravity.y, -1.62f);
  const auto f = parse_action("fountain 0 15 0 0 2 0 1 0.25 10 500", error);
  ASSERT_TRUE(f.has_value()) << error;
  EXPECT_EQ(std::get<SetFountain>(*f).fountain.max_bodies, 500u);
}

TEST(RulesFormat, ParseErrorsNameTheTokenAndWhatWasExpected) {
  std::string error;
  EXPECT_FALSE(parse_action("", error).has_value());
  EXPECT_NE(error.find("empty"), std::string::npos) << error;

  EXPECT_FALSE(parse_action("explode 1 2 3", error).has_value());
  EXPECT_NE(error.find("unknown action 'explode'"), std::string::npos) << error;
  EXPECT_NE(error.find("spawn"), std::string::npos) << error;

  EXPECT_FALSE(parse_action("spawn 1 2", error).has_value());
  EXPECT_NE(error.find("7, 10 or 11 arguments"), std::string::npos) << error;
  EXPECT_NE(error.find("got 2"), std::string::npos) << error;

  EXPECT_FALSE(parse_action("spawn 1 2 x 0 0 0 0.5", error).has_value());
  EXPECT_NE(error.find("argument 3"), std::string::npos) << error;
  EXPECT_NE(error.find("position.z"), std::string::npos) << error;
  EXPECT_NE(error.find("'x'"), std::string::npos) << error;
  EXPECT_NE(error.find("expected a number"), std::string::npos) << error;

  EXPECT_FALSE(parse_action("spawn 0 0 0 0 0 0 0.5 1000 0.3 zz", error).has_value());
  EXPECT_NE(error.find("color"), std::string::npos) << error;

  EXPECT_FALSE(parse_action("remove -1 2", error).has_value());
  EXPECT_NE(error.find("index"), std::string::npos) << error;
  EXPECT_NE(error.find("non-negative integer"), std::string::npos) << error;

  EXPECT_FALSE(parse_action("impulse 1 2 3 4", error).has_value());
  EXPECT_NE(error.find("INDEX GENERATION DX DY DZ"), std::string::npos) << error;

  EXPECT_FALSE(parse_action("pause now", error).has_value());
  EXPECT_NE(error.find("'pause' takes 0 arguments"), std::string::npos) << error;

  EXPECT_FALSE(parse_action("gravity 0 1e99 0", error).has_value());
  EXPECT_NE(error.find("float range"), std::string::npos) << error;

  EXPECT_FALSE(parse_action("shake 1 2 3.5.6", error).has_value());
  EXPECT_NE(error.find("dv.z"), std::string::npos) << error;
}
