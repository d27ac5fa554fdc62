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
  std::map<std::string, std::string> frames; ///< every recorded frame (recorded_frames)
};

Outcome outcome_of(const std::string& out) {
  Outcome o;
  o.hash = report_hash(read_text(out + "/report.json"));
  o.wav = read_text(out + "/audio.wav");
  o.frames = recorded_frames(out);
  return o;
}

/// regions-four.toml written into `dir` with free ports, its timeline beside
/// it, and the physics region keys replaced by `regions` (TOML lines).
std::string regions_config(const std::string& dir, const std::string& name, const std::string& regions) {
  auto text = with_free_ports(read_text(examples + "regions-four.toml"));
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
    // A folder of its own per test: CTest runs the tests of this file in parallel.
    const auto dir = fresh_dir(std::string("regions-one-actor-") +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
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
  EXPECT_EQ(report_actor(parse_report(json), "physics/1").value("node", ""), "region-node");
  EXPECT_GT(actor_value(json, "physics/0", "migrations") + actor_value(json, "physics/1", "migrations"), 0);
  EXPECT_EQ(actor_value(json, "logic", "regions"), 4);
  // The HTML report plots the regions side by side: a line per region.
  const auto html = read_text(dir + "/r42/report.html");
  EXPECT_NE(html.find("<h2>Regions</h2>"), std::string::npos);
  const auto owned = html.find("Regions: bodies each region owns");
  ASSERT_NE(owned, std::string::npos);
  const auto figure = html.substr(owned, html.find("</figure>", owned) - owned);
  // Its data, which uPlot draws when the page loads: a series per region.
  const auto data_at = figure.find("class='plot-data'>");
  ASSERT_NE(data_at, std::string::npos) << figure.substr(0, 300);
  const auto data_from = data_at + std::string("class='plot-data'>").size();
  const auto data = nlohmann::json::parse(figure.substr(data_from, figure.find("</script>") - data_from), nullptr, false);
  ASSERT_TRUE(data.is_object()) << figure.substr(0, 300);
  ASSERT_EQ(data["series"].size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(data["series"][i].value("label", ""), "physics/" + std::to_string(i)) << i;
    EXPECT_EQ(data["series"][i]["values"].size(), data["x"].size()) << i;
  }
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

std::string plugin(const std::string& name) { return std::string(TROUPE_PLUGIN_DIR) + "/" + name + ".so"; }

/// `config` with the built sample plugins as the plugin directory, and a
/// smoke-test budget no loaded machine runs out of (what is tested here is
/// where rules run, not how fast a candidate is).
std::string with_plugins(const std::string& config) {
  auto text = read_text(config);
  text = std::regex_replace(text, std::regex("\\[actors\\.logic\\]\n"),
                            "[actors.logic]\nplugin_dir = \"" + std::string(TROUPE_PLUGIN_DIR) +
                              "\"\nsmoke_budget_ms = 60000\n");
  std::ofstream(config) << text;
  return config;
}

TEST(Regions, BodyRulesRunInEveryRegionAreReloadedAndRolledBackAsInOneActor) {
  const auto dir = fresh_dir("regions-rules");
  const auto one = with_plugins(regions_config(dir, "one.toml", "regions = 1"));
  const auto four =
    with_plugins(regions_config(dir, "four.toml", "regions = 4\nregion_nodes = [\"main\", \"region-node\"]"));
  // World rules are refused at 50 (one actor refuses this build for its NaN,
  // the regions for its scope first), wind is installed at 90 in every
  // region, and body rules that throw from tick 300 on are taken back
  // everywhere.
  std::ofstream(dir + "/sandbox.timeline", std::ios::app)
    << "20 reload " << plugin("broken_nan") << "\n60 reload " << plugin("wind") << "\n150 reload "
    << plugin("broken_later") << "\n";
  const std::string args = "--ticks 360";
  const Outcome want = run_ok("run", one, args, dir + "/one");
  const auto four_out = dir + "/four";
  const Outcome got = run_ok("run", four, args + " --threads 2", four_out);
  ASSERT_FALSE(want.hash.empty());
  EXPECT_EQ(got.hash, want.hash);
  EXPECT_TRUE(got.frames == want.frames) << "recorded frames differ";
  EXPECT_TRUE(got.wav == want.wav) << "audio.wav differs";
  for (const auto* out : {"/one", "/four"}) {
    const auto json = read_text(dir + out + "/report.json");
    EXPECT_EQ(actor_value(json, "logic", "rules_installed"), 2) << out;
    EXPECT_EQ(actor_value(json, "logic", "rules_rejected"), 1) << out;
    EXPECT_EQ(actor_value(json, "logic", "rules_rolled_back"), 1) << out;
    EXPECT_NE(json.find("rolled back broken-later 1"), std::string::npos) << out;
    EXPECT_EQ(commands_lost(json), 0) << out;
  }
  const auto json = read_text(four_out + "/report.json");
  EXPECT_NE(json.find("works on the whole world (scope world)"), std::string::npos) << json.substr(0, 4000);
  EXPECT_NE(json.find("tick 90: installed wind 2"), std::string::npos);
  EXPECT_NE(json.find("broken_later.so): physics/"), std::string::npos) << "the region it failed in is named";
  EXPECT_NE(json.find("broken-later threw at tick 300: rules broke at a later tick on purpose; back to wind 2"),
            std::string::npos);
  // Every region ran the ticks once each, the one it failed in again.
  for (int i = 0; i < 4; ++i)
    EXPECT_GE(actor_value(json, "physics/" + std::to_string(i), "steps"), 360) << i;
  // A world plugin to start with: refused before the run, with the reason.
  const auto refused = run_command(exe + " run " + four + " --quiet --ticks 10 --rules " + plugin("broken_nan") +
                                   " --out " + dir + "/refused");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("works on the whole world (scope world)"), std::string::npos) << refused.output;
}

TEST(Regions, UpOfRegionsWithStartingBodyRulesGivesTheOneActorHash) {
  // Each region process loads the rules from its node's plugin directory
  // (the config's) and checks they are the build logic tested.
  const auto dir = fresh_dir("regions-up-rules");
  auto starting = [&](const std::string& config) {
    auto text = read_text(config);
    text = std::regex_replace(text, std::regex("plugin_dir = "), "rules = \"" + plugin("wind") + "\"\nplugin_dir = ");
    std::ofstream(config) << text;
    return config;
  };
  const auto one = starting(with_plugins(regions_config(dir, "one.toml", "regions = 1")));
  const auto four = starting(
    with_plugins(regions_config(dir, "four.toml", "regions = 4\nregion_nodes = [\"main\", \"region-node\"]")));
  const auto want = run_ok("run", one, "--ticks 120", dir + "/one").hash;
  const auto up = run_command(exe + " up " + four + " --quiet --ticks 120 --out " + dir + "/up");
  ASSERT_EQ(up.exit_code, 0) << up.output;
  EXPECT_EQ(report_hash(read_text(dir + "/up/report.json")), want);
  EXPECT_NE(want, run_ok("run", regions_config(dir, "plain.toml", "regions = 1"), "--ticks 120", dir + "/plain").hash)
    << "the rules changed nothing";
  EXPECT_NE(read_text(dir + "/up/report.json").find("wind 2 ("), std::string::npos);
}

TEST(Regions, RebalancingByHandAndByItselfMidRunKeepsTheHashAndReplays) {
  const auto dir = fresh_dir("regions-rebalance");
  const auto config = regions_config(dir, "four.toml",
                                     "regions = 4\nregion_nodes = [\"main\", \"region-node\"]\n"
                                     "rebalance = \"auto\"\nrebalance_every = 50\nrebalance_after = 3");
  // By hand too: from where the bodies are, and to given cuts.
  std::ofstream(dir + "/sandbox.timeline", std::ios::app) << "100 rebalance x\n170 rebalance x -4 1 5\n";
  const auto out = dir + "/moved";
  expect_same(run_ok("run", config, ticks, out), "rebalanced");
  const auto json = read_text(out + "/report.json");
  EXPECT_GE(actor_value(json, "logic", "rebalances"), 4); // auto at 50, 100, 150, 200; by hand at 101, 170
  EXPECT_NE(json.find("x at -4 1 5"), std::string::npos) << json.substr(0, 3000);
  EXPECT_NE(read_text(out + "/commands.log").find("rebalance x -4 1 5"), std::string::npos);
  // A replay of the command log moves the cuts the same way and ends the same.
  const auto replay = run_command(exe + " replay " + out + "/commands.log --quiet --out " + dir + "/replay");
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  const auto replayed = read_text(dir + "/replay/report.json");
  EXPECT_EQ(report_hash(replayed), one_actor().hash);
  EXPECT_EQ(actor_value(replayed, "logic", "rebalances"), actor_value(json, "logic", "rebalances"));
}

/// A node of regions-four SIGKILLed mid-run under `troupe up` (realtime, 300
/// ticks, a cut every 30): once the run passed `tick`, `node`'s process is
/// killed; `up` restarts it and the run goes on past `recovered` (a line of
/// its output). What the run left, and the output.
struct Killed {
  Outcome got;
  Outcome want; ///< the one-actor run of the same 300 ticks
  std::string output;
  int pid = -1;
};

Killed kill_during_up(const std::string& dir, const std::string& node, std::uint64_t tick,
                      const std::string& recovered) {
  Killed k;
  const auto config = regions_config(dir, "four.toml", "regions = 4\nregion_nodes = [\"main\", \"region-node\"]");
  k.want = run_ok("run", examples + "sandbox.toml", "--ticks 300", dir + "/one");
  FILE* up = start_up(config, "--realtime --ticks 300 --checkpoint-every 30 --out " + dir + "/up");
  EXPECT_NE(up, nullptr);
  if (!up)
    return k;
  k.pid = kill_mid_run(up, node, tick, k.output);
  EXPECT_GT(k.pid, 0) << k.output;
  EXPECT_TRUE(wait_for(up, recovered, k.output)) << k.output;
  EXPECT_EQ(finish(up, k.output), 0) << k.output;
  EXPECT_NE(k.output.find("node " + node + " (pid " + std::to_string(k.pid) + ") died from SIGKILL; restarting"),
            std::string::npos)
    << k.output;
  k.got = outcome_of(dir + "/up");
  EXPECT_EQ(k.got.hash, k.want.hash);
  EXPECT_TRUE(k.got.frames == k.want.frames) << "recorded frames differ";
  EXPECT_EQ(commands_lost(read_text(dir + "/up/report.json")), 0);
  return k;
}

TEST(Regions, ASigkilledRegionNodeIsBroughtBackToTheLastCutAndTheRunEndsTheSame) {
  const auto dir = fresh_dir("regions-up-sigkill-regions");
  // After tick 120, when the sandbox's first bodies land: the ticks run again have contacts.
  const auto k = kill_during_up(dir, "region-node", 200, "every region goes back to tick");
  EXPECT_EQ(k.got.frames.size(), 5u);
  EXPECT_TRUE(k.got.wav == k.want.wav) << "audio.wav differs"; // audio lives on main, and takes each tick once
  const auto json = read_text(dir + "/up/report.json");
  EXPECT_GE(actor_value(json, "logic", "region_rollbacks"), 1);
  // Ticks run again after the cut published their contacts again: audio took
  // each batch once (as many duplicates as batches run twice; none when the
  // loss came right after a cut).
  EXPECT_EQ(actor_value(json, "audio", "contact_duplicates") > 0, actor_value(json, "logic", "ticks") > 300);
}

TEST(Regions, ASigkilledLogicNodeResumesFromTheLastCutAndTheRunEndsTheSame) {
  const auto dir = fresh_dir("regions-up-sigkill-main");
  kill_during_up(dir, "main", 100, "node main: resuming from");
  // The regions on region-node outlived logic: they were brought back to the cut.
  EXPECT_NE(read_text(dir + "/up/logs/region-node.log").find(": back at tick "), std::string::npos);
}

TEST(Regions, ACutResumesToTheSameWorldAndAnotherRegionCountIsRefused) {
  const auto dir = fresh_dir("regions-resume");
  const auto config = regions_config(dir, "four.toml", "regions = 4\ngrid = [2, 1, 2]");
  const auto whole = run_ok("run", config, "--ticks 240 --checkpoint-every 60", dir + "/whole");
  ASSERT_EQ(whole.hash, one_actor().hash);
  for (const char* piece : {"tick-120.ckpt", "tick-120.region-0.ckpt", "tick-120.region-3.ckpt"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/whole/checkpoints/" + piece)) << piece;
  const auto cut = dir + "/whole/checkpoints/tick-120.ckpt";
  const auto resumed = run_ok("run", config, "--ticks 240 --resume " + cut, dir + "/resumed");
  EXPECT_EQ(resumed.hash, whole.hash);
  EXPECT_TRUE(resumed.frames == decltype(whole.frames)(std::next(whole.frames.begin(), 2), whole.frames.end()));
  const auto other = regions_config(dir, "two.toml", "regions = 2");
  const auto refused = run_command(exe + " run " + other + " --quiet --resume " + cut + " --out " + dir + "/refused");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("a cut of 4 regions cannot run with regions = 2"), std::string::npos)
    << refused.output;
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
