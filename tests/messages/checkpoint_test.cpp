// Checkpoint files are untrusted input: whatever is done to one (bits
// flipped, cut short, its header changed, junk appended), loading it is
// refused with a bad_file Error naming the file, and nothing crashes.

#include <troupe/messages/codec.hpp>
#include <troupe/sim/scenario.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace troupe {
namespace {

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct CheckpointFile : ::testing::Test {
  void SetUp() override {
    dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / "checkpoint-files";
    std::filesystem::create_directories(dir);
    // One file per test: CTest runs the tests of this suite in parallel.
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    good = (dir / (test + ".ckpt")).string();
    Checkpoint checkpoint{.generation = 4, .world = sim::make_scenario({"sandbox", 300, 9, 60.0}), .acks = {{1, 3}}};
    checkpoint.world.infos[5].user_data = 77;
    ASSERT_TRUE(save_checkpoint(good, checkpoint));
    bytes = read_bytes(good);
  }
  std::filesystem::path dir;
  std::string good;
  std::vector<char> bytes;
};

TEST_F(CheckpointFile, AWrittenCheckpointLoadsBackAndLeavesNoTemporaryFile) {
  auto loaded = load_checkpoint(good);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->world.size(), 300u);
  EXPECT_EQ(loaded->world.infos[5].user_data, 77u);
  EXPECT_FALSE(std::filesystem::exists(good + ".tmp"));
}

TEST_F(CheckpointFile, AThousandMutationsAreEachRefusedWithTheFileNamed) {
  std::mt19937_64 rng(20261202);
  const auto mutated = good + ".mutated";
  int loaded = 0;
  for (int i = 0; i < 1000; ++i) {
    auto copy = bytes;
    switch (i % 4) {
    case 0: // flip a few bits anywhere
      for (int k = 0; k < 1 + i % 3; ++k)
        copy[rng() % copy.size()] ^= static_cast<char>(1u << (rng() % 8));
      break;
    case 1: // cut short
      copy.resize(rng() % copy.size());
      break;
    case 2: // a header byte changed (magic, versions, counts, length, checksum)
      copy[rng() % 40] = static_cast<char>(rng());
      break;
    case 3: // junk after the end, or a byte of it changed
      copy.insert(copy.end(), 1 + rng() % 64, static_cast<char>(rng()));
      break;
    }
    if (copy == bytes)
      continue; // a flip that landed on itself twice: not a mutation
    write_bytes(mutated, copy);
    auto result = load_checkpoint(mutated);
    if (result) {
      ++loaded;
      continue;
    }
    EXPECT_EQ(result.error().code, errc::bad_file);
    EXPECT_EQ(result.error().to_string().rfind(mutated + ": ", 0), 0u) << result.error();
  }
  EXPECT_EQ(loaded, 0) << "a damaged checkpoint must never load";
}

TEST_F(CheckpointFile, ForeignAndFutureFilesAreRefusedWithTheirReason) {
  const auto path = good + ".other";
  auto copy = bytes;
  copy[8] = 3; // file format 3
  write_bytes(path, copy);
  EXPECT_NE(load_checkpoint(path).error().message.find("file format 3"), std::string::npos);
  write_bytes(path, {'h', 'e', 'l', 'l', 'o'});
  EXPECT_NE(load_checkpoint(path).error().message.find("shorter than its header"), std::string::npos);
  copy = bytes;
  copy.resize(copy.size() - 1);
  write_bytes(path, copy);
  EXPECT_NE(load_checkpoint(path).error().message.find("truncated"), std::string::npos);
  copy = bytes;
  copy.back() ^= 1;
  write_bytes(path, copy);
  EXPECT_NE(load_checkpoint(path).error().message.find("checksum mismatch"), std::string::npos);
}

} // namespace
} // namespace troupe
