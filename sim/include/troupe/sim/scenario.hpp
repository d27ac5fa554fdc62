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

/// Where an emitter puts each body.
using BodySink = std::function<void(const BodySpec& spec)>;

/// The same, one body at a time: sets the fresh world's arena and fountain
/// (before any body) and hands each body's spec to `sink` in spawn order
/// instead of spawning it, drawing from the world's generator as a builder
/// would. A scenario given this way can start a world run as regions without
/// any process holding every body (each region keeps the bodies of its cell).
using ScenarioEmitter = std::function<void(World& world, const ScenarioSpec& spec, const BodySink& sink)>;

/// A named starting world: a builder, an emitter, or both (they must agree).
struct Scenario {
  std::string name;        ///< what [simulation] scenario says
  std::string description; ///< one line for `troupe check` and the docs
  ScenarioBuilder build;
  ScenarioEmitter emit = {}; ///< (an initializer: `{name, description, build}` leaves it out quietly)
};

/// Adds a scenario. False (and nothing changes) when the name is taken or it
/// has neither a builder nor an emitter. Register before loading a topology;
/// not meant to race with `make_scenario`.
bool register_scenario(Scenario scenario);

/// The names `make_scenario` knows, in registration order: "sandbox" (bodies
/// falling into the arena in a loose lattice, fountain on), "pile" (bodies
/// packed above the floor in a box scaled to their count, fountain off; the
/// benchmark scene), "empty", then the registered ones.
std::vector<std::string> scenario_names();

/// Builds the starting world; throws std::invalid_argument for an unknown name
/// (a validated topology names a known one).
World make_scenario(const ScenarioSpec& spec);

/// The starting world streamed: `world` gets all of it but the bodies
/// (settings, generator, seed, and the slot table and free list, a live
/// slot's `dense` set to 0: a ledger's, not a valid World), and `body` each
/// body in spawn order, as make_scenario makes it (its id included). Holds no
/// body when the scenario has an emitter (the built-in ones do); else builds
/// the world and walks it.
void stream_scenario(const ScenarioSpec& spec, World& world,
                     const std::function<void(const Body& body, const BodyInfo& info)>& body);

} // namespace troupe::sim
