#pragma once
/// \file A look-ahead peak limiter for the mix (headless WAV path): no sample
/// leaves it above the ceiling, and the gain falls before a loud sound
/// arrives rather than cutting into it. Deterministic: the same samples in
/// give the same samples out, so the WAV stays byte-identical across
/// placements and restarts. No OpenAL here.
///
/// The output is the input delayed by the look-ahead (1 ms by default). Each
/// output frame is scaled by the smallest gain any frame within the
/// look-ahead needs (ceiling / peak), so a peak is already at the ceiling when
/// it comes out; afterwards the gain recovers towards 1 with the release time
/// constant.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace troupe::audio {

class Limiter {
public:
  /// `ceiling`: linear full scale fraction (-1 dBFS = 0.891).
  Limiter(std::uint32_t sample_rate, float ceiling, double lookahead_s = 0.001, double release_s = 0.1);

  /// Limits `frames` interleaved stereo frames in place.
  void process(float* lr, std::size_t frames);

  /// Frames the output lags the input.
  std::size_t lookahead_frames() const { return lookahead_; }
  /// Frames that left turned down by more than 1 dB, and the smallest gain applied.
  std::uint64_t limited_frames() const { return limited_; }
  float smallest_gain() const { return smallest_; }

private:
  float ceiling_;
  std::size_t lookahead_;
  float release_; ///< per frame: gain += (1 - gain) * release_
  std::vector<float> delay_;  ///< ring of lookahead_ frames (L, R)
  std::size_t at_ = 0;        ///< next slot of the ring
  std::uint64_t frame_ = 0;   ///< frames taken in
  /// The gains frames within the look-ahead need, as a monotonic queue
  /// (frame number, gain): its front is the smallest.
  std::deque<std::pair<std::uint64_t, float>> needs_;
  float gain_ = 1.f;
  std::uint64_t limited_ = 0;
  float smallest_ = 1.f;
};

} // namespace troupe::audio
