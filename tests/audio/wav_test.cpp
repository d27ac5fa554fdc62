// WAV writing and reading.

#include <troupe/audio/mixer.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace troupe::audio {
namespace {

/// A per-test, per-process path under the test temp directory.
std::string temp_path(const char* name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::path(::testing::TempDir()) /
          (std::string("troupe_audio_") + info->name() + "_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::uint32_t u32_at(const std::vector<unsigned char>& b, std::size_t at) {
  return std::uint32_t{b[at]} | (std::uint32_t{b[at + 1]} << 8) | (std::uint32_t{b[at + 2]} << 16) |
         (std::uint32_t{b[at + 3]} << 24);
}

std::vector<std::int16_t> test_samples() {
  std::vector<std::int16_t> s;
  for (int i = 0; i < 2000; ++i) {
    s.push_back(static_cast<std::int16_t>((i * 7919) % 65536 - 32768));
  }
  s[0] = -32768;
  s[1] = 32767;
  return s;
}

TEST(Wav, RoundTripKeepsSamplesAndHeaderSizes) {
  const std::string path = temp_path("rt.wav");
  const auto samples = test_samples();
  {
    WavWriter w(path, 44100, 2);
    ASSERT_TRUE(w.ok()) << w.error();
    w.write(std::span(samples).first(500));
    w.write(std::span(samples).subspan(500));
    EXPECT_EQ(w.frames_written(), samples.size() / 2);
    w.close();
    EXPECT_TRUE(w.error().empty()) << w.error();
  }
  const auto bytes = read_bytes(path);
  ASSERT_EQ(bytes.size(), 44 + 2 * samples.size());
  EXPECT_EQ(std::memcmp(bytes.data(), "RIFF", 4), 0);
  EXPECT_EQ(u32_at(bytes, 4), bytes.size() - 8);
  EXPECT_EQ(u32_at(bytes, 40), 2 * samples.size());

  const auto read = read_wav(path);
  ASSERT_TRUE(std::holds_alternative<WavData>(read)) << std::get<std::string>(read);
  const auto& wav = std::get<WavData>(read);
  EXPECT_EQ(wav.sample_rate, 44100u);
  EXPECT_EQ(wav.channels, 2);
  EXPECT_EQ(wav.samples, samples);
  std::filesystem::remove(path);
}

TEST(Wav, DestructorPatchesTheHeader) {
  const std::string path = temp_path("dtor.wav");
  const auto samples = test_samples();
  {
    WavWriter w(path, 48000, 1);
    w.write(samples);
  }
  const auto read = read_wav(path);
  ASSERT_TRUE(std::holds_alternative<WavData>(read)) << std::get<std::string>(read);
  EXPECT_EQ(std::get<WavData>(read).samples, samples);
  std::filesystem::remove(path);
}

TEST(Wav, UnknownChunksAreSkipped) {
  const std::string path = temp_path("list.wav");
  const std::vector<std::int16_t> samples = {1, -2, 3, -4};
  {
    WavWriter w(path, 8000, 1);
    w.write(samples);
  }
  auto bytes = read_bytes(path);
  // Insert an odd-sized LIST chunk (padded to even) between 'fmt ' and 'data'.
  const std::vector<unsigned char> list = {'L', 'I', 'S', 'T', 3, 0, 0, 0, 'a', 'b', 'c', 0};
  bytes.insert(bytes.begin() + 36, list.begin(), list.end());
  write_bytes(path, bytes);
  const auto read = read_wav(path);
  ASSERT_TRUE(std::holds_alternative<WavData>(read)) << std::get<std::string>(read);
  EXPECT_EQ(std::get<WavData>(read).samples, samples);
  std::filesystem::remove(path);
}

TEST(Wav, TruncatedFileIsAnError) {
  const std::string path = temp_path("cut.wav");
  {
    WavWriter w(path, 48000, 2);
    w.write(test_samples());
  }
  auto bytes = read_bytes(path);
  for (const std::size_t keep : {std::size_t{0}, std::size_t{10}, std::size_t{30}, std::size_t{44},
                                 bytes.size() - 1}) {
    write_bytes(path, std::vector<unsigned char>(bytes.begin(), bytes.begin() + static_cast<long>(keep)));
    const auto read = read_wav(path);
    ASSERT_TRUE(std::holds_alternative<std::string>(read)) << "kept " << keep << " bytes";
    EXPECT_FALSE(std::get<std::string>(read).empty());
  }
  std::filesystem::remove(path);
}

TEST(Wav, NonWavFileIsAnError) {
  const std::string path = temp_path("text.wav");
  write_bytes(path, std::vector<unsigned char>(100, 'x'));
  const auto read = read_wav(path);
  ASSERT_TRUE(std::holds_alternative<std::string>(read));
  EXPECT_NE(std::get<std::string>(read).find("not a WAV"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(Wav, NonPcm16IsRefused) {
  const std::string path = temp_path("float.wav");
  {
    WavWriter w(path, 48000, 1);
    w.write(test_samples());
  }
  auto bytes = read_bytes(path);
  bytes[20] = 3;  // IEEE float
  bytes[34] = 32; // bits
  write_bytes(path, bytes);
  const auto read = read_wav(path);
  ASSERT_TRUE(std::holds_alternative<std::string>(read));
  EXPECT_NE(std::get<std::string>(read).find("16-bit PCM"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(Wav, MissingFileIsAnError) {
  const auto read = read_wav(temp_path("does_not_exist.wav"));
  ASSERT_TRUE(std::holds_alternative<std::string>(read));
}

TEST(Wav, UnwritablePathIsAnError) {
  WavWriter w(temp_path("no_such_dir/x.wav"), 48000, 2);
  EXPECT_FALSE(w.ok());
  EXPECT_NE(w.error().find("cannot open"), std::string::npos);
  w.write(test_samples()); // ignored, no crash
  EXPECT_EQ(w.frames_written(), 0u);
}

} // namespace
} // namespace troupe::audio
