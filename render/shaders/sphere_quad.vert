#version 450
#extension GL_GOOGLE_include_directive : require
// Sphere impostor as an instanced 4-vertex strip (the general path, for spheres the
// point path cannot take: large on screen, near the eye, or centred off screen). The
// quad faces the eye (perpendicular to the eye->centre ray), sits on the sphere's
// nearest tangent plane and just covers the silhouette cone there, so every pixel of
// the sphere gets a fragment and every ray hit lies behind the quad.
#include "sphere_push.glsl"

layout(location = 0) in vec4 center_radius; // per instance, world space
layout(location = 1) in uint color;         // per instance, 0xRRGGBBAA

layout(location = 0) flat out vec4 v_sphere; // view-space centre, radius
layout(location = 1) flat out vec3 v_color;

void main() {
  vec3 c = (pc.view * vec4(center_radius.xyz, 1.0)).xyz;
  float r = center_radius.w;
  float d = length(c);
  v_sphere = vec4(c, r);
  v_color = unpack_color(color);
  if (d <= r * 1.001) {
    // Eye inside (or on) the sphere: nothing sensible to draw; a degenerate quad.
    gl_Position = vec4(2.0, 2.0, 2.0, 1.0);
    return;
  }
  vec3 dir = c / d;
  vec3 up = abs(dir.y) < 0.99 ? vec3(0.0, 1.0, 0.0) : vec3(1.0, 0.0, 0.0);
  vec3 u = normalize(cross(up, dir));
  vec3 v = cross(dir, u);
  // Radius of the tangent cone at distance d - r from the eye, plus 2% margin.
  float half_size = r * sqrt((d - r) / (d + r)) * 1.02;
  vec2 corner = vec2((gl_VertexIndex & 1) != 0 ? 1.0 : -1.0,
                     (gl_VertexIndex & 2) != 0 ? 1.0 : -1.0);
  gl_Position = project(dir * (d - r) + (u * corner.x + v * corner.y) * half_size);
}
