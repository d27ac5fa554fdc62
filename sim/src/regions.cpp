// A partitioned world (see regions.hpp): layout, the coordinator's ledger, and
// what a region does in a tick.
#include <troupe/sim/regions.hpp>

#include "world_internal.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace troupe::sim {

namespace {

template <class... Fs> struct Overloaded : Fs... { using Fs::operator()...; };
template <class... Fs> Overloaded(Fs...) -> Overloaded<Fs...>;

bool by_id(const WholeBody& a, const WholeBody& b) { return a.info.id.index < b.info.id.index; }

std::uint32_t cell_on_axis(const std::vector<float>& cuts, float v) {
  // Cuts at or below v; a NaN compares false with every cut, so it sits above them.
  return static_cast<std::uint32_t>(std::upper_bound(cuts.begin(), cuts.end(), v) - cuts.begin());
}

/// Cuts for `cells` cells along one axis from the bodies per slice of
/// [lo, hi]: each cell gets about as many. Empty when there is nothing to go by.
std::vector<float> balanced_cuts(std::span<const std::uint32_t> bins, float lo, float hi, std::size_t cells) {
  std::uint64_t total = 0;
  for (const std::uint32_t n : bins)
    total += n;
  if (total == 0 || cells < 2 || !(lo < hi))
    return {};
  std::vector<float> cuts;
  const double width = (static_cast<double>(hi) - lo) / static_cast<double>(bins.size());
  std::uint64_t below = 0;
  std::size_t bin = 0;
  for (std::size_t k = 1; k < cells; ++k) {
    // The first slice edge with at least k/cells of the bodies below it.
    const std::uint64_t want = (total * k + cells - 1) / cells;
    while (bin < bins.size() && below < want)
      below += bins[bin++];
    float cut = static_cast<float>(lo + width * static_cast<double>(bin));
    if (!cuts.empty() && !(cuts.back() < cut))
      cut = std::nextafter(cuts.back(), std::numeric_limits<float>::infinity());
    cuts.push_back(cut);
  }
  return cuts;
}

/// Cuts an axis may take: as many as it has, finite, ascending.
bool fits(const std::vector<float>& cuts, const std::vector<float>& now) {
  if (cuts.size() != now.size())
    return false;
  for (std::size_t k = 0; k < cuts.size(); ++k)
    if (!std::isfinite(cuts[k]) || (k > 0 && !(cuts[k - 1] < cuts[k])))
      return false;
  return true;
}

/// A body's speed as the step's margin sees it: 0 for a static one, +inf for
/// one not finite.
float margin_speed(const Body& body) {
  if (!(body.inv_mass > 0.f))
    return 0.f;
  const float s = length(body.velocity);
  return std::isfinite(s) ? s : std::numeric_limits<float>::infinity();
}

/// |v|, +inf when not finite (a bound must never come out low).
float speed_bound(Vec3 v) {
  const float s = length(v);
  return std::isfinite(s) ? s : std::numeric_limits<float>::infinity();
}

bool live(const Ledger& ledger, BodyId id) {
  return id.index < ledger.slots.size() && ledger.slots[id.index].generation == id.generation &&
         ledger.slots[id.index].dense != ~0u;
}

} // namespace

// ---- layout -------------------------------------------------------------------

std::uint32_t Layout::regions() const {
  std::uint32_t n = 1;
  for (const auto& c : cuts)
    n *= static_cast<std::uint32_t>(c.size() + 1);
  return n;
}

std::uint32_t Layout::region_of(Vec3 p) const {
  const std::uint32_t x = cell_on_axis(cuts[0], p.x), y = cell_on_axis(cuts[1], p.y),
                      z = cell_on_axis(cuts[2], p.z);
  const auto nx = static_cast<std::uint32_t>(cuts[0].size() + 1);
  const auto ny = static_cast<std::uint32_t>(cuts[1].size() + 1);
  return (z * ny + y) * nx + x;
}

double Layout::distance(Vec3 p, std::uint32_t region) const { return box(region).distance(p); }

Layout::Box Layout::box(std::uint32_t region) const {
  Box box;
  std::uint32_t rest = region;
  for (int a = 0; a < 3; ++a) {
    const auto n = static_cast<std::uint32_t>(cuts[a].size() + 1);
    const std::uint32_t k = rest % n;
    rest /= n;
    constexpr double inf = std::numeric_limits<double>::infinity();
    box.lo[a] = k == 0 ? -inf : cuts[a][k - 1];
    box.hi[a] = k + 1 == n ? inf : cuts[a][k];
    box.top[a] = k + 1 == n;
  }
  return box;
}

bool Layout::Box::contains(Vec3 p) const {
  // As cell_on_axis counts cuts: lo <= v < hi, NaN and +inf in the top cell.
  const float v[3] = {p.x, p.y, p.z};
  for (int a = 0; a < 3; ++a)
    if (v[a] < lo[a] || !(top[a] || v[a] < hi[a]))
      return false;
  return true;
}

double Layout::Box::distance(Vec3 p) const {
  const float v[3] = {p.x, p.y, p.z};
  double d2 = 0.0;
  for (int a = 0; a < 3; ++a) {
    const double x = v[a];
    const double d = std::max({lo[a] - x, x - hi[a], 0.0});
    d2 += d * d;
  }
  return std::sqrt(d2); // NaN for a NaN coordinate: never "near"
}

Layout Layout::even(const Arena& arena, std::array<std::uint32_t, 3> cells) {
  Layout layout;
  const float lo[3] = {arena.min.x, arena.min.y, arena.min.z};
  const float hi[3] = {arena.max.x, arena.max.y, arena.max.z};
  for (int a = 0; a < 3; ++a)
    for (std::uint32_t k = 1; k < std::max(1u, cells[a]); ++k)
      layout.cuts[a].push_back(lo[a] + (hi[a] - lo[a]) * static_cast<float>(k) /
                                         static_cast<float>(cells[a]));
  return layout;
}

float halo_width(const PhysicsSettings& settings, const WorldSettings& world, float max_radius, float max_speed) {
  // Every pass of the step (substeps x (position iterations + the velocity
  // pass)) reads the neighbours' results of the pass before, so news travels
  // one candidate pair per pass: at most 2 (1.02 R + the largest margin's
  // motion part) apart, which is at most 4.04 R.
  const std::uint32_t passes = passes_per_step(settings);
  const double r = max_radius > 0.f ? max_radius : 0.0;
  const double dt = world.dt;
  const double motion = static_cast<double>(max_speed) * dt + static_cast<double>(length(world.gravity)) * dt * dt;
  const double reach = 1.02 * r + (motion < r ? motion : r); // NaN motion -> r
  return static_cast<float>(static_cast<double>(passes) * 2.0 * reach * 1.001 + 1e-3);
}


// ---- region -------------------------------------------------------------------

Region::Region(std::uint32_t index, std::vector<WholeBody> held) : index_(index) {
  std::sort(held.begin(), held.end(), by_id);
  held_.bodies.reserve(held.size());
  held_.infos.reserve(held.size());
  for (const WholeBody& w : held) {
    held_.bodies.push_back(w.body);
    held_.infos.push_back(w.info);
  }
}

void Region::begin(const TickPlan& plan) {
  plan_ = plan;
  spawned_.clear();
  shakes_.clear();
  touched_.clear();
  for (std::size_t i = 0; i < plan_.ops.size(); ++i)
    std::visit(Overloaded{
                 [&](const SpawnOp& o) {
                   if (plan_.layout.region_of(o.spawned.body.position) == index_)
                     spawned_.emplace_back(o.spawned, i);
                 },
                 [&](const ImpulseOp& o) { touched_.emplace_back(o.body.index, i); },
                 [&](const ShakeOp&) { shakes_.push_back(i); },
                 [&](const RemoveOp& o) { touched_.emplace_back(o.body.index, i); },
               },
               plan_.ops[i]);
  std::stable_sort(spawned_.begin(), spawned_.end(),
                   [](const auto& a, const auto& b) { return by_id(a.first, b.first); });
  std::sort(touched_.begin(), touched_.end());
}

bool Region::planned(WholeBody& w, std::size_t from) const {
  if (shakes_.empty() && touched_.empty())
    return true;
  // This body's operations and the shakes, merged in the plan's order.
  auto t = std::lower_bound(touched_.begin(), touched_.end(), std::pair{w.info.id.index, from});
  const auto t_end = std::upper_bound(touched_.begin(), touched_.end(),
                                      std::pair{w.info.id.index, std::numeric_limits<std::size_t>::max()});
  auto sh = std::lower_bound(shakes_.begin(), shakes_.end(), from);
  while (sh != shakes_.end() || t != t_end) {
    const bool shake = t == t_end || (sh != shakes_.end() && *sh < t->second);
    const std::size_t i = shake ? *sh++ : (t++)->second;
    const bool removed = std::visit(Overloaded{
                                      [&](const ShakeOp& o) {
                                        if (w.body.inv_mass > 0.f)
                                          w.body.velocity += o.dv;
                                        return false;
                                      },
                                      [&](const ImpulseOp& o) {
                                        if (o.body == w.info.id && w.body.inv_mass > 0.f)
                                          w.body.velocity += o.dv;
                                        return false;
                                      },
                                      [&](const RemoveOp& o) { return o.body == w.info.id; },
                                      [&](const SpawnOp&) { return false; },
                                    },
                                    plan_.ops[i]);
    if (removed)
      return false;
  }
  return true;
}

template <class F> void Region::for_each_planned(F&& f) const {
  if (spawned_.empty() && shakes_.empty() && touched_.empty()) {
    for (std::size_t k = 0; k < held_.size(); ++k) // the plan changes no body here: read them as they lie
      f(held_.bodies[k], held_.infos[k]);
    return;
  }
  // Held bodies and spawns merged by id (a spawn after a held body of its
  // index: that one was removed first); a spawn undergoes the operations
  // after its own.
  std::size_t s = 0;
  auto spawns_before = [&](std::uint64_t index) {
    for (; s < spawned_.size() && spawned_[s].first.info.id.index < index; ++s) {
      WholeBody w = spawned_[s].first;
      if (planned(w, spawned_[s].second + 1))
        f(std::as_const(w.body), std::as_const(w.info));
    }
  };
  for (std::size_t k = 0; k < held_.size(); ++k) {
    WholeBody w = held_[k];
    spawns_before(w.info.id.index);
    if (planned(w, 0))
      f(std::as_const(w.body), std::as_const(w.info));
  }
  spawns_before(std::uint64_t{1} << 32); // the rest
}

namespace {
/// Whether a body at `p` goes in a parcel for `cell`: within the halo of it,
/// or in it (a NaN position is far from every cell but lies in one).
bool in_parcel(const Layout::Box& cell, Vec3 p, float halo) {
  return cell.distance(p) <= halo || cell.contains(p);
}
} // namespace

Parcel Region::parcel_for(std::uint32_t to) const {
  Parcel parcel{index_, {}};
  const Layout::Box cell = plan_.layout.box(to);
  for_each_planned([&](const Body& body, const BodyInfo& info) {
    if (in_parcel(cell, body.position, plan_.halo))
      parcel.bodies.push_back({body, info});
  });
  const std::uint32_t passes = plan_.passes;
  if (!std::isfinite(plan_.max_move) || !plan_.rules.path.empty() || passes == 0 ||
      passes >= std::numeric_limits<std::uint16_t>::max() || parcel.bodies.empty())
    return parcel; // no bound on where the others' bodies are, or on speeds: the whole halo
  // Which of these can a chain of at most `passes` candidate pairs link to a
  // body in `to`'s cell? Such a chain runs through bodies held here, then
  // (if it leaves them) through a body held elsewhere, which lies outside
  // this region's cell or at most max_move inside it (it was in another cell
  // when the last tick began). A body held here starts: at 0 in `to`'s
  // cell; where no body held elsewhere can pair with it, nowhere; else at
  // 1 + the pairs a chain needs from there by distance alone, each pair
  // spanning less than twice the largest reach. pair_hops counts on through
  // the pairs among the bodies held here. Those beyond `passes` stay home.
  const Layout::Box mine = plan_.layout.box(index_);
  const double reach_max = static_cast<double>(plan_.halo) / (2.0 * passes); // >= every reach (halo_width)
  const double slack = 1e-4; // metres: float rounding of reaches and distances, and more
  const float gravity = length(plan_.settings.gravity);
  World band;
  static_cast<WorldSettings&>(band) = plan_.settings;
  band.bodies.reserve(parcel.bodies.size());
  std::vector<std::uint16_t> start;
  start.reserve(parcel.bodies.size());
  const auto never = std::numeric_limits<std::uint16_t>::max();
  for (const WholeBody& w : parcel.bodies) {
    band.bodies.push_back(w.body);
    const Vec3 p = w.body.position;
    if (cell.contains(p)) {
      start.push_back(0);
      continue;
    }
    const double reach = static_cast<double>(candidate_reach(w.body, plan_.settings.dt, gravity)) + reach_max + slack;
    if (!(reach < std::numeric_limits<double>::infinity()) || !is_finite(p)) {
      start.push_back(1); // no bound: as near as can be
      continue;
    }
    // Depth inside this region's cell: distance to the nearest face (0 outside).
    double depth = 0.0;
    if (mine.contains(p)) {
      const double v[3] = {p.x, p.y, p.z};
      depth = std::numeric_limits<double>::infinity();
      for (int a = 0; a < 3; ++a)
        depth = std::min({depth, v[a] - mine.lo[a], mine.hi[a] - v[a]});
    }
    if (depth - static_cast<double>(plan_.max_move) >= reach) {
      start.push_back(never); // every body it can pair with is held here
      continue;
    }
    const double rest = std::max(0.0, cell.distance(p) - reach) / (2.0 * reach_max);
    const double hops = 1.0 + std::ceil(rest);
    start.push_back(hops <= passes ? static_cast<std::uint16_t>(hops) : never);
  }
  const std::vector<std::uint16_t> hops = pair_hops(band, start, static_cast<std::uint16_t>(passes));
  std::size_t kept = 0;
  for (std::size_t k = 0; k < parcel.bodies.size(); ++k)
    if (hops[k] <= passes)
      parcel.bodies[kept++] = parcel.bodies[k];
  parcel.bodies.resize(kept);
  return parcel;
}

Expected<RegionReport> Region::step(std::span<const Parcel> parcels, const PhysicsSettings& settings,
                                    const Parallel& parallel, const RulesStep* rules) {
  const Layout::Box cell = plan_.layout.box(index_);
  RegionReport report;
  report.region = index_;
  // The working set: the bodies it holds (the plan applied) within its halo
  // and what it was sent, merged in id order (each list is in id order
  // already) straight into the world it steps; the bodies whose centres are
  // in its cell are its own. What it holds stays as it was until the end.
  std::vector<std::vector<WholeBody>> unsorted; // a parcel out of order (not troupe's): sorted here
  std::vector<std::span<const WholeBody>> lists;
  std::size_t total = held_.size() + spawned_.size();
  for (const Parcel& p : parcels) {
    total += p.bodies.size();
    if (std::is_sorted(p.bodies.begin(), p.bodies.end(), by_id)) {
      lists.emplace_back(p.bodies);
    } else {
      unsorted.emplace_back(p.bodies.begin(), p.bodies.end());
      std::sort(unsorted.back().begin(), unsorted.back().end(), by_id);
      lists.emplace_back(unsorted.back());
    }
    for (const WholeBody& w : p.bodies)
      report.arrived += cell.contains(w.body.position) ? 1 : 0;
  }
  // The world is built in the storage of the tick before last (the region
  // keeps two, what it holds and what it steps into), so ticks allocate
  // nothing once the region's size settles.
  World world;
  static_cast<WorldSettings&>(world) = plan_.settings;
  world.tick = plan_.tick;
  world.bodies = std::move(stepped_.bodies);
  world.infos = std::move(stepped_.infos);
  world.bodies.clear();
  world.infos.clear();
  detail::reserve_with_headroom(world.bodies, total);
  detail::reserve_with_headroom(world.infos, total);
  std::vector<std::uint8_t> owned;
  owned.reserve(total);
  auto add = [&](const Body& body, const BodyInfo& info, bool own) {
    world.bodies.push_back(body);
    world.infos.push_back(info);
    owned.push_back(own ? 1 : 0);
  };
  // A k-way merge of the parcels (a few): the next body is the lowest id at
  // the head of a list, the first list on a tie; its own bodies go in
  // between (before a parcel's of the same id). `head` is the lowest id at a
  // head (2^32 when every list is done).
  std::vector<std::size_t> taken(lists.size(), 0);
  std::uint64_t head = 0;
  auto received_before = [&](std::uint64_t index) {
    while (head < index) {
      std::size_t best = lists.size();
      std::uint64_t lowest = std::uint64_t{1} << 32;
      for (std::size_t l = 0; l < lists.size(); ++l)
        if (taken[l] < lists[l].size() && lists[l][taken[l]].info.id.index < lowest) {
          best = l;
          lowest = lists[l][taken[l]].info.id.index;
        }
      head = lowest;
      if (best == lists.size() || lowest >= index)
        return;
      const WholeBody& w = lists[best][taken[best]++];
      add(w.body, w.info, cell.contains(w.body.position));
      head = 0; // look again
    }
  };
  auto keep = [&](const Body& body, const BodyInfo& info) {
    const bool own = cell.contains(body.position);
    if (!own && !(cell.distance(body.position) <= plan_.halo))
      return; // not its own (it moved out, or a rebalance moved the cut), and beyond its halo
    received_before(info.id.index);
    add(body, info, own);
  };
  for_each_planned(keep);
  received_before(std::uint64_t{1} << 32); // the rest
  unsorted.clear();

  // Where its own bodies start, before the rules (which may move one too):
  // how far one moves in the tick is a bound the next plan carries
  // (TickPlan::max_move).
  std::vector<Vec3> started;
  started.reserve(world.size());
  for (std::size_t k = 0; k < world.size(); ++k)
    started.push_back(owned[k] ? world.bodies[k].position : Vec3{});
  // Body rules read each body alone, so a ghost comes out as its owner's copy.
  if (rules && *rules)
    if (auto ruled = (*rules)(world); !ruled) {
      stepped_.bodies = std::move(world.bodies); // kept for the tick run again
      stepped_.infos = std::move(world.infos);
      stepped_.bodies.clear();
      stepped_.infos.clear();
      return ruled.error();
    }
  // The ghosts it steps, and for how many passes: the halo bounds how far a
  // chain of candidate pairs can reach in the worst case; the pairs as they
  // are (hops_to_own, after the rules: they change speeds, so margins) say
  // which ghosts really link to a body it owns within the passes of the step,
  // and how many pairs away. One h pairs away takes its contacts in the first
  // passes - h passes (what it computes later reaches none of its own within
  // the tick); one farther is left out (in a pile of columns, most are).
  const std::uint32_t passes = passes_per_step(settings);
  std::vector<std::uint16_t> last_pass;
  if (passes < std::numeric_limits<std::uint16_t>::max()) {
    const std::vector<std::uint16_t> hops = hops_to_own(world, owned, static_cast<std::uint16_t>(passes));
    last_pass.reserve(world.size());
    std::size_t kept = 0;
    for (std::size_t k = 0; k < world.size(); ++k) {
      if (hops[k] > passes)
        continue;
      world.bodies[kept] = world.bodies[k];
      world.infos[kept] = world.infos[k];
      owned[kept] = owned[k];
      started[kept] = started[k];
      last_pass.push_back(static_cast<std::uint16_t>(passes - hops[k]));
      ++kept;
    }
    world.bodies.resize(kept);
    world.infos.resize(kept);
    owned.resize(kept);
  }
  std::vector<ContactEvent> events;
  report.stats = sim::step(world, settings, parallel, events, last_pass);
  report.tick = world.tick;
  // Impacts are reported by the owner of their first body: exactly once.
  for (const ContactEvent& e : events) {
    const auto at = std::partition_point(world.infos.begin(), world.infos.end(),
                                         [&](const BodyInfo& i) { return i.id.index < e.a.index; });
    if (owned[static_cast<std::size_t>(at - world.infos.begin())])
      report.events.push_back(e);
  }
  // Its own bodies that stay in the arena, kept where they lie in the world
  // (moved down over ghosts and the removed): what it holds once committed.
  std::size_t kept = 0;
  for (std::size_t k = 0; k < world.bodies.size(); ++k) {
    if (!owned[k]) {
      ++report.ghosts;
      continue;
    }
    report.max_move = std::max(report.max_move, speed_bound(world.bodies[k].position - started[k]));
    if (detail::left_arena(world.arena, world.bodies[k])) {
      report.removed.push_back(world.infos[k].id);
      continue;
    }
    world.bodies[kept] = world.bodies[k];
    world.infos[kept] = world.infos[k];
    report.hash_part += body_hash(world.bodies[k], world.infos[k]);
    report.max_radius = std::max(report.max_radius, world.bodies[k].radius);
    report.max_speed = std::max(report.max_speed, margin_speed(world.bodies[k]));
    ++kept;
  }
  world.bodies.resize(kept);
  world.infos.resize(kept);
  stepped_.bodies = std::move(world.bodies);
  stepped_.infos = std::move(world.infos);
  report.owned = stepped_.size();
  if (plan_.survey != 0) {
    // Where its bodies lie now, slice by slice of the arena (a rebalance's input).
    report.survey.assign(3 * survey_bins, 0);
    const Arena& arena = plan_.settings.arena;
    const float lo[3] = {arena.min.x, arena.min.y, arena.min.z};
    const float hi[3] = {arena.max.x, arena.max.y, arena.max.z};
    for (const Body& body : stepped_.bodies) {
      const float at[3] = {body.position.x, body.position.y, body.position.z};
      for (int a = 0; a < 3; ++a) {
        if ((plan_.survey & (1u << a)) == 0 || !std::isfinite(at[a]) || !(lo[a] < hi[a]))
          continue;
        const double slice = (static_cast<double>(at[a]) - lo[a]) / (static_cast<double>(hi[a]) - lo[a]) * survey_bins;
        const auto bin = static_cast<std::uint32_t>(std::clamp(slice, 0.0, static_cast<double>(survey_bins - 1)));
        ++report.survey[static_cast<std::size_t>(a) * survey_bins + bin];
      }
    }
  }
  return report;
}

void Region::commit() {
  std::swap(held_, stepped_);
  stepped_.bodies.clear(); // kept for the next tick's world
  stepped_.infos.clear();
  spawned_.clear();
  shakes_.clear();
  touched_.clear();
}

// ---- ledger -------------------------------------------------------------------

TickPlan Ledger::plan(std::span<Command> commands, const PhysicsSettings& physics, RulesRef rules,
                      float rules_speedup) {
  TickPlan plan;
  plan.rules = std::move(rules);
  sort_canonical(commands);
  float fastest = max_speed; // a bound on any body's speed at the start of the step
  float pushed = 0.f;
  // Cuts decided earlier (by a survey) take effect at their tick.
  std::erase_if(pending_cuts, [&](const PendingCuts& p) {
    if (p.tick > tick)
      return false;
    if (p.axis < 3 && fits(p.cuts, layout.cuts[p.axis]))
      layout.cuts[p.axis] = p.cuts;
    return true;
  });
  surveying = 0;
  survey_applies = tick + 1;
  auto add_body = [&](const BodySpec& spec) {
    const BodyId id = detail::take_slot(slots, free_slots);
    slots[id.index].dense = 0; // live
    ++alive;
    max_radius = std::max(max_radius, spec.radius);
    const Body body = detail::make_body(spec);
    fastest = std::max(fastest, margin_speed(body));
    plan.ops.push_back(SpawnOp{{body, BodyInfo{id, spec.restitution, spec.color, spec.user_data}}});
  };
  // The same decisions `apply` makes on a whole world (rules.cpp), in the same order.
  for (const Command& command : commands)
    std::visit(Overloaded{
                 [&](const SpawnBody& a) {
                   if (detail::valid_spec(a.spec))
                     add_body(a.spec);
                 },
                 [&](const ApplyImpulse& a) {
                   if (live(*this, a.body) && is_finite(a.dv)) {
                     plan.ops.push_back(ImpulseOp{a.body, a.dv});
                     pushed += speed_bound(a.dv);
                   }
                 },
                 [&](const Shake& a) {
                   if (is_finite(a.dv)) {
                     plan.ops.push_back(ShakeOp{a.dv});
                     pushed += speed_bound(a.dv);
                   }
                 },
                 [&](const RemoveBody& a) {
                   if (!live(*this, a.body))
                     return;
                   detail::release_slot(slots, free_slots, a.body.index);
                   --alive;
                   plan.ops.push_back(RemoveOp{a.body});
                 },
                 [&](const SetPaused& a) { settings.paused = a.paused; },
                 [&](const SetGravity& a) {
                   if (is_finite(a.gravity))
                     settings.gravity = a.gravity;
                 },
                 [&](const SetFountain& a) { detail::set_fountain(settings, a.fountain); },
                 [&](const LoadRules&) {},
                 [&](const Rebalance& a) {
                   if (a.axis >= 3 || layout.cuts[a.axis].empty())
                     return; // an axis without cuts has nothing to move
                   if (a.cuts.empty())
                     surveying |= static_cast<std::uint8_t>(1u << a.axis); // cuts from where the bodies are
                   else if (fits(a.cuts, layout.cuts[a.axis]))
                     layout.cuts[a.axis] = a.cuts;
                 },
               },
               command.action);
  if (auto spec = detail::fountain_spawn(settings, tick, alive, rng_state))
    add_body(*spec);
  if (rebalance_every > 0 && tick > 0 && tick % rebalance_every == 0) {
    for (std::uint8_t a = 0; a < 3; ++a)
      if (!layout.cuts[a].empty())
        surveying |= static_cast<std::uint8_t>(1u << a);
    if (surveying != 0)
      survey_applies = tick + std::max(rebalance_after, 1u);
  }
  plan.tick = tick;
  plan.settings = settings;
  plan.layout = layout;
  // No body is faster at the start of the step than the fastest after the
  // last tick or spawned now, plus every push of this tick.
  // The body rules speed a body up after all of that, by at most their bound.
  const float before_step = plan.rules.path.empty()
                              ? fastest + pushed
                              : static_cast<float>((static_cast<double>(fastest) + pushed + rules_speedup) *
                                                   (1 + 2 * rules_speedup_slack));
  plan.halo = halo_width(physics, settings, max_radius, before_step);
  plan.passes = passes_per_step(physics);
  // The bodies held elsewhere lie near their holders' cells as the cuts were:
  // a bound only while the cuts stay.
  plan.max_move = last_planned == layout ? max_move : std::numeric_limits<float>::infinity();
  last_planned = layout;
  plan.survey = surveying;
  return plan;
}

std::uint64_t Ledger::finish(std::span<const RegionReport> reports, std::vector<ContactEvent>& events) {
  ++tick;
  // Freed in id order, as after_physics frees them in a whole world.
  std::vector<BodyId> removed;
  std::uint64_t sum = 0;
  float radius = 0.f;
  float speed = 0.f;
  float moved = 0.f;
  const std::size_t first_event = events.size();
  for (const RegionReport& r : reports) {
    removed.insert(removed.end(), r.removed.begin(), r.removed.end());
    events.insert(events.end(), r.events.begin(), r.events.end());
    sum += r.hash_part;
    radius = std::max(radius, r.max_radius);
    speed = std::max(speed, r.max_speed);
    moved = std::max(moved, std::isnan(r.max_move) ? std::numeric_limits<float>::infinity() : r.max_move);
  }
  std::sort(removed.begin(), removed.end(),
            [](BodyId a, BodyId b) { return a.index < b.index; });
  for (const BodyId id : removed)
    if (live(*this, id)) {
      detail::release_slot(slots, free_slots, id.index);
      --alive;
    }
  // A body's impacts all come from its owner, already in the whole world's order.
  std::stable_sort(events.begin() + static_cast<std::ptrdiff_t>(first_event), events.end(),
                   [](const ContactEvent& a, const ContactEvent& b) { return a.a.index < b.a.index; });
  max_radius = radius;
  max_speed = speed;
  max_move = moved;
  if (surveying != 0) {
    // Cuts from where the bodies are now, summed over the regions in any
    // order (counts add exactly), in effect from `survey_applies`.
    std::vector<std::uint32_t> bins(3 * survey_bins, 0);
    for (const RegionReport& r : reports)
      for (std::size_t k = 0; k < r.survey.size() && k < bins.size(); ++k)
        bins[k] += r.survey[k];
    const float lo[3] = {settings.arena.min.x, settings.arena.min.y, settings.arena.min.z};
    const float hi[3] = {settings.arena.max.x, settings.arena.max.y, settings.arena.max.z};
    for (std::uint8_t a = 0; a < 3; ++a) {
      if ((surveying & (1u << a)) == 0)
        continue;
      auto cuts = balanced_cuts(std::span(bins).subspan(std::size_t{a} * survey_bins, survey_bins), lo[a], hi[a],
                                layout.cuts[a].size() + 1);
      if (fits(cuts, layout.cuts[a]))
        pending_cuts.push_back({survey_applies, a, std::move(cuts)});
    }
    surveying = 0;
  }
  return header_hash(settings, tick, rng_state, alive) ^ sum;
}

// ---- whole worlds ---------------------------------------------------------------

std::optional<const char*> check_ledger(const Ledger& ledger) {
  World settings; // the settings' own checks, on a world of none but them
  static_cast<WorldSettings&>(settings) = ledger.settings;
  if (auto broken = check_invariants(settings))
    return broken;
  std::uint64_t live = 0;
  for (const Slot& slot : ledger.slots) {
    if (slot.dense == 0)
      ++live;
    else if (slot.dense != ~0u)
      return "a slot is neither live nor free";
  }
  if (live != ledger.alive)
    return "the live slots are not the bodies alive";
  if (live + ledger.free_slots.size() != ledger.slots.size())
    return "the free list does not hold exactly the free slots";
  std::vector<std::uint8_t> seen(ledger.slots.size(), 0);
  for (const std::uint32_t index : ledger.free_slots) {
    if (index >= ledger.slots.size() || ledger.slots[index].dense != ~0u || seen[index] != 0)
      return "the free list names a live, missing or repeated slot";
    seen[index] = 1;
  }
  if (!std::isfinite(ledger.max_radius) || ledger.max_radius < 0.f)
    return "the largest radius is not a finite number >= 0";
  if (!(ledger.max_speed >= 0.f))
    return "the largest speed is not a number >= 0";
  for (const auto& cuts : ledger.layout.cuts) {
    if (cuts.size() > 1024)
      return "more than 1024 cuts on an axis";
    for (std::size_t k = 0; k < cuts.size(); ++k)
      if (!std::isfinite(cuts[k]) || (k > 0 && !(cuts[k - 1] < cuts[k])))
        return "the cuts of an axis are not finite and ascending";
  }
  for (const auto& pending : ledger.pending_cuts)
    if (pending.axis >= 3 || !fits(pending.cuts, ledger.layout.cuts[pending.axis]))
      return "cuts waiting to take effect do not fit their axis";
  if (ledger.surveying > 7)
    return "a survey of an axis that does not exist";
  return std::nullopt;
}

Ledger make_ledger(const World& world, const Layout& layout) {
  Ledger ledger;
  ledger.settings = world;
  ledger.tick = world.tick;
  ledger.seed = world.seed;
  ledger.rng_state = world.rng_state;
  ledger.slots = world.slots;
  for (Slot& slot : ledger.slots)
    slot.dense = slot.dense == ~0u ? ~0u : 0u;
  ledger.free_slots = world.free_slots;
  ledger.alive = world.size();
  ledger.layout = layout;
  for (const Body& body : world.bodies) {
    ledger.max_radius = std::max(ledger.max_radius, body.radius);
    ledger.max_speed = std::max(ledger.max_speed, margin_speed(body));
  }
  return ledger;
}

std::vector<WholeBody> bodies_in(const World& world, const Layout& layout, std::uint32_t region) {
  std::vector<WholeBody> out;
  for (std::size_t k = 0; k < world.size(); ++k)
    if (layout.region_of(world.bodies[k].position) == region)
      out.push_back({world.bodies[k], world.infos[k]});
  return out;
}

Ledger scenario_ledger(const ScenarioSpec& spec, const std::function<void(WorldSettings&)>& adjust,
                       const Cutter& cut, std::uint64_t& hash) {
  World header;
  Ledger ledger;
  std::uint64_t sum = 0;
  stream_scenario(spec, header, [&](const Body& body, const BodyInfo& info) {
    ++ledger.alive;
    ledger.max_radius = std::max(ledger.max_radius, body.radius);
    ledger.max_speed = std::max(ledger.max_speed, margin_speed(body));
    sum += body_hash(body, info);
  });
  if (adjust)
    adjust(header);
  ledger.settings = header;
  ledger.tick = header.tick;
  ledger.seed = header.seed;
  ledger.rng_state = header.rng_state;
  ledger.slots = std::move(header.slots);
  ledger.free_slots = std::move(header.free_slots);
  ledger.layout = cut(header.arena);
  hash = header_hash(ledger.settings, ledger.tick, ledger.rng_state, ledger.alive) ^ sum;
  return ledger;
}

std::vector<WholeBody> scenario_part(const ScenarioSpec& spec, const Cutter& cut, std::uint32_t region) {
  // The arena first (an emitter may set it at any point), then the bodies of its cell.
  World header;
  stream_scenario(spec, header, [](const Body&, const BodyInfo&) {});
  const Layout layout = cut(header.arena);
  std::vector<WholeBody> part;
  stream_scenario(spec, header, [&](const Body& body, const BodyInfo& info) {
    if (layout.region_of(body.position) == region)
      part.push_back({body, info});
  });
  std::sort(part.begin(), part.end(), by_id);
  return part;
}

void partition(const World& world, const Layout& layout, Ledger& ledger, std::vector<Region>& regions) {
  ledger = make_ledger(world, layout);
  std::vector<std::vector<WholeBody>> parts(layout.regions());
  for (std::size_t k = 0; k < world.size(); ++k)
    parts[layout.region_of(world.bodies[k].position)].push_back({world.bodies[k], world.infos[k]});
  regions.clear();
  for (std::uint32_t r = 0; r < parts.size(); ++r)
    regions.emplace_back(r, std::move(parts[r]));
}

World assemble(const Ledger& ledger, std::span<const Region> regions) {
  World world;
  static_cast<WorldSettings&>(world) = ledger.settings;
  world.tick = ledger.tick;
  world.seed = ledger.seed;
  world.rng_state = ledger.rng_state;
  std::vector<WholeBody> all;
  for (const Region& r : regions)
    for (std::size_t k = 0; k < r.held().size(); ++k)
      all.push_back(r.held()[k]);
  std::sort(all.begin(), all.end(), by_id);
  world.slots = ledger.slots;
  for (Slot& slot : world.slots)
    slot.dense = ~0u;
  for (std::size_t k = 0; k < all.size(); ++k) {
    world.bodies.push_back(all[k].body);
    world.infos.push_back(all[k].info);
    if (all[k].info.id.index < world.slots.size())
      world.slots[all[k].info.id.index].dense = static_cast<std::uint32_t>(k);
  }
  world.free_slots = ledger.free_slots;
  return world;
}

namespace {

/// A slot table naming `infos` (id order) at their dense places; the other
/// slots free, listed highest first (a free list pops its last entry).
void name_bodies(World& world) {
  std::uint32_t count = 0;
  for (const BodyInfo& info : world.infos)
    count = std::max(count, info.id.index + 1);
  world.slots.assign(count, Slot{});
  for (std::size_t k = 0; k < world.infos.size(); ++k)
    world.slots[world.infos[k].id.index] = {world.infos[k].id.generation, static_cast<std::uint32_t>(k)};
  world.free_slots.clear();
  for (std::uint32_t k = count; k-- > 0;)
    if (world.slots[k].dense == ~0u)
      world.free_slots.push_back(k);
}

} // namespace

World part_world(const WorldSettings& settings, std::uint64_t tick, const BodyList& bodies) {
  World world;
  static_cast<WorldSettings&>(world) = settings;
  world.tick = tick;
  world.bodies = bodies.bodies;
  world.infos = bodies.infos;
  name_bodies(world);
  return world;
}

World header_world(const Ledger& ledger) {
  World world;
  static_cast<WorldSettings&>(world) = ledger.settings;
  world.tick = ledger.tick;
  world.seed = ledger.seed;
  world.rng_state = ledger.rng_state;
  return world;
}

World assemble_parts(const World& header, std::span<const World* const> parts) {
  World world;
  static_cast<WorldSettings&>(world) = header;
  world.tick = header.tick;
  world.seed = header.seed;
  world.rng_state = header.rng_state;
  std::size_t total = 0;
  for (const World* part : parts)
    total += part->size();
  std::vector<std::pair<BodyInfo, Body>> all;
  all.reserve(total);
  for (const World* part : parts)
    for (std::size_t k = 0; k < part->size(); ++k)
      all.emplace_back(part->infos[k], part->bodies[k]);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first.id.index < b.first.id.index; });
  world.bodies.reserve(total);
  world.infos.reserve(total);
  for (const auto& [info, body] : all) {
    // Parts are disjoint; a body sent twice (a reader mixing generations) is kept once.
    if (!world.infos.empty() && world.infos.back().id.index == info.id.index)
      continue;
    world.infos.push_back(info);
    world.bodies.push_back(body);
  }
  name_bodies(world);
  return world;
}

} // namespace troupe::sim
