#pragma once
/// \file Chrome trace events of this process (docs/architecture.md, "Live
/// view"): `--trace FILE` turns recording on; actors and the runtime add spans
/// (a tick, a step, publishing, a draw, a save, a mix, a link outage) and
/// instants (a restart) on the track of their actor; at the end the process
/// writes one JSON file that Perfetto and chrome://tracing open, with one pid
/// per node and one track per actor. `troupe up` merges its nodes' files:
/// times are the steady clock, which every process of a host shares.
///
/// Off (the default), a call costs one relaxed atomic load.

#include <troupe/error.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace troupe::live {

/// Starts recording (at most `max_events`; later ones are counted, not kept).
void start_trace(std::size_t max_events = 2'000'000);
bool tracing();

/// A span [begin_ns, end_ns] of the steady clock (steady_now_ns) on the track
/// of `actor` on `node`; `tick` < 0 for none. `name` must outlive the process
/// (a literal).
void trace_span(const char* name, const std::string& node, const std::string& actor, std::int64_t begin_ns,
                std::int64_t end_ns, std::int64_t tick = -1, const std::string& detail = {});
/// A moment on that track.
void trace_instant(const char* name, const std::string& node, const std::string& actor, std::int64_t at_ns,
                   std::int64_t tick = -1, const std::string& detail = {});

/// Writes everything recorded as Chrome trace event JSON to `path` (through a
/// temporary file, renamed into place). A node's pid is 1 + its index in
/// `nodes` (the topology's order), so the files of several processes merge
/// without clashes.
Expected<void> write_trace(const std::string& path, const std::vector<std::string>& nodes);

/// Merges trace files (of the nodes of one run on one host) into `path`; a
/// missing or unreadable file is skipped and named in the result's message.
Expected<std::string> merge_traces(const std::vector<std::string>& files, const std::string& path);

} // namespace troupe::live
