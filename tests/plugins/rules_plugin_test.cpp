// The rules plugin host: loading real shared libraries built by CMake (the
// samples and the broken ones), refusing the bad ones with their reason, and
// smoke-testing a candidate on a copy of the world.

#include <troupe/plugins/rules_plugin.hpp>
#include <troupe/sim/scenario.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <span>

namespace troupe::plugins {
namespace {

const std::string plugin_dir = TROUPE_PLUGIN_DIR;

std::string sample(const std::string& name) { return plugin_dir + "/" + name + ".so"; }

RulesPlugin load_ok(const std::string& name) {
  auto loaded = RulesPlugin::load(sample(name), plugin_dir);
  if (!loaded)
    throw std::runtime_error(loaded.error().to_string());
  return std::move(*loaded);
}

std::string load_error(const std::string& path, const std::string& dir = plugin_dir) {
  auto loaded = RulesPlugin::load(path, dir);
  if (loaded)
    return "loaded";
  EXPECT_EQ(loaded.error().code, errc::bad_plugin);
  return loaded.error().to_string();
}

sim::World sandbox() { return sim::make_scenario({"sandbox", 300, 7, 60.0}); }

TEST(RulesPlugin, SamplesLoadAndChangeTheWorld) {
  const auto wind = load_ok("wind");
  EXPECT_EQ(wind.name(), "wind");
  EXPECT_EQ(wind.version(), "2");
  EXPECT_EQ(wind.scope(), RulesScope::body);
  EXPECT_EQ(wind.max_speedup(), 0.5f);
  auto world = sandbox();
  const auto before = sim::world_hash(world);
  EXPECT_TRUE(wind.step(world));
  EXPECT_NE(sim::world_hash(world), before);
  const auto drag = load_ok("drag");
  EXPECT_EQ(drag.name(), "drag");
  EXPECT_EQ(drag.max_speedup(), 0.f);
  EXPECT_EQ(load_ok("broken_throws").scope(), RulesScope::world);
  // The digest names the build: the same file twice, the same; another, not.
  EXPECT_EQ(load_ok("wind").digest(), wind.digest());
  EXPECT_NE(drag.digest(), wind.digest());
}

TEST(RulesPlugin, BodyRulesGiveEachBodyTheSameResultInAnyBatch) {
  const auto wind = load_ok("wind");
  auto whole = sandbox(), split = sandbox();
  whole.tick = split.tick = 130; // the other gust
  ASSERT_TRUE(wind.step(whole));
  const std::size_t half = split.size() / 3;
  std::span<sim::Body> bodies(split.bodies);
  std::span<sim::BodyInfo> infos(split.infos);
  ASSERT_TRUE(wind.step_bodies(split, split.tick, bodies.subspan(half), infos.subspan(half)));
  ASSERT_TRUE(wind.step_bodies(split, split.tick, bodies.first(half), infos.first(half)));
  ASSERT_TRUE(wind.step_bodies(split, split.tick, {}, {})); // none at all is a batch too
  EXPECT_EQ(sim::world_hash(whole), sim::world_hash(split));
  // A world plugin is no body rule.
  auto world = sandbox();
  const auto refused = load_ok("broken_throws").step_bodies(world, 0, world.bodies, world.infos);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("scope world"), std::string::npos) << refused.error().message;
}

TEST(RulesPlugin, BodyRulesThatReadOtherBodiesOrBreakTheirBoundAreRefused) {
  const auto world = sandbox();
  const auto local = smoke_test(load_ok("broken_local"), world, SmokeTest{});
  ASSERT_FALSE(local);
  EXPECT_NE(local.error().message.find("otherwise when it is handed alone than with the other bodies"),
            std::string::npos)
    << local.error().message;
  const auto fast = smoke_test(load_ok("broken_speedup"), world, SmokeTest{});
  ASSERT_FALSE(fast);
  EXPECT_NE(fast.error().message.find("broke its body contract at tick 0"), std::string::npos) << fast.error().message;
  EXPECT_NE(fast.error().message.find("more than the 0.000000 m/s it declares (max_speedup)"), std::string::npos)
    << fast.error().message;
  // Running, not only in the smoke test: the step fails on the body it broke.
  auto w = sandbox();
  const auto stepped = load_ok("broken_speedup").step(w);
  ASSERT_FALSE(stepped);
  EXPECT_NE(stepped.error().message.find("sped up by"), std::string::npos) << stepped.error().message;
}

TEST(RulesPlugin, SameRulesSameWorld) {
  // Two loads of one file are two private copies with the same code.
  const auto a = load_ok("wind");
  const auto b = load_ok("wind");
  auto x = sandbox(), y = sandbox();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(a.step(x));
    ASSERT_TRUE(b.step(y));
    ++x.tick, ++y.tick;
  }
  EXPECT_EQ(sim::world_hash(x), sim::world_hash(y));
}

TEST(RulesPlugin, BrokenPluginsAreRefusedWithTheirReason) {
  EXPECT_NE(load_error(sample("broken_abi")).find("built for rules ABI 100, this troupe speaks 2"), std::string::npos)
      << load_error(sample("broken_abi"));
  EXPECT_NE(load_error(sample("broken_missing_symbol")).find("no troupe_rules_v1 symbol"), std::string::npos)
      << load_error(sample("broken_missing_symbol"));
  EXPECT_NE(load_error(sample("no_such_plugin")).find("no such file"), std::string::npos);
  // Not a shared library at all (in a folder of the test's own, trusted).
  const auto junk_dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / "junk-plugins";
  std::filesystem::create_directories(junk_dir);
  std::filesystem::permissions(junk_dir, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                           std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                           std::filesystem::perms::others_exec);
  const auto junk = junk_dir / "junk.so";
  std::ofstream(junk) << "not an ELF file";
  EXPECT_NE(load_error(junk.string(), junk_dir.string()).find("not a loadable shared library"), std::string::npos)
      << load_error(junk.string(), junk_dir.string());
}

/// A folder of the test's own with a copy of the plugin whose constructor
/// writes a marker file when it is loaded (broken_constructor).
struct Untrusted {
  // One folder per test: CTest runs them in parallel.
  std::filesystem::path dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" /
                              (std::string("untrusted-") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::path marker = dir / "constructor-ran";
  std::filesystem::path copy = dir / "evil.so";
  Untrusted() {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(sample("broken_constructor"), copy);
    ::setenv("TROUPE_TEST_MARKER", marker.c_str(), 1);
  }
};

TEST(RulesPlugin, APluginOutsideThePluginDirectoryIsRefusedBeforeItIsOpened) {
  Untrusted evil;
  const auto error = load_error(evil.copy.string()); // the trusted folder is the build's plugins/
  EXPECT_NE(error.find("outside the plugin directory"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(evil.marker)) << "its code ran";
  // A symbolic link inside the folder that leads out of it is outside too.
  const auto link = std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / "linked-plugins";
  std::filesystem::remove_all(link);
  std::filesystem::create_directories(link);
  std::filesystem::create_symlink(evil.copy, link / "innocent.so");
  EXPECT_NE(load_error((link / "innocent.so").string(), link.string()).find("outside the plugin directory"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(evil.marker));
  EXPECT_NE(load_error(sample("wind"), "").find("no plugin directory"), std::string::npos);
}

TEST(RulesPlugin, APluginAnotherUserCouldHaveWrittenIsRefused) {
  Untrusted evil;
  using std::filesystem::perms;
  std::filesystem::permissions(evil.dir, perms::owner_all | perms::group_read | perms::group_exec |
                                           perms::others_read | perms::others_exec);
  std::filesystem::permissions(evil.copy, perms::group_write, std::filesystem::perm_options::add);
  auto error = load_error(evil.copy.string(), evil.dir.string());
  EXPECT_NE(error.find("another user could have written it"), std::string::npos) << error;
  std::filesystem::permissions(evil.copy, perms::group_write, std::filesystem::perm_options::remove);
  std::filesystem::permissions(evil.dir, perms::others_write, std::filesystem::perm_options::add);
  error = load_error(evil.copy.string(), evil.dir.string());
  EXPECT_NE(error.find("another user could write into"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(evil.marker));
  // Trusted, the same file loads (and its constructor runs: that is what
  // loading a library means).
  std::filesystem::permissions(evil.dir, perms::others_write, std::filesystem::perm_options::remove);
  EXPECT_NE(load_error(evil.copy.string(), evil.dir.string()).find("no troupe_rules_v1 symbol"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(evil.marker));
}

TEST(RulesPlugin, SmokeTestCatchesThrowsAndNaNs) {
  const auto world = sandbox();
  const SmokeTest test;
  auto thrower = load_ok("broken_throws");
  const auto threw = smoke_test(thrower, world, test);
  ASSERT_FALSE(threw);
  EXPECT_NE(threw.error().message.find("broken-throws threw at tick 0: rules exploded on purpose"), std::string::npos)
    << threw.error().message;
  auto nan = load_ok("broken_nan");
  const auto not_finite = smoke_test(nan, world, test);
  ASSERT_FALSE(not_finite);
  EXPECT_NE(not_finite.error().message.find("is no longer finite"), std::string::npos) << not_finite.error().message;
  EXPECT_TRUE(smoke_test(load_ok("wind"), world, test));
  EXPECT_TRUE(smoke_test(load_ok("drag"), world, test));
}

TEST(RulesPlugin, SmokeTestHasATimeBudget) {
  SmokeTest test;
  test.ticks = 1000;
  test.budget = std::chrono::milliseconds(0);
  const auto slow = smoke_test(load_ok("drag"), sandbox(), test);
  ASSERT_FALSE(slow);
  EXPECT_NE(slow.error().message.find("took more than 0 ms"), std::string::npos) << slow.error().message;
}

TEST(RulesPlugin, TheSmokeTestLeavesTheWorldAlone) {
  const auto world = sandbox();
  const auto before = sim::world_hash(world);
  EXPECT_TRUE(smoke_test(load_ok("wind"), world, SmokeTest{}));
  EXPECT_EQ(sim::world_hash(world), before);
}

} // namespace
} // namespace troupe::plugins
