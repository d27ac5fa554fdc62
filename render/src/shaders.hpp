#pragma once
/// \file The SPIR-V of render/shaders/*, embedded at build time (see CMakeLists.txt).

#include <cstdint>
#include <span>

namespace troupe::render::shaders {

extern const std::span<const std::uint32_t> sphere_point_vert;
extern const std::span<const std::uint32_t> sphere_quad_vert;
extern const std::span<const std::uint32_t> sphere_frag;
extern const std::span<const std::uint32_t> arena_vert;
extern const std::span<const std::uint32_t> arena_frag;

} // namespace troupe::render::shaders
