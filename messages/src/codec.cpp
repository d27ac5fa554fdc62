#include "boost_codecs.hpp"

#include <troupe/messages/wire.hpp>

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>

#include <cstdio>
#include <cstring>
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

/// A streambuf reading a byte range in place.
class SpanSource : public std::streambuf {
public:
  SpanSource(const char* data, std::size_t size) {
    auto* p = const_cast<char*>(data); // read-only use; streambuf wants char*
    setg(p, p, p + size);
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
    SpanSource source(data, size);
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

template <class T> void encode_framed(const T& value, std::vector<char>& out) {
  out.clear();
  put_u32(out, protocol_version);
  put_u32(out, static_cast<std::uint32_t>(wire_message<T>::kind));
  put_u32(out, 0); // payload length, patched below
  write_archive(out, value);
  const auto length = static_cast<std::uint32_t>(out.size() - 12);
  std::memcpy(out.data() + 8, &length, 4);
}

template <class T> DecodeResult decode_framed(const std::vector<char>& bytes, T& out) {
  if (bytes.size() < 12)
    return Error{errc::decode_failed, "frame of " + std::to_string(bytes.size()) + " bytes is shorter than its 12-byte header"};
  const auto version = get_u32(bytes.data());
  if (version != protocol_version)
    return Error{errc::protocol_mismatch, "peer speaks protocol version " + std::to_string(version) +
                       ", this node speaks " + std::to_string(protocol_version)};
  const auto kind = get_u32(bytes.data() + 4);
  const auto expected = static_cast<std::uint32_t>(wire_message<T>::kind);
  if (kind != expected)
    return Error{errc::decode_failed, "message kind " + std::to_string(kind) + " where kind " +
                       std::to_string(expected) + " was expected"};
  const auto length = get_u32(bytes.data() + 8);
  if (bytes.size() - 12 != length)
    return Error{errc::decode_failed, "frame says " + std::to_string(length) + " payload bytes, has " +
                       std::to_string(bytes.size() - 12)};
  return read_archive(bytes.data() + 12, length, out);
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

// Frame layout: u32 version, u32 kind, u32 payload length, payload.
std::vector<char> frame(const WireEnvelope& envelope) {
  std::vector<char> out;
  out.reserve(12 + envelope.payload.size());
  put_u32(out, envelope.version);
  put_u32(out, envelope.kind);
  put_u32(out, static_cast<std::uint32_t>(envelope.payload.size()));
  out.insert(out.end(), envelope.payload.begin(), envelope.payload.end());
  return out;
}

DecodeResult unframe(const std::vector<char>& bytes, WireEnvelope& out) {
  if (bytes.size() < 12)
    return Error{errc::decode_failed, "frame of " + std::to_string(bytes.size()) + " bytes is shorter than its 12-byte header"};
  const auto length = get_u32(bytes.data() + 8);
  if (bytes.size() - 12 != length)
    return Error{errc::decode_failed, "frame says " + std::to_string(length) + " payload bytes, has " +
                       std::to_string(bytes.size() - 12)};
  out.version = get_u32(bytes.data());
  out.kind = static_cast<std::uint16_t>(get_u32(bytes.data() + 4));
  out.payload.assign(bytes.begin() + 12, bytes.end());
  return std::nullopt;
}

namespace {
constexpr char checkpoint_magic[8] = {'T', 'R', 'O', 'U', 'P', 'E', 'C', 'K'};
}

Expected<void> save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  std::vector<char> bytes(checkpoint_magic, checkpoint_magic + 8);
  put_u32(bytes, protocol_version);
  write_archive(bytes, checkpoint);
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
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    return failed("cannot rename " + tmp + " into place: " + ec.message());
  return {};
}

Expected<Checkpoint> load_checkpoint(const std::string& path) {
  auto bad = [&](const std::string& what) { return Error{errc::bad_file, what, path}; };
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return bad(std::string("cannot open checkpoint: ") + std::strerror(errno));
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 12 || std::memcmp(bytes.data(), checkpoint_magic, 8) != 0)
    return bad("not a troupe checkpoint (bad magic)");
  const auto version = get_u32(bytes.data() + 8);
  if (version != protocol_version)
    return bad("checkpoint of protocol version " + std::to_string(version) + ", this build reads version " +
               std::to_string(protocol_version));
  Checkpoint out;
  if (auto err = read_archive(bytes.data() + 12, bytes.size() - 12, out))
    return bad(err->message);
  if (!out.world.bodies.empty() && out.world.bodies.size() != out.world.infos.size())
    return bad("inconsistent body arrays");
  return out;
}

#define TROUPE_CODEC(T)                                                              \
  template std::vector<char> encode<T>(const T&);                                    \
  template DecodeResult decode<T>(const std::vector<char>&, T&);
#define TROUPE_ENVELOPE(T, KIND, NAME)                                               \
  TROUPE_CODEC(T)                                                                    \
  template WireEnvelope wrap<T>(const T&);                                           \
  template DecodeResult unwrap<T>(const WireEnvelope&, T&);                          \
  template void encode_framed<T>(const T&, std::vector<char>&);                      \
  template DecodeResult decode_framed<T>(const std::vector<char>&, T&);

TROUPE_CODEC(sim::World)
TROUPE_CODEC(Command)
TROUPE_CODEC(Checkpoint)
TROUPE_WIRE_MESSAGES(TROUPE_ENVELOPE)

} // namespace troupe
