// The runtime in this process (so the sanitizer presets cover the real logic,
// input, physics and observer actors, and the middleman path between nodes).

#include <troupe/actors/runtime.hpp>
#include <troupe/actors/subsystem.hpp>
#include <troupe/config/topology.hpp>

#include <gtest/gtest.h>

#include <caf/actor_system_config.hpp>

#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace troupe {
namespace {

/// A small topology: `nodes` nodes, physics on the last one.
config::Topology topology(int nodes, const std::string& dir, const std::string& logic_mailbox = "",
                          const std::string& physics = "") {
  std::ofstream(dir + "/t.timeline") << "5 spawn 0 6 0 0 0 0 0.6\n10 shake 0 2 0\n12 burst 2000\n"
                                        "20 gravity 0 -4 0\n30 pause\n32 resume\n";
  std::string text = "[simulation]\nticks = 40\nseed = 3\nbodies = 300\nthreads = 2\n";
  for (int i = 0; i < nodes; ++i)
    text += "[[nodes]]\nname = \"n" + std::to_string(i) + "\"\n";
  text += "[actors.physics]\nnode = \"n" + std::to_string(nodes - 1) + "\"\n" + physics;
  text += "[actors.logic]\n" + logic_mailbox;
  text += "[actors.input]\ntimeline = \"t.timeline\"\nlead_ticks = 3\n";
  text += "[actors.observer]\nkind = \"observer\"\n";
  auto parsed = config::parse_topology(text, dir + "/t.toml", subsystems());
  if (!parsed)
    ADD_FAILURE() << parsed.error();
  return *parsed;
}

std::string fresh_dir(const std::string& name) {
  auto dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test-output" / ("runtime-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

/// A run's options for a test: outputs in `dir`, no progress line.
RunOptions quiet_options(const std::string& dir) {
  RunOptions options;
  options.out_dir = dir;
  options.progress = false;
  return options;
}

RunResult run_in(const config::Topology& t, const std::string& dir, std::uint32_t threads) {
  auto options = quiet_options(dir);
  options.threads = threads;
  auto result = run(t, options);
  EXPECT_TRUE(result.ok) << result.error;
  return result;
}

double counter(const RunResult& r, const std::string& actor, const std::string& name) {
  for (auto& a : r.actors)
    if (a.name == actor)
      for (auto& [n, v] : a.counters)
        if (n == name)
          return v;
  return -1;
}

TEST(Runtime, OneNodeAndTwoNodesAndAnyThreadCountAgree) {
  const auto one_dir = fresh_dir("one");
  const auto two_dir = fresh_dir("two");
  auto one = run_in(topology(1, one_dir), one_dir, 1);
  auto two = run_in(topology(2, two_dir), two_dir, 2);
  EXPECT_EQ(one.ticks, 40u);
  EXPECT_EQ(one.world_hash, two.world_hash);
  EXPECT_EQ(counter(one, "logic", "commands_applied"), 5);
  EXPECT_EQ(counter(two, "input", "commands_sent"), counter(two, "logic", "commands_applied"));
  EXPECT_GT(counter(two, "observer", "snapshots_seen"), 0);
  EXPECT_EQ(counter(two, "observer", "out_of_order"), 0);
}

// A batch run wakes physics for the next step right after publishing a tick;
// its thread must not take the core of the worker still handing that tick to
// the readers. A realtime run keeps the step's claim on a core.
TEST(Runtime, PhysicsYieldsOnWakeupInABatchRunOnly) {
  const auto batch_dir = fresh_dir("batch-policy");
  const auto realtime_dir = fresh_dir("realtime-policy");
  auto batch = run_in(topology(1, batch_dir), batch_dir, 1);
  auto paced = quiet_options(realtime_dir);
  paced.threads = 1;
  paced.mode = config::Mode::realtime; // 40 ticks at 60 Hz
  auto realtime = run(topology(1, realtime_dir), paced);
  ASSERT_TRUE(realtime.ok) << realtime.error;
  EXPECT_EQ(counter(batch, "physics", "yields_on_wakeup"), 1);
  EXPECT_EQ(counter(realtime, "physics", "yields_on_wakeup"), 0);
  EXPECT_EQ(batch.world_hash, realtime.world_hash);
}

/// Pages this thread faulted in while running `touch`.
template <class F> long page_faults_of(F&& touch) {
  rusage before{}, after{};
  ::getrusage(RUSAGE_THREAD, &before);
  touch();
  ::getrusage(RUSAGE_THREAD, &after);
  return after.ru_minflt - before.ru_minflt;
}

// A process that runs actor systems keeps big freed blocks for the next tick:
// a world-sized buffer freed and asked for again costs no new pages (glibc
// mapped and unmapped it each time, a page fault per 4 KiB touched).
TEST(Runtime, AProcessWithAnActorSystemReusesFreedWorldSizedBuffers) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizers bring their own allocator";
#endif
  if (const char* tunables = std::getenv("GLIBC_TUNABLES"); tunables && std::strstr(tunables, "glibc.malloc."))
    GTEST_SKIP() << "GLIBC_TUNABLES sets malloc's thresholds";
  caf::actor_system_config cfg;
  configure_actor_system(cfg);
  constexpr std::size_t bytes = 8u << 20; // the body table of 250k bodies
  auto fill = [] {
    std::vector<char> buffer(bytes, 1);
    return static_cast<int>(buffer[bytes / 2]);
  };
  EXPECT_EQ(fill(), 1); // the first time may take new pages
  const long faults = page_faults_of([&] { EXPECT_EQ(fill(), 1); });
  EXPECT_LT(faults, 64) << "an 8 MiB buffer asked for again took " << faults << " new pages of " << bytes / 4096;
}

TEST(Runtime, RegionsOnTwoNodesGiveTheOneActorHashThroughARestartAndARebalance) {
  // The region actors in this process (so the sanitizer presets cover them):
  // three regions over two nodes, one of them killed mid-run, the cuts moved
  // by themselves; parts of every generation cross the middleman to the
  // observer and are put together there.
  const auto one_dir = fresh_dir("regions-one");
  const auto split_dir = fresh_dir("regions-split");
  auto one = run_in(topology(1, one_dir), one_dir, 2);
  auto options = quiet_options(split_dir);
  options.threads = 2;
  options.kill["physics/1"] = 15;
  const auto split = run(topology(2, split_dir, "", "regions = 3\nregion_nodes = [\"n0\", \"n1\"]\n"
                                                   "rebalance = \"auto\"\nrebalance_every = 10\n"),
                         options);
  ASSERT_TRUE(split.ok) << split.error;
  EXPECT_EQ(split.world_hash, one.world_hash);
  EXPECT_EQ(counter(split, "physics/1", "incarnation"), 1);
  EXPECT_EQ(counter(split, "physics/1", "steps"), 40);
  EXPECT_GE(counter(split, "logic", "rebalances"), 1);
  EXPECT_GT(counter(split, "observer", "snapshots_seen"), 0);
  EXPECT_EQ(counter(split, "observer", "out_of_order"), 0);
  EXPECT_EQ(counter(split, "logic", "commands_applied"), 5);
}

TEST(Runtime, BurstIntoASmallDropOldestMailboxKeepsEveryCommand) {
  const auto dir = fresh_dir("burst");
  auto r = run_in(topology(1, dir, "mailbox = { capacity = 16, overflow = \"drop-oldest\" }\n"), dir, 2);
  const ActorReport* logic = nullptr;
  for (auto& a : r.actors)
    if (a.name == "logic")
      logic = &a;
  ASSERT_NE(logic, nullptr);
  EXPECT_LE(logic->mailbox.high_water, 16u);
  EXPECT_EQ(counter(r, "input", "input_events_sent"), 2000);
  EXPECT_EQ(counter(r, "logic", "commands_applied"), counter(r, "input", "commands_sent"));
}

TEST(Runtime, UnreadableCheckpointIsAnErrorWithItsPath) {
  const auto dir = fresh_dir("bad-checkpoint");
  auto options = quiet_options(dir);
  options.resume_from = dir + "/missing.ckpt";
  auto r = run(topology(1, dir), options);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.code, errc::bad_file);
  EXPECT_NE(r.error.to_string().find("missing.ckpt"), std::string::npos) << r.error;
}

} // namespace
} // namespace troupe

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <troupe/messages/caf_types.hpp>

#include "common/net.hpp"
#include "wire.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>

namespace troupe {
namespace {

using testing::free_port;

/// Another node in this process: an actor system of its own whose connections
/// go through a gate that knows `key` (or a key of its own).
struct RemoteNode {
  explicit RemoteNode(std::optional<wire::ClusterKey> key) {
    cfg.load<caf::io::middleman>();
    register_message_types(cfg);
    system = std::make_unique<caf::actor_system>(cfg);
    gate = std::make_shared<wire::Gate>("remote", wire::Limits{}, key);
    mm = wire::spawn_middleman(*system, gate, false);
  }
  ~RemoteNode() { caf::anon_send_exit(mm, caf::exit_reason::user_shutdown); }
  caf::expected<caf::actor> directory(std::uint16_t port) { return wire::remote_actor(*system, mm, "127.0.0.1", port); }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> system;
  std::shared_ptr<wire::Gate> gate;
  caf::io::middleman_actor mm;
};

/// A key file in `dir` (the run reads it; the test's remote node knows it).
wire::ClusterKey key_in(const std::string& dir, RunOptions& options) {
  options.key_file = dir + "/cluster.key";
  std::filesystem::remove(options.key_file);
  auto key = wire::write_key_file(options.key_file);
  EXPECT_TRUE(key) << key.error();
  return *key;
}

TEST(Runtime, AReloadSentFromAnotherNodeIsInstalled) {
  // A live input takes commands from anyone: here an actor system of its own
  // (another node, over the middleman) asks for a rules plugin mid-run.
  const auto dir = fresh_dir("remote-reload");
  const auto port = free_port();
  const std::string text = "[simulation]\nticks = 2000\nseed = 3\nbodies = 300\n"
                           "[[nodes]]\nname = \"n0\"\nport = " + std::to_string(port) + "\n"
                           "[actors.physics]\n[actors.logic]\ninstall_after_ticks = 20\n"
                           "plugin_dir = \"" TROUPE_PLUGIN_DIR "\"\n"
                           "[actors.input]\nlive = true\n";
  auto parsed = config::parse_topology(text, dir + "/t.toml", subsystems());
  ASSERT_TRUE(parsed) << parsed.error();
  const auto t = *parsed;

  auto options = quiet_options(dir);
  RemoteNode node{key_in(dir, options)};
  auto& remote = *node.system;
  bool sent = false;
  options.topology_text = text;
  options.on_progress = [&](std::uint64_t tick, std::uint64_t, std::size_t, double) {
    if (sent || tick < 20)
      return;
    sent = true;
    auto directory = node.directory(port);
    ASSERT_TRUE(directory) << remote.render(directory.error());
    caf::scoped_actor self{remote};
    // A node answers only peers that greeted it with its version and topology.
    self->request(*directory, std::chrono::seconds(10), hello_atom::value, protocol_version,
                  config::topology_digest(t), std::string{"remote"}, caf::actor{})
      .receive([](std::string&) {}, [&](caf::error& e) { ADD_FAILURE() << remote.render(e); });
    self->request(*directory, std::chrono::seconds(10), lookup_atom::value, std::string{"input"})
      .receive([&](caf::actor& input) {
                 self->send(input, action_atom::value, std::string{"reload "} + TROUPE_PLUGIN_DIR + "/wind.so");
               },
               [&](caf::error& e) { ADD_FAILURE() << remote.render(e); });
  };
  auto result = run(t, options);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_TRUE(sent);
  EXPECT_EQ(counter(result, "logic", "rules_installed"), 1);
  EXPECT_EQ(counter(result, "input", "live_commands"), 1);
}

TEST(Runtime, ANodeRefusesPeersOfAnotherVersionOrTopologyAndThoseThatDidNotGreet) {
  const auto dir = fresh_dir("greeting");
  const auto port = free_port();
  const std::string text = "[simulation]\nticks = 400\nseed = 3\nbodies = 100\nmode = \"realtime\"\n"
                           "[[nodes]]\nname = \"n0\"\nport = " + std::to_string(port) + "\n"
                           "[actors.physics]\n[actors.logic]\n[actors.input]\n";
  auto parsed = config::parse_topology(text, dir + "/t.toml", subsystems());
  ASSERT_TRUE(parsed) << parsed.error();
  const auto t = *parsed;
  auto other = t;
  other.simulation.bodies = 101; // another topology: another digest
  ASSERT_NE(config::topology_digest(t), config::topology_digest(other));

  auto options = quiet_options(dir);
  RemoteNode node{key_in(dir, options)};
  auto& remote = *node.system;
  std::vector<std::string> answers;
  bool asked = false;
  options.topology_text = text;
  options.on_progress = [&](std::uint64_t tick, std::uint64_t, std::size_t, double) {
    if (asked || tick < 10)
      return;
    asked = true;
    auto directory = node.directory(port);
    ASSERT_TRUE(directory) << remote.render(directory.error());
    caf::scoped_actor self{remote};
    auto note = [&](caf::error& e) { answers.push_back(remote.render(e)); };
    // A greeting without a sender (as BASP delivers one whose link went down
    // as it arrived) admits no one and leaves the node up: it crashed the
    // node once (a SIGSEGV when a frozen node was thawed).
    caf::anon_send(*directory, hello_atom::value, protocol_version, config::topology_digest(t),
                   std::string{"anonymous"}, caf::actor{});
    self->request(*directory, std::chrono::seconds(10), lookup_atom::value, std::string{"input"})
      .receive([&](caf::actor&) { answers.push_back("lookup served"); }, note);
    self->request(*directory, std::chrono::seconds(10), hello_atom::value, protocol_version + 1,
                  config::topology_digest(t), std::string{"old"}, caf::actor{})
      .receive([&](std::string&) { answers.push_back("greeted"); }, note);
    self->request(*directory, std::chrono::seconds(10), hello_atom::value, protocol_version,
                  config::topology_digest(other), std::string{"stranger"}, caf::actor{})
      .receive([&](std::string&) { answers.push_back("greeted"); }, note);
  };
  auto result = run(t, options);
  ASSERT_TRUE(result.ok) << result.error; // the node kept running
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_NE(answers[0].find("has not greeted"), std::string::npos) << answers[0];
  EXPECT_NE(answers[1].find("refused node old: it speaks protocol version " + std::to_string(protocol_version + 1)),
            std::string::npos)
    << answers[1];
  EXPECT_NE(answers[2].find("refused node stranger: its topology differs"), std::string::npos) << answers[2];
}

/// A raw client that passes the greeting with `key` (as wire.cpp defines it)
/// and then writes `after` straight to the socket: what a peer that knows the
/// key could send BASP.
bool greet_and_send(std::uint16_t port, const wire::ClusterKey& key, const std::vector<unsigned char>& after) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return false;
  unsigned char hello[40];
  if (::recv(fd, hello, sizeof hello, MSG_WAITALL) != 40)
    return false;
  unsigned char nonce[32];
  RAND_bytes(nonce, 32);
  auto mac = [&](const char* label, const unsigned char* first, const unsigned char* second) {
    std::vector<unsigned char> data(label, label + std::strlen(label));
    data.insert(data.end(), first, first + 32);
    data.insert(data.end(), second, second + 32);
    std::vector<unsigned char> out(32);
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.bytes.data(), 32, data.data(), data.size(), out.data(), &length);
    return out;
  };
  std::array<unsigned char, 72> proof{};
  std::memcpy(proof.data(), hello, 8); // magic and version, as the server's
  std::memcpy(proof.data() + 8, nonce, 32);
  const auto m = mac("troupe client", hello + 8, nonce);
  std::memcpy(proof.data() + 40, m.data(), 32);
  ::send(fd, proof.data(), proof.size(), MSG_NOSIGNAL);
  unsigned char answer[32];
  if (::recv(fd, answer, sizeof answer, MSG_WAITALL) != 32)
    return false;
  ::send(fd, after.data(), after.size(), MSG_NOSIGNAL);
  char sink[4096];
  while (::recv(fd, sink, sizeof sink, 0) > 0) {
  } // until the node cuts the connection
  ::close(fd);
  return true;
}

TEST(Runtime, APeerWithTheKeyIsStillCutOffForAMessageOverTheSizeLimit) {
  const auto dir = fresh_dir("oversize");
  const auto port = free_port();
  const std::string text = "[simulation]\nticks = 100000\nseed = 3\nbodies = 100\nmode = \"realtime\"\n"
                           "[network]\nmax_message_bytes = 65536\n"
                           "[[nodes]]\nname = \"n0\"\nport = " + std::to_string(port) + "\n"
                           "[actors.physics]\n[actors.logic]\n[actors.input]\n";
  auto parsed = config::parse_topology(text, dir + "/t.toml", subsystems());
  ASSERT_TRUE(parsed) << parsed.error();
  auto options = quiet_options(dir);
  const auto key = key_in(dir, options);
  options.topology_text = text;
  std::atomic<bool> stop{false};
  options.stop_requested = &stop;
  bool greeted = false, tried = false;
  options.on_progress = [&](std::uint64_t tick, std::uint64_t, std::size_t, double) {
    if (tried || tick < 10)
      return;
    tried = true;
    // A client handshake whose header claims 1 MiB, over the 64 KiB limit.
    std::vector<unsigned char> header(32, 0);
    header[0] = 1;
    header[5] = 0x10; // payload_len 0x00100000, big endian
    greeted = greet_and_send(port, key, header);
    stop = true;
  };
  auto result = run(*parsed, options);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_TRUE(greeted) << "the greeting with the right key passes";
  EXPECT_EQ(counter(result, "links@n0", "refused_oversize"), 1);
  EXPECT_EQ(counter(result, "links@n0", "refused_authentication"), 0);
}

TEST(Runtime, APeerThatDoesNotKnowTheClusterKeyReachesNoActor) {
  // Plain TCP: a program that knows the config (and so the greeting's version
  // and digest) but not the key gets no byte past the gate: a node of another
  // key is refused at the proof, a plain CAF client is cut at the deadline.
  const auto dir = fresh_dir("no-key");
  const auto port = free_port();
  const std::string text = "[simulation]\nticks = 100000\nseed = 3\nbodies = 100\nmode = \"realtime\"\n"
                           "[network]\ngreeting_timeout_ms = 300\n"
                           "[[nodes]]\nname = \"n0\"\nport = " + std::to_string(port) + "\n"
                           "[actors.physics]\n[actors.logic]\n[actors.input]\nlive = true\n";
  auto parsed = config::parse_topology(text, dir + "/t.toml", subsystems());
  ASSERT_TRUE(parsed) << parsed.error();
  auto options = quiet_options(dir);
  key_in(dir, options);
  options.topology_text = text;
  std::atomic<bool> stop{false};
  options.stop_requested = &stop;
  std::vector<std::string> outcomes;
  bool tried = false;
  options.on_progress = [&](std::uint64_t tick, std::uint64_t, std::size_t, double) {
    if (tried || tick < 10)
      return;
    tried = true;
    RemoteNode stranger{wire::random_key()}; // another cluster's key
    auto found = stranger.directory(port);
    outcomes.push_back(found ? "reached" : stranger.system->render(found.error()));
    caf::actor_system_config cfg;
    cfg.load<caf::io::middleman>();
    register_message_types(cfg);
    caf::actor_system plain{cfg}; // no gate at all: BASP straight away
    auto direct = plain.middleman().remote_actor("127.0.0.1", port);
    outcomes.push_back(direct ? "reached" : plain.render(direct.error()));
    stop = true;
  };
  auto result = run(*parsed, options);
  ASSERT_TRUE(result.ok) << result.error; // the node ran on
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_NE(outcomes[0], "reached");
  EXPECT_NE(outcomes[1], "reached");
  EXPECT_GE(counter(result, "links@n0", "refused_authentication"), 1) << "the stranger's proof";
  EXPECT_GE(counter(result, "links@n0", "refused_greeting_deadline") + counter(result, "links@n0", "refused_malformed"),
            1)
    << "the plain client";
}

} // namespace
} // namespace troupe

namespace troupe {
namespace {

TEST(Gate, OneAddressCannotHoldOffTheOthers) {
  wire::Limits limits;
  limits.max_ungreeted = 5;
  limits.max_ungreeted_per_address = 2;
  limits.greeting_deadline = std::chrono::minutes(10); // no reaping during the test
  wire::Gate gate("n0", limits, std::nullopt);
  // Descriptors that are no sockets: the gate only counts them here.
  EXPECT_EQ(gate.admit(-101, "10.0.0.1:5000"), "");
  EXPECT_EQ(gate.admit(-102, "10.0.0.1:5001"), "");
  EXPECT_EQ(gate.admit(-103, "10.0.0.1:5002"),
            "too many connections from 10.0.0.1 that have not greeted yet (2)");
  EXPECT_EQ(gate.admit(-104, "10.0.0.11:5000"), "") << "another address, with the same prefix";
  EXPECT_EQ(gate.admit(-105, "10.0.0.2:5000"), "");
  gate.greeted(-101);
  EXPECT_EQ(gate.admit(-106, "10.0.0.1:5003"), "") << "one of its own greeted: room again";
  EXPECT_EQ(gate.admit(-107, "10.0.0.3:5000"), "");
  EXPECT_EQ(gate.admit(-108, "10.0.0.4:5000"), "too many connections that have not greeted yet (5)");
  for (int fd : {-102, -104, -105, -106, -107})
    gate.greeted(fd);
}

} // namespace
} // namespace troupe
