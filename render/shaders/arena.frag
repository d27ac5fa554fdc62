#version 450
// The arena: a two-tone checkered floor (so depth and scale read at a glance) and
// plain-coloured edges.

layout(push_constant) uniform Push {
  mat4 view_proj;
  vec4 box_min;
  vec4 box_max;
  vec4 color;
  vec4 params;
} pc;

layout(location = 0) in vec2 v_floor_xz;
layout(location = 0) out vec4 out_color;

void main() {
  if (pc.params.x < 0.5) {
    ivec2 cell = ivec2(floor(v_floor_xz / pc.params.y));
    float shade = ((cell.x + cell.y) & 1) == 0 ? 1.0 : 0.8;
    out_color = vec4(pc.color.rgb * shade, 1.0);
  } else {
    out_color = vec4(pc.color.rgb, 1.0);
  }
}
