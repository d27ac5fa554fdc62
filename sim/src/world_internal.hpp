#pragma once
// Internal helpers shared by the sim/ sources; not part of the public API.

#include <troupe/sim/world.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace troupe::sim::detail {

/// Removes every body whose `marked[k]` is non-zero in one stable pass (O(n),
/// where n single removals would be O(n^2)). Freed slots go on the free list in
/// dense order. Returns how many were removed.
std::size_t remove_marked(World& world, const std::vector<std::uint8_t>& marked);

/// The id a new body gets: the most recently freed slot (LIFO), else a new one.
/// The one rule for ids, for a whole world and for a partitioned world's ledger.
BodyId take_slot(std::vector<Slot>& slots, std::vector<std::uint32_t>& free_slots);

/// Frees a live slot: every handle to it goes stale, and it is reused first.
void release_slot(std::vector<Slot>& slots, std::vector<std::uint32_t>& free_slots,
                  std::uint32_t index);

/// A body's hot part as `spawn` makes it from a spec.
Body make_body(const BodySpec& spec);

/// True for a spec that keeps the invariants (finite, positive radius...).
bool valid_spec(const BodySpec& spec);

/// Reconfigures the fountain; false (nothing changes) for a bad one.
bool set_fountain(WorldSettings& settings, const Fountain& fountain);

/// True when a body has left the arena box (or is no longer finite): the
/// rules remove it in the tick that finds it.
bool left_arena(const Arena& arena, const Body& body);

/// The fountain's body for this tick, or nothing. Draws from `rng_state`.
std::optional<BodySpec> fountain_spawn(const WorldSettings& settings, std::uint64_t tick,
                                       std::size_t alive, std::uint64_t& rng_state);

/// splitmix64 on a bare state (World's generator is this on world.rng_state).
std::uint64_t next_random(std::uint64_t& state);

/// Uniform float in [lo, hi) from a bare generator state.
float random_float(std::uint64_t& state, float lo, float hi);

/// Makes room for `size` elements; when it must grow, to a sixteenth more
/// than asked, not to twice as many: the bodies a step sees (a region's with
/// its ghosts, a world with spawns) move by a few each tick, and doubling
/// would keep buffers for twice as many.
template <class T> void reserve_with_headroom(std::vector<T>& v, std::size_t size) {
  if (v.capacity() < size)
    v.reserve(size + size / 16);
}

} // namespace troupe::sim::detail
