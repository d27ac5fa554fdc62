// Broken on purpose (tests): body rules that declare they never speed a body
// up (max_speedup 0), and push every body upwards.
#include <troupe/plugins/rules_abi.hpp>

namespace {
bool step(const troupe::sim::WorldSettings&, std::uint64_t, troupe::sim::Body* bodies, troupe::sim::BodyInfo*,
          std::size_t count, char*, std::size_t) {
  for (std::size_t k = 0; k < count; ++k)
    if (bodies[k].inv_mass > 0.f)
      bodies[k].velocity.y += 1.f;
  return true;
}
} // namespace

TROUPE_BODY_RULES_PLUGIN("broken-speedup", "1", 0.f, step)
