// ffmpeg through popen: the simplest process plumbing that gives a pipe, and
// frames are large, so the shell's startup cost is nothing next to them.
#include <troupe/render/video.hpp>

#include <csignal>
#include <cstdlib>
#include <sstream>
#include <utility>

#include <sys/wait.h>
#include <unistd.h>

namespace troupe::render {
namespace {

/// Single-quoted for /bin/sh, so any path survives.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text)
    out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return out + "'";
}

} // namespace

std::optional<std::string> find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr)
    return std::nullopt;
  std::istringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const auto candidate = (dir.empty() ? std::string{"."} : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return std::nullopt;
}

Expected<VideoEncoder> VideoEncoder::start(const std::string& ffmpeg, const std::string& path,
                                           std::uint32_t width, std::uint32_t height, double fps) {
  // A dead ffmpeg must be an error from fwrite, not a SIGPIPE that ends troupe.
  std::signal(SIGPIPE, SIG_IGN);
  std::ostringstream command;
  command << quoted(ffmpeg) << " -y -loglevel error -f rawvideo -pix_fmt rgba -s " << width << 'x'
          << height << " -r " << fps << " -i - -an -pix_fmt yuv420p " << quoted(path) << " 2> "
          << quoted(path + ".log");
  VideoEncoder encoder;
  encoder.pipe_ = ::popen(command.str().c_str(), "w");
  if (encoder.pipe_ == nullptr)
    return Error{errc::io_failed, "cannot start " + ffmpeg + " for " + path};
  encoder.path_ = path;
  encoder.frame_bytes_ = std::size_t{width} * height * 4;
  return encoder;
}

VideoEncoder::VideoEncoder(VideoEncoder&& other) noexcept
  : pipe_(std::exchange(other.pipe_, nullptr)), path_(std::move(other.path_)),
    frame_bytes_(other.frame_bytes_), frames_(other.frames_) {}

VideoEncoder& VideoEncoder::operator=(VideoEncoder&& other) noexcept {
  if (this != &other) {
    (void)finish(); // a failure was the other encoder's to report
    pipe_ = std::exchange(other.pipe_, nullptr);
    path_ = std::move(other.path_);
    frame_bytes_ = other.frame_bytes_;
    frames_ = other.frames_;
  }
  return *this;
}

VideoEncoder::~VideoEncoder() { (void)finish(); } // finish() explicitly to hear of a failure

Expected<void> VideoEncoder::write(std::span<const std::uint8_t> rgba) {
  if (pipe_ == nullptr)
    return Error{errc::io_failed, "video " + path_ + ": the encoder has finished"};
  if (rgba.size() != frame_bytes_)
    return Error{errc::io_failed, "video " + path_ + ": a frame of " + std::to_string(rgba.size()) + " bytes, " +
                 std::to_string(frame_bytes_) + " expected"};
  if (std::fwrite(rgba.data(), 1, rgba.size(), pipe_) != rgba.size())
    return Error{errc::io_failed, "video " + path_ + ": the encoder stopped reading (see " + path_ + ".log)"};
  ++frames_;
  return {};
}

Expected<void> VideoEncoder::finish() {
  if (pipe_ == nullptr)
    return {};
  const int status = ::pclose(std::exchange(pipe_, nullptr));
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Error{errc::io_failed, "video " + path_ + ": the encoder failed (see " + path_ + ".log)"};
  return {};
}

} // namespace troupe::render
