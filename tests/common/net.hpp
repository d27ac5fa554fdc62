#pragma once
// Network helpers for tests that start nodes.

#include <cstdint>
#include <mutex>
#include <set>
#include <sstream>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace troupe::testing {

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick; a
/// node binds it right after), and never one this process was given before:
/// the kernel may hand the same free port to two calls in a row, and two
/// nodes of one config must not get it both.
inline std::uint16_t free_port() {
  static std::mutex mutex;
  static std::set<std::uint16_t> given;
  std::lock_guard<std::mutex> guard{mutex};
  for (;;) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    if (const auto port = ntohs(addr.sin_port); given.insert(port).second)
      return port;
  }
}

/// A topology's text with each node's fixed `port = N` (N > 0) replaced by a
/// free port, so that tests running side by side never bind the same one
/// (`port = 0` and `http_port` lines stay as they are).
inline std::string with_free_ports(const std::string& topology) {
  std::istringstream in(topology);
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.rfind("port = ", 0) == 0 && line.rfind("port = 0", 0) != 0)
      line = "port = " + std::to_string(free_port());
    out += line + "\n";
  }
  return out;
}

} // namespace troupe::testing
