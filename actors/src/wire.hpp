#pragma once
// The guarded wire: every byte a node reads from a peer passes a gate of
// troupe's, in CAF's own transport layer, before BASP sees it (docs/
// architecture.md, "Trust"). CAF 0.17 has no limits of its own: BASP reads a
// 32-byte header and then allocates whatever its payload_len says, and lets a
// peer address any actor by number. So each node's middleman connects and
// accepts through scribes whose transport policy
// - on plain TCP, runs a challenge-response before passing a byte either way:
//   both sides prove they know the cluster key (HMAC-SHA256 over fresh nonces
//   of both; the key itself never travels), so a program that knows the
//   config but not the key reaches no actor and no decoder;
// - with TLS (the CA authenticates), passes through caf::openssl's session;
// - parses the BASP framing of everything it reads and cuts the connection
//   before BASP allocates when a header names an unknown operation or a
//   payload over the limit;
// - counts connections that have not proved themselves yet, refuses more
//   than a cap, and cuts those that take longer than the greeting deadline.
// A refused peer is logged with its address; the node's other links go on.
// Private to actors/.

#include <troupe/config/topology.hpp>
#include <troupe/error.hpp>

#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace troupe::wire {

/// The secret every node of a cluster knows (plain TCP only).
struct ClusterKey {
  std::array<unsigned char, 32> bytes{};
};

/// A fresh random key.
ClusterKey random_key();

/// Reads a key file (64 hex digits). Refused: missing, malformed, or readable
/// by other users (a secret must be the owner's only).
Expected<ClusterKey> read_key_file(const std::string& path);

/// Writes a fresh key to `path`, readable by its owner only.
Expected<ClusterKey> write_key_file(const std::string& path);

/// What a node's gate enforces.
struct Limits {
  std::uint64_t max_message_bytes = 64u << 20; ///< one BASP payload
  std::chrono::milliseconds greeting_deadline{2000};
  std::size_t max_ungreeted = 64;              ///< connections not yet proved, per node
  std::size_t max_ungreeted_per_address = 16;  ///< of those, from one address
};

/// The limits a topology sets: [network] max_message_bytes (default: from the
/// largest world its simulation allows), greeting_timeout_ms, max_ungreeted.
Limits limits_of(const config::Topology& topology);

/// What a gate refused, for the node's links report.
struct Refusals {
  std::uint64_t authentication = 0; ///< wrong or no proof of the key
  std::uint64_t oversize = 0;       ///< a message over the size limit
  std::uint64_t malformed = 0;      ///< not BASP framing
  std::uint64_t deadline = 0;       ///< no greeting in time
  std::uint64_t capacity = 0;       ///< too many connections not greeted yet (in all, or from one address)
};

/// Each kind of refusal by name: the live metrics' `reason` label, and with
/// "refused_" before it the links report's counter.
inline constexpr std::pair<const char*, std::uint64_t Refusals::*> refusal_kinds[] = {
  {"authentication", &Refusals::authentication},
  {"oversize", &Refusals::oversize},
  {"malformed", &Refusals::malformed},
  {"greeting_deadline", &Refusals::deadline},
  {"capacity", &Refusals::capacity}};

/// The nonces of the greeting (wire.cpp has its layout).
constexpr std::size_t nonce_size = 32;
using Nonce = std::array<unsigned char, nonce_size>;
/// A client's answer to the server's nonce: magic, version, its nonce, its MAC.
constexpr std::size_t proof_size = 4 + 4 + nonce_size + 32;

enum class Proof { valid, not_troupe, wrong_version, wrong_key };

/// A client's answer to `server_nonce` under `key`, with its own nonce.
std::array<unsigned char, proof_size> client_proof(const ClusterKey& key, const Nonce& server_nonce,
                                                   const Nonce& client_nonce);

/// Checks a client's `proof_size` bytes against the nonce the server sent;
/// the client's nonce is copied out (the server's answer needs it).
Proof check_client_proof(const ClusterKey& key, const Nonce& server_nonce, const unsigned char* proof,
                         Nonce& client_nonce);

/// Follows BASP's framing (32-byte headers, each followed by its payload)
/// through reads of any size, and refuses a header BASP must not see: an
/// unknown operation, or a payload over `max` bytes.
class FrameInspector {
public:
  struct Refusal {
    std::string why;
    std::uint64_t Refusals::* counter;
  };

  explicit FrameInspector(std::uint64_t max) : max_(max) {}

  /// The next bytes read; a refusal ends the connection.
  std::optional<Refusal> feed(const unsigned char* bytes, std::size_t size);

  /// Headers passed so far.
  std::uint64_t headers() const { return headers_; }

private:
  std::uint64_t max_;
  std::array<unsigned char, 32> header_{};
  std::size_t header_have_ = 0;
  std::uint64_t payload_left_ = 0;
  std::uint64_t headers_ = 0;
};

/// One node's gate: its limits, its key (none with TLS), the connections that
/// have not proved themselves yet (a thread cuts those past the deadline), and
/// what it refused. Shared by the node's scribes; thread-safe.
class Gate : public std::enable_shared_from_this<Gate> {
public:
  Gate(std::string node, Limits limits, std::optional<ClusterKey> key);
  ~Gate();
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  const std::string& node() const { return node_; }
  const Limits& limits() const { return limits_; }
  const std::optional<ClusterKey>& key() const { return key_; }

  /// A connection from `peer` ("ADDRESS:PORT") starts to wait for its
  /// greeting; why not when too many wait, in all or from its address ("":
  /// admitted). One address cannot hold off the others' connections.
  std::string admit(int fd, const std::string& peer);
  /// It greeted (or closed): it no longer counts.
  void greeted(int fd);
  /// Logs and counts a refusal of `peer`.
  void refuse(const std::string& peer, const std::string& why, std::uint64_t Refusals::* counter);

  Refusals refusals() const;

private:
  void reap();
  /// The one line a refusal logs (callers count it).
  void log_refusal(const std::string& peer, const std::string& why) const;

  std::string node_;
  Limits limits_;
  std::optional<ClusterKey> key_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  struct Waiting {
    std::string peer;
    std::chrono::steady_clock::time_point since;
  };
  std::map<int, Waiting> waiting_; // by socket
  Refusals refusals_;
  bool stopping_ = false;
  std::thread reaper_;
};

/// Spawns a middleman actor for `sys` whose connections go through `gate`
/// (caf::openssl sessions inside when `tls`). Publish and connect through it
/// with `publish` and `remote_actor` below.
caf::io::middleman_actor spawn_middleman(caf::actor_system& sys, std::shared_ptr<Gate> gate, bool tls);

/// Publishes `whom` on host:port through `mm`; the port bound.
caf::expected<std::uint16_t> publish(caf::actor_system& sys, const caf::io::middleman_actor& mm,
                                     const caf::actor& whom, std::uint16_t port, const std::string& host);

/// The actor published at host:port, through `mm`.
caf::expected<caf::actor> remote_actor(caf::actor_system& sys, const caf::io::middleman_actor& mm,
                                       const std::string& host, std::uint16_t port);

/// Unpublishes `whom` from `port` through `mm`.
void unpublish(caf::actor_system& sys, const caf::io::middleman_actor& mm, const caf::actor& whom,
               std::uint16_t port);

} // namespace troupe::wire
