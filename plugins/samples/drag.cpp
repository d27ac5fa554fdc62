// Sample rules "drag": air drag on every body, stronger the faster it goes.
#include <troupe/plugins/rules_abi.hpp>

namespace {

bool step(troupe::sim::World& world, char*, std::size_t) {
  const float k = 0.02f * world.dt; // per tick, per m/s
  for (auto& body : world.bodies) {
    auto& v = body.velocity;
    const float speed2 = v.x * v.x + v.y * v.y + v.z * v.z;
    const float factor = 1.f / (1.f + k * speed2);
    v = {v.x * factor, v.y * factor, v.z * factor};
  }
  return true;
}

} // namespace

TROUPE_RULES_PLUGIN("drag", "1", step)
