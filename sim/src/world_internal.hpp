#pragma once
// Internal helpers shared by the sim/ sources; not part of the public API.

#include <troupe/sim/world.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace troupe::sim::detail {

/// Removes every body whose `marked[k]` is non-zero in one stable pass (O(n),
/// where n single removals would be O(n^2)). Freed slots go on the free list in
/// dense order. Returns how many were removed.
std::size_t remove_marked(World& world, const std::vector<std::uint8_t>& marked);

} // namespace troupe::sim::detail
