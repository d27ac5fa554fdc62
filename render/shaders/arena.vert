#version 450
// The arena: mode 0 draws the floor (two triangles at min.y), mode 1 the box's twelve
// edges as a line list. No vertex buffer: corners come from gl_VertexIndex.

layout(push_constant) uniform Push {
  mat4 view_proj;
  vec4 box_min;  // xyz
  vec4 box_max;  // xyz
  vec4 color;    // rgb, a unused
  vec4 params;   // x: mode (0 floor, 1 edges), y: checker cell size in metres
} pc;

layout(location = 0) out vec2 v_floor_xz;

const vec3 floor_corners[6] = vec3[](
  vec3(0, 0, 0), vec3(1, 0, 0), vec3(1, 0, 1),
  vec3(0, 0, 0), vec3(1, 0, 1), vec3(0, 0, 1));

const vec3 edge_corners[24] = vec3[](
  // bottom rectangle
  vec3(0, 0, 0), vec3(1, 0, 0),  vec3(1, 0, 0), vec3(1, 0, 1),
  vec3(1, 0, 1), vec3(0, 0, 1),  vec3(0, 0, 1), vec3(0, 0, 0),
  // top rim
  vec3(0, 1, 0), vec3(1, 1, 0),  vec3(1, 1, 0), vec3(1, 1, 1),
  vec3(1, 1, 1), vec3(0, 1, 1),  vec3(0, 1, 1), vec3(0, 1, 0),
  // vertical edges
  vec3(0, 0, 0), vec3(0, 1, 0),  vec3(1, 0, 0), vec3(1, 1, 0),
  vec3(1, 0, 1), vec3(1, 1, 1),  vec3(0, 0, 1), vec3(0, 1, 1));

void main() {
  vec3 unit = pc.params.x < 0.5 ? floor_corners[gl_VertexIndex] : edge_corners[gl_VertexIndex];
  vec3 p = mix(pc.box_min.xyz, pc.box_max.xyz, unit);
  v_floor_xz = p.xz;
  gl_Position = pc.view_proj * vec4(p, 1.0);
}
