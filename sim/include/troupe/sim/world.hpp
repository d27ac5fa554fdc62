#pragma once
/// \file The world: bodies in a static arena box. Plain data (so it copies,
/// serializes and hashes without friends) plus the few functions that keep its
/// invariants. Pure C++20: no threads, no IO.
///
/// Determinism: bodies are kept in id order, by slot index (`bodies[i]` and
/// `infos[i]` belong together); every loop over bodies in sim/ goes in that order,
/// and removal is a stable erase. Id order, unlike spawn order, is one that a
/// region holding a part of the world agrees on: a part is a subsequence of the
/// whole, and parts merge back into it by id.

#include <troupe/sim/vec3.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace troupe::sim {

/// A handle to a body: a slot index and the generation the slot had when the body
/// was spawned. A handle to a removed body never finds another body, even after
/// its slot is reused.
struct BodyId {
  std::uint32_t index = ~0u;
  std::uint32_t generation = 0;
  friend constexpr bool operator==(BodyId, BodyId) = default;
  /// True for a handle that could name a body (not the default "none").
  constexpr bool valid() const { return index != ~0u; }
};

/// The hot part of a body: what the physics step reads and writes every substep.
struct Body {
  Vec3 position;        // 12 B
  float radius = 0.5f;  //  4 B
  Vec3 velocity;        // 12 B
  float inv_mass = 1.f; //  4 B: 0 = static (never moved by contacts or gravity)
};
static_assert(sizeof(Body) == 32, "Body is the hot struct: keep it at 32 bytes");

/// The cold part of a body: identity, looks and the application's own data,
/// read by rules, render and readers.
struct BodyInfo {
  BodyId id;                         //  8 B
  float restitution = 0.3f;          //  4 B: 0 = no bounce, 1 = elastic
  std::uint32_t color = 0xffffffffu; //  4 B: 0xRRGGBBAA
  /// Use this to store application specific body data (a tag, an index into
  /// a table of your own). Never read by troupe; carried through snapshots,
  /// checkpoints and the wire, and part of the world hash.
  std::uint64_t user_data = 0;       //  8 B
};

/// One slot of the handle table.
struct Slot {
  std::uint32_t generation = 0;
  std::uint32_t dense = ~0u; ///< index into bodies/infos, ~0u when free
};

/// The static arena: an axis-aligned box with a floor and four walls; the top is
/// open. A body whose centre leaves the box is removed by the rules.
struct Arena {
  Vec3 min{-10.f, 0.f, -10.f};
  Vec3 max{10.f, 20.f, 10.f};
  friend constexpr bool operator==(const Arena&, const Arena&) = default;
};

/// Fountain rule settings: spawns one body every `every_ticks` ticks at `origin`
/// with a seeded random spread, until `max_bodies` are alive. `every_ticks == 0`
/// turns it off.
struct Fountain {
  Vec3 origin{0.f, 15.f, 0.f};
  Vec3 velocity{0.f, 2.f, 0.f};
  float spread = 2.f;
  float radius = 0.25f;
  std::uint32_t every_ticks = 0;
  std::uint32_t max_bodies = 0;
  friend constexpr bool operator==(const Fountain&, const Fountain&) = default;
};

/// What a world is set to, besides its bodies, tick and generator: readers on
/// other nodes receive these exactly.
struct WorldSettings {
  float dt = 1.f / 60.f;        ///< seconds per tick
  Vec3 gravity{0.f, -9.81f, 0.f};
  bool paused = false;          ///< when true, ticks advance but physics does not
  Arena arena;
  Fountain fountain;
};

/// Calls `f` on each field of the settings (float, Vec3, bool or uint32_t), in
/// one fixed order: the one list that codecs, hashes and comparisons walk, so a
/// new setting is added here and nowhere else.
template <class Settings, class F> void for_each_setting(Settings& s, F&& f) {
  f(s.dt);
  f(s.gravity);
  f(s.paused);
  f(s.arena.min);
  f(s.arena.max);
  f(s.fountain.origin);
  f(s.fountain.velocity);
  f(s.fountain.spread);
  f(s.fountain.radius);
  f(s.fountain.every_ticks);
  f(s.fountain.max_bodies);
}

/// Everything that is simulated. Copyable value; snapshots hold it behind
/// `shared_ptr<const World>`.
struct World : WorldSettings {
  std::uint64_t tick = 0;       ///< ticks completed
  std::uint64_t seed = 0;       ///< scenario seed (kept for reports)
  std::uint64_t rng_state = 0;  ///< splitmix64 state used by the rules
  std::vector<Body> bodies;     ///< hot data, id order
  std::vector<BodyInfo> infos;  ///< cold data, same order as bodies
  std::vector<Slot> slots;      ///< handle table
  std::vector<std::uint32_t> free_slots; ///< LIFO of free slot indices

  /// Number of live bodies.
  std::size_t size() const { return bodies.size(); }
};

/// What a new body looks like.
struct BodySpec {
  Vec3 position;
  Vec3 velocity;
  float radius = 0.5f;
  float density = 1000.f; ///< kg/m^3; 0 makes a static body
  float restitution = 0.3f;
  std::uint32_t color = 0xffffffffu;
  std::uint64_t user_data = 0; ///< see BodyInfo::user_data
};

/// Adds a body and returns its handle. Reuses the most recently freed slot; the
/// body takes its place in id order.
BodyId spawn(World& world, const BodySpec& spec);

/// Removes a body; returns false when the handle names no live body.
bool remove(World& world, BodyId id);

/// Dense index of a live body, or nothing for a stale or invalid handle.
std::optional<std::size_t> find(const World& world, BodyId id);

/// Checks the invariants: slot table and dense arrays agree, every value finite,
/// radii and inverse masses positive (or zero mass). Returns a description of the
/// first violation, or nothing.
std::optional<const char*> check_invariants(const World& world);

/// Next value of the world's deterministic generator (splitmix64).
std::uint64_t next_random(World& world);

/// Uniform float in [lo, hi) from the world's generator.
float random_float(World& world, float lo, float hi);

/// A 64-bit hash of everything that is simulated (tick, settings, generator,
/// every body with its id and user data, bit patterns of the floats). Equal
/// worlds hash equal on every platform with IEEE-754 floats. It is
/// `header_hash(...) ^ (sum of body_hash over the bodies)`, so the
/// owners of disjoint parts of a world can each sum their bodies and the sums
/// add up to the world's hash.
std::uint64_t world_hash(const World& world);

/// One body's term of the world hash.
std::uint64_t body_hash(const Body& body, const BodyInfo& info);

/// The world hash's term for everything but the bodies; `body_count` is the
/// whole world's.
std::uint64_t header_hash(const WorldSettings& settings, std::uint64_t tick,
                          std::uint64_t rng_state, std::size_t body_count);

} // namespace troupe::sim
