// The installed package, seen from outside: `cmake --install` into a fresh
// prefix, separate CMake projects that only do find_package(troupe), an
// application's own kind and scenario in real runs, and the Debian package.

#include "common/net.hpp"
#include "common/process.hpp"

#include <troupe/sim/advance.hpp>
#include <troupe/sim/scenario.hpp>

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

namespace troupe {
namespace {

using namespace troupe::testing;

const std::string source_dir = TROUPE_SOURCE_DIR;
const std::string binary_dir = TROUPE_BINARY_DIR;

/// `cmake --install` of this build tree into a fresh prefix of this test's
/// own (CTest runs tests in parallel processes).
std::string install_prefix(const std::string& name) {
  const auto dir = fresh_dir("install-" + name);
  const auto r = run_command("cmake --install " + binary_dir + " --prefix " + dir, 300);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return dir;
}

/// Configures and builds the project in examples/NAME against a fresh install.
std::string build_example(const std::string& name) {
  const auto prefix = install_prefix(name);
  const auto build = fresh_dir("example-" + name);
  const auto ccache = run_command("command -v ccache").exit_code == 0 ? " -DCMAKE_CXX_COMPILER_LAUNCHER=ccache" : "";
  auto r = run_command("cmake -S " + source_dir + "/examples/" + name + " -B " + build +
                         " -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH=" + prefix + ccache,
                       300);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_command("cmake --build " + build + " -j2", 600);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return build;
}

TEST(Package, InstallHoldsTheLibrariesHeadersExecutablePluginsAndConfig) {
  const auto prefix = install_prefix("files");
  for (const auto* file : {"bin/troupe", "include/troupe/actors/subsystem.hpp", "include/troupe/actors/reader.hpp",
                           "include/troupe/sim/advance.hpp", "include/troupe/cli.hpp", "include/troupe/error.hpp"})
    EXPECT_TRUE(std::filesystem::exists(prefix + "/" + file)) << file;
  const auto config = run_command("find " + prefix + " -name troupeConfig.cmake -o -name troupeConfigVersion.cmake "
                                  "-o -name FindCAF.cmake -o -name drag.so -o -name libtroupe_actors.a");
  for (const auto* file : {"troupeConfig.cmake", "troupeConfigVersion.cmake", "FindCAF.cmake", "drag.so",
                           "libtroupe_actors.a"})
    EXPECT_NE(config.output.find(file), std::string::npos) << file << "\n" << config.output;
  // The installed executable runs on its own.
  const auto check = run_command(prefix + "/bin/troupe check " + examples + "sandbox.toml");
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST(Package, TroupeSimAloneBuildsWithOnlyTbbAndGivesTheInTreeHash) {
  const auto build = build_example("sim-only");
  const auto r = run_command(build + "/sim-only");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The same tick in this tree's sim/ gives the same bits.
  auto world = sim::make_scenario({"sandbox", 500, 3, 60.0});
  std::vector<sim::ContactEvent> events;
  for (int t = 0; t < 120; ++t) {
    events.clear();
    ASSERT_TRUE(sim::advance(world, {}, nullptr, {}, sim::Parallel::sequential(), events));
  }
  char expected[64];
  std::snprintf(expected, sizeof expected, "world hash 0x%016llx",
                static_cast<unsigned long long>(sim::world_hash(world)));
  EXPECT_NE(r.output.find(expected), std::string::npos) << r.output << "expected " << expected;
}

/// census.csv as rows: tick -> tag -> count.
std::map<std::uint64_t, std::map<std::uint64_t, std::uint64_t>> census_rows(const std::string& csv) {
  std::map<std::uint64_t, std::map<std::uint64_t, std::uint64_t>> rows;
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "tick,tag,count,mean_height");
  static const std::regex row("([0-9]+),([0-9]+),([0-9]+),(-?[0-9]+\\.[0-9]{4})");
  for (std::smatch m; std::getline(lines, line);) {
    EXPECT_TRUE(std::regex_match(line, m, row)) << line;
    if (!m.empty())
      rows[std::stoull(m[1])][std::stoull(m[2])] = std::stoull(m[3]);
  }
  return rows;
}

TEST(Package, AnOutOfTreeKindAndScenarioRunOnOneNodeAndTwoWithOneHash) {
  const auto build = build_example("custom-subsystem");
  const auto sim_exe = build + "/census-sim";
  const auto dir = source_dir + "/examples/custom-subsystem/";

  // troupe check prints the kind's own line.
  auto r = run_command(sim_exe + " check " + dir + "census.toml");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("kind census"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("census of body tags every 30 ticks into OUT/census.csv"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("scenario rings"), std::string::npos) << r.output;

  // A bad key in the kind's table: exit 2 and one FILE:LINE:COL: KEY: MESSAGE line.
  const auto bad_dir = fresh_dir("census-bad");
  std::ofstream(bad_dir + "/bad.toml") << "[[nodes]]\nname = \"main\"\n[actors.physics]\n[actors.logic]\n"
                                          "[actors.input]\n[actors.census]\nevry = 10\n";
  r = run_command(sim_exe + " check " + bad_dir + "/bad.toml");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "troupe: " + bad_dir + "/bad.toml:7:1: actors.census.evry: unknown key (did you mean every?); "
                      "expected one of kind, node, mailbox, restart, shutdown_timeout_ms, every or file\n");

  // One node, then the census on a second node: one hash, one file.
  const auto one = fresh_dir("census-one"), two = fresh_dir("census-two");
  r = run_command(sim_exe + " run " + dir + "census.toml --quiet --out " + one);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("census: 32 rows in " + one + "/census.csv"), std::string::npos) << r.output;
  r = run_command(sim_exe + " run " + dir + "census-two-nodes.toml --quiet --out " + two);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto one_json = read_text(one + "/report.json"), two_json = read_text(two + "/report.json");
  ASSERT_FALSE(report_hash(one_json).empty());
  EXPECT_EQ(report_hash(one_json), report_hash(two_json));
  EXPECT_TRUE(has_actor_on(two_json, "census", "side"));
  const auto csv = read_text(one + "/census.csv");
  EXPECT_EQ(csv, read_text(two + "/census.csv"));

  // The file is right: a row per tag (1..4, from the scenario's user data)
  // every 30 ticks, and every body counted.
  const auto rows = census_rows(csv);
  ASSERT_EQ(rows.size(), 8u);
  std::uint64_t tick = 30;
  for (const auto& [at, tags] : rows) {
    EXPECT_EQ(at, tick);
    tick += 30;
    ASSERT_EQ(tags.size(), 4u) << "tick " << at;
    std::uint64_t total = 0;
    for (const auto& [tag, count] : tags) {
      EXPECT_GE(tag, 1u);
      EXPECT_LE(tag, 4u);
      total += count;
    }
    EXPECT_EQ(total, 400u) << "tick " << at;
  }
  EXPECT_EQ(actor_value(one_json, "census", "rows"), 32);

  // The application's executable is troupe's command line: `up` starts its
  // nodes as processes of the same executable, census and all.
  const auto up = fresh_dir("census-up");
  std::string text = read_text(dir + "census-two-nodes.toml");
  for (const char* node : {"name = \"main\"\n", "name = \"side\"\n"})
    text.replace(text.find(node), std::string(node).size(),
                 std::string(node) + "port = " + std::to_string(free_port()) + "\n");
  std::ofstream(up + "/census-up.toml") << text;
  r = run_command(sim_exe + " up " + up + "/census-up.toml --quiet --out " + up);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(report_hash(read_text(up + "/report.json")), report_hash(one_json));
  EXPECT_EQ(read_text(up + "/census.csv"), csv);

  // The application's body rules, a plugin built against the install: the
  // rings drift apart, the same in one physics actor and in three regions.
  const auto drift = build + "/tag_drift.so";
  const auto ruled = fresh_dir("census-drift"), parts = fresh_dir("census-drift-regions");
  r = run_command(sim_exe + " run " + dir + "census.toml --quiet --rules " + drift + " --out " + ruled);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ruled_json = read_text(ruled + "/report.json");
  EXPECT_NE(report_hash(ruled_json), report_hash(one_json)) << "the rules changed nothing";
  EXPECT_NE(ruled_json.find("tag-drift 1 ("), std::string::npos);
  text = read_text(dir + "census.toml");
  text.replace(text.find("[actors.physics]\n"), std::string("[actors.physics]\n").size(),
               "[actors.physics]\nregions = 3\n");
  std::ofstream(parts + "/census-regions.toml") << text;
  r = run_command(sim_exe + " run " + parts + "/census-regions.toml --quiet --rules " + drift + " --out " + parts);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(report_hash(read_text(parts + "/report.json")), report_hash(ruled_json));
  EXPECT_EQ(read_text(parts + "/census.csv"), read_text(ruled + "/census.csv"));
}

TEST(Package, MakePackageGivesADebianPackageWithItsDependencies) {
  const auto out = fresh_dir("deb");
  auto r = run_command("cpack -G DEB --config " + binary_dir + "/CPackConfig.cmake -B " + out, 600);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command("ls " + out + "/*.deb");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto deb = r.output.substr(0, r.output.find('\n'));
  r = run_command("dpkg-deb -f " + deb + " Package Version Depends");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Package: troupe"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("libcaf-dev"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("libtbb-dev"), std::string::npos) << r.output;
  r = run_command("dpkg-deb -c " + deb);
  EXPECT_NE(r.output.find("./usr/bin/troupe"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("troupeConfig.cmake"), std::string::npos) << r.output;
}

} // namespace
} // namespace troupe
