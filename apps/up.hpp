#pragma once
// `troupe up`: every node of a topology as its own process on this host, under
// one process supervisor.

#include <troupe/config/topology.hpp>

#include <string>
#include <vector>

namespace troupe::app {

/// Starts `troupe node ARGS --node NAME` for every node of `topology` (config
/// order; the node with logic passes its output through, the others write
/// OUT/logs/NAME.log) and supervises them: a node that dies from a signal or a
/// failure exit is restarted with backoff, within its [[nodes]] supervision
/// intensity; a refused node (exit 2) stops the cluster. The run ends when the
/// node with logic exits: its exit code is up's. SIGINT/SIGTERM stops every node
/// in reverse order (SIGTERM, then SIGKILL after a grace period).
///
/// `node_args` are the arguments every node gets (the config and run options);
/// `troupe` is the executable to start. Expects SIGINT, SIGTERM and SIGCHLD to be
/// blocked in the calling thread (it waits for them).
/// `coordinator_args` are for the node with logic alone (--http). With a
/// `trace` path, every node process records a trace (OUT/traces/NODE-N.json,
/// N counting its starts) and up merges them into `trace` at the end.
int up(const config::Topology& topology, const std::string& troupe, const std::vector<std::string>& node_args,
       const std::vector<std::string>& coordinator_args, const std::string& trace, const std::string& out_dir);

} // namespace troupe::app
