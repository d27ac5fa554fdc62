// Frame time of the offscreen renderer at 1280x720 on lavapipe (the CPU Vulkan
// driver), for the "pile" scene: the camera is fitted to the arena, every body on
// screen. One iteration = one `Renderer::draw` (upload, draw, copy-out, read-back).
#include <troupe/render/renderer.hpp>
#include <troupe/sim/scenario.hpp>

#include <benchmark/benchmark.h>

#include <png.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

/// A renderer with default settings on lavapipe, as the targets are stated for
/// it; a GPU run sets TROUPE_RENDER_DEVICE (e.g. "gpu") and leaves
/// VK_ICD_FILENAMES alone. Empty (the benchmark skipped) when there is none.
std::optional<troupe::render::Renderer> benchmark_renderer(benchmark::State& state) {
  const char* device = std::getenv("TROUPE_RENDER_DEVICE");
  if (device == nullptr)
    ::setenv("VK_ICD_FILENAMES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", 1);
  troupe::render::Settings settings;
  settings.device = device ? device : "lavapipe";
  auto renderer = troupe::render::Renderer::create(settings);
  if (!renderer) {
    state.SkipWithError(renderer.error().message.c_str());
    return std::nullopt;
  }
  return std::move(*renderer);
}

void BM_RenderPile(benchmark::State& state) {
  auto renderer = benchmark_renderer(state);
  if (!renderer)
    return;
  const auto bodies = static_cast<std::uint32_t>(state.range(0));
  const troupe::sim::World world =
      troupe::sim::make_scenario(troupe::sim::ScenarioSpec{.name = "pile", .bodies = bodies});
  // One warm-up frame: grows the instance buffer and lets the driver settle.
  if (auto warm = renderer->draw(world); !warm) {
    state.SkipWithError(warm.error().message.c_str());
    return;
  }
  double total = 0, upload = 0, render = 0, readback = 0;
  for (auto _ : state) {
    const auto times = renderer->draw(world);
    if (!times) {
      state.SkipWithError(times.error().message.c_str());
      return;
    }
    total += times->total_ms;
    upload += times->upload_ms;
    render += times->render_ms;
    readback += times->readback_ms;
  }
  const auto n = static_cast<double>(state.iterations());
  state.counters["ms_per_frame"] = total / n;
  state.counters["upload_ms"] = upload / n;
  state.counters["render_ms"] = render / n;
  state.counters["readback_ms"] = readback / n;
  state.SetLabel(renderer->device_name());
}

BENCHMARK(BM_RenderPile)->Arg(1'000)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond)
    ->UseRealTime();

/// The baseline: libpng's writer at zlib's fastest level with the Sub filter
/// (what troupe used before), to a file like write_png.
bool libpng_fastest(const std::string& path, std::uint32_t w, std::uint32_t h, const std::vector<std::uint8_t>& rgba) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file)
    return false;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(file);
    return false;
  }
  png_init_io(png, file);
  png_set_compression_level(png, 1);
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
  png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_BASE,
               PNG_FILTER_TYPE_BASE);
  png_write_info(png, info);
  for (std::uint32_t y = 0; y < h; ++y)
    png_write_row(png, rgba.data() + std::size_t{y} * w * 4);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return std::fclose(file) == 0;
}

/// Saving one recorded frame (render's writer thread, `frame_save_ms` in a
/// run's report): a 1280x720 frame of the 10k pile on lavapipe, written by
/// `write_png` and by the libpng baseline in turns, to files in the temporary directory.
void BM_FrameSave(benchmark::State& state) {
  auto renderer = benchmark_renderer(state);
  if (!renderer)
    return;
  const auto world = troupe::sim::make_scenario(troupe::sim::ScenarioSpec{.name = "pile", .bodies = 10'000});
  if (auto drawn = renderer->draw(world); !drawn) {
    state.SkipWithError(drawn.error().message.c_str());
    return;
  }
  const auto pixels = renderer->pixels();
  const std::vector<std::uint8_t> frame(pixels.begin(), pixels.end());
  const auto dir = std::filesystem::temp_directory_path();
  const auto ours = (dir / ("troupe-bench-frame-" + std::to_string(::getpid()) + ".png")).string();
  const auto theirs = (dir / ("troupe-bench-libpng-" + std::to_string(::getpid()) + ".png")).string();
  using clock = std::chrono::steady_clock;
  double ours_ms = 0, theirs_ms = 0;
  for (auto _ : state) {
    const auto t0 = clock::now();
    if (!troupe::render::write_png(ours, renderer->width(), renderer->height(), frame)) {
      state.SkipWithError("write_png failed");
      return;
    }
    const auto t1 = clock::now();
    if (!libpng_fastest(theirs, renderer->width(), renderer->height(), frame)) {
      state.SkipWithError("libpng failed");
      return;
    }
    const auto t2 = clock::now();
    ours_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
    theirs_ms += std::chrono::duration<double, std::milli>(t2 - t1).count();
  }
  const auto n = static_cast<double>(state.iterations());
  state.counters["save_ms"] = ours_ms / n;
  state.counters["libpng_fastest_ms"] = theirs_ms / n;
  state.counters["speedup"] = theirs_ms / ours_ms;
  state.counters["kb"] = static_cast<double>(std::filesystem::file_size(ours)) / 1024.0;
  state.counters["libpng_kb"] = static_cast<double>(std::filesystem::file_size(theirs)) / 1024.0;
  std::filesystem::remove(ours);
  std::filesystem::remove(theirs);
}

BENCHMARK(BM_FrameSave)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
