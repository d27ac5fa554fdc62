// Kind "render": a reader that draws the newest world with Vulkan (render/)
// and records frames.
//
// Two streams arrive through the reader actor (reader.hpp):
// - live snapshots (mailbox policy `latest`): drawn at most max_fps times a
//   second; a slow renderer skips generations, it never queues them;
// - recorded snapshots (every frames_every ticks), each exactly once and in
//   tick order, written to OUT/frames/frame-TICK.png and piped to ffmpeg for
//   OUT/run.mp4, so the frames of a run are the same whatever crashes and
//   wherever render runs.
// A window's keys become commands of the source (scheduled, numbered and
// logged like the timeline's), so a window run replays to the same hash.
//
// Threads: blocking (drawing waits for the device, files block): a thread of
// its own, on which the device and the window are opened.

#include "subsystems.hpp"

#include <troupe/live/trace.hpp>

#include <troupe/actors/metrics.hpp>
#include <troupe/render/renderer.hpp>
#include <troupe/render/video.hpp>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <thread>
#include <utility>

namespace troupe {
namespace {

using namespace std::chrono_literals;

constexpr std::array<std::string_view, 2> video_names = {"auto", "off"};
constexpr auto window_poll = std::chrono::milliseconds(16);

/// One recorded frame on its way to its PNG file and the video.
struct FrameJob {
  std::uint64_t tick = 0;
  std::string path; ///< the PNG file
  std::uint32_t width = 0, height = 0;
  std::vector<std::uint8_t> rgba;
  RecordedDone done; ///< logic holds the tick while capture_window are not done
};

/// Writes recorded frames on a thread of its own: encoding a 1280x720 PNG and
/// feeding ffmpeg take tens of milliseconds, which on render's thread would
/// delay drawing the newest snapshot and, once capture_window frames wait,
/// logic's tick. One thread, so frames reach the video in tick order. It lives
/// in the kind's state: a frame taken is written even if render crashes
/// before it is, and the video is one file across incarnations.
class FrameWriter {
public:
  FrameWriter(std::string node, std::string track, std::string video_mode, std::string video_path, double video_fps)
    : node_(std::move(node)), track_(std::move(track)), video_mode_(std::move(video_mode)),
      video_path_(std::move(video_path)), video_fps_(video_fps) {}
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;
  ~FrameWriter() {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable())
      thread_.join(); // writes what is queued first
  }

  /// A buffer for the next frame's pixels (one a written frame gave back).
  std::vector<std::uint8_t> buffer() {
    std::lock_guard<std::mutex> guard{mutex_};
    if (spare_.empty())
      return {};
    auto out = std::move(spare_.back());
    spare_.pop_back();
    return out;
  }

  void push(FrameJob job) {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      queue_.push_back(std::move(job));
      if (!thread_.joinable())
        thread_ = std::thread([this] { work(); });
    }
    wake_.notify_all();
  }

  /// Waits until every frame pushed is written, then finishes the video; the
  /// video's frame count (0: none was made), or why it failed.
  Expected<std::uint64_t> finish_video() {
    std::unique_lock<std::mutex> lock{mutex_};
    idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
    if (!video_)
      return std::uint64_t{0};
    const auto frames = video_->frames();
    auto finished = video_->finish();
    video_.reset();
    if (!finished)
      return finished.error();
    return frames;
  }

  const std::string& video_path() const { return video_path_; }

  /// Lines for the user since the last call (the writer's thread has no
  /// terminal of its own).
  std::vector<std::string> take_news() {
    std::lock_guard<std::mutex> guard{mutex_};
    return std::exchange(news_, {});
  }

  struct Figures {
    std::uint64_t frames = 0, errors = 0, video_frames = 0;
    Percentiles save_ms;
  };
  Figures figures() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return {frames_, errors_, video_frames_, save_ms_.percentiles()};
  }

private:
  void work() {
    std::unique_lock<std::mutex> lock{mutex_};
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return; // stopping, and everything written
      auto job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      write(job);
      job.done();
      lock.lock();
      busy_ = false;
      if (spare_.size() < 2)
        spare_.push_back(std::move(job.rgba));
      if (queue_.empty())
        idle_.notify_all();
    }
  }

  /// On the writer's thread, without the lock (the video is the thread's own
  /// until finish_video, which waits for it to be idle).
  void write(const FrameJob& job) {
    const auto started = steady_now_ns();
    std::vector<std::string> news;
    auto png = render::write_png(job.path, job.width, job.height, job.rgba);
    if (!video_tried_ && video_mode_ == "auto") {
      video_tried_ = true;
      if (auto ffmpeg = render::find_on_path("ffmpeg")) {
        auto encoder = render::VideoEncoder::start(*ffmpeg, video_path_, job.width, job.height, video_fps_);
        if (encoder)
          video_.emplace(std::move(*encoder));
        else
          news.push_back(encoder.error().message);
      }
    }
    if (video_) {
      if (auto written = video_->write(job.rgba); !written) {
        news.push_back(written.error().message + "; no more video");
        video_.reset();
      }
    }
    const auto saved = steady_now_ns();
    live::trace_span("save", node_, track_, started, saved, static_cast<std::int64_t>(job.tick));
    std::lock_guard<std::mutex> guard{mutex_};
    save_ms_.add(static_cast<double>(saved - started) / 1e6);
    ++frames_;
    if (!png && errors_++ == 0)
      news_.push_back(png.error().message); // the first write error, not every one
    news_.insert(news_.end(), news.begin(), news.end());
    if (video_)
      video_frames_ = video_->frames();
  }

  const std::string node_, track_, video_mode_, video_path_;
  const double video_fps_;
  mutable std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<FrameJob> queue_;
  std::vector<std::vector<std::uint8_t>> spare_;
  std::vector<std::string> news_;
  bool busy_ = false, stopping_ = false;
  std::uint64_t frames_ = 0, errors_ = 0, video_frames_ = 0;
  SampleRecorder save_ms_;
  // The writer thread's own:
  std::optional<render::VideoEncoder> video_;
  bool video_tried_ = false; ///< started (or failed to) once: do not retry
  std::thread thread_;        ///< last: started once the rest exists
};

/// What a render actor leaves for its next incarnation: the writer of its
/// recorded frames (and so the frame count and the video).
struct RenderState {
  explicit RenderState(const ActorContext& ctx)
    : writer(ctx.spec.node, ctx.spec.name + " writer", ctx.params<RenderParams>().video,
             ctx.options.out_dir + "/run" + suffix(ctx.spec.name) + ".mp4", ctx.params<RenderParams>().video_fps) {}
  static std::string suffix(const std::string& name) { return name == "render" ? std::string{} : "-" + name; }
  FrameWriter writer;
};

class Render final : public Reader {
public:
  explicit Render(const ActorContext& ctx)
    : params_(ctx.params<RenderParams>()), state_(ctx.state_as<RenderState>()), name_(ctx.spec.name),
      node_(ctx.spec.node) {
    frame_ms_.mirror(live::histogram("troupe_frame_seconds", "Drawing one frame", labels_of(ctx.spec)), 1e-3);
    if (ctx.options.window)
      params_.window = true;
    frames_dir_ = ctx.options.out_dir + "/frames" + RenderState::suffix(name_);
  }

  /// Creates the renderer; the reason when it cannot.
  std::string open(ReaderContext& ctx) {
    // Before the device: the driver's threads (lavapipe's) inherit it.
    ctx.yield_to_simulation();
    render::Settings settings;
    settings.width = params_.width;
    settings.height = params_.height;
    settings.device = params_.device;
    settings.window = params_.window;
    settings.title = "troupe: " + name_;
    if (params_.eye || params_.target) {
      render::Camera camera;
      if (params_.eye)
        camera.eye = vec3(*params_.eye);
      if (params_.target)
        camera.target = vec3(*params_.target);
      settings.camera = camera;
    }
    auto created = render::Renderer::create(settings);
    if (!created)
      return "no usable Vulkan device: " + created.error().message;
    renderer_.emplace(std::move(*created));
    device_ = renderer_->device_name();
    configured_camera_ = settings.camera;
    if (renderer_->has_window())
      poll_later(ctx);
    if (params_.frames_every > 0) {
      std::error_code ec;
      std::filesystem::create_directories(frames_dir_, ec);
      if (ec)
        return "cannot create " + frames_dir_ + ": " + ec.message();
    }
    return {};
  }

  /// Goes on without a device: declines recorded frames, so logic does not
  /// wait for frames that never come.
  void disable(std::string why, ReaderContext& ctx) {
    renderer_.reset();
    disabled_ = std::move(why);
    ctx.resubscribe();
  }

  Subscription subscription() const override {
    if (!renderer_ || params_.frames_every == 0)
      return {topic_snapshots, 0, 1};
    return {static_cast<std::uint8_t>(topic_snapshots | topic_recorded_frames), params_.frames_every,
            params_.capture_window};
  }

  void on_snapshot(const Snapshot& snapshot, ReaderContext& ctx) override {
    if (!renderer_)
      return;
    if (snapshot.generation <= last_generation_) {
      ++stale_; // drawn already (it was recorded)
      return;
    }
    if (params_.max_fps > 0) {
      const auto due = last_draw_ns_ + static_cast<std::int64_t>(1e9 / params_.max_fps);
      const auto now = steady_now_ns();
      if (last_draw_ns_ != 0 && now < due) {
        // Too soon: keep only the newest and draw it when the frame is due.
        if (pending_live_)
          ++deferred_dropped_;
        pending_live_ = snapshot;
        if (!timer_pending_) {
          timer_pending_ = true;
          ctx.after(std::chrono::nanoseconds(due - now));
        }
        return;
      }
    }
    pending_live_.reset();
    last_world_ = snapshot.world;
    if (renderer_->has_window())
      renderer_->set_camera(orbit_camera(*snapshot.world));
    if (!draw(*snapshot.world, ctx))
      return;
    shown(snapshot);
    if (renderer_->has_window() && !window_closed_) {
      auto input = renderer_->present();
      if (!input)
        throw std::runtime_error(input.error().message); // a restart makes a new window
      if (!presented_) {
        presented_ = true;
        ctx.say(name_ + ": window open, first frame shown (" + device_ + ")");
      }
      handle(*input, ctx);
    }
  }

  void on_recorded(const Snapshot& snapshot, ReaderContext& ctx) override {
    if (!renderer_)
      return;
    const bool newer = snapshot.generation > last_generation_;
    if (renderer_->has_window())
      renderer_->set_camera(configured_camera_); // recorded frames never follow the user's view
    if (!draw(*snapshot.world, ctx))
      return;
    if (newer)
      shown(snapshot); // it is the newest world too: no need to draw it twice
    else
      ++late_recorded_; // older than the screen (a resend): drawn for the file only
    // Encoded and written on the writer's thread; logic counts the frame
    // outstanding (capture_window) until it is.
    const auto pixels = renderer_->pixels();
    FrameJob job;
    job.tick = snapshot.tick;
    char file[48];
    std::snprintf(file, sizeof file, "/frame-%06" PRIu64 ".png", snapshot.tick);
    job.path = frames_dir_ + file;
    job.width = renderer_->width();
    job.height = renderer_->height();
    job.rgba = state_.writer.buffer();
    job.rgba.assign(pixels.begin(), pixels.end());
    job.done = ctx.finish_recorded_later();
    state_.writer.push(std::move(job));
    say_news(ctx);
  }

  void on_timer(ReaderContext& ctx) override {
    timer_pending_ = false;
    if (pending_live_) {
      auto snapshot = std::move(*pending_live_);
      pending_live_.reset();
      on_snapshot(snapshot, ctx);
    }
    if (renderer_ && renderer_->has_window() && !window_closed_) {
      // The window stays responsive while no snapshot comes (paused, or the
      // run is over and others flush).
      handle(renderer_->poll_window(), ctx);
      if (!timer_pending_)
        poll_later(ctx);
    }
  }

  void on_finish(std::uint64_t, ReaderContext& ctx) override {
    auto finished = state_.writer.finish_video(); // every recorded frame is written first
    say_news(ctx);
    if (!finished)
      ctx.say(name_ + ": " + finished.error().message);
    else
      video_written_ = *finished > 0;
  }

  void report(ActorReport& out) const override {
    const auto written = state_.writer.figures();
    const auto recorded_total = written.frames;
    for (const auto& [name, value] : std::initializer_list<std::pair<const char*, double>>{
           {"frames_drawn", static_cast<double>(frames_drawn_)},
           // Live snapshots never drawn: skipped by the mailbox or between draws.
           {"generations_skipped", static_cast<double>(skipped_)},
           {"stale_snapshots", static_cast<double>(stale_)},
           {"frames_recorded", static_cast<double>(recorded_total)},
           {"recorded_late", static_cast<double>(late_recorded_)},
           {"frame_write_errors", static_cast<double>(written.errors)},
           {"video_frames", static_cast<double>(written.video_frames)},
           {"disabled", disabled_.empty() ? 0.0 : 1.0}})
      set_counter(out, name, value);
    out.distributions = {{"frame_ms", frame_ms_.percentiles()},
                         {"snapshot_age_ms", age_ms_.percentiles()},
                         {"frame_save_ms", written.save_ms}};
    out.series = {{"frame_ms", frame_ms_.series()}, {"snapshot_age_ms", age_ms_.series()}};
    out.notes = {{"device", device_.empty() ? std::string{"none"} : device_},
                 {"size", std::to_string(params_.width) + "x" + std::to_string(params_.height)},
                 {"series_per", "frame"}};
    if (params_.frames_every > 0 && renderer_)
      out.notes.emplace_back("frames", frames_dir_);
    if (video_written_)
      out.notes.emplace_back("video", state_.writer.video_path());
    if (!disabled_.empty())
      out.notes.emplace_back("disabled", disabled_);
    // One line for the run's summary.
    std::string summary;
    if (!disabled_.empty()) {
      summary = "disabled (" + disabled_ + ")";
    } else {
      summary = std::to_string(frames_drawn_) + " frames drawn on " + device_ + ", " + std::to_string(skipped_) +
                " generations skipped";
      if (recorded_total > 0)
        summary += ", " + std::to_string(recorded_total) + " recorded in " + frames_dir_;
      if (video_written_)
        summary += ", video " + state_.writer.video_path();
    }
    out.notes.emplace_back("summary", summary);
  }

private:
  /// What the frame writer has to say (a write error, ffmpeg failing).
  void say_news(ReaderContext& ctx) {
    for (const auto& line : state_.writer.take_news())
      ctx.say(name_ + ": " + line);
  }

  void poll_later(ReaderContext& ctx) {
    timer_pending_ = true;
    ctx.after(window_poll);
  }

  /// Draws `world`; false (and the reader disabled) when the device is lost
  /// and render is not required.
  bool draw(const sim::World& world, ReaderContext& ctx) {
    const auto began = steady_now_ns();
    auto frame = renderer_->draw(world);
    if (frame) {
      frame_ms_.add(frame->total_ms);
      live::trace_span("draw", node_, name_, began, steady_now_ns(), static_cast<std::int64_t>(world.tick));
      return true;
    }
    const auto why = "drawing failed: " + frame.error().message;
    if (params_.required)
      throw std::runtime_error(why); // a restart makes a new device
    ctx.say(name_ + ": " + why + "; the run goes on without it (required = false)");
    disable(why, ctx);
    return false;
  }

  /// Marks `snapshot` as what the screen shows now.
  void shown(const Snapshot& snapshot) {
    if (last_generation_ != 0 && snapshot.generation > last_generation_ + 1)
      skipped_ += snapshot.generation - last_generation_ - 1;
    last_generation_ = snapshot.generation;
    last_draw_ns_ = steady_now_ns();
    ++frames_drawn_;
    age_ms_.add(static_cast<double>(last_draw_ns_ - snapshot.published_ns) / 1e6);
  }

  /// The live view: the configured (or arena-fitting) camera, turned around
  /// its target by the user's dragging and moved by the wheel.
  std::optional<render::Camera> orbit_camera(const sim::World& world) const {
    if (yaw_ == 0 && pitch_ == 0 && zoom_ == 1)
      return configured_camera_;
    auto camera = configured_camera_.value_or(
      render::fit_arena(world.arena, static_cast<float>(params_.width) / static_cast<float>(params_.height)));
    const auto offset = camera.eye - camera.target;
    const float distance = std::sqrt(offset.x * offset.x + offset.y * offset.y + offset.z * offset.z) * zoom_;
    const float base_yaw = std::atan2(offset.x, offset.z);
    const float base_pitch = std::asin(offset.y / std::max(distance / zoom_, 1e-6f));
    const float yaw = base_yaw + yaw_;
    const float pitch = std::clamp(base_pitch + pitch_, -1.5f, 1.5f);
    camera.eye = camera.target + sim::Vec3{distance * std::cos(pitch) * std::sin(yaw), distance * std::sin(pitch),
                                           distance * std::cos(pitch) * std::cos(yaw)};
    camera.far_plane = std::max(camera.far_plane, distance * 4);
    return camera;
  }

  /// What the user did in the window: the camera turns and zooms here; keys
  /// become commands; closing the window ends the run at the current tick.
  void handle(const render::WindowInput& input, ReaderContext& ctx) {
    yaw_ -= input.drag_x * 0.005f;
    pitch_ += input.drag_y * 0.005f;
    zoom_ = std::clamp(zoom_ * std::pow(0.9f, input.scroll), 0.1f, 10.f);
    if (input.toggle_pause && last_world_) // the opposite of what the screen shows
      ctx.command(last_world_->paused ? "resume" : "pause");
    if (last_world_) {
      const auto& arena = last_world_->arena;
      const auto x = 0.5f * (arena.min.x + arena.max.x), z = 0.5f * (arena.min.z + arena.max.z);
      const auto y = arena.min.y + 0.8f * (arena.max.y - arena.min.y);
      for (std::uint32_t i = 0; i < input.spawns; ++i)
        ctx.command("spawn " + std::to_string(x) + " " + std::to_string(y) + " " + std::to_string(z) + " 0 0 0 0.6");
    }
    if (input.close && !window_closed_) {
      window_closed_ = true;
      ctx.say(name_ + ": window closed; ending the run");
      ctx.end_run();
    }
  }

  RenderParams params_;
  RenderState& state_;
  std::string name_;
  std::string node_;
  std::string frames_dir_;
  std::optional<render::Renderer> renderer_;
  std::optional<render::Camera> configured_camera_;
  float yaw_ = 0, pitch_ = 0, zoom_ = 1;
  bool window_closed_ = false;
  bool presented_ = false;
  std::string device_;
  std::string disabled_;
  WorldPtr last_world_;
  std::optional<Snapshot> pending_live_;
  bool timer_pending_ = false;
  std::uint64_t last_generation_ = 0; // of what the screen shows
  std::int64_t last_draw_ns_ = 0;
  std::uint64_t frames_drawn_ = 0, skipped_ = 0, stale_ = 0, deferred_dropped_ = 0;
  std::uint64_t late_recorded_ = 0;
  bool video_written_ = false;
  SampleRecorder frame_ms_, age_ms_;
};

void read_params(config::ParamsReader& in, RenderParams& p) {
  in.integer("width", p.width, 16, 8192);
  in.integer("height", p.height, 16, 8192);
  in.text("device", p.device, true);
  in.integer("frames_every", p.frames_every, 0, 1'000'000);
  in.integer("capture_window", p.capture_window, 1, 64);
  in.choice("video", p.video, video_names);
  in.number("video_fps", p.video_fps, 0.0, 1000.0, true);
  in.number("max_fps", p.max_fps, 0.0, 10000.0);
  in.boolean("window", p.window);
  in.boolean("required", p.required);
  std::array<double, 3> v{};
  bool given = false;
  in.vec3("eye", v, &given);
  if (given)
    p.eye = v;
  in.vec3("target", v, &given);
  if (given)
    p.target = v;
  // Recorded frames wait in the mailbox beside the newest snapshot.
  const auto capacity = in.actor().mailbox.capacity;
  if (p.frames_every > 0 && capacity <= p.capture_window)
    in.refuse("mailbox.capacity", "capacity " + std::to_string(capacity) + " leaves no room beside capture_window " +
                                    std::to_string(p.capture_window) +
                                    " recorded frames; make it at least capture_window + 1");
}

} // namespace

Subsystem render_subsystem() {
  Subsystem kind;
  kind.name = "render";
  kind.role = Role::reader;
  // The newest snapshot replaces a queued one; recorded frames (never dropped,
  // at most capture_window of them) wait beside it.
  kind.mailbox = {8, config::Overflow::latest};
  kind.blocking = true;
  kind.opens_windows = true;
  kind.parse = config::parse_as<RenderParams>(read_params);
  kind.describe = [](const config::ActorSpec& spec, const config::Topology&) {
    const auto& p = spec.params_as<RenderParams>();
    std::string out = std::to_string(p.width) + "x" + std::to_string(p.height) + ", device " + p.device +
                      (p.window ? ", window" : ", offscreen") + ", max_fps " + config::format_number(p.max_fps);
    out += p.frames_every == 0 ? std::string{", no frames"}
                               : ", a frame every " + std::to_string(p.frames_every) + " ticks (window " +
                                   std::to_string(p.capture_window) + "), video " + p.video;
    return out + (p.required ? ", required" : ", optional");
  };
  kind.takes_live_commands = [](const config::ActorSpec& spec, const RunOptions& options) {
    return options.window || spec.params_as<RenderParams>().window; // a window's keys
  };
  kind.prepare = [](const ActorContext& ctx) -> Expected<std::shared_ptr<void>> {
    return std::shared_ptr<void>(std::make_shared<RenderState>(ctx));
  };
  kind.make_reader = [](const ActorContext& ctx, ReaderContext& out) -> Expected<std::unique_ptr<Reader>> {
    auto render = std::make_unique<Render>(ctx);
    if (auto why = render->open(out); !why.empty()) {
      if (ctx.params<RenderParams>().required)
        // No restart can conjure a device: the supervisor gives up at once and
        // troupe exits naming this reason.
        return Error{errc::unrecoverable, why};
      out.say(ctx.spec.name + ": " + why + "; the run goes on without it (required = false)");
      render->disable(why, out);
    }
    return std::unique_ptr<Reader>(std::move(render));
  };
  return kind;
}

} // namespace troupe
