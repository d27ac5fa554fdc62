// Sample rules "wind": a steady breeze along +x that turns with the tick.
// Body scope: each body's change depends on that body and the tick alone, so
// the rules run in every region of a partitioned world.
#include <troupe/plugins/rules_abi.hpp>

#include <algorithm>

namespace {

constexpr float max_speedup = 0.5f; // m/s in a tick

bool step(const troupe::sim::WorldSettings& settings, std::uint64_t tick, troupe::sim::Body* bodies,
          troupe::sim::BodyInfo*, std::size_t count, char*, std::size_t) {
  // A deterministic function of the tick: replays and restarts agree.
  const float gust = (tick / 120) % 2 == 0 ? 1.f : -1.f;
  const float dv = std::min(3.f * settings.dt, max_speedup) * gust;
  for (std::size_t k = 0; k < count; ++k)
    if (bodies[k].inv_mass > 0.f)
      bodies[k].velocity.x += dv;
  return true;
}

} // namespace

TROUPE_BODY_RULES_PLUGIN("wind", "2", max_speedup, step)
