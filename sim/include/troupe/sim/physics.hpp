#pragma once
/// \file The physics step: a pure function World -> World plus contact events.
///
/// Method: sub-stepped position-based dynamics ("small steps", Macklin et al.
/// 2019). Per substep: integrate gravity, predict positions, resolve sphere-sphere
/// and sphere-wall penetration with Jacobi iterations (each body gathers the
/// corrections of its own contacts, so bodies are independent and the result does
/// not depend on the thread count), derive velocities, then apply restitution and
/// friction at the velocity level. Broadphase: a uniform grid rebuilt every step
/// with a margin, turned into per-body neighbour lists.
///
/// Threads: `step` runs on the calling thread and fans out through `Parallel`.

#include <troupe/sim/parallel.hpp>
#include <troupe/sim/world.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace troupe::sim {

/// Tunables of the step (config: [actors.physics] parameters).
struct PhysicsSettings {
  std::uint32_t substeps = 4;         ///< substeps per tick
  std::uint32_t iterations = 2;       ///< Jacobi position iterations per substep
  float relaxation = 1.f;             ///< scales averaged corrections (SOR factor)
  float friction = 0.3f;              ///< Coulomb-like tangential velocity damping
  float linear_damping = 0.01f;       ///< per second
  float contact_event_speed = 0.5f;   ///< min approach speed (m/s) that emits an event
};

/// One impact, reported at most once per body pair (or body and wall) per tick.
struct ContactEvent {
  BodyId a;              ///< first body (the one with the lower dense index)
  BodyId b;              ///< second body, or invalid for the arena
  Vec3 point;            ///< world-space contact point
  Vec3 normal;           ///< unit normal from b (or the wall) to a
  float impulse = 0.f;   ///< normal impulse magnitude (N*s) of the impact
  float approach_speed = 0.f; ///< relative normal speed before the impact (m/s)
  float radius = 0.f;         ///< body a's radius and restitution: what a listener
  float restitution = 0.f;    ///< needs of it, even when a leaves the arena this tick
};

/// Counters of one step, for reports and tests.
struct StepStats {
  std::uint64_t pairs_tested = 0;  ///< broadphase neighbour pairs
  std::uint64_t contacts = 0;      ///< touching pairs in the last substep
};

/// The passes of a step over the bodies, each reading its neighbours' results
/// of the one before: per substep, the position iterations and the velocity
/// pass. A body's result can reach at most one candidate pair further per pass.
inline std::uint32_t passes_per_step(const PhysicsSettings& settings) {
  return (settings.substeps > 0 ? settings.substeps : 1) * ((settings.iterations > 0 ? settings.iterations : 1) + 1);
}

/// Advances `world` by one tick of physics (world.dt) in place; ticks advance
/// whatever `world.paused` says, but paused worlds do not move. Appends impacts
/// to `events` in a deterministic order (by body dense index, then neighbour).
///
/// `last_pass`, when given, holds per body (dense order) the last pass (1 to
/// passes_per_step) whose result of it is wanted: in later passes it leaves
/// its contacts out, and its own result is then meaningless. A region gives it
/// for ghosts far from its cell, whose later passes reach no body it owns;
/// every other body's result is the same bits as without it.
StepStats step(World& world, const PhysicsSettings& settings, const Parallel& parallel,
               std::vector<ContactEvent>& events, std::span<const std::uint16_t> last_pass = {});

/// How far `body`'s candidate pairs reach in a step of `dt` under gravity
/// of magnitude `gravity`: its radius plus its broadphase margin. Two bodies
/// are a candidate pair when their centres are closer than the sum.
float candidate_reach(const Body& body, float dt, float gravity);

/// Counts of candidate pairs (as `step` would find them in this world: the
/// same test) from a set of starts: for each body, the least start[s] +
/// pairs(body, s) over the bodies s, through bodies whose start is not 0
/// (a start of 0 ends a path), counted up to `most` (`most + 1` beyond it,
/// and for a start above `most`).
std::vector<std::uint16_t> pair_hops(const World& world, std::span<const std::uint16_t> start, std::uint16_t most);

/// For each body of `world`, the fewest candidate pairs of the step (pairs
/// as `step` would find them in this world: the same test) that link it to a
/// body marked in `own` (one flag per body), through bodies not marked: 0 for
/// a marked body, `most + 1` for one farther than `most` pairs or linked to
/// none. A body `h` pairs away is read by a marked one only from pass h + 1
/// of the step on, so it needs its contacts in the first
/// passes_per_step - h passes alone (`last_pass`), and a body more than
/// passes_per_step pairs away does not change a marked body's result at all:
/// what a region uses to step only the ghosts that can reach its own bodies.
std::vector<std::uint16_t> hops_to_own(const World& world, std::span<const std::uint8_t> own,
                                       std::uint16_t most);

/// Kinetic energy of all bodies (J), used by stability tests and reports.
double kinetic_energy(const World& world);

} // namespace troupe::sim
