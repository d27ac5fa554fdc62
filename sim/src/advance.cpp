// One tick (see advance.hpp): the only place that says in which order a tick's
// parts run.
#include <troupe/sim/advance.hpp>

#include <algorithm>
#include <tuple>

namespace troupe::sim {

void sort_canonical(std::span<Command> commands) {
  // (source, seq) is unique, so the order is total and sort need not be stable.
  std::sort(commands.begin(), commands.end(),
            [](const Command& a, const Command& b) { return std::tie(a.source, a.seq) < std::tie(b.source, b.seq); });
}

Expected<void> prepare_tick(World& world, std::span<Command> commands, const RulesStep* rules) {
  sort_canonical(commands);
  for (const Command& command : commands)
    apply(world, command.action);
  before_physics(world);
  if (rules && *rules)
    return (*rules)(world);
  return {};
}

StepStats step_tick(World& world, const PhysicsSettings& settings, const Parallel& parallel,
                    std::vector<ContactEvent>& events) {
  const auto stats = step(world, settings, parallel, events);
  after_physics(world);
  return stats;
}

Expected<void> advance(World& world, std::span<Command> commands, const RulesStep* rules,
                                   const PhysicsSettings& settings, const Parallel& parallel,
                                   std::vector<ContactEvent>& events) {
  if (auto prepared = prepare_tick(world, commands, rules); !prepared)
    return prepared;
  step_tick(world, settings, parallel, events);
  return {};
}

} // namespace troupe::sim
