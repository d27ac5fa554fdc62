#pragma once
/// \file One world split into regions (docs/architecture.md, "Regions"): the
/// pure parts that the region actors and the coordinator run, with no threads
/// and no IO, so that a test can run a partitioned world in one thread and
/// compare it bit for bit with `advance`.
///
/// A tick of a partitioned world:
///   1. the coordinator (`Ledger::plan`) applies the tick's commands and the
///      built-in rules to everything but the bodies (settings, generator, ids)
///      and writes what is left for the bodies as a `TickPlan`, the same for
///      every region;
///   2. each region applies the plan to the bodies it holds (`Region::begin`),
///      then sends every other region one `Parcel`: the bodies whose centres are
///      now in that region's cell (they change owner) and those within the halo
///      of it that candidate pairs can link to that cell within the tick
///      (ghosts, a copy to read);
///   3. each region steps its own bodies together with the ghosts it received
///      that pairs link to its own (`Region::step`); the halo is wide enough
///      that every owned body's result is exact after the whole tick, so one
///      exchange per tick is all (ghosts are stepped redundantly, and thrown
///      away);
///   4. the coordinator folds the regions' `RegionReport`s (`Ledger::finish`):
///      removed ids in id order, contact events merged by id, the world hash
///      summed from the regions' parts.
/// Nothing a body's update reads depends on the layout (sim/physics.hpp), so
/// the world is the one `advance` makes, for any number of regions, any cut
/// and any rebalancing.

#include <troupe/sim/advance.hpp>
#include <troupe/sim/parallel.hpp>
#include <troupe/sim/physics.hpp>
#include <troupe/sim/scenario.hpp>
#include <troupe/sim/world.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace troupe::sim {

/// How space is cut: a grid of cells, cut along each axis at ascending
/// positions; slabs are a grid with cuts on one axis only. Cells are numbered
/// x fastest. A point exactly on a cut belongs to the upper cell; the outer
/// cells reach to infinity.
struct Layout {
  std::array<std::vector<float>, 3> cuts;

  /// Cells: the product over the axes of (cuts + 1).
  std::uint32_t regions() const;
  /// The cell that holds `p` (a NaN coordinate counts as above every cut).
  std::uint32_t region_of(Vec3 p) const;
  /// Distance from `p` to cell `region` (0 inside it).
  double distance(Vec3 p, std::uint32_t region) const;
  /// One cell as a box: region_of and distance for one cell, with no search
  /// and no division per point (what a region runs over all its bodies).
  struct Box {
    double lo[3], hi[3]; ///< -inf and +inf at the outer cells
    bool top[3];         ///< the last cell on an axis (it takes NaN and +inf)
    /// region_of(p) is this cell.
    bool contains(Vec3 p) const;
    /// distance(p, this cell).
    double distance(Vec3 p) const;
  };
  Box box(std::uint32_t region) const;
  /// The cells of each axis, cut evenly over the arena.
  static Layout even(const Arena& arena, std::array<std::uint32_t, 3> cells);
  friend bool operator==(const Layout&, const Layout&) = default;
};

/// A body a region receives whole: spawned this tick, or sent by a neighbour.
struct WholeBody {
  Body body;
  BodyInfo info;
};

/// What the bodies are to undergo this tick, in the canonical order of the
/// commands and rules that caused it. Ids are already decided.
struct SpawnOp { WholeBody spawned; };
struct ImpulseOp { BodyId body; Vec3 dv; };
struct ShakeOp { Vec3 dv; };
struct RemoveOp { BodyId body; };
using BodyOp = std::variant<SpawnOp, ImpulseOp, ShakeOp, RemoveOp>;

/// The body rules a tick runs (a rules plugin of body scope, which reads and
/// changes each body alone): the file each region loads from its own plugin
/// directory, and the digest of the bytes the coordinator tested, so every
/// region runs the same build. An empty path: none.
struct RulesRef {
  std::string path;
  std::uint64_t digest = 0;
  friend bool operator==(const RulesRef&, const RulesRef&) = default;
};

/// Body rules may speed a body up by their declared bound and this much of
/// its speed more (float rounding): the halo allows for both.
inline constexpr double rules_speedup_slack = 1e-6;

/// One tick for every region: the settings it runs under, the body operations,
/// the body rules, the layout (a rebalance changes it between ticks) and the
/// halo width.
struct TickPlan {
  std::uint64_t tick = 0; ///< the tick being run (world.tick before the step)
  WorldSettings settings;
  std::vector<BodyOp> ops;
  RulesRef rules; ///< run on every body a region steps, after the ops
  Layout layout;
  float halo = 0.f; ///< metres: ghosts are the bodies this close to a cell
  std::uint32_t passes = 0; ///< the passes of the step the halo covers (passes_per_step)
  /// A bound on how far any body moved in the tick before, the cuts as they
  /// are now (+inf when none is known: the first tick, after a resume, when
  /// the cuts move). A body another region holds is then this close to its
  /// cell, which lets a region send only the ghosts candidate pairs can link
  /// to the other cell (Region::parcel_for).
  float max_move = std::numeric_limits<float>::infinity();
  /// Axes (bit 0 = x) along which each region counts where its bodies lie
  /// after the step (RegionReport::survey): a rebalance chooses cuts from it.
  std::uint8_t survey = 0;
};

/// A survey counts bodies in this many equal slices of the arena per axis.
inline constexpr std::uint32_t survey_bins = 256;

/// The bodies one region sends another in a tick: id order.
struct Parcel {
  std::uint32_t from = 0;
  std::vector<WholeBody> bodies;
};

/// What a region says of its tick.
struct RegionReport {
  std::uint32_t region = 0;
  std::uint64_t tick = 0;          ///< ticks completed
  std::vector<BodyId> removed;     ///< owned bodies that left the arena, id order
  std::vector<ContactEvent> events; ///< impacts whose first body it owns
  std::uint64_t hash_part = 0;     ///< sum of body_hash over its bodies
  std::uint64_t owned = 0;         ///< bodies it owns after the tick
  std::uint64_t ghosts = 0;        ///< ghosts it stepped
  std::uint64_t arrived = 0;       ///< bodies that changed owner into it
  float max_radius = 0.f;          ///< largest radius it owns
  float max_speed = 0.f;           ///< fastest body it owns (not static; +inf for one not finite)
  float max_move = 0.f;            ///< farthest a body it owned moved in the step (+inf for one not finite)
  StepStats stats;                 ///< of its step, ghosts included
  /// With TickPlan::survey: its bodies per slice of the arena, survey_bins
  /// per axis, x then y then z (axes not surveyed count nothing).
  std::vector<std::uint32_t> survey;
};

/// The halo a tick needs: the farthest a chain of one candidate pair per
/// pass of the step can reach. A pair is a candidate when its centres are
/// closer than (r_i + m_i) + (r_j + m_j), the broadphase margin being
/// m = min(speed dt + |g| dt^2, r) + 0.02 r at the start of the tick
/// (sim/physics.cpp); with R the largest radius and S a bound on every
/// body's speed, a pass reaches at most 2 (1.02 R + min(S dt + |g| dt^2, R)).
/// A slow world needs about half the halo of a fast one.
float halo_width(const PhysicsSettings& settings, const WorldSettings& world, float max_radius, float max_speed);

/// Bodies in id order, kept as a world keeps them (hot and cold parts apart),
/// so a region's stepped world becomes what it holds without a copy.
struct BodyList {
  std::vector<Body> bodies;
  std::vector<BodyInfo> infos;
  std::size_t size() const { return bodies.size(); }
  WholeBody operator[](std::size_t k) const { return {bodies[k], infos[k]}; }
};

/// A region: the bodies it holds between ticks (those it owned at the end of
/// the last one, in id order) and what it does in a tick. What it holds stays
/// the state after the last tick until the tick is committed (begin and
/// parcel_for read it through the plan, step writes its result apart), so a
/// region that fails in the middle of a tick runs it again from there, and a
/// tick needs no copy of it.
class Region {
public:
  Region(std::uint32_t index, std::vector<WholeBody> held);

  std::uint32_t index() const { return index_; }
  /// The bodies held, id order.
  const BodyList& held() const { return held_; }

  /// Step 2 of a tick: takes the plan; its body operations apply to the bodies
  /// held as they are read (a spawn is kept when its centre is in this
  /// region's cell).
  void begin(const TickPlan& plan);
  /// Step 2: what this region sends `to` (after `begin`): the bodies now in
  /// its cell, and the ghosts that candidate pairs can link to a body of
  /// that cell within the plan's passes, counting through the bodies held
  /// here and, past them, by distance (all within the halo when the plan
  /// knows no TickPlan::max_move or runs body rules, which change speeds).
  Parcel parcel_for(std::uint32_t to) const;
  /// Step 3: keeps the bodies held and received whose centres are in this
  /// region's cell, runs the body rules (the plan's, given as `rules`; null:
  /// none) on them and on the rest of what was received, steps them all
  /// (the rest are ghosts) and removes those that left the arena. The parcels
  /// from every other region of the layout, any order. The result
  /// (`stepped()`) is held once committed; the rules' Error when they failed
  /// (nothing is held then, and the tick can run again).
  Expected<RegionReport> step(std::span<const Parcel> parcels, const PhysicsSettings& settings,
                              const Parallel& parallel, const RulesStep* rules = nullptr);
  /// The bodies it owns after the step, id order.
  const BodyList& stepped() const { return stepped_; }
  /// Step 4: the stepped bodies are what it holds (the tick is done).
  void commit();

private:
  /// Calls `f(const Body&, const BodyInfo&)` for each body held and spawned
  /// here, the plan's operations applied, id order; removed ones are skipped.
  template <class F> void for_each_planned(F&& f) const;
  /// `w` as the plan's operations from op `from` on leave it; false when removed.
  bool planned(WholeBody& w, std::size_t from) const;

  std::uint32_t index_;
  BodyList held_, stepped_;
  TickPlan plan_;
  // The plan's body operations, indexed for planned(): spawns kept here (id
  // order, with their op's index), the shakes' op indices, and (id index, op
  // index) of each impulse and removal, sorted.
  std::vector<std::pair<WholeBody, std::size_t>> spawned_;
  std::vector<std::size_t> shakes_;
  std::vector<std::pair<std::uint32_t, std::size_t>> touched_;
};

/// What a partitioned world's coordinator keeps: everything of the World but
/// the bodies (settings, tick, generator, the id table) and how many there are.
struct Ledger {
  WorldSettings settings;
  std::uint64_t tick = 0;
  std::uint64_t seed = 0;
  std::uint64_t rng_state = 0;
  std::vector<Slot> slots; ///< `dense` is 0 for a live slot, ~0u for a free one
  std::vector<std::uint32_t> free_slots;
  std::uint64_t alive = 0;
  float max_radius = 0.f; ///< a bound: the largest radius alive (or removed lately)
  float max_speed = 0.f;  ///< a bound: the fastest body after the last tick (not static)
  /// How far a body moved at most in the last tick (TickPlan::max_move), and
  /// the cuts that tick ran with. Not kept in checkpoints: a ledger read back
  /// starts without either (+inf, none).
  float max_move = std::numeric_limits<float>::infinity();
  std::optional<Layout> last_planned;
  /// The cuts the next tick runs with. A rebalance moves cuts between ticks;
  /// the number of cells (regions) stays.
  Layout layout;
  /// Rebalancing by itself: every `rebalance_every` ticks (0 = never) every
  /// axis that has cuts is surveyed, and cuts that give each cell about as
  /// many bodies take effect `rebalance_after` ticks later.
  std::uint32_t rebalance_every = 0;
  std::uint32_t rebalance_after = 1;
  /// Cuts decided and not in effect yet: from tick `tick` on, `axis` is cut at `cuts`.
  struct PendingCuts {
    std::uint64_t tick = 0;
    std::uint8_t axis = 0;
    std::vector<float> cuts;
  };
  std::vector<PendingCuts> pending_cuts; ///< in the order decided
  /// The survey of the tick being run (between plan and finish): its axes,
  /// and the tick the cuts chosen from it take effect.
  std::uint8_t surveying = 0;
  std::uint64_t survey_applies = 0;

  /// Step 1: the tick's commands (sorted here) and the built-in rules, as
  /// `prepare_tick` runs them on a whole world; cuts due now take effect.
  /// `rules` are the body rules the tick runs, which speed a body up by at
  /// most `rules_speedup` m/s (the halo allows for it).
  TickPlan plan(std::span<Command> commands, const PhysicsSettings& settings, RulesRef rules = {},
                float rules_speedup = 0.f);
  /// Step 4: folds the reports of a tick; returns the world hash after it and
  /// appends the tick's contact events in the order `step_tick` gives them.
  std::uint64_t finish(std::span<const RegionReport> reports, std::vector<ContactEvent>& events);
};

/// Why a ledger read from outside (a checkpoint) cannot be run, or nothing:
/// its slot table, free list and count of live bodies must agree, its cuts
/// be finite and ascending, its settings sane.
std::optional<const char*> check_ledger(const Ledger& ledger);

/// The ledger of a whole world cut by `layout` (the coordinator's part of
/// `partition`: it holds no bodies).
Ledger make_ledger(const World& world, const Layout& layout);

/// The bodies of `world` whose centres lie in cell `region` of `layout`, id
/// order (a region's part of `partition`).
std::vector<WholeBody> bodies_in(const World& world, const Layout& layout, std::uint32_t region);

/// How a world run as regions is cut at its start, from its arena.
using Cutter = std::function<Layout(const Arena&)>;

/// The ledger of a scenario's starting world and its world hash, streamed:
/// no body is held (sim/scenario.hpp, stream_scenario). `adjust` may change
/// the settings first (logic's fountain override).
Ledger scenario_ledger(const ScenarioSpec& spec, const std::function<void(WorldSettings&)>& adjust,
                       const Cutter& cut, std::uint64_t& hash);

/// Region `region`'s bodies of a scenario's starting world, streamed: only
/// they are held.
std::vector<WholeBody> scenario_part(const ScenarioSpec& spec, const Cutter& cut, std::uint32_t region);

/// Splits a whole world: the ledger and one region per cell of `layout`.
void partition(const World& world, const Layout& layout, Ledger& ledger,
               std::vector<Region>& regions);

/// Puts a partitioned world back together (for readers, checkpoints, tests).
World assemble(const Ledger& ledger, std::span<const Region> regions);

/// What a region publishes of a tick: its bodies (id order) as a world with
/// the plan's settings and the tick, and a slot table that names them (the
/// other slots free), so it is a valid World wherever it goes.
World part_world(const WorldSettings& settings, std::uint64_t tick, const BodyList& bodies);

/// What the coordinator publishes of a partitioned world: the settings, the
/// tick and the generator, no bodies and no slot table (the parts bring them).
World header_world(const Ledger& ledger);

/// The whole world from the coordinator's header and every region's part
/// (readers): the parts' bodies merged in id order, and a slot table that
/// names them. The generations of free slots are not known to readers (0).
World assemble_parts(const World& header, std::span<const World* const> parts);

} // namespace troupe::sim
