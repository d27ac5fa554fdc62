// PNG: frames are written here around zlib, read back through libpng's
// simplified API (png_image_*, errors in png_image::message).
//
// Writing is on the path of a recorded frame (logic may wait for it: the
// capture window), and deflate is nearly all of its time. So the image is cut
// into bands of rows, each filtered (Up) and deflated on its own (zlib's RLE
// strategy: lossless, faster than its fastest level on rendered frames, and
// smaller), on this thread and a helper, then joined into one zlib stream:
// every band but the last ends with a sync flush (a byte boundary), and the
// bands' Adler-32s are combined. Bands depend only on the image's height, so
// the bytes do not depend on how many threads encoded them.
#include <troupe/render/renderer.hpp>

#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <system_error>
#include <thread>

namespace troupe::render {

namespace {

constexpr std::uint32_t band_rows = 64;
// Wider would not fit a band in zlib's 32-bit counts.
constexpr std::uint32_t png_max_side = 1u << 23;
constexpr std::uint8_t filter_up = 2; // PNG filter type: each byte minus the one above

struct Band {
  std::vector<std::uint8_t> deflated;
  uLong adler = 0;        ///< of the band's filtered bytes
  std::size_t filtered = 0; ///< how many
  const char* failed = nullptr;
};

/// Filters rows [y0, y1) and deflates them as raw deflate data; the last band
/// finishes the stream, the others end on a byte boundary.
void deflate_band(const std::uint8_t* rgba, std::size_t stride, std::uint32_t y0, std::uint32_t y1, bool last,
                  Band& out) {
  std::vector<std::uint8_t> filtered(std::size_t{y1 - y0} * (stride + 1));
  std::uint8_t* at = filtered.data();
  for (std::uint32_t y = y0; y < y1; ++y) {
    const std::uint8_t* row = rgba + y * stride;
    *at++ = filter_up;
    if (y == 0) { // the row above the first is zeros
      std::memcpy(at, row, stride);
    } else {
      const std::uint8_t* above = row - stride;
      for (std::size_t i = 0; i < stride; ++i)
        at[i] = static_cast<std::uint8_t>(row[i] - above[i]);
    }
    at += stride;
  }
  out.filtered = filtered.size();
  out.adler = adler32_z(adler32_z(0, nullptr, 0), filtered.data(), filtered.size());
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, -15, 8, Z_RLE) != Z_OK) {
    out.failed = "zlib could not start";
    return;
  }
  out.deflated.resize(deflateBound(&z, filtered.size()) + 16); // + a sync flush's empty block
  z.next_in = filtered.data();
  z.avail_in = static_cast<uInt>(filtered.size());
  z.next_out = out.deflated.data();
  z.avail_out = static_cast<uInt>(out.deflated.size());
  const int rc = deflate(&z, last ? Z_FINISH : Z_SYNC_FLUSH);
  if (rc != (last ? Z_STREAM_END : Z_OK) || z.avail_in != 0)
    out.failed = "zlib could not deflate a band";
  out.deflated.resize(z.total_out);
  deflateEnd(&z);
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  const std::array<std::uint8_t, 4> be{static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                                       static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
  out.insert(out.end(), be.begin(), be.end());
}

/// Appends a chunk: length, type, data, CRC of type and data.
void put_chunk(std::vector<std::uint8_t>& out, const char (&type)[5], std::span<const std::uint8_t> data) {
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t typed = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_u32(out, static_cast<std::uint32_t>(crc32_z(crc32_z(0, nullptr, 0), out.data() + typed, out.size() - typed)));
}

/// The whole file in memory, or the reason it could not be made.
Expected<std::vector<std::uint8_t>> encode_png(std::uint32_t width, std::uint32_t height, const std::uint8_t* rgba) {
  const std::size_t stride = std::size_t{width} * 4;
  std::vector<Band> bands((height + band_rows - 1) / band_rows);
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t b; (b = next.fetch_add(1)) < bands.size();) {
      const auto y0 = static_cast<std::uint32_t>(b * band_rows);
      try {
        deflate_band(rgba, stride, y0, std::min(height, y0 + band_rows), b + 1 == bands.size(), bands[b]);
      } catch (const std::bad_alloc&) { // not out of the helper: that would end the process
        bands[b].failed = "out of memory";
      }
    }
  };
  {
    std::jthread helper;
    if (bands.size() > 1 && std::thread::hardware_concurrency() > 1) {
      try {
        helper = std::jthread(work);
      } catch (const std::system_error&) {
        // No thread to be had: this one encodes every band.
      }
    }
    work();
  }
  std::vector<std::uint8_t> stream{0x78, 0x01}; // zlib header: deflate, 32 KiB window, fastest
  uLong adler = adler32_z(0, nullptr, 0);
  for (const Band& band : bands) {
    if (band.failed)
      return Error{errc::io_failed, band.failed};
    stream.insert(stream.end(), band.deflated.begin(), band.deflated.end());
    adler = adler32_combine(adler, band.adler, static_cast<z_off_t>(band.filtered));
  }
  put_u32(stream, static_cast<std::uint32_t>(adler));

  std::vector<std::uint8_t> file{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<std::uint8_t> header;
  put_u32(header, width);
  put_u32(header, height);
  header.insert(header.end(), {8, 6, 0, 0, 0}); // 8 bits, RGBA, deflate, adaptive filters, not interlaced
  put_chunk(file, "IHDR", header);
  put_chunk(file, "IDAT", stream);
  put_chunk(file, "IEND", {});
  return file;
}

} // namespace

Expected<void> write_png(const std::string& path, std::uint32_t width,
                               std::uint32_t height, std::span<const std::uint8_t> rgba) {
  const std::size_t expected = std::size_t{width} * height * 4;
  if (width == 0 || height == 0 || width > png_max_side || height > png_max_side || rgba.size() != expected) {
    return Error{errc::io_failed, "write_png " + path + ": " + std::to_string(rgba.size()) +
                 " bytes given for a " + std::to_string(width) + "x" +
                 std::to_string(height) + " RGBA image (" + std::to_string(expected) +
                 " needed, sides 1 to " + std::to_string(png_max_side) + ")"};
  }
  auto bytes = encode_png(width, height, rgba.data());
  if (!bytes)
    return Error{errc::io_failed, "write_png " + path + ": " + bytes.error().message};
  // Written whole or not at all: a process killed mid-write leaves no torn frame.
  const std::string part = path + ".part";
  std::FILE* file = std::fopen(part.c_str(), "wb");
  if (!file)
    return Error{errc::io_failed, "write_png " + path + ": " + std::strerror(errno)};
  const bool written = std::fwrite(bytes->data(), 1, bytes->size(), file) == bytes->size();
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    std::remove(part.c_str());
    return Error{errc::io_failed, "write_png " + path + ": cannot write the file"};
  }
  if (std::rename(part.c_str(), path.c_str()) != 0) {
    std::remove(part.c_str());
    return Error{errc::io_failed, "write_png " + path + ": " + std::strerror(errno)};
  }
  return {};
}

Expected<Image> read_png(const std::string& path) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_file(&image, path.c_str()) == 0) {
    return Error{errc::io_failed, "read_png " + path + ": " + image.message};
  }
  image.format = PNG_FORMAT_RGBA;
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.rgba.resize(PNG_IMAGE_SIZE(image));
  if (png_image_finish_read(&image, nullptr, out.rgba.data(), 0, nullptr) == 0) {
    png_image_free(&image);
    return Error{errc::io_failed, "read_png " + path + ": " + image.message};
  }
  return out;
}

} // namespace troupe::render
