// Sample rules "wind": a steady breeze along +x that turns with the tick.
#include <troupe/plugins/rules_abi.hpp>

namespace {

bool step(troupe::sim::World& world, char*, std::size_t) {
  // A deterministic function of the tick: replays and restarts agree.
  const float gust = (world.tick / 120) % 2 == 0 ? 1.f : -1.f;
  const float dv = 3.f * world.dt * gust;
  for (auto& body : world.bodies)
    if (body.inv_mass > 0.f)
      body.velocity.x += dv;
  return true;
}

} // namespace

TROUPE_RULES_PLUGIN("wind", "1", step)
