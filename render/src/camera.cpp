#include "camera_math.hpp"

#include <glm/gtc/matrix_transform.hpp>

#include <algorithm>
#include <cmath>

namespace troupe::render {
namespace detail {

glm::mat4 view_matrix(const Camera& camera) {
  const glm::vec3 eye = to_glm(camera.eye), target = to_glm(camera.target);
  const glm::vec3 forward = target - eye;
  // Looking straight up or down: y cannot be "up", take -z (the far side) instead.
  glm::vec3 up{0.f, 1.f, 0.f};
  if (glm::length(glm::cross(forward, up)) <= 1e-6f * glm::length(forward)) {
    up = glm::vec3{0.f, 0.f, -1.f};
  }
  return glm::lookAt(eye, target, up);
}

glm::mat4 projection_matrix(const Camera& camera, float aspect) {
  glm::mat4 proj = glm::perspective(glm::radians(camera.fov_y_degrees), aspect,
                                    camera.near_plane, camera.far_plane);
  proj[1][1] *= -1.f; // Vulkan's y points down; this flips winding too (we cull nothing)
  return proj;
}

} // namespace detail

Camera fit_arena(const sim::Arena& arena, float aspect, float fov_y_degrees) {
  const glm::vec3 lo = detail::to_glm(arena.min), hi = detail::to_glm(arena.max);
  const glm::vec3 centre = 0.5f * (lo + hi);
  // The box's bounding sphere, a little larger for bodies poking over the edges.
  const float radius = std::max(0.5f * glm::length(hi - lo), 1e-3f) * 1.05f;
  const float half_y = 0.5f * glm::radians(fov_y_degrees);
  const float half_x = std::atan(std::tan(half_y) * aspect);
  const float distance = radius / std::sin(std::min(half_y, half_x));
  // Front (+z) and above: about 30 degrees of elevation.
  const glm::vec3 direction = glm::normalize(glm::vec3{0.f, 0.55f, 1.f});
  const glm::vec3 eye = centre + direction * distance;
  Camera camera;
  camera.eye = {eye.x, eye.y, eye.z};
  camera.target = {centre.x, centre.y, centre.z};
  camera.fov_y_degrees = fov_y_degrees;
  camera.near_plane = std::max(0.5f * (distance - radius), 1e-3f);
  camera.far_plane = 1.5f * (distance + radius);
  return camera;
}

std::optional<std::pair<float, float>> project_to_pixel(const Camera& camera,
                                                        std::uint32_t width,
                                                        std::uint32_t height,
                                                        sim::Vec3 point) {
  const float w = static_cast<float>(width), h = static_cast<float>(height);
  const glm::vec4 clip = detail::projection_matrix(camera, w / h) *
                         detail::view_matrix(camera) * glm::vec4(detail::to_glm(point), 1.f);
  if (clip.w <= 0.f) {
    return std::nullopt;
  }
  const glm::vec3 ndc = glm::vec3(clip) / clip.w;
  if (ndc.z < 0.f || ndc.z > 1.f) {
    return std::nullopt;
  }
  return std::pair{(ndc.x * 0.5f + 0.5f) * w, (ndc.y * 0.5f + 0.5f) * h};
}

} // namespace troupe::render
