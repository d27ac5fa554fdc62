#version 450
#extension GL_GOOGLE_include_directive : require
// Sphere impostor as one point sprite (the fast path: one vertex and one primitive per
// sphere; lavapipe's cost is per vertex and per primitive, not per pixel). The point
// is the screen-space bounding square of the sphere's projection, centred on it. The
// CPU sends here only spheres whose square fits under the point-size limit and whose
// centre is well inside the view (points with an off-screen centre are discarded by
// clipping); the rest go through sphere_quad.vert.
#include "sphere_push.glsl"

layout(location = 0) in vec4 center_radius; // world space
layout(location = 1) in uint color;         // 0xRRGGBBAA

layout(location = 0) flat out vec4 v_sphere; // view-space centre, radius
layout(location = 1) flat out vec3 v_color;

// Projected extent (tangent of the angle, u / depth) of a circle at lateral offset cu
// and depth cw: the two tangent lines from the eye.
vec2 tangent_bounds(float cu, float cw, float r) {
  float t = sqrt(max(cu * cu + cw * cw - r * r, 0.0));
  return vec2((cu * t - r * cw) / (cw * t + cu * r), (cu * t + r * cw) / (cw * t - cu * r));
}

void main() {
  vec3 c = (pc.view * vec4(center_radius.xyz, 1.0)).xyz;
  float r = center_radius.w;
  float w = -c.z;
  v_sphere = vec4(c, r);
  v_color = unpack_color(color);
  vec2 bx = tangent_bounds(c.x, w, r) * pc.proj.x;
  vec2 by = tangent_bounds(c.y, w, r) * pc.proj.y;
  vec2 lo = vec2(min(bx.x, bx.y), min(by.x, by.y));
  vec2 hi = vec2(max(bx.x, bx.y), max(by.x, by.y));
  vec2 size_px = (hi - lo) * 0.5 * pc.viewport.xy;
  // One pixel of margin: coverage is decided at pixel centres.
  gl_PointSize = min(max(size_px.x, size_px.y) + 1.0, pc.viewport.z);
  // Depth of the sphere's nearest point: every ray hit lies behind it (depth_greater).
  vec4 nearest = project(vec3(0.0, 0.0, -(w - r)));
  gl_Position = vec4(0.5 * (lo + hi), nearest.z / nearest.w, 1.0);
}
