// Impact synthesis: pure functions of the quantized key.

#include <troupe/audio/synth.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

namespace troupe::audio {
namespace {

Impact sphere(float radius, float restitution, float speed) {
  Impact i;
  i.radius = radius;
  i.restitution = restitution;
  i.approach_speed = speed;
  i.impulse = 1.f;
  return i;
}

TEST(Synth, FirstSampleIsAlreadyLoud) {
  for (const float speed : {0.f, 4.f, 20.f}) {
    std::vector<std::int16_t> tone;
    synthesize(tone_key(sphere(0.5f, 0.3f, speed)), 48000, tone);
    ASSERT_FALSE(tone.empty());
    EXPECT_GT(std::abs(int{tone[0]}), 3000) << "speed " << speed;
  }
}

TEST(Synth, ToneEndsAtZeroAndLastsItsRingTime) {
  std::vector<std::int16_t> tone;
  const ToneKey key = tone_key(sphere(0.2f, 1.f, 2.f));
  synthesize(key, 48000, tone);
  EXPECT_EQ(tone.back(), 0);
  EXPECT_NEAR(static_cast<double>(tone.size()) / 48000.0, 0.4, 1e-3);
}

TEST(Synth, SmallSpheresSoundHigher) {
  const float big = tone_frequency(tone_key(sphere(1.f, 0.3f, 1.f)));
  const float medium = tone_frequency(tone_key(sphere(0.5f, 0.3f, 1.f)));
  const float small = tone_frequency(tone_key(sphere(0.1f, 0.3f, 1.f)));
  EXPECT_LT(big, medium);
  EXPECT_LT(medium, small);
  EXPECT_NEAR(medium, 220.f, 1.f);
  // Absurd radii stay in a sane range.
  EXPECT_GE(tone_frequency(tone_key(sphere(1000.f, 0.3f, 1.f))), 75.f);
  EXPECT_LE(tone_frequency(tone_key(sphere(1e-6f, 0.3f, 1.f))), 2300.f);
}

TEST(Synth, BouncySpheresRingLonger) {
  EXPECT_LT(tone_length_s(tone_key(sphere(0.5f, 0.f, 1.f))),
            tone_length_s(tone_key(sphere(0.5f, 0.9f, 1.f))));
  EXPECT_NEAR(tone_length_s(tone_key(sphere(0.5f, 0.f, 1.f))), 0.04f, 1e-6f);
  EXPECT_NEAR(tone_length_s(tone_key(sphere(0.5f, 1.f, 1.f))), 0.4f, 1e-6f);
}

TEST(Synth, SameKeyGivesSameSamples) {
  std::vector<std::int16_t> a;
  std::vector<std::int16_t> b;
  const ToneKey key = tone_key(sphere(0.3f, 0.6f, 5.f));
  synthesize(key, 48000, a);
  synthesize(tone_key(sphere(0.5f, 0.1f, 0.f)), 48000, b); // reuse b's capacity
  synthesize(key, 48000, b);
  EXPECT_EQ(a, b);
}

TEST(Synth, FasterImpactsAreBrighter) {
  EXPECT_LT(tone_key(sphere(0.5f, 0.3f, 0.5f)).brightness,
            tone_key(sphere(0.5f, 0.3f, 8.f)).brightness);
}

TEST(Synth, GainGrowsWithImpulseAndSaturates) {
  EXPECT_EQ(impact_gain(0.f, 1000.f), 0.f);
  EXPECT_EQ(impact_gain(-1.f, 1000.f), 0.f);
  EXPECT_EQ(impact_gain(std::nanf(""), 1000.f), 0.f);
  EXPECT_LT(impact_gain(1.f, 1000.f), impact_gain(10.f, 1000.f));
  EXPECT_NEAR(impact_gain(100.f, 1000.f) / impact_gain(10.f, 1000.f), std::pow(10.f, 0.6f), 1e-4f);
  EXPECT_EQ(impact_gain(1000.f, 1000.f), 1.f);
  EXPECT_EQ(impact_gain(1e9f, 1000.f), 1.f);
}

TEST(Synth, DistanceGainFallsButNeverReachesZero) {
  EXPECT_EQ(distance_gain(1.f, 5.f), 1.f);
  EXPECT_EQ(distance_gain(10.f, 5.f), 0.5f);
  EXPECT_GT(distance_gain(1e6f, 5.f), 0.f);
}

} // namespace
} // namespace troupe::audio
