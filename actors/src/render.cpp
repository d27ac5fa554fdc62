// The render actor: a snapshot-bus subscriber that draws the newest world with
// Vulkan (render/) and records frames.
//
// Two streams arrive, in generation order, through the actor's stable name:
// - live snapshots (`Snapshot`, mailbox policy `latest`): drawn at most max_fps
//   times a second; never the same generation twice, never an older one; a
//   slow renderer skips generations, it never queues them;
// - recorded snapshots (`capture_atom, Snapshot`, every frames_every ticks):
//   never dropped (logic keeps each until acknowledged and holds the tick while
//   capture_window are outstanding), written in tick order to
//   OUT/frames/frame-TICK.png and piped to ffmpeg for OUT/run.mp4. A resend
//   after a restart is acknowledged again, not written twice, so the frames of
//   a run are the same whatever crashes and wherever render runs.
//
// Threads: spawned detached (drawing waits for the device, files block).

#include "subsystems.hpp"

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/metrics.hpp>
#include <troupe/messages/caf_types.hpp>
#include <troupe/render/renderer.hpp>

#include <caf/all.hpp>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

namespace troupe {
namespace {

using namespace std::chrono_literals;

class render_actor : public bounded_actor {
public:
  render_actor(caf::actor_config& cfg, RenderSetup setup)
    : bounded_actor(cfg, setup.id.mailbox), setup_(std::move(setup)) {}

  caf::behavior make_behavior() override {
    if (auto why = open(); !why.empty()) {
      if (setup_.params.required) {
        // No restart can conjure a device: the supervisor gives up at once and
        // troupe exits naming this reason.
        quit(make_error(errc::unrecoverable, why));
        return {};
      }
      aout(this) << setup_.id.name << ": " << why << "; the run goes on without it (required = false)\n";
      disable(why);
    }
    return {
      [this](connect_atom, const std::string& role, const caf::actor& peer, const caf::actor& self_name,
             const caf::actor& input) {
        if (role != "logic")
          return;
        logic_ = peer;
        self_name_ = self_name;
        input_ = input; // where the window's keys go, as commands
        subscribe();
      },
      [this](const Snapshot& snapshot) { on_live(snapshot); },
      [this](const CompactSnapshot& compact) {
        if (auto snapshot = compact_.receive(compact, caf::actor_cast<caf::actor>(current_sender()), self_name_))
          on_live(*snapshot);
      },
      [this](capture_atom, const Snapshot& snapshot) { on_capture(snapshot); },
      [](const ContactBatch&) {}, // the bus sends contacts and rules events to every reader
      [](const RulesEvent&) {},
      [this](tick_atom) {
        timer_pending_ = false;
        if (pending_live_) {
          auto snapshot = std::move(*pending_live_);
          pending_live_.reset();
          on_live(snapshot);
        }
        if (renderer_ && renderer_->has_window() && !window_closed_) {
          // The window stays responsive while no snapshot comes (paused, or
          // the run is over and others flush).
          handle(renderer_->poll_window());
          if (!timer_pending_) {
            timer_pending_ = true;
            delayed_send(this, window_poll, tick_atom::value);
          }
        }
      },
      [this](flush_atom, std::uint64_t final_tick) {
        final_tick_ = final_tick;
        finish_promise_ = make_response_promise<ActorReport>();
        // Recorded frames may still be on their way from another node: wait for
        // them, but not forever.
        delayed_send(this, 30s, flush_atom::value);
        finish_if_due();
        return finish_promise_;
      },
      [this](flush_atom) {
        if (finish_promise_.pending()) {
          ++flush_timeouts_;
          finish();
        }
      },
      [this](report_atom) { return report(); },
    };
  }

private:
  /// Creates the renderer; the reason when it cannot.
  std::string open() {
    const auto& p = setup_.params;
    render::Settings settings;
    settings.width = p.width;
    settings.height = p.height;
    settings.device = p.device;
    settings.window = p.window;
    settings.title = "troupe: " + setup_.id.name;
    if (p.eye || p.target) {
      render::Camera camera;
      if (p.eye)
        camera.eye = vec3(*p.eye);
      if (p.target)
        camera.target = vec3(*p.target);
      settings.camera = camera;
    }
    auto created = render::Renderer::create(settings);
    if (!created)
      return "no usable Vulkan device: " + created.error().message;
    renderer_.emplace(std::move(*created));
    device_ = renderer_->device_name();
    configured_camera_ = settings.camera;
    if (renderer_->has_window()) {
      delayed_send(this, window_poll, tick_atom::value);
      timer_pending_ = true;
    }
    if (p.frames_every > 0) {
      std::error_code ec;
      std::filesystem::create_directories(setup_.frames_dir, ec);
      if (ec)
        return "cannot create " + setup_.frames_dir + ": " + ec.message();
    }
    std::lock_guard<std::mutex> guard{state().mutex};
    if (state().next_frame_tick == 0 && p.frames_every > 0)
      state().next_frame_tick = (setup_.start_tick / p.frames_every + 1) * p.frames_every;
    return {};
  }

  void disable(std::string why) {
    renderer_.reset();
    disabled_ = std::move(why);
    subscribe(); // declines recording: logic must not wait for frames that never come
  }

  /// Subscribes to the bus and asks for recorded frames; a disabled renderer
  /// declines them, so logic does not wait for it.
  void subscribe() {
    if (!logic_)
      return;
    const std::uint64_t every = renderer_ ? setup_.params.frames_every : 0;
    send(logic_, subscribe_atom::value, self_name_, setup_.id.name, every, setup_.params.capture_window);
  }

  RenderState& state() { return *setup_.state; }

  /// Draws `world`; false (and the actor disabled or failing) when the device
  /// is lost.
  bool draw(const sim::World& world) {
    auto frame = renderer_->draw(world);
    if (frame) {
      frame_ms_.add(frame->total_ms);
      return true;
    }
    const auto why = "drawing failed: " + frame.error().message;
    if (setup_.params.required)
      throw std::runtime_error(why); // a restart makes a new device
    aout(this) << setup_.id.name << ": " << why << "; the run goes on without it (required = false)\n";
    disable(why);
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

  void on_live(const Snapshot& snapshot) {
    setup_.chaos.strike(snapshot.tick);
    if (!renderer_)
      return;
    if (snapshot.generation <= last_generation_) {
      ++stale_; // drawn already (it was recorded), or older than what is shown
      return;
    }
    const auto max_fps = setup_.params.max_fps;
    if (max_fps > 0) {
      const auto due = last_draw_ns_ + static_cast<std::int64_t>(1e9 / max_fps);
      const auto now = steady_now_ns();
      if (last_draw_ns_ != 0 && now < due) {
        // Too soon: keep only the newest and draw it when the frame is due.
        pending_live_ = snapshot;
        if (!timer_pending_) {
          timer_pending_ = true;
          delayed_send(this, std::chrono::nanoseconds(due - now), tick_atom::value);
        }
        return;
      }
    }
    pending_live_.reset();
    last_world_ = snapshot.world;
    if (renderer_->has_window())
      renderer_->set_camera(orbit_camera(*snapshot.world));
    if (!draw(*snapshot.world))
      return;
    shown(snapshot);
    if (renderer_->has_window() && !window_closed_) {
      auto input = renderer_->present();
      if (!input)
        throw std::runtime_error(input.error().message); // a restart makes a new window
      if (!presented_) {
        presented_ = true;
        aout(this) << setup_.id.name << ": window open, first frame shown (" << device_ << ")\n";
      }
      handle(*input);
    }
  }

  /// The live view: the configured (or arena-fitting) camera, turned around
  /// its target by the user's dragging and moved by the wheel.
  std::optional<render::Camera> orbit_camera(const sim::World& world) const {
    if (yaw_ == 0 && pitch_ == 0 && zoom_ == 1)
      return configured_camera_;
    auto camera = configured_camera_.value_or(render::fit_arena(
        world.arena, static_cast<float>(setup_.params.width) / static_cast<float>(setup_.params.height)));
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

  /// What the user did in the window: the camera turns and zooms here; closing
  /// the window ends the run (logic finishes at its current tick).
  void handle(const render::WindowInput& input) {
    yaw_ -= input.drag_x * 0.005f;
    pitch_ += input.drag_y * 0.005f;
    zoom_ = std::clamp(zoom_ * std::pow(0.9f, input.scroll), 0.1f, 10.f);
    // Keys become commands: input schedules, numbers and logs them like the
    // timeline's, so a window run replays to the same hash.
    if (input_ && input.toggle_pause && last_world_) // the opposite of what the screen shows
      send(input_, action_atom::value, std::string{last_world_->paused ? "resume" : "pause"});
    if (input_ && last_world_) {
      const auto& arena = last_world_->arena;
      const auto x = 0.5f * (arena.min.x + arena.max.x), z = 0.5f * (arena.min.z + arena.max.z);
      const auto y = arena.min.y + 0.8f * (arena.max.y - arena.min.y);
      for (std::uint32_t i = 0; i < input.spawns; ++i)
        send(input_, action_atom::value,
             "spawn " + std::to_string(x) + " " + std::to_string(y) + " " + std::to_string(z) + " 0 0 0 0.6");
    }
    if (input.close && !window_closed_) {
      window_closed_ = true;
      aout(this) << setup_.id.name << ": window closed; ending the run\n";
      if (logic_)
        send(logic_, done_atom::value);
    }
  }

  void on_capture(const Snapshot& snapshot) {
    setup_.chaos.strike(snapshot.tick);
    if (!renderer_)
      return;
    std::uint64_t next = 0;
    {
      std::lock_guard<std::mutex> guard{state().mutex};
      next = state().next_frame_tick;
    }
    if (snapshot.tick < next) {
      // Written by this or an earlier incarnation: a resend. Say so again.
      ++duplicates_;
      send(logic_, capture_atom::value, setup_.id.name, snapshot.tick);
      return;
    }
    if (snapshot.tick > next) {
      // An earlier frame is still to come (a resend after a restart): frames
      // are written in tick order. At most capture_window wait here.
      waiting_.emplace(snapshot.tick, snapshot);
      return;
    }
    record(snapshot);
    for (auto i = waiting_.begin(); i != waiting_.end();) {
      if (i->first < next_frame_tick())
        i = waiting_.erase(i);
      else if (i->first == next_frame_tick())
        record(i->second), i = waiting_.erase(i);
      else
        break;
    }
    finish_if_due();
  }

  std::uint64_t next_frame_tick() {
    std::lock_guard<std::mutex> guard{state().mutex};
    return state().next_frame_tick;
  }

  void record(const Snapshot& snapshot) {
    const auto newer = snapshot.generation > last_generation_;
    if (renderer_->has_window())
      renderer_->set_camera(configured_camera_); // recorded frames never follow the user's view
    if (!draw(*snapshot.world))
      return;
    if (newer)
      shown(snapshot); // it is the newest world too: no need to draw it twice
    else
      ++late_recorded_; // older than the screen (a resend): drawn for the file only
    const auto pixels = renderer_->pixels();
    const auto started = steady_now_ns();
    char name[48];
    std::snprintf(name, sizeof name, "/frame-%06" PRIu64 ".png", snapshot.tick);
    if (auto written = render::write_png(setup_.frames_dir + name, renderer_->width(), renderer_->height(), pixels);
        !written) {
      if (write_errors_++ == 0)
        aout(this) << setup_.id.name << ": " << written.error().message << "\n";
    }
    std::lock_guard<std::mutex> guard{state().mutex};
    auto& st = state();
    if (!st.video_tried && setup_.params.video == "auto") {
      st.video_tried = true;
      if (auto ffmpeg = render::find_on_path("ffmpeg")) {
        auto encoder = render::VideoEncoder::start(*ffmpeg, setup_.video_path, renderer_->width(),
                                                   renderer_->height(), setup_.params.video_fps);
        if (encoder)
          st.video.emplace(std::move(*encoder));
        else
          aout(this) << setup_.id.name << ": " << encoder.error().message << "\n";
      }
    }
    if (st.video) {
      if (auto written = st.video->write(pixels); !written) {
        aout(this) << setup_.id.name << ": " << written.error().message << "; no more video\n";
        st.video.reset();
      }
    }
    save_ms_.add(static_cast<double>(steady_now_ns() - started) / 1e6);
    st.next_frame_tick = snapshot.tick + setup_.params.frames_every;
    ++st.frames_recorded;
    ++recorded_;
    send(logic_, capture_atom::value, setup_.id.name, snapshot.tick);
  }

  void finish_if_due() {
    if (!finish_promise_.pending())
      return;
    // Every recorded tick up to the last one is written.
    if (!renderer_ || setup_.params.frames_every == 0 || next_frame_tick() > final_tick_)
      finish();
  }

  void finish() {
    {
      std::lock_guard<std::mutex> guard{state().mutex};
      if (state().video) {
        video_frames_ = state().video->frames();
        if (auto finished = state().video->finish(); !finished)
          aout(this) << setup_.id.name << ": " << finished.error().message << "\n";
        else
          video_written_ = true;
        state().video.reset();
      }
    }
    finish_promise_.deliver(report());
  }

  ActorReport report() {
    auto out = make_report(setup_.id, mailbox_stats());
    std::uint64_t recorded_total = 0;
    {
      std::lock_guard<std::mutex> guard{state().mutex};
      recorded_total = state().frames_recorded;
      if (state().video)
        video_frames_ = state().video->frames();
    }
    out.counters = {{"frames_drawn", static_cast<double>(frames_drawn_)},
                    {"generations_skipped", static_cast<double>(skipped_)},
                    {"stale_snapshots", static_cast<double>(stale_)},
                    {"last_generation", static_cast<double>(last_generation_)},
                    {"frames_recorded", static_cast<double>(recorded_total)},
                    {"frames_recorded_here", static_cast<double>(recorded_)},
                    {"recorded_duplicates", static_cast<double>(duplicates_)},
                    {"recorded_late", static_cast<double>(late_recorded_)},
                    {"frame_write_errors", static_cast<double>(write_errors_)},
                    {"video_frames", static_cast<double>(video_frames_)},
                    {"flush_timeouts", static_cast<double>(flush_timeouts_)},
                    {"disabled", disabled_.empty() ? 0.0 : 1.0},
                    {"incarnation", static_cast<double>(setup_.chaos.incarnation)}};
    for (auto& counter : compact_.counters())
      out.counters.push_back(std::move(counter));
    out.distributions = {{"frame_ms", frame_ms_.percentiles()},
                         {"snapshot_age_ms", age_ms_.percentiles()},
                         {"frame_save_ms", save_ms_.percentiles()}};
    out.series = {{"frame_ms", frame_ms_.series()}, {"snapshot_age_ms", age_ms_.series()}};
    out.notes = {{"device", device_.empty() ? std::string{"none"} : device_},
                 {"size", std::to_string(setup_.params.width) + "x" + std::to_string(setup_.params.height)}};
    if (setup_.params.frames_every > 0 && renderer_)
      out.notes.emplace_back("frames", setup_.frames_dir);
    if (video_written_)
      out.notes.emplace_back("video", setup_.video_path);
    if (!disabled_.empty())
      out.notes.emplace_back("disabled", disabled_);
    return out;
  }

  void on_exit() override {
    logic_ = nullptr;
    self_name_ = nullptr;
    input_ = nullptr;
    last_world_ = nullptr;
    renderer_.reset();
  }

  static constexpr auto window_poll = std::chrono::milliseconds(16);

  RenderSetup setup_;
  CompactReceiver compact_;
  std::optional<render::Renderer> renderer_;
  std::optional<render::Camera> configured_camera_;
  float yaw_ = 0, pitch_ = 0, zoom_ = 1;
  bool window_closed_ = false;
  bool presented_ = false;
  std::string device_;
  std::string disabled_;
  caf::actor logic_;
  caf::actor self_name_;
  caf::actor input_;
  WorldPtr last_world_;
  std::optional<Snapshot> pending_live_;
  bool timer_pending_ = false;
  std::map<std::uint64_t, Snapshot> waiting_; // recorded snapshots ahead of their turn
  std::uint64_t last_generation_ = 0;
  std::int64_t last_draw_ns_ = 0;
  std::uint64_t final_tick_ = 0;
  caf::typed_response_promise<ActorReport> finish_promise_;
  std::uint64_t frames_drawn_ = 0;
  std::uint64_t skipped_ = 0;
  std::uint64_t stale_ = 0;
  std::uint64_t recorded_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t late_recorded_ = 0;
  std::uint64_t write_errors_ = 0;
  std::uint64_t flush_timeouts_ = 0;
  std::uint64_t video_frames_ = 0;
  bool video_written_ = false;
  SampleRecorder frame_ms_;
  SampleRecorder age_ms_;
  SampleRecorder save_ms_;
};

} // namespace

caf::actor spawn_render(caf::actor_system& sys, RenderSetup setup) {
  return sys.spawn<render_actor, caf::detached>(std::move(setup));
}

} // namespace troupe
