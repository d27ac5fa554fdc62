#include <troupe/live/telemetry.hpp>

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace {

using namespace troupe;

/// The value of the sample `series` (NAME{LABELS}) in the exposition; -1 when absent.
double value_of(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(Telemetry, CountersGaugesAndHistogramsInTheTextFormat) {
  const live::Labels labels{{"node", "n1"}, {"actor", "a"}, {"kind", "k"}};
  live::counter("troupe_test_events_total", "Events", labels).add(3);
  live::counter("troupe_test_events_total", "Events", labels).add(); // the same series
  live::gauge("troupe_test_level", "Level", labels).set(7.5);
  const auto h = live::histogram("troupe_test_wait_seconds", "Waits", labels);
  h.observe(0.002);
  h.observe(0.2);
  const auto text = live::exposition();
  EXPECT_NE(text.find("# TYPE troupe_test_events_total counter"), std::string::npos) << text;
  EXPECT_EQ(value_of(text, R"(troupe_test_events_total{actor="a",kind="k",node="n1"})"), 4);
  EXPECT_EQ(value_of(text, R"(troupe_test_level{actor="a",kind="k",node="n1"})"), 7.5);
  EXPECT_EQ(value_of(text, R"(troupe_test_wait_seconds_count{actor="a",kind="k",node="n1"})"), 2);
  EXPECT_EQ(value_of(text, R"(troupe_test_wait_seconds_bucket{actor="a",kind="k",node="n1",le="0.0025"})"), 1);
  EXPECT_EQ(value_of(text, R"(troupe_test_wait_seconds_bucket{actor="a",kind="k",node="n1",le="+Inf"})"), 2);
}

TEST(Telemetry, RaiseToNeverLowersACounter) {
  const auto c = live::counter("troupe_test_raised_total", "Raised", {{"node", "n1"}});
  c.raise_to(10);
  c.raise_to(4); // a restarted owner counting from scratch
  c.raise_to(12);
  EXPECT_EQ(value_of(live::exposition(), R"(troupe_test_raised_total{node="n1"})"), 12);
}

TEST(Telemetry, LabelValuesAreEscaped) {
  live::gauge("troupe_test_escaped", "Escaping", {{"node", "a\"b\\c\nd"}}).set(1);
  EXPECT_NE(live::exposition().find(R"(troupe_test_escaped{node="a\"b\\c\nd"} 1)"), std::string::npos);
}

TEST(Telemetry, AProbeIsReadAtEveryScrapeWhileItLives) {
  double level = 1;
  {
    auto probe = live::probe(live::Type::gauge, "troupe_test_probed", "Probed", {{"node", "n1"}}, [&] { return level; });
    EXPECT_EQ(value_of(live::exposition(), R"(troupe_test_probed{node="n1"})"), 1);
    level = 5;
    EXPECT_EQ(value_of(live::exposition(), R"(troupe_test_probed{node="n1"})"), 5);
    auto moved = std::move(probe); // still one probe
    EXPECT_EQ(value_of(live::exposition(), R"(troupe_test_probed{node="n1"})"), 5);
  }
  EXPECT_EQ(live::exposition().find("troupe_test_probed"), std::string::npos);
}

TEST(Telemetry, MailboxTotalsCarryOverFromOneIncarnationToTheNext) {
  const live::Labels labels{{"node", "n2"}, {"actor", "m"}, {"kind", "k"}};
  live::MailboxReading first{3, 8, 5, 100, 10, 2};
  bool first_alive = true;
  live::watch_mailbox(labels, [&]() -> std::optional<live::MailboxReading> {
    if (!first_alive)
      return std::nullopt;
    return first;
  });
  auto text = live::exposition();
  EXPECT_EQ(value_of(text, R"(troupe_mailbox_admitted_total{actor="m",kind="k",node="n2"})"), 100);
  EXPECT_EQ(value_of(text, R"(troupe_mailbox_messages{actor="m",kind="k",node="n2"})"), 3);
  // The first incarnation admits a few more, then dies between two scrapes:
  // what it did since the last scrape is lost, what was seen stays.
  first.admitted = 120;
  text = live::exposition();
  first_alive = false;
  text = live::exposition();
  EXPECT_EQ(value_of(text, R"(troupe_mailbox_admitted_total{actor="m",kind="k",node="n2"})"), 120);
  EXPECT_EQ(value_of(text, R"(troupe_mailbox_messages{actor="m",kind="k",node="n2"})"), 0);
  // The next incarnation starts from zero; the totals go on from 120.
  live::MailboxReading second{1, 8, 2, 7, 1, 0};
  live::watch_mailbox(labels, [&]() -> std::optional<live::MailboxReading> { return second; });
  text = live::exposition();
  EXPECT_EQ(value_of(text, R"(troupe_mailbox_admitted_total{actor="m",kind="k",node="n2"})"), 127);
  EXPECT_EQ(value_of(text, R"(troupe_mailbox_dropped_total{actor="m",kind="k",node="n2"})"), 11);
  EXPECT_EQ(value_of(text, R"(troupe_mailbox_rejected_total{actor="m",kind="k",node="n2"})"), 2);
  EXPECT_EQ(value_of(text, R"(troupe_mailbox_high_water_messages{actor="m",kind="k",node="n2"})"), 5);
  EXPECT_EQ(value_of(text, R"(troupe_mailbox_messages{actor="m",kind="k",node="n2"})"), 1);
}

} // namespace
