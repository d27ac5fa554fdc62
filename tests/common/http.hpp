#pragma once
// A plain HTTP/1.1 client on POSIX sockets, for tests of the live view's
// endpoint: it sends exactly the bytes a test asks for (good or hostile) and
// reads what comes back, each wait bounded by a poll deadline.

#include <chrono>
#include <cstdint>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace troupe::testing {

/// A connected TCP socket to 127.0.0.1:port (closed on destruction), or an
/// invalid one (fd < 0).
class Connection {
public:
  explicit Connection(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  Connection(Connection&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Connection(const Connection&) = delete;
  ~Connection() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  /// Sends all of `bytes`; false when the peer closed.
  bool send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// Reads until the peer closes or `timeout` passes without a byte.
  std::string read_all(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    std::string out;
    char buf[65536];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
        return out;
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0)
        return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }

  /// Reads what arrives until `text` has (the peer may keep sending), the peer
  /// closes, or `timeout` passes.
  std::string read_until(const std::string& text, std::chrono::milliseconds timeout) {
    std::string out;
    char buf[65536];
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (out.find(text) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        break;
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0)
        break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  /// True once the peer has closed (or reset) the connection, within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    char buf[4096];
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        return false;
      if (::recv(fd_, buf, sizeof buf, 0) <= 0)
        return true;
    }
  }

private:
  int fd_ = -1;
};

struct HttpReply {
  int status = 0;     ///< 0: no (parsable) answer
  std::string headers;
  std::string body;
};

/// `GET path` (or another method) with Connection: close; the whole answer.
inline HttpReply http_request(std::uint16_t port, const std::string& path, const std::string& method = "GET") {
  HttpReply reply;
  Connection c(port);
  if (!c.ok() || !c.send(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
    return reply;
  const auto text = c.read_all();
  const auto end = text.find("\r\n\r\n");
  if (text.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos)
    return reply;
  reply.status = std::stoi(text.substr(9, 3));
  reply.headers = text.substr(0, end);
  reply.body = text.substr(end + 4);
  return reply;
}

/// Raises this process's open-file limit to at least `wanted` (within the hard
/// limit): a test that holds a thousand connections needs it.
inline void raise_open_files(rlim_t wanted) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

} // namespace troupe::testing
