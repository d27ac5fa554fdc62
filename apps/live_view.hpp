#pragma once
// The live view's HTTP endpoint of one process (README, "Live view"):
// /metrics, /report.json, the dashboard (/ and its files) and its WebSocket
// (/ws).

#include <troupe/actors/runtime.hpp>
#include <troupe/config/topology.hpp>
#include <troupe/live/http_server.hpp>

#include <cstdint>
#include <memory>

namespace troupe::app {

/// Starts the endpoint when asked for: on `port` (the command line's) or the
/// [[nodes]] http_port of the node it serves (this node, or in a process of
/// every node the node with logic, else the first with one). It serves every
/// node of the process: the metrics are the process's. Null when no port is
/// set. The dashboard's buttons and /report.json go through `run`.
Expected<std::unique_ptr<live::HttpServer>> serve_live_view(const config::Topology& topology,
                                                            const RunOptions& options, std::uint16_t port,
                                                            std::shared_ptr<RunHandle> run);

/// The dashboard's command (JSON from its WebSocket) as a command line for
/// input ("pause", "spawn X Y Z VX VY VZ R"), or an error in words.
Expected<std::string> dashboard_command(const std::string& json);

} // namespace troupe::app
