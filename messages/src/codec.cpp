#include "boost_codecs.hpp"

#include <troupe/messages/wire.hpp>

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>

#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>
#include <filesystem>
#include <fstream>
#include <streambuf>

namespace troupe {
namespace {

// Archive flags: no header (the envelope carries the version) and no codecvt.
constexpr unsigned archive_flags = boost::archive::no_header | boost::archive::no_codecvt;

/// A streambuf that appends to a byte vector: no copy through std::string.
class VectorSink : public std::streambuf {
public:
  explicit VectorSink(std::vector<char>& out) : out_(out) {}

protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.insert(out_.end(), s, s + n);
    return n;
  }
  int_type overflow(int_type ch) override {
    if (!traits_type::eq_int_type(ch, traits_type::eof()))
      out_.push_back(static_cast<char>(ch));
    return ch;
  }

private:
  std::vector<char>& out_;
};

/// A streambuf that only counts what is written to it.
class CountingSink : public std::streambuf {
public:
  std::size_t count = 0;

protected:
  std::streamsize xsputn(const char*, std::streamsize n) override {
    count += static_cast<std::size_t>(n);
    return n;
  }
  int_type overflow(int_type ch) override {
    if (!traits_type::eq_int_type(ch, traits_type::eof()))
      ++count;
    return ch;
  }
};

template <class T> void write_archive(std::vector<char>& out, const T& value) {
  VectorSink sink(out);
  boost::archive::binary_oarchive ar(sink, archive_flags);
  ar << value;
}

template <class T>
DecodeResult read_archive(const char* data, std::size_t size, T& out) {
  try {
    codec::SpanSource source(data, size);
    // Counts are checked against the bytes left (boost_codecs.hpp).
    struct Decoding {
      explicit Decoding(codec::SpanSource* s) : outer(codec::decoding) { codec::decoding = s; }
      ~Decoding() { codec::decoding = outer; }
      codec::SpanSource* outer;
    } decoding(&source);
    boost::archive::binary_iarchive ar(source, archive_flags);
    T value{};
    ar >> value;
    out = std::move(value);
    return std::nullopt;
  } catch (const std::exception& e) {
    return Error{errc::decode_failed, std::string("corrupt or truncated payload: ") + e.what()};
  }
}

void put_u32(std::vector<char>& out, std::uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.insert(out.end(), b, b + 4);
}

std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  std::memcpy(&v, p, 4);
  return v;
}

} // namespace

// Wire frame: u32 version, u32 kind, u32 payload length, u64 XXH3-64 of the
// payload, the payload. Nothing is decoded before all four are checked.
constexpr std::size_t frame_header = 20;

namespace {

std::uint64_t payload_checksum(const char* payload, std::size_t length) { return XXH3_64bits(payload, length); }

/// The checks every frame passes before its payload is read: size, length, checksum.
DecodeResult check_frame(std::span<const char> bytes) {
  if (bytes.size() < frame_header)
    return Error{errc::decode_failed, "frame of " + std::to_string(bytes.size()) + " bytes is shorter than its " +
                                        std::to_string(frame_header) + "-byte header"};
  const auto length = get_u32(bytes.data() + 8);
  if (bytes.size() - frame_header != length)
    return Error{errc::decode_failed, "frame says " + std::to_string(length) + " payload bytes, has " +
                                        std::to_string(bytes.size() - frame_header)};
  std::uint64_t sum = 0;
  std::memcpy(&sum, bytes.data() + 12, 8);
  if (sum != payload_checksum(bytes.data() + frame_header, length))
    return Error{errc::decode_failed, "frame checksum mismatch: the payload is damaged"};
  return std::nullopt;
}

} // namespace

namespace {
/// Sets the length and checksum fields of the frame of `size` bytes at `frame`.
void seal_frame_at(char* frame, std::size_t size) {
  if (size < frame_header)
    return;
  const auto length = static_cast<std::uint32_t>(size - frame_header);
  std::memcpy(frame + 8, &length, 4);
  const std::uint64_t sum = payload_checksum(frame + frame_header, length);
  std::memcpy(frame + 12, &sum, 8);
}
} // namespace

void seal_frame(std::vector<char>& bytes) { seal_frame_at(bytes.data(), bytes.size()); }

template <class T> void append_framed(const T& value, std::vector<char>& out) {
  const std::size_t at = out.size();
  put_u32(out, protocol_version);
  put_u32(out, static_cast<std::uint32_t>(wire_message<T>::kind));
  out.resize(at + frame_header); // length and checksum, sealed below
  write_archive(out, value);
  seal_frame_at(out.data() + at, out.size() - at);
}

template <class T> void encode_framed(const T& value, std::vector<char>& out) {
  out.clear();
  append_framed(value, out);
}

template <class T> std::size_t framed_size(const T& value) {
  CountingSink sink;
  boost::archive::binary_oarchive ar(sink, archive_flags);
  ar << value;
  return frame_header + sink.count;
}

template <class T> DecodeResult decode_framed(std::span<const char> bytes, T& out) {
  if (bytes.size() < frame_header)
    return check_frame(bytes);
  const auto version = get_u32(bytes.data());
  if (version != protocol_version)
    return Error{errc::protocol_mismatch, "peer speaks protocol version " + std::to_string(version) +
                       ", this node speaks " + std::to_string(protocol_version)};
  const auto kind = get_u32(bytes.data() + 4);
  const auto expected = static_cast<std::uint32_t>(wire_message<T>::kind);
  if (kind != expected)
    return Error{errc::decode_failed, "message kind " + std::to_string(kind) + " where kind " +
                       std::to_string(expected) + " was expected"};
  if (auto bad = check_frame(bytes))
    return bad;
  return read_archive(bytes.data() + frame_header, bytes.size() - frame_header, out);
}

template <class T> std::vector<char> encode(const T& value) {
  std::vector<char> out;
  write_archive(out, value);
  return out;
}

template <class T> DecodeResult decode(const std::vector<char>& bytes, T& out) {
  return read_archive(bytes.data(), bytes.size(), out);
}

template <class T> WireEnvelope wrap(const T& value) {
  return WireEnvelope{protocol_version, static_cast<std::uint16_t>(wire_message<T>::kind),
                      encode(value)};
}

template <class T> DecodeResult unwrap(const WireEnvelope& envelope, T& out) {
  if (envelope.version != protocol_version)
    return Error{errc::protocol_mismatch, "peer speaks protocol version " + std::to_string(envelope.version) +
                       ", this node speaks " + std::to_string(protocol_version)};
  const auto expected = static_cast<std::uint16_t>(wire_message<T>::kind);
  if (envelope.kind != expected)
    return Error{errc::decode_failed, "message kind " + std::to_string(envelope.kind) + " where kind " +
                       std::to_string(expected) + " was expected"};
  return decode(envelope.payload, out);
}

std::vector<char> frame(const WireEnvelope& envelope) {
  std::vector<char> out;
  out.reserve(frame_header + envelope.payload.size());
  put_u32(out, envelope.version);
  put_u32(out, envelope.kind);
  out.resize(frame_header);
  out.insert(out.end(), envelope.payload.begin(), envelope.payload.end());
  seal_frame(out);
  return out;
}

DecodeResult unframe(const std::vector<char>& bytes, WireEnvelope& out) {
  if (auto bad = check_frame(bytes))
    return bad;
  out.version = get_u32(bytes.data());
  out.kind = static_cast<std::uint16_t>(get_u32(bytes.data() + 4));
  out.payload.assign(bytes.begin() + static_cast<std::ptrdiff_t>(frame_header), bytes.end());
  return std::nullopt;
}

// ---- checkpoint files ------------------------------------------------------
//
//   offset size
//        0    8  magic "TROUPECK"
//        8    4  file format version (checkpoint_format)
//       12    4  protocol version (of the payload's encoding)
//       16    8  body count
//       24    8  payload length
//       32    8  XXH3-64 of bytes 0..31 and of the payload
//       40    -  payload: the Boost archive of the Checkpoint
// (little-endian). A reader checks everything it can before it allocates
// or decodes anything: the file's size, the header, the checksum; Boost reads
// only bytes that passed; the decoded world must then hold its invariants.

namespace {

constexpr char checkpoint_magic[8] = {'T', 'R', 'O', 'U', 'P', 'E', 'C', 'K'};
constexpr std::uint32_t checkpoint_format = 3;
constexpr std::size_t checkpoint_header = 40;
/// Far above any world troupe runs (a million bodies is about 70 MB), far
/// below what would hurt to read.
constexpr std::uint64_t max_checkpoint_payload = std::uint64_t{1} << 30;
constexpr std::uint64_t max_checkpoint_bodies = std::uint64_t{1} << 24;

void put_u64(std::vector<char>& out, std::uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out.insert(out.end(), b, b + 8);
}

std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  std::memcpy(&v, p, 8);
  return v;
}

std::uint64_t checkpoint_checksum(const char* header, const char* payload, std::size_t length) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  XXH3_64bits_update(state, header, 32);
  XXH3_64bits_update(state, payload, length);
  const auto sum = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return sum;
}

/// fsync of a file or folder; false with errno set when it failed.
bool sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0)
    return false;
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  return synced;
}

} // namespace

void seal_checkpoint(std::vector<char>& file) {
  if (file.size() < checkpoint_header)
    return;
  const std::uint64_t length = file.size() - checkpoint_header;
  std::memcpy(file.data() + 24, &length, 8);
  const auto sum = checkpoint_checksum(file.data(), file.data() + checkpoint_header, length);
  std::memcpy(file.data() + 32, &sum, 8);
}

Expected<void> save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  std::vector<char> bytes(checkpoint_magic, checkpoint_magic + 8);
  put_u32(bytes, checkpoint_format);
  put_u32(bytes, protocol_version);
  put_u64(bytes, checkpoint.world.size());
  put_u64(bytes, 0); // payload length, patched below
  put_u64(bytes, 0); // checksum, patched below
  write_archive(bytes, checkpoint);
  seal_checkpoint(bytes);
  // Atomic: a crash mid-write leaves the temporary file, never a torn
  // checkpoint under the final name (--resume-latest picks the newest).
  const auto tmp = path + ".tmp";
  auto failed = [&](const std::string& what) { return Error{errc::io_failed, what, path}; };
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      return failed("cannot write " + tmp + ": " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush())
      return failed("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (!sync_path(tmp, O_RDONLY))
    return failed("cannot sync " + tmp + ": " + std::strerror(errno));
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    return failed("cannot rename " + tmp + " into place: " + ec.message());
  const auto dir = std::filesystem::path(path).parent_path();
  if (!sync_path(dir.empty() ? "." : dir.string(), O_RDONLY | O_DIRECTORY))
    return failed("cannot sync the folder of the checkpoint: " + std::string(std::strerror(errno)));
  return {};
}

Expected<Checkpoint> decode_checkpoint(std::span<const char> file, const std::string& path) {
  auto bad = [&](const std::string& what) { return Error{errc::bad_file, what, path}; };
  const auto size = file.size();
  if (size < checkpoint_header)
    return bad("not a troupe checkpoint (" + std::to_string(size) + " bytes, shorter than its header)");
  const char* header = file.data();
  if (std::memcmp(header, checkpoint_magic, 8) != 0)
    return bad("not a troupe checkpoint (bad magic)");
  const auto format = get_u32(header + 8);
  if (format != checkpoint_format)
    return bad("checkpoint file format " + std::to_string(format) + ", this build reads format " +
               std::to_string(checkpoint_format));
  const auto version = get_u32(header + 12);
  if (version != protocol_version)
    return bad("checkpoint of protocol version " + std::to_string(version) + ", this build reads version " +
               std::to_string(protocol_version));
  const auto bodies = get_u64(header + 16);
  const auto length = get_u64(header + 24);
  if (bodies > max_checkpoint_bodies)
    return bad("the header claims " + std::to_string(bodies) + " bodies, more than a checkpoint may hold");
  if (length > max_checkpoint_payload || length != size - checkpoint_header)
    return bad("the header claims " + std::to_string(length) + " payload bytes, the file has " +
               std::to_string(size - checkpoint_header) + " (truncated, or not written whole)");
  const char* payload = header + checkpoint_header;
  if (checkpoint_checksum(header, payload, length) != get_u64(header + 32))
    return bad("checksum mismatch: the file is damaged");
  Checkpoint out;
  if (auto err = read_archive(payload, length, out))
    return bad(err->message);
  if (out.world.size() != bodies)
    return bad("the header says " + std::to_string(bodies) + " bodies, the payload holds " +
               std::to_string(out.world.size()));
  if (auto broken = sim::check_invariants(out.world))
    return bad(std::string("the world it holds is inconsistent: ") + *broken);
  if (out.parts > 0) {
    // A piece of a cut of a world run as regions.
    if (out.parts > 1024 || out.part > out.parts)
      return bad("piece " + std::to_string(out.part) + " of " + std::to_string(out.parts) +
                 " regions: no such piece of a cut");
    if (out.part == out.parts) {
      if (auto broken = sim::check_ledger(out.ledger))
        return bad(std::string("the ledger it holds is inconsistent: ") + *broken);
      if (out.ledger.layout.regions() != out.parts || out.world.size() != 0)
        return bad("logic's piece of a cut of " + std::to_string(out.parts) + " regions holds a layout of " +
                   std::to_string(out.ledger.layout.regions()) + " cells, or bodies");
    }
  }
  return out;
}

std::string region_checkpoint_path(const std::string& logic_path, std::uint32_t part) {
  const std::string suffix = ".ckpt";
  const bool named = logic_path.size() >= suffix.size() &&
                     logic_path.compare(logic_path.size() - suffix.size(), suffix.size(), suffix) == 0;
  const auto stem = named ? logic_path.substr(0, logic_path.size() - suffix.size()) : logic_path;
  return stem + ".region-" + std::to_string(part) + suffix;
}

Expected<Checkpoint> load_checkpoint(const std::string& path) {
  auto bad = [&](const std::string& what) { return Error{errc::bad_file, what, path}; };
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec)
    return bad("cannot open checkpoint: " + ec.message());
  // Refused before reading a byte: nothing larger can pass the header check.
  if (size > checkpoint_header + max_checkpoint_payload)
    return bad("not a troupe checkpoint (" + std::to_string(size) + " bytes, more than a checkpoint may hold)");
  std::ifstream in(path, std::ios::binary);
  std::vector<char> file(size);
  if (!in || !in.read(file.data(), static_cast<std::streamsize>(size)))
    return bad(std::string("cannot read checkpoint: ") + std::strerror(errno));
  return decode_checkpoint(file, path);
}

#define TROUPE_CODEC(T)                                                              \
  template std::vector<char> encode<T>(const T&);                                    \
  template DecodeResult decode<T>(const std::vector<char>&, T&);
#define TROUPE_ENVELOPE(T, KIND, NAME)                                               \
  TROUPE_CODEC(T)                                                                    \
  template WireEnvelope wrap<T>(const T&);                                           \
  template DecodeResult unwrap<T>(const WireEnvelope&, T&);                          \
  template void encode_framed<T>(const T&, std::vector<char>&);                      \
  template void append_framed<T>(const T&, std::vector<char>&);                      \
  template std::size_t framed_size<T>(const T&);                                     \
  template DecodeResult decode_framed<T>(std::span<const char>, T&);

TROUPE_CODEC(sim::World)
TROUPE_CODEC(Command)
TROUPE_CODEC(Checkpoint)
TROUPE_WIRE_MESSAGES(TROUPE_ENVELOPE)

} // namespace troupe
