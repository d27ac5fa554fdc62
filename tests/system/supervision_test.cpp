// Supervision from outside: the real executable with real failures injected
// (exceptions out of handlers) gives the same world as an undisturbed run.

#include "common/process.hpp"

#include <gtest/gtest.h>

namespace troupe {
namespace {

using namespace troupe::testing;

const std::string sandbox = examples + "sandbox.toml";

std::string run_json(const std::string& args, const std::string& out, int expected_exit = 0) {
  auto r = run_command(exe + " run " + sandbox + " --quiet --out " + out + " " + args);
  EXPECT_EQ(r.exit_code, expected_exit) << r.output;
  return read_text(out + "/report.json");
}

TEST(Supervision, ChaosRunRestartsOftenAndEndsWithTheUndisturbedHash) {
  const auto calm_out = fresh_dir("chaos-calm");
  const auto calm = run_json("--ticks 3000", calm_out);
  const auto chaos_out = fresh_dir("chaos");
  // Many failures in a few seconds, in every subsystem: more than the default
  // intensity allows.
  const auto chaos = run_json("--ticks 3000 --max-restarts 1000 "
                              "--chaos physics=0.01,logic=0.005,render=0.01,audio=0.01,observer=0.01,input=0.003",
                              chaos_out);
  EXPECT_EQ(report_hash(chaos), report_hash(calm));
  EXPECT_GE(actor_value(chaos, "supervisor@main", "restarts"), 50);
  for (const auto* name : {"physics", "logic", "render", "audio", "observer"})
    EXPECT_GT(actor_value(chaos, "supervisor@main", std::string("restarts_") + name), 0) << name;
  EXPECT_EQ(commands_lost(chaos), 0);
  EXPECT_EQ(actor_value(chaos, "input", "commands_sent"), actor_value(calm, "input", "commands_sent"));
  // Render resumed each time with nothing lost: every recorded frame is there
  // and the same image; audio's file lasts the whole run.
  expect_same_frames(chaos_out, calm_out, 50); // one each 60 ticks
  EXPECT_EQ(std::filesystem::file_size(chaos_out + "/audio.wav"), std::filesystem::file_size(calm_out + "/audio.wav"));
  // The report draws the restarts on a time line, a row per child.
  const auto html = read_text(chaos_out + "/report.html");
  EXPECT_NE(html.find("supervisor@main: restart timeline"), std::string::npos);
  EXPECT_NE(html.find("<title>render at "), std::string::npos);
}

TEST(Supervision, KilledPhysicsIsRestartedAndTheRunGoesOn) {
  const auto calm = run_json("--ticks 300", fresh_dir("kill-calm"));
  const auto killed = run_json("--ticks 300 --kill physics@120", fresh_dir("kill"));
  EXPECT_EQ(report_hash(killed), report_hash(calm));
  EXPECT_EQ(actor_value(killed, "supervisor@main", "restarts_physics"), 1);
  EXPECT_GE(actor_value(killed, "logic", "step_retries"), 1);
}

TEST(Supervision, ExceededIntensityExitsThreeNamingTheActor) {
  const auto out = fresh_dir("escalate");
  auto r = run_command(exe + " run " + sandbox + " --quiet --ticks 300 --chaos physics=1 --out " + out);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("physics exceeded the restart intensity"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("chaos: injected failure in physics"), std::string::npos) << r.output;
}

TEST(Supervision, UnknownActorInChaosIsABadArgument) {
  auto r = run_command(exe + " run " + sandbox + " --chaos nosuch=0.1 --out " + fresh_dir("bad-chaos"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no actor named \"nosuch\""), std::string::npos) << r.output;
}

} // namespace
} // namespace troupe
