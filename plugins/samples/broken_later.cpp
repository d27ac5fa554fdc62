// Broken on purpose (tests): body rules that behave (a gentle drag) through
// any smoke test, then throw once the world has run 300 ticks, the way a bug
// far from the start would. Body scope, so a partitioned run takes them too.
#include <troupe/plugins/rules_abi.hpp>

#include <stdexcept>

namespace {
bool step(const troupe::sim::WorldSettings&, std::uint64_t tick, troupe::sim::Body* bodies, troupe::sim::BodyInfo*,
          std::size_t count, char*, std::size_t) {
  if (tick >= 300)
    throw std::runtime_error("rules broke at a later tick on purpose");
  for (std::size_t k = 0; k < count; ++k) {
    auto& v = bodies[k].velocity;
    v = {v.x * 0.999f, v.y, v.z * 0.999f};
  }
  return true;
}
} // namespace

TROUPE_BODY_RULES_PLUGIN("broken-later", "1", 0.f, step)
