#pragma once
/// \file Boost.Serialization codecs: messages to bytes and back (the wire payload
/// of WireEnvelope) and checkpoint files. Decoding never throws: bad input gives
/// an Error (errc::decode_failed, or errc::protocol_mismatch for another
/// protocol version) and the target is left unchanged.

#include <troupe/error.hpp>
#include <troupe/messages/messages.hpp>

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace troupe {

/// Why bytes could not be decoded (an Error of code decode_failed or
/// protocol_mismatch), or nothing.
using DecodeResult = std::optional<Error>;

/// Encodes a message type of messages.hpp (or sim::World) with Boost's binary
/// archive.
template <class T> std::vector<char> encode(const T& value);

/// Decodes what `encode` wrote into `out`; returns an error (and leaves `out` as
/// it was) for truncated or corrupt bytes.
template <class T> DecodeResult decode(const std::vector<char>& bytes, T& out);

/// Wraps `value` in a WireEnvelope of this protocol version.
template <class T> WireEnvelope wrap(const T& value);

/// Unwraps an envelope, refusing another protocol version or another kind.
template <class T> DecodeResult unwrap(const WireEnvelope& envelope, T& out);

/// Serialises an envelope to one byte string: version, kind, payload length,
/// an XXH3-64 checksum of the payload, the payload. Whoever reads a frame
/// checks size, length and checksum before a byte of the payload is decoded.
std::vector<char> frame(const WireEnvelope& envelope);

/// Sets the length and checksum fields of a frame to match its payload (what
/// encode_framed does last; the fuzz target uses it to reach the payload
/// decoder with bytes of its own).
void seal_frame(std::vector<char>& bytes);

/// Reads what `frame` wrote.
DecodeResult unframe(const std::vector<char>& bytes, WireEnvelope& out);

/// `frame(wrap(value))` written straight into `out` (replacing its contents, but
/// keeping its capacity): one pass over the bytes and no fresh allocation when
/// `out` is reused. This is what goes on the wire.
template <class T> void encode_framed(const T& value, std::vector<char>& out);

/// encode_framed appended to `out` (what it held before is kept).
template <class T> void append_framed(const T& value, std::vector<char>& out);

/// How many bytes encode_framed writes for `value`, counted without writing them.
template <class T> std::size_t framed_size(const T& value);

/// Reads what `encode_framed` wrote, in place: refuses another protocol version
/// or kind, never throws, leaves `out` unchanged on error.
template <class T> DecodeResult decode_framed(std::span<const char> bytes, T& out);

/// A resumable state: the world after a tick, the acknowledgements that go with
/// it, and the generation of its snapshot.
///
/// A world run as regions is saved as a consistent cut: one file per region
/// and one for logic, all after the same tick (docs/architecture.md,
/// "Regions"). Then `parts` is the number of regions; region i's piece has
/// `part` = i and its bodies in `world` (sim::part_world); logic's has `part` =
/// `parts`, an empty `world` and everything else in `ledger`.
struct Checkpoint {
  std::uint64_t generation = 0;
  sim::World world;
  std::vector<SourceAck> acks;
  std::uint32_t parts = 0;
  std::uint32_t part = 0;
  sim::Ledger ledger;
  std::uint64_t world_hash = 0; ///< of the whole world after the tick (logic's piece of a cut)
  std::uint64_t published_events = 0; ///< contact events logic published through the tick (ContactBatch)

  /// The ticks completed when it was written.
  std::uint64_t tick() const { return parts > 0 && part == parts ? ledger.tick : world.tick; }
};

/// Where region `part`'s piece of the cut whose logic piece is `logic_path`
/// ("DIR/tick-N.ckpt") lies: "DIR/tick-N.region-PART.ckpt".
std::string region_checkpoint_path(const std::string& logic_path, std::uint32_t part);

/// Writes a checkpoint file atomically (temp file + rename); an io_failed
/// Error naming the file on failure.
Expected<void> save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

/// Reads a checkpoint file; a bad_file Error names the file and what is wrong
/// with it.
Expected<Checkpoint> load_checkpoint(const std::string& path);

/// What load_checkpoint does with the bytes of a file already read (`path`
/// only names it in errors): header, checksum, payload, invariants.
Expected<Checkpoint> decode_checkpoint(std::span<const char> file, const std::string& path);

/// Sets the length and checksum fields of a checkpoint's header to match its
/// payload (what save_checkpoint does before writing; tests and the fuzz
/// target use it to reach the payload decoder with bytes of their own).
void seal_checkpoint(std::vector<char>& file);

} // namespace troupe
