#pragma once
// Shared scenes and helpers for sim/ tests (header-only).

#include <troupe/sim/physics.hpp>
#include <troupe/sim/rules.hpp>
#include <troupe/sim/scenario.hpp>
#include <troupe/sim/world.hpp>

#include <bit>
#include <cstdint>
#include <vector>

namespace troupe::test {

/// True in builds where the step is slow (no optimisation, or sanitizers): tests
/// scale their tick counts down there so the suite stays quick.
#if !defined(NDEBUG) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool slow_build = true;
#else
inline constexpr bool slow_build = false;
#endif

/// Picks the full count in optimised builds and the reduced one elsewhere.
constexpr std::uint32_t scaled(std::uint32_t full, std::uint32_t reduced) {
  return slow_build ? reduced : full;
}

/// An empty world with the default arena (20 x 20 m floor, 20 m high walls).
inline sim::World empty_world() {
  return sim::make_scenario({"empty", 0, 1, 60.0});
}

/// A "pile" scene: `count` spheres in columns above the floor of a box.
inline sim::World pile(std::uint32_t count, std::uint64_t seed = 7) {
  return sim::make_scenario({"pile", count, seed, 60.0});
}

/// Bit-exact float equality (NaN payloads and -0 included).
inline bool same_bits(float a, float b) {
  return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

inline bool same_bits(sim::Vec3 a, sim::Vec3 b) {
  return same_bits(a.x, b.x) && same_bits(a.y, b.y) && same_bits(a.z, b.z);
}

/// Whether every body is inside the arena box (top open up to max.y).
inline bool all_inside(const sim::World& w) {
  for (const sim::Body& b : w.bodies) {
    const sim::Vec3 p = b.position;
    if (!sim::is_finite(p) || p.x < w.arena.min.x || p.x > w.arena.max.x ||
        p.z < w.arena.min.z || p.z > w.arena.max.z || p.y < w.arena.min.y + b.radius * 0.5f ||
        p.y > w.arena.max.y)
      return false;
  }
  return true;
}

} // namespace troupe::test
