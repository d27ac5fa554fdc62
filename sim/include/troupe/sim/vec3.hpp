#pragma once
/// \file A minimal 3-vector for sim/: plain floats, no SIMD intrinsics, so every
/// operation is exact IEEE-754 and the same on every thread and build.

#include <cmath>

namespace troupe::sim {

/// A point or direction in world space (metres, y up).
struct Vec3 {
  float x = 0.f;
  float y = 0.f;
  float z = 0.f;

  friend constexpr Vec3 operator+(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
  friend constexpr Vec3 operator-(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
  friend constexpr Vec3 operator-(Vec3 a) { return {-a.x, -a.y, -a.z}; }
  friend constexpr Vec3 operator*(Vec3 a, float s) { return {a.x * s, a.y * s, a.z * s}; }
  friend constexpr Vec3 operator*(float s, Vec3 a) { return a * s; }
  constexpr Vec3& operator+=(Vec3 b) { return *this = *this + b; }
  constexpr Vec3& operator-=(Vec3 b) { return *this = *this - b; }
  constexpr Vec3& operator*=(float s) { return *this = *this * s; }
  friend constexpr bool operator==(Vec3, Vec3) = default;
};

/// Dot product.
constexpr float dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }

/// Squared length.
constexpr float length_squared(Vec3 a) { return dot(a, a); }

/// Euclidean length.
inline float length(Vec3 a) { return std::sqrt(length_squared(a)); }

/// True when no component is NaN or infinite.
inline bool is_finite(Vec3 a) {
  return std::isfinite(a.x) && std::isfinite(a.y) && std::isfinite(a.z);
}

} // namespace troupe::sim
