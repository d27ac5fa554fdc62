#pragma once
/// \file Compact snapshots for subscribers on another node: the world quantized
/// and delta-encoded against a generation the subscriber already holds, with a
/// full keyframe every N. A pure codec (no CAF, no IO); the CAF and Boost glue of
/// CompactSnapshot lives with the other messages.
///
/// What survives the trip: body ids, positions (quantized, see position_step),
/// radius, colour and user data (exact), the tick, the world settings
/// (sim::WorldSettings, exact) and the size of the slot table. What does
/// not: velocities, inverse masses, restitution, the generator state and the
/// generations of free slots. The decoded world is a picture for render, audio
/// and observers, not a state to simulate from; its hash is not `world_hash`
/// (which is the hash of the world logic published, carried as is).
///
/// Format of `CompactSnapshot::bytes` (varint = LEB128, zz = zigzag varint,
/// f32/u32 = 4 bytes little-endian):
///   u8 flags (bit 0: the settings follow)
///   [settings: each field in sim::for_each_setting's order: f32 for a float,
///    3 f32 for a Vec3, u8 for a bool, u32 for an integer]
///   varint slot_count
///   varint removed; per removed base body: varint gap (its base index minus the
///     previous removed index plus one)
///   varint runs; per run of changed survivors: varint skip (unchanged survivors
///     before it), varint length, then per body zz dx, zz dy, zz dz
///   varint added; per new body: varint gap (its place among all the decoded
///     bodies minus the previous new body's place plus one); then per new
///     body: zz (index - previous index - 1), varint
///     generation, zz dx dy dz from the previous new body (the first from 0),
///     f32 radius, u32 color
///   varint tagged; per new body with non-zero user data: varint gap (its
///     index among the new bodies minus the previous one's plus one), varint
///     user_data
///   u32 checksum of the decoded quantized state
/// Survivors are the base's bodies less the removed ones, in base order; new
/// bodies sit in the places given. That covers what World does (bodies in id
/// order: a new slot at the end, a reused one among the survivors; removal is a
/// stable erase); a world that breaks it (bodies reordered, one recoloured) is
/// simply sent as a keyframe (so is one whose user data changed). A keyframe is a
/// delta against nothing: every body new.

#include <troupe/messages/codec.hpp>
#include <troupe/messages/messages.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

namespace troupe {

/// A snapshot as it crosses a node boundary: see the file comment.
struct CompactSnapshot {
  std::uint64_t generation = 0;
  std::uint64_t tick = 0;
  std::uint64_t base_generation = 0; ///< 0: a keyframe
  std::uint64_t world_hash = 0;      ///< of the world logic published (not the decoded one)
  std::int64_t published_ns = 0;
  std::vector<SourceAck> acks;
  std::uint32_t body_count = 0;
  std::uint32_t moving_count = 0;    ///< bodies new or moved vs the base (all on a keyframe)
  std::vector<std::uint8_t> bytes;   ///< the encoded bodies
  std::uint32_t parts = 0;           ///< as Snapshot::parts and part
  std::uint32_t part = 0;
};

/// Positions travel as integers in steps of 1/1024 m: the error is at most half a
/// step, 0.49 mm per axis (0.85 mm in space), far below a pixel of any view of a
/// metre-sized arena. Exact in float for |position| < 16 km.
inline constexpr float position_step = 1.f / 1024.f;

/// One body as it is sent.
struct QuantizedBody {
  sim::BodyId id;
  std::int32_t x = 0, y = 0, z = 0; ///< position / position_step, rounded
  float radius = 0.f;
  std::uint32_t color = 0;
  std::uint64_t user_data = 0;
};

/// A world as it is sent: what both ends hold for each generation.
struct QuantizedWorld {
  std::uint64_t generation = 0;
  std::uint64_t tick = 0;
  sim::WorldSettings settings;
  std::uint32_t slot_count = 0;
  std::vector<QuantizedBody> bodies; ///< id order, as the world keeps them
  std::uint32_t checksum = 0;        ///< of all the above but generation and tick
};

/// Quantizes a world (non-finite coordinates become 0, huge ones are clamped).
QuantizedWorld quantize(const sim::World& world, std::uint64_t generation);

/// The world a subscriber sees: quantized positions, zero velocities, defaults
/// for what is not sent; its slot table names every body, so sim::find works.
sim::World dequantize(const QuantizedWorld& state);

/// Encodes `current` against `base` (nullptr: a keyframe) with the metadata of
/// `meta` (generation, tick, acks, hash, publication time; its world is not
/// read). Falls back to a keyframe when `current` is not an ordered successor of
/// `base`. A pure function of its arguments.
CompactSnapshot encode_compact(const QuantizedWorld& current, const QuantizedWorld* base,
                               const Snapshot& meta);

/// Decodes `in` against `base` (which must be the state of in.base_generation;
/// nullptr for a keyframe) into `out`. Never reads out of bounds; garbage gives
/// an error and leaves `out` unchanged.
DecodeResult decode_compact(const CompactSnapshot& in, const QuantizedWorld* base,
                                          QuantizedWorld& out);

/// The quantized states of the last `depth` generations logic published, shared
/// by the encoders of all remote subscribers so that each world is quantized
/// once. Not thread-safe: used from logic's own thread.
class SnapshotHistory {
public:
  explicit SnapshotHistory(std::size_t depth = 16);

  /// The state of `snapshot`, quantized on the first call for its generation. A
  /// generation at or below one already held (logic restarted from a
  /// checkpoint) replaces that one and drops everything after it.
  std::shared_ptr<const QuantizedWorld> add(const Snapshot& snapshot);

  /// The state of a generation, or nullptr when it is not held (any more).
  std::shared_ptr<const QuantizedWorld> find(std::uint64_t generation) const;

  std::size_t depth() const { return depth_; }

private:
  std::size_t depth_;
  std::deque<std::shared_ptr<const QuantizedWorld>> states_; // ascending generation
};

/// One remote subscriber's encoder: deltas against the newest generation it
/// acknowledged, keyframes when there is none it can use.
class SnapshotEncoder {
public:
  /// `keyframe_every`: a keyframe at least every this many snapshots (1:
  /// keyframes only; 0: only when there is no usable base).
  explicit SnapshotEncoder(std::shared_ptr<SnapshotHistory> history,
                           std::uint32_t keyframe_every = 60);

  /// Encodes `snapshot` against `acked_generation`, the newest generation the
  /// subscriber reported it decoded (0: none yet; generations start at 1). A keyframe when that
  /// generation is not among the history's nor the last `depth` this encoder sent
  /// (so the subscriber's decoder of the same depth still holds it), or when a
  /// keyframe is due.
  CompactSnapshot encode(const Snapshot& snapshot, std::uint64_t acked_generation);

private:
  std::shared_ptr<SnapshotHistory> history_;
  std::uint32_t keyframe_every_;
  std::uint32_t since_keyframe_ = 0; ///< snapshots sent since the last keyframe
  std::deque<std::uint64_t> sent_;   ///< generations sent, oldest first
};

/// A subscriber's decoder: holds the states of the last `depth` generations it
/// decoded, the bases of the deltas to come.
class SnapshotDecoder {
public:
  explicit SnapshotDecoder(std::size_t depth = 16);

  /// The snapshot `in` stands for, its world rebuilt by `dequantize`. An error
  /// (and `out` unchanged) when the base generation is not held (the sender will
  /// send a keyframe once it sees no ack) or the bytes are corrupt.
  DecodeResult decode(const CompactSnapshot& in, Snapshot& out);

  /// Whether the state of a generation is held (a base deltas may use).
  bool holds(std::uint64_t generation) const;

private:
  std::size_t depth_;
  std::deque<std::shared_ptr<const QuantizedWorld>> states_; // ascending generation
};

} // namespace troupe
