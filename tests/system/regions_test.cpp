// One world split into regions (issue 13) through the real executable: the
// same world hash, recorded frames and sound as one physics actor, for any
// number of regions, any cut, any thread count, in one process, on several
// nodes of one process and as processes under `troupe up`, and through
// region restarts.

#include "common/net.hpp"
#include "common/process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace troupe::testing {
namespace {

/// What a run left behind that must not depend on the layout.
struct Outcome {
  std::string hash;
  std::string wav;                 ///< audio.wav, bytes
  std::vector<std::string> frames; ///< every recorded frame, bytes, in tick order
};

Outcome outcome_of(const std::string& out) {
  Outcome o;
  o.hash = report_hash(read_text(out + "/report.json"));
  o.wav = read_text(out + "/audio.wav");
  std::vector<std::filesystem::path> files;
  if (std::filesystem::exists(out + "/frames"))
    for (const auto& f : std::filesystem::directory_iterator(out + "/frames"))
      files.push_back(f.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files)
    o.frames.push_back(read_text(f.string()));
  return o;
}

/// regions-four.toml written into `dir` with free ports, its timeline beside
/// it, and the physics region keys replaced by `regions` (TOML lines).
std::string regions_config(const std::string& dir, const std::string& name, const std::string& regions) {
  auto text = read_text(examples + "regions-four.toml");
  text = std::regex_replace(text, std::regex("port = 47121"), "port = " + std::to_string(free_port()));
  text = std::regex_replace(text, std::regex("port = 47122"), "port = " + std::to_string(free_port()));
  const auto from = text.find("regions = 4");
  const auto to = text.find("[actors.logic]");
  EXPECT_NE(from, std::string::npos);
  text.replace(from, to - from, regions + "\n\n");
  std::filesystem::copy_file(examples + "sandbox.timeline", dir + "/sandbox.timeline",
                             std::filesystem::copy_options::overwrite_existing);
  const auto path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

/// Runs `troupe VERB CONFIG ARGS --out OUT`, which must succeed.
Outcome run_ok(const std::string& verb, const std::string& config, const std::string& args, const std::string& out) {
  const auto r = run_command(exe + " " + verb + " " + config + " --quiet --out " + out + " " + args);
  EXPECT_EQ(r.exit_code, 0) << config << " " << args << "\n" << r.output;
  return outcome_of(out);
}

constexpr const char* ticks = "--ticks 240";

/// The one-actor run of the sandbox that every layout must match.
const Outcome& one_actor() {
  static const Outcome outcome = [] {
    const auto dir = fresh_dir("regions-one-actor");
    return run_ok("run", examples + "sandbox.toml", ticks, dir);
  }();
  return outcome;
}

void expect_same(const Outcome& got, const std::string& what) {
  const Outcome& want = one_actor();
  ASSERT_FALSE(want.hash.empty());
  EXPECT_EQ(got.hash, want.hash) << what;
  EXPECT_EQ(got.frames.size(), want.frames.size()) << what;
  EXPECT_TRUE(got.frames == want.frames) << what << ": recorded frames differ";
  EXPECT_FALSE(got.wav.empty()) << what;
  EXPECT_TRUE(got.wav == want.wav) << what << ": audio.wav differs";
}

TEST(Regions, AnyRegionCountCutAndThreadCountGivesTheOneActorHashFramesAndSound) {
  const auto dir = fresh_dir("regions-layouts");
  const std::vector<std::pair<std::string, std::string>> layouts = {
    {"r1", "regions = 1"},
    {"r2", "regions = 2"},
    {"r3", "regions = 3\nregion_nodes = [\"main\", \"region-node\"]\ncut = \"z\""},
    {"r4", "regions = 4\nregion_nodes = [\"main\", \"region-node\"]"},
    {"r8", "regions = 8\nregion_nodes = [\"region-node\", \"main\"]"},
    {"g221", "regions = 4\ngrid = [2, 2, 1]\nregion_nodes = [\"main\", \"region-node\"]"},
    {"g222", "regions = 8\ngrid = [2, 2, 2]"},
  };
  for (const auto& [name, keys] : layouts) {
    const auto config = regions_config(dir, name + ".toml", keys);
    for (const char* threads : {"--threads 1", "--threads 2"}) {
      const auto what = name + " " + threads;
      expect_same(run_ok("run", config, std::string(ticks) + " " + threads, dir + "/" + name + threads[10]), what);
    }
  }
  // Each region stepped every tick on its node; bodies crossed boundaries.
  const auto json = read_text(dir + "/r42/report.json");
  for (int i = 0; i < 4; ++i) {
    const auto region = "physics/" + std::to_string(i);
    EXPECT_EQ(actor_value(json, region, "steps"), 240) << region;
    EXPECT_GT(actor_value(json, region, "owned"), 0) << region;
  }
  EXPECT_NE(json.find("\"name\": \"physics/1\", \"kind\": \"physics\", \"node\": \"region-node\""), std::string::npos);
  EXPECT_GT(actor_value(json, "physics/0", "migrations") + actor_value(json, "physics/1", "migrations"), 0);
  EXPECT_EQ(actor_value(json, "logic", "regions"), 4);
  // Render runs on the other node: it put every generation together from
  // compact pieces, logic's and each region's.
  EXPECT_GT(actor_value(json, "render", "compact_received"), 0);
  EXPECT_EQ(actor_value(json, "render", "compact_decode_errors"), 0);
  EXPECT_EQ(actor_value(json, "observer", "out_of_order"), 0);
}

/// A topology of the three required actors, on one node, for `simulation`.
std::string bare_config(const std::string& dir, const std::string& name, const std::string& simulation,
                        const std::string& physics) {
  const auto path = dir + "/" + name;
  std::ofstream(path) << "[simulation]\n"
                      << simulation << "\nticks = 150\n\n[[nodes]]\nname = \"main\"\n\n[actors.physics]\n"
                      << physics << "\n[actors.logic]\n[actors.input]\n";
  return path;
}

TEST(Regions, PileAndAnotherSeedAndBodyCountGiveTheOneActorHash) {
  const auto dir = fresh_dir("regions-scenes");
  for (const std::string simulation :
       {"scenario = \"pile\"\nbodies = 3000\nseed = 3", "scenario = \"sandbox\"\nbodies = 1500\nseed = 7"}) {
    const auto one = run_ok("run", bare_config(dir, "one.toml", simulation, ""), "", dir + "/one").hash;
    ASSERT_FALSE(one.empty());
    for (const std::string physics : {"regions = 2", "regions = 4\ncut = \"z\"", "regions = 8\ngrid = [2, 2, 2]"})
      for (const char* threads : {"--threads 1", "--threads 2"})
        EXPECT_EQ(run_ok("run", bare_config(dir, "parts.toml", simulation, physics), threads, dir + "/parts").hash,
                  one)
          << simulation << "\n" << physics << " " << threads;
  }
}

TEST(Regions, UpOfRegionsFourGivesTheOneActorHashFramesAndSound) {
  const auto dir = fresh_dir("regions-up");
  const auto config = regions_config(dir, "four.toml", "regions = 4\nregion_nodes = [\"main\", \"region-node\"]");
  expect_same(run_ok("up", config, ticks, dir + "/up"), "troupe up");
}

TEST(Regions, RegionsThatFailAndRestartGiveTheSameHashFramesAndSound) {
  const auto dir = fresh_dir("regions-chaos");
  const auto config = regions_config(dir, "four.toml", "regions = 4\nregion_nodes = [\"main\", \"region-node\"]");
  const auto out = dir + "/chaos";
  expect_same(run_ok("run", config, std::string(ticks) + " --chaos physics/0=0.02,physics/3=0.02 --kill physics/2@120",
                     out),
              "chaos");
  const auto json = read_text(out + "/report.json");
  EXPECT_GE(actor_value(json, "physics/2", "incarnation"), 1);
  EXPECT_GE(actor_value(json, "physics/0", "incarnation") + actor_value(json, "physics/3", "incarnation"), 1);
  EXPECT_EQ(actor_value(json, "physics/1", "incarnation"), 0);
  EXPECT_EQ(actor_value(json, "physics/2", "steps"), 240); // across incarnations, each tick once
}

TEST(Regions, CheckShowsTheLayoutAndABadOneIsRefusedWithFileLineAndKey) {
  const auto dir = fresh_dir("regions-check");
  const auto check = run_command(exe + " check " + examples + "regions-four.toml");
  ASSERT_EQ(check.exit_code, 0) << check.output;
  for (const char* expected : {"4 regions: slabs across x", "physics/0", "physics/3", "on region-node"})
    EXPECT_NE(check.output.find(expected), std::string::npos) << expected << "\n" << check.output;
  const auto bad = regions_config(dir, "bad.toml", "regions = 2\nregion_nodes = [\"gpu-node\"]");
  const auto refused = run_command(exe + " run " + bad + " --quiet --out " + dir + "/bad");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(std::regex_search(
    refused.output, std::regex("bad\\.toml:[0-9]+:1: actors\\.physics\\.region_nodes: no node named \"gpu-node\"")))
    << refused.output;
}

} // namespace
} // namespace troupe::testing
