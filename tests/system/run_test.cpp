// System tests: the real troupe executable, real actor systems, real TCP
// between nodes on 127.0.0.1. Each test gets its own output folder.

#include "common/process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>

namespace troupe {
namespace {

using namespace troupe::testing;


/// Runs `troupe run CONFIG ARGS --out DIR` and returns the world hash it reported.
std::string run_hash(const std::string& config, const std::string& args, const std::string& out) {
  auto r = run_command(exe + " run " + examples + config + " --quiet --out " + out + " " + args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto hash = report_hash(read_text(out + "/report.json"));
  EXPECT_FALSE(hash.empty()) << r.output;
  return hash;
}

TEST(TroupeRun, SandboxWritesReportsAndAHash) {
  const auto out = fresh_dir("sandbox");
  auto r = run_command(exe + " run " + examples + "sandbox.toml --ticks 120 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("world hash 0x"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tick 120/120"), std::string::npos) << "progress line missing:\n" << r.output;
  const auto json = read_text(out + "/report.json");
  EXPECT_FALSE(report_hash(json).empty());
  EXPECT_EQ(parse_report(json)["tick_ms"].value("count", 0), 120) << json.substr(0, 2000);
  EXPECT_EQ(actor_value(json, "logic", "ticks"), 120);
  EXPECT_GT(actor_value(json, "observer", "snapshots_seen"), 0);
  EXPECT_EQ(actor_value(json, "observer", "out_of_order"), 0);
  // Logic hands each tick's world to physics, which steps it in place: one
  // copy of the world per tick in a process (sim/advance.hpp).
  EXPECT_EQ(actor_value(json, "physics", "steps"), 120);
  EXPECT_EQ(actor_value(json, "physics", "world_copies"), 0);
  // Readers get the topics they subscribed to, and no others: render takes
  // no contacts, audio no rules events, the observer all three.
  EXPECT_EQ(actor_value(json, "render", "contact_batches"), 0);
  EXPECT_EQ(actor_value(json, "render", "rules_events"), 0);
  EXPECT_GT(actor_value(json, "audio", "contact_batches"), 0);
  EXPECT_GT(actor_value(json, "observer", "contact_batches"), 0);
  const auto html = read_text(out + "/report.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(read_text(out + "/commands.log").find("# troupe command log 1"), std::string::npos);
}

TEST(TroupeRun, SameHashForOneAndTwoThreads) {
  EXPECT_EQ(run_hash("sandbox.toml", "--ticks 240 --threads 1", fresh_dir("threads1")),
            run_hash("sandbox.toml", "--ticks 240 --threads 2", fresh_dir("threads2")));
}

TEST(TroupeRun, SameHashForTwoIdenticalRuns) {
  EXPECT_EQ(run_hash("sandbox.toml", "--ticks 200", fresh_dir("twice1")),
            run_hash("sandbox.toml", "--ticks 200", fresh_dir("twice2")));
}

TEST(TroupeRun, SameHashOnOneNodeAndOnTwoNodes) {
  const auto out = fresh_dir("two-nodes");
  const auto two = run_hash("sandbox-two-nodes.toml", "--ticks 240", out);
  EXPECT_EQ(run_hash("sandbox.toml", "--ticks 240", fresh_dir("one-node")), two);
  // Physics really ran on the second node: its report names it.
  const auto json = read_text(out + "/report.json");
  EXPECT_TRUE(has_actor_on(json, "physics", "physics-node"));
}

TEST(TroupeRun, RealtimeModeGivesTheBatchHash) {
  EXPECT_EQ(run_hash("sandbox.toml", "--ticks 60 --realtime", fresh_dir("realtime")),
            run_hash("sandbox.toml", "--ticks 60 --batch", fresh_dir("batch")));
}

// The demo's render opens its device and draws a first frame before it
// subscribes (about 200 ms on lavapipe here): that wait comes before the
// realtime schedule, so the first ticks are not run back to back to catch up
// with it (they used to be: 10-12 ticks a period or more late, and the
// snapshot hand-offs among them the run's slowest). A tick of this small world
// takes about a millisecond of a 16.7 ms period: a few late ones leave room
// for a loaded machine.
TEST(TroupeRun, TheRealtimeScheduleStartsWhenTheFirstTickCanRun) {
  const auto out = fresh_dir("realtime-schedule");
  run_hash("sandbox.toml", "--ticks 60 --realtime", out);
  const auto behind = actor_value(read_text(out + "/report.json"), "logic", "ticks_behind");
  EXPECT_GE(behind, 0);
  EXPECT_LT(behind, 4);
}

TEST(TroupeReplay, CommandLogReplaysToTheSameHash) {
  const auto out = fresh_dir("replay-source");
  const auto original = run_hash("sandbox.toml", "--ticks 400", out);
  const auto replay_out = fresh_dir("replay");
  auto r = run_command(exe + " replay " + out + "/commands.log --quiet --out " + replay_out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(report_hash(read_text(replay_out + "/report.json")), original);
  // The log holds every applied command: the replay applied the same number.
  EXPECT_EQ(actor_value(read_text(replay_out + "/report.json"), "logic", "commands_applied"),
            actor_value(read_text(out + "/report.json"), "logic", "commands_applied"));
}

TEST(TroupeRun, ResumeFromAMidRunCheckpointGivesTheSameHash) {
  const auto full_out = fresh_dir("resume-full");
  const auto full = run_hash("sandbox.toml", "--ticks 300 --checkpoint-every 150", full_out);
  const auto checkpoint = full_out + "/checkpoints/tick-150.ckpt";
  ASSERT_TRUE(std::filesystem::exists(checkpoint));
  const auto resumed_out = fresh_dir("resume-resumed");
  EXPECT_EQ(run_hash("sandbox.toml", "--ticks 300 --resume " + checkpoint, resumed_out), full);
}

TEST(TroupeRun, ADamagedCheckpointIsRefusedWithExitTwoAndOneLineNamingIt) {
  const auto out = fresh_dir("resume-damaged");
  run_hash("sandbox.toml", "--ticks 60 --checkpoint-every 60", out + "/full");
  const auto checkpoint = out + "/full/checkpoints/tick-60.ckpt";
  std::ifstream in(checkpoint, std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  ASSERT_GT(bytes.size(), 1000u);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 40; ++i) {
    auto copy = bytes;
    if (i % 3 == 0)
      copy[rng() % copy.size()] ^= 0x10;
    else if (i % 3 == 1)
      copy.resize(rng() % copy.size());
    else
      copy[rng() % 40] ^= static_cast<char>(1 + rng() % 255);
    const auto damaged = out + "/damaged-" + std::to_string(i) + ".ckpt";
    std::ofstream(damaged, std::ios::binary).write(copy.data(), static_cast<std::streamsize>(copy.size()));
    const auto r = run_command(exe + " run " + examples + "sandbox.toml --quiet --ticks 120 --resume " + damaged +
                               " --out " + out + "/run-" + std::to_string(i));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(r.output.rfind("troupe: " + damaged + ": ", 0), 0u) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

TEST(TroupeRun, BurstIntoADropOldestMailboxLosesNoCommand) {
  const auto out = fresh_dir("burst");
  run_hash("burst.toml", "", out);
  const auto json = read_text(out + "/report.json");
  EXPECT_EQ(actor_value(json, "input", "input_events_sent"), 100000);
  EXPECT_GT(actor_value(json, "logic", "dropped"), 0);
  EXPECT_LE(actor_value(json, "logic", "high_water"), 256);
  EXPECT_EQ(actor_value(json, "logic", "capacity"), 256);
  const auto sent = actor_value(json, "input", "commands_sent");
  EXPECT_GT(sent, 0);
  EXPECT_EQ(actor_value(json, "logic", "commands_applied"), sent);
  EXPECT_EQ(commands_lost(json), 0);
}

TEST(TroupeCheck, PrintsTheResolvedTopology) {
  auto r = run_command(exe + " check " + examples + "sandbox-two-nodes.toml");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("physics-node"), std::string::npos) << r.output;
}

TEST(TroupeCheck, BrokenConfigExitsTwoWithFileLineAndKey) {
  const auto dir = fresh_dir("broken-config");
  const auto path = dir + "/broken.toml";
  std::ofstream(path) << "[simulation]\nticks = 10\n\n[[nodes]]\nname = \"main\"\n\n"
                         "[actors.logic]\n[actors.input]\n[actors.physics]\nsubsteps = \"four\"\n";
  for (const auto* command : {"check", "run"}) {
    auto r = run_command(exe + " " + command + " " + path);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(path + ":10:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("actors.physics.substeps"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

TEST(TroupeRun, MissingCheckpointIsAClearErrorNotACrash) {
  auto r = run_command(exe + " run " + examples + "sandbox.toml --quiet --resume /nonexistent.ckpt --out " +
                       fresh_dir("bad-resume"));
  // A checkpoint that cannot be read is bad input, like a bad config: exit 2
  // (issue 14: refused files exit 2 with one line naming the file).
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent.ckpt"), std::string::npos) << r.output;
}

} // namespace
} // namespace troupe
