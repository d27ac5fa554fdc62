#pragma once
/// \file Impact synthesis: the mono tone a Mixer plays for one impact.
///
/// A tone depends only on a small quantized key (pitch from the radius, ring
/// time from the restitution, brightness from the approach speed), never on the
/// impulse: loudness is the voice's gain, so one buffer serves every impact with
/// the same key and the mixer can cache buffers in a fixed-size table.
///
/// Deterministic: the same key and rate give the same samples on every run (the
/// attack noise comes from a generator seeded by the key; no clock, no rand()).

#include <troupe/audio/mixer.hpp>

#include <cstdint>
#include <vector>

namespace troupe::audio {

/// The quantized character of an impact sound. Packs into 11 bits.
struct ToneKey {
  std::uint8_t pitch = 0;      ///< semitones above 55 Hz, 6..64 (about 80 Hz .. 2.2 kHz)
  std::uint8_t decay = 0;      ///< 0..7: ring time 40 ms (dead) .. 400 ms (bouncy)
  std::uint8_t brightness = 0; ///< 0..3: attack click and upper partials, from approach speed

  friend constexpr bool operator==(ToneKey, ToneKey) = default;
  /// A dense index < 2^11, for hashing and seeding.
  constexpr std::uint32_t packed() const {
    return (std::uint32_t{pitch} << 5) | (std::uint32_t{decay} << 2) | std::uint32_t{brightness};
  }
};

/// Quantizes an impact: fundamental 220 Hz * (0.5 m / radius)^0.7 rounded to a
/// semitone and clamped to 80 Hz .. 2.2 kHz; restitution (clamped to 0..1) to
/// 8 ring times; approach speed (0..8 m/s) to 4 brightness steps. Non-finite or
/// non-positive radii count as 0.5 m.
ToneKey tone_key(const Impact& impact);

/// Fundamental frequency (Hz) of a key.
float tone_frequency(ToneKey key);

/// Length (s) of the tone: the time the fundamental takes to decay by 60 dB.
float tone_length_s(ToneKey key);

/// Time constant (s) of the fundamental's exponential decay.
float tone_time_constant_s(ToneKey key);

/// Writes the tone for `key` at `sample_rate` into `out` (resized; capacity is
/// reused): a damped sum of up to four inharmonic partials plus a short noise
/// click, peak-normalized to -1 dBFS. Sample 0 is already loud (no silent lead-in).
void synthesize(ToneKey key, std::uint32_t sample_rate, std::vector<std::int16_t>& out);

/// Voice gain for an impulse: min(1, (impulse / full_scale)^0.6); 0 for
/// non-finite or non-positive input.
float impact_gain(float impulse, float full_scale);

/// OpenAL's AL_INVERSE_DISTANCE_CLAMPED gain with rolloff 1 and no max distance:
/// 1 inside `reference`, reference / distance beyond it.
float distance_gain(float distance, float reference);

} // namespace troupe::audio
