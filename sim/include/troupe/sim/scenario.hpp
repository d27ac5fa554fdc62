#pragma once
/// \file Named starting worlds, registered by name: the built-in ones
/// ("sandbox", "pile", "empty") and any an application adds with
/// `register_scenario` before it loads a topology.

#include <troupe/sim/world.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace troupe::sim {

/// What a scenario is built from (config: [simulation]).
struct ScenarioSpec {
  std::string name = "sandbox";
  std::uint32_t bodies = 1000;
  std::uint64_t seed = 1;
  double tick_hz = 60.0;
};

/// Fills a fresh world (its seed, generator state and dt are set from the spec)
/// with the scenario's bodies, arena and fountain. Every random choice must come
/// from the world's own generator, so the same spec always builds the same world.
using ScenarioBuilder = std::function<void(World& world, const ScenarioSpec& spec)>;

/// A named starting world.
struct Scenario {
  std::string name;        ///< what [simulation] scenario says
  std::string description; ///< one line for `troupe check` and the docs
  ScenarioBuilder build;
};

/// Adds a scenario. False (and nothing changes) when the name is taken or the
/// builder is empty. Register before loading a topology; not meant to race
/// with `make_scenario`.
bool register_scenario(Scenario scenario);

/// The names `make_scenario` knows, in registration order: "sandbox" (bodies
/// falling into the arena in a loose lattice, fountain on), "pile" (bodies
/// packed above the floor in a box scaled to their count, fountain off; the
/// benchmark scene), "empty", then the registered ones.
std::vector<std::string> scenario_names();

/// Builds the starting world; throws std::invalid_argument for an unknown name
/// (a validated topology names a known one).
World make_scenario(const ScenarioSpec& spec);

} // namespace troupe::sim
