// RIFF/WAVE, PCM 16-bit little-endian: the 44-byte canonical header written up
// front with zero sizes, patched on close. Bytes are assembled explicitly, so
// the files are the same on any host byte order.

#include <troupe/audio/mixer.hpp>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

namespace troupe::audio {
namespace {

constexpr std::size_t header_bytes = 44;
/// The data size field is 32 bits, and the RIFF size adds 36 to it.
constexpr std::uint64_t max_data_bytes = std::numeric_limits<std::uint32_t>::max() - 36u;

void put_u16(unsigned char* p, std::uint16_t v) {
  p[0] = static_cast<unsigned char>(v & 0xFFu);
  p[1] = static_cast<unsigned char>(v >> 8);
}

void put_u32(unsigned char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    p[i] = static_cast<unsigned char>((v >> (8 * i)) & 0xFFu);
  }
}

std::uint16_t get_u16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

std::uint32_t get_u32(const unsigned char* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}

std::array<unsigned char, header_bytes> make_header(std::uint32_t rate, std::uint16_t channels,
                                                    std::uint32_t data_bytes) {
  std::array<unsigned char, header_bytes> h{};
  std::memcpy(h.data(), "RIFF", 4);
  put_u32(h.data() + 4, 36u + data_bytes);
  std::memcpy(h.data() + 8, "WAVEfmt ", 8);
  put_u32(h.data() + 16, 16);       // fmt chunk size
  put_u16(h.data() + 20, 1);        // PCM
  put_u16(h.data() + 22, channels);
  put_u32(h.data() + 24, rate);
  put_u32(h.data() + 28, rate * channels * 2u); // byte rate
  put_u16(h.data() + 32, static_cast<std::uint16_t>(channels * 2u)); // block align
  put_u16(h.data() + 34, 16);       // bits per sample
  std::memcpy(h.data() + 36, "data", 4);
  put_u32(h.data() + 40, data_bytes);
  return h;
}

std::string errno_words() { return std::strerror(errno); }

} // namespace

struct WavWriter::File {
  std::FILE* f = nullptr;
  std::string path;
  std::vector<unsigned char> bytes; // conversion scratch, reused
};

WavWriter::WavWriter(const std::string& path, std::uint32_t sample_rate, std::uint16_t channels)
    : sample_rate_(sample_rate), channels_(channels) {
  if (channels == 0 || sample_rate == 0) {
    error_ = path + ": a WAV needs at least one channel and a positive sample rate";
    channels_ = channels == 0 ? 1 : channels; // frames_written() divides by it
    return;
  }
  auto file = std::make_unique<File>();
  file->path = path;
  file->f = std::fopen(path.c_str(), "wb");
  if (file->f == nullptr) {
    error_ = path + ": cannot open for writing: " + errno_words();
    return;
  }
  const auto header = make_header(sample_rate_, channels_, 0);
  if (std::fwrite(header.data(), 1, header.size(), file->f) != header.size()) {
    error_ = path + ": cannot write the header: " + errno_words();
    std::fclose(file->f);
    return;
  }
  file_ = std::move(file);
}

WavWriter::~WavWriter() { close(); }

bool WavWriter::ok() const { return file_ != nullptr && error_.empty(); }

void WavWriter::write(std::span<const std::int16_t> samples) {
  if (!ok() || samples.empty()) {
    return;
  }
  if ((samples_ + samples.size()) * 2u > max_data_bytes) {
    error_ = file_->path + ": WAV size limit (4 GiB) reached; later samples dropped";
    return;
  }
  auto& bytes = file_->bytes;
  bytes.resize(samples.size() * 2u);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    put_u16(bytes.data() + 2 * i, static_cast<std::uint16_t>(samples[i]));
  }
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_->f) != bytes.size()) {
    error_ = file_->path + ": write failed: " + errno_words();
    return;
  }
  samples_ += samples.size();
}

void WavWriter::close() {
  if (file_ == nullptr) {
    return;
  }
  // Whole frames only, so the data size is a multiple of the block size.
  const std::uint64_t data_bytes = samples_ / channels_ * channels_ * 2u;
  const auto header = make_header(sample_rate_, channels_, static_cast<std::uint32_t>(data_bytes));
  std::FILE* f = file_->f;
  if (std::fseek(f, 0, SEEK_SET) != 0 ||
      std::fwrite(header.data(), 1, header.size(), f) != header.size()) {
    if (error_.empty()) {
      error_ = file_->path + ": cannot patch the header: " + errno_words();
    }
  }
  if (std::fclose(f) != 0 && error_.empty()) {
    error_ = file_->path + ": close failed: " + errno_words();
  }
  file_.reset();
}

std::variant<WavData, std::string> read_wav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return path + ": cannot open";
  }
  const std::vector<unsigned char> bytes{std::istreambuf_iterator<char>(in),
                                         std::istreambuf_iterator<char>()};
  if (in.bad()) {
    return path + ": read failed";
  }
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 ||
      std::memcmp(bytes.data() + 8, "WAVE", 4) != 0) {
    return path + ": not a WAV file (no RIFF/WAVE header)";
  }

  WavData wav;
  std::uint16_t block_align = 0;
  bool have_fmt = false;
  std::size_t pos = 12;
  while (pos + 8 <= bytes.size()) {
    const unsigned char* chunk = bytes.data() + pos;
    const std::uint32_t size = get_u32(chunk + 4);
    const std::size_t body = pos + 8;
    if (size > bytes.size() - body) {
      return path + ": truncated: chunk '" + std::string(reinterpret_cast<const char*>(chunk), 4) +
             "' says " + std::to_string(size) + " bytes, " + std::to_string(bytes.size() - body) +
             " left";
    }
    const unsigned char* p = bytes.data() + body;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      if (size < 16) {
        return path + ": 'fmt ' chunk too short";
      }
      std::uint16_t format = get_u16(p);
      if (format == 0xFFFE && size >= 40) {
        format = get_u16(p + 24); // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with it
      }
      wav.channels = get_u16(p + 2);
      wav.sample_rate = get_u32(p + 4);
      block_align = get_u16(p + 12);
      const std::uint16_t bits = get_u16(p + 14);
      if (format != 1 || bits != 16) {
        return path + ": only 16-bit PCM WAV is supported (format " + std::to_string(format) +
               ", " + std::to_string(bits) + " bits)";
      }
      if (wav.channels == 0 || block_align != wav.channels * 2u) {
        return path + ": inconsistent 'fmt ' chunk (" + std::to_string(wav.channels) +
               " channels, block align " + std::to_string(block_align) + ")";
      }
      have_fmt = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      if (!have_fmt) {
        return path + ": 'data' chunk before 'fmt '";
      }
      if (size % block_align != 0) {
        return path + ": 'data' size " + std::to_string(size) + " is not whole frames";
      }
      wav.samples.resize(size / 2u);
      for (std::size_t i = 0; i < wav.samples.size(); ++i) {
        wav.samples[i] = static_cast<std::int16_t>(get_u16(p + 2 * i));
      }
      return wav;
    }
    // Unknown chunks (LIST, fact, ...) are skipped; bodies are padded to even sizes.
    pos = body + size + (size & 1u);
  }
  return path + (have_fmt ? ": truncated: no 'data' chunk" : ": truncated: no 'fmt ' chunk");
}

} // namespace troupe::audio
