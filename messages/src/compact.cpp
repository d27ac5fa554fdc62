#include <troupe/messages/compact.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <type_traits>

namespace troupe {
namespace {

constexpr std::uint8_t settings_flag = 1;
constexpr std::uint32_t none = ~0u;
// The smallest encoding of a new body: index, generation, three deltas (a byte
// each), radius, colour. Bounds what a count read from garbage may allocate.
constexpr std::size_t min_new_body_bytes = 13;

std::int32_t quantize(float v) {
  if (!std::isfinite(v))
    return 0;
  // Dividing by a power of two is exact; rounding is the only error.
  constexpr double lo = std::numeric_limits<std::int32_t>::min();
  constexpr double hi = std::numeric_limits<std::int32_t>::max();
  const double q = std::clamp(static_cast<double>(v) / static_cast<double>(position_step), lo, hi);
  // Rounds to an integer as std::nearbyint does (in the current rounding
  // mode: to nearest, ties to even), without its call (three per body): below
  // 2^51, adding 1.5 * 2^52 leaves no fraction bits, so the addition rounds.
  // Clamping first gives the same result (lo and hi are integers).
  constexpr double shift = 6755399441055744.0;
  return static_cast<std::int32_t>((q + shift) - shift);
}

float dequantize(std::int32_t q) { return static_cast<float>(q) * position_step; }

// Deltas are taken modulo 2^32, so any two int32 values differ by an int32 and
// the decoder's wrapping sum gives back the exact value.
std::int32_t delta(std::int32_t to, std::int32_t from) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(to) - static_cast<std::uint32_t>(from));
}

std::int32_t add(std::int32_t from, std::int32_t d) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(from) + static_cast<std::uint32_t>(d));
}

std::uint32_t zigzag(std::int32_t v) {
  return (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31);
}

std::int32_t unzigzag(std::uint32_t v) {
  return static_cast<std::int32_t>((v >> 1) ^ (0u - (v & 1u)));
}

/// Appends to a byte vector. It writes through a pointer into room it made
/// (a push_back per byte reloads and stores the vector's size each time) and
/// trims the vector to what it wrote when it goes.
class Writer {
public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out), used_(out.size()) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer() { out_.resize(used_); }
  void u8(std::uint8_t v) { *room(1) = v; ++used_; }
  void varint(std::uint64_t v) {
    std::uint8_t* p = room(10);
    std::uint8_t* const start = p;
    while (v >= 0x80) {
      *p++ = static_cast<std::uint8_t>(v | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<std::uint8_t>(v);
    used_ += static_cast<std::size_t>(p - start);
  }
  void zz(std::int32_t v) { varint(zigzag(v)); }
  void u32(std::uint32_t v) {
    std::uint8_t* p = room(4);
    for (int k = 0; k < 4; ++k)
      p[k] = static_cast<std::uint8_t>(v >> (8 * k));
    used_ += 4;
  }
  void f32(float v) { u32(std::bit_cast<std::uint32_t>(v)); }
  void vec3(sim::Vec3 v) {
    f32(v.x);
    f32(v.y);
    f32(v.z);
  }

private:
  /// Where the next `n` bytes go (the vector grows by half at least).
  std::uint8_t* room(std::size_t n) {
    if (out_.size() - used_ < n)
      out_.resize(std::max(used_ + n, out_.size() + out_.size() / 2 + 64));
    return out_.data() + used_;
  }
  std::vector<std::uint8_t>& out_;
  std::size_t used_;
};

/// Reads bytes with bounds checks: past the end (or an overlong varint) every
/// read fails and `ok()` turns false for good.
class Reader {
public:
  explicit Reader(const std::vector<std::uint8_t>& in) : p_(in.data()), end_(in.data() + in.size()) {}
  bool ok() const { return ok_; }
  std::size_t left() const { return ok_ ? static_cast<std::size_t>(end_ - p_) : 0; }
  std::uint8_t u8() { return need(1) ? *p_++ : 0; }
  std::uint64_t varint() {
    // With room for the longest (ten bytes), no bounds check per byte: most
    // are one byte, the deltas of a settling pile.
    const bool room = ok_ && end_ - p_ >= 10;
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!room && !need(1))
        return 0;
      const std::uint8_t b = *p_++;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (b < 0x80)
        return v;
    }
    ok_ = false; // more than ten bytes
    return 0;
  }
  std::uint32_t varint32() {
    const std::uint64_t v = varint();
    if (v > std::numeric_limits<std::uint32_t>::max())
      ok_ = false;
    return ok_ ? static_cast<std::uint32_t>(v) : 0;
  }
  std::int32_t zz() { return unzigzag(varint32()); }
  std::uint32_t u32() {
    if (!need(4))
      return 0;
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k)
      v |= static_cast<std::uint32_t>(*p_++) << (8 * k);
    return v;
  }
  float f32() { return std::bit_cast<float>(u32()); }
  sim::Vec3 vec3() {
    const float x = f32(), y = f32(), z = f32();
    return {x, y, z};
  }

private:
  bool need(std::size_t n) {
    ok_ = ok_ && static_cast<std::size_t>(end_ - p_) >= n;
    return ok_;
  }
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  bool ok_ = true;
};

/// Reads the gap to the next index of an ascending list (removed bodies, new
/// places, tagged bodies): `next` becomes the index, which must lie below
/// `size`. A gap is refused before it is added, so one near 2^64 cannot wrap
/// round to an index the list already named.
bool next_in_list(Reader& r, std::uint64_t& next, std::uint64_t size) {
  const std::uint64_t gap = r.varint();
  if (!r.ok() || next >= size || gap >= size - next)
    return false;
  next += gap;
  return true;
}

/// The settings' bytes on the wire: each field as for_each_setting lists it.
void write_settings(Writer& w, const sim::WorldSettings& s) {
  sim::for_each_setting(s, [&](auto v) {
    using T = decltype(v);
    if constexpr (std::is_same_v<T, float>)
      w.f32(v);
    else if constexpr (std::is_same_v<T, sim::Vec3>)
      w.vec3(v);
    else if constexpr (std::is_same_v<T, bool>)
      w.u8(v ? 1 : 0);
    else
      w.u32(v);
  });
}

void read_settings(Reader& r, sim::WorldSettings& s) {
  sim::for_each_setting(s, [&](auto& v) {
    using T = std::remove_reference_t<decltype(v)>;
    if constexpr (std::is_same_v<T, float>)
      v = r.f32();
    else if constexpr (std::is_same_v<T, sim::Vec3>)
      v = r.vec3();
    else if constexpr (std::is_same_v<T, bool>)
      v = r.u8() != 0;
    else
      v = r.u32();
  });
}

/// The settings as written: equal bytes are equal bit patterns, so a change
/// from 0 to -0 (or a NaN) is still sent.
std::vector<std::uint8_t> settings_bytes(const sim::WorldSettings& s) {
  std::vector<std::uint8_t> out;
  {
    Writer w(out); // trims `out` as it goes
    write_settings(w, s);
  }
  return out;
}

/// A 32-bit digest of everything a quantized world sends but its generation and
/// tick: catches a delta applied to the wrong base and garbage that parses.
std::uint32_t checksum(const QuantizedWorld& s) {
  // Four independent lanes, one per word of a body, so that the multiplies
  // overlap instead of forming one long chain.
  std::array<std::uint64_t, 4> h{0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull, 0x94d049bb133111ebull,
                                 0x2545f4914f6cdd1dull};
  auto mix = [](std::uint64_t& lane, std::uint64_t v) {
    lane = (lane ^ v) * 0xff51afd7ed558ccdull;
    lane ^= lane >> 32;
  };
  auto u = [](std::int32_t v) { return static_cast<std::uint64_t>(static_cast<std::uint32_t>(v)); };
  auto f = [](float v) { return static_cast<std::uint64_t>(std::bit_cast<std::uint32_t>(v)); };
  std::size_t next_lane = 0;
  for (const std::uint8_t byte : settings_bytes(s.settings))
    mix(h[next_lane++ % 4], byte);
  mix(h[2], s.slot_count);
  mix(h[3], s.bodies.size());
  for (const QuantizedBody& b : s.bodies) {
    mix(h[0], b.id.index | static_cast<std::uint64_t>(b.id.generation) << 32);
    mix(h[1], u(b.x) | u(b.y) << 32);
    mix(h[2], u(b.z) | f(b.radius) << 32);
    mix(h[3], b.color ^ std::rotl(b.user_data, 32));
  }
  std::uint64_t all = 0;
  for (const std::uint64_t lane : h)
    mix(all, lane);
  return static_cast<std::uint32_t>(all ^ (all >> 32));
}

bool moved(const QuantizedBody& a, const QuantizedBody& b) {
  return a.x != b.x || a.y != b.y || a.z != b.z;
}

/// Where each body of `base` sits in `current` if `current` is an ordered
/// successor of it (see the file comment): survivors[i] is the base index of
/// current.bodies[i]; nothing when it is not one.
/// A body of the base that is still in the current world: its index in each.
struct Survivor {
  std::uint32_t current = 0, base = 0;
};

/// The survivors in order, or nothing when the current world is not the base
/// minus some bodies plus some new ones (in any places), with each survivor's
/// looks and data unchanged.
std::optional<std::vector<Survivor>> match(const QuantizedWorld& current,
                                           const QuantizedWorld& base,
                                           std::vector<std::uint32_t>& removed) {
  std::vector<std::uint32_t> where(current.slot_count, none); // slot index -> dense index
  for (std::size_t i = 0; i < current.bodies.size(); ++i)
    if (current.bodies[i].id.index < where.size()) // false only in a broken world
      where[current.bodies[i].id.index] = static_cast<std::uint32_t>(i);
  std::vector<Survivor> survivors;
  survivors.reserve(std::min(current.bodies.size(), base.bodies.size()));
  for (std::size_t j = 0; j < base.bodies.size(); ++j) {
    const QuantizedBody& b = base.bodies[j];
    const std::uint32_t i = b.id.index < where.size() ? where[b.id.index] : none;
    if (i == none || current.bodies[i].id != b.id) {
      removed.push_back(static_cast<std::uint32_t>(j));
      continue;
    }
    const QuantizedBody& c = current.bodies[i];
    const bool in_order = survivors.empty() || survivors.back().current < i;
    if (!in_order || c.color != b.color || c.user_data != b.user_data ||
        std::bit_cast<std::uint32_t>(c.radius) != std::bit_cast<std::uint32_t>(b.radius))
      return std::nullopt; // reordered, or changed looks or data: not expressible as a delta
    survivors.push_back({i, static_cast<std::uint32_t>(j)});
  }
  return survivors;
}

} // namespace

QuantizedWorld quantize(const sim::World& world, std::uint64_t generation) {
  QuantizedWorld s;
  s.generation = generation;
  s.tick = world.tick;
  s.settings = world;
  s.slot_count = static_cast<std::uint32_t>(world.slots.size());
  s.bodies.reserve(world.size()); // each body written once (a resize would write it twice)
  for (std::size_t i = 0; i < world.size(); ++i) {
    const sim::Body& b = world.bodies[i];
    const sim::BodyInfo& info = world.infos[i];
    s.bodies.push_back({info.id, quantize(b.position.x), quantize(b.position.y), quantize(b.position.z),
                        b.radius, info.color, info.user_data});
    // A world that breaks its own invariants still gets a table that holds it.
    if (info.id.index >= s.slot_count && info.id.valid())
      s.slot_count = info.id.index + 1;
  }
  s.checksum = checksum(s);
  return s;
}

sim::World dequantize(const QuantizedWorld& s) {
  sim::World w;
  w.tick = s.tick;
  static_cast<sim::WorldSettings&>(w) = s.settings;
  w.slots.resize(s.slot_count);
  // Each body written once (a resize would write it twice): what is not
  // sent keeps its default.
  w.bodies.reserve(s.bodies.size());
  w.infos.reserve(s.bodies.size());
  for (std::size_t i = 0; i < s.bodies.size(); ++i) {
    const QuantizedBody& q = s.bodies[i];
    sim::Body body;
    body.position = {dequantize(q.x), dequantize(q.y), dequantize(q.z)};
    body.radius = q.radius;
    w.bodies.push_back(body);
    sim::BodyInfo info;
    info.id = q.id;
    info.color = q.color;
    info.user_data = q.user_data;
    w.infos.push_back(info);
    if (q.id.index < w.slots.size())
      w.slots[q.id.index] = {q.id.generation, static_cast<std::uint32_t>(i)};
  }
  for (std::uint32_t k = 0; k < w.slots.size(); ++k)
    if (w.slots[k].dense == none)
      w.free_slots.push_back(k);
  return w;
}

namespace {

/// The body of a compact snapshot (encode_compact's): what changed from `base`
/// (null: a keyframe) to `current`; adds the bodies it sends to `moving`.
void write_compact(Writer&& w, const QuantizedWorld& current, const QuantizedWorld* base,
                   const std::vector<Survivor>& survivors, const std::vector<std::uint32_t>& removed,
                   std::uint32_t& moving) {
  const bool settings = !base || settings_bytes(current.settings) != settings_bytes(base->settings);
  w.u8(settings ? settings_flag : 0);
  if (settings)
    write_settings(w, current.settings);
  w.varint(current.slot_count);

  w.varint(removed.size());
  std::uint32_t next = 0; // the smallest index the next gap may name
  for (const std::uint32_t j : removed) {
    w.varint(j - next);
    next = j + 1;
  }

  // Runs of moved survivors: long runs cost next to nothing when everything
  // falls, isolated ones two bytes when a pile settles.
  const std::size_t kept = survivors.size();
  auto now = [&](std::size_t k) -> const QuantizedBody& { return current.bodies[survivors[k].current]; };
  auto then = [&](std::size_t k) -> const QuantizedBody& { return base->bodies[survivors[k].base]; };
  auto changed = [&](std::size_t k) { return moved(now(k), then(k)); };
  std::vector<std::pair<std::size_t, std::size_t>> runs; // [begin, end)
  for (std::size_t i = 0; i < kept;) {
    if (!changed(i)) {
      ++i;
      continue;
    }
    const std::size_t begin = i;
    while (i < kept && changed(i))
      ++i;
    runs.emplace_back(begin, i);
  }
  w.varint(runs.size());
  std::size_t at = 0;
  for (const auto& [begin, end] : runs) {
    w.varint(begin - at);
    w.varint(end - begin);
    for (std::size_t i = begin; i < end; ++i) {
      const QuantizedBody &c = now(i), &b = then(i);
      w.zz(delta(c.x, b.x));
      w.zz(delta(c.y, b.y));
      w.zz(delta(c.z, b.z));
    }
    moving += static_cast<std::uint32_t>(end - begin);
    at = end;
  }

  // New bodies: where each sits among the current bodies (bodies are in id
  // order, so a reused slot lands among the survivors), then their state.
  std::vector<std::uint32_t> added;
  added.reserve(current.bodies.size() - kept);
  for (std::size_t i = 0, k = 0; i < current.bodies.size(); ++i) {
    if (k < kept && survivors[k].current == i)
      ++k;
    else
      added.push_back(static_cast<std::uint32_t>(i));
  }
  w.varint(added.size());
  std::uint32_t free_place = 0; // the smallest place the next gap may name
  for (const std::uint32_t i : added) {
    w.varint(i - free_place);
    free_place = i + 1;
  }
  QuantizedBody previous{.id = {~0u, 0}};
  for (const std::uint32_t i : added) {
    const QuantizedBody& c = current.bodies[i];
    w.zz(delta(static_cast<std::int32_t>(c.id.index), static_cast<std::int32_t>(previous.id.index + 1)));
    w.varint(c.id.generation);
    w.zz(delta(c.x, previous.x));
    w.zz(delta(c.y, previous.y));
    w.zz(delta(c.z, previous.z));
    w.f32(c.radius);
    w.u32(c.color);
    previous = c;
  }
  // User data, for the new bodies that carry any (most carry none: one byte
  // for them all).
  std::vector<std::size_t> tagged;
  for (std::size_t k = 0; k < added.size(); ++k)
    if (current.bodies[added[k]].user_data != 0)
      tagged.push_back(k);
  w.varint(tagged.size());
  std::size_t after = 0; // the smallest new-body index the next gap may name
  for (const std::size_t k : tagged) {
    w.varint(k - after);
    w.varint(current.bodies[added[k]].user_data);
    after = k + 1;
  }
  moving += static_cast<std::uint32_t>(added.size());
  w.u32(current.checksum);
}

} // namespace

CompactSnapshot encode_compact(const QuantizedWorld& current, const QuantizedWorld* base,
                               const Snapshot& meta) {
  CompactSnapshot out{.generation = meta.generation, .tick = meta.tick, .base_generation = 0,
                      .world_hash = meta.world_hash, .published_ns = meta.published_ns,
                      .acks = meta.acks, .body_count = static_cast<std::uint32_t>(current.bodies.size()),
                      .moving_count = 0, .bytes = {}, .parts = meta.parts, .part = meta.part};
  std::vector<std::uint32_t> removed;
  std::optional<std::vector<Survivor>> survivors;
  if (base)
    survivors = match(current, *base, removed);
  if (!survivors) {
    base = nullptr;
    removed.clear();
    survivors.emplace();
  }
  out.base_generation = base ? base->generation : 0;
  out.bytes.reserve(128 + (base ? 4 : 16) * current.bodies.size());
  write_compact(Writer(out.bytes), current, base, *survivors, removed, out.moving_count);
  return out;
}


DecodeResult decode_compact(const CompactSnapshot& in, const QuantizedWorld* base,
                                          QuantizedWorld& out) {
  auto corrupt = [](const std::string& what) {
    return Error{errc::decode_failed, "corrupt compact snapshot: " + what};
  };
  if ((in.base_generation == 0) != (base == nullptr))
    return Error{errc::decode_failed, in.base_generation ? "compact snapshot needs a base and none was given"
                                          : "a keyframe decoded against a base"};
  if (base && base->generation != in.base_generation)
    return Error{errc::decode_failed, "compact snapshot against generation " + std::to_string(in.base_generation) +
                       ", base given is generation " + std::to_string(base->generation)};
  static const QuantizedWorld nothing;
  const QuantizedWorld& from = base ? *base : nothing;
  Reader r(in.bytes);
  QuantizedWorld s;
  s.generation = in.generation;
  s.tick = in.tick;
  const std::uint8_t flags = r.u8();
  if (flags & ~settings_flag)
    return corrupt("unknown flags");
  if (!base && !(flags & settings_flag))
    return corrupt("keyframe without settings");
  if (flags & settings_flag)
    read_settings(r, s.settings);
  else
    s.settings = from.settings;
  s.slot_count = r.varint32();

  // Removed bodies: mark them, keep the rest in order.
  const std::uint64_t removed = r.varint();
  if (!r.ok() || removed > from.bodies.size())
    return corrupt("removed count");
  std::vector<std::uint8_t> gone(from.bodies.size(), 0);
  std::uint64_t next = 0;
  for (std::uint64_t k = 0; k < removed; ++k) {
    if (!next_in_list(r, next, from.bodies.size()))
      return corrupt("removed index");
    gone[next++] = 1;
  }
  const std::size_t kept = from.bodies.size() - removed;
  s.bodies.reserve(kept);
  // The survivors, a run between removed bodies at a time (a memcpy each).
  for (std::size_t j = 0; j < from.bodies.size();) {
    if (gone[j]) {
      ++j;
      continue;
    }
    const std::size_t begin = j;
    while (j < from.bodies.size() && !gone[j])
      ++j;
    s.bodies.insert(s.bodies.end(), from.bodies.begin() + static_cast<std::ptrdiff_t>(begin),
                    from.bodies.begin() + static_cast<std::ptrdiff_t>(j));
  }

  std::uint32_t moving = 0;
  const std::uint64_t runs = r.varint();
  std::uint64_t at = 0;
  for (std::uint64_t k = 0; r.ok() && k < runs; ++k) {
    const std::uint64_t skip = r.varint(), length = r.varint();
    if (!r.ok() || skip > kept - at || length > kept - at - skip)
      return corrupt("run past the bodies");
    at += skip;
    for (std::uint64_t i = at; i < at + length; ++i) {
      QuantizedBody& b = s.bodies[i];
      b.x = add(b.x, r.zz());
      b.y = add(b.y, r.zz());
      b.z = add(b.z, r.zz());
    }
    at += length;
    moving += static_cast<std::uint32_t>(length);
  }

  const std::uint64_t added = r.varint();
  if (!r.ok() || added > r.left() / min_new_body_bytes)
    return corrupt("new body count");
  const std::uint64_t total = kept + added;
  std::vector<std::uint8_t> is_new(total, 0);
  std::uint64_t free_place = 0;
  for (std::uint64_t k = 0; k < added; ++k) {
    if (!next_in_list(r, free_place, total))
      return corrupt("new body place");
    is_new[free_place++] = 1;
  }
  s.bodies.reserve(total);
  QuantizedBody previous{.id = {~0u, 0}};
  for (std::uint64_t k = 0; k < added; ++k) {
    QuantizedBody b;
    b.id.index = static_cast<std::uint32_t>(add(static_cast<std::int32_t>(previous.id.index + 1), r.zz()));
    b.id.generation = r.varint32();
    b.x = add(previous.x, r.zz());
    b.y = add(previous.y, r.zz());
    b.z = add(previous.z, r.zz());
    b.radius = r.f32();
    b.color = r.u32();
    s.bodies.push_back(b);
    previous = b;
  }
  const std::uint64_t tagged = r.varint();
  if (!r.ok() || tagged > added)
    return corrupt("user data count");
  std::uint64_t after = 0;
  for (std::uint64_t k = 0; k < tagged; ++k) {
    if (!next_in_list(r, after, added))
      return corrupt("user data index");
    s.bodies[kept + after++].user_data = r.varint();
  }
  // Put the new bodies (now at the end) in their places among the survivors.
  if (added > 0) {
    std::vector<QuantizedBody> placed(total);
    for (std::uint64_t i = 0, old = 0, young = kept; i < total; ++i)
      placed[i] = s.bodies[is_new[i] ? young++ : old++];
    s.bodies = std::move(placed);
  }
  moving += static_cast<std::uint32_t>(added);
  const std::uint32_t sum = r.u32();
  if (!r.ok())
    return corrupt("truncated");
  if (r.left() != 0)
    return corrupt(std::to_string(r.left()) + " bytes left over");
  if (s.bodies.size() != in.body_count || moving != in.moving_count)
    return corrupt("body counts differ from the header");
  s.checksum = checksum(s);
  if (s.checksum != sum)
    return corrupt("checksum mismatch (wrong base or damaged bytes)");
  // Every handle must fit the slot table and name one body only: dequantize
  // builds the table from them. (After the checksum, so that garbage never
  // sizes an allocation.)
  if (s.bodies.size() > s.slot_count)
    return corrupt("more bodies than slots");
  std::vector<std::uint8_t> taken(s.slot_count, 0);
  for (const QuantizedBody& b : s.bodies) {
    if (b.id.index >= s.slot_count || taken[b.id.index])
      return corrupt("bad body handle");
    taken[b.id.index] = 1;
  }
  out = std::move(s);
  return std::nullopt;
}

SnapshotHistory::SnapshotHistory(std::size_t depth) : depth_(std::max<std::size_t>(depth, 1)) {}

std::shared_ptr<const QuantizedWorld> SnapshotHistory::add(const Snapshot& snapshot) {
  if (!states_.empty() && states_.back()->generation == snapshot.generation)
    return states_.back();
  while (!states_.empty() && states_.back()->generation >= snapshot.generation)
    states_.pop_back();
  static const sim::World empty;
  states_.push_back(std::make_shared<const QuantizedWorld>(
    quantize(snapshot.world ? *snapshot.world : empty, snapshot.generation)));
  if (states_.size() > depth_)
    states_.pop_front();
  return states_.back();
}

std::shared_ptr<const QuantizedWorld> SnapshotHistory::find(std::uint64_t generation) const {
  for (const auto& s : states_)
    if (s->generation == generation)
      return s;
  return nullptr;
}

SnapshotEncoder::SnapshotEncoder(std::shared_ptr<SnapshotHistory> history, std::uint32_t keyframe_every)
  : history_(std::move(history)), keyframe_every_(keyframe_every) {}

CompactSnapshot SnapshotEncoder::encode(const Snapshot& snapshot, std::uint64_t acked_generation) {
  const auto current = history_->add(snapshot);
  while (!sent_.empty() && sent_.back() >= snapshot.generation)
    sent_.pop_back(); // logic went back to a checkpoint: those generations are gone
  const bool due = keyframe_every_ != 0 && since_keyframe_ + 1 >= keyframe_every_;
  const bool sent = std::find(sent_.begin(), sent_.end(), acked_generation) != sent_.end();
  std::shared_ptr<const QuantizedWorld> base;
  if (!due && sent && acked_generation != 0 && acked_generation < snapshot.generation)
    base = history_->find(acked_generation);
  CompactSnapshot out = encode_compact(*current, base.get(), snapshot);
  since_keyframe_ = out.base_generation == 0 ? 0 : since_keyframe_ + 1;
  sent_.push_back(snapshot.generation);
  if (sent_.size() > history_->depth())
    sent_.pop_front();
  return out;
}

SnapshotDecoder::SnapshotDecoder(std::size_t depth) : depth_(std::max<std::size_t>(depth, 1)) {}

bool SnapshotDecoder::holds(std::uint64_t generation) const {
  return std::any_of(states_.begin(), states_.end(),
                     [&](const auto& s) { return s->generation == generation; });
}

DecodeResult SnapshotDecoder::decode(const CompactSnapshot& in, Snapshot& out) {
  std::shared_ptr<const QuantizedWorld> base;
  if (in.base_generation != 0) {
    for (const auto& s : states_)
      if (s->generation == in.base_generation)
        base = s;
    if (!base)
      return Error{errc::decode_failed, "compact snapshot " + std::to_string(in.generation) + " is a delta against generation " +
                         std::to_string(in.base_generation) + ", which this decoder does not hold"};
  }
  if (in.base_generation != 0 && in.generation <= in.base_generation)
    return Error{errc::decode_failed, "compact snapshot " + std::to_string(in.generation) +
                       " is a delta against a later generation"};
  auto state = std::make_shared<QuantizedWorld>();
  WorldPtr world;
  try {
    if (auto err = decode_compact(in, base.get(), *state))
      return err;
    world = std::make_shared<const sim::World>(dequantize(*state));
  } catch (const std::bad_alloc&) {
    return Error{errc::decode_failed, "compact snapshot: a slot table too big to hold"};
  }
  // A generation at or below one held means logic restarted: drop the future.
  while (!states_.empty() && states_.back()->generation >= in.generation)
    states_.pop_back();
  states_.push_back(std::move(state));
  if (states_.size() > depth_)
    states_.pop_front();
  out = Snapshot{in.generation, in.tick, std::move(world), in.acks, in.world_hash, in.published_ns, in.parts, in.part};
  return std::nullopt;
}

} // namespace troupe
