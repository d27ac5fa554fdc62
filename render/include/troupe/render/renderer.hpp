#pragma once
/// \file Offscreen renderer for a sim::World: spheres as impostors plus the arena (a
/// checkered floor and the box's edges), drawn with Vulkan 1.3 dynamic rendering into
/// an RGBA8 image that is read back to host memory every frame.
///
/// A sphere impostor is a screen-facing primitive whose fragment shader casts the eye
/// ray at the sphere, discards misses and writes the hit's true depth, so spheres
/// intersect correctly and shade per pixel (Lambert + ambient). Spheres small on
/// screen are one point sprite each (one vertex: the fast path; on lavapipe the cost
/// is per vertex and primitive); large, near or off-centre ones are instanced quads.
///
/// No exceptions leave this header's functions: failures come back as `Error` words.
/// Vulkan stays behind a pimpl so including this header costs nothing.
///
/// Threading: a `Renderer` is not thread-safe; create it, draw with it and destroy it
/// on one thread at a time (any thread). `draw` blocks until the frame is in host
/// memory, so it is meant for a render actor or thread of its own, never the sim tick.

#include <troupe/sim/vec3.hpp>
#include <troupe/error.hpp>
#include <troupe/sim/world.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace troupe::render {

/// A pinhole camera looking from `eye` at `target`, y up.
struct Camera {
  sim::Vec3 eye{0.f, 10.f, 30.f};
  sim::Vec3 target{0.f, 0.f, 0.f};
  float fov_y_degrees = 45.f; ///< vertical field of view
  float near_plane = 0.1f;    ///< metres from the eye
  float far_plane = 1000.f;   ///< metres from the eye
};

/// A camera that sees the whole arena box from the front (+z) and above, looking at
/// its centre, with near/far planes fitted around it. `aspect` is width / height.
Camera fit_arena(const sim::Arena& arena, float aspect, float fov_y_degrees = 45.f);

/// Where a world point lands in an image of `width` x `height` pixels seen by
/// `camera` (x right, y down, top-left pixel's corner at 0,0), or nothing when the
/// point is behind the eye or outside the near/far range.
std::optional<std::pair<float, float>> project_to_pixel(const Camera& camera,
                                                        std::uint32_t width,
                                                        std::uint32_t height,
                                                        sim::Vec3 point);

/// How a `Renderer` is made.
struct Settings {
  std::uint32_t width = 1280;
  std::uint32_t height = 720;
  /// "auto" (a real GPU when present, else lavapipe), "lavapipe" (the CPU driver),
  /// "gpu" (a real GPU or fail), or a case-insensitive substring of a device name.
  std::string device = "auto";
  /// Fixed camera; when empty every `draw` aims with `fit_arena` at the world's arena.
  std::optional<Camera> camera;
  std::uint32_t background = 0x1a1f29ffu; ///< 0xRRGGBBAA, the clear colour
  /// Only with a CPU device (lavapipe): keep_freed_memory (troupe/memory.hpp)
  /// with 512 MiB, so the driver's per-frame scratch memory is reused instead of
  /// being returned to the kernel and faulted in anew every frame. Measured here:
  /// 100k spheres ~120 -> ~40-55 ms per frame. Costs up to 512 MiB of freed heap
  /// kept mapped. False leaves malloc alone.
  bool tune_allocator = true;
  /// Open a window (GLFW + a Vulkan swapchain) that `present` shows frames in.
  /// Needs a display; without one `create` fails with words that say so.
  bool window = false;
  std::string title = "troupe"; ///< the window's title
};

/// What the user did in the window since the last `present` or `poll_window`.
struct WindowInput {
  bool close = false;       ///< the close button, or Escape
  bool toggle_pause = false; ///< Space (an odd number of presses)
  std::uint32_t spawns = 0; ///< presses of S
  float drag_x = 0;         ///< pixels the pointer moved with the left button held
  float drag_y = 0;
  float scroll = 0;         ///< wheel steps (positive: towards the scene)
};

/// Where the time of one `draw` went, in milliseconds of wall clock, and how the
/// spheres were drawn.
struct FrameTimes {
  double upload_ms = 0;   ///< instance data written into the host-visible buffer
  double render_ms = 0;   ///< command recording, submit and wait (draw + copy-out)
  double readback_ms = 0; ///< mapped buffer copied into `pixels()`
  double total_ms = 0;    ///< the whole `draw` call
  /// Spheres drawn as point sprites (one vertex each: the fast path) and as
  /// instanced quads (large on screen, near the eye or centred off screen).
  std::uint32_t point_spheres = 0;
  std::uint32_t quad_spheres = 0;
};

/// An offscreen Vulkan renderer with a fixed image size.
class Renderer {
public:
  /// Picks a device, builds images, buffers and pipelines. Fails with words when no
  /// Vulkan loader or driver is found, no device matches `settings.device`, or the
  /// device lacks Vulkan 1.3 dynamic rendering.
  static Expected<Renderer> create(const Settings& settings);

  /// A moved-from Renderer may only be destroyed or assigned to.
  Renderer(Renderer&&) noexcept;
  Renderer& operator=(Renderer&&) noexcept;
  ~Renderer();

  /// Renders one frame of `world` and waits until its pixels are in host memory.
  /// Bodies are drawn with `infos[i].color`; alpha is ignored (everything opaque).
  Expected<FrameTimes> draw(const sim::World& world);

  /// Window mode: shows the last frame, scaled to the window (the swapchain is
  /// remade when the window is resized), and reads the window's events. Without
  /// a window it only returns an empty `WindowInput`.
  Expected<WindowInput> present();
  /// Window mode: reads the window's events without presenting anything.
  WindowInput poll_window();
  /// True when `Settings::window` made a window.
  bool has_window() const;

  /// The last frame: width * height RGBA8 pixels, top row first. Empty before the
  /// first successful `draw`. Valid until the next `draw` or destruction.
  std::span<const std::uint8_t> pixels() const;

  /// Replaces the camera (nothing = aim at each world's arena).
  void set_camera(std::optional<Camera> camera);
  /// The camera of the last frame (the fitted one when none is set).
  const Camera& camera() const;

  std::uint32_t width() const;
  std::uint32_t height() const;
  /// The chosen device's name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
  const std::string& device_name() const;

private:
  struct Impl;
  explicit Renderer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Writes `rgba` (width * height * 4 bytes, top row first) as an 8-bit RGBA PNG.
/// Returns nothing on success, else the reason.
Expected<void> write_png(const std::string& path, std::uint32_t width,
                               std::uint32_t height, std::span<const std::uint8_t> rgba);

/// An RGBA8 picture in memory, top row first.
struct Image {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::vector<std::uint8_t> rgba; ///< width * height * 4 bytes
};

/// Reads any PNG libpng understands, converted to 8-bit RGBA.
Expected<Image> read_png(const std::string& path);

} // namespace troupe::render
