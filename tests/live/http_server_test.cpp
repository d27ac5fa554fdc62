#include <troupe/live/http_server.hpp>
#include <troupe/live/telemetry.hpp>

#include "common/http.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace {

using namespace troupe;
using namespace std::chrono_literals;
using troupe::testing::Connection;
using troupe::testing::http_request;

/// An endpoint on a free port of 127.0.0.1 with a short deadline, serving
/// /hello and counting what it answered.
struct Endpoint {
  explicit Endpoint(live::HttpOptions options = {}) {
    options.node = "test";
    if (options.deadline == live::HttpOptions{}.deadline)
      options.deadline = 500ms;
    std::map<std::string, live::HttpRoute> routes;
    routes["/hello"] = [this] {
      ++answered;
      return live::HttpResponse{200, "text/plain", "hello\n"};
    };
    auto started = live::HttpServer::start(options, std::move(routes));
    EXPECT_TRUE(started) << (started ? "" : started.error().to_string());
    if (started)
      server = std::move(*started);
  }
  std::uint16_t port() const { return server->port(); }
  bool serves() const {
    const auto reply = http_request(port(), "/hello");
    return reply.status == 200 && reply.body == "hello\n";
  }
  std::atomic<int> answered{0};
  std::unique_ptr<live::HttpServer> server;
};

TEST(HttpServer, AnswersItsRoutesAndNothingElse) {
  Endpoint endpoint;
  EXPECT_TRUE(endpoint.serves());
  const auto head = http_request(endpoint.port(), "/hello", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_NE(head.headers.find("Content-Length: 6"), std::string::npos) << head.headers;
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(http_request(endpoint.port(), "/hello?x=1").status, 200);
  EXPECT_EQ(http_request(endpoint.port(), "/nothing").status, 404);
  EXPECT_EQ(http_request(endpoint.port(), "/hello", "DELETE").status, 405);
  EXPECT_EQ(endpoint.answered, 3);
}

TEST(HttpServer, KeepsAConnectionAliveForTheNextRequest) {
  Endpoint endpoint;
  Connection c(endpoint.port());
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const auto text = c.read_all();
  EXPECT_EQ(text.find("HTTP/1.1 200", text.find("HTTP/1.1 200") + 1) != std::string::npos, true) << text;
  EXPECT_EQ(endpoint.answered, 2) << text;
}

TEST(HttpServer, RefusesGarbageAndServesTheNextRequest) {
  Endpoint endpoint;
  Connection c(endpoint.port());
  const char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n";
  ASSERT_TRUE(c.send(std::string(tls_hello, sizeof tls_hello - 1)));
  const auto answer = c.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_TRUE(endpoint.serves());
}

TEST(HttpServer, RefusesAHeaderOfOneMebibyte) {
  Endpoint endpoint;
  Connection c(endpoint.port());
  // The server answers and closes once it has read 8 KiB: the rest of the
  // send may fail, which is the point.
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n");
  const auto answer = c.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer.substr(0, 200);
  EXPECT_EQ(endpoint.answered, 0);
  EXPECT_TRUE(endpoint.serves());
}

TEST(HttpServer, RefusesARequestWithABody) {
  Endpoint endpoint;
  Connection c(endpoint.port());
  ASSERT_TRUE(c.send("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
  EXPECT_EQ(c.read_all().rfind("HTTP/1.1 413", 0), 0u);
  EXPECT_TRUE(endpoint.serves());
}

TEST(HttpServer, ClosesASlowClientAtTheDeadlineAndServesOthersMeanwhile) {
  Endpoint endpoint; // deadline 500 ms
  Connection slow(endpoint.port());
  const std::string request = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  const auto started = std::chrono::steady_clock::now();
  bool closed = false;
  // One byte, then up to a second of waiting for the server to hang up.
  for (std::size_t i = 0; i < request.size() && !closed; ++i) {
    if (!slow.send(request.substr(i, 1)))
      closed = true;
    else
      closed = slow.closed_within(1s);
    if (i == 0) {
      EXPECT_TRUE(endpoint.serves()); // others are served while it trickles
    }
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(endpoint.answered, 1);
  EXPECT_TRUE(endpoint.serves());
}

TEST(HttpServer, AThousandConnectionsLeaveItServing) {
  troupe::testing::raise_open_files(4096);
  Endpoint endpoint;
  std::vector<Connection> flood;
  for (int i = 0; i < 1000; ++i) {
    flood.emplace_back(endpoint.port());
    ASSERT_TRUE(flood.back().ok()) << i;
  }
  // Those over the cap are closed at once; the rest at the deadline. Either
  // way each one ends, and the endpoint answers the next good request.
  int closed = 0;
  for (auto& c : flood)
    closed += c.closed_within(5s) ? 1 : 0;
  EXPECT_EQ(closed, 1000);
  EXPECT_TRUE(endpoint.serves());
  EXPECT_NE(live::exposition().find(R"(troupe_http_refused_total{node="test",reason="connections"})"),
            std::string::npos);
}

TEST(HttpServer, AtTheCapTheConnectionSilentLongestMakesRoomForAGoodRequest) {
  live::HttpOptions options;
  options.max_connections = 4;
  options.deadline = 30s; // the flood would hold every slot for this long
  Endpoint endpoint(options);
  std::vector<Connection> silent;
  for (int i = 0; i < 4; ++i)
    silent.emplace_back(endpoint.port());
  // Served at once, though four idle connections fill the cap; the oldest of
  // them was closed to make room, the newest are still open.
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(endpoint.serves());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_TRUE(silent.front().closed_within(5s));
  EXPECT_FALSE(silent.back().closed_within(200ms));
}

TEST(HttpServer, SaysWhyItCannotListen) {
  Endpoint first;
  live::HttpOptions options;
  options.node = "second";
  options.port = first.port();
  const auto second = live::HttpServer::start(options, {});
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())),
            std::string::npos)
    << second.error().message;
  options.address = "not-an-address";
  const auto third = live::HttpServer::start(options, {});
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, errc::bad_config);
}

} // namespace

namespace {

/// A WebSocket handshake by hand (the key is RFC 6455's example).
std::string upgrade(const std::string& path) {
  return "GET " + path +
         " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

/// A masked client text frame (mask all zero: the payload goes as it is).
std::string client_frame(const std::string& payload) {
  std::string out{static_cast<char>(0x81)};
  if (payload.size() < 126) {
    out += static_cast<char>(0x80 | payload.size());
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8)
      out += static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> shift) & 0xff);
  }
  out += std::string(4, '\0');
  return out + payload;
}

TEST(HttpServer, AWebSocketGetsFramesAndAnswersAndATooLongMessageClosesIt) {
  std::atomic<int> frames{0};
  live::WebSocketRoute route;
  route.frame = [&] { return "frame " + std::to_string(++frames); };
  route.on_message = [](const std::string& text) { return "echo " + text; };
  route.period = 20ms;
  route.max_message = 64;
  live::HttpOptions options;
  options.node = "ws";
  auto server = live::HttpServer::start(options, {}, {{"/ws", route}});
  ASSERT_TRUE(server);
  const auto port = (*server)->port();

  Connection c(port);
  ASSERT_TRUE(c.send(upgrade("/ws")));
  auto seen = c.read_until("\r\n\r\n", 10s); // a client speaks once the handshake is answered
  ASSERT_TRUE(c.send(client_frame("hello")));
  seen += c.read_until("echo hello", 10s);
  seen += c.read_until("frame 3", 10s);
  EXPECT_EQ(seen.rfind("HTTP/1.1 101", 0), 0u) << seen.substr(0, 200);
  EXPECT_NE(seen.find("echo hello"), std::string::npos);
  EXPECT_NE(seen.find("frame 3"), std::string::npos);
  // One message over the limit: the server closes the connection.
  c.send(client_frame(std::string(1000, 'x')));
  EXPECT_TRUE(c.closed_within(10s));

  // An upgrade of a path that is no WebSocket is refused; the server goes on.
  Connection other(port);
  ASSERT_TRUE(other.send(upgrade("/nothing")));
  EXPECT_EQ(other.read_all(5s).rfind("HTTP/1.1 404", 0), 0u);
  Connection again(port);
  ASSERT_TRUE(again.send(upgrade("/ws")));
  EXPECT_EQ(again.read_until("frame", 5s).rfind("HTTP/1.1 101", 0), 0u);
}

} // namespace
