// Fault injection: real failures (an exception out of a handler) at seeded
// ticks, for users who want to see supervision work and for the chaos tests.

#include "subsystems.hpp"

#include <stdexcept>

namespace troupe {

void Chaos::strike(std::uint64_t tick) const {
  if (kill_at && incarnation == 0 && tick == *kill_at)
    throw std::runtime_error("killed by --kill " + name + "@" + std::to_string(tick));
  if (probability <= 0)
    return;
  // splitmix64 over (seed, name, tick, incarnation): the same run fails at the
  // same places, and a new incarnation draws again instead of failing forever.
  std::uint64_t z = seed ^ 0x9e3779b97f4a7c15ull;
  for (char c : name)
    z = (z ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  z ^= tick * 0xbf58476d1ce4e5b9ull + incarnation * 0x94d049bb133111ebull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  const double draw = static_cast<double>(z >> 11) * 0x1.0p-53;
  if (draw < probability)
    throw std::runtime_error("chaos: injected failure in " + name + " at tick " + std::to_string(tick) +
                             " (incarnation " + std::to_string(incarnation) + ")");
}

} // namespace troupe
