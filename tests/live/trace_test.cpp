#include <troupe/live/trace.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace {

using namespace troupe;

std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("troupe-trace-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, false);
}

// One test: the recorder is the process's, and turning it on is for good.
TEST(Trace, RecordsSpansPerNodeAndActorWritesThemAsChromeJsonAndMerges) {
  live::trace_span("ignored", "a", "logic", 0, 10); // before start: not recorded
  EXPECT_FALSE(live::tracing());
  live::start_trace(4);
  EXPECT_TRUE(live::tracing());
  live::trace_span("tick", "a", "logic", 1'000'000, 3'000'000, 7);
  live::trace_span("step", "b", "physics", 1'500'000, 2'500'000, 7);
  live::trace_instant("restart", "b", "physics", 2'600'000, -1, "incarnation 1");
  live::trace_span("tick", "a", "logic", 4'000'000, 5'000'000, 8);
  live::trace_span("tick", "a", "logic", 6'000'000, 7'000'000, 9); // over the cap of 4: counted only

  const auto a_path = temp_path("a.json");
  ASSERT_TRUE(live::write_trace(a_path, {"a", "b"}));
  const auto json = read_json(a_path);
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(json["otherData"]["events_dropped"], 1);
  int spans = 0, instants = 0;
  for (const auto& e : json["traceEvents"]) {
    const auto ph = e.value("ph", "");
    if (ph == "M" && e["name"] == "process_name") {
      EXPECT_EQ(e["args"]["name"], e["pid"] == 1 ? "node a" : "node b");
    }
    if (ph == "X") {
      ++spans;
      if (e["name"] == "step") {
        EXPECT_EQ(e["pid"], 2); // b is the second node
        EXPECT_DOUBLE_EQ(e["ts"].get<double>(), 1500);
        EXPECT_DOUBLE_EQ(e["dur"].get<double>(), 1000);
        EXPECT_EQ(e["args"]["tick"], 7);
      }
    }
    if (ph == "i") {
      ++instants;
      EXPECT_EQ(e["args"]["detail"], "incarnation 1");
      EXPECT_FALSE(e["args"].contains("tick"));
    }
  }
  EXPECT_EQ(spans, 3);
  EXPECT_EQ(instants, 1);

  // Merging: the events of every readable file; the others are named.
  const auto merged_path = temp_path("merged.json");
  const auto merged = live::merge_traces({a_path, a_path, temp_path("missing.json")}, merged_path);
  ASSERT_TRUE(merged);
  EXPECT_NE(merged->find("missing.json"), std::string::npos);
  const auto both = read_json(merged_path);
  EXPECT_EQ(both["traceEvents"].size(), 2 * json["traceEvents"].size());
  EXPECT_EQ(both["otherData"]["events_dropped"], 2);
  std::filesystem::remove_all(std::filesystem::path(a_path).parent_path());
}

} // namespace
