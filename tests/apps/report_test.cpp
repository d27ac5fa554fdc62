// The report writers (apps/report.cpp): report.json is valid JSON whatever
// the run put in it, with the schema README.md documents.

#include "report.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <limits>

namespace troupe::app {
namespace {

RunResult failed_run() {
  RunResult r;
  r.ok = false;
  // Text from a peer or a file: a quote, a control byte and bytes that are not UTF-8.
  r.error = Error{errc::run_failed, std::string("peer said \"no\"\x01 \xff\xfe")};
  r.ticks = 12;
  r.world_hash = 0x0123456789abcdefULL;
  ActorReport logic;
  logic.name = "logic";
  logic.kind = "logic";
  logic.role = "coordinator";
  logic.node = "main";
  logic.counters = {{"commands_applied", 3}, {"share", 0.1234567891}, {"broken", std::nan("")}};
  logic.distributions = {{"tick_ms", Percentiles{12, 1.5, 2, 3, 4, 1.75}}};
  logic.series = {{"tick_ms", {1.0f, 2.5f, std::numeric_limits<float>::infinity()}}};
  logic.notes = {{"summary", "tab\there"}};
  r.actors.push_back(logic);
  r.node_ports = {{"main", 4710}};
  return r;
}

TEST(ReportJson, IsValidJsonWithTheDocumentedSchema) {
  config::Topology topology;
  topology.path = "config/examples/sandbox.toml";
  config::SimulationSpec simulation;
  simulation.scenario = "sandbox";
  const auto text = report_json(failed_run(), topology, simulation);
  const auto report = nlohmann::json::parse(text, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << text;
  EXPECT_EQ(report["schema"], "troupe-report/1");
  EXPECT_EQ(report["ok"], false);
  EXPECT_NE(report["error"].get<std::string>().find("peer said \"no\"\x01 "), std::string::npos);
  EXPECT_NE(report["error"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos); // U+FFFD
  EXPECT_EQ(report["world_hash"], "0x0123456789abcdef");
  EXPECT_EQ(report["ticks"], 12);
  EXPECT_EQ(report["tick_ms"]["count"], 12);
  EXPECT_EQ(report["commands"]["applied"], 3);
  EXPECT_TRUE(report["commands"]["applied"].is_number_integer()); // whole numbers have no fraction
  EXPECT_EQ(report["nodes"][0]["port"], 4710);
  const auto& logic = report["actors"][0];
  EXPECT_EQ(logic["role"], "coordinator");
  EXPECT_DOUBLE_EQ(logic["counters"]["share"].get<double>(), 0.123457); // six decimals
  EXPECT_TRUE(logic["counters"]["broken"].is_null());                    // not a number: null
  EXPECT_TRUE(logic["series"]["tick_ms"][2].is_null());
  EXPECT_EQ(logic["notes"]["summary"], "tab\there");
}

} // namespace
} // namespace troupe::app
