#pragma once
// Network helpers for tests that start nodes.

#include <cstdint>
#include <sstream>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace troupe::testing {

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick; a
/// node binds it right after).
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
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
