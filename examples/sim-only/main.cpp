// Steps the sandbox for 120 ticks with sim::advance, the tick troupe's actors
// run, and prints the world hash: the hash `troupe run` gives for the same
// world and commands.
#include <troupe/sim/advance.hpp>
#include <troupe/sim/scenario.hpp>

#include <cstdio>

int main() {
  auto world = troupe::sim::make_scenario({"sandbox", 500, 3, 60.0});
  const auto parallel = troupe::sim::Parallel::sequential();
  std::vector<troupe::sim::ContactEvent> events;
  for (int t = 0; t < 120; ++t) {
    events.clear();
    if (!troupe::sim::advance(world, {}, nullptr, {}, parallel, events))
      return 1;
  }
  std::printf("%zu bodies, world hash 0x%016llx\n", world.size(),
              static_cast<unsigned long long>(troupe::sim::world_hash(world)));
  return 0;
}
