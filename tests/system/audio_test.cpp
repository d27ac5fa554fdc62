// Audio from outside: the real executable writes OUT/audio.wav; the tests read
// it back and check length, onset time, panning, silence and placement.

#include "common/process.hpp"

#include <troupe/audio/mixer.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace troupe {
namespace {

using namespace troupe::testing;

constexpr std::size_t frames_per_tick = 48000 / 60;

audio::WavData read(const std::string& path) {
  auto loaded = audio::read_wav(path);
  if (auto* err = std::get_if<std::string>(&loaded)) {
    ADD_FAILURE() << *err;
    return {};
  }
  return std::get<audio::WavData>(std::move(loaded));
}

double rms(const audio::WavData& wav, int channel, std::size_t from = 0) {
  double sum = 0;
  std::size_t n = 0;
  for (std::size_t i = from * 2 + static_cast<std::size_t>(channel); i < wav.samples.size(); i += 2, ++n)
    sum += double(wav.samples[i]) * double(wav.samples[i]);
  return n ? std::sqrt(sum / double(n)) : 0.0;
}

/// First frame where either channel is not zero.
std::size_t onset(const audio::WavData& wav) {
  for (std::size_t i = 0; i < wav.samples.size(); ++i)
    if (wav.samples[i] != 0)
      return i / 2;
  return wav.samples.size() / 2;
}

std::string run_ok(const std::string& config_path, const std::string& args, const std::string& out) {
  auto r = run_command(exe + " run " + config_path + " --quiet --out " + out + " " + args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return read_text(out + "/report.json");
}

TEST(AudioOutput, CrashesOfAudioNeitherTruncateNorGapTheWav) {
  // Each incarnation carries on with its predecessor's mixer and file: the WAV
  // still lasts exactly the simulated time, and it still sounds.
  const auto out = fresh_dir("audio-chaos");
  const auto json = run_ok(examples + "sandbox.toml", "--ticks 300 --kill audio@100 --chaos audio=0.02 --max-restarts 1000", out);
  const auto wav = read(out + "/audio.wav");
  EXPECT_EQ(wav.samples.size(), 300 * frames_per_tick * 2);
  EXPECT_GT(rms(wav, 0, 150 * frames_per_tick), 10.0);
  EXPECT_GT(actor_value(json, "supervisor@main", "restarts_audio"), 0);
}

TEST(AudioOutput, SandboxWavLastsTheSimulatedTimeAndIsNotSilent) {
  const auto out = fresh_dir("audio-sandbox");
  const auto json = run_ok(examples + "sandbox.toml", "--ticks 240", out);
  const auto wav = read(out + "/audio.wav");
  EXPECT_EQ(wav.sample_rate, 48000u);
  EXPECT_EQ(wav.channels, 2u);
  EXPECT_EQ(wav.samples.size(), 240 * frames_per_tick * 2);
  EXPECT_GT(rms(wav, 0), 10.0);
  EXPECT_GT(actor_value(json, "audio", "contact_events_received"), 0);
  EXPECT_LE(actor_value(json, "audio", "peak_voices"), 64);
}

TEST(AudioOutput, ADropLeftOfTheListenerIsHeardAtItsTickAndOnTheLeft) {
  const auto out = fresh_dir("audio-drop");
  const auto json = run_ok(examples + "drop.toml", "", out);
  const auto tick = actor_value(json, "audio", "first_impact_tick");
  ASSERT_GT(tick, 0) << "no impact reported";
  const auto wav = read(out + "/audio.wav");
  ASSERT_EQ(wav.samples.size(), 90 * frames_per_tick * 2);
  const auto expected = static_cast<std::size_t>(tick) * frames_per_tick;
  const auto heard = onset(wav);
  EXPECT_LE(heard > expected ? heard - expected : expected - heard, 96u)
    << "onset at frame " << heard << ", impact tick starts at frame " << expected;
  EXPECT_GT(rms(wav, 0, heard), 1.5 * rms(wav, 1, heard)) << "left should be louder";
}

TEST(AudioOutput, AWorldWithoutContactsIsSilent) {
  const auto dir = fresh_dir("audio-silent");
  std::ofstream(dir + "/silent.toml") << "[simulation]\nticks = 30\nscenario = \"empty\"\nbodies = 0\n"
                                         "[[nodes]]\nname = \"main\"\n[actors.physics]\n[actors.logic]\n"
                                         "[actors.input]\n[actors.audio]\n";
  run_ok(dir + "/silent.toml", "", dir);
  const auto wav = read(dir + "/audio.wav");
  EXPECT_EQ(wav.samples.size(), 30 * frames_per_tick * 2);
  EXPECT_EQ(rms(wav, 0), 0.0);
  EXPECT_EQ(rms(wav, 1), 0.0);
}

TEST(AudioOutput, AudioOnASecondNodeWritesTheSameFile) {
  const auto dir = fresh_dir("audio-two-nodes");
  auto text = read_text(examples + "sandbox.toml");
  // Same simulation, audio moved to a second node.
  text += "\n[[nodes]]\nname = \"sound\"\n";
  const auto at = text.find("[actors.audio]\n");
  ASSERT_NE(at, std::string::npos);
  text.insert(at + 15, "node = \"sound\"\n");
  const auto timeline = read_text(examples + "sandbox.timeline");
  std::ofstream(dir + "/sandbox.timeline") << timeline;
  std::ofstream(dir + "/two.toml") << text;
  const auto one_out = dir + "/one";
  const auto two_out = dir + "/two";
  const auto one = run_ok(examples + "sandbox.toml", "--ticks 200", one_out);
  const auto two = run_ok(dir + "/two.toml", "--ticks 200", two_out);
  EXPECT_TRUE(has_actor_on(two, "audio", "sound"));
  EXPECT_EQ(report_hash(one), report_hash(two));
  EXPECT_EQ(actor_value(two, "audio", "contact_events_dropped"), 0);
  EXPECT_EQ(read_text(one_out + "/audio.wav"), read_text(two_out + "/audio.wav"));
}

TEST(AudioOutput, AskingForADeviceWithoutOneFallsBackToTheWavWithAMessage) {
  const auto out = fresh_dir("audio-device");
  auto r = run_command(exe + " run " + examples + "drop.toml --quiet --audio device --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = read_text(out + "/report.json");
  if (actor_value(json, "audio", "live_device") == 1)
    GTEST_SKIP() << "this machine has an audio device: it played live";
  EXPECT_NE(r.output.find("no audio output device"), std::string::npos) << r.output;
  EXPECT_EQ(read(out + "/audio.wav").samples.size(), 90 * frames_per_tick * 2);
}

} // namespace
} // namespace troupe
