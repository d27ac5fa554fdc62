#pragma once
/// \file Camera matrices for the Vulkan clip space (y down, depth 0..1). Internal.

#include <troupe/render/renderer.hpp>

#include <glm/glm.hpp>

namespace troupe::render::detail {

inline glm::vec3 to_glm(sim::Vec3 v) { return {v.x, v.y, v.z}; }

/// World -> view (right-handed, the eye looks down -z, y up).
glm::mat4 view_matrix(const Camera& camera);

/// View -> Vulkan clip space, y flipped so image row 0 is the top of the view.
glm::mat4 projection_matrix(const Camera& camera, float aspect);

} // namespace troupe::render::detail
