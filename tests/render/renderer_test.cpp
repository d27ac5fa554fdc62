// Renderer tests on lavapipe (pinned with VK_ICD_FILENAMES), at 320x240 to stay fast.
#include <troupe/render/renderer.hpp>
#include <troupe/sim/scenario.hpp>
#include <troupe/sim/world.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>
#include <vector>
#include <set>
#include <string>
#include <unistd.h>

namespace troupe::render {
namespace {

constexpr std::uint32_t width = 320;
constexpr std::uint32_t height = 240;
constexpr std::uint32_t background = 0x102030ffu;
constexpr std::uint32_t red = 0xff0000ffu;
constexpr std::uint32_t green = 0x00ff00ffu;

struct Rgba {
  int r, g, b, a;
};

Rgba pixel_at(std::span<const std::uint8_t> px, std::uint32_t x, std::uint32_t y) {
  const std::size_t i = (std::size_t{y} * width + x) * 4;
  return {px[i], px[i + 1], px[i + 2], px[i + 3]};
}

bool is_background(Rgba p) {
  return std::abs(p.r - 0x10) <= 1 && std::abs(p.g - 0x20) <= 1 && std::abs(p.b - 0x30) <= 1;
}
bool mostly_red(Rgba p) { return p.r > 60 && p.r > 3 * p.g && p.r > 3 * p.b; }
bool mostly_green(Rgba p) { return p.g > 60 && p.g > 3 * p.r && p.g > 3 * p.b; }

/// A camera on +z looking at the origin, and the arena moved far below the view so
/// only the spheres and the background are on screen.
Settings sphere_settings() {
  Settings s;
  s.width = width;
  s.height = height;
  s.device = "lavapipe";
  s.background = background;
  s.camera = Camera{.eye = {0.f, 0.f, 10.f}, .target = {0.f, 0.f, 0.f}};
  return s;
}

sim::World spheres_world() {
  sim::World w;
  w.arena = sim::Arena{{-1.f, -100.f, -1.f}, {1.f, -99.f, 1.f}};
  return w;
}

void add_sphere(sim::World& w, sim::Vec3 at, float radius, std::uint32_t color) {
  sim::BodySpec spec;
  spec.position = at;
  spec.radius = radius;
  spec.color = color;
  sim::spawn(w, spec);
}

Renderer make_renderer(const Settings& settings) {
  // Pin lavapipe so the tests see the same driver on every machine.
  ::setenv("VK_ICD_FILENAMES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", 1);
  auto renderer = Renderer::create(settings);
  if (!renderer) {
    ADD_FAILURE() << renderer.error().message;
    std::abort(); // nothing below can run without a renderer
  }
  return std::move(renderer.value());
}

std::span<const std::uint8_t> draw(Renderer& r, const sim::World& w) {
  const auto times = r.draw(w);
  EXPECT_TRUE(times.has_value()) << (times ? "" : times.error().message);
  return r.pixels();
}

std::size_t distinct_colours(std::span<const std::uint8_t> px) {
  std::set<std::uint32_t> seen;
  for (std::size_t i = 0; i + 3 < px.size(); i += 4) {
    seen.insert(std::uint32_t{px[i]} << 16 | std::uint32_t{px[i + 1]} << 8 | px[i + 2]);
  }
  return seen.size();
}

std::size_t count_non_background(std::span<const std::uint8_t> px) {
  std::size_t n = 0;
  for (std::uint32_t y = 0; y < height; ++y) {
    for (std::uint32_t x = 0; x < width; ++x) {
      n += is_background(pixel_at(px, x, y)) ? 0 : 1;
    }
  }
  return n;
}

TEST(Renderer, SphereAtViewCentreColoursCentreAndLeavesCornersBackground) {
  Renderer r = make_renderer(sphere_settings());
  sim::World w = spheres_world();
  add_sphere(w, {0.f, 0.f, 0.f}, 1.f, red);
  const auto times = r.draw(w);
  ASSERT_TRUE(times.has_value()) << times.error().message;
  EXPECT_GT(times->total_ms, 0.0);
  const auto px = r.pixels();
  ASSERT_EQ(px.size(), std::size_t{width} * height * 4);
  const Rgba centre = pixel_at(px, width / 2, height / 2);
  EXPECT_TRUE(mostly_red(centre)) << centre.r << "," << centre.g << "," << centre.b;
  EXPECT_EQ(centre.a, 255);
  for (auto [x, y] : {std::pair{0u, 0u}, {width - 1, 0u}, {0u, height - 1}, {width - 1, height - 1}}) {
    EXPECT_TRUE(is_background(pixel_at(px, x, y))) << "corner " << x << "," << y;
  }
}

TEST(Renderer, SmallSphereTakesThePointPath) {
  Renderer r = make_renderer(sphere_settings());
  sim::World w = spheres_world();
  add_sphere(w, {0.f, 0.f, 0.f}, 1.f, red);
  const auto times = r.draw(w);
  ASSERT_TRUE(times.has_value()) << times.error().message;
  EXPECT_EQ(times->point_spheres, 1u);
  EXPECT_EQ(times->quad_spheres, 0u);
}

TEST(Renderer, LargeNearSphereTakesTheQuadPathAndFillsItsDisc) {
  Renderer r = make_renderer(sphere_settings());
  sim::World w = spheres_world();
  // 3 m from the eye: about 205 px across at 320x240, over the point-size budget.
  add_sphere(w, {0.f, 0.f, 7.f}, 1.f, red);
  const auto times = r.draw(w);
  ASSERT_TRUE(times.has_value()) << times.error().message;
  EXPECT_EQ(times->quad_spheres, 1u);
  const auto px = r.pixels();
  EXPECT_TRUE(mostly_red(pixel_at(px, width / 2, height / 2)));
  // 90% of the projected radius (~102 px) out, left and right, is still sphere.
  EXPECT_TRUE(mostly_red(pixel_at(px, width / 2 - 92, height / 2)));
  EXPECT_TRUE(mostly_red(pixel_at(px, width / 2 + 92, height / 2)));
  EXPECT_TRUE(is_background(pixel_at(px, width / 2 + 115, height / 2)));
  EXPECT_TRUE(is_background(pixel_at(px, 0, 0)));
}

TEST(Renderer, SphereCentredOffScreenShowsItsVisiblePart) {
  Renderer r = make_renderer(sphere_settings());
  sim::World w = spheres_world();
  // The view is about +-5.5 m wide at the sphere's depth: the centre is past the right
  // edge, the left part of the sphere is on screen.
  add_sphere(w, {6.f, 0.f, 0.f}, 1.f, red);
  const auto times = r.draw(w);
  ASSERT_TRUE(times.has_value()) << times.error().message;
  EXPECT_EQ(times->quad_spheres, 1u);
  EXPECT_TRUE(mostly_red(pixel_at(r.pixels(), width - 1, height / 2)));
}

TEST(Renderer, NearerSphereWinsAtCentreWhateverTheDrawOrder) {
  Renderer r = make_renderer(sphere_settings());
  for (bool near_first : {true, false}) {
    sim::World w = spheres_world();
    // Overlapping along the view axis: green (z = 1.5) is nearer the eye (z = 10).
    if (near_first) {
      add_sphere(w, {0.f, 0.f, 1.5f}, 1.f, green);
      add_sphere(w, {0.f, 0.f, 0.f}, 1.f, red);
    } else {
      add_sphere(w, {0.f, 0.f, 0.f}, 1.f, red);
      add_sphere(w, {0.f, 0.f, 1.5f}, 1.f, green);
    }
    const Rgba centre = pixel_at(draw(r, w), width / 2, height / 2);
    EXPECT_TRUE(mostly_green(centre))
        << "near_first=" << near_first << ": " << centre.r << "," << centre.g << "," << centre.b;
  }
}

TEST(Renderer, RaySurfaceDepthWinsWhereBillboardDepthWouldNot) {
  // A small green sphere pokes 0.2 m out of a big red one. Along the ray through the
  // small sphere's front point the big sphere's billboard (on its tangent plane
  // z = 3) is nearer than the small sphere's surface (z = 2.8), but the big sphere's
  // surface there (z ~ 2.6) is farther: only per-fragment depth shows green.
  Renderer r = make_renderer(sphere_settings());
  const auto at = project_to_pixel(*sphere_settings().camera, width, height, {1.5f, 0.f, 2.8f});
  ASSERT_TRUE(at.has_value());
  const auto x = static_cast<std::uint32_t>(at->first), y = static_cast<std::uint32_t>(at->second);
  for (bool big_first : {true, false}) {
    sim::World w = spheres_world();
    if (big_first) {
      add_sphere(w, {0.f, 0.f, 0.f}, 3.f, red);
      add_sphere(w, {1.5f, 0.f, 2.3f}, 0.5f, green);
    } else {
      add_sphere(w, {1.5f, 0.f, 2.3f}, 0.5f, green);
      add_sphere(w, {0.f, 0.f, 0.f}, 3.f, red);
    }
    const auto px = draw(r, w);
    const Rgba p = pixel_at(px, x, y);
    EXPECT_TRUE(mostly_green(p)) << "big_first=" << big_first << ": " << p.r << "," << p.g << "," << p.b;
    EXPECT_TRUE(mostly_red(pixel_at(px, width / 2, height / 2)));
  }
}

TEST(Renderer, EmptyWorldShowsTheArenaAndIsNotUniform) {
  Settings s = sphere_settings();
  s.camera.reset(); // aim at the arena
  Renderer r = make_renderer(s);
  const auto px = draw(r, sim::World{});
  EXPECT_GT(count_non_background(px), std::size_t{width} * height / 10);
  EXPECT_GE(distinct_colours(px), 3u); // background, floor (two tones), edges
  // The fitted camera keeps the whole box in view: background at every corner.
  EXPECT_TRUE(is_background(pixel_at(px, 0, 0)));
  EXPECT_TRUE(is_background(pixel_at(px, width - 1, height - 1)));
}

TEST(Renderer, FittedCameraSeesEveryArenaCorner) {
  const sim::Arena arena{{-51.f, 0.f, -51.f}, {51.f, 14.f, 51.f}};
  const Camera cam = fit_arena(arena, 1280.f / 720.f);
  for (int i = 0; i < 8; ++i) {
    const sim::Vec3 corner{(i & 1) ? arena.max.x : arena.min.x, (i & 2) ? arena.max.y : arena.min.y,
                           (i & 4) ? arena.max.z : arena.min.z};
    const auto at = project_to_pixel(cam, 1280, 720, corner);
    ASSERT_TRUE(at.has_value()) << "corner " << i;
    EXPECT_GE(at->first, 0.f);
    EXPECT_LE(at->first, 1280.f);
    EXPECT_GE(at->second, 0.f);
    EXPECT_LE(at->second, 720.f);
  }
}

TEST(Renderer, PileOf2000BodiesShowsManyDistinctColours) {
  Settings s = sphere_settings();
  s.camera.reset();
  Renderer r = make_renderer(s);
  const sim::World w = sim::make_scenario(sim::ScenarioSpec{.name = "pile", .bodies = 2000});
  const auto px = draw(r, w);
  EXPECT_GT(count_non_background(px), std::size_t{width} * height / 10);
  EXPECT_GT(distinct_colours(px), 500u);
}

TEST(Renderer, SameWorldDrawnTwiceGivesIdenticalPixels) {
  Settings s = sphere_settings();
  s.camera.reset();
  Renderer r = make_renderer(s);
  const sim::World w = sim::make_scenario(sim::ScenarioSpec{.name = "pile", .bodies = 500});
  const auto drawn = draw(r, w);
  const std::vector<std::uint8_t> first(drawn.begin(), drawn.end());
  const auto second = draw(r, w);
  ASSERT_EQ(first.size(), second.size());
  EXPECT_TRUE(std::equal(first.begin(), first.end(), second.begin()));
}

TEST(Renderer, PngRoundTripKeepsEveryPixel) {
  Settings s = sphere_settings();
  s.camera.reset();
  Renderer r = make_renderer(s);
  const auto px = draw(r, sim::make_scenario(sim::ScenarioSpec{.name = "pile", .bodies = 200}));
  const auto path = std::filesystem::temp_directory_path() /
                    ("troupe_render_test_" + std::to_string(::getpid()) + ".png");
  const auto written = write_png(path.string(), width, height, px);
  ASSERT_TRUE(written) << written.error().message;
  const auto image = read_png(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_EQ(image->width, width);
  EXPECT_EQ(image->height, height);
  ASSERT_EQ(image->rgba.size(), px.size());
  EXPECT_TRUE(std::equal(px.begin(), px.end(), image->rgba.begin()));
}

// Frames are deflated in bands of rows on more than one thread: whatever the
// size (one band, a part band at the end, one pixel), every write gives the
// same bytes, and they decode to the pixels written.
TEST(Renderer, PngBytesAreTheSameEveryWriteAndKeepEveryPixel) {
  const auto path = std::filesystem::temp_directory_path() / ("troupe_png_test_" + std::to_string(::getpid()) + ".png");
  auto bytes_of = [&] {
    std::ifstream in(path, std::ios::binary);
    return std::vector<char>((std::istreambuf_iterator<char>(in)), {});
  };
  std::uint32_t seed = 12345;
  for (const auto& [w, h] : std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, 1}, {7, 1}, {33, 65}, {1280, 130}}) {
    // Flat runs (as a rendered frame has) and noise.
    std::vector<std::uint8_t> px(std::size_t{w} * h * 4);
    for (std::size_t i = 0; i < px.size(); ++i) {
      seed = seed * 1664525u + 1013904223u;
      px[i] = (i / 64) % 3 == 0 ? static_cast<std::uint8_t>(seed >> 24) : static_cast<std::uint8_t>(i / 4096);
    }
    ASSERT_TRUE(write_png(path.string(), w, h, px)) << w << "x" << h;
    const auto first = bytes_of();
    ASSERT_TRUE(write_png(path.string(), w, h, px));
    EXPECT_EQ(bytes_of(), first) << w << "x" << h;
    const auto image = read_png(path.string());
    ASSERT_TRUE(image.has_value()) << image.error().message;
    EXPECT_EQ(image->width, w);
    EXPECT_EQ(image->height, h);
    EXPECT_EQ(image->rgba, px) << w << "x" << h;
  }
  std::filesystem::remove(path);
}

TEST(Renderer, PngWriteToMissingDirectoryGivesError) {
  const std::vector<std::uint8_t> px(4 * 4 * 4, 0x80);
  const auto written = write_png("/nonexistent-dir/troupe.png", 4, 4, px);
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code, errc::io_failed);
  EXPECT_NE(written.error().message.find("/nonexistent-dir/troupe.png"), std::string::npos);
  EXPECT_FALSE(write_png("/tmp/x.png", 4, 4, std::span(px).first(10)));
}

TEST(Renderer, UnknownDeviceNameGivesClearError) {
  ::setenv("VK_ICD_FILENAMES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", 1);
  Settings s = sphere_settings();
  s.device = "no-such-device";
  const auto r = Renderer::create(s);
  ASSERT_FALSE(r.has_value());
  const std::string& msg = r.error().message;
  EXPECT_NE(msg.find("no Vulkan device matches \"no-such-device\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("llvmpipe"), std::string::npos) << msg; // lists what is there
}

TEST(Renderer, GpuChoiceWithOnlyLavapipeGivesClearError) {
  ::setenv("VK_ICD_FILENAMES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", 1);
  Settings s = sphere_settings();
  s.device = "gpu";
  const auto r = Renderer::create(s);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("no Vulkan device matches \"gpu\""), std::string::npos)
      << r.error().message;
}

TEST(Renderer, MissingDriverGivesClearError) {
  ::setenv("VK_ICD_FILENAMES", "/nonexistent/icd.json", 1);
  const auto r = Renderer::create(sphere_settings());
  ::setenv("VK_ICD_FILENAMES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", 1);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("Vulkan"), std::string::npos) << r.error().message;
}

} // namespace
} // namespace troupe::render
