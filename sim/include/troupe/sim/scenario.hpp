#pragma once
/// \file Named starting worlds.

#include <troupe/sim/world.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace troupe::sim {

/// What a scenario is built from (config: [simulation]).
struct ScenarioSpec {
  std::string name = "sandbox";
  std::uint32_t bodies = 1000;
  std::uint64_t seed = 1;
  double tick_hz = 60.0;
};

/// The names `make_scenario` knows: "sandbox" (bodies falling into the arena in a
/// loose lattice, fountain on), "pile" (bodies packed above the floor in a box
/// scaled to their count, fountain off; the benchmark scene), "empty".
std::span<const std::string_view> scenario_names();

/// Builds the starting world; throws std::invalid_argument for an unknown name.
World make_scenario(const ScenarioSpec& spec);

} // namespace troupe::sim
