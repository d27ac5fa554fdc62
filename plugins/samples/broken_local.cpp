// Broken on purpose (tests): claims body scope but pulls every body towards
// the mean velocity of the bodies it was handed with, so its result depends
// on the batch (and would differ from region to region).
#include <troupe/plugins/rules_abi.hpp>

namespace {
bool step(const troupe::sim::WorldSettings&, std::uint64_t, troupe::sim::Body* bodies, troupe::sim::BodyInfo*,
          std::size_t count, char*, std::size_t) {
  if (count == 0)
    return true;
  troupe::sim::Vec3 mean{};
  for (std::size_t k = 0; k < count; ++k)
    mean = {mean.x + bodies[k].velocity.x, mean.y + bodies[k].velocity.y, mean.z + bodies[k].velocity.z};
  const float n = static_cast<float>(count);
  for (std::size_t k = 0; k < count; ++k) {
    auto& v = bodies[k].velocity;
    v = {0.9f * v.x + 0.1f * mean.x / n, 0.9f * v.y + 0.1f * mean.y / n, 0.9f * v.z + 0.1f * mean.z / n};
  }
  return true;
}
} // namespace

TROUPE_BODY_RULES_PLUGIN("broken-local", "1", 1.f, step)
