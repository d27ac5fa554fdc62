#pragma once
// The end-of-run outputs: a summary table on stdout, OUT/report.json and
// OUT/report.html (inline SVG plots). Schema: README.md, "Reading the report".

#include <troupe/actors/runtime.hpp>

#include <string>

namespace troupe::app {

/// The summary table printed at the end of a run.
std::string summary_table(const RunResult& result);

/// The report as JSON (schema version 1).
std::string report_json(const RunResult& result, const config::Topology& topology,
                        const config::SimulationSpec& simulation);

/// The report as a self-contained HTML page with plots.
std::string report_html(const RunResult& result, const config::Topology& topology,
                        const config::SimulationSpec& simulation);

/// Formats a world hash the way every output shows it ("0x" + 16 hex digits).
std::string hash_text(std::uint64_t hash);

} // namespace troupe::app
