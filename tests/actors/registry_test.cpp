// The registry of kinds (subsystem.hpp) and the reader actor (reader.hpp): the
// built-ins register like any kind, a kind of the test's own runs in a real
// run, and readers get only the topics they subscribed to.

#include <troupe/actors/kinds.hpp>
#include <troupe/actors/reader.hpp>
#include <troupe/actors/runtime.hpp>
#include <troupe/actors/subsystem.hpp>
#include <troupe/config/topology.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

namespace troupe {
namespace {

TEST(Registry, BuiltInKindsAreRegisteredByRoleInStartOrder) {
  std::vector<std::pair<std::string, Role>> kinds;
  for (const auto* kind : subsystems().kinds())
    kinds.emplace_back(kind->name, kind->role);
  ASSERT_GE(kinds.size(), 6u);
  const std::vector<std::pair<std::string, Role>> builtins = {
    {"physics", Role::stepper}, {"logic", Role::coordinator}, {"input", Role::source},
    {"observer", Role::reader}, {"audio", Role::reader},      {"render", Role::reader}};
  EXPECT_TRUE(std::equal(builtins.begin(), builtins.end(), kinds.begin()));
  EXPECT_EQ(find_subsystem("render")->mailbox.overflow, config::Overflow::latest);
  EXPECT_EQ(find_subsystem("nonesuch"), nullptr);
}

TEST(Registry, RefusesATakenNameAKindWithoutParserAndOneThatCannotRun) {
  Subsystem twin = *find_subsystem("observer");
  auto refused = register_subsystem(twin);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::bad_argument);
  EXPECT_NE(refused.error().message.find("registered already"), std::string::npos);

  Subsystem unparsed;
  unparsed.name = "unparsed";
  unparsed.make_reader = find_subsystem("observer")->make_reader;
  EXPECT_FALSE(register_subsystem(unparsed));

  Subsystem idle;
  idle.name = "idle";
  idle.role = Role::stepper;
  idle.parse = [](config::ParamsReader&) { return std::any{}; };
  EXPECT_FALSE(register_subsystem(idle)) << "a stepper needs a spawn function";
  EXPECT_EQ(find_subsystem("idle"), nullptr);
}

/// A reader of the test's own: it takes contacts only and counts them.
struct ProbeParams {
  std::uint32_t limit = 5;
};

std::atomic<std::uint64_t> probe_contacts{0};

class Probe final : public Reader {
public:
  Subscription subscription() const override { return {topic_contacts, 0, 1}; }
  void on_contacts(const ContactBatch& batch, ReaderContext&) override { probe_contacts += batch.events.size(); }
  void on_snapshot(const Snapshot&, ReaderContext&) override { ADD_FAILURE() << "a snapshot it did not ask for"; }
};

const Subsystem& probe_kind() {
  static const bool registered = [] {
    Subsystem kind;
    kind.name = "probe";
    kind.role = Role::reader;
    kind.mailbox = {64, config::Overflow::drop_oldest};
    kind.parse = config::parse_as<ProbeParams>(
      [](config::ParamsReader& in, ProbeParams& p) { in.integer("limit", p.limit, 1, 100); });
    kind.make_reader = [](const ActorContext&, ReaderContext&) -> Expected<std::unique_ptr<Reader>> {
      return std::unique_ptr<Reader>(std::make_unique<Probe>());
    };
    return static_cast<bool>(register_subsystem(std::move(kind)));
  }();
  EXPECT_TRUE(registered);
  return *find_subsystem("probe");
}

config::Topology topology_with_probe(const std::string& dir) {
  probe_kind();
  auto parsed = config::parse_topology("[simulation]\nticks = 60\nbodies = 300\nseed = 5\n[[nodes]]\nname = \"n\"\n"
                                       "[actors.physics]\n[actors.logic]\n[actors.input]\n"
                                       "[actors.observer]\n[actors.probe]\nlimit = 7\n",
                                       dir + "/t.toml", subsystems());
  if (!parsed)
    throw std::runtime_error(parsed.error().to_string());
  return *parsed;
}

TEST(Registry, AnApplicationKindIsReadDescribedAndRunLikeABuiltIn) {
  const auto dir = (std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / "registry-probe").string();
  std::filesystem::create_directories(dir);
  const auto topology = topology_with_probe(dir);
  const auto& probe = *topology.actor("probe");
  EXPECT_EQ(probe.role, Role::reader);
  EXPECT_EQ(probe.params_as<ProbeParams>().limit, 7u);
  EXPECT_EQ(probe.mailbox.capacity, 64u);
  // No describe of its own: `troupe check` prints its resolved keys.
  EXPECT_NE(config::describe(topology).find("limit 7"), std::string::npos) << config::describe(topology);
  // Its keys are checked like a built-in's.
  auto bad = config::parse_topology("[[nodes]]\nname = \"n\"\n[actors.physics]\n[actors.logic]\n[actors.input]\n"
                                    "[actors.probe]\nlimit = 0\n",
                                    "t.toml", subsystems());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().to_string(), "t.toml:7:1: actors.probe.limit: expected an integer in [1, 100], got 0");

  probe_contacts = 0;
  RunOptions options;
  options.out_dir = dir;
  options.progress = false;
  const auto result = run(topology, options);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_GT(probe_contacts.load(), 0u);
  for (const auto& report : result.actors) {
    auto counter = [&](const std::string& name) {
      for (const auto& [key, value] : report.counters)
        if (key == name)
          return value;
      return -1.0;
    };
    if (report.name == "probe") {
      EXPECT_EQ(report.role, "reader");
      EXPECT_EQ(counter("snapshots_seen"), 0) << "it subscribed to contacts only";
      EXPECT_EQ(counter("contact_events"), static_cast<double>(probe_contacts.load()));
    }
    if (report.name == "observer") {
      EXPECT_GT(counter("snapshots_seen"), 0);
    }
  }
}

} // namespace
} // namespace troupe
