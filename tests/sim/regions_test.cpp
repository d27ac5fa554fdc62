// A partitioned world (sim/regions.hpp) against the whole world stepped by
// `advance`: the same bits for any number of regions, slabs or grids, any
// rebalancing and any thread count, tick by tick (hash and contact events),
// and the same world put back together at the end.
#include <troupe/sim/regions.hpp>

#include "common/sim_scenes.hpp"

#include <gtest/gtest.h>

#include <oneapi/tbb/task_arena.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace troupe::sim {
namespace {

using test::same_bits;
using test::scaled;

/// One tick of a partitioned world, run as the actors run it: plan, begin,
/// every parcel made before any region steps, step, finish. `halo_scale`
/// narrows the plan's halo (1: as planned).
std::uint64_t tick_regions(Ledger& ledger, std::vector<Region>& regions, std::vector<Command> commands,
                           const PhysicsSettings& settings, const Parallel& parallel,
                           std::vector<ContactEvent>& events, std::uint64_t& stepped, float halo_scale = 1.f,
                           const RulesStep* rules = nullptr, float rules_speedup = 0.f) {
  TickPlan plan = ledger.plan(commands, settings, rules ? RulesRef{"rules under test", 1} : RulesRef{}, rules_speedup);
  plan.halo *= halo_scale;
  for (Region& r : regions)
    r.begin(plan);
  std::vector<std::vector<Parcel>> inbox(regions.size());
  for (const Region& from : regions)
    for (const Region& to : regions)
      if (from.index() != to.index())
        inbox[to.index()].push_back(from.parcel_for(to.index()));
  std::vector<RegionReport> reports;
  for (Region& r : regions)
    reports.push_back(*r.step(inbox[r.index()], settings, parallel, rules));
  for (Region& r : regions)
    r.commit();
  for (const RegionReport& r : reports)
    stepped += r.owned + r.ghosts;
  return ledger.finish(reports, events);
}

/// Commands of tick `t` for a world that looks like `w`: spawns (some reusing
/// freed slots), impulses and removals of live bodies, a shake, gravity, a
/// pause; the same list goes to both sides.
std::vector<Command> commands_at(const World& w, std::uint64_t t) {
  std::vector<Command> out;
  std::uint64_t seq = 0;
  auto add = [&](Action a) { out.push_back({1, ++seq, t, std::move(a)}); };
  if (t % 20 == 3)
    for (int k = 0; k < 6; ++k)
      add(SpawnBody{{{-8.f + 3.f * static_cast<float>(k), 14.f, 2.f * static_cast<float>(k % 3) - 2.f},
                     {0.f, -1.f, 0.f}, 0.2f + 0.05f * static_cast<float>(k)}});
  if (t % 7 == 2 && w.size() > 10) {
    add(ApplyImpulse{w.infos[w.size() / 3].id, {1.5f, 2.f, -0.5f}});
    add(RemoveBody{w.infos[w.size() / 2].id});
    add(RemoveBody{w.infos[1].id});
  }
  if (t == 25)
    add(Shake{{0.8f, 0.f, 0.3f}});
  if (t == 37 && w.size() > 10) {
    // After the impulse and removals above: a spawn, a shake that moves it
    // too, and a second impulse on the body pushed before the shake (float
    // sums: the order must be the plan's).
    add(SpawnBody{{{1.f, 12.f, 1.f}, {0.5f, 0.f, 0.f}, 0.3f}});
    add(Shake{{-0.4f, 0.2f, 0.1f}});
    add(ApplyImpulse{w.infos[w.size() / 3].id, {-0.7f, 0.3f, 0.9f}});
  }
  if (t == 30)
    add(SetGravity{{0.5f, -7.f, 0.f}});
  // Rebalances: from where the bodies are (in effect the tick after), and
  // to given cuts (taken where the axis has that many).
  if (t == 12)
    add(Rebalance{0, {}});
  if (t == 33)
    add(Rebalance{2, {}});
  if (t == 47)
    add(Rebalance{0, {-1.5f}});
  if (t == 40)
    add(SetPaused{true});
  if (t == 43)
    add(SetPaused{false});
  return out;
}

bool same_events(const std::vector<ContactEvent>& a, const std::vector<ContactEvent>& b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const ContactEvent &x = a[k], &y = b[k];
    if (!(x.a == y.a && x.b == y.b && same_bits(x.point, y.point) && same_bits(x.normal, y.normal) &&
          same_bits(x.impulse, y.impulse) && same_bits(x.approach_speed, y.approach_speed) &&
          same_bits(x.radius, y.radius) && same_bits(x.restitution, y.restitution)))
      return false;
  }
  return true;
}

struct Case {
  std::string name;
  Layout layout;
  Layout rebalanced; ///< the layout from tick `rebalance_at` on (same if none)
};

/// Runs the whole world and the partitioned one side by side; every tick must agree.
/// Returns, per case, the bodies its regions stepped per body of the world
/// (1 = no ghosts; the number of regions = every region stepped everything).
std::vector<double> expect_same_as_whole(World start, const std::vector<Case>& cases, std::uint32_t ticks,
                                         const Parallel& parallel, std::uint64_t rebalance_at = ~0ull,
                                         const PhysicsSettings& settings = {}, std::uint32_t auto_every = 0,
                                         const RulesStep* rules = nullptr, float rules_speedup = 0.f) {
  std::vector<std::uint64_t> stepped(cases.size(), 0);
  std::uint64_t whole_bodies = 0;
  std::vector<Ledger> ledgers(cases.size());
  std::vector<std::vector<Region>> parts(cases.size());
  for (std::size_t c = 0; c < cases.size(); ++c) {
    partition(start, cases[c].layout, ledgers[c], parts[c]);
    ledgers[c].rebalance_every = auto_every;
    ledgers[c].rebalance_after = 3;
  }
  World whole = start;
  std::uint64_t collisions = 0;
  for (std::uint32_t t = 0; t < ticks; ++t) {
    auto commands = commands_at(whole, whole.tick);
    std::vector<ContactEvent> expected;
    auto mine = commands;
    EXPECT_TRUE(advance(whole, mine, rules, settings, parallel, expected));
    whole_bodies += whole.size();
    collisions += expected.size();
    const std::uint64_t hash = world_hash(whole);
    for (std::size_t c = 0; c < cases.size(); ++c) {
      if (whole.tick - 1 == rebalance_at)
        ledgers[c].layout = cases[c].rebalanced;
      std::vector<ContactEvent> events;
      const std::uint64_t got =
        tick_regions(ledgers[c], parts[c], commands, settings, parallel, events, stepped[c], 1.f, rules, rules_speedup);
      EXPECT_EQ(got, hash) << cases[c].name << " at tick " << whole.tick;
      if (got != hash)
        return {};
      EXPECT_TRUE(same_events(events, expected)) << cases[c].name << " at tick " << whole.tick << ": "
                                                 << events.size() << " events, expected " << expected.size();
    }
  }
  EXPECT_GT(collisions, 0u) << "the scene must have contacts to mean anything";
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const World back = assemble(ledgers[c], parts[c]);
    EXPECT_FALSE(check_invariants(back)) << cases[c].name << ": " << *check_invariants(back);
    EXPECT_EQ(world_hash(back), world_hash(whole)) << cases[c].name;
    EXPECT_EQ(back.size(), whole.size()) << cases[c].name;
    if (back.size() == whole.size()) {
      EXPECT_EQ(0, std::memcmp(back.bodies.data(), whole.bodies.data(), whole.size() * sizeof(Body))) << cases[c].name;
    }
    EXPECT_EQ(back.free_slots, whole.free_slots) << cases[c].name;
    // What readers get: logic's header and every region's part, put together.
    std::vector<World> part_worlds;
    for (const Region& r : parts[c]) {
      part_worlds.push_back(part_world(ledgers[c].settings, ledgers[c].tick, r.held()));
      EXPECT_FALSE(check_invariants(part_worlds.back())) << cases[c].name;
    }
    std::vector<const World*> pieces;
    for (const World& p : part_worlds)
      pieces.push_back(&p);
    const World read = assemble_parts(header_world(ledgers[c]), pieces);
    EXPECT_FALSE(check_invariants(read)) << cases[c].name;
    EXPECT_EQ(world_hash(read), world_hash(whole)) << cases[c].name;
    if (read.size() == whole.size()) {
      EXPECT_EQ(0, std::memcmp(read.bodies.data(), whole.bodies.data(), whole.size() * sizeof(Body))) << cases[c].name;
      EXPECT_EQ(0, std::memcmp(read.infos.data(), whole.infos.data(), whole.size() * sizeof(BodyInfo))) << cases[c].name;
    }
  }
  std::vector<double> ratio;
  for (const std::uint64_t n : stepped)
    ratio.push_back(static_cast<double>(n) / static_cast<double>(std::max<std::uint64_t>(whole_bodies, 1)));
  return ratio;
}

Layout slabs(const Arena& arena, int axis, std::uint32_t n) {
  std::array<std::uint32_t, 3> cells{1, 1, 1};
  cells[static_cast<std::size_t>(axis)] = n;
  return Layout::even(arena, cells);
}

std::vector<Case> standard_cases(const Arena& a) {
  return {
    {"1 region", Layout::even(a, {1, 1, 1}), {}},
    {"2 slabs along x", slabs(a, 0, 2), {}},
    {"3 slabs along z", slabs(a, 2, 3), {}},
    {"4 slabs along x", slabs(a, 0, 4), {}},
    {"8 slabs along x", slabs(a, 0, 8), {}},
    {"2x1x2 grid", Layout::even(a, {2, 1, 2}), {}},
    {"2x2x2 grid", Layout::even(a, {2, 2, 2}), {}},
  };
}

TEST(Regions, LayoutNamesEveryPointsCellAndItsDistance) {
  const Layout l = Layout::even(Arena{}, {2, 1, 4}); // x cut at 0, z cuts at -5, 0, 5
  EXPECT_EQ(l.regions(), 8u);
  EXPECT_EQ(l.region_of({-1.f, 3.f, -7.f}), 0u);
  EXPECT_EQ(l.region_of({0.f, 3.f, -7.f}), 1u) << "a point on a cut is in the upper cell";
  EXPECT_EQ(l.region_of({-1.f, 3.f, 6.f}), 6u);
  EXPECT_EQ(l.region_of({500.f, -9.f, 500.f}), 7u) << "the outer cells reach to infinity";
  EXPECT_DOUBLE_EQ(l.distance({-1.f, 3.f, -7.f}, 0), 0.0);
  EXPECT_DOUBLE_EQ(l.distance({-1.f, 3.f, -7.f}, 1), 1.0);
  EXPECT_DOUBLE_EQ(l.distance({-3.f, 3.f, -9.f}, 3), 5.0); // 3 along x, 4 along z
}

TEST(Regions, ACellsBoxAnswersAsTheLayoutForEveryPoint) {
  const Layout l = Layout::even(Arena{}, {2, 1, 4}); // x cut at 0, z cuts at -5, 0, 5
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float values[] = {-inf, -50.f, -5.f, -4.9999f, -0.f, 0.f, 1e-7f, 4.9999f, 5.f, 50.f, inf, nan};
  for (const float x : values)
    for (const float y : {0.f, nan})
      for (const float z : values)
        for (std::uint32_t r = 0; r < l.regions(); ++r) {
          const Vec3 p{x, y, z};
          const Layout::Box box = l.box(r);
          EXPECT_EQ(box.contains(p), l.region_of(p) == r) << x << " " << y << " " << z << " in " << r;
          if (box.contains(p) && std::isfinite(x) && std::isfinite(y) && std::isfinite(z)) {
            EXPECT_EQ(box.distance(p), 0.0) << x << " " << y << " " << z << " in " << r;
          }
        }
}

TEST(Regions, ARegionHoldsWhatItHadUntilItsTickIsCommittedAndRunsTheTickAgainAlike) {
  // A region that fails in the middle of a tick runs it again from what it
  // holds: the step must leave that alone, and the second run must be the first.
  const World start = make_scenario({"sandbox", 600, 11, 60.0});
  Ledger ledger;
  std::vector<Region> regions;
  partition(start, Layout::even(start.arena, {2, 1, 1}), ledger, regions);
  std::vector<Command> commands = {
    {1, 1, 0, SpawnBody{{{-1.f, 10.f, 0.f}, {0.f, -1.f, 0.f}, 0.3f}}},
    {1, 2, 0, ApplyImpulse{start.infos[5].id, {1.f, 2.f, 0.f}}},
    {1, 3, 0, Shake{{0.5f, 0.f, -0.25f}}},
    {1, 4, 0, RemoveBody{start.infos[9].id}},
  };
  const PhysicsSettings settings;
  const TickPlan plan = ledger.plan(commands, settings);
  for (Region& r : regions)
    r.begin(plan);
  const Parcel parcel = regions[1].parcel_for(0);
  const BodyList before = regions[0].held();
  const RegionReport first = *regions[0].step({&parcel, 1}, settings, Parallel::sequential());
  const BodyList stepped = regions[0].stepped();
  auto same = [](const BodyList& a, const BodyList& b) {
    return a.size() == b.size() && std::memcmp(a.bodies.data(), b.bodies.data(), a.size() * sizeof(Body)) == 0 &&
           std::memcmp(a.infos.data(), b.infos.data(), a.size() * sizeof(BodyInfo)) == 0;
  };
  EXPECT_TRUE(same(regions[0].held(), before)) << "the step changed what the region holds";
  EXPECT_FALSE(same(stepped, before));
  regions[0].begin(plan);
  const RegionReport again = *regions[0].step({&parcel, 1}, settings, Parallel::sequential());
  EXPECT_EQ(again.hash_part, first.hash_part);
  EXPECT_EQ(again.owned, first.owned);
  EXPECT_TRUE(same(regions[0].stepped(), stepped));
  regions[0].commit();
  EXPECT_TRUE(same(regions[0].held(), stepped));
  EXPECT_EQ(regions[0].stepped().size(), 0u);
}

TEST(Regions, TheSandboxIsTheWholeWorldForAnyRegionCount) {
  World start = make_scenario({"sandbox", 600, 11, 60.0});
  expect_same_as_whole(start, standard_cases(start.arena), scaled(90, 30), Parallel::sequential());
}

TEST(Regions, APileIsTheWholeWorldForAnyRegionCountOnTwoThreads) {
  // A deep pile: thousands of resting contacts across every cut.
  World start = make_scenario({"pile", scaled(3000, 800), 5, 60.0});
  tbb::task_arena arena(2);
  expect_same_as_whole(start, standard_cases(start.arena), scaled(60, 20), Parallel::in_arena(arena));
}

TEST(Regions, AnotherSeedAndCountStayTheWholeWorld) {
  World start = make_scenario({"sandbox", 1500, 97, 60.0});
  const Arena a = start.arena;
  expect_same_as_whole(start, {{"3 slabs along x", slabs(a, 0, 3), {}}, {"2x1x2 grid", Layout::even(a, {2, 1, 2}), {}}},
                       scaled(60, 20), Parallel::sequential());
}

TEST(Regions, BodyRulesRunInEveryRegionAsOnTheWholeWorld) {
  // Rules that read each body alone (a plugin of body scope) run in each
  // region on what it steps, ghosts included: a gusty wind that speeds
  // bodies up (the halo must allow for it), a drag, and a tag in the colour.
  constexpr float gust = 1.5f; // m/s per tick, at most
  const RulesStep rules = [](World& w) -> Expected<void> {
    const float dv = (w.tick / 10) % 2 == 0 ? gust : -gust;
    for (std::size_t k = 0; k < w.size(); ++k) {
      Body& b = w.bodies[k];
      if (b.inv_mass > 0.f)
        b.velocity = {b.velocity.x * 0.99f + dv, b.velocity.y, b.velocity.z * 0.99f};
      w.infos[k].color = (w.infos[k].color & 0xffffff00u) | static_cast<std::uint32_t>(w.tick & 0xffu);
    }
    return {};
  };
  World start = make_scenario({"sandbox", 900, 13, 60.0});
  expect_same_as_whole(start, standard_cases(start.arena), scaled(80, 30), Parallel::sequential(), ~0ull, {}, 0,
                       &rules, gust);
}

TEST(Regions, ARegionWhoseRulesFailHoldsWhatItHad) {
  const World start = make_scenario({"sandbox", 400, 3, 60.0});
  Ledger ledger;
  std::vector<Region> regions;
  partition(start, Layout::even(start.arena, {2, 1, 1}), ledger, regions);
  std::vector<Command> none;
  const TickPlan plan = ledger.plan(none, PhysicsSettings{}, RulesRef{"failing", 7}, 0.f);
  EXPECT_EQ(plan.rules, (RulesRef{"failing", 7}));
  const RulesStep failing = [](World&) -> Expected<void> { return Error{errc::bad_plugin, "on purpose"}; };
  regions[0].begin(plan);
  const Parcel parcel = regions[1].parcel_for(0);
  const BodyList before = regions[0].held();
  const auto failed = regions[0].step({&parcel, 1}, PhysicsSettings{}, Parallel::sequential(), &failing);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, errc::bad_plugin);
  EXPECT_EQ(regions[0].held().size(), before.size());
  EXPECT_EQ(0, std::memcmp(regions[0].held().bodies.data(), before.bodies.data(), before.size() * sizeof(Body)));
  // Run again without them (the rules were taken back), it steps.
  regions[0].begin(plan);
  EXPECT_TRUE(regions[0].step({&parcel, 1}, PhysicsSettings{}, Parallel::sequential()));
}

TEST(Regions, MovingTheCutsMidRunChangesNothing) {
  World start = make_scenario({"sandbox", 600, 11, 60.0});
  const Arena a = start.arena;
  Layout skewed = slabs(a, 0, 4);
  skewed.cuts[0] = {-8.f, -7.5f, 6.f}; // crowded to one side: most bodies change owner
  Layout grid = Layout::even(a, {2, 1, 2});
  Layout grid_moved = grid;
  grid_moved.cuts[0] = {3.f};
  grid_moved.cuts[2] = {-2.5f};
  expect_same_as_whole(start, {{"4 slabs, rebalanced", slabs(a, 0, 4), skewed}, {"2x1x2 grid, rebalanced", grid, grid_moved}},
                       scaled(60, 24), Parallel::sequential(), scaled(30, 12));
}

TEST(Regions, RebalancingByItselfChangesNothing) {
  const World start = make_scenario({"sandbox", 1500, 21, 60.0});
  const std::vector<Case> cases = {{"4 slabs along x", slabs(start.arena, 0, 4), {}},
                                   {"2x1x3 grid", Layout::even(start.arena, {2, 1, 3}), {}}};
  expect_same_as_whole(start, cases, scaled(80, 50), Parallel::sequential(), ~0ull, {}, 10);
  // The cuts did move: a survey every 10 ticks of bodies that fall and spread.
  Ledger ledger;
  std::vector<Region> regions;
  partition(start, cases[0].layout, ledger, regions);
  ledger.rebalance_every = 10;
  std::vector<ContactEvent> events;
  std::uint64_t stepped = 0;
  for (int t = 0; t < 40; ++t)
    tick_regions(ledger, regions, {}, {}, Parallel::sequential(), events, stepped);
  EXPECT_FALSE(ledger.layout == cases[0].layout);
  for (const Region& r : regions) // each cell holds about a quarter of the bodies
    EXPECT_NEAR(static_cast<double>(r.held().size()), static_cast<double>(ledger.alive) / 4.0,
                static_cast<double>(ledger.alive) / 8.0);
}

TEST(Regions, AHaloNarrowerThanTheWorldIsEnough) {
  // Fewer passes make a halo of 2 x 4.04 R (about 4 m for R = 0.5) in an 18 m
  // pile: each region steps only a part of the world, and still every owned
  // body comes out exact.
  PhysicsSettings fewer;
  fewer.substeps = 1;
  fewer.iterations = 1;
  World start = make_scenario({"pile", 3000, 5, 60.0});
  const Arena a = start.arena;
  const std::vector<Case> cases{{"8 slabs along x", slabs(a, 0, 8), {}}, {"2x2x2 grid", Layout::even(a, {2, 2, 2}), {}}};
  const auto stepped = expect_same_as_whole(start, cases, scaled(40, 12), Parallel::sequential(), ~0ull, fewer);
  ASSERT_EQ(stepped.size(), 2u);
  EXPECT_LT(stepped[0], 8.0 * 0.7) << "8 slabs: ghosts must be a part of the world, not all of it";
  EXPECT_GT(stepped[0], 1.0) << "and there must be ghosts";
}

TEST(Regions, HaloCoversEveryPassOfTheStep) {
  PhysicsSettings s;
  s.substeps = 4;
  s.iterations = 2;
  WorldSettings fast;
  // 12 passes; a fast world: each pass at most 4.04 R.
  EXPECT_GE(halo_width(s, fast, 0.5f, 1000.f), 12 * 4.04f * 0.5f);
  EXPECT_EQ(halo_width(s, fast, 0.5f, std::numeric_limits<float>::infinity()), halo_width(s, fast, 0.5f, 1000.f));
  // A world at rest: about 2.04 R a pass, plus what gravity adds in a tick.
  EXPECT_LT(halo_width(s, fast, 0.5f, 0.f), 12 * 2.1f * 0.5f);
  EXPECT_GT(halo_width(s, fast, 0.5f, 0.f), 12 * 2.04f * 0.5f);
  s.substeps = 1;
  s.iterations = 1;
  EXPECT_LT(halo_width(s, fast, 0.5f, 0.f), halo_width(PhysicsSettings{}, fast, 0.5f, 0.f));
}

TEST(Regions, AHaloNarrowerThanTheBoundBreaksTheWorld) {
  // The comparison can fail: with a tenth of the halo, owned bodies near a
  // boundary miss neighbours, and the hash leaves the whole world's.
  World whole = make_scenario({"sandbox", 1500, 5, 60.0});
  Ledger ledger;
  std::vector<Region> regions;
  partition(whole, slabs(whole.arena, 0, 4), ledger, regions);
  const PhysicsSettings settings;
  bool differed = false;
  for (int t = 0; t < 200 && !differed; ++t) {
    std::vector<ContactEvent> events;
    auto commands = commands_at(whole, whole.tick);
    auto mine = commands;
    EXPECT_TRUE(advance(whole, mine, nullptr, settings, Parallel::sequential(), events));
    std::vector<ContactEvent> got;
    std::uint64_t stepped = 0;
    differed = tick_regions(ledger, regions, commands, settings, Parallel::sequential(), got, stepped, 0.1f) !=
               world_hash(whole);
  }
  EXPECT_TRUE(differed);
}

} // namespace
} // namespace troupe::sim

namespace troupe::sim {
namespace {

TEST(Regions, AGhostTakesThePassesItsNewsNeedsAndOneFewerBreaksTheCell) {
  // A region steps only the ghosts within passes_per_step candidate pairs
  // of a body it owns (hops_to_own), each for passes - hops passes: its own
  // bodies come out as when every body within the halo takes every pass,
  // tick after tick; a pass fewer for each ghost does not leave them alone
  // (the count is tight), and most of the halo is left out.
  for (const ScenarioSpec& spec : {ScenarioSpec{"sandbox", 1500, 17, 60.0}, ScenarioSpec{"pile", 3000, 5, 60.0}}) {
    World w = make_scenario(spec);
    const PhysicsSettings settings;
    const std::uint32_t passes = passes_per_step(settings);
    const Layout::Box cell = Layout::even(w.arena, {2, 1, 1}).box(0);
    std::vector<ContactEvent> events;
    std::size_t in_halo = 0, stepped = 0, owned = 0, same = 0, broken = 0;
    // Every build runs the full count: before the bodies land (tick 40 in the
    // sandbox) the count has no chance to show it is tight.
    for (std::uint32_t t = 0; t < 90; ++t) {
      float max_radius = 0.f, max_speed = 0.f;
      for (const Body& b : w.bodies) {
        max_radius = std::max(max_radius, b.radius);
        max_speed = std::max(max_speed, length(b.velocity));
      }
      const float halo = halo_width(settings, w, max_radius, max_speed);
      World part; // the cell's bodies and the ghosts within the halo, as a region receives them
      static_cast<WorldSettings&>(part) = w;
      part.tick = w.tick;
      std::vector<std::uint8_t> own;
      for (std::size_t k = 0; k < w.size(); ++k) {
        const bool mine = cell.contains(w.bodies[k].position);
        if (!mine && !(cell.distance(w.bodies[k].position) <= halo))
          continue;
        part.bodies.push_back(w.bodies[k]);
        part.infos.push_back(w.infos[k]);
        own.push_back(mine ? 1 : 0);
      }
      const std::vector<std::uint16_t> hops = hops_to_own(part, own, static_cast<std::uint16_t>(passes));
      World trim = part; // the ghosts within reach only
      trim.bodies.clear();
      trim.infos.clear();
      std::vector<std::uint16_t> exact, short_by_one;
      std::vector<std::size_t> from; // body of `part` at each place of `trim`
      for (std::size_t k = 0; k < part.size(); ++k) {
        in_halo += own[k] ? 0 : 1;
        if (hops[k] > passes)
          continue;
        stepped += own[k] ? 0 : 1;
        trim.bodies.push_back(part.bodies[k]);
        trim.infos.push_back(part.infos[k]);
        from.push_back(k);
        const auto last = static_cast<std::uint16_t>(passes - hops[k]);
        exact.push_back(last);
        short_by_one.push_back(own[k] || last == 0 ? last : static_cast<std::uint16_t>(last - 1));
      }
      World too_short = trim, all = part;
      step(all, settings, Parallel::sequential(), events);
      step(trim, settings, Parallel::sequential(), events, exact);
      step(too_short, settings, Parallel::sequential(), events, short_by_one);
      for (std::size_t k = 0; k < trim.size(); ++k) {
        if (!own[from[k]])
          continue;
        ++owned;
        same += std::memcmp(&all.bodies[from[k]], &trim.bodies[k], sizeof(Body)) == 0 ? 1 : 0;
        broken += std::memcmp(&all.bodies[from[k]], &too_short.bodies[k], sizeof(Body)) != 0 ? 1 : 0;
      }
      step(w, settings, Parallel::sequential(), events);
    }
    EXPECT_EQ(same, owned) << spec.name;
    EXPECT_GT(broken, 0u) << spec.name << ": a pass fewer for each ghost changed none of the cell's bodies";
    EXPECT_LT(stepped, in_halo) << spec.name << ": every ghost within the halo links to the cell";
    std::printf("%s: %zu of %zu ghosts in the halo stepped\n", spec.name.c_str(), stepped, in_halo);
  }
}

TEST(Regions, AParcelCarriesOnlyTheGhostsPairsCanLink) {
  // From the second tick on (the plan knows how far bodies moved) a region
  // sends the ghosts that candidate pairs can link to the other cell, not
  // the whole halo; the world stays the whole one, through spawns,
  // removals, a shake, a pause and moved cuts (which send the halo again).
  for (const ScenarioSpec& spec : {ScenarioSpec{"sandbox", 1500, 17, 60.0}, ScenarioSpec{"pile", 3000, 5, 60.0}}) {
    World whole = make_scenario(spec);
    Ledger ledger;
    std::vector<Region> regions;
    partition(whole, Layout::even(whole.arena, {2, 1, 2}), ledger, regions);
    const PhysicsSettings settings;
    std::uint64_t sent = 0, in_halo = 0, pruned_ticks = 0;
    for (std::uint32_t t = 0; t < 60; ++t) {
      auto commands = commands_at(whole, whole.tick);
      auto mine = commands;
      std::vector<ContactEvent> expected, events;
      ASSERT_TRUE(advance(whole, mine, nullptr, settings, Parallel::sequential(), expected));
      const TickPlan plan = ledger.plan(commands, settings);
      pruned_ticks += std::isfinite(plan.max_move) ? 1 : 0;
      TickPlan halo_plan = plan;
      halo_plan.max_move = std::numeric_limits<float>::infinity();
      for (Region& r : regions)
        r.begin(plan);
      std::vector<std::vector<Parcel>> inbox(regions.size());
      for (const Region& from : regions) {
        Region as_before = from;
        as_before.begin(halo_plan);
        for (const Region& to : regions)
          if (from.index() != to.index()) {
            inbox[to.index()].push_back(from.parcel_for(to.index()));
            sent += inbox[to.index()].back().bodies.size();
            in_halo += as_before.parcel_for(to.index()).bodies.size();
          }
      }
      std::vector<RegionReport> reports;
      for (Region& r : regions)
        reports.push_back(*r.step(inbox[r.index()], settings, Parallel::sequential()));
      for (Region& r : regions)
        r.commit();
      ASSERT_EQ(ledger.finish(reports, events), world_hash(whole)) << spec.name << " at tick " << whole.tick;
      ASSERT_TRUE(same_events(events, expected)) << spec.name << " at tick " << whole.tick;
    }
    EXPECT_GT(pruned_ticks, 40u) << spec.name;
    EXPECT_LT(sent, in_halo) << spec.name;
    std::printf("%s: %llu bodies sent, %llu within the halo\n", spec.name.c_str(),
                static_cast<unsigned long long>(sent), static_cast<unsigned long long>(in_halo));
  }
}

TEST(Regions, AScenarioStreamedIsTheScenarioBuilt) {
  // Built-in scenarios stream their bodies; one an application registers
  // with a builder only is walked: either way the ledger, its hash and each
  // region's part are those of the world make_scenario builds.
  register_scenario({"test-stream-builder", "a builder only",
                     [](World& w, const ScenarioSpec& spec) {
                       w.arena = Arena{{-6.f, 0.f, -6.f}, {6.f, 12.f, 6.f}};
                       for (std::uint32_t k = 0; k < spec.bodies; ++k)
                         spawn(w, BodySpec{{static_cast<float>(k % 11) - 5.f, 1.f + static_cast<float>(k / 11), 0.f},
                                           {},
                                           0.3f});
                       remove(w, w.infos[3].id); // a freed slot, reused first later
                     }});
  for (const ScenarioSpec& spec : {ScenarioSpec{"sandbox", 700, 5, 60.0}, ScenarioSpec{"pile", 900, 2, 60.0},
                                  ScenarioSpec{"test-stream-builder", 60, 1, 60.0}}) {
    const World world = make_scenario(spec);
    const Cutter cut = [](const Arena& arena) { return Layout::even(arena, {3, 1, 2}); };
    const Layout layout = cut(world.arena);
    std::uint64_t hash = 0;
    const Ledger streamed = scenario_ledger(spec, nullptr, cut, hash);
    const Ledger built = make_ledger(world, layout);
    EXPECT_EQ(hash, world_hash(world)) << spec.name;
    EXPECT_EQ(streamed.alive, built.alive) << spec.name;
    EXPECT_EQ(streamed.free_slots, built.free_slots) << spec.name;
    ASSERT_EQ(streamed.slots.size(), built.slots.size()) << spec.name;
    EXPECT_EQ(0, std::memcmp(streamed.slots.data(), built.slots.data(), built.slots.size() * sizeof(Slot)));
    EXPECT_EQ(streamed.rng_state, built.rng_state) << spec.name;
    EXPECT_EQ(streamed.max_radius, built.max_radius) << spec.name;
    EXPECT_TRUE(streamed.layout == built.layout) << spec.name;
    for (std::uint32_t r = 0; r < layout.regions(); ++r) {
      const auto part = scenario_part(spec, cut, r);
      const auto want = bodies_in(world, layout, r);
      ASSERT_EQ(part.size(), want.size()) << spec.name << " region " << r;
      if (!want.empty()) { // an empty vector's data() may be null: not for memcmp
        EXPECT_EQ(0, std::memcmp(part.data(), want.data(), want.size() * sizeof(WholeBody))) << spec.name;
      }
    }
  }
}

} // namespace
} // namespace troupe::sim
