#pragma once
/// \file What the dashboard shows of the world (docs/architecture.md, "Live
/// view"): a small top-down picture, made on the tick path only when a viewer
/// asked for one since the last, so an unwatched run never pays for it, and
/// never holding the world itself (that would make physics copy it).

#include <troupe/sim/world.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace troupe::live {

struct WorldView {
  std::uint64_t tick = 0;
  std::uint64_t generation = 0;
  bool paused = false;
  std::size_t bodies = 0;   ///< live bodies in the world
  sim::Arena arena;
  /// At most `max_view_bodies`, evenly sampled: x, y, z and radius per body.
  std::vector<float> xyzr;
  std::vector<std::uint32_t> colors; ///< 0xRRGGBBAA per body shown
};

constexpr std::size_t max_view_bodies = 4096;

/// A viewer asks for a fresh picture.
void want_world_view();
/// True when one was asked for and not made since: the world's owner (logic,
/// or a reader assembling a world run as regions) then offers its world.
bool world_view_wanted();
/// Makes the picture of `world` (only while wanted; another may just have).
void offer_world_view(const sim::World& world, std::uint64_t generation);
/// The newest picture, or null.
std::shared_ptr<const WorldView> latest_world_view();

} // namespace troupe::live
