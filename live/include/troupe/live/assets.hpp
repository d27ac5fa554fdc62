#pragma once
/// \file The dashboard's files, embedded in the binary at build time
/// (cmake/Embed.cmake): our page and script (web/), and uPlot as npm installed
/// it from web/package-lock.json.

#include <string_view>

namespace troupe::live {

struct Asset {
  std::string_view path;         ///< where it is served ("/", "/uPlot.min.js")
  std::string_view content_type;
  std::string_view bytes;
};

/// The asset served at `path`, or null.
const Asset* find_asset(std::string_view path);

} // namespace troupe::live
