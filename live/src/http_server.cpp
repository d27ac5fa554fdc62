#include <troupe/live/http_server.hpp>
#include <troupe/live/telemetry.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <deque>
#include <list>
#include <iostream>
#include <optional>
#include <set>
#include <thread>

namespace troupe::live {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

/// A connection the server may have to close when it stops.
class Closable {
public:
  virtual ~Closable() = default;
  virtual void close() = 0;
};

class Session;

struct HttpServer::Impl {
  HttpOptions options;
  std::map<std::string, HttpRoute> routes;
  std::map<std::string, WebSocketRoute> sockets;
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::uint16_t port = 0;
  std::set<Closable*> sessions; // HTTP and WebSocket; the I/O thread's only
  // HTTP connections that have not sent a whole request yet, oldest first:
  // at the cap the oldest of them makes room for a newcomer, so a flood of
  // idle connections cannot lock good clients out until the deadline.
  std::list<Session*> silent;
  struct Refusals {
    std::uint64_t count = 0; // this endpoint's, for the log's rate limit
    Counter total;           // troupe_http_refused_total{node, reason}
  };
  std::map<std::string, Refusals> refusals; // by reason; the I/O thread's only
  Counter served_total;
  std::thread thread;

  void accept();
  /// Counts a refusal (by `reason`, a fixed word: the metric's label) and
  /// logs it with `why`: the first of each reason and then at each power of
  /// two, so a flood cannot flood the log.
  void refuse(const std::string& peer, const std::string& reason, const std::string& why) {
    auto [entry, first] = refusals.try_emplace(reason);
    if (first)
      entry->second.total = counter("troupe_http_refused_total", "Requests and connections the endpoint refused",
                                    {{"node", options.node}, {"reason", reason}});
    const auto n = ++entry->second.count;
    entry->second.total.add();
    if ((n & (n - 1)) == 0)
      std::cerr << "troupe: node " + options.node + ": http: refused " + peer + ": " + why +
                     (n > 1 ? " (refusal " + std::to_string(n) + " of this kind)" : std::string{}) + "\n"
                << std::flush;
  }
};

/// One connection: reads requests one at a time (keep-alive), each within the
/// deadline, and answers them.
/// A WebSocket client of one route: frames out on a timer, messages in.
class WebSocketSession : public Closable, public std::enable_shared_from_this<WebSocketSession> {
public:
  WebSocketSession(tcp::socket socket, HttpServer::Impl& server, const WebSocketRoute& route, std::string peer)
    : ws_(std::move(socket)), timer_(ws_.get_executor()), server_(server), route_(route), peer_(std::move(peer)) {
    server_.sessions.insert(this);
  }
  ~WebSocketSession() override { server_.sessions.erase(this); }

  void start(http::request<http::empty_body> request) {
    beast::get_lowest_layer(ws_).expires_never(); // the WebSocket keeps its own time
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(route_.max_message);
    ws_.async_accept(request, [self = shared_from_this()](beast::error_code ec) {
      if (ec)
        return self->server_.refuse(self->peer_, "malformed", "WebSocket handshake failed (" + ec.message() + ")");
      self->read();
      self->send_frame();
    });
  }

  void close() override {
    closed_ = true;
    timer_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
  }

private:
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        if (ec == websocket::error::message_too_big)
          self->server_.refuse(self->peer_, "body", "a WebSocket message over " +
                                                      std::to_string(self->route_.max_message) + " bytes");
        return self->close();
      }
      auto text = beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      if (self->route_.on_message)
        if (auto answer = self->route_.on_message(text); !answer.empty())
          self->queue(std::move(answer));
      self->read();
    });
  }

  void send_frame() {
    if (closed_)
      return;
    if (outbox_.empty() && route_.frame) // a slow reader skips frames rather than piling them up
      queue(route_.frame());
    timer_.expires_after(route_.period);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec)
        self->send_frame();
    });
  }

  void queue(std::string message) {
    outbox_.push_back(std::move(message));
    if (!writing_)
      write_next();
  }

  void write_next() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(outbox_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->outbox_.pop_front();
      self->writing_ = false;
      if (ec)
        return self->close();
      if (!self->outbox_.empty())
        self->write_next();
    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  net::steady_timer timer_;
  HttpServer::Impl& server_;
  const WebSocketRoute& route_;
  std::string peer_;
  beast::flat_buffer in_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool closed_ = false;
};

class Session : public Closable, public std::enable_shared_from_this<Session> {
public:
  Session(tcp::socket socket, HttpServer::Impl& server) : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    const auto endpoint = stream_.socket().remote_endpoint(ec);
    peer_ = ec ? std::string{"?"} : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    server_.sessions.insert(this);
    silent_ = server_.silent.insert(server_.silent.end(), this);
  }
  ~Session() override {
    server_.sessions.erase(this);
    spoke();
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.header_limit));
    parser_->body_limit(0);
    stream_.expires_after(server_.options.deadline);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void close() override {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  /// It sent a whole request (or is gone, or is made to go): it is no longer
  /// a candidate to make room.
  void spoke() {
    if (silent_ != server_.silent.end()) {
      server_.silent.erase(silent_);
      silent_ = server_.silent.end();
    }
  }

private:

  void on_read(beast::error_code ec) {
    if (!ec)
      spoke();
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted)
      return close();
    if (ec == beast::error::timeout)
      return server_.refuse(peer_, "deadline",
                            "no whole request within " + std::to_string(server_.options.deadline.count()) + " ms");
    if (ec == http::error::header_limit)
      return fail(http::status::request_header_fields_too_large, "header_too_large",
                  "a header over " + std::to_string(server_.options.header_limit) + " bytes");
    if (ec == http::error::body_limit || ec == http::error::unexpected_body)
      return fail(http::status::payload_too_large, "body", "a request with a body");
    if (ec) {
      if (ec == net::error::eof || ec == net::error::connection_reset)
        return close();
      return fail(http::status::bad_request, "malformed", "not HTTP (" + ec.message() + ")");
    }
    if (websocket::is_upgrade(parser_->get())) {
      const auto target = std::string{parser_->get().target()};
      const auto socket = server_.sockets.find(target.substr(0, target.find('?')));
      if (socket == server_.sockets.end())
        return fail(http::status::not_found, "malformed", "a WebSocket upgrade of " + target.substr(0, 200));
      stream_.expires_never();
      auto upgraded = std::make_shared<WebSocketSession>(stream_.release_socket(), server_, socket->second, peer_);
      upgraded->start(parser_->release());
      return;
    }
    answer(parser_->get());
  }

  /// Answers a bad request with `status` and closes the connection.
  void fail(http::status status, const std::string& reason, const std::string& why) {
    server_.refuse(peer_, reason, why);
    auto response = std::make_shared<http::response<http::string_body>>(status, 11);
    response->set(http::field::content_type, "text/plain; charset=utf-8");
    response->set(http::field::connection, "close");
    response->body() = why + "\n";
    response->prepare_payload();
    write(response, false);
  }

  void answer(const http::request<http::empty_body>& request) {
    auto response = std::make_shared<http::response<http::string_body>>(http::status::ok, request.version());
    response->set(http::field::server, "troupe");
    const auto target = std::string{request.target()};
    const auto path = target.substr(0, target.find('?'));
    const auto route = server_.routes.find(path);
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      response->result(http::status::method_not_allowed);
      response->set(http::field::allow, "GET, HEAD");
      response->body() = "only GET and HEAD\n";
    } else if (route == server_.routes.end()) {
      response->result(http::status::not_found);
      std::string known;
      for (const auto& [name, ignored] : server_.routes)
        known += " " + name;
      response->body() = "no such page; there are:" + known + "\n";
    } else {
      auto answer = route->second();
      response->result(answer.status);
      response->set(http::field::content_type, answer.content_type);
      response->body() = std::move(answer.body);
      server_.served_total.add();
    }
    if (!response->has_content_length() && response->find(http::field::content_type) == response->end())
      response->set(http::field::content_type, "text/plain; charset=utf-8");
    response->keep_alive(request.keep_alive());
    response->prepare_payload();
    if (request.method() == http::verb::head)
      response->body().clear(); // Content-Length stays that of the GET
    write(response, request.keep_alive());
  }

  void write(std::shared_ptr<http::response<http::string_body>> response, bool keep_alive) {
    stream_.expires_after(server_.options.deadline);
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response, keep_alive](beast::error_code ec, std::size_t) {
                        if (ec == beast::error::timeout)
                          self->server_.refuse(self->peer_, "deadline",
                                               "did not read its answer within " +
                                                 std::to_string(self->server_.options.deadline.count()) + " ms");
                        if (ec || !keep_alive)
                          return self->close();
                        self->read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  HttpServer::Impl& server_;
  std::string peer_;
  std::list<Session*>::iterator silent_;
};

void HttpServer::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open())
      return;
    if (!ec) {
      const auto too_many = "more than " + std::to_string(options.max_connections) + " connections at once";
      if (sessions.size() >= options.max_connections && silent.empty()) {
        beast::error_code ignored;
        const auto endpoint = socket.remote_endpoint(ignored);
        refuse(ignored ? std::string{"?"} : endpoint.address().to_string(), "connections", too_many);
        socket.close(ignored);
      } else {
        if (sessions.size() >= options.max_connections) {
          // Make room: the connection that has been silent longest goes (it
          // leaves `sessions` once its handler has run: the newcomer is let
          // in now).
          auto* oldest = silent.front();
          oldest->spoke();
          refuse("a silent connection", "connections", too_many + ": closed the one silent longest");
          oldest->close();
        }
        std::make_shared<Session>(std::move(socket), *this)->read();
      }
    }
    accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Expected<std::unique_ptr<HttpServer>> HttpServer::start(const HttpOptions& options,
                                                         std::map<std::string, HttpRoute> routes,
                                                         std::map<std::string, WebSocketRoute> sockets) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->routes = std::move(routes);
  impl->sockets = std::move(sockets);
  impl->served_total = counter("troupe_http_requests_total", "Requests the endpoint answered",
                               {{"node", options.node}});
  beast::error_code ec;
  const auto address = net::ip::make_address(options.address, ec);
  if (ec)
    return Error{errc::bad_config, "node " + options.node + ": http: \"" + options.address + "\" is not an IP address"};
  const tcp::endpoint endpoint{address, options.port};
  auto& acceptor = impl->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); !ec)
    if (acceptor.set_option(net::socket_base::reuse_address(true), ec); !ec)
      if (acceptor.bind(endpoint, ec); !ec)
        acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return Error{errc::run_failed, "node " + options.node + ": http: cannot listen on " + options.address + ":" +
                                     std::to_string(options.port) + ": " + ec.message()};
  impl->port = acceptor.local_endpoint().port();
  impl->accept();
  auto* raw = impl.get();
  impl->thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::~HttpServer() {
  // Stop accepting and close every connection on the I/O thread; its run()
  // returns once the last handler is done.
  net::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
    for (auto* session : std::set<Closable*>{impl->sessions})
      session->close();
  });
  impl_->thread.join();
}

std::uint16_t HttpServer::port() const { return impl_->port; }

} // namespace troupe::live
