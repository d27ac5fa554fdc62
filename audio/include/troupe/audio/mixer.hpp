#pragma once
/// \file Contact sounds: impact synthesis and mixing through OpenAL Soft. No CAF
/// here; the audio actor (actors/src/audio.cpp) drives it tick by tick.
///
/// Headless (the default) the mix is rendered through OpenAL Soft's loopback
/// device (ALC_SOFT_loopback), so output is sample-exact and deterministic: the
/// same impacts at the same ticks give the same samples. With a real device the
/// sounds play live.
///
/// Threads: a Mixer is used from one thread at a time (the audio actor's).

#include <troupe/error.hpp>
#include <troupe/sim/vec3.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace troupe::audio {

/// Output format and voice budget.
struct MixerSettings {
  std::uint32_t sample_rate = 48000;
  std::uint32_t voices = 64;           ///< simultaneous impact sounds; more steal the quietest
  sim::Vec3 listener{0.f, 6.f, 24.f};  ///< where the ears are (the camera)
  sim::Vec3 listener_target{0.f, 2.f, 0.f}; ///< what they face; up is +y
  float master_gain = 1.f;
  /// Impulse (N*s) that sounds at full voice gain; quieter impacts follow
  /// (impulse / impulse_full_scale)^0.6, i.e. 12 dB per decade of impulse.
  float impulse_full_scale = 1000.f;
  /// Distance (m) inside which a sound is not attenuated; beyond it the gain
  /// falls as reference_distance / distance (OpenAL's inverse distance model,
  /// clamped), so far impacts are quieter but never cut off.
  float reference_distance = 5.f;
  /// OpenAL Soft's output limiter (a compressor with ~1 ms look-ahead). Off by
  /// default: the mix stays linear, a played sound starts on the next frame,
  /// and clipped_samples counts what really hit full scale.
  bool output_limiter = false;
  /// Loopback: troupe's own look-ahead limiter on the mix (limiter.hpp), so a
  /// landing of thousands of bodies is loud but never clips: no sample above
  /// `ceiling_db` (dBFS). The output lags the mix by its look-ahead (1 ms).
  bool limiter = true;
  float ceiling_db = -1.f;
  /// Loudness-aware voice gain: a sound that starts while N others play is
  /// turned down by 1 / sqrt(1 + N / crowd_voices), so a crowd of impacts
  /// (which adds up like sqrt(N)) stays about as loud as a few, and the
  /// limiter only shaves peaks. 0: off.
  float crowd_voices = 4.f;
};

/// One impact to sound.
struct Impact {
  sim::Vec3 point;           ///< where it happened (world space, metres)
  float impulse = 0.f;       ///< normal impulse (N*s): loudness
  float approach_speed = 0.f;///< m/s: brightness
  float radius = 0.5f;       ///< of the (first) body: pitch, small is high
  float restitution = 0.3f;  ///< bouncy rings longer
};

/// Counters for reports and tests.
struct MixerStats {
  std::uint64_t impacts = 0;       ///< play() calls that produced a voice
  std::uint64_t stolen = 0;        ///< voices taken from a quieter sound
  std::uint64_t skipped = 0;       ///< impacts quieter than every playing voice when all were busy
  std::uint32_t voices_in_use = 0; ///< playing right now
  std::uint32_t peak_voices = 0;
  std::uint64_t clipped_samples = 0; ///< rendered samples at full scale (loopback only)
  std::uint64_t frames_rendered = 0; ///< loopback only
  std::uint64_t inaudible = 0;     ///< play() calls dropped as silent or invalid (NaN, <= 0 impulse)
  std::uint64_t al_errors = 0;     ///< OpenAL errors seen after open (see Mixer::last_error)
  std::uint64_t limited_frames = 0; ///< loopback frames the limiter turned down by more than 1 dB
  float limiter_gain_min = 1.f;    ///< the most it turned one down (1: never)
};

class Mixer {
public:
  /// Renders into memory through the loopback device (48 kHz stereo int16 by
  /// default). Fails only if OpenAL Soft lacks ALC_SOFT_loopback or the settings
  /// are out of range (sample_rate 8000..192000, voices 1..4096).
  static Expected<std::unique_ptr<Mixer>> open_loopback(const MixerSettings& settings);

  /// Plays on the default output device; fails with a clear message when there
  /// is none (no sound card, no server).
  static Expected<std::unique_ptr<Mixer>> open_device(const MixerSettings& settings);

  virtual ~Mixer() = default;

  /// Starts one impact sound now (at the start of the next rendered frame).
  virtual void play(const Impact& impact) = 0;

  /// Loopback only: renders `frames` stereo frames (interleaved L, R int16) into
  /// `out` (size >= 2 * frames). Voices that finished are recycled.
  virtual void render(std::span<std::int16_t> out, std::size_t frames) = 0;

  virtual MixerStats stats() const = 0;

  /// True for the loopback mixer.
  virtual bool is_loopback() const = 0;

  /// The last OpenAL error seen after open, in words; empty when there was none.
  virtual std::string last_error() const = 0;
};

/// A 16-bit PCM WAV file written as it goes; the header is fixed up on close.
class WavWriter {
public:
  /// Opens (truncates) `path`; check `ok()`.
  WavWriter(const std::string& path, std::uint32_t sample_rate, std::uint16_t channels);
  ~WavWriter();
  WavWriter(const WavWriter&) = delete;
  WavWriter& operator=(const WavWriter&) = delete;

  bool ok() const;
  /// Why not ok.
  const std::string& error() const { return error_; }
  void write(std::span<const std::int16_t> samples);
  /// Patches the header with the final sizes; also done by the destructor.
  void close();
  std::uint64_t frames_written() const { return samples_ / channels_; }

private:
  struct File;
  std::unique_ptr<File> file_;
  std::uint32_t sample_rate_;
  std::uint16_t channels_;
  std::uint64_t samples_ = 0;
  std::string error_;
};

/// Reads a 16-bit PCM WAV (for tests and tools): interleaved samples, rate and
/// channel count; an error message on anything else.
struct WavData {
  std::uint32_t sample_rate = 0;
  std::uint16_t channels = 0;
  std::vector<std::int16_t> samples;
};
std::variant<WavData, std::string> read_wav(const std::string& path);

} // namespace troupe::audio
