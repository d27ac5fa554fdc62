// The loopback mixer: what lands in the rendered samples, and the voice budget.

#include <troupe/audio/mixer.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace troupe::audio {
namespace {

std::unique_ptr<Mixer> open_mixer(const MixerSettings& settings = {}) {
  auto opened = Mixer::open_loopback(settings);
  if (!opened) {
    ADD_FAILURE() << opened.error().message;
    return nullptr;
  }
  return std::move(*opened);
}

std::vector<std::int16_t> render(Mixer& mixer, std::size_t frames) {
  std::vector<std::int16_t> out(2 * frames, 12345); // garbage: render must overwrite it
  mixer.render(out, frames);
  return out;
}

/// RMS of one channel (0 left, 1 right) of interleaved stereo.
double rms(const std::vector<std::int16_t>& stereo, int channel) {
  double sum = 0.0;
  for (std::size_t i = static_cast<std::size_t>(channel); i < stereo.size(); i += 2) {
    const auto s = static_cast<double>(stereo[i]);
    sum += s * s;
  }
  return std::sqrt(sum / static_cast<double>(stereo.size() / 2));
}

int peak(const std::vector<std::int16_t>& samples) {
  int p = 0;
  for (const std::int16_t s : samples) {
    p = std::max(p, std::abs(int{s}));
  }
  return p;
}

Impact impact_at(sim::Vec3 point, float impulse = 500.f) {
  Impact i;
  i.point = point;
  i.impulse = impulse;
  i.approach_speed = 3.f;
  i.radius = 0.3f;
  i.restitution = 0.5f;
  return i;
}

TEST(Mixer, SilenceRendersAsZeros) {
  auto mixer = open_mixer();
  ASSERT_TRUE(mixer);
  EXPECT_TRUE(mixer->is_loopback());
  const auto out = render(*mixer, 4800);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](std::int16_t s) { return s == 0; }));
  EXPECT_EQ(mixer->stats().frames_rendered, 4800u);
  EXPECT_EQ(mixer->stats().clipped_samples, 0u);
  EXPECT_EQ(mixer->last_error(), "");
}

TEST(Mixer, ImpactOnTheListenersLeftIsLouderInTheLeftChannel) {
  // Listener at (0, 6, 24) facing (0, 2, 0): -x is on its left.
  auto mixer = open_mixer();
  ASSERT_TRUE(mixer);
  mixer->play(impact_at({-8.f, 2.f, 0.f}));
  const auto out = render(*mixer, 9600);
  const double left = rms(out, 0);
  const double right = rms(out, 1);
  EXPECT_GT(right, 0.0);
  EXPECT_GT(left, 1.5 * right) << "left " << left << " right " << right;
}

TEST(Mixer, ImpactOnTheListenersRightIsLouderInTheRightChannel) {
  auto mixer = open_mixer();
  ASSERT_TRUE(mixer);
  mixer->play(impact_at({8.f, 2.f, 0.f}));
  const auto out = render(*mixer, 9600);
  const double left = rms(out, 0);
  const double right = rms(out, 1);
  EXPECT_GT(left, 0.0);
  EXPECT_GT(right, 1.5 * left) << "left " << left << " right " << right;
}

TEST(Mixer, OnsetLandsWithin2msOfThePlayFrame) {
  auto mixer = open_mixer();
  ASSERT_TRUE(mixer);
  constexpr std::size_t before = 1000; // not a multiple of any internal block size
  const auto silence = render(*mixer, before);
  ASSERT_TRUE(std::all_of(silence.begin(), silence.end(), [](std::int16_t s) { return s == 0; }));
  mixer->play(impact_at({0.f, 2.f, 0.f}));
  const auto out = render(*mixer, 4800);
  const auto first = std::find_if(out.begin(), out.end(), [](std::int16_t s) { return s != 0; });
  ASSERT_NE(first, out.end());
  const auto frame = static_cast<std::size_t>(first - out.begin()) / 2;
  EXPECT_LE(frame, 96u) << "onset at frame " << before + frame << ", play() at " << before;
}

TEST(Mixer, SameImpactsAtSameFramesGiveBitIdenticalOutput) {
  // Two mixers alive at once, used in turns: each call must use its own context.
  auto a = open_mixer();
  auto b = open_mixer();
  ASSERT_TRUE(a && b);
  std::uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1664525u + 1013904223u;
    return static_cast<float>(seed >> 8) / 16777216.f; // [0, 1)
  };
  std::vector<std::int16_t> out_a;
  std::vector<std::int16_t> out_b;
  for (int block = 0; block < 100; ++block) {
    for (int k = 0; k < 3; ++k) {
      Impact i;
      i.point = {40.f * next() - 20.f, 4.f * next(), 40.f * next() - 20.f};
      i.impulse = 2000.f * next();
      i.approach_speed = 10.f * next();
      i.radius = 0.05f + next();
      i.restitution = next();
      a->play(i);
      b->play(i);
    }
    const auto ra = render(*a, 480);
    const auto rb = render(*b, 480);
    out_a.insert(out_a.end(), ra.begin(), ra.end());
    out_b.insert(out_b.end(), rb.begin(), rb.end());
  }
  EXPECT_GT(peak(out_a), 1000);
  EXPECT_TRUE(out_a == out_b);
  EXPECT_EQ(a->stats().impacts, b->stats().impacts);
  EXPECT_EQ(a->last_error(), "");
  EXPECT_EQ(b->last_error(), "");
}

TEST(Mixer, FloodOfImpactsStaysWithinTheVoiceBudget) {
  MixerSettings settings;
  settings.voices = 32;
  auto mixer = open_mixer(settings);
  ASSERT_TRUE(mixer);
  std::vector<std::int16_t> block(2 * 256);
  constexpr int calls = 100'000;
  for (int n = 0; n < calls; ++n) {
    Impact i;
    i.point = {static_cast<float>(n % 41) - 20.f, 1.f, static_cast<float>(n % 37) - 18.f};
    i.impulse = static_cast<float>(1 + n % 997);
    // A pile of a few kinds of sphere: a dozen distinct tones, as in a real
    // scene (ManyDistinctTonesShareAFixedBufferTable covers cache churn).
    i.approach_speed = static_cast<float>(1 + 6 * (n % 2));
    i.radius = 0.1f + 0.2f * static_cast<float>(n % 3);
    i.restitution = 0.2f + 0.3f * static_cast<float>(n % 2);
    mixer->play(i);
    if (n % 1000 == 999) {
      mixer->render(block, 256);
      ASSERT_LE(mixer->stats().voices_in_use, settings.voices);
    }
  }
  const MixerStats s = mixer->stats();
  EXPECT_LE(s.voices_in_use, settings.voices);
  EXPECT_EQ(s.peak_voices, settings.voices);
  EXPECT_GT(s.stolen, 0u);
  EXPECT_GT(s.skipped, 0u);
  EXPECT_EQ(s.impacts + s.skipped + s.inaudible, std::uint64_t{calls});
  EXPECT_EQ(mixer->last_error(), "");
}

TEST(Mixer, ManyDistinctTonesShareAFixedBufferTable) {
  // More distinct tones than the buffer table holds (voices + 64): buffers are
  // evicted and refilled, never added, and voices never lose theirs.
  MixerSettings settings;
  settings.voices = 8;
  auto mixer = open_mixer(settings);
  ASSERT_TRUE(mixer);
  std::vector<std::int16_t> block(2 * 480);
  int loud_blocks = 0;
  for (int n = 0; n < 300; ++n) {
    Impact i;
    i.point = {static_cast<float>(n % 7) - 3.f, 1.f, 0.f};
    i.impulse = 800.f;
    i.radius = 0.02f + 0.04f * static_cast<float>(n % 50);
    i.restitution = static_cast<float>(n % 6) / 5.f;
    i.approach_speed = static_cast<float>(n % 4) * 3.f;
    mixer->play(i);
    mixer->render(block, 480);
    loud_blocks += peak(block) > 1000 ? 1 : 0;
  }
  EXPECT_EQ(mixer->stats().impacts, 300u);
  EXPECT_EQ(loud_blocks, 300);
  EXPECT_EQ(mixer->last_error(), "");
}

TEST(Mixer, LouderImpulseGivesLargerPeak) {
  auto quiet = open_mixer();
  auto loud = open_mixer();
  ASSERT_TRUE(quiet && loud);
  quiet->play(impact_at({0.f, 2.f, 0.f}, 10.f));
  loud->play(impact_at({0.f, 2.f, 0.f}, 500.f));
  const int quiet_peak = peak(render(*quiet, 4800));
  const int loud_peak = peak(render(*loud, 4800));
  EXPECT_GT(quiet_peak, 0);
  EXPECT_GT(loud_peak, 2 * quiet_peak);
}

TEST(Mixer, FarImpactIsQuieterButNotSilent) {
  auto near_mixer = open_mixer();
  auto far_mixer = open_mixer();
  ASSERT_TRUE(near_mixer && far_mixer);
  near_mixer->play(impact_at({0.f, 2.f, 14.f}));   // ~10.8 m
  far_mixer->play(impact_at({0.f, 2.f, -176.f}));  // ~200 m
  const int near_peak = peak(render(*near_mixer, 4800));
  const int far_peak = peak(render(*far_mixer, 4800));
  EXPECT_GT(far_peak, 100);
  EXPECT_GT(near_peak, 4 * far_peak);
}

TEST(Mixer, FinishedVoicesAreRecycled) {
  auto mixer = open_mixer();
  ASSERT_TRUE(mixer);
  for (int k = 0; k < 5; ++k) {
    mixer->play(impact_at({static_cast<float>(k), 1.f, 0.f}));
  }
  EXPECT_EQ(mixer->stats().voices_in_use, 5u);
  render(*mixer, 24000); // 0.5 s: longer than any tone (0.4 s)
  EXPECT_EQ(mixer->stats().voices_in_use, 0u);
  EXPECT_EQ(mixer->stats().peak_voices, 5u);
  EXPECT_EQ(mixer->stats().impacts, 5u);
}

TEST(Mixer, QuietImpactDoesNotStealFromLouderVoices) {
  MixerSettings settings;
  settings.voices = 2;
  auto mixer = open_mixer(settings);
  ASSERT_TRUE(mixer);
  mixer->play(impact_at({0.f, 2.f, 0.f}, 800.f));
  mixer->play(impact_at({0.f, 2.f, 0.f}, 800.f));
  mixer->play(impact_at({0.f, 2.f, 0.f}, 1.f));
  EXPECT_EQ(mixer->stats().skipped, 1u);
  mixer->play(impact_at({0.f, 2.f, 0.f}, 1000.f));
  EXPECT_EQ(mixer->stats().stolen, 1u);
  EXPECT_EQ(mixer->stats().voices_in_use, 2u);
}

TEST(Mixer, InvalidImpactsAreCountedAsInaudible) {
  auto mixer = open_mixer();
  ASSERT_TRUE(mixer);
  mixer->play(impact_at({0.f, 2.f, 0.f}, 0.f));
  mixer->play(impact_at({0.f, 2.f, 0.f}, -5.f));
  mixer->play(impact_at({0.f, 2.f, 0.f}, std::nanf("")));
  mixer->play(impact_at({std::nanf(""), 2.f, 0.f}));
  Impact odd = impact_at({0.f, 2.f, 0.f});
  odd.radius = -1.f;
  odd.restitution = std::nanf("");
  odd.approach_speed = INFINITY;
  mixer->play(odd); // odd character, valid loudness: plays with defaults
  EXPECT_EQ(mixer->stats().inaudible, 4u);
  EXPECT_EQ(mixer->stats().impacts, 1u);
  EXPECT_GT(peak(render(*mixer, 4800)), 0);
  EXPECT_EQ(mixer->last_error(), "");
}

TEST(Mixer, FullScaleSamplesAreCountedAsClippedWithoutTheLimiter) {
  MixerSettings raw;
  raw.limiter = false;
  auto mixer = open_mixer(raw);
  ASSERT_TRUE(mixer);
  for (int k = 0; k < 32; ++k) {
    mixer->play(impact_at({0.f, 6.f, 23.f}, 1000.f)); // at the ears, full gain
  }
  render(*mixer, 4800);
  EXPECT_GT(mixer->stats().clipped_samples, 0u);
  EXPECT_EQ(mixer->stats().limited_frames, 0u);
}

TEST(Mixer, TheLimiterKeepsThirtyTwoFullImpactsUnderMinusOneDecibel) {
  auto mixer = open_mixer();
  ASSERT_TRUE(mixer);
  for (int k = 0; k < 32; ++k)
    mixer->play(impact_at({0.f, 6.f, 23.f}, 1000.f));
  const auto out = render(*mixer, 4800);
  EXPECT_EQ(mixer->stats().clipped_samples, 0u);
  EXPECT_LE(peak(out), static_cast<int>(std::lround(32768.0 * std::pow(10.0, -1.0 / 20.0))));
  EXPECT_GT(peak(out), 20000) << "loud, not squashed";
  EXPECT_GT(mixer->stats().limited_frames, 0u);
  EXPECT_LT(mixer->stats().limiter_gain_min, 0.5f);
}

TEST(Mixer, TheLimitedMixIsTheSameForTheSameImpacts) {
  std::vector<std::int16_t> runs[2];
  for (auto& out : runs) {
    auto mixer = open_mixer();
    ASSERT_TRUE(mixer);
    for (int k = 0; k < 20; ++k) {
      mixer->play(impact_at({static_cast<float>(k) - 10.f, 1.f, 0.f}, 900.f));
      const auto chunk = render(*mixer, 800);
      out.insert(out.end(), chunk.begin(), chunk.end());
    }
  }
  EXPECT_EQ(runs[0], runs[1]);
}

TEST(Mixer, OutOfRangeSettingsAreRefused) {
  MixerSettings no_voices;
  no_voices.voices = 0;
  auto a = Mixer::open_loopback(no_voices);
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message.find("voices"), std::string::npos);
  MixerSettings bad_rate;
  bad_rate.sample_rate = 12;
  auto b = Mixer::open_loopback(bad_rate);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("sample_rate"), std::string::npos);
}

TEST(Mixer, OpenDeviceEitherOpensOrSaysWhy) {
  // This machine may or may not have a sound card; both outcomes are fine.
  auto opened = Mixer::open_device(MixerSettings{});
  if (!opened) {
    EXPECT_NE(opened.error().message.find("wav"), std::string::npos) << opened.error().message;
  } else {
    auto& mixer = *opened;
    ASSERT_TRUE(mixer);
    EXPECT_FALSE(mixer->is_loopback());
    mixer->play(impact_at({0.f, 2.f, 0.f}));
    std::vector<std::int16_t> untouched(2 * 64, 7);
    mixer->render(untouched, 64);
    EXPECT_TRUE(std::all_of(untouched.begin(), untouched.end(), [](std::int16_t s) { return s == 7; }));
  }
}

} // namespace
} // namespace troupe::audio
