// PNG through libpng's simplified API (png_image_*): no setjmp/longjmp in our code,
// errors come back in png_image::message.
#include <troupe/render/renderer.hpp>

#include <png.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace troupe::render {

Expected<void> write_png(const std::string& path, std::uint32_t width,
                               std::uint32_t height, std::span<const std::uint8_t> rgba) {
  const std::size_t expected = std::size_t{width} * height * 4;
  if (width == 0 || height == 0 || rgba.size() != expected) {
    return Error{errc::io_failed, "write_png " + path + ": " + std::to_string(rgba.size()) +
                 " bytes given for a " + std::to_string(width) + "x" +
                 std::to_string(height) + " RGBA image (" + std::to_string(expected) +
                 " needed)"};
  }
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = PNG_FORMAT_RGBA;
  // Written whole or not at all: a process killed mid-write leaves no torn frame.
  const std::string part = path + ".part";
  if (png_image_write_to_file(&image, part.c_str(), 0, rgba.data(),
                              static_cast<png_int_32>(width * 4), nullptr) == 0) {
    std::remove(part.c_str());
    return Error{errc::io_failed, "write_png " + path + ": " + image.message};
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
