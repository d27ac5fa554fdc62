#pragma once
/// \file The contract between troupe and a rules plugin: a shared library that
/// exports one C symbol, `troupe_rules_v1`, returning a `RulesApi`.
///
/// The world crosses the boundary as a C++ object, so a plugin must be built
/// with the same compiler and the same sim/ headers as the host: `build_id`
/// says which (`TROUPE_RULES_BUILD_ID`, computed by CMake from both), and the
/// host refuses a plugin whose ABI version or build id differs from its own.
///
/// A plugin's `step` runs once per tick, after the tick's commands and the
/// built-in rules, before physics. It may change the world in any way the sim
/// API allows; it must be deterministic (no clocks, no global randomness: use
/// `world.rng_state`), or replays and restarts stop giving the same hash.

#include <troupe/sim/world.hpp>

#include <cstddef>
#include <cstdint>

namespace troupe::plugins {

inline constexpr std::uint32_t rules_abi_version = 1;

/// The name of the one exported entry point.
inline constexpr const char* rules_entry_point = "troupe_rules_v1";

struct RulesApi {
  std::uint32_t abi_version; ///< rules_abi_version of the headers it was built with
  const char* build_id;      ///< TROUPE_RULES_BUILD_ID it was built with
  const char* name;          ///< what the rules are called, e.g. "wind"
  const char* version;       ///< the rule set's own version, e.g. "2"
  /// One tick of rules. Returns true, or false with a NUL-terminated reason in
  /// `error` (at most `error_size` bytes). May also throw; the host catches.
  bool (*step)(sim::World& world, char* error, std::size_t error_size);
};

/// The type of `troupe_rules_v1`.
using RulesEntry = const RulesApi* (*)();

} // namespace troupe::plugins

/// Defines the entry point of a plugin: TROUPE_RULES_PLUGIN("wind", "1", step).
#define TROUPE_RULES_PLUGIN(NAME, VERSION, STEP)                                              \
  extern "C" __attribute__((visibility("default"))) const ::troupe::plugins::RulesApi*       \
  troupe_rules_v1() {                                                                         \
    static const ::troupe::plugins::RulesApi api{::troupe::plugins::rules_abi_version,        \
                                                 TROUPE_RULES_BUILD_ID, NAME, VERSION, STEP}; \
    return &api;                                                                              \
  }
