#include <troupe/sim/scenario.hpp>

#include "common/sim_scenes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

using namespace troupe::sim;

TEST(Scenario, KnowsSandboxPileAndEmpty) {
  const auto names = scenario_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "sandbox"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "pile"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "empty"), names.end());
  for (const std::string_view name : names) {
    const World w = make_scenario({std::string(name), 100, 1, 60.0});
    EXPECT_FALSE(check_invariants(w).has_value()) << name;
  }
}

TEST(Scenario, SameSpecBuildsTheSameWorld) {
  for (const char* name : {"sandbox", "pile", "empty"}) {
    const ScenarioSpec spec{name, 500, 42, 60.0};
    EXPECT_EQ(world_hash(make_scenario(spec)), world_hash(make_scenario(spec))) << name;
  }
}

TEST(Scenario, SeedChangesTheWorld) {
  EXPECT_NE(world_hash(make_scenario({"pile", 500, 1, 60.0})),
            world_hash(make_scenario({"pile", 500, 2, 60.0})));
  EXPECT_NE(world_hash(make_scenario({"sandbox", 500, 1, 60.0})),
            world_hash(make_scenario({"sandbox", 500, 2, 60.0})));
}

TEST(Scenario, UnknownNameThrowsListingTheKnownOnes) {
  try {
    make_scenario({"volcano", 10, 1, 60.0});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("volcano"), std::string::npos) << what;
    EXPECT_NE(what.find("sandbox"), std::string::npos) << what;
    EXPECT_NE(what.find("pile"), std::string::npos) << what;
    EXPECT_NE(what.find("empty"), std::string::npos) << what;
  }
  EXPECT_THROW(make_scenario({"pile", 10, 1, 0.0}), std::invalid_argument);
}

TEST(Scenario, DtIsOneOverTickRate) {
  EXPECT_EQ(make_scenario({"empty", 0, 1, 120.0}).dt, static_cast<float>(1.0 / 120.0));
  EXPECT_EQ(make_scenario({"pile", 10, 1, 60.0}).dt, static_cast<float>(1.0 / 60.0));
}

TEST(Scenario, PileIsPackedInsideItsBoxWithoutOverlapsAndNoFountain) {
  const World w = make_scenario({"pile", 10000, 5, 60.0});
  ASSERT_EQ(w.size(), 10000u);
  EXPECT_EQ(w.fountain.every_ticks, 0u);
  EXPECT_TRUE(troupe::test::all_inside(w));
  float top = 0.f;
  for (const Body& b : w.bodies) {
    EXPECT_GE(b.radius, 0.25f);
    EXPECT_LE(b.radius, 0.5f);
    top = std::max(top, b.position.y);
  }
  // Several layers deep, and the box is scaled to the count (about 30 m across).
  EXPECT_GT(top, 5.f);
  EXPECT_LT(w.arena.max.x - w.arena.min.x, 40.f);
  // Neighbours in a column and in a row do not overlap at the start.
  for (std::size_t k = 0; k + 1 < 200; ++k) {
    const Body& a = w.bodies[k];
    const Body& b = w.bodies[k + 1];
    if (std::fabs(a.position.z - b.position.z) < 0.1f) {
      EXPECT_GE(length(a.position - b.position), a.radius + b.radius);
    }
  }
}

TEST(Scenario, SandboxHasTheFountainOnAndFitsItsBodies) {
  const World w = make_scenario({"sandbox", 1000, 5, 60.0});
  ASSERT_EQ(w.size(), 1000u);
  EXPECT_EQ(w.fountain.every_ticks, 10u);
  EXPECT_EQ(w.fountain.max_bodies, 1250u);
  EXPECT_TRUE(troupe::test::all_inside(w));
  EXPECT_GT(w.fountain.origin.y, w.arena.min.y);
  EXPECT_LT(w.fountain.origin.y, w.arena.max.y);
}

TEST(Scenario, EmptyHasNoBodies) {
  const World w = make_scenario({"empty", 1000, 5, 60.0});
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.fountain.every_ticks, 0u);
}

TEST(Scenario, AnApplicationRegistersItsOwnByName) {
  const bool added = register_scenario({"test-line", "bodies on a line, tagged by position",
                                        [](World& w, const ScenarioSpec& spec) {
                                          for (std::uint32_t k = 0; k < spec.bodies; ++k) {
                                            BodySpec body;
                                            body.position = {static_cast<float>(k) - 5.f, 2.f, 0.f};
                                            body.user_data = k;
                                            spawn(w, body);
                                          }
                                        }});
  EXPECT_TRUE(added);
  const auto names = scenario_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "test-line"), names.end());
  const World w = make_scenario({"test-line", 10, 1, 60.0});
  ASSERT_EQ(w.size(), 10u);
  EXPECT_EQ(w.infos[9].user_data, 9u);
  EXPECT_FALSE(register_scenario({"test-line", "", [](World&, const ScenarioSpec&) {}})) << "the name is taken";
  EXPECT_FALSE(register_scenario({"sandbox", "", [](World&, const ScenarioSpec&) {}}));
  EXPECT_FALSE(register_scenario({"no-builder", "", nullptr}));
}
