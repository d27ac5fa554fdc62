// Impact synthesis. Everything here is a pure function of (key, rate); the
// mixer caches the results, so this runs only on a cache miss.

#include <troupe/audio/synth.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

namespace troupe::audio {
namespace {

constexpr int min_pitch = 6;  // 55 Hz * 2^(6/12) ~ 78 Hz
constexpr int max_pitch = 64; // 55 Hz * 2^(64/12) ~ 2.2 kHz
constexpr int decay_steps = 8;
constexpr int brightness_steps = 4;
constexpr float full_brightness_speed = 8.f; // m/s

// Mode ratios of a free bar struck in the middle: inharmonic, so impacts read
// as "knock" rather than "note". Upper partials start weaker and die faster.
constexpr std::array<double, 4> partial_ratio = {1.0, 2.756, 5.404, 8.933};
constexpr std::array<double, 4> partial_amp = {1.0, 0.55, 0.35, 0.22};

// Start every partial at this phase so sample 0 is already loud: an impact has
// no silent lead-in, and the mixer's onset test relies on it.
constexpr double start_phase = std::numbers::pi / 4.0;

constexpr double click_length_s = 0.003;
constexpr double click_time_constant_s = 0.0005;
constexpr double peak_level = 0.89; // -1 dBFS

/// xorshift32: tiny, fixed, the same everywhere.
struct Noise {
  std::uint32_t state;
  double next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return static_cast<double>(state) / 2147483647.5 - 1.0; // [-1, 1]
  }
};

} // namespace

ToneKey tone_key(const Impact& impact) {
  float radius = impact.radius;
  if (!std::isfinite(radius) || radius <= 0.f) {
    radius = 0.5f;
  }
  const double f0 = 220.0 * std::pow(0.5 / static_cast<double>(radius), 0.7);
  const double semis = std::round(12.0 * std::log2(f0 / 55.0));
  const double pitch = std::clamp(std::isfinite(semis) ? semis : double{max_pitch},
                                  double{min_pitch}, double{max_pitch});

  float restitution = std::isfinite(impact.restitution) ? impact.restitution : 0.f;
  restitution = std::clamp(restitution, 0.f, 1.f);
  const float decay = std::round(restitution * (decay_steps - 1));

  float speed = std::isfinite(impact.approach_speed) ? std::fabs(impact.approach_speed) : 0.f;
  speed = std::min(speed / full_brightness_speed, 1.f);
  const float bright = std::round(speed * (brightness_steps - 1));

  return ToneKey{static_cast<std::uint8_t>(pitch), static_cast<std::uint8_t>(decay),
                 static_cast<std::uint8_t>(bright)};
}

float tone_frequency(ToneKey key) {
  return static_cast<float>(55.0 * std::exp2(static_cast<double>(key.pitch) / 12.0));
}

float tone_length_s(ToneKey key) {
  return 0.04f + 0.36f * static_cast<float>(key.decay) / static_cast<float>(decay_steps - 1);
}

float tone_time_constant_s(ToneKey key) {
  return tone_length_s(key) / std::log(1000.f); // e^(-T/tau) = 1e-3 at T = length
}

void synthesize(ToneKey key, std::uint32_t sample_rate, std::vector<std::int16_t>& out) {
  const double rate = sample_rate;
  const auto frames = static_cast<std::size_t>(std::ceil(tone_length_s(key) * rate));
  const double f0 = tone_frequency(key);
  const double tau = tone_time_constant_s(key);
  const double brightness = static_cast<double>(key.brightness) / (brightness_steps - 1);

  // Scratch reused across calls on this thread (at most 0.4 s of doubles).
  thread_local std::vector<double> mix;
  mix.assign(frames, 0.0);

  // Partials: damped sines run as rotating, shrinking phasors (one complex
  // multiply per sample instead of sin and exp). All four advance in one loop
  // so the four dependency chains overlap; a partial above 0.45 x rate (no
  // aliasing) gets zero amplitude and stays zero.
  constexpr std::size_t partials = partial_ratio.size();
  std::array<double, partials> re{};
  std::array<double, partials> im{};
  std::array<double, partials> step_re{};
  std::array<double, partials> step_im{};
  for (std::size_t k = 0; k < partials; ++k) {
    const double f = f0 * partial_ratio[k];
    if (f >= 0.45 * rate) {
      continue;
    }
    const double amp = partial_amp[k] * (k == 0 ? 1.0 : 0.3 + 0.7 * brightness);
    const double tau_k = tau / (1.0 + 0.7 * static_cast<double>(k));
    const double w = 2.0 * std::numbers::pi * f / rate;
    const double shrink = std::exp(-1.0 / (tau_k * rate));
    step_re[k] = shrink * std::cos(w);
    step_im[k] = shrink * std::sin(w);
    re[k] = amp * std::cos(start_phase);
    im[k] = amp * std::sin(start_phase);
  }
  for (std::size_t i = 0; i < frames; ++i) {
    mix[i] = (im[0] + im[1]) + (im[2] + im[3]);
    for (std::size_t k = 0; k < partials; ++k) {
      const double next_re = re[k] * step_re[k] - im[k] * step_im[k];
      im[k] = re[k] * step_im[k] + im[k] * step_re[k];
      re[k] = next_re;
    }
  }

  // Attack click: a few ms of seeded noise, louder for faster impacts. Its
  // first sample is taken positive so it adds to the partials at sample 0.
  Noise noise{0x9E3779B9u ^ (key.packed() * 2654435761u)};
  const double click_amp = 0.25 + 0.75 * brightness;
  const auto click_frames = std::min(frames, static_cast<std::size_t>(click_length_s * rate));
  const double click_shrink = std::exp(-1.0 / (click_time_constant_s * rate));
  double click_env = click_amp;
  for (std::size_t i = 0; i < click_frames; ++i) {
    const double n = noise.next();
    mix[i] += click_env * (i == 0 ? std::fabs(n) : n);
    click_env *= click_shrink;
  }

  // Fade the last 5 ms to exactly zero: the tail is already at -60 dB, but a
  // truncated tail would still tick.
  const auto fade = std::min(frames, static_cast<std::size_t>(0.005 * rate));
  for (std::size_t i = 0; i < fade; ++i) {
    mix[frames - 1 - i] *= static_cast<double>(i) / static_cast<double>(fade);
  }

  double peak = 0.0;
  for (const double v : mix) {
    peak = std::max(peak, std::fabs(v));
  }
  const double scale = peak > 0.0 ? peak_level * 32767.0 / peak : 0.0;
  out.resize(frames);
  for (std::size_t i = 0; i < frames; ++i) {
    const double v = mix[i] * scale; // |v| <= 0.89 x 32767: fits
    out[i] = static_cast<std::int16_t>(v >= 0.0 ? v + 0.5 : v - 0.5); // round half away
  }
}

float impact_gain(float impulse, float full_scale) {
  if (!std::isfinite(impulse) || impulse <= 0.f || !std::isfinite(full_scale) || full_scale <= 0.f) {
    return 0.f;
  }
  return std::min(1.f, std::pow(impulse / full_scale, 0.6f));
}

float distance_gain(float distance, float reference) {
  if (!(distance > reference)) {
    return 1.f; // also for NaN: treat as near rather than silent
  }
  return reference / distance;
}

} // namespace troupe::audio
