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
    Checkpoint checkpoint;
    checkpoint.generation = 4;
    checkpoint.world = sim::make_scenario({"sandbox", 300, 9, 60.0});
    checkpoint.acks = {{1, 3}};
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
  copy[8] = 4; // file format 4
  write_bytes(path, copy);
  EXPECT_NE(load_checkpoint(path).error().message.find("file format 4"), std::string::npos);
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

namespace troupe {
namespace {

/// Logic's piece of a cut of the sandbox in `regions` slabs, and region 1's.
std::pair<Checkpoint, Checkpoint> cut_pieces(std::uint32_t regions) {
  const auto world = sim::make_scenario({"sandbox", 300, 9, 60.0});
  const auto layout = sim::Layout::even(world.arena, {regions, 1, 1});
  Checkpoint logic;
  logic.generation = 9;
  logic.parts = logic.part = regions;
  logic.ledger = sim::make_ledger(world, layout);
  logic.world_hash = sim::world_hash(world);
  logic.acks = {{1, 2}};
  Checkpoint region;
  region.parts = regions;
  region.part = 1;
  const sim::Region part(1, sim::bodies_in(world, layout, 1));
  region.world = sim::part_world(world, world.tick, part.held());
  return {logic, region};
}

TEST(CutFile, PiecesOfACutLoadBackWhereTheyBelong) {
  const auto dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / "cut-files";
  std::filesystem::create_directories(dir);
  const auto [logic, region] = cut_pieces(4);
  const auto logic_path = (dir / "tick-0.ckpt").string();
  ASSERT_TRUE(save_checkpoint(logic_path, logic));
  ASSERT_TRUE(save_checkpoint(region_checkpoint_path(logic_path, 1), region));
  EXPECT_EQ(region_checkpoint_path(logic_path, 1), (dir / "tick-0.region-1.ckpt").string());
  auto back = load_checkpoint(logic_path);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->parts, 4u);
  EXPECT_EQ(back->part, 4u);
  EXPECT_EQ(back->ledger.alive, 300u);
  EXPECT_EQ(back->ledger.slots.size(), logic.ledger.slots.size());
  EXPECT_TRUE(back->ledger.layout == logic.ledger.layout);
  EXPECT_EQ(back->world_hash, logic.world_hash);
  EXPECT_EQ(back->world.size(), 0u);
  auto piece = load_checkpoint(region_checkpoint_path(logic_path, 1));
  ASSERT_TRUE(piece) << piece.error();
  EXPECT_EQ(piece->part, 1u);
  EXPECT_EQ(piece->world.size(), region.world.size());
}

TEST(CutFile, ALedgerThatDoesNotAddUpIsRefused) {
  const auto dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / "cut-files";
  std::filesystem::create_directories(dir);
  const auto path = (dir / "broken.ckpt").string();
  auto refused = [&](Checkpoint c, const std::string& why) {
    ASSERT_TRUE(save_checkpoint(path, c));
    auto loaded = load_checkpoint(path);
    ASSERT_FALSE(loaded) << why;
    EXPECT_EQ(loaded.error().code, errc::bad_file);
    EXPECT_NE(loaded.error().to_string().find(path), std::string::npos);
    EXPECT_NE(loaded.error().to_string().find(why), std::string::npos) << loaded.error();
  };
  auto [logic, region] = cut_pieces(4);
  auto more_alive = logic;
  ++more_alive.ledger.alive;
  refused(more_alive, "the live slots are not the bodies alive");
  auto freed_twice = logic;
  freed_twice.ledger.slots.push_back({0, ~0u});
  freed_twice.ledger.free_slots = {static_cast<std::uint32_t>(freed_twice.ledger.slots.size() - 1),
                                   static_cast<std::uint32_t>(freed_twice.ledger.slots.size() - 1)};
  refused(freed_twice, "free");
  auto unsorted = logic;
  std::swap(unsorted.ledger.layout.cuts[0][0], unsorted.ledger.layout.cuts[0][1]);
  refused(unsorted, "ascending");
  auto fewer_cells = logic;
  fewer_cells.ledger.layout.cuts[0].pop_back();
  refused(fewer_cells, "holds a layout of 3 cells");
  auto no_such_piece = region;
  no_such_piece.part = 7;
  refused(no_such_piece, "no such piece of a cut");
}

} // namespace
} // namespace troupe
