#pragma once
/// \file A node's HTTP endpoint (docs/architecture.md, "Live view"): Boost.Beast
/// on one I/O thread of its own, never on the tick path. It serves a few fixed
/// routes (GET and HEAD) and treats every byte it reads as untrusted: a header
/// over 8 KiB, a body, a request that does not arrive whole within the deadline,
/// and connections over the cap are refused (at the cap, the connection silent
/// longest makes room for a newcomer), counted and logged, and the endpoint goes
/// on serving the next good request. Beast stays in the .cpp.

#include <troupe/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace troupe::live {

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

/// Answers one GET of its path; runs on the endpoint's thread.
using HttpRoute = std::function<HttpResponse()>;

/// A WebSocket path: every `period` the endpoint sends each client `frame()`
/// (a text message; a client that has not taken the last one yet skips this
/// one), and answers each text message a client sends with
/// `on_message(text)` (nothing when it returns ""). Both run on the
/// endpoint's thread.
struct WebSocketRoute {
  std::function<std::string()> frame;
  std::function<std::string(const std::string&)> on_message;
  std::chrono::milliseconds period{250};
  std::size_t max_message = 4096; ///< bytes a client may send at once; more closes it
};

struct HttpOptions {
  std::string node;                   ///< the node it serves: its label, and in logs
  std::string address = "127.0.0.1"; ///< where to listen
  std::uint16_t port = 0;             ///< 0: any free port
  std::size_t max_connections = 64;   ///< more are closed at once
  std::size_t header_limit = 8192;    ///< bytes of request line and headers
  std::chrono::milliseconds deadline{5000}; ///< to read a whole request, or write a response
};

class HttpServer {
public:
  /// Listens and serves `routes` (path -> route) until destroyed.
  static Expected<std::unique_ptr<HttpServer>> start(const HttpOptions& options,
                                                     std::map<std::string, HttpRoute> routes,
                                                     std::map<std::string, WebSocketRoute> sockets = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The port it listens on.
  std::uint16_t port() const;

  struct Impl;

private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace troupe::live
