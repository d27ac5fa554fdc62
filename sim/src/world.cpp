// The world's bookkeeping: handle table, invariants, generator, hash.
#include <troupe/sim/world.hpp>

#include "world_internal.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <span>
#include <numbers>

namespace troupe::sim {

namespace {

/// Generation a never-used slot starts with: 1, so a zero-initialised BodyId{0, 0}
/// never names a live body.
constexpr std::uint32_t first_generation = 1;

float inverse_mass(float radius, float density) {
  if (density == 0.f)
    return 0.f;
  // Sphere volume 4/3 pi r^3; computed in double so the float result is the same
  // correctly rounded value on every platform.
  const double r = radius;
  const double volume = 4.0 / 3.0 * std::numbers::pi * r * r * r;
  return static_cast<float>(1.0 / (static_cast<double>(density) * volume));
}

/// A small streaming hash over 64-bit words. Each absorb is a bijection of the
/// state for a fixed word and of the word for a fixed state, so changing any one
/// word of the encoding always changes the result; the final mix spreads it.
class Hasher {
public:
  void word(std::uint64_t v) {
    h_ = (std::rotl(h_, 23) ^ v) * 0x9E3779B97F4A7C15ull;
  }
  void pair(std::uint32_t lo, std::uint32_t hi) {
    word(static_cast<std::uint64_t>(lo) | (static_cast<std::uint64_t>(hi) << 32));
  }
  void f(float a, float b) { pair(std::bit_cast<std::uint32_t>(a), std::bit_cast<std::uint32_t>(b)); }
  void v3(Vec3 v) {
    f(v.x, v.y);
    pair(std::bit_cast<std::uint32_t>(v.z), 0);
  }
  /// One world setting (for_each_setting), each in a word of its own.
  void setting(float v) { pair(std::bit_cast<std::uint32_t>(v), 0); }
  void setting(Vec3 v) { v3(v); }
  void setting(bool v) { word(v ? 1u : 0u); }
  void setting(std::uint32_t v) { word(v); }
  std::uint64_t finish() const {
    // murmur3 fmix64
    std::uint64_t z = h_;
    z ^= z >> 33;
    z *= 0xff51afd7ed558ccdull;
    z ^= z >> 33;
    z *= 0xc4ceb9fe1a85ec53ull;
    z ^= z >> 33;
    return z;
  }

private:
  std::uint64_t h_ = 0x243F6A8885A308D3ull; // pi's fraction, any odd start works
};

} // namespace

namespace detail {

BodyId take_slot(std::vector<Slot>& slots, std::vector<std::uint32_t>& free_slots) {
  std::uint32_t index = 0;
  if (!free_slots.empty()) {
    // LIFO: the most recently freed slot first.
    index = free_slots.back();
    free_slots.pop_back();
  } else {
    index = static_cast<std::uint32_t>(slots.size());
    slots.push_back(Slot{first_generation, ~0u});
  }
  return BodyId{index, slots[index].generation};
}

void release_slot(std::vector<Slot>& slots, std::vector<std::uint32_t>& free_slots,
                  std::uint32_t index) {
  Slot& slot = slots[index];
  slot.dense = ~0u;
  ++slot.generation; // every outstanding handle to this slot is now stale
  free_slots.push_back(index);
}

Body make_body(const BodySpec& spec) {
  return Body{spec.position, spec.radius, spec.velocity, inverse_mass(spec.radius, spec.density)};
}

std::uint64_t next_random(std::uint64_t& state) {
  // splitmix64 (Steele, Lea, Flood 2014).
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float random_float(std::uint64_t& state, float lo, float hi) {
  // 24 random bits make every value exactly representable in [0, 1).
  const float unit = static_cast<float>(next_random(state) >> 40) * 0x1p-24f;
  const float v = lo + (hi - lo) * unit;
  // Rounding can land on hi for wide ranges; keep the interval half-open.
  return v < hi ? v : (lo < hi ? std::nextafter(hi, lo) : lo);
}

} // namespace detail

BodyId spawn(World& world, const BodySpec& spec) {
  const BodyId id = detail::take_slot(world.slots, world.free_slots);
  const std::uint32_t index = id.index;
  const Body body = detail::make_body(spec);
  const BodyInfo info{id, spec.restitution, spec.color, spec.user_data};
  // Dense order is id order. A new slot goes at the end; a reused one in its place.
  if (world.infos.empty() || world.infos.back().id.index < index) {
    world.slots[index].dense = static_cast<std::uint32_t>(world.bodies.size());
    world.bodies.push_back(body);
    world.infos.push_back(info);
    return id;
  }
  const auto at = std::partition_point(world.infos.begin(), world.infos.end(),
                                       [&](const BodyInfo& i) { return i.id.index < index; });
  const auto d = at - world.infos.begin();
  world.bodies.insert(world.bodies.begin() + d, body);
  world.infos.insert(at, info);
  for (std::size_t k = static_cast<std::size_t>(d); k < world.infos.size(); ++k)
    world.slots[world.infos[k].id.index].dense = static_cast<std::uint32_t>(k);
  return id;
}

bool remove(World& world, BodyId id) {
  const auto dense = find(world, id);
  if (!dense)
    return false;
  const std::size_t d = *dense;
  // Stable erase keeps id order, which every loop in sim/ relies on.
  world.bodies.erase(world.bodies.begin() + static_cast<std::ptrdiff_t>(d));
  world.infos.erase(world.infos.begin() + static_cast<std::ptrdiff_t>(d));
  for (std::size_t k = d; k < world.infos.size(); ++k)
    world.slots[world.infos[k].id.index].dense = static_cast<std::uint32_t>(k);
  detail::release_slot(world.slots, world.free_slots, id.index);
  return true;
}

namespace detail {

std::size_t remove_marked(World& world, const std::vector<std::uint8_t>& marked) {
  std::size_t out = 0;
  std::size_t removed = 0;
  for (std::size_t k = 0; k < world.bodies.size(); ++k) {
    const BodyId id = world.infos[k].id;
    if (marked[k] != 0) {
      // Freed in id order (dense order), so the LIFO reuse order is the same
      // whoever removes them: one world or its regions, merged by id.
      detail::release_slot(world.slots, world.free_slots, id.index);
      ++removed;
      continue;
    }
    if (out != k) {
      world.bodies[out] = world.bodies[k];
      world.infos[out] = world.infos[k];
    }
    world.slots[id.index].dense = static_cast<std::uint32_t>(out);
    ++out;
  }
  world.bodies.resize(out);
  world.infos.resize(out);
  return removed;
}

} // namespace detail

std::optional<std::size_t> find(const World& world, BodyId id) {
  if (id.index >= world.slots.size())
    return std::nullopt;
  const Slot& slot = world.slots[id.index];
  if (slot.generation != id.generation || slot.dense == ~0u)
    return std::nullopt;
  return slot.dense;
}

namespace {

/// Whether every body's numbers are usable: finite, radius > 0, inverse mass
/// >= 0. Four lanes at a time and no branch per body: a world from a peer or a
/// file is checked whole and nearly always passes, and one check per number
/// and body took a third of decoding a 100k-body world.
bool numbers_usable(std::span<const Body> bodies) {
  static_assert(offsetof(Body, radius) == 12 && offsetof(Body, velocity) == 16 &&
                offsetof(Body, inv_mass) == 28, "a Body is two rows of four numbers");
  using Lanes = std::uint32_t __attribute__((vector_size(16)));
  constexpr std::uint32_t e = 0x7f800000u; // an exponent of all ones: an infinity or a NaN
  constexpr Lanes exponent = {e, e, e, e};
  Lanes not_finite = {};
  unsigned out_of_range = 0;
  for (const Body& b : bodies) {
    Lanes position_radius;
    Lanes velocity_mass;
    std::memcpy(&position_radius, &b, sizeof position_radius);
    std::memcpy(&velocity_mass, &b.velocity, sizeof velocity_mass);
    not_finite |= ((position_radius & exponent) == exponent) | ((velocity_mass & exponent) == exponent);
    out_of_range |= (b.radius > 0.f ? 0u : 1u) | (b.inv_mass >= 0.f ? 0u : 1u);
  }
  return out_of_range == 0 && (not_finite[0] | not_finite[1] | not_finite[2] | not_finite[3]) == 0;
}

} // namespace

std::optional<const char*> check_invariants(const World& world) {
  if (world.bodies.size() != world.infos.size())
    return "bodies and infos differ in size";
  if (!(std::isfinite(world.dt) && world.dt > 0.f))
    return "dt is not a positive finite number";
  if (!is_finite(world.gravity))
    return "gravity is not finite";
  if (!is_finite(world.arena.min) || !is_finite(world.arena.max))
    return "arena bounds are not finite";
  std::size_t live_slots = 0;
  for (const Slot& slot : world.slots)
    if (slot.dense != ~0u) {
      ++live_slots;
      if (slot.dense >= world.bodies.size())
        return "a slot points past the dense arrays";
    }
  if (live_slots != world.bodies.size())
    return "live slot count differs from body count";
  if (live_slots + world.free_slots.size() != world.slots.size())
    return "free list does not hold exactly the free slots";
  for (const std::uint32_t index : world.free_slots) {
    if (index >= world.slots.size())
      return "free list names a slot past the table";
    if (world.slots[index].dense != ~0u)
      return "free list names a live slot";
  }
  // Live and free are disjoint and their counts add up to the table size, so a
  // duplicate in the free list would leave some free slot out: check that every
  // free slot is listed exactly once by counting.
  {
    std::vector<std::uint8_t> seen(world.slots.size(), 0);
    for (const std::uint32_t index : world.free_slots) {
      if (seen[index] != 0)
        return "free list holds a slot twice";
      seen[index] = 1;
    }
  }
  for (std::size_t k = 0; k < world.bodies.size(); ++k) {
    const BodyId id = world.infos[k].id;
    if (id.index >= world.slots.size())
      return "a body's handle names a slot past the table";
    if (k > 0 && !(world.infos[k - 1].id.index < id.index))
      return "bodies are not in id order";
    const Slot& slot = world.slots[id.index];
    if (slot.dense != k)
      return "slot's dense index does not point back at its body";
    if (slot.generation != id.generation)
      return "body's handle generation differs from its slot's";
    if (!std::isfinite(world.infos[k].restitution))
      return "a body's restitution is not finite";
  }
  if (numbers_usable(world.bodies))
    return std::nullopt;
  for (const Body& b : world.bodies) { // which one, and why
    if (!is_finite(b.position) || !is_finite(b.velocity))
      return "a body's position or velocity is not finite";
    if (!(std::isfinite(b.radius) && b.radius > 0.f))
      return "a body's radius is not a positive finite number";
    if (!(std::isfinite(b.inv_mass) && b.inv_mass >= 0.f))
      return "a body's inverse mass is negative or not finite";
  }
  return std::nullopt;
}

std::uint64_t next_random(World& world) { return detail::next_random(world.rng_state); }

float random_float(World& world, float lo, float hi) { return detail::random_float(world.rng_state, lo, hi); }

std::uint64_t body_hash(const Body& b, const BodyInfo& info) {
  Hasher h;
  h.f(b.position.x, b.position.y);
  h.f(b.position.z, b.radius);
  h.f(b.velocity.x, b.velocity.y);
  h.f(b.velocity.z, b.inv_mass);
  h.pair(info.id.index, info.id.generation);
  h.pair(std::bit_cast<std::uint32_t>(info.restitution), info.color);
  h.word(info.user_data);
  return h.finish();
}

std::uint64_t header_hash(const WorldSettings& settings, std::uint64_t tick,
                          std::uint64_t rng_state, std::size_t body_count) {
  // Canonical encoding, field by field (never raw struct bytes: padding is
  // unspecified).
  Hasher h;
  h.word(tick);
  h.word(rng_state);
  for_each_setting(settings, [&](auto v) { h.setting(v); });
  h.word(body_count);
  return h.finish();
}

std::uint64_t world_hash(const World& world) {
  // The bodies' part is a sum, so regions can each add theirs up and the world's
  // hash is the sum of those parts: no one gathers the world to hash it. Ids
  // are in each body's term, so the sum still tells which body holds which state.
  std::uint64_t bodies = 0;
  for (std::size_t k = 0; k < world.bodies.size(); ++k)
    bodies += body_hash(world.bodies[k], world.infos[k]);
  return header_hash(world, world.tick, world.rng_state, world.bodies.size()) ^ bodies;
}

} // namespace troupe::sim
