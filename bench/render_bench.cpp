// Frame time of the offscreen renderer at 1280x720 on lavapipe (the CPU Vulkan
// driver), for the "pile" scene: the camera is fitted to the arena, every body on
// screen. One iteration = one `Renderer::draw` (upload, draw, copy-out, read-back).
#include <troupe/render/renderer.hpp>
#include <troupe/sim/scenario.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

namespace {

void BM_RenderPile(benchmark::State& state) {
  // Pin lavapipe, as the targets are stated for it; a GPU run sets
  // TROUPE_RENDER_DEVICE (e.g. "gpu") and leaves VK_ICD_FILENAMES alone.
  const char* device = std::getenv("TROUPE_RENDER_DEVICE");
  if (device == nullptr) {
    ::setenv("VK_ICD_FILENAMES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", 1);
  }
  troupe::render::Settings settings;
  settings.device = device ? device : "lavapipe";
  auto renderer = troupe::render::Renderer::create(settings);
  if (!renderer) {
    state.SkipWithError(renderer.error().message.c_str());
    return;
  }
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

} // namespace
