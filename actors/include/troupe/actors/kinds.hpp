#pragma once
/// \file The parameters of the built-in kinds: what each reads from its own
/// [actors.NAME] table (an application's kind declares its own the same way).
/// Plain data; no CAF.

#include <troupe/actors/runtime.hpp>
#include <troupe/config/topology.hpp>
#include <troupe/sim/physics.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace troupe {

/// Kind "physics", the stepper: the step's settings (substeps, iterations,
/// friction, contact_event_speed), and how the world is split into regions
/// (docs/architecture.md, "Regions").
struct PhysicsParams : sim::PhysicsSettings {
  /// Regions the world is split into: 1 is one physics actor stepping the
  /// whole world; N runs N region actors physics/0 ... physics/(N-1), each
  /// owning the bodies whose centres lie in its cell, with the same world hash.
  std::uint32_t regions = 1;
  /// Where region i runs: region_nodes[i % size] ("" = physics' own node).
  std::vector<std::string> region_nodes;
  /// How space is cut: slabs across this axis ("x", "y", "z"), evenly over
  /// the arena, unless `grid` is given.
  std::string cut = "x";
  /// Cells along x, y, z; their product is `regions` (0s: slabs along `cut`).
  std::array<std::uint32_t, 3> grid{0, 0, 0};
  /// "off", or "auto": every `rebalance_every` ticks the cuts of every cut
  /// axis are chosen from where the bodies are, so that each cell holds about
  /// as many, and take effect `rebalance_after` ticks later. A rebalance never
  /// changes the world hash; `rebalance AXIS [CUT ...]` in a timeline or live
  /// moves cuts too.
  std::string rebalance = "off";
  std::uint32_t rebalance_every = 120;
  std::uint32_t rebalance_after = 2;

  /// Cells along each axis: `grid`, or slabs along `cut`.
  std::array<std::uint32_t, 3> cells() const;
};

/// Kind "logic", the coordinator.
struct LogicParams {
  /// Fountain: one body every N ticks (0 = scenario default), up to max bodies.
  std::uint32_t fountain_every = 0;
  std::uint32_t fountain_max = 0;
  /// A rules plugin to run from the first tick (relative paths are relative to
  /// the config file; "" = the built-in rules only). `troupe run --rules` overrides.
  std::string rules;
  /// The only folder plugins are loaded from (relative to the config file),
  /// for the starting rules and every reload; "" = the folder of the starting
  /// rules, and no plugin at all when there are none. Loading a plugin runs its
  /// code: a path outside this folder, or a file another user could write, is
  /// refused before anything is opened.
  std::string plugin_dir;
  /// A new plugin first runs this many ticks on a copy of the world, within
  /// smoke_budget_ms, and is installed install_after_ticks after the tick the
  /// reload was asked for (the test runs meanwhile, off the tick path).
  std::uint32_t smoke_ticks = 30;
  std::uint32_t smoke_budget_ms = 2000;
  std::uint32_t install_after_ticks = 30;
};

/// Kind "input", the source.
struct InputParams {
  /// Scripted timeline file (relative paths are relative to the config file);
  /// empty = no scripted commands.
  std::string timeline;
  /// Ticks of commands sent ahead of the last acknowledged tick.
  std::uint32_t lead_ticks = 120;
  /// Accept live commands (`reload PATH` from any node, a window's keys): input
  /// then never promises the whole future, only a few ticks ahead. Implied by
  /// --watch and by a render window.
  bool live = false;
};

/// Kind "observer", a reader that measures what a reader sees: hand-off
/// latency, skipped generations, contact events.
struct ObserverParams {
  /// Simulated work per snapshot, in microseconds (0 = none); shows what
  /// `latest` delivery does for a slow reader.
  std::uint32_t work_us = 0;
};

/// Kind "audio", a reader: contact sounds.
struct AudioParams {
  /// Simultaneous impact sounds; a louder impact steals the quietest voice.
  std::uint32_t voices = 64;
  /// "wav": OUT/audio.wav through OpenAL Soft's loopback device (headless,
  /// sample-exact); "device": the default output device, or the WAV file with a
  /// message when there is none. `--audio` overrides.
  std::string output = "wav";
  /// Where the listener stands and what it faces (up is +y).
  std::array<double, 3> listener{0.0, 6.0, 24.0};
  std::array<double, 3> listener_target{0.0, 2.0, 0.0};
  /// The WAV's look-ahead limiter: no sample above -1 dBFS (the mix lags by
  /// 1 ms). false: the mix as it is, clipped samples counted.
  bool limiter = true;
};

/// Kind "render", a reader: draws the newest snapshot with Vulkan and records
/// frames.
struct RenderParams {
  std::uint32_t width = 1280; ///< image size in pixels
  std::uint32_t height = 720;
  /// "auto" (a real GPU when present, else lavapipe), "lavapipe", "gpu", or part
  /// of a device name.
  std::string device = "auto";
  /// Record the world every N ticks as OUT/frames/frame-TICK.png (0 = no frames).
  /// Recording is lossless: logic holds the tick while more than
  /// `capture_window` recorded frames are not yet written.
  std::uint32_t frames_every = 60;
  std::uint32_t capture_window = 2;
  /// OUT/run.mp4 from the recorded frames: "auto" (when ffmpeg is on PATH) or "off".
  std::string video = "auto";
  /// Frames per second of the recorded video.
  double video_fps = 30.0;
  /// Live draws of the newest snapshot per second of wall clock (0 = every
  /// snapshot that arrives); between draws newer snapshots replace older ones.
  double max_fps = 30.0;
  /// Open a window (GLFW) instead of drawing offscreen (`--window` sets it).
  bool window = false;
  /// Without a usable Vulkan device (or a window when one is asked for): true =
  /// troupe exits with the reason; false = the run goes on without render.
  bool required = true;
  /// A fixed camera; when not given the camera frames the arena.
  std::optional<std::array<double, 3>> eye;
  std::optional<std::array<double, 3>> target;
};

/// The rules plugin a run starts with: --rules, else the coordinator's `rules`
/// resolved relative to the config ("" = the built-in rules only).
std::string starting_rules(const config::Topology& topology, const RunOptions& options);

/// The folder plugins may be loaded from in this run: the coordinator's
/// `plugin_dir` resolved relative to the config, else the folder of the
/// starting rules ("" = none: no plugin loads).
std::string plugin_dir(const config::Topology& topology, const RunOptions& options);

} // namespace troupe
