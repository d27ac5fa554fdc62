// The look-ahead limiter on its own: it delays by its look-ahead, leaves
// quiet sound alone, never lets a sample past the ceiling, starts turning
// down before a peak arrives, and recovers afterwards.

#include <troupe/audio/limiter.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace troupe::audio {
namespace {

TEST(Limiter, QuietSoundPassesUnchangedOneLookAheadLater) {
  Limiter limiter(48000, 0.9f);
  ASSERT_EQ(limiter.lookahead_frames(), 48u);
  std::vector<float> lr(2 * 200);
  for (std::size_t i = 0; i < 200; ++i)
    lr[2 * i] = lr[2 * i + 1] = 0.5f * std::sin(0.05f * static_cast<float>(i));
  const auto in = lr;
  limiter.process(lr.data(), 200);
  for (std::size_t i = 0; i < 48; ++i)
    EXPECT_EQ(lr[2 * i], 0.f);
  for (std::size_t i = 48; i < 200; ++i)
    EXPECT_EQ(lr[2 * i], in[2 * (i - 48)]) << i;
  EXPECT_EQ(limiter.limited_frames(), 0u);
}

TEST(Limiter, NoSamplePassesTheCeilingAndTheGainFallsBeforeThePeak) {
  Limiter limiter(48000, 0.9f);
  std::vector<float> lr(2 * 4000, 0.25f);
  lr[2 * 1000] = 4.f;        // a spike on the left
  lr[2 * 2000 + 1] = -3.f;   // and one on the right
  limiter.process(lr.data(), 2000);
  std::vector<float> rest(lr.begin() + 4000, lr.end());
  limiter.process(rest.data(), 2000); // in two calls: the state carries over
  std::copy(rest.begin(), rest.end(), lr.begin() + 4000);
  for (const float v : lr)
    EXPECT_LE(std::fabs(v), 0.9f + 1e-6f);
  EXPECT_NEAR(lr[2 * 1048], 0.9f, 1e-6f) << "the spike comes out at the ceiling, 48 frames late";
  EXPECT_LT(lr[2 * 1000], 0.25f) << "the gain fell as the spike came within the look-ahead";
  EXPECT_NEAR(lr[2 * 999], 0.25f, 1e-6f) << "and not before";
  EXPECT_GT(lr[2 * 1900], 1.3f * lr[2 * 1100]) << "it recovers (a 100 ms time constant) after the spike";
  EXPECT_NEAR(limiter.smallest_gain(), 0.9f / 4.f, 1e-6f);
}

} // namespace
} // namespace troupe::audio
