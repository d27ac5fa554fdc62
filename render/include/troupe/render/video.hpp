#pragma once
/// \file Video from rendered frames: raw RGBA frames piped into an ffmpeg process
/// that encodes them (H.264 in MP4 where ffmpeg has it). ffmpeg is optional: the
/// caller asks `find_on_path("ffmpeg")` first and records PNG frames either way.

#include <troupe/render/renderer.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>

namespace troupe::render {

/// The full path of an executable `name` on $PATH, or nothing.
std::optional<std::string> find_on_path(const std::string& name);

/// An ffmpeg process fed through a pipe. Not thread-safe; one writer at a time.
class VideoEncoder {
public:
  /// Starts `ffmpeg` (a path) writing `path` from `width` x `height` RGBA frames
  /// shown at `fps`. Its own messages go to `path`.log.
  static Expected<VideoEncoder> start(const std::string& ffmpeg, const std::string& path,
                                      std::uint32_t width, std::uint32_t height, double fps);

  VideoEncoder(VideoEncoder&& other) noexcept;
  VideoEncoder& operator=(VideoEncoder&& other) noexcept;
  ~VideoEncoder(); ///< finishes the file (waits for ffmpeg)

  /// Appends one frame of exactly width * height * 4 bytes, top row first.
  Expected<void> write(std::span<const std::uint8_t> rgba);

  /// Closes the pipe and waits for ffmpeg; its exit status decides the result.
  Expected<void> finish();

  std::uint64_t frames() const { return frames_; }
  const std::string& path() const { return path_; }

private:
  VideoEncoder() = default;
  std::FILE* pipe_ = nullptr;
  std::string path_;
  std::size_t frame_bytes_ = 0;
  std::uint64_t frames_ = 0;
};

} // namespace troupe::render
