#version 450
#extension GL_GOOGLE_include_directive : require
// Sphere impostor, fragment stage (both paths): cast the eye ray through this pixel,
// discard misses, write the true depth of the hit and shade Lambert + ambient.
#include "sphere_push.glsl"

// Both vertex paths place their primitive at or before the sphere's nearest point.
layout(depth_greater) out float gl_FragDepth;

layout(location = 0) flat in vec4 v_sphere;
layout(location = 1) flat in vec3 v_color;

layout(location = 0) out vec4 out_color;

const float ambient = 0.3;

void main() {
  vec3 dir = normalize(vec3(gl_FragCoord.xy * pc.ray.xy + pc.ray.zw, -1.0));
  vec3 c = v_sphere.xyz;
  float r = v_sphere.w;
  float b = dot(dir, c);
  // Squared distance of the centre from the ray, taken directly (not |c|^2 - b^2)
  // so far-away small spheres keep their precision.
  vec3 perp = c - b * dir;
  float h = r * r - dot(perp, perp);
  if (h < 0.0) {
    discard;
  }
  vec3 hit = dir * (b - sqrt(h));
  vec3 n = (hit - c) / r;
  gl_FragDepth = pc.proj.w / -hit.z - pc.proj.z; // = project(hit).z / project(hit).w
  float lambert = max(dot(n, pc.light.xyz), 0.0);
  out_color = vec4(v_color * (ambient + (1.0 - ambient) * lambert), 1.0);
}
