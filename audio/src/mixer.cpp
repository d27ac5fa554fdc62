// The OpenAL Soft mixer: a fixed pool of sources (voices) and a fixed table of
// synthesized buffers. Nothing here grows with the number of impacts.
//
// Distance model: AL_INVERSE_DISTANCE_CLAMPED, rolloff 1, reference distance
// settings.reference_distance (5 m by default), no max distance. A sound is at
// its own gain within 5 m and falls as 5 / d beyond (-6 dB per doubling), so an
// impact across a 100 m arena is ~-26 dB: quieter, never silent by accident.
// (The linear and exponent models reach zero or near-zero; we want neither.)
//
// Output format: the loopback device renders 32-bit float and we convert to
// int16 here. OpenAL Soft's own int16 output applies TPDF dither (1.19 does so
// by default for integer formats, settable only in its config file), so
// silence would come out as +-1 LSB noise and clip counts would be blurred.
// Float output has no dither; the conversion below rounds to nearest and
// saturates, and a saturated sample is what clipped_samples counts.
//
// Contexts: OpenAL's "current context" is process-wide, and several mixers may
// live in one process (tests, several audio actors on different CAF threads).
// Every public call that touches AL first makes this mixer's context current
// for the calling thread only (ALC_EXT_thread_local_context, always present in
// OpenAL Soft) and restores the previous one on return; without the extension
// it falls back to alcMakeContextCurrent.

#include <troupe/audio/limiter.hpp>
#include <troupe/audio/mixer.hpp>
#include <troupe/audio/synth.hpp>

#include <AL/al.h>
#include <AL/alc.h>
#include <AL/alext.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace troupe::audio {
namespace {

constexpr std::uint32_t min_rate = 8000;
constexpr std::uint32_t max_rate = 192000;
constexpr std::uint32_t max_voices = 4096;
/// Buffers cached beyond those a voice may hold: at most `voices` tones are in
/// use at once, so with this many spare there is always one to evict.
constexpr std::size_t spare_tones = 64;
/// Loudness (impact gain x distance gain) below which an impact is not played.
constexpr float inaudible_loudness = 1e-4f; // -80 dB
/// Frames rendered per alcRenderSamplesSOFT call: bounds the float scratch.
constexpr std::size_t render_chunk = 4096;

using ThreadContextFn = ALCboolean(ALC_APIENTRY*)(ALCcontext*);
using GetThreadContextFn = ALCcontext*(ALC_APIENTRY*)();

std::string alc_error_words(ALCenum e) {
  switch (e) {
  case ALC_INVALID_DEVICE: return "invalid device";
  case ALC_INVALID_CONTEXT: return "invalid context";
  case ALC_INVALID_ENUM: return "invalid enum";
  case ALC_INVALID_VALUE: return "invalid value";
  case ALC_OUT_OF_MEMORY: return "out of memory";
  default: return "ALC error " + std::to_string(e);
  }
}

std::string al_error_words(ALenum e) {
  switch (e) {
  case AL_INVALID_NAME: return "invalid name";
  case AL_INVALID_ENUM: return "invalid enum";
  case AL_INVALID_VALUE: return "invalid value";
  case AL_INVALID_OPERATION: return "invalid operation";
  case AL_OUT_OF_MEMORY: return "out of memory";
  default: return "AL error " + std::to_string(e);
  }
}

/// Makes a context current for the calling thread for one scope.
class ScopedContext {
public:
  ScopedContext(ALCcontext* context, ThreadContextFn set, GetThreadContextFn get)
      : context_(context), set_(set) {
    if (set_ != nullptr && get != nullptr) {
      previous_ = get();
      if (previous_ != context_) {
        set_(context_);
      }
    } else if (alcGetCurrentContext() != context_) {
      alcMakeContextCurrent(context_);
    }
  }
  ~ScopedContext() {
    if (set_ != nullptr && previous_ != context_) {
      set_(previous_);
    }
  }
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

private:
  ALCcontext* context_;
  ThreadContextFn set_;
  ALCcontext* previous_ = nullptr;
};

class AlMixer final : public Mixer {
public:
  static Expected<std::unique_ptr<Mixer>> open(const MixerSettings& settings,
                                                              bool loopback);
  ~AlMixer() override;
  AlMixer(const AlMixer&) = delete;
  AlMixer& operator=(const AlMixer&) = delete;

  void play(const Impact& impact) override;
  void render(std::span<std::int16_t> out, std::size_t frames) override;
  MixerStats stats() const override {
    MixerStats out = stats_;
    if (limiter_) {
      out.limited_frames = limiter_->limited_frames();
      out.limiter_gain_min = limiter_->smallest_gain();
    }
    return out;
  }
  bool is_loopback() const override { return render_ != nullptr; }
  std::string last_error() const override { return last_error_; }

private:
  /// One AL source and what it is playing.
  struct Voice {
    ALuint source = 0;
    bool playing = false;
    std::size_t tone = 0;          // index into tones_ while playing
    float start_loudness = 0.f;    // impact gain x distance gain at the start
    std::uint64_t start_frame = 0; // loopback: frames_rendered when it started
  };
  /// One cached buffer.
  struct Tone {
    ALuint buffer = 0;
    bool filled = false;
    ToneKey key;
    std::uint32_t users = 0;     // voices holding it: not evictable while > 0
    std::uint64_t last_used = 0; // for LRU eviction
    float time_constant_frames = 1.f;
    std::uint64_t length_frames = 0;
  };

  explicit AlMixer(const MixerSettings& settings) : settings_(settings) {}

  /// The one error check: reads (and clears) both the AL and the ALC error
  /// state; on an error counts it, remembers it with `what`, returns false.
  bool checked(const char* what);
  ScopedContext use_context() const { return ScopedContext(context_, set_thread_, get_thread_); }

  /// Frames voice `v` has played (loopback: exact from frames rendered;
  /// device: the source's sample offset).
  std::uint64_t elapsed_frames(const Voice& v);
  /// Estimated loudness now: start loudness x the fundamental's decay; 0 once
  /// the tone is over.
  float loudness_now(const Voice& v);
  /// Releases voices whose source reports AL_STOPPED.
  void recycle();
  void release(Voice& v);
  /// The cached buffer for `key`, synthesizing into the least recently used
  /// free slot on a miss.
  std::size_t acquire_tone(ToneKey key);

  MixerSettings settings_;
  ALCdevice* device_ = nullptr;
  ALCcontext* context_ = nullptr;
  LPALCRENDERSAMPLESSOFT render_ = nullptr; // non-null: loopback
  ThreadContextFn set_thread_ = nullptr;
  GetThreadContextFn get_thread_ = nullptr;
  std::uint32_t rate_ = 0;
  std::vector<Voice> voices_;
  std::vector<Tone> tones_;
  std::unordered_map<std::uint32_t, std::size_t> tone_index_; // ToneKey::packed -> tones_
  std::vector<std::int16_t> scratch_; // synthesis output
  std::vector<float> mix_;             // loopback render chunk (2 * render_chunk)
  std::unique_ptr<Limiter> limiter_;   // loopback, when settings_.limiter
  std::uint64_t use_clock_ = 0;
  MixerStats stats_;
  std::string last_error_;
};

bool AlMixer::checked(const char* what) {
  const ALenum al = alGetError();
  const ALCenum alc = alcGetError(device_);
  if (al == AL_NO_ERROR && alc == ALC_NO_ERROR) {
    return true;
  }
  ++stats_.al_errors;
  last_error_ = std::string(what) + ": " +
                (al != AL_NO_ERROR ? al_error_words(al) : alc_error_words(alc));
  return false;
}

Expected<std::unique_ptr<Mixer>> AlMixer::open(const MixerSettings& settings,
                                                              bool loopback) {
  if (settings.sample_rate < min_rate || settings.sample_rate > max_rate) {
    return Error{errc::device_failed, "audio: sample_rate " + std::to_string(settings.sample_rate) +
                     " out of range (8000..192000)"};
  }
  if (settings.voices < 1 || settings.voices > max_voices) {
    return Error{errc::device_failed, "audio: voices " + std::to_string(settings.voices) +
                     " out of range (1..4096)"};
  }
  std::unique_ptr<AlMixer> m(new AlMixer(settings));

  LPALCLOOPBACKOPENDEVICESOFT open_loopback = nullptr;
  LPALCISRENDERFORMATSUPPORTEDSOFT format_supported = nullptr;
  if (loopback) {
    if (alcIsExtensionPresent(nullptr, "ALC_SOFT_loopback") != ALC_TRUE) {
      return Error{errc::device_failed, "audio: OpenAL lacks ALC_SOFT_loopback (OpenAL Soft needed for WAV output)"};
    }
    open_loopback = reinterpret_cast<LPALCLOOPBACKOPENDEVICESOFT>(
        alcGetProcAddress(nullptr, "alcLoopbackOpenDeviceSOFT"));
    format_supported = reinterpret_cast<LPALCISRENDERFORMATSUPPORTEDSOFT>(
        alcGetProcAddress(nullptr, "alcIsRenderFormatSupportedSOFT"));
    m->render_ = reinterpret_cast<LPALCRENDERSAMPLESSOFT>(
        alcGetProcAddress(nullptr, "alcRenderSamplesSOFT"));
    if (open_loopback == nullptr || format_supported == nullptr || m->render_ == nullptr) {
      return Error{errc::device_failed, "audio: ALC_SOFT_loopback functions missing"};
    }
    m->device_ = open_loopback(nullptr);
    if (m->device_ == nullptr) {
      return Error{errc::device_failed, "audio: could not open the OpenAL Soft loopback device"};
    }
    if (format_supported(m->device_, static_cast<ALCsizei>(settings.sample_rate), ALC_STEREO_SOFT,
                         ALC_FLOAT_SOFT) != ALC_TRUE) {
      return Error{errc::device_failed, "audio: loopback cannot render stereo float at " +
                       std::to_string(settings.sample_rate) + " Hz"};
    }
  } else {
    m->device_ = alcOpenDevice(nullptr);
    if (m->device_ == nullptr) {
      return Error{errc::device_failed, "no audio output device: OpenAL could not open the default device (no "
                       "sound card or sound server here); use the default headless WAV output "
                       "(output = \"wav\")"};
    }
  }

  std::vector<ALCint> attrs;
  if (loopback) {
    attrs.insert(attrs.end(), {ALC_FORMAT_CHANNELS_SOFT, ALC_STEREO_SOFT, ALC_FORMAT_TYPE_SOFT,
                               ALC_FLOAT_SOFT});
  }
  attrs.insert(attrs.end(), {ALC_FREQUENCY, static_cast<ALCint>(settings.sample_rate),
                             ALC_MONO_SOURCES, static_cast<ALCint>(settings.voices),
                             ALC_STEREO_SOURCES, 0});
  // Plain stereo panning: HRTF would colour and delay the sound and depends on
  // data files installed on the machine.
  if (alcIsExtensionPresent(m->device_, "ALC_SOFT_HRTF") == ALC_TRUE) {
    attrs.insert(attrs.end(), {ALC_HRTF_SOFT, ALC_FALSE});
  }
  if (alcIsExtensionPresent(m->device_, "ALC_SOFT_output_limiter") == ALC_TRUE) {
    attrs.insert(attrs.end(),
                 {ALC_OUTPUT_LIMITER_SOFT, settings.output_limiter ? ALC_TRUE : ALC_FALSE});
  }
  attrs.push_back(0);
  m->context_ = alcCreateContext(m->device_, attrs.data());
  if (m->context_ == nullptr) {
    return Error{errc::device_failed, "audio: could not create an OpenAL context: " +
                     alc_error_words(alcGetError(m->device_))};
  }

  if (alcIsExtensionPresent(nullptr, "ALC_EXT_thread_local_context") == ALC_TRUE) {
    m->set_thread_ = reinterpret_cast<ThreadContextFn>(alcGetProcAddress(nullptr, "alcSetThreadContext"));
    m->get_thread_ =
        reinterpret_cast<GetThreadContextFn>(alcGetProcAddress(nullptr, "alcGetThreadContext"));
    if (m->set_thread_ == nullptr || m->get_thread_ == nullptr) {
      m->set_thread_ = nullptr;
      m->get_thread_ = nullptr;
    }
  }

  ALCint rate = 0;
  alcGetIntegerv(m->device_, ALC_FREQUENCY, 1, &rate);
  m->rate_ = rate > 0 ? static_cast<std::uint32_t>(rate) : settings.sample_rate;
  ALCint mono = 0;
  alcGetIntegerv(m->device_, ALC_MONO_SOURCES, 1, &mono);
  if (mono > 0 && static_cast<std::uint32_t>(mono) < settings.voices) {
    return Error{errc::device_failed, "audio: OpenAL grants " + std::to_string(mono) + " sources, " +
                     std::to_string(settings.voices) + " voices asked"};
  }

  const auto scope = m->use_context();
  (void)alGetError(); // clear anything left from before
  (void)alcGetError(m->device_);

  alDistanceModel(AL_INVERSE_DISTANCE_CLAMPED);
  const sim::Vec3 l = settings.listener;
  sim::Vec3 at = settings.listener_target - l;
  const float at_len = sim::length(at);
  at = at_len > 0.f && std::isfinite(at_len) ? at * (1.f / at_len) : sim::Vec3{0.f, 0.f, -1.f};
  const ALfloat orientation[6] = {at.x, at.y, at.z, 0.f, 1.f, 0.f};
  alListener3f(AL_POSITION, l.x, l.y, l.z);
  alListenerfv(AL_ORIENTATION, orientation);
  alListenerf(AL_GAIN, std::max(0.f, settings.master_gain));
  if (!m->checked("audio: setting up the listener")) {
    return Error{errc::device_failed, m->last_error_};
  }

  m->voices_.resize(settings.voices);
  std::vector<ALuint> names(settings.voices);
  alGenSources(static_cast<ALsizei>(names.size()), names.data());
  if (!m->checked("audio: creating voices")) {
    m->voices_.clear();
    return Error{errc::device_failed, m->last_error_};
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    const ALuint s = names[i];
    m->voices_[i].source = s;
    alSourcef(s, AL_REFERENCE_DISTANCE, std::max(1e-3f, settings.reference_distance));
    alSourcef(s, AL_ROLLOFF_FACTOR, 1.f);
    alSourcef(s, AL_MAX_DISTANCE, 1e30f); // "no max": the clamp only guards the near side
    alSourcei(s, AL_LOOPING, AL_FALSE);
  }
  if (!m->checked("audio: setting up voices")) {
    return Error{errc::device_failed, m->last_error_};
  }

  m->tones_.resize(settings.voices + spare_tones);
  names.assign(m->tones_.size(), 0);
  alGenBuffers(static_cast<ALsizei>(names.size()), names.data());
  if (!m->checked("audio: creating buffers")) {
    m->tones_.clear();
    return Error{errc::device_failed, m->last_error_};
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    m->tones_[i].buffer = names[i];
  }
  m->tone_index_.reserve(m->tones_.size());
  return std::unique_ptr<Mixer>(std::move(m));
}

AlMixer::~AlMixer() {
  if (context_ != nullptr) {
    {
      const auto scope = use_context();
      for (Voice& v : voices_) {
        alSourceStop(v.source);
        alSourcei(v.source, AL_BUFFER, 0);
        alDeleteSources(1, &v.source);
      }
      for (Tone& t : tones_) {
        alDeleteBuffers(1, &t.buffer);
      }
      (void)alGetError();
    }
    if (set_thread_ == nullptr && alcGetCurrentContext() == context_) {
      alcMakeContextCurrent(nullptr);
    }
    alcDestroyContext(context_);
  }
  if (device_ != nullptr) {
    alcCloseDevice(device_);
  }
}

std::uint64_t AlMixer::elapsed_frames(const Voice& v) {
  if (is_loopback()) {
    return stats_.frames_rendered - v.start_frame;
  }
  ALint offset = 0;
  alGetSourcei(v.source, AL_SAMPLE_OFFSET, &offset);
  return offset > 0 ? static_cast<std::uint64_t>(offset) : 0;
}

float AlMixer::loudness_now(const Voice& v) {
  const Tone& t = tones_[v.tone];
  const std::uint64_t elapsed = elapsed_frames(v);
  if (elapsed >= t.length_frames) {
    return 0.f;
  }
  return v.start_loudness *
         std::exp(-static_cast<float>(elapsed) / t.time_constant_frames);
}

void AlMixer::release(Voice& v) {
  alSourceStop(v.source); // a no-op when it already stopped; AL_BUFFER needs it stopped
  alSourcei(v.source, AL_BUFFER, 0);
  --tones_[v.tone].users;
  v.playing = false;
  --stats_.voices_in_use;
}

void AlMixer::recycle() {
  for (Voice& v : voices_) {
    if (!v.playing) {
      continue;
    }
    ALint state = AL_PLAYING;
    alGetSourcei(v.source, AL_SOURCE_STATE, &state);
    if (state == AL_STOPPED || state == AL_INITIAL) {
      release(v);
    }
  }
  checked("audio: recycling voices");
}

std::size_t AlMixer::acquire_tone(ToneKey key) {
  ++use_clock_;
  if (const auto it = tone_index_.find(key.packed()); it != tone_index_.end()) {
    tones_[it->second].last_used = use_clock_;
    return it->second;
  }
  // Miss: the least recently used tone no voice holds. There is always one:
  // at most voices_.size() are held and tones_ has spare_tones more.
  std::size_t slot = tones_.size();
  for (std::size_t i = 0; i < tones_.size(); ++i) {
    const Tone& t = tones_[i];
    if (t.users == 0 && (slot == tones_.size() || !t.filled || t.last_used < tones_[slot].last_used)) {
      slot = i;
      if (!t.filled) {
        break;
      }
    }
  }
  Tone& t = tones_[slot];
  if (t.filled) {
    tone_index_.erase(t.key.packed());
  }
  synthesize(key, rate_, scratch_);
  alBufferData(t.buffer, AL_FORMAT_MONO16, scratch_.data(),
               static_cast<ALsizei>(scratch_.size() * sizeof(std::int16_t)),
               static_cast<ALsizei>(rate_));
  checked("audio: filling a buffer");
  t.filled = true;
  t.key = key;
  t.last_used = use_clock_;
  t.length_frames = scratch_.size();
  t.time_constant_frames = tone_time_constant_s(key) * static_cast<float>(rate_);
  tone_index_.emplace(key.packed(), slot);
  return slot;
}

void AlMixer::play(const Impact& impact) {
  const float gain = impact_gain(impact.impulse, settings_.impulse_full_scale);
  if (gain <= 0.f || !sim::is_finite(impact.point)) {
    ++stats_.inaudible;
    return;
  }
  const float loudness =
      gain * distance_gain(sim::length(impact.point - settings_.listener), settings_.reference_distance);
  if (!(loudness >= inaudible_loudness)) {
    ++stats_.inaudible;
    return;
  }

  const auto scope = use_context();
  if (!is_loopback()) {
    recycle(); // render() is a no-op there; finished voices are found here
  }

  // A free voice (lowest index: deterministic), else the quietest one.
  Voice* chosen = nullptr;
  Voice* quietest = nullptr;
  float quietest_loudness = 0.f;
  for (Voice& v : voices_) {
    if (!v.playing) {
      chosen = &v;
      break;
    }
    const float l = loudness_now(v);
    if (l <= 0.f && is_loopback()) {
      // Over by the frame count: stopped in the last render, not yet recycled.
      release(v);
      chosen = &v;
      break;
    }
    if (quietest == nullptr || l < quietest_loudness) {
      quietest = &v;
      quietest_loudness = l;
    }
  }
  if (chosen == nullptr) {
    if (quietest == nullptr || !(loudness > quietest_loudness)) {
      ++stats_.skipped;
      return;
    }
    release(*quietest);
    ++stats_.stolen;
    chosen = quietest;
  }

  const std::size_t tone = acquire_tone(tone_key(impact));
  ++tones_[tone].users;
  const ALuint s = chosen->source;
  alSourcei(s, AL_BUFFER, static_cast<ALint>(tones_[tone].buffer));
  alSource3f(s, AL_POSITION, impact.point.x, impact.point.y, impact.point.z);
  const float crowd = settings_.crowd_voices > 0.f
                        ? 1.f / std::sqrt(1.f + static_cast<float>(stats_.voices_in_use) / settings_.crowd_voices)
                        : 1.f;
  alSourcef(s, AL_GAIN, gain * crowd);
  alSourcePlay(s);
  if (!checked("audio: starting a voice")) {
    alSourcei(s, AL_BUFFER, 0);
    --tones_[tone].users;
    (void)alGetError();
    return;
  }
  chosen->playing = true;
  chosen->tone = tone;
  chosen->start_loudness = loudness;
  chosen->start_frame = stats_.frames_rendered;
  ++stats_.impacts;
  ++stats_.voices_in_use;
  stats_.peak_voices = std::max(stats_.peak_voices, stats_.voices_in_use);
}

void AlMixer::render(std::span<std::int16_t> out, std::size_t frames) {
  const auto scope = use_context();
  if (!is_loopback()) {
    recycle(); // live output: nothing to render, but finished voices are freed
    return;
  }
  if (out.size() / 2 < frames) {
    ++stats_.al_errors;
    last_error_ = "audio: render buffer holds " + std::to_string(out.size() / 2) + " frames, " +
                  std::to_string(frames) + " asked; rendered what fits";
    frames = out.size() / 2;
  }
  mix_.resize(2 * render_chunk);
  for (std::size_t done = 0; done < frames;) {
    const std::size_t n = std::min(frames - done, render_chunk);
    render_(device_, mix_.data(), static_cast<ALCsizei>(n));
    if (settings_.limiter) {
      if (!limiter_)
        limiter_ = std::make_unique<Limiter>(rate_, std::pow(10.f, settings_.ceiling_db / 20.f));
      limiter_->process(mix_.data(), n);
    }
    std::int16_t* dst = out.data() + 2 * done;
    for (std::size_t i = 0; i < 2 * n; ++i) {
      // Same scale as OpenAL Soft's own float->int16 (x 32768), then saturate.
      float v = std::nearbyint(mix_[i] * 32768.f);
      v = std::isnan(v) ? 0.f : std::clamp(v, -32768.f, 32767.f);
      const auto sample = static_cast<std::int16_t>(v);
      stats_.clipped_samples += (sample == 32767 || sample == -32768) ? 1u : 0u;
      dst[i] = sample;
    }
    done += n;
  }
  stats_.frames_rendered += frames;
  checked("audio: rendering");
  recycle();
}

} // namespace

Expected<std::unique_ptr<Mixer>> Mixer::open_loopback(const MixerSettings& settings) {
  return AlMixer::open(settings, true);
}

Expected<std::unique_ptr<Mixer>> Mixer::open_device(const MixerSettings& settings) {
  return AlMixer::open(settings, false);
}

} // namespace troupe::audio
