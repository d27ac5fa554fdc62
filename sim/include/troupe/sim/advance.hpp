#pragma once
/// \file One tick, defined once (docs/architecture.md, "One tick").
///
/// A tick runs in two halves, because in a troupe run two actors run them:
///   1. `prepare_tick`, on the coordinator (logic): the tick's commands in
///      canonical order (source, then seq), the built-in per-tick rules (the
///      fountain), then the rules plugin, if there is one;
///   2. `step_tick`, on the stepper (physics): the physics step, then the removal
///      of every body that left the arena in it. A body is removed in the tick
///      that detects it, so no snapshot and no world hash ever holds one.
/// `advance` is both halves on one thread. The rules smoke test, the benchmarks
/// and the tests call it, so what they measure is the tick a run runs.
///
/// Threads: everything runs on the calling thread; `step_tick` fans out through
/// the `Parallel` it is given.

#include <troupe/error.hpp>
#include <troupe/sim/parallel.hpp>
#include <troupe/sim/physics.hpp>
#include <troupe/sim/rules.hpp>
#include <troupe/sim/world.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace troupe::sim {

/// One user intent. `(tick, source, seq)` is its canonical order: the commands
/// of tick T are applied sorted by source, then seq.
struct Command {
  std::uint32_t source = 0; ///< id of the source that made it
  std::uint64_t seq = 0;    ///< 1, 2, 3... per source, no gaps
  std::uint64_t tick = 0;   ///< the tick at whose start it is applied
  Action action;
};

/// A rules plugin's step: runs after the built-in rules, before physics; an
/// Error (errc::bad_plugin) when it failed.
using RulesStep = std::function<Expected<void>(World&)>;

/// Sorts commands into the canonical order (source, then seq).
void sort_canonical(std::span<Command> commands);

/// The coordinator's half of a tick: sorts `commands` (those due at
/// world.tick) and applies them, then the built-in rules, then `rules` (null:
/// none). `LoadRules` actions leave the world as it is: loading rules is the
/// caller's business. The rules' Error when they failed; the world is then
/// half-done and must be thrown away.
Expected<void> prepare_tick(World& world, std::span<Command> commands, const RulesStep* rules);

/// The stepper's half: one physics step (world.tick advances), then the bodies
/// that left the arena are removed. Contact events are appended to `events`.
StepStats step_tick(World& world, const PhysicsSettings& settings, const Parallel& parallel,
                    std::vector<ContactEvent>& events);

/// A whole tick on this thread: prepare_tick, then step_tick (skipped when the
/// rules failed). The rules' Error when they failed.
Expected<void> advance(World& world, std::span<Command> commands, const RulesStep* rules,
                                   const PhysicsSettings& settings, const Parallel& parallel,
                                   std::vector<ContactEvent>& events);

} // namespace troupe::sim
