// Timelines and command logs (actors/src/script.cpp), and the wire's framing
// and greeting checks (actors/src/wire.cpp): the parsers that read untrusted
// bytes, with their caps. The fuzz targets (fuzz/) drive the same functions.
#include "wire.hpp"

#include <troupe/actors/runtime.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace troupe {
namespace {

TEST(Script, ReadsTimelinesAndCommandLogsInTickOrder) {
  auto lines = parse_script("# a timeline\n10 shake 0 2 0\n\n5 gravity 0 -9.81 0 # comment\n12 burst 3\n", "t");
  ASSERT_TRUE(lines) << lines.error();
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_EQ((*lines)[0].tick, 5u);
  EXPECT_EQ((*lines)[1].tick, 10u);
  EXPECT_EQ((*lines)[2].burst, 3u);

  auto log = parse_script("# troupe command log\n7 2 41 pause\r\n", "c");
  ASSERT_TRUE(log) << log.error();
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].source, 2u);
  EXPECT_EQ((*log)[0].seq, 41u);
}

TEST(Script, ABadLineIsNamedByFileAndLine) {
  auto bad = parse_script("5 shake 0 2 0\nfive pause\n", "some.timeline");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().file, "some.timeline");
  EXPECT_EQ(bad.error().line, 2);
  EXPECT_NE(bad.error().message.find("tick number"), std::string::npos);

  auto zero_seq = parse_script("5 1 0 pause\n", "log");
  ASSERT_FALSE(zero_seq);
  EXPECT_EQ(zero_seq.error().line, 1);
}

TEST(Script, CapsWhatALineMayClaim) {
  auto long_line = parse_script("5 pause " + std::string(5000, ' ') + "\n", "t");
  ASSERT_FALSE(long_line);
  EXPECT_NE(long_line.error().message.find("longer than 4096"), std::string::npos) << long_line.error();

  auto huge_burst = parse_script("5 burst 18446744073709551615\n", "t");
  ASSERT_FALSE(huge_burst);
  EXPECT_NE(huge_burst.error().message.find("1 to 1000000"), std::string::npos) << huge_burst.error();
  EXPECT_TRUE(parse_script("5 burst 1000000\n", "t"));
}

TEST(Script, AMissingFileIsAnError) {
  auto missing = load_script("/nonexistent/troupe.timeline");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, errc::bad_script);
}

// A BASP header: operation, 3 bytes of flags, payload length (big-endian), rest.
std::array<unsigned char, 32> basp_header(std::uint8_t operation, std::uint32_t length) {
  std::array<unsigned char, 32> h{};
  h[0] = operation;
  h[4] = static_cast<unsigned char>(length >> 24);
  h[5] = static_cast<unsigned char>(length >> 16);
  h[6] = static_cast<unsigned char>(length >> 8);
  h[7] = static_cast<unsigned char>(length);
  return h;
}

TEST(FrameInspector, FollowsFramesSplitAnywhereAndRefusesOversizeAndUnknownOperations) {
  wire::FrameInspector frames(100);
  std::vector<unsigned char> stream;
  for (int i = 0; i < 3; ++i) {
    auto h = basp_header(0x01, 100);
    stream.insert(stream.end(), h.begin(), h.end());
    stream.insert(stream.end(), 100, 0xff); // payload bytes that look like headers are skipped
  }
  for (std::size_t at = 0; at < stream.size(); at += 7)
    ASSERT_FALSE(frames.feed(stream.data() + at, std::min<std::size_t>(7, stream.size() - at)));
  EXPECT_EQ(frames.headers(), 3u);

  auto over = basp_header(0x01, 101);
  auto refused = frames.feed(over.data(), over.size());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->counter, &wire::Refusals::oversize);
  EXPECT_NE(refused->why.find("101 bytes"), std::string::npos);

  wire::FrameInspector fresh(100);
  auto unknown = basp_header(0x07, 0);
  auto refused_op = fresh.feed(unknown.data(), unknown.size());
  ASSERT_TRUE(refused_op);
  EXPECT_EQ(refused_op->counter, &wire::Refusals::malformed);
}

TEST(Greeting, OnlyAProofUnderTheKeyPasses) {
  const auto key = wire::random_key();
  wire::Nonce server{};
  server[0] = 1;
  // A proof with the right layout but a MAC made up: refused as a wrong key.
  std::array<unsigned char, wire::proof_size> proof{};
  std::memcpy(proof.data(), "TRPG", 4);
  const std::uint32_t version = 1;
  std::memcpy(proof.data() + 4, &version, 4);
  wire::Nonce client{};
  EXPECT_EQ(wire::check_client_proof(key, server, proof.data(), client), wire::Proof::wrong_key);
  // What a client that holds the key sends passes, and its nonce comes out;
  // under another key, or for another server nonce, it does not.
  wire::Nonce mine{};
  mine[5] = 7;
  const auto real = wire::client_proof(key, server, mine);
  EXPECT_EQ(wire::check_client_proof(key, server, real.data(), client), wire::Proof::valid);
  EXPECT_EQ(client, mine);
  EXPECT_EQ(wire::check_client_proof(wire::random_key(), server, real.data(), client), wire::Proof::wrong_key);
  wire::Nonce other_server = server;
  other_server[1] = 9;
  EXPECT_EQ(wire::check_client_proof(key, other_server, real.data(), client), wire::Proof::wrong_key);
  proof[0] = 'X';
  EXPECT_EQ(wire::check_client_proof(key, server, proof.data(), client), wire::Proof::not_troupe);
  proof[0] = 'T';
  proof[4] = 9;
  EXPECT_EQ(wire::check_client_proof(key, server, proof.data(), client), wire::Proof::wrong_version);
}

} // namespace
} // namespace troupe
