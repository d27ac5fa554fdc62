// Broken on purpose (tests): sends the first body to NaN.
#include <troupe/plugins/rules_abi.hpp>

#include <limits>

namespace {
bool step(troupe::sim::World& world, char*, std::size_t) {
  if (!world.bodies.empty())
    world.bodies.front().position.y = std::numeric_limits<float>::quiet_NaN();
  return true;
}
} // namespace

TROUPE_RULES_PLUGIN("broken-nan", "1", step)
