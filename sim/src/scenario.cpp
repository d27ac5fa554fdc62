// Named starting worlds. Every random choice comes from the world's own generator,
// seeded from the spec, so the same spec always builds the same world.
#include <troupe/sim/scenario.hpp>

#include "world_internal.hpp"

#include <algorithm>
#include <array>
#include <mutex>
#include <cmath>
#include <stdexcept>
#include <string>

namespace troupe::sim {

namespace {

std::uint32_t random_color(World& world) {
  return static_cast<std::uint32_t>(next_random(world) >> 32) | 0xffu; // opaque
}

std::uint32_t ceil_sqrt(double v) {
  return static_cast<std::uint32_t>(std::max(1.0, std::ceil(std::sqrt(v))));
}

/// Bodies in a loose jittered lattice about six layers deep, in an arena at least
/// 20 m wide and tall, with the fountain on.
void emit_sandbox(World& world, const ScenarioSpec& scenario, const BodySink& sink) {
  const std::uint32_t count = scenario.bodies;
  constexpr float spacing = 1.25f; // > 2 * max radius: nothing overlaps at start
  constexpr float base = 1.f;
  const std::uint32_t per_row = std::max(4u, ceil_sqrt(count / 6.0));
  const std::uint32_t per_layer = per_row * per_row;
  const std::uint32_t layers = (count + per_layer - 1) / per_layer;
  const float half = std::max(10.f, 0.5f * spacing * static_cast<float>(per_row) + 2.f);
  const float top = base + spacing * static_cast<float>(layers);
  const float height = std::max(20.f, top + 6.f);
  world.arena = Arena{{-half, 0.f, -half}, {half, height, half}};
  const float x0 = -0.5f * spacing * static_cast<float>(per_row - 1);
  for (std::uint32_t k = 0; k < count; ++k) {
    const std::uint32_t layer = k / per_layer, in_layer = k % per_layer;
    BodySpec spec;
    spec.radius = random_float(world, 0.25f, 0.45f);
    spec.position = Vec3{x0 + spacing * static_cast<float>(in_layer % per_row),
                         base + spacing * static_cast<float>(layer),
                         x0 + spacing * static_cast<float>(in_layer / per_row)} +
                    Vec3{random_float(world, -0.1f, 0.1f), random_float(world, -0.1f, 0.1f),
                         random_float(world, -0.1f, 0.1f)};
    spec.velocity = Vec3{random_float(world, -0.5f, 0.5f), 0.f, random_float(world, -0.5f, 0.5f)};
    spec.restitution = random_float(world, 0.1f, 0.5f);
    spec.color = random_color(world);
    sink(spec);
  }
  Fountain& f = world.fountain;
  f.origin = Vec3{0.f, 0.75f * height, 0.f};
  f.velocity = Vec3{0.f, 2.f, 0.f};
  f.spread = 1.f;
  f.radius = 0.25f;
  f.every_ticks = 10;
  f.max_bodies = count + count / 4;
}

/// Columns of bodies (radius 0.25-0.5) ten high, 1.02 m apart, in a box whose floor
/// is just the columns' footprint: the bodies fall a little and pile up about nine
/// layers deep. The benchmark scene.
void emit_pile(World& world, const ScenarioSpec& scenario, const BodySink& sink) {
  const std::uint32_t count = scenario.bodies;
  constexpr float spacing = 1.02f; // > 2 * max radius
  constexpr std::uint32_t per_column = 10;
  const std::uint32_t per_row = ceil_sqrt(count / static_cast<double>(per_column));
  const std::uint32_t per_layer = per_row * per_row;
  const std::uint32_t layers = std::max(1u, (count + per_layer - 1) / per_layer);
  const float half = 0.5f * spacing * static_cast<float>(per_row);
  const float height = spacing * static_cast<float>(layers) + 4.f;
  world.arena = Arena{{-half, 0.f, -half}, {half, height, half}};
  const float x0 = -half + 0.5f * spacing;
  for (std::uint32_t k = 0; k < count; ++k) {
    const std::uint32_t layer = k / per_layer, in_layer = k % per_layer;
    BodySpec spec;
    spec.radius = random_float(world, 0.25f, 0.5f);
    // A little sideways jitter so the columns do not stay perfectly stacked.
    spec.position = Vec3{x0 + spacing * static_cast<float>(in_layer % per_row) +
                           random_float(world, -0.01f, 0.01f),
                         0.51f + spacing * static_cast<float>(layer),
                         x0 + spacing * static_cast<float>(in_layer / per_row) +
                           random_float(world, -0.01f, 0.01f)};
    spec.restitution = random_float(world, 0.1f, 0.4f);
    spec.color = random_color(world);
    sink(spec);
  }
  world.fountain = Fountain{};
}

/// The registry: built-ins first. A function-local static, so that a
/// registration from another static initializer finds it constructed.
struct Registry {
  std::mutex mutex;
  std::vector<Scenario> scenarios{
    {"sandbox", "bodies falling into the arena in a loose lattice, fountain on", {}, emit_sandbox},
    {"pile", "bodies packed in columns above the floor of a box scaled to their count (the benchmark scene)", {},
     emit_pile},
    {"empty", "an empty arena, fountain off", {},
     [](World& world, const ScenarioSpec&, const BodySink&) { world.fountain = Fountain{}; }},
  };
};

Registry& registry() {
  static Registry instance;
  return instance;
}

} // namespace

bool register_scenario(Scenario scenario) {
  auto& r = registry();
  std::lock_guard<std::mutex> guard{r.mutex};
  if ((!scenario.build && !scenario.emit) || scenario.name.empty() ||
      std::any_of(r.scenarios.begin(), r.scenarios.end(), [&](const Scenario& s) { return s.name == scenario.name; }))
    return false;
  r.scenarios.push_back(std::move(scenario));
  return true;
}

std::vector<std::string> scenario_names() {
  auto& r = registry();
  std::lock_guard<std::mutex> guard{r.mutex};
  std::vector<std::string> out;
  for (const auto& s : r.scenarios)
    out.push_back(s.name);
  return out;
}

/// The registered scenario of this name and a fresh world for it (seed,
/// generator and dt set from the spec); throws for an unknown name.
Scenario find_scenario(const ScenarioSpec& spec, World& world) {
  if (!(std::isfinite(spec.tick_hz) && spec.tick_hz > 0.0))
    throw std::invalid_argument("scenario tick_hz must be a positive number, got " +
                                std::to_string(spec.tick_hz));
  auto& r = registry();
  std::lock_guard<std::mutex> guard{r.mutex};
  for (const auto& s : r.scenarios)
    if (s.name == spec.name) {
      world.seed = spec.seed;
      world.rng_state = spec.seed;
      world.dt = static_cast<float>(1.0 / spec.tick_hz);
      return s;
    }
  std::string known;
  for (const auto& s : r.scenarios)
    known += (known.empty() ? "" : ", ") + s.name;
  throw std::invalid_argument("unknown scenario '" + spec.name + "' (known: " + known + ")");
}

World make_scenario(const ScenarioSpec& spec) {
  World world;
  const Scenario scenario = find_scenario(spec, world);
  if (scenario.build)
    scenario.build(world, spec);
  else
    scenario.emit(world, spec, [&](const BodySpec& body) { spawn(world, body); });
  return world;
}

void stream_scenario(const ScenarioSpec& spec, World& world,
                     const std::function<void(const Body& body, const BodyInfo& info)>& body) {
  world = World{};
  const Scenario scenario = find_scenario(spec, world);
  if (!scenario.emit) {
    // A builder only: the whole world, walked (its bodies then let go).
    scenario.build(world, spec);
    for (std::size_t k = 0; k < world.size(); ++k)
      body(world.bodies[k], world.infos[k]);
    world.bodies = {};
    world.infos = {};
  } else {
    // As spawn makes them in a fresh world: ids slot after slot.
    scenario.emit(world, spec, [&](const BodySpec& s) {
      const BodyId id = detail::take_slot(world.slots, world.free_slots);
      world.slots[id.index].dense = 0;
      body(detail::make_body(s), BodyInfo{id, s.restitution, s.color, s.user_data});
    });
  }
  for (Slot& slot : world.slots)
    slot.dense = slot.dense == ~0u ? ~0u : 0u;
}

} // namespace troupe::sim
