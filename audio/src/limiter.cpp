// The look-ahead peak limiter (limiter.hpp).
#include <troupe/audio/limiter.hpp>

#include <algorithm>
#include <cmath>

namespace troupe::audio {

Limiter::Limiter(std::uint32_t sample_rate, float ceiling, double lookahead_s, double release_s)
  : ceiling_(ceiling),
    lookahead_(std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(lookahead_s * sample_rate)))),
    release_(static_cast<float>(1.0 - std::exp(-1.0 / (std::max(release_s, 1e-4) * sample_rate)))),
    delay_(2 * lookahead_, 0.f) {}

void Limiter::process(float* lr, std::size_t frames) {
  for (std::size_t i = 0; i < frames; ++i, ++frame_) {
    float& l = lr[2 * i];
    float& r = lr[2 * i + 1];
    // What this frame will need when it comes out, lookahead_ frames from now.
    const float peak = std::max(std::fabs(l), std::fabs(r));
    const float need = peak > ceiling_ ? ceiling_ / peak : 1.f; // NaN peak: 1 (the conversion zeroes it)
    while (!needs_.empty() && needs_.back().second >= need)
      needs_.pop_back();
    needs_.emplace_back(frame_, need);
    // The frame that leaves now is frame_ - lookahead_: it and every frame up
    // to this one are within reach, the rest have gone.
    while (needs_.front().first + lookahead_ < frame_)
      needs_.pop_front();
    const float floor = needs_.front().second;
    gain_ = std::min(floor, gain_ + (1.f - gain_) * release_);
    const float out_l = delay_[2 * at_] * gain_;
    const float out_r = delay_[2 * at_ + 1] * gain_;
    delay_[2 * at_] = l;
    delay_[2 * at_ + 1] = r;
    at_ = at_ + 1 == lookahead_ ? 0 : at_ + 1;
    l = out_l;
    r = out_r;
    smallest_ = std::min(smallest_, gain_);
    limited_ += gain_ < 0.891f ? 1u : 0u; // more than 1 dB down
  }
}

} // namespace troupe::audio
