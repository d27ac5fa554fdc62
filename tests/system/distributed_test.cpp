// Nodes as processes: `troupe up` of the three-node example, a SIGKILLed node,
// peers of another protocol version, topology or CA. Real processes, real TCP
// on 127.0.0.1, ports the kernel picked.

#include "common/net.hpp"
#include "common/process.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace troupe::testing {
namespace {

using Clock = std::chrono::steady_clock;

/// The shipped three-node example with ports free on this machine, written
/// into `dir` (with its timeline); `extra` edits the text (TLS, another port).
struct Cluster {
  std::string dir;
  std::string config;
  std::uint16_t ports[3];
};

Cluster three_nodes(const std::string& dir, const std::string& name = "three.toml") {
  Cluster cluster{dir, dir + "/" + name, {free_port(), free_port(), free_port()}};
  auto text = read_text(examples + "sandbox-three-nodes.toml");
  for (int i = 0; i < 3; ++i)
    text = std::regex_replace(text, std::regex("port = 4710" + std::to_string(i + 1)),
                              "port = " + std::to_string(cluster.ports[i]));
  std::filesystem::copy_file(examples + "sandbox.timeline", dir + "/sandbox.timeline",
                             std::filesystem::copy_options::overwrite_existing);
  std::ofstream(cluster.config) << text;
  return cluster;
}

/// Writes a variant of a cluster's config: `from` replaced by `to`.
std::string variant(const Cluster& cluster, const std::string& name,
                    const std::vector<std::pair<std::string, std::string>>& edits) {
  auto text = read_text(cluster.config);
  for (const auto& [from, to] : edits) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos)
      text.replace(at, from.size(), to);
  }
  const auto path = cluster.dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

/// Mutual TLS for every node of a cluster config, certificates from `certs`.
void with_tls(const std::string& config, const std::string& certs) {
  auto text = read_text(config); // read before the file is rewritten
  text = std::regex_replace(text, std::regex("keyframe_every = 30\n"), "keyframe_every = 30\ntls_ca = \"" + certs + "/ca.pem\"\n");
  for (const std::string node : {"main", "physics-node", "media-node"})
    text = std::regex_replace(text, std::regex("name = \"" + node + "\"\n"),
                              "name = \"" + node + "\"\ntls_certificate = \"" + certs + "/" + node +
                                ".pem\"\ntls_key = \"" + certs + "/" + node + ".key\"\n");
  std::ofstream(config) << text;
}

/// The hash of the one-process run of the same simulation (sandbox.toml).
std::string one_process_hash(const std::string& dir, int ticks) {
  const auto run = run_command(exe + " run " + examples + "sandbox.toml --quiet --ticks " + std::to_string(ticks) +
                               " --out " + dir);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  return report_hash(read_text(dir + "/report.json"));
}


/// Run `dir` recorded every frame (one each 60 ticks) through `ticks` and
/// the WAV as the one-process run `one` did, byte for byte.
void expect_same_frames_and_sound(const std::string& dir, const std::string& one, int ticks) {
  expect_same_frames(dir, one, static_cast<std::size_t>(ticks / 60));
  expect_same_bytes(dir + "/audio.wav", one + "/audio.wav");
}

TEST(Distributed, UpOfThreeNodesGivesTheOneProcessHashFramesAndSound) {
  const auto dir = fresh_dir("up-three");
  const auto cluster = three_nodes(dir);
  const auto one = one_process_hash(dir + "/one", 240);
  const auto up = run_command(exe + " up " + cluster.config + " --quiet --ticks 240 --out " + dir + "/up");
  ASSERT_EQ(up.exit_code, 0) << up.output;
  const auto json = read_text(dir + "/up/report.json");
  EXPECT_EQ(report_hash(json), one);
  EXPECT_EQ(commands_lost(json), 0);
  // Render and audio ran on their own node, in their own process.
  EXPECT_TRUE(has_actor_on(json, "render", "media-node"));
  // Each node's process counts what it sent: physics sends whole worlds back,
  // logic exact worlds to physics and compact ones to the media node.
  EXPECT_GT(actor_value(json, "links@physics-node", "process_wire_bytes_sent"), 0);
  EXPECT_GT(actor_value(json, "links@main", "process_wire_bytes_sent"), 0);
  EXPECT_GT(actor_value(json, "logic", "compact_snapshots_sent"), 0);
  EXPECT_LE(actor_value(json, "logic", "bytes_per_moving_body"), 8);
  // Every compact encode and decode is timed, one sample each (the floor
  // BM_SnapshotAcrossProcesses prints is read from these).
  EXPECT_EQ(distribution_count(json, "logic", "compact_encode_us"), actor_value(json, "logic", "compact_snapshots_sent"));
  EXPECT_GT(actor_value(json, "render", "compact_received"), 0);
  EXPECT_EQ(distribution_count(json, "render", "compact_decode_us"), actor_value(json, "render", "compact_received"));
  expect_same_frames_and_sound(dir + "/up", dir + "/one", 240);
  // The other nodes ended on the coordinator's word.
  EXPECT_NE(read_text(dir + "/up/logs/physics-node.log").find("the run is over"), std::string::npos);
  EXPECT_NE(read_text(dir + "/up/logs/media-node.log").find("the run is over"), std::string::npos);
}

TEST(Distributed, ASigkilledPhysicsNodeIsNoticedWithinTwoSecondsRestartedAndTheRunEndsTheSame) {
  const auto dir = fresh_dir("up-sigkill");
  const auto cluster = three_nodes(dir);
  const auto one = one_process_hash(dir + "/one", 300);
  FILE* up = start_up(cluster.config, "--realtime --ticks 300 --out " + dir + "/up");
  ASSERT_NE(up, nullptr);
  std::string output;
  const auto pid = kill_mid_run(up, "physics-node", 60, output);
  ASSERT_GT(pid, 0) << output;
  const auto killed = Clock::now();
  ASSERT_TRUE(wait_for(up, "lost node physics-node", output)) << output;
  const auto noticed = Clock::now() - killed;
  EXPECT_LT(noticed, std::chrono::seconds(2));
  ASSERT_TRUE(wait_for(up, "node physics-node is back after", output)) << output;
  const int code = finish(up, output);
  ASSERT_EQ(code, 0) << output;
  EXPECT_NE(output.find("died from SIGKILL; restarting"), std::string::npos) << output;
  const auto json = read_text(dir + "/up/report.json");
  EXPECT_EQ(report_hash(json), one);
  EXPECT_EQ(commands_lost(json), 0);
  EXPECT_EQ(actor_value(json, "links@main", "peers_back"), 1);
}

TEST(Distributed, NodesStoppedAndContinuedInTurnsLeaveTheUndisturbedHash) {
  // Links that flap: physics-node, then media-node, then both at once, are
  // frozen (SIGSTOP) past the node timeout and thawed (SIGCONT): each time
  // their peers lose them and find them again, and the run converges.
  const auto dir = fresh_dir("up-flapping");
  const auto cluster = three_nodes(dir);
  const auto one = one_process_hash(dir + "/one", 900);
  FILE* up = start_up(cluster.config, "--realtime --ticks 900 --out " + dir + "/up");
  ASSERT_NE(up, nullptr);
  std::string output;
  std::map<std::string, int> pids;
  for (const std::string node : {"physics-node", "media-node"}) {
    ASSERT_TRUE(wait_for(up, "node " + node + " started (pid ", output)) << output;
    pids[node] = std::stoi(output.substr(output.rfind("(pid ") + 5));
  }
  const std::vector<std::vector<std::string>> turns = {{"physics-node"}, {"media-node"}, {"physics-node", "media-node"}};
  std::uint64_t tick = 120;
  for (const auto& frozen : turns) {
    ASSERT_TRUE(wait_for_tick(up, tick, output)) << output;
    for (const auto& node : frozen)
      ASSERT_EQ(::kill(pids[node], SIGSTOP), 0);
    // Logic's node notices one of them (it reaches lost nodes one at a time).
    ASSERT_TRUE(wait_for(up, "node main: lost node ", output)) << output;
    for (const auto& node : frozen)
      ASSERT_EQ(::kill(pids[node], SIGCONT), 0);
    ASSERT_TRUE(wait_for(up, " is back after", output)) << output;
    tick += 150;
  }
  ASSERT_EQ(finish(up, output), 0) << output;
  const auto json = read_text(dir + "/up/report.json");
  EXPECT_EQ(report_hash(json), one);
  EXPECT_EQ(commands_lost(json), 0);
  EXPECT_GE(actor_value(json, "links@main", "peers_back"), 3);
}

/// What `up` left when one node was SIGKILLed mid-run: its report and output.
struct KilledRun {
  std::string json;
  std::string output;
};

/// `troupe up` of the three-node example, realtime through 300 ticks (`args`
/// added), with `node` SIGKILLed once the run passed `tick`. Once up said
/// `recovered` the run must end as the one-process run did: up saw the kill
/// and restarted the node, the same hash, no command lost, every recorded
/// frame and the WAV byte for byte.
KilledRun up_with_a_node_killed(const std::string& dir, const std::string& node, std::uint64_t tick,
                                const std::string& args, const std::string& recovered) {
  KilledRun run;
  const auto cluster = three_nodes(dir);
  const auto one = one_process_hash(dir + "/one", 300);
  FILE* up = start_up(cluster.config, "--realtime --ticks 300 " + args + " --out " + dir + "/up");
  EXPECT_NE(up, nullptr);
  if (!up)
    return run;
  const auto pid = kill_mid_run(up, node, tick, run.output);
  EXPECT_GT(pid, 0) << run.output;
  EXPECT_TRUE(wait_for(up, recovered, run.output)) << run.output;
  EXPECT_EQ(finish(up, run.output), 0) << run.output;
  EXPECT_NE(run.output.find("node " + node + " (pid " + std::to_string(pid) + ") died from SIGKILL; restarting"),
            std::string::npos)
    << run.output;
  run.json = read_text(dir + "/up/report.json");
  EXPECT_EQ(report_hash(run.json), one);
  EXPECT_EQ(commands_lost(run.json), 0);
  expect_same_frames_and_sound(dir + "/up", dir + "/one", 300);
  return run;
}

TEST(Distributed, ASigkilledLogicNodeResumesFromItsNewestCheckpointAndTheRunEndsTheSame) {
  // Render and audio live on in their own process: every recorded frame and
  // the WAV, as in one process (logic's checkpoint waits until audio took
  // every contact batch before it, and the ticks run again are not heard twice).
  up_with_a_node_killed(fresh_dir("up-sigkill-main"), "main", 100, "--checkpoint-every 30",
                        "node main: resuming from");
}

TEST(Distributed, ASigkilledReaderNodeWritesEveryRecordedFrameAndTheWholeWavOnceRestarted) {
  // Render's cursor (the next tick it records) died with its process: the
  // restarted render learns it from logic, which kept every frame not yet
  // acknowledged, and writes them all. Audio's mixer died too: the restarted
  // audio renders the WAV again from its log of contact batches, and logic
  // sends the batches it has not acknowledged.
  const auto dir = fresh_dir("up-sigkill-media");
  const auto run = up_with_a_node_killed(dir, "media-node", 130, "", "node media-node is back after");
  EXPECT_NE(read_text(dir + "/up/logs/media-node.log").find("audio: rendered "), std::string::npos);
  EXPECT_GT(actor_value(run.json, "audio", "contact_batches_replayed"), 0);
}

TEST(Distributed, ANodeOfAnotherProtocolVersionOrTopologyIsRefusedAndTheClusterRunsOn) {
  const auto dir = fresh_dir("up-refused");
  const auto cluster = three_nodes(dir);
  const auto one = one_process_hash(dir + "/one", 300);
  FILE* up = start_up(cluster.config, "--realtime --ticks 300 --out " + dir + "/up");
  ASSERT_NE(up, nullptr);
  std::string output;
  ASSERT_TRUE(wait_for_tick(up, 60, output)) << output;
  // A second physics-node (its own port) that speaks another protocol version...
  const auto port = "port = " + std::to_string(cluster.ports[1]);
  const auto rogue = variant(cluster, "rogue.toml", {{port, "port = " + std::to_string(free_port())}});
  // (It knows this launch's cluster key: up wrote it to its folder.)
  const auto key = " --key-file " + dir + "/up/cluster.key";
  const auto old = run_command(exe + " node " + rogue + " --node physics-node --announce-version 1 --out " + dir +
                                 "/rogue" + key,
                               60);
  EXPECT_EQ(old.exit_code, 2) << old.output;
  EXPECT_NE(old.output.find("refused by node media-node"), std::string::npos) << old.output;
  EXPECT_NE(old.output.find("it speaks protocol version 1, node media-node speaks"), std::string::npos) << old.output;
  // ...and one started from another simulation.
  const auto other = variant(cluster, "other.toml",
                             {{port, "port = " + std::to_string(free_port())}, {"bodies = 2000", "bodies = 2001"}});
  const auto stranger =
    run_command(exe + " node " + other + " --node physics-node --out " + dir + "/stranger" + key, 60);
  EXPECT_EQ(stranger.exit_code, 2) << stranger.output;
  EXPECT_NE(stranger.output.find("its topology differs"), std::string::npos) << stranger.output;
  // The cluster never noticed beyond a line in media-node's log.
  ASSERT_EQ(finish(up, output), 0) << output;
  EXPECT_EQ(report_hash(read_text(dir + "/up/report.json")), one);
  const auto media_log = read_text(dir + "/up/logs/media-node.log");
  EXPECT_NE(media_log.find("refused node physics-node: it speaks protocol version 1"), std::string::npos) << media_log;
}

/// A client socket connected to 127.0.0.1:port, or -1.
int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// A BASP header: operation, payload length, destination actor (big endian).
std::vector<unsigned char> basp_header(std::uint8_t operation, std::uint32_t length, std::uint64_t dest) {
  std::vector<unsigned char> h(32, 0);
  h[0] = operation;
  for (int k = 0; k < 4; ++k)
    h[4 + k] = static_cast<unsigned char>(length >> (24 - 8 * k));
  for (int k = 0; k < 8; ++k)
    h[24 + k] = static_cast<unsigned char>(dest >> (56 - 8 * k));
  return h;
}

void send_bytes(int fd, const std::vector<unsigned char>& bytes) {
  for (std::size_t at = 0; at < bytes.size();) {
    const auto sent = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (sent <= 0)
      return; // the node cut us off: that is the point
    at += static_cast<std::size_t>(sent);
  }
}

TEST(Distributed, HostileBytesOnEveryPortLeaveTheRunUndisturbed) {
  // Everything the issue tried from outside, at every node of a running
  // cluster: a header claiming a 4 GiB payload, 1 MiB of random bytes,
  // well-formed headers with random payloads addressed to actor ids 1-64,
  // and 500 connections held open without a greeting.
  const auto dir = fresh_dir("up-hostile");
  const auto cluster = three_nodes(dir);
  const auto one = one_process_hash(dir + "/one", 400);
  FILE* up = start_up(cluster.config, "--realtime --ticks 400 --out " + dir + "/up");
  ASSERT_NE(up, nullptr);
  std::string output;
  ASSERT_TRUE(wait_for_tick(up, 60, output)) << output;
  std::mt19937_64 rng(99);
  std::vector<int> idle;
  for (const auto port : cluster.ports) {
    if (const int fd = connect_to(port); fd >= 0) {
      send_bytes(fd, basp_header(1, 0xfffffff0u, 0)); // a client handshake of ~4 GiB
      ::close(fd);
    }
    if (const int fd = connect_to(port); fd >= 0) {
      std::vector<unsigned char> noise(1 << 20);
      for (auto& b : noise)
        b = static_cast<unsigned char>(rng());
      send_bytes(fd, noise);
      ::close(fd);
    }
    for (std::uint64_t id = 1; id <= 64; ++id) {
      if (const int fd = connect_to(port); fd >= 0) {
        auto bytes = basp_header(2, 256, id);
        for (int k = 0; k < 256; ++k)
          bytes.push_back(static_cast<unsigned char>(rng()));
        send_bytes(fd, bytes);
        ::close(fd);
      }
    }
    for (int k = 0; k < 500 / 3 + 1; ++k)
      if (const int fd = connect_to(port); fd >= 0)
        idle.push_back(fd);
  }
  // Held past the greeting deadline (2 s): the nodes cut them, the run goes on.
  ASSERT_TRUE(wait_for_tick(up, 300, output)) << output;
  for (const int fd : idle)
    ::close(fd);
  ASSERT_EQ(finish(up, output), 0) << output;
  const auto json = read_text(dir + "/up/report.json");
  EXPECT_EQ(report_hash(json), one);
  EXPECT_EQ(commands_lost(json), 0);
  // Every node logged what it refused, with the peer's address.
  const std::string logs[] = {output, read_text(dir + "/up/logs/physics-node.log"),
                              read_text(dir + "/up/logs/media-node.log")};
  for (const auto& log : logs) {
    EXPECT_NE(log.find("refused peer 127.0.0.1:"), std::string::npos) << log.substr(0, 4000);
    EXPECT_NE(log.find("too many connections from 127.0.0.1 that have not greeted yet (16)"), std::string::npos);
    EXPECT_NE(log.find("no greeting within 2000 ms"), std::string::npos);
  }
  EXPECT_GT(actor_value(json, "links@main", "refused_malformed"), 60);
  EXPECT_GT(actor_value(json, "links@main", "refused_capacity"), 0);
  EXPECT_GT(actor_value(json, "links@main", "refused_greeting_deadline"), 0);
}

TEST(Distributed, MutualTlsRunsTheClusterAndRefusesANodeWithoutATrustedCertificate) {
  const auto dir = fresh_dir("up-tls");
  const auto script = std::string(TROUPE_SOURCE_DIR) + "/scripts/make-certs.sh";
  ASSERT_EQ(run_command(script + " " + dir + "/certs main physics-node media-node").exit_code, 0);
  ASSERT_EQ(run_command(script + " " + dir + "/other-ca physics-node").exit_code, 0);
  auto cluster = three_nodes(dir);
  with_tls(cluster.config, dir + "/certs");
  const auto one = one_process_hash(dir + "/one", 300);
  FILE* up = start_up(cluster.config, "--realtime --ticks 300 --out " + dir + "/up");
  ASSERT_NE(up, nullptr);
  std::string output;
  ASSERT_TRUE(wait_for_tick(up, 60, output)) << output;
  // Mid-run, a physics-node whose certificate another CA signed: no TLS
  // handshake with anyone, so it never gets to greet; it gives up.
  const auto rogue = variant(cluster, "rogue.toml",
                             {{"port = " + std::to_string(cluster.ports[1]), "port = " + std::to_string(free_port())},
                              {"connect_timeout_ms = 30000", "connect_timeout_ms = 2000"}});
  const auto rogue_text = std::regex_replace(read_text(rogue), std::regex(dir + "/certs/"), dir + "/other-ca/");
  std::ofstream(rogue) << rogue_text;
  const auto refused = run_command(exe + " node " + rogue + " --node physics-node --out " + dir + "/rogue", 60);
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("cannot reach node media-node"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("signed by the CA"), std::string::npos) << refused.output;
  // The cluster logged the refusal and ran on undisturbed.
  ASSERT_EQ(finish(up, output), 0) << output;
  EXPECT_EQ(report_hash(read_text(dir + "/up/report.json")), one);
  const auto media_log = read_text(dir + "/up/logs/media-node.log");
  EXPECT_NE(media_log.find("refused a TLS peer during the handshake"), std::string::npos) << media_log;
  EXPECT_EQ(media_log.find("lost node"), std::string::npos) << media_log;
}

} // namespace
} // namespace troupe::testing

namespace troupe::testing {
namespace {

/// Three "hosts" on this machine: network namespaces, each with a veth to a
/// bridge in a fourth one, addresses 10.77.N.1..3. Removed on destruction.
class ThreeHosts {
public:
  ThreeHosts() : tag_(std::to_string(::getpid() % 100000)) {
    ok_ = sh("ip netns add " + hub()) == 0;
    if (!ok_)
      return;
    ok_ = sh(in(hub(), "ip link add br0 type bridge") + " && " + in(hub(), "ip link set br0 up")) == 0;
    for (int i = 1; ok_ && i <= 3; ++i) {
      const auto ns = host(i);
      ok_ = sh("ip netns add " + ns) == 0 &&
            sh("ip link add h" + tag_ + std::to_string(i) + " netns " + ns + " type veth peer name port" +
               std::to_string(i) + " netns " + hub()) == 0 &&
            sh(in(ns, "ip link set h" + tag_ + std::to_string(i) + " name eth0") + " && " +
               in(ns, "ip addr add " + address(i) + "/24 dev eth0") + " && " + in(ns, "ip link set eth0 up") +
               " && " + in(ns, "ip link set lo up") + " && " +
               in(hub(), "ip link set port" + std::to_string(i) + " master br0") + " && " +
               in(hub(), "ip link set port" + std::to_string(i) + " up")) == 0;
    }
  }
  ~ThreeHosts() {
    for (int i = 1; i <= 3; ++i)
      sh("ip netns del " + host(i) + " 2>/dev/null");
    sh("ip netns del " + hub() + " 2>/dev/null");
  }
  bool ok() const { return ok_; }
  std::string host(int i) const { return "troupe" + tag_ + "-h" + std::to_string(i); }
  static std::string address(int i) { return "10.77.0." + std::to_string(i); }
  /// Cuts (or restores) host i's cable at the bridge.
  bool cable(int i, bool up) const {
    return sh(in(hub(), "ip link set port" + std::to_string(i) + (up ? " up" : " down"))) == 0;
  }
  std::string in(const std::string& ns, const std::string& command) const {
    return "ip netns exec " + ns + " " + command;
  }

private:
  std::string hub() const { return "troupe" + tag_ + "-hub"; }
  static int sh(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }
  std::string tag_;
  bool ok_ = false;
};

/// The three-node example on three hosts (`edit` changes its text first),
/// realtime: physics-node's cable is pulled for 3 s mid-run. Its silence is
/// noticed by the heartbeat timeout (2 s), logic holds the tick, and the run
/// goes on once it is back, to the one-process hash with nothing lost.
void run_with_a_cut_link(const ThreeHosts& hosts, const std::string& dir,
                         const std::function<void(std::string&)>& edit = {}) {
  auto cluster = three_nodes(dir);
  // The example's nodes on three hosts: each listens on its own address.
  auto text = read_text(cluster.config);
  for (int i = 0; i < 3; ++i) {
    const auto port = "port = " + std::to_string(cluster.ports[i]);
    text.replace(text.find(port), port.size(), "port = 47100");
  }
  for (int i = 1; i <= 3; ++i)
    text.replace(text.find("host = \"127.0.0.1\""), 18, "host = \"" + ThreeHosts::address(i) + "\"");
  // Plain TCP between hosts is the config's explicit choice.
  text.replace(text.find("[network]\n"), 10, "[network]\ninsecure = true\n");
  if (edit)
    edit(text);
  std::ofstream(cluster.config) << text;
  const auto one = one_process_hash(dir + "/one", 480);
  // Nodes started by hand share a cluster key of their own.
  const auto key = dir + "/cluster.key";
  ASSERT_EQ(run_command(exe + " key " + key).exit_code, 0);
  auto node = [&](int i, const std::string& name) {
    return hosts.in(hosts.host(i), "timeout -s KILL 120 " + exe + " node " + cluster.config + " --node " + name +
                                     " --key-file " + key + " --realtime --ticks 480 --out " + dir + "/" + name +
                                     " 2>&1");
  };
  FILE* physics = ::popen(node(2, "physics-node").c_str(), "r");
  FILE* media = ::popen(node(3, "media-node").c_str(), "r");
  FILE* main = ::popen(node(1, "main").c_str(), "r");
  ASSERT_TRUE(physics && media && main);
  std::string output;
  ASSERT_TRUE(wait_for_tick(main, 120, output)) << output;
  ASSERT_TRUE(hosts.cable(2, false));
  const auto cut = Clock::now();
  ASSERT_TRUE(wait_for(main, "lost node physics-node", output)) << output;
  EXPECT_LT(Clock::now() - cut, std::chrono::milliseconds(3500));
  std::this_thread::sleep_until(cut + std::chrono::seconds(3)); // the outage itself, not a synchronization
  ASSERT_TRUE(hosts.cable(2, true));
  ASSERT_TRUE(wait_for(main, "node physics-node is back after", output)) << output;
  EXPECT_EQ(finish(main, output), 0) << output;
  std::string rest;
  EXPECT_EQ(finish(physics, rest), 0) << rest;
  EXPECT_EQ(finish(media, rest), 0) << rest;
  const auto json = read_text(dir + "/main/report.json");
  EXPECT_EQ(report_hash(json), one);
  EXPECT_EQ(commands_lost(json), 0);
}

TEST(Distributed, ThreeHostsInNetworkNamespacesRunAndRecoverFromACutLink) {
  ThreeHosts hosts;
  if (!hosts.ok())
    GTEST_SKIP() << "cannot make network namespaces here (needs root and iproute2)";
  run_with_a_cut_link(hosts, fresh_dir("netns"));
}

TEST(Distributed, FourRegionsOnThreeHostsRecoverFromACutLink) {
  ThreeHosts hosts;
  if (!hosts.ok())
    GTEST_SKIP() << "cannot make network namespaces here (needs root and iproute2)";
  const auto dir = fresh_dir("netns-regions");
  run_with_a_cut_link(hosts, dir, [](std::string& text) {
    const std::string physics = "[actors.physics]\nnode = \"physics-node\"\n";
    text.replace(text.find(physics), physics.size(),
                 physics + "regions = 4\nregion_nodes = [\"physics-node\", \"media-node\", \"main\", \"physics-node\"]\n");
  });
  // The regions ran where they were put, and those cut off caught up.
  const auto json = read_text(dir + "/main/report.json");
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(actor_value(json, "physics/" + std::to_string(i), "steps"), 480) << i;
}

} // namespace
} // namespace troupe::testing
