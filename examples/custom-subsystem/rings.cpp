// Scenario "rings": the bodies in four horizontal rings at four heights, each
// ring's bodies tagged with its number (1..4) in BodyInfo::user_data.
#include <troupe/sim/scenario.hpp>

#include <cmath>
#include <numbers>

namespace census {

troupe::sim::Scenario rings() {
  return {"rings", "four rings of tagged bodies (user data 1..4) falling into the arena",
          [](troupe::sim::World& world, const troupe::sim::ScenarioSpec& spec) {
            world.arena = {{-12.f, 0.f, -12.f}, {12.f, 30.f, 12.f}};
            world.fountain = {}; // off
            constexpr std::uint32_t rings = 4;
            for (std::uint32_t k = 0; k < spec.bodies; ++k) {
              const std::uint32_t ring = k % rings;
              const std::uint32_t per_ring = (spec.bodies + rings - 1) / rings;
              const float angle = 2.f * std::numbers::pi_v<float> * static_cast<float>(k / rings) /
                                  static_cast<float>(per_ring);
              const float radius = 3.f + 2.f * static_cast<float>(ring);
              troupe::sim::BodySpec body;
              body.position = {radius * std::cos(angle), 4.f + 5.f * static_cast<float>(ring),
                               radius * std::sin(angle)};
              body.velocity = {troupe::sim::random_float(world, -0.5f, 0.5f), 0.f,
                               troupe::sim::random_float(world, -0.5f, 0.5f)};
              body.radius = 0.3f;
              body.color = 0x3080ffffu + 0x20000000u * ring;
              body.user_data = ring + 1;
              troupe::sim::spawn(world, body);
            }
          }};
}

} // namespace census
