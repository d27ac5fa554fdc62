// Kind "audio": a reader that turns contact events into impact sounds.
// Headless it renders the mix tick by tick through OpenAL Soft's loopback
// device into OUT/audio.wav, sample-aligned with simulation time (tick t
// starts at frame t * rate / tick_hz), so the same run gives the same file on
// any placement; with `output = "device"` it plays live.
//
// Threads: blocking (rendering and file IO): a thread of its own.

#include "subsystems.hpp"

#include <troupe/actors/metrics.hpp>
#include <troupe/audio/mixer.hpp>
#include <troupe/live/trace.hpp>

#include <troupe/messages/codec.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>

namespace troupe {
namespace {

constexpr std::array<std::string_view, 2> output_names = {"wav", "device"};

/// Every contact batch a WAV-writing audio actor took, in order, on its node's
/// disk (beside the WAV): a header (magic, the tick the WAV starts at), then
/// records of a 4-byte length and a framed batch (codec.hpp: versioned,
/// checksummed), little-endian as the WAV. The WAV is a function of these
/// batches, so a process started again after its node died renders it again
/// from the log, and logic sends what came after.
class ContactLog {
public:
  static constexpr char magic[8] = {'T', 'R', 'P', 'C', 'L', 'O', 'G', '1'};
  static constexpr std::size_t header_size = sizeof magic + sizeof(std::uint64_t);

  /// What a log holds, read back: the batches of its whole records, and how
  /// many bytes of it those are (a torn or damaged tail ends it; no header:
  /// nothing is read).
  struct Contents {
    std::uint64_t start_tick = 0;
    std::vector<ContactBatch> batches;
    std::uintmax_t whole_bytes = 0;
    std::string problem; ///< why (the rest of) it was not read ("" when all of it was)
  };

  static Contents read(const std::string& path) {
    Contents out;
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (bytes.size() < header_size || std::memcmp(bytes.data(), magic, sizeof magic) != 0) {
      out.problem = "no contact log header";
      return out;
    }
    std::memcpy(&out.start_tick, bytes.data() + sizeof magic, sizeof out.start_tick);
    std::size_t at = header_size;
    while (at < bytes.size()) {
      std::uint32_t length = 0;
      if (bytes.size() - at < sizeof length) {
        out.problem = "a torn record at byte " + std::to_string(at);
        break;
      }
      std::memcpy(&length, bytes.data() + at, sizeof length); // little-endian hosts only, as the WAV
      if (length > bytes.size() - at - sizeof length) {
        out.problem = "a torn record at byte " + std::to_string(at);
        break;
      }
      ContactBatch batch;
      if (auto err = decode_framed(std::span<const char>(bytes.data() + at + sizeof length, length), batch)) {
        out.problem = "a damaged record at byte " + std::to_string(at) + " (" + err->message + ")";
        break;
      }
      out.batches.push_back(std::move(batch));
      at += sizeof length + length;
    }
    out.whole_bytes = at;
    return out;
  }

  /// Opens `path` to append to what it holds (`keep` bytes, a header
  /// included), or anew (keep = 0) for a WAV that starts at `start_tick`.
  ContactLog(const std::string& path, std::uintmax_t keep, std::uint64_t start_tick) {
    std::error_code ignored;
    if (keep == 0) {
      std::ofstream fresh(path, std::ios::binary | std::ios::trunc);
      fresh.write(magic, sizeof magic);
      fresh.write(reinterpret_cast<const char*>(&start_tick), sizeof start_tick);
    } else {
      std::filesystem::resize_file(path, keep, ignored);
    }
    out_.open(path, std::ios::binary | std::ios::app);
  }

  bool ok() const { return out_.good(); }

  /// Appends one batch and hands it to the kernel (a killed process loses
  /// nothing written), before the batch is acknowledged.
  void append(const ContactBatch& batch) {
    encode_framed(batch, frame_);
    const auto length = static_cast<std::uint32_t>(frame_.size());
    out_.write(reinterpret_cast<const char*>(&length), sizeof length);
    out_.write(frame_.data(), static_cast<std::streamsize>(frame_.size()));
    out_.flush();
  }

private:
  std::ofstream out_;
  std::vector<char> frame_;
};

/// What an audio actor leaves for its next incarnation: the mixer (its voices
/// keep ringing), the WAV file and how far it is rendered, so a restart neither
/// truncates the file nor leaves a gap in it.
struct AudioState {
  std::mutex mutex;
  bool opened = false;
  std::unique_ptr<audio::Mixer> mixer;
  std::unique_ptr<audio::WavWriter> wav;
  std::unique_ptr<ContactLog> log;
  std::uint64_t rendered_tick = 0;
  std::uint64_t logged_through = 0; ///< published events of the newest batch in the log
};

class Audio final : public Reader {
public:
  Audio(const ActorContext& ctx, ReaderContext& out)
    : params_(ctx.params<AudioParams>()), state_(ctx.state_as<AudioState>()), tick_hz_(ctx.simulation.tick_hz),
      wav_path_(ctx.options.out_dir + (ctx.spec.name == "audio" ? "/audio.wav" : "/audio-" + ctx.spec.name + ".wav")),
      log_path_(wav_path_.substr(0, wav_path_.size() - 4) + ".contacts"), name_(ctx.spec.name),
      node_(ctx.spec.node) {
    {
      // A restarted incarnation carries on with its predecessor's mixer and file.
      std::lock_guard<std::mutex> guard{state_.mutex};
      if (state_.opened) {
        mixer_ = std::move(state_.mixer);
        wav_ = std::move(state_.wav);
        log_ = std::move(state_.log);
        rendered_tick_ = state_.rendered_tick;
        logged_through_ = state_.logged_through;
        if (mixer_ && mixer_->is_loopback())
          out.yield_to_simulation(); // an offline mix: no deadline to keep
        return;
      }
      state_.opened = true;
    }
    audio::MixerSettings settings;
    settings.voices = params_.voices;
    settings.listener = vec3(params_.listener);
    settings.listener_target = vec3(params_.listener_target);
    settings.limiter = params_.limiter;
    const auto output = ctx.options.audio_output.empty() ? params_.output : ctx.options.audio_output;
    std::string notice;
    if (output == "device") {
      auto opened = audio::Mixer::open_device(settings);
      if (opened)
        mixer_ = std::move(*opened);
      else // no device: say so once, and fall back to the headless file
        notice = opened.error().message + "; writing " + wav_path_ + " instead";
    }
    if (!mixer_) {
      auto opened = audio::Mixer::open_loopback(settings);
      if (opened)
        mixer_ = std::move(*opened);
      else
        notice = "audio disabled: " + opened.error().message;
    }
    if (mixer_ && mixer_->is_loopback()) {
      out.yield_to_simulation(); // an offline mix: no deadline to keep
      wav_ = std::make_unique<audio::WavWriter>(wav_path_, settings.sample_rate, 2);
      if (!wav_->ok()) {
        notice = "audio: " + wav_->error();
        wav_.reset();
      }
    }
    rendered_tick_ = ctx.run.start_tick;
    if (wav_)
      open_log(ctx.options.restarted, out);
    if (!notice.empty())
      out.say("audio: " + notice);
  }

  ~Audio() override {
    // Whatever ended this incarnation, the next one (if any) picks these up;
    // the run's end closes the file (on_finish, or the state's destruction).
    std::lock_guard<std::mutex> guard{state_.mutex};
    state_.mixer = std::move(mixer_);
    state_.wav = std::move(wav_);
    state_.log = std::move(log_);
    state_.rendered_tick = rendered_tick_;
    state_.logged_through = logged_through_;
  }

  /// A WAV takes every batch (kept by logic until taken, and logged here); a
  /// live device plays what comes.
  Subscription subscription() const override {
    return {static_cast<std::uint8_t>(topic_snapshots | (log_ ? topic_kept_contacts : topic_contacts)), 0, 1};
  }

  void on_contacts(const ContactBatch& batch, ReaderContext&) override {
    if (log_) {
      if (batch.published_events != 0 && batch.published_events <= logged_through_)
        return; // in the log, so in the WAV already (a resend from before this process)
      log_->append(batch);
      logged_through_ = batch.published_events;
    }
    mix(batch);
  }

  void mix(const ContactBatch& batch) {
    if (batch.tick < rendered_tick_)
      ++late_batches_; // already rendered past it: the sound starts now
    render_until(batch.tick);
    for (const auto& event : batch.events) {
      if (mixer_)
        mixer_->play({event.point, event.impulse, event.approach_speed, event.radius, event.restitution});
      if (first_impact_tick_ < 0)
        first_impact_tick_ = static_cast<double>(batch.tick);
    }
    received_ += batch.events.size();
    published_ = std::max(published_, batch.published_events);
  }

  void on_snapshot(const Snapshot& snapshot, ReaderContext&) override { render_until(snapshot.tick); }

  void on_finish(std::uint64_t final_tick, ReaderContext&) override {
    render_until(final_tick);
    if (wav_)
      wav_->close();
  }

  void report(ActorReport& out) const override {
    const auto stats = mixer_ ? mixer_->stats() : audio::MixerStats{};
    for (const auto& [name, value] : std::initializer_list<std::pair<const char*, double>>{
           {"contact_events_received", static_cast<double>(received_)},
           {"contact_events_dropped", static_cast<double>(published_ - std::min(published_, received_))},
           {"voices", static_cast<double>(params_.voices)},
           {"peak_voices", static_cast<double>(stats.peak_voices)},
           {"voices_stolen", static_cast<double>(stats.stolen)},
           {"impacts_played", static_cast<double>(stats.impacts)},
           {"impacts_skipped", static_cast<double>(stats.skipped)},
           {"clipped_samples", static_cast<double>(stats.clipped_samples)},
           {"limited_frames", static_cast<double>(stats.limited_frames)},
           {"limiter_gain_min_db", 20.0 * std::log10(std::max(stats.limiter_gain_min, 1e-6f))},
           {"wav_seconds", wav_ ? static_cast<double>(wav_->frames_written()) / sample_rate : 0.0},
           {"first_impact_tick", first_impact_tick_},
           {"late_batches", static_cast<double>(late_batches_)},
           {"contact_batches_replayed", static_cast<double>(replayed_)},
           {"live_device", mixer_ && !mixer_->is_loopback() ? 1.0 : 0.0}})
      set_counter(out, name, value);
    if (wav_)
      out.notes.emplace_back("wav", wav_path_);
  }

private:
  /// The log of the batches this WAV is made of. A process started again
  /// within the run (its node died) renders the WAV again from it, the same
  /// bytes, and takes up where it ends; a fresh run starts both empty.
  void open_log(bool restarted, ReaderContext& out) {
    std::uintmax_t keep = 0;
    if (restarted && std::filesystem::exists(log_path_)) {
      auto contents = ContactLog::read(log_path_);
      if (contents.whole_bytes > 0) {
        rendered_tick_ = contents.start_tick; // where the WAV began, before this process
        replayed_ = contents.batches.size();
        for (const auto& batch : contents.batches) {
          mix(batch);
          logged_through_ = std::max(logged_through_, batch.published_events);
        }
        keep = contents.whole_bytes;
      }
      out.say("audio: rendered " + wav_path_ + " again from " + std::to_string(contents.batches.size()) +
              " logged contact batches" + (contents.problem.empty() ? "" : "; stopped at " + contents.problem));
    }
    log_ = std::make_unique<ContactLog>(log_path_, keep, rendered_tick_);
    if (!log_->ok()) {
      out.say("audio: cannot write " + log_path_ + "; a restart of this node will not make the WAV whole");
      log_.reset();
    }
  }

  std::int64_t frame_of(std::uint64_t tick) const {
    return std::llround(static_cast<double>(tick) * sample_rate / tick_hz_);
  }

  /// Renders the mix up to the start of `tick`.
  void render_until(std::uint64_t tick) {
    if (!wav_ || tick <= rendered_tick_)
      return;
    const auto began = steady_now_ns();
    auto frames = frame_of(tick) - frame_of(rendered_tick_);
    while (frames > 0) {
      const auto block = static_cast<std::size_t>(std::min<std::int64_t>(frames, max_block));
      buffer_.resize(2 * block);
      mixer_->render(buffer_, block);
      wav_->write(buffer_);
      frames -= static_cast<std::int64_t>(block);
    }
    rendered_tick_ = tick;
    live::trace_span("mix", node_, name_, began, steady_now_ns(), static_cast<std::int64_t>(tick));
  }

  static constexpr std::uint32_t sample_rate = 48000;
  static constexpr std::int64_t max_block = 4800;

  AudioParams params_;
  AudioState& state_;
  double tick_hz_;
  std::string wav_path_;
  std::string log_path_;
  std::string name_, node_;
  std::unique_ptr<audio::Mixer> mixer_;
  std::unique_ptr<audio::WavWriter> wav_;
  std::unique_ptr<ContactLog> log_;
  std::uint64_t logged_through_ = 0;
  std::uint64_t replayed_ = 0; ///< batches this incarnation rendered again from the log
  std::vector<std::int16_t> buffer_;
  std::uint64_t rendered_tick_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t published_ = 0;
  std::uint64_t late_batches_ = 0;
  double first_impact_tick_ = -1;
};

} // namespace

Subsystem audio_subsystem() {
  Subsystem kind;
  kind.name = "audio";
  kind.role = Role::reader;
  kind.mailbox = {256, config::Overflow::drop_oldest}; // contact batches are events: the oldest go first
  kind.blocking = true;
  kind.parse = config::parse_as<AudioParams>([](config::ParamsReader& in, AudioParams& p) {
    in.integer("voices", p.voices, 1, 1024);
    in.choice("output", p.output, output_names);
    in.vec3("listener", p.listener);
    in.vec3("listener_target", p.listener_target);
    in.boolean("limiter", p.limiter);
  });
  kind.describe = [](const config::ActorSpec& spec, const config::Topology&) {
    const auto& p = spec.params_as<AudioParams>();
    auto v = [](const std::array<double, 3>& a) {
      std::ostringstream out;
      out << '[' << a[0] << ", " << a[1] << ", " << a[2] << ']';
      return out.str();
    };
    return "voices " + std::to_string(p.voices) + ", output " + p.output + ", listener " + v(p.listener) +
           " facing " + v(p.listener_target) + (p.limiter ? ", limited at -1 dBFS" : ", no limiter");
  };
  kind.prepare = [](const ActorContext&) -> Expected<std::shared_ptr<void>> {
    return std::shared_ptr<void>(std::make_shared<AudioState>());
  };
  kind.make_reader = [](const ActorContext& ctx, ReaderContext& out) -> Expected<std::unique_ptr<Reader>> {
    return std::unique_ptr<Reader>(std::make_unique<Audio>(ctx, out));
  };
  return kind;
}

} // namespace troupe
