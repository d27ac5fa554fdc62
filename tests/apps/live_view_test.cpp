// The dashboard's commands: what the browser sends becomes a command line for
// input, or is refused with words (apps/live_view.hpp).

#include "live_view.hpp"

#include <gtest/gtest.h>

namespace {

using troupe::app::dashboard_command;

TEST(DashboardCommand, PauseResumeAndSpawnBecomeCommandLines) {
  EXPECT_EQ(*dashboard_command(R"({"command": "pause"})"), "pause");
  EXPECT_EQ(*dashboard_command(R"({"command": "resume"})"), "resume");
  EXPECT_EQ(*dashboard_command(R"({"command": "spawn", "position": [1, 15, -2.5], "velocity": [0, 0, 0], "radius": 0.5})"),
            "spawn 1.000 15.000 -2.500 0.000 0.000 0.000 0.500");
}

TEST(DashboardCommand, AnythingElseIsRefusedWithWords) {
  for (const char* bad : {"", "not json", "[]", R"({"command": 7})", R"({"command": "reload /tmp/x.so"})",
                          R"({"command": "spawn"})", R"({"command": "spawn", "position": [1, 2], "velocity": [0, 0, 0]})",
                          R"({"command": "spawn", "position": [1, 2, 1e300], "velocity": [0, 0, 0]})",
                          R"({"command": "spawn", "position": [1, 2, "3"], "velocity": [0, 0, 0]})",
                          R"({"command": "spawn", "position": [0, 0, 0], "velocity": [0, 0, 0], "radius": 50})"}) {
    const auto command = dashboard_command(bad);
    ASSERT_FALSE(command) << bad;
    EXPECT_FALSE(command.error().message.empty());
  }
}

} // namespace
