// The physics step: sub-stepped position-based dynamics with Jacobi iterations.
//
// Layout of one step:
//   1. reduce   (parallel, dense order)  bounds of the centres, max radius, max speed
//   2. bin      (sequential, O(n))       counting sort of bodies by grid cell; this
//                                        "sorted order" (cell, then dense index) is
//                                        what every later pass walks, for locality
//   3. gather   (parallel, sorted)       work arrays in sorted order, first prediction
//   4. neighbours (parallel, sorted)     per-body candidate lists -> CSR
//   5. per substep: `iterations` Jacobi position passes, then one velocity pass
//      (restitution, friction, walls, events) that also predicts the next substep
//   6. scatter  (parallel, sorted)       results back to the world in dense order
//
// Determinism: every per-body result is computed by one task from inputs that all
// tasks see identically (Jacobi: read buffer A, write buffer B), each body sums its
// own contacts in its own neighbour-list order, and reductions across chunks are
// min/max or integer sums. So the result is bit-identical for any thread count and
// any chunk size. Events are gathered per chunk and then sorted by a complete key.
#include <troupe/sim/physics.hpp>

#include "world_internal.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace troupe::sim {

namespace {

/// A 16-byte lane: position + radius, or velocity + unused.
struct alignas(16) F4 {
  float x, y, z, w;
};
static_assert(sizeof(F4) == 16);

// ---- 4-lane helpers ---------------------------------------------------------
// The contact loops run four neighbour-list entries at a time in GCC/Clang vector
// types: lane-wise IEEE add/sub/mul/div/sqrt, no FMA (-ffp-contract=off), so every
// lane computes exactly what the scalar expression would. Lists are padded to a
// multiple of four with a far-away dummy body, and per-lane partial sums are
// combined in a fixed order, so results do not depend on threads or chunks.
using v4f = float __attribute__((vector_size(16)));
using v4i = std::int32_t __attribute__((vector_size(16)));

inline v4f splat(float v) { return v4f{v, v, v, v}; }
inline v4f select(v4i mask, v4f a, v4f b) {
  return reinterpret_cast<v4f>((reinterpret_cast<v4i>(a) & mask) |
                               (reinterpret_cast<v4i>(b) & ~mask));
}
inline v4f vsqrt(v4f x) {
#if defined(__SSE2__)
  return _mm_sqrt_ps(x);
#else
  return v4f{std::sqrt(x[0]), std::sqrt(x[1]), std::sqrt(x[2]), std::sqrt(x[3])};
#endif
}
inline bool any(v4i m) { return (m[0] | m[1] | m[2] | m[3]) != 0; }
inline bool all_lanes(v4i m) { return (m[0] & m[1] & m[2] & m[3]) == -1; }
/// Fixed-order horizontal sum.
inline float hsum(v4f v) { return (v[0] + v[1]) + (v[2] + v[3]); }
inline v4f load4(const float* p) {
  v4f v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, v4f v) { __builtin_memcpy(p, &v, sizeof v); }

constexpr std::uint32_t wall_code_base = 0xFFFFFFF0u; // sorts after every body
constexpr std::size_t min_parallel = 2048;

/// Walls in event order: floor, -x, +x, -z, +z.
enum Wall : std::uint32_t { floor_wall, min_x_wall, max_x_wall, min_z_wall, max_z_wall };

struct Bounds {
  float lo[3] = {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity(),
                 std::numeric_limits<float>::infinity()};
  float hi[3] = {-std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                 -std::numeric_limits<float>::infinity()};
  float max_radius = 0.f;
  float max_margin = 0.f;
};

/// An impact seen in one substep; several per pair are reduced to one per tick.
struct Candidate {
  std::uint32_t a = 0;      // dense index of the lower body
  std::uint32_t b_code = 0; // dense index of the other body, or wall_code_base + wall
  std::uint32_t substep = 0;
  Vec3 point;
  Vec3 normal;
  float impulse = 0.f;
  float approach = 0.f;
};

/// Buffers reused across steps on one calling thread, so a step at steady state
/// allocates nothing. Nothing in here carries state from one step to the next:
/// every value is written before it is read within a step.
struct Scratch {
  std::vector<std::uint32_t> cell_of;    // dense -> cell
  std::vector<std::uint32_t> cell_start; // cells + 1
  std::vector<std::uint32_t> order;      // sorted -> dense
  std::vector<F4> p_start, p_pred, p_a, p_b; // x y z radius
  std::vector<F4> query;                     // x y z radius+margin (neighbour search)
  std::vector<F4> v_pre, v_out;              // x y z restitution
  std::vector<F4> v_der;                     // x y z (w unused)
  std::vector<float> inv_mass;
  std::vector<std::uint16_t> last_pass;  // sorted order: see step()'s last_pass
  std::vector<std::uint32_t> counts, offsets, nbr; // CSR over sorted order
  std::vector<float> lambda; // per entry: penetration at the substep's prediction
  std::vector<std::vector<std::uint32_t>> chunk_nbr;
  std::vector<std::vector<Candidate>> chunk_events;
  std::vector<std::uint64_t> chunk_contacts;
  std::vector<std::size_t> chunk_used;  // entries of chunk_nbr in use (padded)
  std::vector<std::size_t> chunk_pairs; // real (unpadded) entries per chunk
  std::vector<Bounds> chunk_bounds;
  std::vector<Candidate> events;
};

thread_local Scratch tl_scratch;

/// Sizes a buffer of the scratch, growing it by a sixteenth, not by twice as
/// resize would (detail::reserve_with_headroom).
template <class T> void fit(std::vector<T>& v, std::size_t size) {
  detail::reserve_with_headroom(v, size);
  v.resize(size);
}

inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

/// A body's broadphase margin (reach_of adds its radius: how far its
/// candidate pairs reach). It covers its motion over the whole step (the
/// lists serve every substep), |v| dt + |g| dt^2, capped at its radius so one
/// fast body cannot blow up the grid, plus a small slop for the position
/// corrections. It reads the body
/// alone, never a figure of the whole world (such as the largest radius): so
/// a region that holds a part of the world finds the same pairs.
inline float margin_of(const Body& body, float dt, float motion_extra) {
  const float speed = body.inv_mass > 0.f ? length(body.velocity) : 0.f;
  const float m = speed * dt + motion_extra;
  const float r = body.radius;
  return (m < r ? m : r) + 0.02f * r; // NaN -> r
}
inline float reach_of(const Body& body, float dt, float motion_extra) {
  return body.radius + margin_of(body, dt, motion_extra);
}

/// Whether two bodies (centre and reach) are a candidate pair of the step:
/// the one test the neighbour lists and pair_hops share.
inline bool candidates(const F4& a, const F4& b) {
  const float dx = a.x - b.x, dy = a.y - b.y, dz = a.z - b.z;
  const float r = a.w + b.w;
  return dx * dx + dy * dy + dz * dz < r * r;
}

/// Grid cell coordinate along one axis; NaN and out-of-range values clamp to the
/// border cells. Clamping keeps neighbouring cells neighbouring (it is
/// 1-Lipschitz), so outliers cost time, never contacts.
inline std::uint32_t cell_coord(float v, float origin, float inv_cell, std::uint32_t n) {
  const float f = (v - origin) * inv_cell;
  if (!(f >= 0.f))
    return 0;
  if (!(f < static_cast<float>(n)))
    return n - 1;
  return std::min(static_cast<std::uint32_t>(f), n - 1);
}

struct Grid {
  float origin[3] = {0.f, 0.f, 0.f};
  float cell = 1.f;
  float inv_cell = 1.f;
  std::uint32_t n[3] = {1, 1, 1};
  std::uint32_t cells() const { return n[0] * n[1] * n[2]; }
  std::uint32_t index(std::uint32_t ix, std::uint32_t iy, std::uint32_t iz) const {
    // x fastest: the three cells of a row are contiguous, so one range of the
    // sorted bodies covers them.
    return (iz * n[1] + iy) * n[0] + ix;
  }
  /// The cell of a point (clamped into the grid).
  std::uint32_t cell_of(float x, float y, float z) const {
    return index(cell_coord(x, origin[0], inv_cell, n[0]), cell_coord(y, origin[1], inv_cell, n[1]),
                 cell_coord(z, origin[2], inv_cell, n[2]));
  }
  /// Cells of at least `cell` over [lo, hi], grown until there are at most
  /// `limit` of them (bigger cells stay correct, only slower to scan).
  static Grid over(const float lo[3], const float hi[3], float cell, double limit) {
    for (;;) {
      double total = 1.0;
      for (int a = 0; a < 3; ++a)
        total *= std::floor(static_cast<double>(hi[a] - lo[a]) / cell) + 1.0;
      if (total <= limit)
        break;
      cell *= 1.25f;
    }
    Grid grid;
    grid.cell = cell;
    grid.inv_cell = 1.f / cell;
    for (int a = 0; a < 3; ++a) {
      grid.origin[a] = lo[a];
      grid.n[a] = static_cast<std::uint32_t>((hi[a] - lo[a]) / cell) + 1;
    }
    return grid;
  }
};

/// Counting sort by cell, stable (ties keep index order): order[0, n) gets the
/// indices 0..n-1 of `cell_of` by cell, and start (cells + 1 entries) where
/// each cell's run begins: cell c holds order[start[c], start[c + 1]).
void sort_by_cell(std::span<const std::uint32_t> cell_of, std::uint32_t cells, std::vector<std::uint32_t>& start,
                  std::uint32_t* order) {
  start.assign(static_cast<std::size_t>(cells) + 1, 0);
  for (const std::uint32_t c : cell_of)
    ++start[c + 1];
  for (std::uint32_t c = 0; c < cells; ++c)
    start[c + 1] += start[c];
  // start[c] is used as the fill cursor, then shifted back.
  for (std::size_t k = 0; k < cell_of.size(); ++k)
    order[start[cell_of[k]]++] = static_cast<std::uint32_t>(k);
  for (std::uint32_t c = cells; c > 0; --c)
    start[c] = start[c - 1];
  start[0] = 0;
}

std::size_t chunk_size(std::size_t n) {
  // About 32 chunks: enough for load balance on a few workers, few enough that
  // task overhead stays small. Results never depend on it.
  return std::clamp<std::size_t>(n / 32, 256, 4096);
}

struct Context {
  const PhysicsSettings* settings = nullptr;
  Scratch* s = nullptr;
  float h = 0.f;       // substep
  float inv_h = 0.f;
  float damp = 1.f;    // velocity factor per substep
  Vec3 gh;             // gravity * h
  float rest_threshold = 0.f; // approach speeds at or below this do not bounce
  Vec3 amin, amax;
  const std::uint16_t* last_pass = nullptr; // sorted order; null: every body takes every pass
  /// Whether body `i` (sorted) takes its contacts in pass `pass`.
  bool active(std::size_t i, std::uint32_t pass) const { return !last_pass || last_pass[i] >= pass; }
};

/// Four entries' F4s, transposed: x, y, z and w of each as lanes.
struct Lanes {
  v4f x, y, z, w;
};
template <class F4T>
inline Lanes gather(const F4T* base, const std::uint32_t* idx) {
#if defined(__SSE2__)
  __m128 a = _mm_load_ps(&base[idx[0]].x);
  __m128 b = _mm_load_ps(&base[idx[1]].x);
  __m128 c = _mm_load_ps(&base[idx[2]].x);
  __m128 d = _mm_load_ps(&base[idx[3]].x);
  _MM_TRANSPOSE4_PS(a, b, c, d);
  return {static_cast<v4f>(a), static_cast<v4f>(b), static_cast<v4f>(c), static_cast<v4f>(d)};
#else
  const auto& a = base[idx[0]];
  const auto& b = base[idx[1]];
  const auto& c = base[idx[2]];
  const auto& d = base[idx[3]];
  return {v4f{a.x, b.x, c.x, d.x}, v4f{a.y, b.y, c.y, d.y}, v4f{a.z, b.z, c.z, d.z},
          v4f{a.w, b.w, c.w, d.w}};
#endif
}

inline v4i load_index_lanes(const std::uint32_t* p) {
  v4i v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

/// Dense indices (id order) of four neighbour-list entries: what breaks the tie
/// of two coincident centres, the same in every world that holds both bodies.
inline v4i dense_lanes(const std::uint32_t* order, const std::uint32_t* idx) {
  return v4i{static_cast<std::int32_t>(order[idx[0]]), static_cast<std::int32_t>(order[idx[1]]),
             static_cast<std::int32_t>(order[idx[2]]), static_cast<std::int32_t>(order[idx[3]])};
}

// One Jacobi position iteration over sorted bodies [begin, end): reads `src`,
// writes `dst`. The first iteration records each entry's penetration (lambda);
// the last derives velocities.
void position_pass(const Context& c, std::size_t begin, std::size_t end, const F4* src, F4* dst,
                   bool first, bool last, std::uint32_t pass) {
  Scratch& s = *c.s;
  const std::uint32_t* offsets = s.offsets.data();
  const std::uint32_t* nbr = s.nbr.data();
  const float* w = s.inv_mass.data();
  float* lambda = s.lambda.data();
  const std::uint32_t* order = s.order.data();
  const float relax = c.settings->relaxation;
  const v4f zero = splat(0.f);
  for (std::size_t i = begin; i < end; ++i) {
    const F4 pi = src[i];
    const float wi = w[i];
    const v4f px = splat(pi.x), py = splat(pi.y), pz = splat(pi.z), pr = splat(pi.w);
    const v4f wi4 = splat(wi);
    const auto di = static_cast<std::int32_t>(order[i]);
    const v4i self_dense{di, di, di, di};
    v4f sx = zero, sy = zero, sz = zero;
    v4i count{0, 0, 0, 0};
    const std::uint32_t e_end = c.active(i, pass) ? offsets[i + 1] : offsets[i];
    for (std::uint32_t e = offsets[i]; e < e_end; e += 4) {
      const Lanes pj = gather(src, nbr + e);
      const v4f dx = px - pj.x, dy = py - pj.y, dz = pz - pj.z;
      const v4f d2 = dx * dx + dy * dy + dz * dz;
      const v4f r = pr + pj.w;
      const v4i hit = d2 < r * r;
      if (!any(hit)) {
        if (first)
          store4(lambda + e, zero);
        continue;
      }
      const v4f dist = vsqrt(d2);
      const v4f pen = r - dist;
      if (first)
        store4(lambda + e, select(hit, pen, zero));
      const std::uint32_t* j4 = nbr + e;
      const v4f wsum = wi4 + v4f{w[j4[0]], w[j4[1]], w[j4[2]], w[j4[3]]};
      const v4i movable = hit & (wsum > zero);
      // Body i's part of the correction: n * pen * w_i / (w_i + w_j) with
      // n = d / dist, in one division per contact.
      const v4f pw = pen * wi4;
      const v4f k = select(movable & (dist > zero), pw / (wsum * dist), zero);
      sx += dx * k;
      sy += dy * k;
      sz += dz * k;
      // Coincident centres: an antisymmetric fallback keeps the pair consistent.
      const v4i coincident = movable & (dist == zero);
      if (any(coincident)) {
        const v4i j = dense_lanes(order, nbr + e);
        const v4f part = select(coincident, pw / wsum, zero);
        sy += select(self_dense > j, part, -part);
      }
      count -= hit; // a true lane is -1
    }
    F4 p = pi;
    if (wi > 0.f) {
      const int n_contacts = count[0] + count[1] + count[2] + count[3];
      if (n_contacts > 0) {
        const float k = relax / static_cast<float>(n_contacts);
        p.x += hsum(sx) * k;
        p.y += hsum(sy) * k;
        p.z += hsum(sz) * k;
      }
      // Walls are exact projections (infinite mass), after the averaged contacts,
      // so nothing leaves through the floor or the sides however deep the pile.
      p.y = std::max(p.y, c.amin.y + p.w);
      p.x = clampf(p.x, c.amin.x + p.w, c.amax.x - p.w);
      p.z = clampf(p.z, c.amin.z + p.w, c.amax.z - p.w);
    }
    dst[i] = p;
    if (last) {
      const F4 p0 = s.p_start[i];
      s.v_der[i] = wi > 0.f ? F4{(p.x - p0.x) * c.inv_h, (p.y - p0.y) * c.inv_h,
                                 (p.z - p0.z) * c.inv_h, 0.f}
                            : F4{0.f, 0.f, 0.f, 0.f};
    }
  }
}

/// Predicts a body's next substep from its velocity.
inline void predict(const Context& c, std::size_t i, F4 p, F4 v, float wi) {
  Scratch& s = *c.s;
  s.p_start[i] = p;
  if (wi > 0.f) {
    const float vx = v.x * c.damp + c.gh.x;
    const float vy = v.y * c.damp + c.gh.y;
    const float vz = v.z * c.damp + c.gh.z;
    s.p_pred[i] = F4{p.x + vx * c.h, p.y + vy * c.h, p.z + vz * c.h, p.w};
  } else {
    s.p_pred[i] = p;
  }
}

/// Restitution and friction against one wall. `vn` is the velocity along the
/// wall's inward normal, `ta`/`tb` the tangential components; `vn_pre` the normal
/// velocity at the start of the substep; `pen` the prediction's penetration.
/// Returns the approach speed.
inline float wall_contact(const Context& c, float& vn, float& ta, float& tb, float vn_pre,
                          float pen, float restitution, float& target) {
  const float approach = -vn_pre;
  const float e = approach > c.rest_threshold ? restitution : 0.f;
  target = std::max(e * approach, 0.f);
  vn = target;
  const float t2 = ta * ta + tb * tb;
  const float fmax = c.settings->friction * pen * c.inv_h;
  if (fmax * fmax >= t2) {
    ta = 0.f;
    tb = 0.f;
  } else {
    const float f = 1.f - fmax / std::sqrt(t2);
    ta *= f;
    tb *= f;
  }
  return approach;
}

// The velocity pass over sorted bodies [begin, end): restitution and friction for
// every contact of this substep (Jacobi again: reads v_der/v_pre, writes v_out),
// then the walls; records impacts; predicts the next substep unless `last`.
void velocity_pass(const Context& c, std::size_t chunk_index, std::size_t begin, std::size_t end,
                   const F4* pf, std::uint32_t substep, bool last, std::uint32_t pass) {
  Scratch& s = *c.s;
  const std::uint32_t* offsets = s.offsets.data();
  const std::uint32_t* nbr = s.nbr.data();
  const std::uint32_t* order = s.order.data();
  const float* w = s.inv_mass.data();
  const float* lambda = s.lambda.data();
  const F4* vder = s.v_der.data();
  const F4* vpre = s.v_pre.data();
  const v4f mu_h = splat(c.settings->friction * c.inv_h);
  const v4f event_speed = splat(c.settings->contact_event_speed);
  const v4f rest_threshold = splat(c.rest_threshold);
  const v4f zero = splat(0.f);
  std::vector<Candidate>& events = s.chunk_events[chunk_index];
  std::uint64_t contacts = 0;
  v4i contacts_lanes{0, 0, 0, 0};
  for (std::size_t i = begin; i < end; ++i) {
    const F4 pi = pf[i];
    const F4 vi = vder[i];
    const F4 vpi = vpre[i]; // w: restitution
    const float wi = w[i];
    const v4f px = splat(pi.x), py = splat(pi.y), pz = splat(pi.z);
    const v4f vx_i = splat(vi.x), vy_i = splat(vi.y), vz_i = splat(vi.z);
    const v4f wi4 = splat(wi);
    const v4f ux_i = splat(vpi.x), uy_i = splat(vpi.y), uz_i = splat(vpi.z), ue_i = splat(vpi.w);
    const v4i self{static_cast<std::int32_t>(i), static_cast<std::int32_t>(i),
                   static_cast<std::int32_t>(i), static_cast<std::int32_t>(i)};
    const auto di = static_cast<std::int32_t>(order[i]);
    const v4i self_dense{di, di, di, di};
    v4f sx = zero, sy = zero, sz = zero;
    v4i count{0, 0, 0, 0};
    const std::uint32_t e_end = c.active(i, pass) ? offsets[i + 1] : offsets[i];
    for (std::uint32_t e = offsets[i]; e < e_end; e += 4) {
      const v4f lam = load4(lambda + e);
      const v4i act = lam > zero;
      if (!any(act))
        continue;
      const v4i j = load_index_lanes(nbr + e);
      if (last)
        contacts_lanes -= act & (self < j); // a true lane is -1
      const Lanes pj = gather(pf, nbr + e);
      const v4f dx = px - pj.x, dy = py - pj.y, dz = pz - pj.z;
      const v4f d2 = dx * dx + dy * dy + dz * dz;
      const v4i apart = d2 > zero;
      const v4f inv = splat(1.f) / vsqrt(d2);
      const v4f nx = select(apart, dx * inv, zero);
      v4f ny = dy * inv;
      if (!all_lanes(apart)) {
        const v4i dj = dense_lanes(order, nbr + e);
        ny = select(apart, ny, select(self_dense > dj, splat(1.f), splat(-1.f)));
      }
      const v4f nz = select(apart, dz * inv, zero);
      const Lanes vj = gather(vder, nbr + e);
      const v4f rvx = vx_i - vj.x, rvy = vy_i - vj.y, rvz = vz_i - vj.z;
      const v4f vn = rvx * nx + rvy * ny + rvz * nz;
      const Lanes uj = gather(vpre, nbr + e); // w: restitution
      const v4f vn_pre = (ux_i - uj.x) * nx + (uy_i - uj.y) * ny + (uz_i - uj.z) * nz;
      const v4f approach = -vn_pre;
      const v4f e_max = select(ue_i > uj.w, ue_i, uj.w);
      const v4f e_pair = select(approach > rest_threshold, e_max, zero);
      const v4f bounce = e_pair * approach;
      const v4f target = select(bounce > zero, bounce, zero);
      const v4f dvn = target - vn;
      // Coulomb-like friction: the tangential change is bounded by mu times the
      // normal push of this substep (penetration / h), and never reverses v_t.
      const v4f tx = rvx - nx * vn, ty = rvy - ny * vn, tz = rvz - nz * vn;
      const v4f t2 = tx * tx + ty * ty + tz * tz;
      const v4f fmax = mu_h * lam;
      const v4f f = select(fmax * fmax >= t2, splat(1.f), fmax / vsqrt(t2));
      const std::uint32_t* j4 = nbr + e;
      const v4f wsum = wi4 + v4f{w[j4[0]], w[j4[1]], w[j4[2]], w[j4[3]]};
      // Body i's part: w_i / (w_i + w_j); nothing for inactive lanes or two
      // static bodies.
      const v4f sh = select(act & (wsum > zero), wi4 / wsum, zero);
      sx += (nx * dvn - tx * f) * sh;
      sy += (ny * dvn - ty * f) * sh;
      sz += (nz * dvn - tz * f) * sh;
      count -= act;
      const v4i impact = act & (approach >= event_speed);
      if (any(impact)) {
        for (int lane = 0; lane < 4; ++lane) {
          const std::uint32_t jl = nbr[e + static_cast<std::uint32_t>(lane)];
          if (impact[lane] == 0 || !(order[i] < order[jl]))
            continue;
          const float pair_wsum = wsum[lane];
          if (!(pair_wsum > 0.f))
            continue;
          Candidate ev;
          ev.a = order[i];
          ev.b_code = order[jl];
          ev.substep = substep;
          ev.normal = Vec3{nx[lane], ny[lane], nz[lane]};
          ev.point = Vec3{pi.x - nx[lane] * pi.w, pi.y - ny[lane] * pi.w, pi.z - nz[lane] * pi.w};
          ev.approach = approach[lane];
          ev.impulse = (target[lane] + approach[lane]) / pair_wsum;
          events.push_back(ev);
        }
      }
    }
    float vx = vi.x, vy = vi.y, vz = vi.z;
    if (wi > 0.f) {
      const int n_contacts = count[0] + count[1] + count[2] + count[3];
      if (n_contacts > 0) {
        const float k = 1.f / static_cast<float>(n_contacts);
        vx += hsum(sx) * k;
        vy += hsum(sy) * k;
        vz += hsum(sz) * k;
      }
      // Walls: the prediction's penetration tells whether the wall pushed this
      // substep and how hard (for friction); walls do not move. Fixed order:
      // floor, -x, +x, -z, +z.
      const F4 pp = s.p_pred[i];
      const float r = pi.w;
      const float pens[5] = {(c.amin.y + r) - pp.y, (c.amin.x + r) - pp.x,
                             pp.x - (c.amax.x - r), (c.amin.z + r) - pp.z,
                             pp.z - (c.amax.z - r)};
      if (pens[0] > 0.f || pens[1] > 0.f || pens[2] > 0.f || pens[3] > 0.f || pens[4] > 0.f) {
        for (std::uint32_t wall = 0; wall < 5; ++wall) {
          const float pen = pens[wall];
          if (!(pen > 0.f))
            continue;
          if (last)
            ++contacts;
          float approach = 0.f, target = 0.f;
          float vn = 0.f;
          switch (wall) {
          case floor_wall:
            approach = wall_contact(c, vy, vx, vz, vpi.y, pen, vpi.w, target);
            break;
          case min_x_wall:
            approach = wall_contact(c, vx, vy, vz, vpi.x, pen, vpi.w, target);
            break;
          case max_x_wall:
            vn = -vx;
            approach = wall_contact(c, vn, vy, vz, -vpi.x, pen, vpi.w, target);
            vx = -vn;
            break;
          case min_z_wall:
            approach = wall_contact(c, vz, vx, vy, vpi.z, pen, vpi.w, target);
            break;
          default:
            vn = -vz;
            approach = wall_contact(c, vn, vx, vy, -vpi.z, pen, vpi.w, target);
            vz = -vn;
            break;
          }
          if (approach >= c.settings->contact_event_speed) {
            Candidate ev;
            ev.a = order[i];
            ev.b_code = wall_code_base + wall;
            ev.substep = substep;
            Vec3 normal;
            Vec3 point{pi.x, pi.y, pi.z};
            switch (wall) {
            case floor_wall: normal = {0.f, 1.f, 0.f}; point.y = c.amin.y; break;
            case min_x_wall: normal = {1.f, 0.f, 0.f}; point.x = c.amin.x; break;
            case max_x_wall: normal = {-1.f, 0.f, 0.f}; point.x = c.amax.x; break;
            case min_z_wall: normal = {0.f, 0.f, 1.f}; point.z = c.amin.z; break;
            default: normal = {0.f, 0.f, -1.f}; point.z = c.amax.z; break;
            }
            ev.normal = normal;
            ev.point = point;
            ev.approach = approach;
            ev.impulse = (target + approach) / wi;
            events.push_back(ev);
          }
        }
      }
    } else {
      vx = vy = vz = 0.f;
    }
    const F4 v{vx, vy, vz, vpi.w};
    s.v_out[i] = v;
    if (!last)
      predict(c, i, pi, v, wi);
  }
  contacts += static_cast<std::uint64_t>(
    contacts_lanes[0] + contacts_lanes[1] + contacts_lanes[2] + contacts_lanes[3]);
  s.chunk_contacts[chunk_index] += contacts;
}

} // namespace

StepStats step(World& world, const PhysicsSettings& settings, const Parallel& parallel,
               std::vector<ContactEvent>& events, std::span<const std::uint16_t> last_pass) {
  StepStats stats;
  const std::size_t n = world.bodies.size();
  const bool can_move = std::isfinite(world.dt) && world.dt > 0.f;
  if (world.paused || n == 0 || !can_move) {
    ++world.tick;
    return stats;
  }
  Scratch& s = tl_scratch;
  const std::size_t chunk = chunk_size(n);
  const std::size_t chunks = (n + chunk - 1) / chunk;
  const std::uint32_t substeps = std::max(1u, settings.substeps);
  const std::uint32_t iterations = std::max(1u, settings.iterations);
  const float dt = world.dt;
  const Vec3 g = world.gravity;
  const float g_len = length(g);

  s.chunk_bounds.assign(chunks, Bounds{});
  s.chunk_nbr.resize(std::max(s.chunk_nbr.size(), chunks));
  s.chunk_events.resize(std::max(s.chunk_events.size(), chunks));
  s.chunk_contacts.assign(chunks, 0);
  s.chunk_used.assign(chunks, 0);
  s.chunk_pairs.assign(chunks, 0);
  fit(s.cell_of, n);
  fit(s.order, n + 1);
  s.order[n] = static_cast<std::uint32_t>(n); // the dummy's "dense index"
  // Arrays read through neighbour indices get one more element: the dummy body
  // (index n) that pads every list to a multiple of four. It is far away (never
  // in contact) and at rest.
  for (auto* v : {&s.p_start, &s.p_pred, &s.p_a, &s.p_b, &s.query, &s.v_pre, &s.v_out, &s.v_der})
    fit(*v, n + 1);
  {
    constexpr float far = 1e18f; // squares stay finite
    const F4 dummy_p{far, far, far, 0.f};
    for (auto* v : {&s.p_start, &s.p_pred, &s.p_a, &s.p_b, &s.query})
      (*v)[n] = dummy_p;
    for (auto* v : {&s.v_pre, &s.v_out, &s.v_der})
      (*v)[n] = F4{0.f, 0.f, 0.f, 0.f};
  }
  fit(s.inv_mass, n + 1);
  s.inv_mass[n] = 0.f;
  fit(s.counts, n);
  fit(s.offsets, n + 1);

  // A body's margin (margin_of): what it may move in the step, and a slop.
  const float motion_extra = g_len * dt * dt;

  // 1. Reduce: bounds of finite centres, largest radius and margin. Min/max are
  // exact, so the combine order does not matter.
  const Body* bodies = world.bodies.data();
  parallel.for_chunks(n, chunk, [&](std::size_t begin, std::size_t end) {
    Bounds b;
    for (std::size_t k = begin; k < end; ++k) {
      const Body& body = bodies[k];
      if (!is_finite(body.position))
        continue;
      const float p[3] = {body.position.x, body.position.y, body.position.z};
      for (int a = 0; a < 3; ++a) {
        b.lo[a] = std::min(b.lo[a], p[a]);
        b.hi[a] = std::max(b.hi[a], p[a]);
      }
      b.max_radius = std::max(b.max_radius, body.radius);
      b.max_margin = std::max(b.max_margin, margin_of(body, dt, motion_extra));
    }
    s.chunk_bounds[begin / chunk] = b;
  }, min_parallel);
  Bounds all;
  for (const Bounds& b : s.chunk_bounds) {
    for (int a = 0; a < 3; ++a) {
      all.lo[a] = std::min(all.lo[a], b.lo[a]);
      all.hi[a] = std::max(all.hi[a], b.hi[a]);
    }
    all.max_radius = std::max(all.max_radius, b.max_radius);
    all.max_margin = std::max(all.max_margin, b.max_margin);
  }
  // The largest radius and margin only size the grid and the scan: which pairs
  // are candidates is decided per pair, from the two bodies alone.
  const float rmax = all.max_radius > 0.f ? all.max_radius : 1.f;
  const float max_margin = all.max_margin;
  // Largest distance at which two centres can become a candidate pair.
  const float max_reach = 2.f * (rmax + max_margin);

  // 2. Bin: grid of cells half the largest reach (so a body scans at most 5x5
  // rows of cells, trimmed to its own reach), over the centres' bounds clipped to
  // the arena plus a reach.
  Grid grid;
  {
    float cell = 0.5f * max_reach * 1.001f;
    const Vec3 amin = world.arena.min, amax = world.arena.max;
    const float amin3[3] = {amin.x, amin.y, amin.z};
    const float amax3[3] = {amax.x, amax.y, amax.z};
    float lo[3], hi[3];
    for (int a = 0; a < 3; ++a) {
      if (all.lo[a] > all.hi[a]) { // no finite body
        lo[a] = hi[a] = 0.f;
        continue;
      }
      lo[a] = std::max(all.lo[a], amin3[a] - max_reach);
      hi[a] = std::min(all.hi[a], amax3[a] + max_reach);
      if (lo[a] > hi[a])
        hi[a] = lo[a];
    }
    // Cap the cell count near the body count.
    grid = Grid::over(lo, hi, cell, 8.0 * static_cast<double>(n) + 4096.0);
  }
  const std::uint32_t cells = grid.cells();
  parallel.for_chunks(n, chunk, [&](std::size_t begin, std::size_t end) {
    for (std::size_t k = begin; k < end; ++k) {
      const Vec3 p = bodies[k].position;
      s.cell_of[k] = grid.cell_of(p.x, p.y, p.z);
    }
  }, min_parallel);
  // Sequential but O(n) with a tiny constant.
  sort_by_cell({s.cell_of.data(), n}, cells, s.cell_start, s.order.data());

  Context c;
  c.settings = &settings;
  c.s = &s;
  c.h = dt / static_cast<float>(substeps);
  c.inv_h = 1.f / c.h;
  c.damp = 1.f / (1.f + std::max(0.f, settings.linear_damping) * c.h);
  c.gh = g * c.h;
  c.rest_threshold = 2.f * g_len * c.h;
  c.amin = world.arena.min;
  c.amax = world.arena.max;
  if (last_pass.size() == n) {
    fit(s.last_pass, n);
    c.last_pass = s.last_pass.data();
  }

  // 3. Gather into sorted order and predict the first substep.
  const BodyInfo* infos = world.infos.data();
  parallel.for_chunks(n, chunk, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      const std::uint32_t d = s.order[i];
      const Body& b = bodies[d];
      const float wi = b.inv_mass;
      const Vec3 v = wi > 0.f ? b.velocity : Vec3{};
      const F4 p{b.position.x, b.position.y, b.position.z, b.radius};
      s.inv_mass[i] = wi;
      s.query[i] = F4{p.x, p.y, p.z, reach_of(b, dt, motion_extra)};
      const F4 v4{v.x, v.y, v.z, infos[d].restitution};
      s.v_pre[i] = v4;
      predict(c, i, p, v4, wi);
      if (c.last_pass)
        s.last_pass[i] = last_pass[d];
    }
  }, min_parallel);

  // 4. Neighbour lists: each body scans the rows of cells its reach touches
  // (r_i + m_i + r_max + m_max) for centres closer than r_i + m_i + r_j + m_j. Lists
  // are built per chunk, then copied into one CSR array at chunk offsets. List
  // order: by id (dense index), so the order a body sums its contacts in does
  // not depend on the grid, and so not on which other bodies are in this world.
  parallel.for_chunks(n, chunk, [&](std::size_t begin, std::size_t end) {
    std::vector<std::uint32_t>& out = s.chunk_nbr[begin / chunk];
    std::size_t used = 0;
    std::size_t pairs = 0;
    const F4* q = s.query.data();
    const std::uint32_t* cell_start = s.cell_start.data();
    const float extra = rmax + max_margin;
    constexpr float inf = std::numeric_limits<float>::infinity();
    // Gap between a coordinate and the slab of cell `k` on an axis; the border
    // cells reach to infinity (outliers are clamped into them). Shrunk a hair so
    // rounding in cell_coord can never drop a candidate.
    auto gap = [&](int axis, std::uint32_t k, float v) {
      const float lo = k == 0 ? -inf : grid.origin[axis] + static_cast<float>(k) * grid.cell;
      const float hi =
        k + 1 == grid.n[axis] ? inf : grid.origin[axis] + static_cast<float>(k + 1) * grid.cell;
      const float d = std::max(lo - v, v - hi) - 1e-4f * grid.cell;
      return d > 0.f ? d : 0.f;
    };
    for (std::size_t i = begin; i < end; ++i) {
      const F4 qi = q[i];
      const float reach = qi.w + extra;
      const float reach2 = reach * reach;
      const std::size_t before = used;
      const std::uint32_t x0 = cell_coord(qi.x - reach, grid.origin[0], grid.inv_cell, grid.n[0]);
      const std::uint32_t x1 = cell_coord(qi.x + reach, grid.origin[0], grid.inv_cell, grid.n[0]);
      const std::uint32_t y0 = cell_coord(qi.y - reach, grid.origin[1], grid.inv_cell, grid.n[1]);
      const std::uint32_t y1 = cell_coord(qi.y + reach, grid.origin[1], grid.inv_cell, grid.n[1]);
      const std::uint32_t z0 = cell_coord(qi.z - reach, grid.origin[2], grid.inv_cell, grid.n[2]);
      const std::uint32_t z1 = cell_coord(qi.z + reach, grid.origin[2], grid.inv_cell, grid.n[2]);
      const bool finite = std::isfinite(qi.x) && std::isfinite(qi.y) && std::isfinite(qi.z);
      if (finite) {
        // Every row is a sub-range of the block's span in sorted order, so that
        // span bounds the candidates: one capacity check per body.
        const std::uint32_t span =
          cell_start[grid.index(x1, y1, z1) + 1] - cell_start[grid.index(x0, y0, z0)];
        if (out.size() < used + span + 4)
          out.resize(std::max(2 * out.size(), used + span + 1024));
        float gys[8];
        for (std::uint32_t y = y0; y <= y1 && y - y0 < 8; ++y) {
          const float gy = gap(1, y, qi.y);
          gys[y - y0] = gy * gy;
        }
        std::uint32_t* dst = out.data() + used;
        for (std::uint32_t z = z0; z <= z1; ++z) {
          const float gz = gap(2, z, qi.z);
          const float left = reach2 - gz * gz;
          std::uint32_t row = grid.index(x0, y0, z);
          for (std::uint32_t y = y0; y <= y1; ++y, row += grid.n[0]) {
            if (y - y0 < 8 && !(gys[y - y0] < left))
              continue; // the whole row is out of reach
            const std::uint32_t jb = cell_start[row];
            const std::uint32_t je = cell_start[row + (x1 - x0) + 1];
            for (std::uint32_t j = jb; j < je; ++j) {
              // Branch-free append: write always, advance only on a hit.
              *dst = j;
              dst += static_cast<std::size_t>(candidates(qi, q[j]) & (j != i));
            }
          }
        }
        used = static_cast<std::size_t>(dst - out.data());
        // Id order (insertion sort: lists are short and come nearly sorted).
        std::uint32_t* list = out.data() + before;
        const std::uint32_t* dense = s.order.data();
        for (std::size_t a = 1; a < used - before; ++a) {
          const std::uint32_t j = list[a];
          const std::uint32_t key = dense[j];
          std::size_t b = a;
          for (; b > 0 && dense[list[b - 1]] > key; --b)
            list[b] = list[b - 1];
          list[b] = j;
        }
      }
      // Pad to a multiple of four with the dummy body.
      const std::size_t real = used;
      if (out.size() < used + 3)
        out.resize(std::max(2 * out.size(), used + 1024));
      while ((used - before) % 4 != 0)
        out[used++] = static_cast<std::uint32_t>(n);
      s.counts[i] = static_cast<std::uint32_t>(used - before);
      pairs += real - before;
    }
    s.chunk_used[begin / chunk] = used;
    s.chunk_pairs[begin / chunk] = pairs;
  }, min_parallel);
  {
    std::size_t total = 0;
    for (std::size_t k = 0; k < chunks; ++k)
      total += s.chunk_used[k];
    fit(s.nbr, total);
    fit(s.lambda, total);
    std::size_t entries = 0;
    for (std::size_t k = 0; k < chunks; ++k)
      entries += s.chunk_pairs[k];
    stats.pairs_tested = entries / 2;
  }
  // Chunk bases are a prefix over chunk totals (short, sequential); the rest runs
  // per chunk.
  {
    std::uint32_t base = 0;
    for (std::size_t k = 0; k < chunks; ++k) {
      s.offsets[k * chunk] = base; // first body's offset in chunk k
      base += static_cast<std::uint32_t>(s.chunk_used[k]);
    }
    s.offsets[n] = base;
  }
  parallel.for_chunks(n, chunk, [&](std::size_t begin, std::size_t end) {
    std::uint32_t at = s.offsets[begin];
    for (std::size_t i = begin; i < end; ++i) {
      s.offsets[i] = at;
      at += s.counts[i];
    }
    const std::size_t k = begin / chunk;
    const std::size_t used = s.chunk_used[k];
    std::copy_n(s.chunk_nbr[k].begin(), used, s.nbr.begin() + s.offsets[begin]);
  }, min_parallel);

  // 5. Substeps.
  for (std::size_t k = 0; k < chunks; ++k)
    s.chunk_events[k].clear();
  const F4* final_p = nullptr;
  for (std::uint32_t sub = 0; sub < substeps; ++sub) {
    const bool last_sub = sub + 1 == substeps;
    const F4* src = s.p_pred.data();
    for (std::uint32_t it = 0; it < iterations; ++it) {
      F4* dst = (it % 2 == 0) ? s.p_a.data() : s.p_b.data();
      const bool first = it == 0, last = it + 1 == iterations;
      const std::uint32_t pass = sub * (iterations + 1) + it + 1;
      parallel.for_chunks(n, chunk, [&](std::size_t begin, std::size_t end) {
        position_pass(c, begin, end, src, dst, first, last, pass);
      }, min_parallel);
      src = dst;
    }
    final_p = src;
    const std::uint32_t velocity_pass_index = (sub + 1) * (iterations + 1);
    parallel.for_chunks(n, chunk, [&](std::size_t begin, std::size_t end) {
      velocity_pass(c, begin / chunk, begin, end, final_p, sub, last_sub, velocity_pass_index);
    }, min_parallel);
    // The output velocity is the next substep's starting velocity.
    std::swap(s.v_pre, s.v_out);
  }
  // After the swap v_pre holds the final velocities.

  // 6. Scatter back in dense order (each sorted body writes its own dense slot).
  Body* out_bodies = world.bodies.data();
  parallel.for_chunks(n, chunk, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      if (!(s.inv_mass[i] > 0.f))
        continue; // static bodies keep their state untouched
      Body& b = out_bodies[s.order[i]];
      const F4 p = final_p[i];
      const F4 v = s.v_pre[i];
      b.position = Vec3{p.x, p.y, p.z};
      b.velocity = Vec3{v.x, v.y, v.z};
    }
  }, min_parallel);

  for (std::size_t k = 0; k < chunks; ++k)
    stats.contacts += s.chunk_contacts[k];

  // Events: concatenate in chunk order, then order by (a, b, substep) — a complete
  // key, so the result does not depend on how chunks ran — and keep one per pair
  // (the fastest approach; the earliest substep on ties).
  s.events.clear();
  for (std::size_t k = 0; k < chunks; ++k)
    s.events.insert(s.events.end(), s.chunk_events[k].begin(), s.chunk_events[k].end());
  std::sort(s.events.begin(), s.events.end(), [](const Candidate& x, const Candidate& y) {
    if (x.a != y.a)
      return x.a < y.a;
    if (x.b_code != y.b_code)
      return x.b_code < y.b_code;
    return x.substep < y.substep;
  });
  for (std::size_t k = 0; k < s.events.size();) {
    std::size_t best = k, m = k + 1;
    while (m < s.events.size() && s.events[m].a == s.events[k].a &&
           s.events[m].b_code == s.events[k].b_code) {
      if (s.events[m].approach > s.events[best].approach)
        best = m;
      ++m;
    }
    const Candidate& ev = s.events[best];
    ContactEvent out;
    out.a = infos[ev.a].id;
    out.b = ev.b_code >= wall_code_base ? BodyId{} : infos[ev.b_code].id;
    out.point = ev.point;
    out.normal = ev.normal;
    out.impulse = ev.impulse;
    out.approach_speed = ev.approach;
    out.radius = world.bodies[ev.a].radius;
    out.restitution = infos[ev.a].restitution;
    events.push_back(out);
    k = m;
  }

  ++world.tick;
  return stats;
}

float candidate_reach(const Body& body, float dt, float gravity) {
  return reach_of(body, dt, gravity * dt * dt);
}

std::vector<std::uint16_t> pair_hops(const World& world, std::span<const std::uint16_t> start, std::uint16_t most) {
  const std::size_t n = world.bodies.size();
  const std::uint16_t beyond = most == std::numeric_limits<std::uint16_t>::max() ? most : most + 1;
  std::vector<std::uint16_t> hops(n, beyond);
  const float dt = world.dt;
  const float motion_extra = length(world.gravity) * dt * dt;
  // Each body as the step's broadphase sees it (centre and reach); the
  // bodies a path may reach (start not 0, finite centre: one that is not
  // finite is in no pair) go in a grid.
  std::vector<F4> q(n);
  std::vector<std::uint32_t> others;
  float reach_max = 0.f, anchor_reach = 0.f;
  float lo[3] = {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity(),
                 std::numeric_limits<float>::infinity()};
  float hi[3] = {-lo[0], -lo[1], -lo[2]};
  for (std::size_t k = 0; k < n; ++k) {
    const Body& b = world.bodies[k];
    q[k] = F4{b.position.x, b.position.y, b.position.z, reach_of(b, dt, motion_extra)};
    hops[k] = std::min(k < start.size() ? start[k] : beyond, beyond);
    if (hops[k] == 0) {
      anchor_reach = std::max(anchor_reach, q[k].w);
      continue;
    }
    if (!is_finite(b.position))
      continue;
    others.push_back(static_cast<std::uint32_t>(k));
    reach_max = std::max(reach_max, q[k].w);
    const float p[3] = {b.position.x, b.position.y, b.position.z};
    for (int a = 0; a < 3; ++a) {
      lo[a] = std::min(lo[a], p[a]);
      hi[a] = std::max(hi[a], p[a]);
    }
  }
  if (others.empty() || most == 0)
    return hops;
  // A grid of the others, cells at least as wide as any pair reaches, so a
  // body's pairs lie in the cells within one cell of it.
  float cell = std::max(reach_max + std::max(reach_max, anchor_reach), 1e-6f) * 1.001f;
  if (!std::isfinite(cell)) {
    for (const std::uint32_t k : others)
      hops[k] = std::min<std::uint16_t>(hops[k], 1); // no grid to search by: as near as a pair can be
    return hops;
  }
  const Grid grid = Grid::over(lo, hi, cell, 4.0 * static_cast<double>(others.size()) + 64.0);
  cell = grid.cell;
  auto coord = [&](int a, float v) { return cell_coord(v, grid.origin[a], grid.inv_cell, grid.n[a]); };
  const std::uint32_t cells = grid.cells();
  std::vector<std::uint32_t> start_of, sorted(others.size()), cell_of(others.size());
  for (std::size_t o = 0; o < others.size(); ++o) {
    const F4& p = q[others[o]];
    cell_of[o] = grid.cell_of(p.x, p.y, p.z);
  }
  sort_by_cell(cell_of, cells, start_of, sorted.data());
  for (std::uint32_t& o : sorted)
    o = others[o]; // places in `others` -> bodies
  // Calls f(j) for each other body j that makes a candidate pair with `from`.
  auto pairs_of = [&](const F4& from, auto&& f) {
    const float v[3] = {from.x, from.y, from.z};
    for (int a = 0; a < 3; ++a)
      if (!(v[a] >= lo[a] - cell && v[a] <= hi[a] + cell))
        return; // farther than a cell from every other body (or not finite)
    const std::uint32_t x0 = coord(0, from.x - cell), x1 = coord(0, from.x + cell);
    const std::uint32_t y0 = coord(1, from.y - cell), y1 = coord(1, from.y + cell);
    const std::uint32_t z0 = coord(2, from.z - cell), z1 = coord(2, from.z + cell);
    for (std::uint32_t z = z0; z <= z1; ++z)
      for (std::uint32_t y = y0; y <= y1; ++y)
        for (std::uint32_t j = start_of[grid.index(x0, y, z)]; j < start_of[grid.index(x1, y, z) + 1]; ++j)
          if (candidates(from, q[sorted[j]]))
            f(sorted[j]);
  };
  // Breadth first, a bucket per count (a body may start at any count up to
  // `most`): the anchors reach their pairs at 1.
  std::vector<std::vector<std::uint32_t>> bucket(static_cast<std::size_t>(most) + 1);
  for (const std::uint32_t k : others)
    if (hops[k] <= most)
      bucket[hops[k]].push_back(k);
  for (std::size_t k = 0; k < n; ++k)
    if (hops[k] == 0)
      pairs_of(q[k], [&](std::uint32_t j) {
        if (hops[j] > 1) {
          hops[j] = 1;
          bucket[1].push_back(j);
        }
      });
  for (std::uint16_t h = 1; h < most; ++h)
    for (std::size_t b = 0; b < bucket[h].size(); ++b) {
      const std::uint32_t k = bucket[h][b];
      if (hops[k] != h)
        continue; // reached cheaper since
      pairs_of(q[k], [&](std::uint32_t j) {
        if (hops[j] > h + 1) {
          hops[j] = static_cast<std::uint16_t>(h + 1);
          bucket[h + 1].push_back(j);
        }
      });
    }
  return hops;
}

std::vector<std::uint16_t> hops_to_own(const World& world, std::span<const std::uint8_t> own,
                                       std::uint16_t most) {
  std::vector<std::uint16_t> start(world.bodies.size(), std::numeric_limits<std::uint16_t>::max());
  for (std::size_t k = 0; k < start.size() && k < own.size(); ++k)
    if (own[k] != 0)
      start[k] = 0;
  return pair_hops(world, start, most);
}

double kinetic_energy(const World& world) {
  double e = 0.0;
  for (const Body& b : world.bodies) {
    if (!(b.inv_mass > 0.f))
      continue;
    e += 0.5 * static_cast<double>(length_squared(b.velocity)) / static_cast<double>(b.inv_mass);
  }
  return e;
}

} // namespace troupe::sim
