// PNG through libpng: frames are written with the full API (a fast zlib level
// and filter; its setjmp lives in one function holding no C++ object), read
// back with the simplified API (png_image_*, errors in png_image::message).
#include <troupe/render/renderer.hpp>

#include <png.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace troupe::render {

namespace {

/// libpng reports errors by longjmp: this frame holds no C++ object, only
/// what the jump may skip safely. Returns libpng's message, or null.
const char* encode_png(std::FILE* file, std::uint32_t width, std::uint32_t height, const std::uint8_t* rgba,
                       char (&message)[256]) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &message, nullptr, nullptr);
  if (!png)
    return "cannot start libpng";
  png_infop info = png_create_info_struct(png);
  png_set_error_fn(png, &message,
                   [](png_structp p, png_const_charp what) {
                     auto& out = *static_cast<char(*)[256]>(png_get_error_ptr(p));
                     std::snprintf(out, sizeof out, "%s", what);
                     png_longjmp(p, 1);
                   },
                   nullptr);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return message[0] ? message : "libpng failed";
  }
  png_init_io(png, file);
  // Fast and still lossless: a frame is encoded while logic may be waiting
  // for it (the capture window). zlib's fastest level with the Sub filter
  // is several times faster than the defaults and a little larger.
  png_set_compression_level(png, 1);
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
  png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_BASE,
               PNG_FILTER_TYPE_BASE);
  png_write_info(png, info);
  for (std::uint32_t y = 0; y < height; ++y)
    png_write_row(png, rgba + std::size_t{y} * width * 4);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return nullptr;
}

} // namespace

Expected<void> write_png(const std::string& path, std::uint32_t width,
                               std::uint32_t height, std::span<const std::uint8_t> rgba) {
  const std::size_t expected = std::size_t{width} * height * 4;
  if (width == 0 || height == 0 || rgba.size() != expected) {
    return Error{errc::io_failed, "write_png " + path + ": " + std::to_string(rgba.size()) +
                 " bytes given for a " + std::to_string(width) + "x" +
                 std::to_string(height) + " RGBA image (" + std::to_string(expected) +
                 " needed)"};
  }
  // Written whole or not at all: a process killed mid-write leaves no torn frame.
  const std::string part = path + ".part";
  std::FILE* file = std::fopen(part.c_str(), "wb");
  if (!file)
    return Error{errc::io_failed, "write_png " + path + ": " + std::strerror(errno)};
  char message[256] = {};
  const char* failed = encode_png(file, width, height, rgba.data(), message);
  const bool closed = std::fclose(file) == 0;
  if (failed || !closed) {
    std::remove(part.c_str());
    return Error{errc::io_failed, "write_png " + path + ": " + (failed ? failed : "cannot write the file")};
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
