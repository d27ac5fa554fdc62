// Push constants shared by sphere_point.vert, sphere_quad.vert and sphere.frag
// (128 bytes, the guaranteed limit; must match SpherePush in src/renderer.cpp).
// Per-frame constants are folded on the CPU so the fragment stage, which runs for
// every covered pixel, does as little as possible.
layout(push_constant) uniform Push {
  mat4 view;     // world -> view (the eye looks down -z)
  vec4 proj;     // perspective terms P00, P11 (negative: y flipped), P22, P32
  vec4 viewport; // width, height (pixels), max point size, unused
  vec4 ray;      // view ray through gl_FragCoord: (xy * ray.xy + ray.zw, -1)
  vec4 light;    // unit direction towards the light, view space (w unused)
} pc;

// View space -> Vulkan clip space (y down, depth 0..1) with the four terms above.
vec4 project(vec3 p) {
  return vec4(pc.proj.x * p.x, pc.proj.y * p.y, pc.proj.z * p.z + pc.proj.w, -p.z);
}

// 0xRRGGBBAA read as a little-endian uint: byte 0 is alpha.
vec3 unpack_color(uint rgba) {
  return unpackUnorm4x8(rgba).wzy;
}
