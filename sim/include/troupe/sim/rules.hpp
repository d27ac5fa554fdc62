#pragma once
/// \file The built-in rules: what commands do to the world, and what happens every
/// tick besides physics (fountain, removal of bodies that left the arena).

#include <troupe/sim/world.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace troupe::sim {

/// Adds one body.
struct SpawnBody { BodySpec spec; };
/// Adds `dv` to a body's velocity (ignored for a stale handle).
struct ApplyImpulse { BodyId body; Vec3 dv; };
/// Adds `dv` to every body's velocity, e.g. a shake of the arena.
struct Shake { Vec3 dv; };
/// Removes one body.
struct RemoveBody { BodyId body; };
/// Stops or resumes physics; ticks still advance.
struct SetPaused { bool paused = false; };
/// Changes gravity.
struct SetGravity { Vec3 gravity; };
/// Reconfigures the fountain.
struct SetFountain { Fountain fountain; };
/// Asks logic to load, smoke-test and install the rules plugin at `path`
/// ("reload PATH"; a path without spaces). The world itself is untouched, so
/// `apply` ignores it: logic acts on it (plugins/).
struct LoadRules { std::string path; };
/// Moves the cuts between the regions of a world run as regions along one
/// axis (0 = x, 1 = y, 2 = z): to `cuts` ("rebalance x -4 0 4": ascending, as
/// many as the axis has), or, with none, to where each cell of that axis holds
/// about as many bodies ("rebalance x": chosen from where the bodies are after
/// this tick, in effect from the next). Where the cuts lie decides only who
/// steps a body, never what happens to it: the world is untouched (a run of
/// one physics actor ignores it) and the world hash never changes.
struct Rebalance {
  std::uint8_t axis = 0;
  std::vector<float> cuts;
};

/// Everything a command can ask of the world.
using Action = std::variant<SpawnBody, ApplyImpulse, Shake, RemoveBody, SetPaused,
                            SetGravity, SetFountain, LoadRules, Rebalance>;

/// Applies one action. Actions never fail: one that names a body that is gone
/// does nothing (returns false) so that a late command cannot break a run.
bool apply(World& world, const Action& action);

/// The rules that run every tick after the commands and before physics: the
/// fountain spawns.
void before_physics(World& world);

/// The rules that run every tick after physics: bodies whose centre left the
/// arena box (or whose state is no longer finite) are removed. Returns how many.
std::size_t after_physics(World& world);

/// A one-line text form of an action ("spawn 0 5 0 0 0 0 0.5"), the format of
/// timeline files and command logs; `parse_action` reads it back exactly
/// (floats are written with enough digits to round-trip).
std::string format_action(const Action& action);

/// Parses the text form; on failure returns the reason in `error`.
std::optional<Action> parse_action(const std::string& text, std::string& error);

} // namespace troupe::sim
