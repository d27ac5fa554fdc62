#include "live_view.hpp"
#include "report.hpp"

#include <troupe/live/assets.hpp>
#include <troupe/live/telemetry.hpp>
#include <troupe/live/world_view.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace troupe::app {

namespace {

/// One frame of the dashboard's WebSocket: every sample, and the newest
/// picture of the world (positions in centimetres, to keep frames small).
std::string dashboard_frame(const std::string& node, const RunHandle* run) {
  live::want_world_view(); // the next tick draws a fresh one
  auto samples = nlohmann::json::array();
  for (const auto& sample : live::samples())
    samples.push_back({sample.name, sample.labels, std::isfinite(sample.value) ? sample.value : 0.0});
  nlohmann::json frame{{"node", node},
                       {"time", std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count()},
                       {"input_live", run && run->takes_commands()},
                       {"samples", std::move(samples)},
                       {"world", nullptr}};
  if (const auto view = live::latest_world_view()) {
    std::vector<long> xyzr;
    xyzr.reserve(view->xyzr.size());
    for (float v : view->xyzr)
      xyzr.push_back(std::isfinite(v) ? std::lround(static_cast<double>(v) * 100) : 0);
    const auto& a = view->arena;
    frame["world"] = {{"tick", view->tick},
                      {"generation", view->generation},
                      {"paused", view->paused},
                      {"bodies", view->bodies},
                      {"arena", {a.min.x, a.min.y, a.min.z, a.max.x, a.max.y, a.max.z}},
                      {"xyzr", std::move(xyzr)},
                      {"colors", view->colors}};
  }
  return frame.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

Expected<std::string> dashboard_command(const std::string& text) {
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object() || !json.contains("command") || !json["command"].is_string())
    return Error{errc::bad_argument, "expected {\"command\": \"pause\" | \"resume\" | \"spawn\", ...}"};
  const auto command = json["command"].get<std::string>();
  if (command == "pause" || command == "resume")
    return command;
  if (command != "spawn")
    return Error{errc::bad_argument, "unknown command \"" + command.substr(0, 40) + "\""};
  // Three finite numbers of a sane size, or the command is refused.
  auto vec = [&](const char* key, double limit, double out[3]) {
    const auto it = json.find(key);
    if (it == json.end() || !it->is_array() || it->size() != 3)
      return false;
    for (int i = 0; i < 3; ++i) {
      if (!(*it)[i].is_number())
        return false;
      out[i] = (*it)[i].get<double>();
      if (!std::isfinite(out[i]) || std::abs(out[i]) > limit)
        return false;
    }
    return true;
  };
  double position[3], velocity[3];
  const double radius = json.value("radius", 0.5);
  if (!vec("position", 1e4, position) || !vec("velocity", 1e3, velocity) || !(radius >= 0.05 && radius <= 5))
    return Error{errc::bad_argument,
                 "spawn needs position [x, y, z] (|v| <= 1e4), velocity [x, y, z] (|v| <= 1e3) and radius in [0.05, 5]"};
  char line[256];
  std::snprintf(line, sizeof line, "spawn %.3f %.3f %.3f %.3f %.3f %.3f %.3f", position[0], position[1], position[2],
                velocity[0], velocity[1], velocity[2], radius);
  return std::string{line};
}

Expected<std::unique_ptr<live::HttpServer>> serve_live_view(const config::Topology& topology,
                                                            const RunOptions& options, std::uint16_t port,
                                                            std::shared_ptr<RunHandle> run) {
  const auto* node = topology.node(options.only_node.empty() ? topology.the(config::Role::coordinator).node
                                                             : options.only_node);
  if (!node)
    return std::unique_ptr<live::HttpServer>{};
  if (port == 0 && node->http_port == 0 && options.only_node.empty())
    for (const auto& other : topology.nodes)
      if (other.http_port != 0) {
        node = &other;
        break;
      }
  live::HttpOptions http;
  http.node = node->name;
  http.address = node->http_address;
  http.port = port != 0 ? port : node->http_port;
  if (http.port == 0)
    return std::unique_ptr<live::HttpServer>{};

  std::map<std::string, live::HttpRoute> routes;
  routes["/metrics"] = [] {
    return live::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", live::exposition()};
  };
  routes["/report.json"] = [run, &topology, simulation = effective_simulation(topology, options)] {
    auto result = run ? run->report() : std::nullopt;
    if (!result)
      return live::HttpResponse{404, "text/plain; charset=utf-8",
                                "no report here: the process with logic serves it, while the run goes on\n"};
    return live::HttpResponse{200, "application/json", report_json(*result, topology, simulation)};
  };
  for (const char* path : {"/", "/dashboard.js", "/uPlot.min.js", "/uPlot.min.css"})
    if (const auto* asset = live::find_asset(path))
      routes[path] = [asset] {
        return live::HttpResponse{200, std::string{asset->content_type}, std::string{asset->bytes}};
      };
  std::map<std::string, live::WebSocketRoute> sockets;
  live::WebSocketRoute ws;
  ws.frame = [name = node->name, run] { return dashboard_frame(name, run.get()); };
  ws.on_message = [run](const std::string& text) -> std::string {
    auto command = dashboard_command(text);
    if (!command)
      return nlohmann::json{{"error", command.error().message}}.dump();
    if (!run || !run->send_command(*command))
      return nlohmann::json{{"error", "input does not take live commands in this process"}}.dump();
    return nlohmann::json{{"sent", *command}}.dump();
  };
  sockets["/ws"] = std::move(ws);

  auto server = live::HttpServer::start(http, std::move(routes), std::move(sockets));
  if (!server)
    return server.error();
  std::cerr << "troupe: node " << http.node << ": live view at http://" << http.address << ":" << (*server)->port()
            << "/ (metrics at /metrics)\n";
  return server;
}

} // namespace troupe::app
