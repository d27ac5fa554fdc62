#pragma once
/// \file The contract between troupe and a rules plugin: a shared library that
/// exports one C symbol, `troupe_rules_v1`, returning a `RulesApi`. (The
/// symbol has kept its name since ABI 1, so a plugin built for another ABI is
/// told its version rather than that it is no plugin.)
///
/// The world crosses the boundary as C++ objects, so a plugin must be built
/// with the same compiler and the same sim/ headers as the host: `build_id`
/// says which (`TROUPE_RULES_BUILD_ID`, computed by CMake from both), and the
/// host refuses a plugin whose ABI version or build id differs from its own.
///
/// Rules run once per tick, after the tick's commands and the built-in rules,
/// before physics, and must be deterministic (no clocks, no global
/// randomness), or replays and restarts stop giving the same hash. A plugin
/// has one of two scopes:
///
/// - `world`: `step` gets the whole world and may change it in any way the
///   sim API allows (use `world.rng_state` for random draws). No actor holds
///   the whole world when physics runs as regions, so such a plugin is
///   refused there.
/// - `body`: `step_bodies` gets some of the world's bodies (id order) and
///   changes each from what it reads of that body alone, the settings and the
///   tick: never from another body, nor from which bodies came with it or how
///   many. troupe hands it the bodies in batches of any size (a region hands
///   it the bodies it steps), and refuses a plugin that gives other results
///   for other batches. It may change a body's velocity (speeding it up by
///   at most `max_speedup` m/s in a tick: the regions' halo is sized from
///   it), restitution (0 to 1), colour and user data; never its position,
///   radius, mass or id. A rule that breaks this fails the tick, and the run
///   goes back to the rules before it. For random draws, hash what is the
///   body's own (its id and user data) with the tick: the world's generator is
///   not theirs.

#include <troupe/sim/world.hpp>

#include <cstddef>
#include <cstdint>

namespace troupe::plugins {

inline constexpr std::uint32_t rules_abi_version = 2;

/// The name of the one exported entry point.
inline constexpr const char* rules_entry_point = "troupe_rules_v1";

/// What a plugin's rules read and change (see the file comment).
enum class RulesScope : std::uint32_t { world = 1, body = 2 };

/// A body rule's step: `count` bodies and their infos (id order), changed in
/// place. Returns true, or false with a NUL-terminated reason in `error`.
using BodyStep = bool (*)(const sim::WorldSettings& settings, std::uint64_t tick, sim::Body* bodies,
                          sim::BodyInfo* infos, std::size_t count, char* error, std::size_t error_size);

struct RulesApi {
  std::uint32_t abi_version; ///< rules_abi_version of the headers it was built with
  const char* build_id;      ///< TROUPE_RULES_BUILD_ID it was built with
  const char* name;          ///< what the rules are called, e.g. "wind"
  const char* version;       ///< the rule set's own version, e.g. "2"
  RulesScope scope;
  /// Scope world: one tick of rules. Returns true, or false with a
  /// NUL-terminated reason in `error` (at most `error_size` bytes). May also
  /// throw; the host catches.
  bool (*step)(sim::World& world, char* error, std::size_t error_size);
  /// Scope body: one tick of rules for some bodies (may also throw).
  BodyStep step_bodies;
  /// Scope body: the most a body's speed grows in one tick (m/s; 0 for a
  /// rule that never speeds a body up).
  float max_speedup;
};

/// The type of `troupe_rules_v1`.
using RulesEntry = const RulesApi* (*)();

} // namespace troupe::plugins

#define TROUPE_RULES_ENTRY_(...)                                                         \
  extern "C" __attribute__((visibility("default"))) const ::troupe::plugins::RulesApi* \
  troupe_rules_v1() {                                                                   \
    static const ::troupe::plugins::RulesApi api{__VA_ARGS__};                          \
    return &api;                                                                        \
  }

/// Defines the entry point of a world plugin: TROUPE_RULES_PLUGIN("wind", "1", step).
#define TROUPE_RULES_PLUGIN(NAME, VERSION, STEP)                                               \
  TROUPE_RULES_ENTRY_(::troupe::plugins::rules_abi_version, TROUPE_RULES_BUILD_ID, NAME, VERSION, \
                      ::troupe::plugins::RulesScope::world, STEP, nullptr, 0.f)

/// Defines the entry point of a body plugin, which runs in every region of a
/// partitioned world: TROUPE_BODY_RULES_PLUGIN("wind", "2", 0.5f, step_bodies).
#define TROUPE_BODY_RULES_PLUGIN(NAME, VERSION, MAX_SPEEDUP, STEP_BODIES)                           \
  TROUPE_RULES_ENTRY_(::troupe::plugins::rules_abi_version, TROUPE_RULES_BUILD_ID, NAME, VERSION, \
                      ::troupe::plugins::RulesScope::body, nullptr, STEP_BODIES, MAX_SPEEDUP)
