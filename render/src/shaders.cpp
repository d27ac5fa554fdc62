// Kept apart from renderer.cpp so that editing a shader recompiles this small TU
// only, not the one that includes vulkan_raii.hpp.
#include "shaders.hpp"

namespace troupe::render::shaders {
namespace {

constexpr std::uint32_t sphere_point_vert_words[] = {
#include "sphere_point.vert.inc"
};
constexpr std::uint32_t sphere_quad_vert_words[] = {
#include "sphere_quad.vert.inc"
};
constexpr std::uint32_t sphere_frag_words[] = {
#include "sphere.frag.inc"
};
constexpr std::uint32_t arena_vert_words[] = {
#include "arena.vert.inc"
};
constexpr std::uint32_t arena_frag_words[] = {
#include "arena.frag.inc"
};

} // namespace

const std::span<const std::uint32_t> sphere_point_vert{sphere_point_vert_words};
const std::span<const std::uint32_t> sphere_quad_vert{sphere_quad_vert_words};
const std::span<const std::uint32_t> sphere_frag{sphere_frag_words};
const std::span<const std::uint32_t> arena_vert{arena_vert_words};
const std::span<const std::uint32_t> arena_frag{arena_frag_words};

} // namespace troupe::render::shaders
