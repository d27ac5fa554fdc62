// Broken on purpose (tests): behaves (a gentle drag) through any smoke test,
// then throws once the world has run 300 ticks, the way a bug far from the
// start would.
#include <troupe/plugins/rules_abi.hpp>

#include <stdexcept>

namespace {
bool step(troupe::sim::World& world, char*, std::size_t) {
  if (world.tick >= 300)
    throw std::runtime_error("rules broke at a later tick on purpose");
  for (auto& body : world.bodies)
    body.velocity = {body.velocity.x * 0.999f, body.velocity.y, body.velocity.z * 0.999f};
  return true;
}
} // namespace

TROUPE_RULES_PLUGIN("broken-later", "1", step)
