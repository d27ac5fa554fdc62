// The audio actor: a snapshot-bus subscriber that turns contact events into
// impact sounds. Headless it renders the mix tick by tick through OpenAL Soft's
// loopback device into OUT/audio.wav, sample-aligned with simulation time (tick
// t starts at frame t * rate / tick_hz), so the same run gives the same file on
// any placement; with `output = "device"` it plays live.
//
// Threads: spawned detached (rendering and file IO are blocking work).

#include "subsystems.hpp"

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/audio/mixer.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

#include <cmath>

namespace troupe {
namespace {

using namespace std::chrono_literals;

class audio_actor : public bounded_actor {
public:
  audio_actor(caf::actor_config& cfg, AudioSetup setup)
    : bounded_actor(cfg, setup.id.mailbox), setup_(std::move(setup)) {
    {
      // A restarted incarnation carries on with its predecessor's mixer and file.
      std::lock_guard<std::mutex> guard{setup_.state->mutex};
      if (setup_.state->opened) {
        mixer_ = std::move(setup_.state->mixer);
        wav_ = std::move(setup_.state->wav);
        rendered_tick_ = setup_.state->rendered_tick;
        return;
      }
      setup_.state->opened = true;
    }
    audio::MixerSettings settings;
    settings.voices = setup_.params.voices;
    settings.listener = vec3(setup_.params.listener);
    settings.listener_target = vec3(setup_.params.listener_target);
    if (setup_.params.output == "device") {
      auto opened = audio::Mixer::open_device(settings);
      if (opened)
        mixer_ = std::move(*opened);
      else // no device: say so once, and fall back to the headless file
        notice_ = opened.error().message + "; writing " + setup_.wav_path + " instead";
    }
    if (!mixer_) {
      auto opened = audio::Mixer::open_loopback(settings);
      if (opened)
        mixer_ = std::move(*opened);
      else
        notice_ = "audio disabled: " + opened.error().message;
    }
    if (mixer_ && mixer_->is_loopback()) {
      wav_ = std::make_unique<audio::WavWriter>(setup_.wav_path, settings.sample_rate, 2);
      if (!wav_->ok()) {
        notice_ = "audio: " + wav_->error();
        wav_.reset();
      }
    }
    rendered_tick_ = setup_.start_tick;
  }

  caf::behavior make_behavior() override {
    if (!notice_.empty())
      aout(this) << "audio: " << notice_ << "\n";
    return {
      [this](connect_atom, const std::string& role, const caf::actor& peer) {
        if (role == "logic")
          // By name: logic's first tick waits for every named reader.
          send(peer, subscribe_atom::value, caf::actor_cast<caf::actor>(this), setup_.id.name, std::uint64_t{0},
               std::uint32_t{0});
      },
      [this](const ContactBatch& batch) { on_contacts(batch); },
      [this](const Snapshot& snapshot) { on_snapshot(snapshot); },
      [this](const CompactSnapshot& compact) {
        if (auto snapshot = compact_.receive(compact, caf::actor_cast<caf::actor>(current_sender()), caf::actor_cast<caf::actor>(this)))
          on_snapshot(*snapshot);
      },
      [this](flush_atom, std::uint64_t final_tick) {
        final_tick_ = final_tick;
        finish_promise_ = make_response_promise<ActorReport>();
        // The last snapshot may still be on its way from another node: wait for
        // it, but not forever.
        delayed_send(this, 5s, flush_atom::value);
        finish_if_due();
        return finish_promise_;
      },
      [this](flush_atom) {
        if (finish_promise_.pending()) {
          ++flush_timeouts_;
          finish(final_tick_);
        }
      },
      [](const RulesEvent&) {}, // the bus tells every reader; nothing to play
      [this](report_atom) { return report(); },
    };
  }

private:
  void on_exit() override {
    // Whatever ended this incarnation, the next one (if any) picks these up; the
    // run's end closes the file (flush, or the state's destruction).
    std::lock_guard<std::mutex> guard{setup_.state->mutex};
    setup_.state->mixer = std::move(mixer_);
    setup_.state->wav = std::move(wav_);
    setup_.state->rendered_tick = rendered_tick_;
  }

  std::int64_t frame_of(std::uint64_t tick) const {
    return std::llround(static_cast<double>(tick) * sample_rate / setup_.tick_hz);
  }

  /// Renders the mix up to the start of `tick`.
  void render_until(std::uint64_t tick) {
    if (!wav_ || tick <= rendered_tick_)
      return;
    auto frames = frame_of(tick) - frame_of(rendered_tick_);
    while (frames > 0) {
      const auto block = static_cast<std::size_t>(std::min<std::int64_t>(frames, max_block));
      buffer_.resize(2 * block);
      mixer_->render(buffer_, block);
      wav_->write(buffer_);
      frames -= static_cast<std::int64_t>(block);
    }
    rendered_tick_ = tick;
  }

  void on_contacts(const ContactBatch& batch) {
    ++batches_;
    if (batch.tick < rendered_tick_)
      ++late_batches_; // already rendered past it: the sound starts now
    render_until(batch.tick);
    for (std::size_t i = 0; i < batch.events.size(); ++i) {
      const auto& event = batch.events[i];
      const audio::Impact impact{event.point, event.impulse, event.approach_speed, event.radius, event.restitution};
      if (mixer_)
        mixer_->play(impact);
      if (first_impact_tick_ < 0)
        first_impact_tick_ = static_cast<double>(batch.tick);
    }
    received_ += batch.events.size();
    published_ = std::max(published_, batch.published_events);
  }

  void finish_if_due() {
    if (finish_promise_.pending() && last_tick_ >= final_tick_)
      finish(final_tick_);
  }

  void finish(std::uint64_t tick) {
    render_until(tick);
    if (wav_)
      wav_->close();
    finish_promise_.deliver(report());
  }

  void on_snapshot(const Snapshot& snapshot) {
    setup_.chaos.strike(snapshot.tick);
    last_tick_ = std::max(last_tick_, snapshot.tick);
    render_until(snapshot.tick);
    finish_if_due();
  }

  ActorReport report() {
    auto out = make_report(setup_.id, mailbox_stats());
    const auto stats = mixer_ ? mixer_->stats() : audio::MixerStats{};
    out.counters = {{"contact_batches", static_cast<double>(batches_)},
                    {"contact_events_received", static_cast<double>(received_)},
                    {"contact_events_dropped", static_cast<double>(published_ - std::min(published_, received_))},
                    {"voices", static_cast<double>(setup_.params.voices)},
                    {"peak_voices", static_cast<double>(stats.peak_voices)},
                    {"voices_stolen", static_cast<double>(stats.stolen)},
                    {"impacts_played", static_cast<double>(stats.impacts)},
                    {"impacts_skipped", static_cast<double>(stats.skipped)},
                    {"clipped_samples", static_cast<double>(stats.clipped_samples)},
                    {"wav_seconds", wav_ ? static_cast<double>(wav_->frames_written()) / sample_rate : 0.0},
                    {"first_impact_tick", first_impact_tick_},
                    {"late_batches", static_cast<double>(late_batches_)},
                    {"flush_timeouts", static_cast<double>(flush_timeouts_)},
                    {"live_device", mixer_ && !mixer_->is_loopback() ? 1.0 : 0.0}};
    for (auto& counter : compact_.counters())
      out.counters.push_back(std::move(counter));
    return out;
  }

  static constexpr std::uint32_t sample_rate = 48000;
  static constexpr std::int64_t max_block = 4800;

  AudioSetup setup_;
  CompactReceiver compact_;
  std::unique_ptr<audio::Mixer> mixer_;
  std::unique_ptr<audio::WavWriter> wav_;
  std::string notice_;
  std::vector<std::int16_t> buffer_;
  std::uint64_t rendered_tick_ = 0;
  std::uint64_t last_tick_ = 0;
  std::uint64_t final_tick_ = 0;
  caf::typed_response_promise<ActorReport> finish_promise_;
  std::uint64_t batches_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t published_ = 0;
  std::uint64_t late_batches_ = 0;
  std::uint64_t flush_timeouts_ = 0;
  double first_impact_tick_ = -1;
};

} // namespace

caf::actor spawn_audio(caf::actor_system& sys, AudioSetup setup) {
  return sys.spawn<audio_actor, caf::detached>(std::move(setup));
}

} // namespace troupe
