// The guarded wire (wire.hpp): the key, the gate, and CAF transport pieces
// that put the gate in front of BASP, modeled on caf::openssl's (a scribe
// whose stream has a policy of ours, a doorman that makes such scribes, and a
// middleman actor that connects and accepts with them).
//
// The greeting on plain TCP, before any BASP byte (N = 32-byte nonces):
//   server -> client   "TRPG" u32 version  Ns
//   client -> server   "TRPG" u32 version  Nc  HMAC(key, "troupe client" Ns Nc)
//   server -> client   HMAC(key, "troupe server" Nc Ns)
// Whatever BASP writes before that waits in the policy; whatever the peer
// sends is read by the policy, not by BASP.

#include "wire.hpp"

#include <caf/all.hpp>
#include <caf/detail/socket_guard.hpp>
#include <caf/io/all.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/doorman_impl.hpp>
#include <caf/io/network/interfaces.hpp>
#include <caf/io/network/stream_impl.hpp>
#include <caf/openssl/session.hpp>
#include <caf/policy/tcp.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace troupe::wire {
namespace {

using namespace std::chrono_literals;
using caf::io::network::native_socket;
using caf::io::network::rw_state;
using default_mpx = caf::io::network::default_multiplexer;

constexpr char greeting_magic[4] = {'T', 'R', 'P', 'G'};
constexpr std::uint32_t greeting_version = 1;
constexpr std::size_t mac_size = 32;
constexpr std::size_t hello_size = 4 + 4 + nonce_size;              // server -> client
constexpr std::size_t basp_header_size = 32;
constexpr std::uint8_t basp_last_operation = 0x06;                  // heartbeat

using Mac = std::array<unsigned char, mac_size>;

Nonce random_nonce() {
  Nonce n{};
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1)
    throw std::runtime_error("no randomness for a nonce (OpenSSL RAND_bytes failed)");
  return n;
}

Mac mac(const ClusterKey& key, const char* label, const Nonce& first, const Nonce& second) {
  std::vector<unsigned char> data(label, label + std::strlen(label));
  data.insert(data.end(), first.begin(), first.end());
  data.insert(data.end(), second.begin(), second.end());
  Mac out{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.bytes.data(), static_cast<int>(key.bytes.size()), data.data(), data.size(), out.data(),
       &length);
  return out;
}

std::string peer_of(native_socket fd) {
  auto addr = caf::io::network::remote_addr_of_fd(fd);
  auto port = caf::io::network::remote_port_of_fd(fd);
  return (addr ? *addr : std::string{"?"}) + ":" + (port ? std::to_string(*port) : std::string{"?"});
}

/// Sends all of `bytes` on a non-blocking socket, waiting (at most `patience`)
/// while it is full; false when the peer is gone or too slow.
bool send_all(native_socket fd, const char* bytes, std::size_t size, std::chrono::milliseconds patience = 1000ms) {
  const auto until = std::chrono::steady_clock::now() + patience;
  while (size > 0) {
    const auto sent = ::send(fd, bytes, size, MSG_NOSIGNAL);
    if (sent > 0) {
      bytes += sent;
      size -= static_cast<std::size_t>(sent);
      continue;
    }
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
  return true;
}

} // namespace

std::array<unsigned char, proof_size> client_proof(const ClusterKey& key, const Nonce& server_nonce,
                                                   const Nonce& client_nonce) {
  const auto proof = mac(key, "troupe client", server_nonce, client_nonce);
  std::array<unsigned char, proof_size> out{};
  std::memcpy(out.data(), greeting_magic, 4);
  std::memcpy(out.data() + 4, &greeting_version, 4);
  std::memcpy(out.data() + 8, client_nonce.data(), nonce_size);
  std::memcpy(out.data() + 8 + nonce_size, proof.data(), mac_size);
  return out;
}

Proof check_client_proof(const ClusterKey& key, const Nonce& server_nonce, const unsigned char* proof,
                         Nonce& client_nonce) {
  std::uint32_t version = 0;
  std::memcpy(&version, proof + 4, 4);
  if (std::memcmp(proof, greeting_magic, 4) != 0)
    return Proof::not_troupe;
  if (version != greeting_version)
    return Proof::wrong_version;
  std::memcpy(client_nonce.data(), proof + 8, nonce_size);
  const auto expected = mac(key, "troupe client", server_nonce, client_nonce);
  return CRYPTO_memcmp(expected.data(), proof + 8 + nonce_size, mac_size) == 0 ? Proof::valid : Proof::wrong_key;
}

std::optional<FrameInspector::Refusal> FrameInspector::feed(const unsigned char* bytes, std::size_t size) {
  while (size > 0) {
    if (payload_left_ > 0) {
      const auto skip = static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, size));
      payload_left_ -= skip;
      bytes += skip;
      size -= skip;
      continue;
    }
    const auto take = std::min(size, basp_header_size - header_have_);
    std::memcpy(header_.data() + header_have_, bytes, take);
    header_have_ += take;
    bytes += take;
    size -= take;
    if (header_have_ < basp_header_size)
      continue;
    header_have_ = 0;
    const std::uint8_t operation = header_[0];
    const std::uint32_t length = (std::uint32_t{header_[4]} << 24) | (std::uint32_t{header_[5]} << 16) |
                                 (std::uint32_t{header_[6]} << 8) | std::uint32_t{header_[7]};
    if (operation > basp_last_operation)
      return Refusal{"a message of unknown BASP operation " + std::to_string(operation), &Refusals::malformed};
    if (length > max_)
      return Refusal{"a message of " + std::to_string(length) + " bytes, over the limit of " + std::to_string(max_) +
                       " ([network] max_message_bytes)",
                     &Refusals::oversize};
    payload_left_ = length;
    ++headers_;
  }
  return std::nullopt;
}

namespace {

/// The transport policy of every troupe connection (see wire.hpp).
class GuardedPolicy {
public:
  enum class Side { server, client };

  GuardedPolicy(std::shared_ptr<Gate> gate, Side side, native_socket fd, caf::openssl::session_ptr tls)
    : gate_(std::move(gate)), side_(side), fd_(fd), peer_(peer_of(fd)), tls_(std::move(tls)) {
    if (tls_) {
      phase_ = Phase::open; // the CA decides who gets in; the deadline ends at the first BASP frame
      return;
    }
    if (side_ == Side::server) {
      nonce_ = random_nonce();
      std::array<char, hello_size> hello{};
      std::memcpy(hello.data(), greeting_magic, 4);
      std::memcpy(hello.data() + 4, &greeting_version, 4);
      std::memcpy(hello.data() + 8, nonce_.data(), nonce_size);
      if (!send_all(fd_, hello.data(), hello.size()))
        failed_ = true;
      phase_ = Phase::wait_proof;
    } else {
      phase_ = Phase::wait_hello;
    }
  }

  GuardedPolicy(GuardedPolicy&&) = default;

  ~GuardedPolicy() {
    if (gate_ && !greeted_)
      gate_->greeted(fd_); // closing: it no longer waits (the socket closes after this)
  }

  rw_state read_some(size_t& result, native_socket fd, void* buf, size_t len) {
    result = 0;
    if (failed_)
      return rw_state::failure;
    if (phase_ != Phase::open)
      return greet(fd);
    const auto state = tls_ ? tls_->read_some(result, fd, buf, len) : caf::policy::tcp::read_some(result, fd, buf, len);
    if (state == rw_state::success && result > 0 && !inspect(static_cast<const unsigned char*>(buf), result))
      return rw_state::failure;
    return state;
  }

  rw_state write_some(size_t& result, native_socket fd, const void* buf, size_t len) {
    result = 0;
    if (failed_)
      return rw_state::failure;
    if (phase_ != Phase::open) {
      // Nothing of BASP leaves before the peer proved itself: keep it.
      const auto* bytes = static_cast<const char*>(buf);
      pending_.insert(pending_.end(), bytes, bytes + len);
      result = len;
      return rw_state::success;
    }
    return tls_ ? tls_->write_some(result, fd, buf, len) : caf::policy::tcp::write_some(result, fd, buf, len);
  }

  bool try_accept(native_socket& result, native_socket fd) { return caf::policy::tcp::try_accept(result, fd); }

  bool must_read_more(native_socket fd, size_t threshold) { return tls_ && tls_->must_read_more(fd, threshold); }

private:
  enum class Phase { wait_hello, wait_proof, open };

  /// Reads the greeting's bytes (never more than it needs: what follows is
  /// BASP's) and answers; nothing for BASP until it is done.
  rw_state greet(native_socket fd) {
    const std::size_t want = side_ == Side::server ? proof_size : phase_ == Phase::wait_hello ? hello_size : mac_size;
    if (greeting_.size() < want) {
      char chunk[proof_size];
      const auto got = ::recv(fd, chunk, want - greeting_.size(), 0);
      if (got == 0) {
        gate_->refuse(peer_, "it closed the connection before it greeted", &Refusals::malformed);
        failed_ = true;
        return rw_state::failure;
      }
      if (got < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? rw_state::indeterminate
                                                                          : rw_state::failure;
      greeting_.insert(greeting_.end(), chunk, chunk + got);
      if (greeting_.size() < want)
        return rw_state::indeterminate;
    }
    const auto& key = *gate_->key();
    const auto* g = reinterpret_cast<const unsigned char*>(greeting_.data());
    auto refuse = [&](const std::string& why, std::uint64_t Refusals::* counter) {
      gate_->refuse(peer_, why, counter);
      failed_ = true;
      return rw_state::failure;
    };
    if (side_ == Side::server) {
      Nonce theirs{};
      switch (check_client_proof(key, nonce_, g, theirs)) {
      case Proof::valid:
        break;
      case Proof::not_troupe:
        return refuse("it is not a troupe node (no greeting)", &Refusals::malformed);
      case Proof::wrong_version:
        return refuse("it greets with another greeting version than this node's (" +
                        std::to_string(greeting_version) + ")",
                      &Refusals::malformed);
      case Proof::wrong_key:
        return refuse("it does not know this cluster's key", &Refusals::authentication);
      }
      const auto answer = mac(key, "troupe server", theirs, nonce_);
      std::vector<char> out(answer.begin(), answer.end());
      out.insert(out.end(), pending_.begin(), pending_.end());
      if (!send_all(fd, out.data(), out.size()))
        return rw_state::failure;
      open();
      return rw_state::indeterminate;
    }
    if (phase_ == Phase::wait_hello) {
      std::uint32_t version = 0;
      std::memcpy(&version, g + 4, 4);
      if (std::memcmp(g, greeting_magic, 4) != 0 || version != greeting_version)
        return refuse("it is not a troupe node of this greeting version", &Refusals::malformed);
      std::memcpy(server_nonce_.data(), g + 8, nonce_size);
      nonce_ = random_nonce();
      const auto out = client_proof(key, server_nonce_, nonce_);
      if (!send_all(fd, reinterpret_cast<const char*>(out.data()), out.size()))
        return rw_state::failure;
      greeting_.clear();
      phase_ = Phase::wait_proof;
      return rw_state::indeterminate;
    }
    const auto expected = mac(key, "troupe server", nonce_, server_nonce_);
    if (CRYPTO_memcmp(expected.data(), g, mac_size) != 0)
      return refuse("it does not know this cluster's key", &Refusals::authentication);
    if (!send_all(fd, pending_.data(), pending_.size()))
      return rw_state::failure;
    open();
    return rw_state::indeterminate;
  }

  void open() {
    phase_ = Phase::open;
    pending_.clear();
    pending_.shrink_to_fit();
    greeting_.clear();
    if (!tls_)
      mark_greeted();
  }

  void mark_greeted() {
    if (!greeted_) {
      greeted_ = true;
      gate_->greeted(fd_);
    }
  }

  /// Follows the BASP framing of what was read; false (and the connection
  /// refused) for a header BASP must not see.
  bool inspect(const unsigned char* bytes, std::size_t size) {
    if (auto refusal = frames_.feed(bytes, size)) {
      gate_->refuse(peer_, refusal->why, refusal->counter);
      return false;
    }
    if (frames_.headers() > 0)
      mark_greeted(); // with TLS: the first frame through the CA-checked session
    return true;
  }

  std::shared_ptr<Gate> gate_;
  Side side_;
  native_socket fd_;
  std::string peer_;
  caf::openssl::session_ptr tls_;
  Phase phase_ = Phase::open;
  bool failed_ = false;
  bool greeted_ = false;
  Nonce nonce_{};
  Nonce server_nonce_{};
  std::vector<char> greeting_; ///< greeting bytes read so far
  std::vector<char> pending_;  ///< what BASP wrote before the greeting was done
  FrameInspector frames_{gate_->limits().max_message_bytes};
};

/// A scribe over a guarded stream (as caf::openssl's scribe, with our policy).
class GuardedScribe : public caf::io::scribe {
public:
  GuardedScribe(default_mpx& mpx, native_socket fd, GuardedPolicy policy)
    : scribe(caf::io::network::conn_hdl_from_socket(fd)), stream_(mpx, fd, std::move(policy)) {}

  void configure_read(caf::io::receive_policy::config config) override {
    stream_.configure_read(config);
    if (!launched_)
      launch();
  }
  void ack_writes(bool enable) override { stream_.ack_writes(enable); }
  std::vector<char>& wr_buf() override { return stream_.wr_buf(); }
  std::vector<char>& rd_buf() override { return stream_.rd_buf(); }
  void graceful_shutdown() override {
    stream_.graceful_shutdown();
    detach(&stream_.backend(), false);
  }
  void flush() override { stream_.flush(this); }
  std::string addr() const override {
    auto x = caf::io::network::remote_addr_of_fd(stream_.fd());
    return x ? *x : std::string{};
  }
  std::uint16_t port() const override {
    auto x = caf::io::network::remote_port_of_fd(stream_.fd());
    return x ? *x : 0;
  }
  void add_to_loop() override { stream_.activate(this); }
  void remove_from_loop() override { stream_.passivate(); }

private:
  void launch() {
    launched_ = true;
    stream_.start(this);
    // A TLS session may still need to write its handshake.
    stream_.force_empty_write(this);
  }

  bool launched_ = false;
  caf::io::network::stream_impl<GuardedPolicy> stream_;
};

/// Accepts connections as guarded scribes, within the gate's cap.
class GuardedDoorman : public caf::io::network::doorman_impl {
public:
  GuardedDoorman(default_mpx& mpx, native_socket fd, std::shared_ptr<Gate> gate, bool tls)
    : doorman_impl(mpx, fd), gate_(std::move(gate)), tls_(tls) {}

  bool new_connection() override {
    if (detached())
      return false;
    auto& mpx = acceptor_.backend();
    const auto fd = acceptor_.accepted_socket();
    caf::detail::socket_guard guard{fd};
    caf::io::network::nonblocking(fd, true);
    const auto peer = peer_of(fd);
    if (const auto why = gate_->admit(fd, peer); !why.empty()) {
      gate_->refuse(peer, why, &Refusals::capacity);
      return false; // the guard closes the socket
    }
    caf::openssl::session_ptr session;
    if (tls_ && !(session = caf::openssl::make_session(parent()->system(), fd, true))) {
      gate_->greeted(fd);
      return false;
    }
    auto scribe = caf::make_counted<GuardedScribe>(
      mpx, fd, GuardedPolicy{gate_, GuardedPolicy::Side::server, fd, std::move(session)});
    guard.release(); // the scribe owns the socket now
    auto hdl = scribe->hdl();
    parent()->add_scribe(std::move(scribe));
    return doorman::new_connection(&mpx, hdl);
  }

private:
  std::shared_ptr<Gate> gate_;
  bool tls_;
};

/// The middleman actor of a troupe node: CAF's, connecting and accepting
/// through the gate.
class GuardedMiddleman : public caf::io::middleman_actor_impl {
public:
  GuardedMiddleman(caf::actor_config& cfg, caf::actor broker, std::shared_ptr<Gate> gate, bool tls)
    : middleman_actor_impl(cfg, std::move(broker)), gate_(std::move(gate)), tls_(tls) {}

  const char* name() const override { return "troupe::middleman_actor"; }

protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host, std::uint16_t port) override {
    auto fd = caf::io::network::new_tcp_connection(host, port);
    if (!fd)
      return std::move(fd.error());
    caf::io::network::nonblocking(*fd, true);
    gate_->admit(*fd, host + ":" + std::to_string(port)); // a server that never answers is cut too
    caf::openssl::session_ptr session;
    if (tls_ && !(session = caf::openssl::make_session(system(), *fd, false))) {
      gate_->greeted(*fd);
      return caf::sec::cannot_connect_to_node;
    }
    return caf::make_counted<GuardedScribe>(mpx(), *fd,
                                            GuardedPolicy{gate_, GuardedPolicy::Side::client, *fd, std::move(session)});
  }

  caf::expected<caf::io::doorman_ptr> open(std::uint16_t port, const char* addr, bool reuse) override {
    auto fd = caf::io::network::new_tcp_acceptor_impl(port, addr, reuse);
    if (!fd)
      return std::move(fd.error());
    return caf::make_counted<GuardedDoorman>(mpx(), *fd, gate_, tls_);
  }

private:
  default_mpx& mpx() { return static_cast<default_mpx&>(system().middleman().backend()); }

  std::shared_ptr<Gate> gate_;
  bool tls_;
};

std::string hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

} // namespace

ClusterKey random_key() {
  ClusterKey key;
  if (RAND_bytes(key.bytes.data(), static_cast<int>(key.bytes.size())) != 1)
    throw std::runtime_error("no randomness for a cluster key (OpenSSL RAND_bytes failed)");
  return key;
}

Expected<ClusterKey> read_key_file(const std::string& path) {
  auto bad = [&](const std::string& why) { return Error{errc::bad_file, why, path}; };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return bad(std::string("cannot open the cluster key: ") + std::strerror(errno) +
               " (make one with: troupe key " + path + ")");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    return bad("the cluster key is readable or writable by other users: make it the owner's only (chmod 600)");
  std::ifstream in(path);
  std::string text;
  in >> text;
  if (text.size() != 64 || text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    return bad("not a cluster key (64 hex digits; make one with: troupe key FILE)");
  ClusterKey key;
  for (std::size_t i = 0; i < key.bytes.size(); ++i)
    key.bytes[i] = static_cast<unsigned char>(std::stoi(text.substr(2 * i, 2), nullptr, 16));
  return key;
}

Expected<ClusterKey> write_key_file(const std::string& path) {
  const auto key = random_key();
  const auto tmp = path + ".tmp";
  std::filesystem::remove(tmp);
  {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
      return Error{errc::io_failed, std::string("cannot write the cluster key: ") + std::strerror(errno), path};
    const auto text = hex(key.bytes.data(), key.bytes.size()) + "\n";
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!written)
      return Error{errc::io_failed, std::string("cannot write the cluster key: ") + std::strerror(errno), path};
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    return Error{errc::io_failed, "cannot write the cluster key: " + ec.message(), path};
  return key;
}

Limits limits_of(const config::Topology& topology) {
  Limits limits;
  const auto& net = topology.network;
  if (net.max_message_bytes > 0) {
    limits.max_message_bytes = net.max_message_bytes;
  } else {
    // The largest message is a whole world (a step request, a recorded
    // frame): about 72 bytes a body. Room for the world to grow fourfold
    // (fountains, spawns) past a floor, plus headroom.
    const std::uint64_t bodies = std::max<std::uint64_t>(topology.simulation.bodies, 100'000);
    limits.max_message_bytes = std::min<std::uint64_t>(4 * bodies * 80 + (16u << 20), 0xffffffffu);
  }
  limits.greeting_deadline = std::chrono::milliseconds(net.greeting_timeout_ms);
  limits.max_ungreeted = net.max_ungreeted;
  limits.max_ungreeted_per_address = std::min(net.max_ungreeted_per_address, net.max_ungreeted);
  return limits;
}

Gate::Gate(std::string node, Limits limits, std::optional<ClusterKey> key)
  : node_(std::move(node)), limits_(limits), key_(std::move(key)), reaper_([this] { reap(); }) {}

Gate::~Gate() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stopping_ = true;
  }
  wake_.notify_all();
  reaper_.join();
}

std::string Gate::admit(int fd, const std::string& peer) {
  const auto address = peer.substr(0, peer.rfind(':'));
  std::lock_guard<std::mutex> guard{mutex_};
  if (waiting_.size() >= limits_.max_ungreeted)
    return "too many connections that have not greeted yet (" + std::to_string(limits_.max_ungreeted) + ")";
  const auto from_address = std::count_if(waiting_.begin(), waiting_.end(), [&](const auto& kv) {
    return kv.second.peer.compare(0, kv.second.peer.rfind(':'), address) == 0;
  });
  if (static_cast<std::size_t>(from_address) >= limits_.max_ungreeted_per_address)
    return "too many connections from " + address + " that have not greeted yet (" +
           std::to_string(limits_.max_ungreeted_per_address) + ")";
  waiting_[fd] = {peer, std::chrono::steady_clock::now()};
  return {};
}

void Gate::greeted(int fd) {
  std::lock_guard<std::mutex> guard{mutex_};
  waiting_.erase(fd);
}

void Gate::refuse(const std::string& peer, const std::string& why, std::uint64_t Refusals::* counter) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    ++(refusals_.*counter);
  }
  log_refusal(peer, why);
}

void Gate::log_refusal(const std::string& peer, const std::string& why) const {
  std::cerr << "troupe: node " + node_ + ": refused peer " + peer + ": " + why + "\n" << std::flush;
}

Refusals Gate::refusals() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return refusals_;
}

void Gate::reap() {
  std::unique_lock<std::mutex> lock{mutex_};
  while (!stopping_) {
    wake_.wait_for(lock, 50ms);
    const auto now = std::chrono::steady_clock::now();
    for (auto i = waiting_.begin(); i != waiting_.end();) {
      if (now - i->second.since < limits_.greeting_deadline) {
        ++i;
        continue;
      }
      // The socket is CAF's: shutting it down (never closing it) makes its
      // stream see the end and close it. A socket CAF closed has left this
      // map first (its policy goes before its descriptor).
      ::shutdown(i->first, SHUT_RDWR);
      ++refusals_.deadline;
      log_refusal(i->second.peer, "no greeting within " + std::to_string(limits_.greeting_deadline.count()) + " ms");
      i = waiting_.erase(i);
    }
  }
}

caf::io::middleman_actor spawn_middleman(caf::actor_system& sys, std::shared_ptr<Gate> gate, bool tls) {
  auto broker = sys.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
  return sys.spawn<GuardedMiddleman, caf::detached + caf::hidden>(std::move(broker), std::move(gate), tls);
}

caf::expected<std::uint16_t> publish(caf::actor_system& sys, const caf::io::middleman_actor& mm,
                                     const caf::actor& whom, std::uint16_t port, const std::string& host) {
  auto f = caf::make_function_view(mm);
  return f(caf::publish_atom::value, port, caf::actor_cast<caf::strong_actor_ptr>(whom),
           sys.message_types(whom), host, true);
}

caf::expected<caf::actor> remote_actor(caf::actor_system& sys, const caf::io::middleman_actor& mm,
                                       const std::string& host, std::uint16_t port) {
  auto f = caf::make_function_view(mm);
  auto found = f(caf::connect_atom::value, host, port);
  if (!found)
    return std::move(found.error());
  auto& ptr = std::get<1>(*found);
  if (!ptr)
    return caf::sec::no_actor_published_at_port;
  if (!sys.assignable(std::get<2>(*found), sys.message_types(caf::detail::type_list<caf::actor>{})))
    return caf::sec::unexpected_actor_messaging_interface;
  return caf::actor_cast<caf::actor>(std::move(ptr));
}

void unpublish(caf::actor_system&, const caf::io::middleman_actor& mm, const caf::actor& whom, std::uint16_t port) {
  auto f = caf::make_function_view(mm);
  f(caf::unpublish_atom::value, whom.address(), port);
}

} // namespace troupe::wire
