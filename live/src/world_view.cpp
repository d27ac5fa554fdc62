#include <troupe/live/world_view.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>

namespace troupe::live {

namespace {

std::atomic<bool> wanted{false};
std::mutex latest_mutex;
std::shared_ptr<const WorldView> latest;

} // namespace

void want_world_view() { wanted.store(true, std::memory_order_relaxed); }

bool world_view_wanted() { return wanted.load(std::memory_order_relaxed); }

void offer_world_view(const sim::World& world, std::uint64_t generation) {
  if (!wanted.exchange(false, std::memory_order_relaxed))
    return;
  auto view = std::make_shared<WorldView>();
  view->tick = world.tick;
  view->generation = generation;
  view->paused = world.paused;
  view->bodies = world.size();
  view->arena = world.arena;
  const std::size_t stride = std::max<std::size_t>(1, (world.size() + max_view_bodies - 1) / max_view_bodies);
  for (std::size_t i = 0; i < world.size(); i += stride) {
    const auto& body = world.bodies[i];
    view->xyzr.insert(view->xyzr.end(), {body.position.x, body.position.y, body.position.z, body.radius});
    view->colors.push_back(world.infos[i].color);
  }
  std::lock_guard<std::mutex> guard{latest_mutex};
  latest = std::move(view);
}

std::shared_ptr<const WorldView> latest_world_view() {
  std::lock_guard<std::mutex> guard{latest_mutex};
  return latest;
}

} // namespace troupe::live
