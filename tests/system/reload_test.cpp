// Hot reload of logic rules from outside: the real executable, real plugin
// files (built by CMake under plugins/), replaced while a realtime run goes
// on (--watch) or named by `reload PATH` commands in a timeline.

#include "common/process.hpp"

#include <gtest/gtest.h>

#include <cstdio>

namespace troupe {
namespace {

using namespace troupe::testing;

std::string plugin(const std::string& name) { return std::string(TROUPE_PLUGIN_DIR) + "/" + name + ".so"; }

/// Replaces `path` in one step (a rename), as a build that finished would.
void install_file(const std::string& from, const std::string& path) {
  std::filesystem::copy_file(from, path + ".new", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(path + ".new", path);
}

/// The sandbox with its own timeline (`lines`) and the other actors it needs.
std::string sandbox_with_timeline(const std::string& dir, const std::string& lines) {
  const auto timeline = dir + "/reloads.timeline";
  std::ofstream(timeline) << lines;
  auto text = read_text(examples + "sandbox.toml");
  text = std::regex_replace(text, std::regex("timeline = \"sandbox.timeline\""), "timeline = \"" + timeline + "\"");
  // The built sample plugins are the ones this run trusts.
  text = std::regex_replace(text, std::regex("\\[actors\\.logic\\]\n"),
                            "[actors.logic]\nplugin_dir = \"" + std::string(TROUPE_PLUGIN_DIR) + "\"\n");
  const auto path = dir + "/sandbox-reloads.toml";
  std::ofstream(path) << text;
  return path;
}

TEST(RulesReload, WatchedPluginIsReplacedRejectedAndRolledBackWhileRunning) {
  const auto out = fresh_dir("reload-watch");
  const auto rules = out + "/rules.so";
  install_file(plugin("drag"), rules);
  const auto command = exe + " run " + examples + "sandbox.toml --quiet --realtime --ticks 720 --rules " + rules +
                       " --watch --out " + out + " 2>&1";
  FILE* troupe = ::popen(command.c_str(), "r");
  ASSERT_NE(troupe, nullptr);
  std::string output;
  ASSERT_TRUE(wait_for(troupe, "for new builds of the rules", output)) << output;
  // B replaces A: installed, the run goes on from where it was.
  install_file(plugin("wind"), rules);
  ASSERT_TRUE(wait_for(troupe, "logic: rules installed at tick", output)) << output;
  EXPECT_NE(output.find(": wind 2 ("), std::string::npos) << output;
  // A broken build is refused with its reason; B keeps running.
  install_file(plugin("broken_nan"), rules);
  ASSERT_TRUE(wait_for(troupe, "logic: rules rejected at tick", output)) << output;
  EXPECT_NE(output.find("is no longer finite"), std::string::npos) << output;
  // One that passes its smoke test and fails later is rolled back to B.
  install_file(plugin("broken_later"), rules);
  ASSERT_TRUE(wait_for(troupe, "logic: rules rolled back at tick 300", output)) << output;
  EXPECT_NE(output.find("back to wind 2"), std::string::npos) << output;
  char line[2048];
  while (std::fgets(line, sizeof line, troupe))
    output += line;
  const int status = ::pclose(troupe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  const auto json = read_text(out + "/report.json");
  EXPECT_EQ(parse_report(json).value("ticks", 0), 720); // no reset: the ticks went on
  EXPECT_EQ(actor_value(json, "logic", "rules_installed"), 2);
  EXPECT_EQ(actor_value(json, "logic", "rules_rejected"), 1);
  EXPECT_EQ(actor_value(json, "logic", "rules_rolled_back"), 1);
  EXPECT_GE(actor_value(json, "supervisor@main", "restarts_logic"), 1);
  EXPECT_EQ(report_actor(parse_report(json), "logic")["notes"].value("rules", "").rfind("wind 2 (", 0), 0u) << json;
  EXPECT_NE(json.find("rolled back broken-later 1"), std::string::npos) << json;
  EXPECT_EQ(commands_lost(json), 0);
}

TEST(RulesReload, EveryBrokenPluginIsRejectedWithItsReasonAndTheRunGoesOn) {
  const auto out = fresh_dir("reload-broken");
  const auto config = sandbox_with_timeline(out, "10 reload " + plugin("broken_abi") + "\n" +
                                                     "50 reload " + plugin("broken_missing_symbol") + "\n" +
                                                     "90 reload " + plugin("broken_throws") + "\n" +
                                                     "130 reload " + plugin("broken_nan") + "\n" +
                                                     "170 reload " + out + "/no-such-plugin.so\n");
  auto r = run_command(exe + " run " + config + " --quiet --ticks 300 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto* reason : {"built for rules ABI 100", "no troupe_rules_v1 symbol", "rules exploded on purpose",
                             "is no longer finite", "no such file"})
    EXPECT_NE(r.output.find(reason), std::string::npos) << reason << "\n" << r.output;
  const auto json = read_text(out + "/report.json");
  EXPECT_EQ(actor_value(json, "logic", "rules_rejected"), 5);
  // Nothing was installed: the world is the one the built-in rules make.
  const auto plain_out = fresh_dir("reload-broken-plain");
  auto plain = run_command(exe + " run " + sandbox_with_timeline(plain_out, "") + " --quiet --ticks 300 --out " +
                           plain_out);
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_EQ(report_hash(json), report_hash(read_text(plain_out + "/report.json")));
}

TEST(RulesReload, AReloadInATimelineIsDeterministicAndReplays) {
  const auto one = fresh_dir("reload-timeline-1");
  const auto two = fresh_dir("reload-timeline-2");
  const auto lines = "40 reload " + plugin("wind") + "\n";
  const auto first = run_command(exe + " run " + sandbox_with_timeline(one, lines) + " --quiet --ticks 240 --out " + one);
  const auto second = run_command(exe + " run " + sandbox_with_timeline(two, lines) + " --quiet --ticks 240 --out " + two);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(second.exit_code, 0) << second.output;
  // Asked at tick 40, installed install_after_ticks (30) later, whatever the timing.
  EXPECT_NE(first.output.find("logic: rules installed at tick 70: wind 2"), std::string::npos) << first.output;
  const auto hash = report_hash(read_text(one + "/report.json"));
  EXPECT_EQ(hash, report_hash(read_text(two + "/report.json")));
  const auto replayed = fresh_dir("reload-timeline-replay");
  auto replay = run_command(exe + " replay " + one + "/commands.log --quiet --out " + replayed);
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  EXPECT_EQ(report_hash(read_text(replayed + "/report.json")), hash);
}

TEST(RulesReload, ABrokenStartingPluginIsABadArgument) {
  const auto out = fresh_dir("reload-bad-start");
  auto r = run_command(exe + " run " + examples + "sandbox.toml --quiet --ticks 60 --rules " + plugin("broken_nan") +
                       " --out " + out);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is no longer finite"), std::string::npos) << r.output;
  auto watch = run_command(exe + " run " + examples + "sandbox.toml --quiet --ticks 60 --watch --out " + out);
  EXPECT_EQ(watch.exit_code, 2) << watch.output;
  EXPECT_NE(watch.output.find("--watch: no rules plugin to watch"), std::string::npos) << watch.output;
}

} // namespace
} // namespace troupe
