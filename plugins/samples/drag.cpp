// Sample rules "drag": air drag on every body, stronger the faster it goes.
// Body scope (it reads each body alone) and it never speeds a body up.
#include <troupe/plugins/rules_abi.hpp>

namespace {

bool step(const troupe::sim::WorldSettings& settings, std::uint64_t, troupe::sim::Body* bodies,
          troupe::sim::BodyInfo*, std::size_t count, char*, std::size_t) {
  const float k = 0.02f * settings.dt; // per tick, per m/s
  for (std::size_t i = 0; i < count; ++i) {
    auto& v = bodies[i].velocity;
    const float speed2 = v.x * v.x + v.y * v.y + v.z * v.z;
    const float factor = 1.f / (1.f + k * speed2);
    v = {v.x * factor, v.y * factor, v.z * factor};
  }
  return true;
}

} // namespace

TROUPE_BODY_RULES_PLUGIN("drag", "2", 0.f, step)
