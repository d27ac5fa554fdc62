// Body rules of the application's own, built against an installed troupe:
// each ring of the "rings" scenario drifts its own way, told by the tag in
// BodyInfo::user_data (1..4). What a body undergoes depends on that body
// alone, so the rules run in every region of a world run as regions.
#include <troupe/plugins/rules_abi.hpp>

namespace {

constexpr float drift = 0.02f; // m/s a tick: the most a body speeds up

bool step(const troupe::sim::WorldSettings&, std::uint64_t, troupe::sim::Body* bodies,
          troupe::sim::BodyInfo* infos, std::size_t count, char*, std::size_t) {
  for (std::size_t k = 0; k < count; ++k) {
    if (!(bodies[k].inv_mass > 0.f))
      continue;
    auto& v = bodies[k].velocity;
    switch (infos[k].user_data) {
    case 1: v.x += drift; break;
    case 2: v.x -= drift; break;
    case 3: v.z += drift; break;
    case 4: v.z -= drift; break;
    default: break;
    }
  }
  return true;
}

} // namespace

TROUPE_BODY_RULES_PLUGIN("tag-drift", "1", drift, step)
