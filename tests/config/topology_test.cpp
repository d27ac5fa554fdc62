// Tests of config/: loading, defaults, validation errors and the shipped examples.

#include <troupe/actors/kinds.hpp>
#include <troupe/actors/subsystem.hpp>
#include <troupe/config/topology.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace troupe::config {
namespace {

const std::string examples = std::string(TROUPE_SOURCE_DIR) + "/config/examples/";

/// The kinds a topology may use: the registered ones (the built-ins).
const KindCatalog& kinds() { return troupe::subsystems(); }

/// Parses a document that must validate, with the registered kinds.
Topology parsed(std::string_view text, const std::string& path) {
  auto result = parse_topology(text, path, kinds());
  if (!result)
    throw std::runtime_error(result.error().to_string());
  return std::move(*result);
}

/// The error of a document that must not validate.
Error error_of(std::string_view text) {
  LoadResult result = parse_topology(text, "test.toml", kinds());
  if (!result) {
    const Error& error = result.error();
    EXPECT_EQ(error.code, errc::bad_config);
    EXPECT_EQ(error.to_string().find('\n'), std::string::npos) << error.to_string();
    return error;
  }
  ADD_FAILURE() << "expected a config error, the document validated";
  return {};
}

/// The topology of a document that must validate.
Topology topology_of(std::string_view text) {
  LoadResult result = parse_topology(text, "dir/test.toml", kinds());
  if (!result) {
    ADD_FAILURE() << result.error().to_string();
    return {};
  }
  return std::move(*result);
}

Topology load_example(const std::string& name) {
  LoadResult result = load_topology(examples + name, kinds());
  if (!result) {
    ADD_FAILURE() << result.error().to_string();
    return {};
  }
  return std::move(*result);
}

std::vector<std::string> names(const Topology& topology) {
  std::vector<std::string> out;
  for (const ActorSpec& actor : topology.actors) {
    out.push_back(actor.name);
  }
  return out;
}

// The three required actors on one node: the smallest valid topology.
constexpr std::string_view minimal = R"([[nodes]]
name = "main"

[actors.physics]
[actors.logic]
[actors.input]
)";

// --- The shipped examples -------------------------------------------------------

TEST(TopologyExamples, SandboxLoadsWithTheDocumentedSettings) {
  const Topology topology = load_example("sandbox.toml");
  const SimulationSpec& sim = topology.simulation;
  EXPECT_EQ(sim.ticks, 600u);
  EXPECT_EQ(sim.tick_hz, 60.0);
  EXPECT_EQ(sim.scenario, "sandbox");
  EXPECT_EQ(sim.bodies, 2000u);
  EXPECT_EQ(sim.seed, 42u);
  EXPECT_EQ(sim.threads, 2u);
  EXPECT_EQ(sim.mode, Mode::batch);
  ASSERT_EQ(topology.nodes.size(), 1u);
  EXPECT_EQ(topology.nodes[0].name, "main");
  EXPECT_EQ(topology.nodes[0].host, "127.0.0.1");
  EXPECT_EQ(topology.nodes[0].port, 0);
  EXPECT_EQ(names(topology),
            (std::vector<std::string>{"physics", "logic", "input", "observer", "audio", "render"}));
  for (const ActorSpec& actor : topology.actors) {
    EXPECT_EQ(actor.node, "main") << actor.name;
  }
  const ActorSpec* observer = topology.actor("observer");
  ASSERT_NE(observer, nullptr);
  EXPECT_EQ(observer->kind, "observer");
  EXPECT_EQ(observer->mailbox.overflow, Overflow::latest);
}

TEST(TopologyExamples, SandboxTimelineResolvesNextToTheConfig) {
  const Topology topology = load_example("sandbox.toml");
  const ActorSpec* input = topology.actor("input");
  ASSERT_NE(input, nullptr);
  const auto* params = std::any_cast<InputParams>(&input->params);
  ASSERT_NE(params, nullptr);
  EXPECT_EQ(params->timeline, "sandbox.timeline");
  const std::string resolved = resolve_relative(topology, params->timeline);
  EXPECT_EQ(resolved, examples + "sandbox.timeline");
  EXPECT_TRUE(std::filesystem::exists(resolved)) << resolved;
}

TEST(TopologyExamples, TwoNodesPutsPhysicsAndRenderOnTheSecondNode) {
  const Topology one = load_example("sandbox.toml");
  const Topology two = load_example("sandbox-two-nodes.toml");
  ASSERT_EQ(two.nodes.size(), 2u);
  EXPECT_EQ(two.nodes[1].name, "physics-node");
  EXPECT_EQ(two.nodes[1].host, "127.0.0.1");
  EXPECT_EQ(two.nodes[1].port, 0);
  EXPECT_EQ(names(two), names(one));
  for (const ActorSpec& actor : two.actors) {
    const bool second = actor.kind == "physics" || actor.kind == "render";
    EXPECT_EQ(actor.node, second ? "physics-node" : "main") << actor.name;
  }
  EXPECT_EQ(two.simulation.ticks, one.simulation.ticks);
  EXPECT_EQ(two.simulation.seed, one.simulation.seed);
  EXPECT_EQ(two.simulation.bodies, one.simulation.bodies);
}

TEST(TopologyExamples, SandboxTimelineCommandsUseKnownActionsWithinTheRun) {
  // The actions themselves are parsed by sim/; here only the shape of each line.
  std::ifstream in(examples + "sandbox.timeline");
  ASSERT_TRUE(in);
  const std::set<std::string> actions = {"spawn",   "shake",   "pause",   "resume",
                                         "gravity", "fountain", "impulse"};
  std::string line;
  int commands = 0;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') {
      continue;
    }
    std::istringstream words(line);
    std::uint64_t tick = 0;
    std::string action;
    ASSERT_TRUE(words >> tick >> action) << line;
    EXPECT_LT(tick, 600u) << line;
    EXPECT_TRUE(actions.count(action) == 1) << line;
    EXPECT_EQ(line.find('#'), std::string::npos) << "no comment after a command: " << line;
    ++commands;
  }
  EXPECT_GE(commands, 12);
}

// --- Defaults -------------------------------------------------------------------

TEST(TopologyExamples, ThreeNodesPutLogicPhysicsAndMediaOnTheirOwnNodesWithFixedPorts) {
  const Topology three = load_example("sandbox-three-nodes.toml");
  ASSERT_EQ(three.nodes.size(), 3u);
  for (const NodeSpec& node : three.nodes)
    EXPECT_NE(node.port, 0) << node.name; // processes find each other by port
  EXPECT_EQ(three.actor("physics")->node, "physics-node");
  EXPECT_EQ(three.actor("render")->node, "media-node");
  EXPECT_EQ(three.actor("audio")->node, "media-node");
  EXPECT_EQ(three.actor("logic")->node, "main");
  EXPECT_EQ(three.network.node_timeout_ms, 2000u);
  EXPECT_FALSE(three.network.tls());
}

TEST(TopologyDigest, IgnoresThePathAndTimeoutsButNotTheSimulation) {
  const std::string base = "[[nodes]]\nname = \"a\"\n[actors.physics]\n[actors.logic]\n[actors.input]\n";
  const Topology a = parsed(base, "here/a.toml");
  const Topology moved = parsed(base, "elsewhere/b.toml");
  const Topology patient =
    parsed("[network]\nconnect_timeout_ms = 90000\n" + base, "a.toml");
  const Topology other = parsed("[simulation]\nbodies = 7\n" + base, "a.toml");
  EXPECT_EQ(topology_digest(a), topology_digest(moved));
  EXPECT_EQ(topology_digest(a), topology_digest(patient));
  EXPECT_NE(topology_digest(a), topology_digest(other));
}

TEST(TopologyErrors, NetworkTimeoutsAndCertificatesAreChecked) {
  EXPECT_EQ(error_of("[network]\nheartbeat_ms = 3000\nnode_timeout_ms = 2000\n[actors.physics]\n[actors.logic]\n"
                     "[actors.input]\n")
              .key,
            "network.node_timeout_ms");
  EXPECT_EQ(error_of("[network]\ntls_ca = \"ca.pem\"\n[[nodes]]\nname = \"a\"\n[actors.physics]\n[actors.logic]\n"
                     "[actors.input]\n")
              .key,
            "nodes[0].tls_certificate");
  EXPECT_EQ(error_of("[[nodes]]\nname = \"a\"\ntls_certificate = \"a.pem\"\n[actors.physics]\n[actors.logic]\n"
                     "[actors.input]\n")
              .key,
            "nodes[0].tls_key");
  EXPECT_EQ(error_of("[[nodes]]\nname = \"a\"\ntls_certificate = \"a.pem\"\ntls_key = \"a.key\"\n[actors.physics]\n"
                     "[actors.logic]\n[actors.input]\n")
              .key,
            "nodes[0].tls_certificate");
}

TEST(TopologyDefaults, MinimalFileGetsDocumentedDefaults) {
  const Topology topology = topology_of(minimal);
  const SimulationSpec sim = topology.simulation;
  EXPECT_EQ(sim.tick_hz, 60.0);
  EXPECT_EQ(sim.ticks, 600u);
  EXPECT_EQ(sim.seed, 1u);
  EXPECT_EQ(sim.scenario, "sandbox");
  EXPECT_EQ(sim.bodies, 1000u);
  EXPECT_EQ(sim.threads, 2u);
  EXPECT_EQ(sim.mode, Mode::batch);
  ASSERT_EQ(topology.nodes.size(), 1u);
  EXPECT_EQ(topology.nodes[0].host, "127.0.0.1");
  EXPECT_EQ(topology.nodes[0].port, 0);
  EXPECT_EQ(topology.path, "dir/test.toml");
}

TEST(TopologyDefaults, KindComesFromNameAndNodeFromFirstNode) {
  const Topology topology = topology_of(R"([[nodes]]
name = "first"
[[nodes]]
name = "second"

[actors.physics]
[actors.logic]
[actors.input]
)");
  for (const ActorSpec& actor : topology.actors) {
    EXPECT_EQ(actor.kind, actor.name);
    EXPECT_EQ(actor.node, "first") << actor.name;
  }
}

TEST(TopologyDefaults, MailboxDependsOnKind) {
  const Topology topology = topology_of(R"([[nodes]]
name = "main"
[actors.physics]
[actors.logic]
[actors.input]
[actors.watcher]
kind = "observer"
)");
  const auto mailbox = [&](std::string_view name) { return topology.actor(name)->mailbox; };
  EXPECT_EQ(mailbox("logic").capacity, 4096u);
  EXPECT_EQ(mailbox("logic").overflow, Overflow::reject);
  EXPECT_EQ(mailbox("input").capacity, 1024u);
  EXPECT_EQ(mailbox("input").overflow, Overflow::reject);
  EXPECT_EQ(mailbox("physics").capacity, 64u);
  EXPECT_EQ(mailbox("physics").overflow, Overflow::reject);
  EXPECT_EQ(mailbox("watcher").capacity, 4u);
  EXPECT_EQ(mailbox("watcher").overflow, Overflow::latest);
}

TEST(TopologyDefaults, PartialMailboxKeepsTheKindDefaultForTheOtherField) {
  const Topology topology = topology_of(R"([[nodes]]
name = "main"
[actors.physics]
mailbox = { capacity = 8 }
[actors.logic]
mailbox = { overflow = "drop-oldest" }
[actors.input]
)");
  EXPECT_EQ(topology.actor("physics")->mailbox.capacity, 8u);
  EXPECT_EQ(topology.actor("physics")->mailbox.overflow, Overflow::reject);
  EXPECT_EQ(topology.actor("logic")->mailbox.capacity, 4096u);
  EXPECT_EQ(topology.actor("logic")->mailbox.overflow, Overflow::drop_oldest);
}

TEST(TopologyDefaults, KindParametersFillTheMatchingAlternative) {
  const Topology topology = topology_of(R"([[nodes]]
name = "main"
[actors.physics]
substeps = 8
iterations = 3
friction = 1
contact_event_speed = 0.25
[actors.logic]
fountain_every = 5
fountain_max = 300
rules = "plugins/wind.so"
install_after_ticks = 12
[actors.input]
timeline = "a.timeline"
lead_ticks = 30
live = true
[actors.slow]
kind = "observer"
work_us = 2000
[actors.quick]
kind = "observer"
)");
  const auto& physics = topology.actor("physics")->params_as<PhysicsParams>();
  EXPECT_EQ(physics.substeps, 8u);
  EXPECT_EQ(physics.iterations, 3u);
  EXPECT_EQ(physics.friction, 1.0); // an integer is a number
  EXPECT_EQ(physics.contact_event_speed, 0.25);
  const auto& logic = topology.actor("logic")->params_as<LogicParams>();
  EXPECT_EQ(logic.fountain_every, 5u);
  EXPECT_EQ(logic.fountain_max, 300u);
  EXPECT_EQ(logic.rules, "plugins/wind.so");
  EXPECT_EQ(logic.install_after_ticks, 12u);
  EXPECT_EQ(logic.smoke_ticks, 30u);
  const auto& input = topology.actor("input")->params_as<InputParams>();
  EXPECT_EQ(input.timeline, "a.timeline");
  EXPECT_EQ(input.lead_ticks, 30u);
  EXPECT_TRUE(input.live);
  EXPECT_EQ(topology.actor("slow")->params_as<ObserverParams>().work_us, 2000u);
  EXPECT_EQ(topology.actor("quick")->params_as<ObserverParams>().work_us, 0u);
  EXPECT_EQ(topology.with_role(Role::reader).size(), 2u);
}

TEST(TopologyDefaults, ActorsStartPhysicsLogicInputThenObserversByName) {
  const Topology topology = topology_of(R"([[nodes]]
name = "main"
[actors.zeta]
kind = "observer"
[actors.input]
[actors.alpha]
kind = "observer"
[actors.logic]
[actors.engine]
kind = "physics"
)");
  EXPECT_EQ(names(topology),
            (std::vector<std::string>{"engine", "logic", "input", "alpha", "zeta"}));
  EXPECT_EQ(topology.actor("engine")->line, 9);
}

TEST(TopologyDefaults, OverflowSpellingsRoundTrip) {
  for (const Overflow overflow :
       {Overflow::latest, Overflow::drop_oldest, Overflow::drop_newest, Overflow::reject}) {
    EXPECT_EQ(parse_overflow(to_string(overflow)), overflow);
  }
  EXPECT_STREQ(to_string(Overflow::drop_oldest), "drop-oldest");
  EXPECT_EQ(parse_overflow("drop_oldest"), std::nullopt);
}

// --- Errors ---------------------------------------------------------------------

TEST(TopologyLoad, UnknownTopLevelKeyNamesFileLineAndKey) {
  const Error error = error_of(R"([[nodes]]
name = "main"

[simulaton]
ticks = 5
)");
  EXPECT_EQ(error.to_string(), "test.toml:4:2: simulaton: unknown key (did you mean simulation?); "
                               "expected one of simulation, network, nodes or actors");
}

TEST(TopologyLoad, UnknownKeyInSimulationNamesFileLineAndKey) {
  const Error error = error_of(R"([simulation]
ticks = 5
  tick_rate = 30
)");
  EXPECT_EQ(error.line, 3);
  EXPECT_EQ(error.column, 3);
  EXPECT_EQ(error.key, "simulation.tick_rate");
  EXPECT_EQ(error.to_string().rfind("test.toml:3:3: simulation.tick_rate: unknown key", 0), 0u)
      << error.to_string();
}

TEST(TopologyLoad, UnknownKeyInActorListsThatKindsKeys) {
  // substeps belongs to physics, not logic.
  const Error error = error_of(R"([[nodes]]
name = "main"
[actors.physics]
[actors.logic]
substeps = 4
[actors.input]
)");
  EXPECT_EQ(error.to_string(), "test.toml:5:1: actors.logic.substeps: unknown key; expected one "
                               "of kind, node, mailbox, restart, shutdown_timeout_ms, fountain_every, fountain_max, "
                               "rules, plugin_dir, smoke_ticks, smoke_budget_ms or install_after_ticks");
}

TEST(TopologyLoad, UnknownKeyInMailboxNamesItsColumn) {
  const Error error = error_of(R"([[nodes]]
name = "main"
[actors.physics]
mailbox = { capacity = 8, policy = "reject" }
[actors.logic]
[actors.input]
)");
  EXPECT_EQ(error.line, 4);
  EXPECT_EQ(error.column, 27);
  EXPECT_EQ(error.key, "actors.physics.mailbox.policy");
}

TEST(TopologyLoad, UnknownKeyInNodeNamesItsIndex) {
  const Error error = error_of(R"([[nodes]]
name = "main"
[[nodes]]
name = "b"
prot = 7001
)");
  EXPECT_EQ(error.to_string(), "test.toml:5:1: nodes[1].prot: unknown key (did you mean "
                               "port?); expected one of name, host, port, http_port, http_address, supervision, "
            "tls_certificate or tls_key");
}

TEST(TopologyLoad, WrongTypeSaysWhatWasExpectedAndWhatCame) {
  const Error error = error_of(R"([[nodes]]
name = "main"
[actors.logic]
[actors.input]

# the physics actor
[actors.physics]
substeps = "four"
)");
  EXPECT_EQ(error.to_string(),
            "test.toml:8:1: actors.physics.substeps: expected an integer in [1, 64], got \"four\"");
}

TEST(TopologyLoad, FloatWhereAnIntegerIsExpectedIsRefused) {
  const Error error = error_of(R"([simulation]
threads = 4.0
)");
  EXPECT_EQ(error.to_string(),
            "test.toml:2:1: simulation.threads: expected an integer in [1, 256], got 4.0");
}

TEST(TopologyLoad, OutOfRangeValuesAreRefusedWithTheirRange) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"[simulation]\ntick_hz = 0\n",
       "test.toml:2:1: simulation.tick_hz: expected a number > 0 and <= 10000, got 0"},
      {"[simulation]\ntick_hz = 10000.5\n",
       "test.toml:2:1: simulation.tick_hz: expected a number > 0 and <= 10000, got 10000.5"},
      {"[simulation]\ntick_hz = nan\n",
       "test.toml:2:1: simulation.tick_hz: expected a number > 0 and <= 10000, got nan"},
      {"[simulation]\nticks = 0\n",
       "test.toml:2:1: simulation.ticks: expected an integer >= 1, got 0"},
      {"[simulation]\nseed = -1\n",
       "test.toml:2:1: simulation.seed: expected a non-negative integer, got -1"},
      {"[simulation]\nbodies = 1000001\n",
       "test.toml:2:1: simulation.bodies: expected an integer in [0, 1000000], got 1000001"},
      {"[simulation]\nthreads = 0\n",
       "test.toml:2:1: simulation.threads: expected an integer in [1, 256], got 0"},
      {"[[nodes]]\nname = \"main\"\nport = 65536\n",
       "test.toml:3:1: nodes[0].port: expected an integer in [0, 65535], got 65536"},
      {"[actors.physics]\nfriction = 1.5\n",
       "test.toml:2:1: actors.physics.friction: expected a number in [0, 1], got 1.5"},
      {"[actors.physics]\niterations = 65\n",
       "test.toml:2:1: actors.physics.iterations: expected an integer in [1, 64], got 65"},
      {"[actors.logic]\nmailbox = { capacity = 0 }\n",
       "test.toml:2:13: actors.logic.mailbox.capacity: expected an integer in [1, 10000000], "
       "got 0"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(error_of(c.text).to_string(), c.expected) << c.text;
  }
}

TEST(TopologyLoad, UnknownChoicesListTheValidOnes) {
  EXPECT_EQ(error_of("[actors.input]\nmailbox = { overflow = \"sometimes\" }\n").to_string(),
            "test.toml:2:13: actors.input.mailbox.overflow: expected latest, drop-oldest, "
            "drop-newest or reject, got \"sometimes\"");
  EXPECT_EQ(error_of("[simulation]\nscenario = \"tower\"\n").to_string(),
            "test.toml:2:1: simulation.scenario: expected sandbox, pile or empty, got \"tower\"");
  EXPECT_EQ(error_of("[simulation]\nmode = \"fast\"\n").to_string(),
            "test.toml:2:1: simulation.mode: expected batch or realtime, got \"fast\"");
}

TEST(TopologyLoad, UnknownKindListsTheKinds) {
  const Error error = error_of(R"([[nodes]]
name = "main"
[actors.physics]
[actors.logic]
[actors.input]
[actors.screen]
kind = "screen"
)");
  EXPECT_EQ(error.to_string(), "test.toml:7:1: actors.screen.kind: expected physics, logic, input, "
                               "observer, audio or render, got \"screen\"");
}

TEST(TopologyLoad, AudioParametersAreReadAndChecked) {
  const std::string head = R"([[nodes]]
name = "main"
[actors.physics]
[actors.logic]
[actors.input]
[actors.audio]
)";
  const Topology t = topology_of(head + "voices = 8\noutput = \"device\"\nlistener = [1, 2, 3.5]\n");
  const auto& audio = t.actor("audio")->params_as<AudioParams>();
  EXPECT_EQ(audio.voices, 8u);
  EXPECT_EQ(audio.output, "device");
  EXPECT_EQ(audio.listener[2], 3.5);
  EXPECT_EQ(t.actor("audio")->mailbox.overflow, Overflow::drop_oldest);
  EXPECT_EQ(error_of(head + "listener = [1, 2]\n").to_string(),
            "test.toml:7:1: actors.audio.listener: expected an array of 3 numbers [x, y, z], got an array");
  EXPECT_EQ(error_of(head + "output = \"speakers\"\n").key, "actors.audio.output");
}

TEST(TopologyLoad, RenderParametersAreReadAndChecked) {
  const std::string head = R"([[nodes]]
name = "main"
[actors.physics]
[actors.logic]
[actors.input]
[actors.render]
)";
  const Topology t = topology_of(head + "width = 320\nheight = 200\ndevice = \"lavapipe\"\nframes_every = 10\n"
                                        "video = \"off\"\nmax_fps = 0\nrequired = false\neye = [1, 2, 3]\n");
  const auto& render = t.actor("render")->params_as<RenderParams>();
  EXPECT_EQ(render.width, 320u);
  EXPECT_EQ(render.height, 200u);
  EXPECT_EQ(render.device, "lavapipe");
  EXPECT_EQ(render.frames_every, 10u);
  EXPECT_EQ(render.video, "off");
  EXPECT_EQ(render.max_fps, 0.0);
  EXPECT_FALSE(render.required);
  ASSERT_TRUE(render.eye);
  EXPECT_EQ((*render.eye)[2], 3.0);
  EXPECT_FALSE(render.target);
  EXPECT_EQ(t.actor("render")->mailbox.overflow, Overflow::latest);
  EXPECT_EQ(t.actor("render")->mailbox.capacity, 8u);
  EXPECT_EQ(error_of(head + "required = \"yes\"\n").to_string(),
            "test.toml:7:1: actors.render.required: expected true or false, got \"yes\"");
  EXPECT_EQ(error_of(head + "video = \"gif\"\n").key, "actors.render.video");
  EXPECT_EQ(error_of(head + "width = 0\n").key, "actors.render.width");
  // Recorded frames wait in the mailbox beside the newest snapshot: it must
  // have room for them.
  EXPECT_EQ(error_of(head + "mailbox = { capacity = 2 }\ncapture_window = 2\n").to_string(),
            "test.toml:6:9: actors.render.mailbox.capacity: capacity 2 leaves no room beside "
            "capture_window 2 recorded frames; make it at least capture_window + 1");
}

TEST(TopologyLoad, ActorWithoutKindNeedsAKindName) {
  const Error error = error_of(R"([[nodes]]
name = "main"
[actors.physics]
[actors.logic]
[actors.input]
[actors.watcher]
work_us = 5
)");
  EXPECT_EQ(error.line, 6);
  EXPECT_EQ(error.column, 9);
  EXPECT_EQ(error.key, "actors.watcher.kind");
}

TEST(TopologyLoad, MissingLogicPointsAtTheActorsTable) {
  const Error error = error_of(R"([[nodes]]
name = "main"

[actors.physics]
[actors.input]
)");
  EXPECT_EQ(error.to_string(),
            "test.toml:4:2: actors.logic: a logic actor is required: add [actors.logic]");
}

TEST(TopologyLoad, NoActorsAtAllPointsAtTheFirstLine) {
  const Error error = error_of("[[nodes]]\nname = \"main\"\n");
  EXPECT_EQ(error.line, 1);
  EXPECT_EQ(error.column, 1);
  EXPECT_EQ(error.key.substr(0, 7), "actors.");
}

TEST(TopologyLoad, SecondPhysicsActorIsRefused) {
  const Error error = error_of(R"([[nodes]]
name = "main"
[actors.physics]
[actors.logic]
[actors.input]
[actors.spare]
kind = "physics"
)");
  EXPECT_EQ(error.to_string(), "test.toml:7:1: actors.spare.kind: a second physics actor (the "
                               "first is actors.physics, line 3); exactly one is allowed");
}

TEST(TopologyLoad, ActorOnUnknownNodeNamesTheNodes) {
  const Error error = error_of(R"([[nodes]]
name = "main"
[[nodes]]
name = "side"
[actors.physics]
node = "gpu"
[actors.logic]
[actors.input]
)");
  EXPECT_EQ(error.to_string(),
            "test.toml:6:1: actors.physics.node: no node named \"gpu\"; nodes are main and side");
}

TEST(TopologyLoad, DuplicateNodeNameIsRefused) {
  const Error error = error_of(R"([[nodes]]
name = "main"
[[nodes]]
  name = "main"
[actors.physics]
[actors.logic]
[actors.input]
)");
  EXPECT_EQ(error.to_string(), "test.toml:4:3: nodes[1].name: duplicate node name \"main\", "
                               "already used by nodes[0] (line 2)");
}

TEST(TopologyLoad, DuplicateNonZeroPortOnOneHostIsRefused) {
  const std::string actors = "[actors.physics]\n[actors.logic]\n[actors.input]\n";
  const Error error = error_of(R"([[nodes]]
name = "a"
port = 7000
[[nodes]]
name = "b"
port = 7000
)" + actors);
  EXPECT_EQ(error.to_string(), "test.toml:6:1: nodes[1].port: port 7000 on host 127.0.0.1 is "
                               "already used by node \"a\" (nodes[0])");
  // Port 0 twice, or one port on two hosts, is fine.
  topology_of("[[nodes]]\nname = \"a\"\n[[nodes]]\nname = \"b\"\n" + actors);
  topology_of("[network]\ninsecure = true\n[[nodes]]\nname = \"a\"\nport = 7000\n[[nodes]]\nname = \"b\"\nport = 7000\n"
              "host = \"10.0.0.2\"\n" +
              actors);
}

TEST(TopologyLoad, PlainTcpBeyondThisHostIsRefusedUnlessTheConfigSaysInsecure) {
  const std::string actors = "[actors.physics]\n[actors.logic]\n[actors.input]\n";
  EXPECT_EQ(error_of("[[nodes]]\nname = \"a\"\nhost = \"0.0.0.0\"\n" + actors).to_string(),
            "test.toml:3:1: nodes[0].host: plain TCP on \"0.0.0.0\", beyond this host: set [network] tls_ca "
            "(mutual TLS), or [network] insecure = true to accept unauthenticated, unencrypted links");
  EXPECT_EQ(error_of("[[nodes]]\nname = \"a\"\n[[nodes]]\nname = \"b\"\nhost = \"node-b.example\"\n" + actors).key,
            "nodes[1].host");
  for (const char* host : {"127.0.0.1", "127.3.4.5", "localhost", "::1"})
    topology_of("[[nodes]]\nname = \"a\"\nhost = \"" + std::string(host) + "\"\n" + actors);
  const auto open = topology_of("[network]\ninsecure = true\n[[nodes]]\nname = \"a\"\nhost = \"10.1.2.3\"\n" + actors);
  EXPECT_TRUE(open.network.insecure);
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_FALSE(is_loopback("10.0.0.1"));
}

TEST(TopologyLoad, NoNodesIsRefused) {
  const Error error = error_of("[actors.physics]\n[actors.logic]\n[actors.input]\n");
  EXPECT_EQ(error.line, 1);
  EXPECT_EQ(error.column, 1);
  EXPECT_EQ(error.key, "nodes");
  EXPECT_EQ(error_of(std::string("nodes = []\n") + "[actors.physics]\n").key, "nodes");
}

TEST(TopologyLoad, NodeWithoutNamePointsAtItsTable) {
  const Error error = error_of("[[nodes]]\nname = \"main\"\n\n[[nodes]]\nport = 1\n");
  EXPECT_EQ(error.line, 4);
  EXPECT_EQ(error.column, 1);
  EXPECT_EQ(error.key, "nodes[1].name");
}

TEST(TopologyLoad, TomlSyntaxErrorGivesLineAndColumn) {
  const Error error = error_of("[simulation]\nticks = 5\nseed = = 2\n");
  EXPECT_EQ(error.file, "test.toml");
  EXPECT_EQ(error.line, 3);
  EXPECT_EQ(error.column, 8);
  EXPECT_TRUE(error.key.empty());
  EXPECT_EQ(error.to_string().rfind("test.toml:3:8: TOML syntax error", 0), 0u)
      << error.to_string();
}

TEST(TopologyLoad, TheErrorNearestTheTopIsReported) {
  // toml++ iterates keys by name; the report must follow the file instead.
  const Error error = error_of(R"([simulation]
ticks = 0
bodies = -1
)");
  EXPECT_EQ(error.key, "simulation.ticks");
}

TEST(TopologyLoad, StringsWithNewlinesStayOnOneLine) {
  const Error error = error_of("[simulation]\nscenario = \"a\\nb\"\n");
  EXPECT_EQ(error.to_string(),
            "test.toml:2:1: simulation.scenario: expected sandbox, pile or empty, got \"a\\nb\"");
}

TEST(TopologyLoad, UnusualKeysAreQuotedInThePath) {
  const Error error = error_of("[actors.\"my actor\"]\nkind = \"observer\"\n");
  EXPECT_EQ(error.key, "actors.\"my actor\"");
}

TEST(TopologyLoad, MissingFileNamesThePath) {
  LoadResult result = load_topology("/nonexistent/troupe.toml", kinds());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().to_string().rfind("/nonexistent/troupe.toml:1:1: cannot open the file", 0), 0u)
      << result.error().to_string();
}

// --- Paths and description --------------------------------------------------------

TEST(TopologyPaths, RelativePathsResolveAgainstTheConfigDirectory) {
  Topology topology;
  topology.path = "/etc/troupe/run.toml";
  EXPECT_EQ(resolve_relative(topology, "a.timeline"), "/etc/troupe/a.timeline");
  EXPECT_EQ(resolve_relative(topology, "logs/a.log"), "/etc/troupe/logs/a.log");
  EXPECT_EQ(resolve_relative(topology, "/tmp/a.timeline"), "/tmp/a.timeline");
  EXPECT_EQ(resolve_relative(topology, ""), "");
  topology.path = "run.toml"; // in the working directory
  EXPECT_EQ(resolve_relative(topology, "a.timeline"), "a.timeline");
  topology.path = "configs/run.toml";
  EXPECT_EQ(resolve_relative(topology, "../a.timeline"), "configs/../a.timeline");
}

TEST(TopologyDescribe, MentionsEveryActorNodeAndSetting) {
  const Topology topology = load_example("sandbox-two-nodes.toml");
  const std::string text = describe(topology);
  for (const ActorSpec& actor : topology.actors) {
    EXPECT_NE(text.find(actor.name), std::string::npos) << actor.name << "\n" << text;
  }
  for (const std::string_view expected :
       {"127.0.0.1:0", "physics-node", "600 ticks", "60 Hz", "2000 bodies", "seed 42",
        "mailbox 64 reject", "mailbox 4 latest", "substeps 4", "lead_ticks 120",
        "sandbox.timeline"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  // Start order shows: physics is described before logic.
  EXPECT_LT(text.find("kind physics"), text.find("kind logic"));
}

} // namespace
} // namespace troupe::config

namespace troupe::config {
namespace {

TEST(TopologySupervision, NodeAndActorSettingsAreReadAndChecked) {
  const std::string text = R"([[nodes]]
name = "main"
supervision = { strategy = "rest_for_one", max_restarts = 7, period_ms = 900, backoff_min_ms = 2, backoff_max_ms = 50.5 }
[actors.physics]
restart = "transient"
shutdown_timeout_ms = 250
[actors.logic]
[actors.input]
)";
  auto loaded = parse_topology(text, "test.toml", kinds());
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  const auto& t = *loaded;
  const auto& sup = t.nodes[0].supervision;
  EXPECT_EQ(sup.strategy, Strategy::rest_for_one);
  EXPECT_EQ(sup.max_restarts, 7u);
  EXPECT_EQ(sup.period_ms, 900u);
  EXPECT_EQ(sup.backoff_max_ms, 50.5);
  EXPECT_EQ(t.actor("physics")->restart, Restart::transient);
  EXPECT_EQ(t.actor("physics")->shutdown_timeout_ms, 250u);
  EXPECT_EQ(t.actor("logic")->restart, Restart::permanent);
  EXPECT_NE(describe(t).find("rest_for_one"), std::string::npos);

  auto bad = parse_topology(R"([[nodes]]
name = "main"
supervision = { strategy = "one_for_some" }
[actors.physics]
[actors.logic]
[actors.input]
)", "test.toml", kinds());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().key, "nodes[0].supervision.strategy");
  auto bad_restart = parse_topology(R"([[nodes]]
name = "main"
[actors.physics]
restart = "sometimes"
[actors.logic]
[actors.input]
)", "test.toml", kinds());
  ASSERT_FALSE(bad_restart);
  EXPECT_EQ(bad_restart.error().to_string().rfind("test.toml:4:1: actors.physics.restart:", 0), 0u)
    << bad_restart.error().to_string();
}

} // namespace
} // namespace troupe::config

namespace troupe::config {
namespace {

// --- Regions (issue 13): physics run as parts -------------------------------------

constexpr std::string_view two_nodes = R"([[nodes]]
name = "node-a"
[[nodes]]
name = "node-b"
[actors.logic]
[actors.input]
)";

TEST(TopologyRegions, RegionsBecomeActorsNamedByIndexOnTheirNodes) {
  const Topology topology = topology_of(std::string(two_nodes) + R"([actors.physics]
regions = 3
region_nodes = ["node-b", "node-a"]
)");
  const auto steppers = topology.with_role(Role::stepper);
  ASSERT_EQ(steppers.size(), 3u);
  const char* nodes[] = {"node-b", "node-a", "node-b"};
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(steppers[i]->name, "physics/" + std::to_string(i));
    EXPECT_EQ(steppers[i]->table, "physics");
    EXPECT_EQ(steppers[i]->part, i);
    EXPECT_EQ(steppers[i]->parts, 3u);
    EXPECT_EQ(steppers[i]->node, nodes[i]);
    EXPECT_EQ(steppers[i]->kind, "physics");
  }
  EXPECT_EQ(&topology.the(Role::stepper), steppers[0]);
  EXPECT_EQ(topology.actor("physics"), nullptr);
  // Start order: the regions first, then logic and input.
  EXPECT_EQ(names(topology),
            (std::vector<std::string>{"physics/0", "physics/1", "physics/2", "logic", "input"}));
  // Placement is part of what every node must agree on.
  Topology moved = topology_of(std::string(two_nodes) + R"([actors.physics]
regions = 3
region_nodes = ["node-a"]
)");
  EXPECT_NE(topology_digest(topology), topology_digest(moved));
}

TEST(TopologyRegions, OneRegionIsOnePhysicsActorAsBefore) {
  const Topology topology = topology_of(std::string(two_nodes) + "[actors.physics]\n");
  ASSERT_NE(topology.actor("physics"), nullptr);
  EXPECT_EQ(topology.actor("physics")->parts, 1u);
  EXPECT_EQ(topology.actor("physics")->table, "physics");
  const auto& p = topology.actor("physics")->params_as<PhysicsParams>();
  EXPECT_EQ(p.regions, 1u);
  EXPECT_EQ(p.cells(), (std::array<std::uint32_t, 3>{1, 1, 1}));
}

TEST(TopologyRegions, RegionsWithoutNodesRunOnPhysicsOwnNode) {
  const Topology topology = topology_of(std::string(two_nodes) + R"([actors.physics]
node = "node-b"
regions = 2
cut = "z"
)");
  for (const ActorSpec* region : topology.with_role(Role::stepper))
    EXPECT_EQ(region->node, "node-b");
  EXPECT_EQ(topology.the(Role::stepper).params_as<PhysicsParams>().cells(),
            (std::array<std::uint32_t, 3>{1, 1, 2}));
}

TEST(TopologyRegions, AGridOfCellsNeedsOneRegionPerCell) {
  const Topology topology = topology_of(std::string(two_nodes) + R"([actors.physics]
regions = 4
grid = [2, 2, 1]
)");
  EXPECT_EQ(topology.the(Role::stepper).params_as<PhysicsParams>().cells(),
            (std::array<std::uint32_t, 3>{2, 2, 1}));
  const std::string text = describe(topology);
  EXPECT_NE(text.find("4 regions: a grid of 2 x 2 x 1 cells"), std::string::npos) << text;
  EXPECT_NE(text.find("physics/3"), std::string::npos) << text;

  EXPECT_EQ(error_of(std::string(two_nodes) + R"([actors.physics]
regions = 8
grid = [2, 2, 1]
)").to_string(),
            "test.toml:9:1: actors.physics.grid: [2, 2, 1] has 4 cells for 8 regions: each region steps one "
            "cell, so set regions = 4");
}

TEST(TopologyRegions, ReadersWithLatestMailboxesHoldAPieceOfEverySender) {
  const Topology topology = topology_of(std::string(two_nodes) + R"([actors.physics]
regions = 4
[actors.observer]
[actors.fast]
kind = "observer"
mailbox = { capacity = 64, overflow = "latest" }
[actors.audio]
)");
  EXPECT_EQ(topology.actor("observer")->mailbox.capacity, 20u); // 4 x (4 regions + logic)
  EXPECT_EQ(topology.actor("fast")->mailbox.capacity, 64u);     // already more
  EXPECT_EQ(topology.actor("audio")->mailbox.capacity, 256u);   // drop-oldest: contacts only
}

TEST(TopologyRegions, TheShippedRegionExamplesLoad) {
  const Topology four = load_example("regions-four.toml");
  ASSERT_EQ(four.with_role(Role::stepper).size(), 4u);
  EXPECT_EQ(four.actor("physics/1")->node, "region-node");
  EXPECT_EQ(four.actor("physics/2")->node, "main");
  EXPECT_EQ(separate_processes_error(four), "");
  const Topology million = load_example("regions-million.toml");
  EXPECT_EQ(million.simulation.bodies, 1'000'000u);
  ASSERT_EQ(million.with_role(Role::stepper).size(), 4u);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(million.actor("physics/" + std::to_string(i))->node, "region-" + std::to_string(i));
  EXPECT_EQ(million.the(Role::stepper).params_as<PhysicsParams>().rebalance, "auto");
  EXPECT_EQ(separate_processes_error(million), "");
}

TEST(TopologyRegions, BadLayoutsNameFileLineAndKey) {
  EXPECT_EQ(error_of(std::string(two_nodes) + "[actors.physics]\nregions = 0\n").to_string(),
            "test.toml:8:1: actors.physics.regions: expected an integer in [1, 1024], got 0");
  EXPECT_EQ(error_of(std::string(two_nodes) + "[actors.physics]\nregions = 2\nregion_nodes = [\"node-c\"]\n")
              .to_string(),
            "test.toml:9:1: actors.physics.region_nodes: no node named \"node-c\"; nodes are node-a and node-b");
  EXPECT_EQ(error_of(std::string(two_nodes) + "[actors.physics]\nregions = 2\nregion_nodes = [1]\n").to_string(),
            "test.toml:9:1: actors.physics.region_nodes: expected an array of node names such as [\"node-a\", "
            "\"node-b\"], got an array");
  EXPECT_EQ(error_of(std::string(two_nodes) + "[actors.physics]\nregion_nodes = [\"node-a\"]\n").to_string(),
            "test.toml:8:1: actors.physics.region_nodes: places regions, but regions = 1: set regions to 2 or more");
  EXPECT_EQ(error_of(std::string(two_nodes) + "[actors.physics]\nregions = 2\ngrid = [2, 1]\n").to_string(),
            "test.toml:9:1: actors.physics.grid: expected an array of 3 integers, each an integer in [1, 1024], "
            "got an array");
  // A float where an integer belongs is refused, however large (toml++ would cast 1e92 out of range).
  EXPECT_EQ(error_of(std::string(two_nodes) + "[actors.physics]\nregions = 2\ngrid = [1e92, 1, 1]\n").to_string(),
            "test.toml:9:1: actors.physics.grid: expected an array of 3 integers, each an integer in [1, 1024], "
            "got an array");
  EXPECT_EQ(error_of(std::string(two_nodes) + "[actors.physics]\nregions = 2\ngrid = [2.0, 1, 1]\n").to_string(),
            "test.toml:9:1: actors.physics.grid: expected an array of 3 integers, each an integer in [1, 1024], "
            "got an array");
  EXPECT_EQ(error_of(std::string(two_nodes) + "[actors.physics]\nregions = 2\ncut = \"w\"\n").to_string(),
            "test.toml:9:1: actors.physics.cut: expected x, y or z, got \"w\"");
}

} // namespace
} // namespace troupe::config

namespace troupe::config {
namespace {

TEST(TopologyNetwork, UngreetedConnectionsAreCappedPerNodeAndPerAddress) {
  const Topology t = topology_of(std::string(minimal) + "[network]\nmax_ungreeted = 40\nmax_ungreeted_per_address = 5\n");
  EXPECT_EQ(t.network.max_ungreeted, 40u);
  EXPECT_EQ(t.network.max_ungreeted_per_address, 5u);
  EXPECT_EQ(topology_of(minimal).network.max_ungreeted_per_address, 16u);
  EXPECT_EQ(error_of(std::string(minimal) + "[network]\nmax_ungreeted_per_address = 0\n").to_string(),
            "test.toml:8:1: network.max_ungreeted_per_address: expected an integer in [1, 100000], got 0");
}

} // namespace
} // namespace troupe::config
