#include "report.hpp"

#include <troupe/live/assets.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <iterator>
#include <sstream>
#include <tuple>

namespace troupe::app {
namespace {

std::string fixed(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

/// A number as the report shows it: integers without a fraction, the rest to
/// six decimals (stable text from run to run, small files).
std::string number_text(double v) {
  if (!std::isfinite(v))
    return "null";
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return std::to_string(static_cast<long long>(v));
  return fixed(v, 6);
}

nlohmann::ordered_json json_number(double v) {
  if (!std::isfinite(v))
    return nullptr;
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return static_cast<long long>(v);
  return std::round(v * 1e6) / 1e6;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

const char* overflow_name(std::uint8_t overflow) {
  return config::to_string(static_cast<config::Overflow>(overflow));
}

const Percentiles* find_distribution(const ActorReport& a, const std::string& name) {
  for (auto& [n, p] : a.distributions)
    if (n == name)
      return &p;
  return nullptr;
}

double counter(const ActorReport& a, const std::string& name) {
  for (auto& [n, v] : a.counters)
    if (n == name)
      return v;
  return 0;
}

const ActorReport* first_with_role(const RunResult& r, const std::string& role) {
  for (auto& a : r.actors)
    if (a.role == role)
      return &a;
  return nullptr;
}

/// Commands as input and logic saw them. A command is lost when input sent it,
/// it was due within the run, and logic never applied it.
struct CommandCounts {
  double sent = 0, applied = 0, after_end = 0;
  double lost() const { return sent - applied - after_end; }
};

CommandCounts command_counts(const RunResult& r) {
  CommandCounts out;
  if (const auto* input = first_with_role(r, "source"))
    out.sent = counter(*input, "commands_sent");
  if (const auto* logic = first_with_role(r, "coordinator")) {
    out.applied = counter(*logic, "commands_applied");
    out.after_end = counter(*logic, "commands_after_end");
  }
  return out;
}

nlohmann::ordered_json percentiles_json(const Percentiles& p) {
  return {{"count", p.count},         {"p50", json_number(p.p50)}, {"p95", json_number(p.p95)},
          {"p99", json_number(p.p99)}, {"max", json_number(p.max)}, {"mean", json_number(p.mean)}};
}

/// A line plot of several series on one scale: a figure whose data uPlot
/// draws when the page loads (axes with units, hover values, drag to zoom).
/// The series are decimated (apps: SampleRecorder::series): point i stands for
/// samples from i * `bucket`, so the x axis counts `x_label`s.
std::string plot(const std::vector<std::pair<std::string, const std::vector<float>*>>& lines,
                 const std::string& title, const std::string& unit, const std::string& x_label = "tick",
                 std::size_t bucket = 1) {
  std::size_t points = 0;
  for (const auto& [label, ys] : lines)
    points = std::max(points, ys->size());
  std::ostringstream out;
  out << "<figure><figcaption>" << html_escape(title) << "</figcaption>";
  if (points == 0)
    return out.str() + "<p>no samples</p></figure>";
  nlohmann::json data{{"unit", unit}, {"x_label", x_label}, {"x", nlohmann::json::array()},
                      {"series", nlohmann::json::array()}};
  for (std::size_t i = 0; i < points; ++i)
    data["x"].push_back(i * std::max<std::size_t>(bucket, 1));
  for (const auto& [label, ys] : lines) {
    auto values = nlohmann::json::array();
    for (std::size_t i = 0; i < points; ++i)
      values.push_back(i < ys->size() && std::isfinite((*ys)[i]) ? nlohmann::json((*ys)[i]) : nlohmann::json());
    data["series"].push_back({{"label", label.empty() ? title : label}, {"values", std::move(values)}});
  }
  // No "</" inside a script element.
  auto text = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  for (std::size_t at = 0; (at = text.find("</", at)) != std::string::npos; at += 3)
    text.replace(at, 2, "<\\/");
  out << "<div class='plot'></div><script type='application/json' class='plot-data'>" << text << "</script></figure>";
  return out.str();
}

/// uPlot (embedded: live/assets.hpp) and the script that draws every plot.
std::string plot_scripts() {
  const auto* js = live::find_asset("/uPlot.min.js");
  const auto* css = live::find_asset("/uPlot.min.css");
  std::ostringstream out;
  if (css)
    out << "<style>" << css->bytes << "</style>";
  if (js)
    out << "<script>" << js->bytes << "</script>";
  out << R"JS(<script>
const colours = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
for (const block of document.querySelectorAll("script.plot-data")) {
  const d = JSON.parse(block.textContent);
  const series = [{ label: d.x_label }].concat(d.series.map((s, i) => ({
    label: s.label + (d.unit ? " (" + d.unit + ")" : ""), stroke: colours[i % colours.length], width: 1.5, spanGaps: true })));
  new uPlot({ width: 720, height: 240, scales: { x: { time: false } }, series,
              axes: [{ label: d.x_label }, { label: d.unit || "", size: 60 }],
              cursor: { drag: { x: true, y: false } } },
            [d.x].concat(d.series.map((s) => s.values)), block.previousElementSibling);
}
</script>)JS";
  return out.str();
}

/// A world run as regions: each figure of the regions on one plot, a line
/// per region, and a table of them side by side.
std::string regions_section(const RunResult& r) {
  std::vector<const ActorReport*> regions;
  for (const auto& a : r.actors)
    if (a.role == "stepper" && counter(a, "regions") > 1)
      regions.push_back(&a);
  if (regions.empty())
    return {};
  std::ostringstream out;
  out << "<h2>Regions</h2><table><tr><th>region</th><th>node</th><th>bodies owned (end)</th><th>ghosts p50</th>"
      << "<th>migrations in</th><th>step ms p50</th><th>step ms p99</th><th>exchange bytes/tick p50</th>"
      << "<th>restarts</th></tr>";
  auto dist = [](const ActorReport& a, const std::string& name) {
    for (const auto& [n, p] : a.distributions)
      if (n == name)
        return p;
    return Percentiles{};
  };
  for (const auto* a : regions)
    out << "<tr><td>" << html_escape(a->name) << "</td><td>" << html_escape(a->node) << "</td><td>"
        << number_text(counter(*a, "owned")) << "</td><td>" << fixed(dist(*a, "ghosts").p50, 0) << "</td><td>"
        << number_text(counter(*a, "migrations")) << "</td><td>" << fixed(dist(*a, "step_ms").p50) << "</td><td>"
        << fixed(dist(*a, "step_ms").p99) << "</td><td>" << fixed(dist(*a, "exchange_bytes").p50, 0) << "</td><td>"
        << number_text(counter(*a, "incarnation")) << "</td></tr>";
  out << "</table>";
  for (const auto& [series, title, unit] :
       std::initializer_list<std::tuple<const char*, const char*, const char*>>{
         {"owned", "bodies each region owns, per tick", ""},
         {"ghosts", "ghosts each region steps, per tick", ""},
         {"step_ms", "each region's step, per tick", "ms"},
         {"exchange_bytes", "bytes each region sends the others, per tick", "B"}}) {
    std::vector<std::pair<std::string, const std::vector<float>*>> lines;
    for (const auto* a : regions)
      for (const auto& [name, ys] : a->series)
        if (name == series)
          lines.emplace_back(a->name, &ys);
    out << plot(lines, std::string("Regions: ") + title, unit);
  }
  return out.str();
}

/// A supervisor's restarts on a time line: one row per child, a mark at each
/// restart (its width: the backoff waited before it), so bursts and growing
/// backoffs show at a glance.
std::string svg_restarts(const ActorReport& a) {
  const std::vector<float>* at = nullptr;
  const std::vector<float>* backoff = nullptr;
  const std::vector<float>* child = nullptr;
  for (auto& [name, ys] : a.series) {
    if (name == "restart_at_ms") at = &ys;
    if (name == "restart_backoff_ms") backoff = &ys;
    if (name == "restart_child") child = &ys;
  }
  std::vector<std::string> children;
  for (auto& [key, value] : a.notes) {
    if (key != "children")
      continue;
    std::istringstream names(value);
    for (std::string name; std::getline(names, name, ',');)
      children.push_back(name);
  }
  if (!at || !backoff || !child || at->empty() || child->size() != at->size() || children.empty())
    return {};
  const int row = 22, left = 110, w = 640;
  const double span = std::max(1.0f, *std::max_element(at->begin(), at->end()) * 1.02f);
  std::ostringstream out;
  out << "<figure><figcaption>" << html_escape(a.name) << ": restart timeline (" << at->size()
      << " restarts over " << fixed(span / 1000, 2) << " s; mark width = backoff)</figcaption><svg width='" << w
      << "' height='" << row * children.size() + 24 << "' role='img'>";
  for (std::size_t c = 0; c < children.size(); ++c)
    out << "<text x='0' y='" << row * c + 15 << "' font-size='12'>" << html_escape(children[c]) << "</text>"
        << "<line x1='" << left << "' x2='" << w - 5 << "' y1='" << row * c + 11 << "' y2='" << row * c + 11
        << "' stroke='#e5e7eb'/>";
  const double scale = (w - 5 - left) / span;
  for (std::size_t i = 0; i < at->size(); ++i) {
    const auto c = static_cast<std::size_t>((*child)[i]);
    const double x = left + (*at)[i] * scale;
    const double width = std::max(2.0, (*backoff)[i] * scale);
    out << "<rect x='" << fixed(x, 1) << "' y='" << row * c + 4 << "' width='" << fixed(width, 1)
        << "' height='14' fill='#dc2626' opacity='0.7'><title>" << html_escape(children[std::min(c, children.size() - 1)])
        << " at " << fixed((*at)[i], 1) << " ms, backoff " << fixed((*backoff)[i], 3) << " ms</title></rect>";
  }
  out << "<text x='" << left << "' y='" << row * children.size() + 18 << "' font-size='11'>0 ms</text><text x='"
      << w - 70 << "' y='" << row * children.size() + 18 << "' font-size='11'>" << fixed(span, 0) << " ms</text>";
  out << "</svg></figure>";
  return out.str();
}

/// Horizontal bars (one per actor) of a mailbox figure against its capacity.
std::string svg_mailboxes(const RunResult& r) {
  const int row = 26, w = 640;
  std::ostringstream out;
  out << "<figure><figcaption>Mailbox high-water mark / capacity (bars), drops and rejections"
      << "</figcaption><svg width='" << w << "' height='" << row * r.actors.size() + 10
      << "' role='img'>";
  int y = 4;
  for (auto& a : r.actors) {
    const double cap = std::max<double>(1, a.mailbox.capacity);
    const double frac = std::min(1.0, double(a.mailbox.high_water) / cap);
    out << "<text x='0' y='" << y + 15 << "' font-size='12'>" << html_escape(a.name) << "</text>"
        << "<rect x='120' y='" << y << "' width='300' height='18' fill='#eee'/>"
        << "<rect x='120' y='" << y << "' width='" << fixed(300 * frac, 1)
        << "' height='18' fill='" << (frac >= 1 ? "#dc2626" : "#16a34a") << "'/>"
        << "<text x='430' y='" << y + 15 << "' font-size='12'>" << a.mailbox.high_water << '/'
        << a.mailbox.capacity << ' ' << overflow_name(a.mailbox.overflow) << ", dropped "
        << a.mailbox.dropped << ", rejected " << a.mailbox.rejected << "</text>";
    y += row;
  }
  out << "</svg></figure>";
  return out.str();
}

} // namespace

std::string hash_text(std::uint64_t hash) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(hash));
  return buf;
}

std::string note(const ActorReport& a, const std::string& key) {
  for (auto& [k, v] : a.notes)
    if (k == key)
      return v;
  return {};
}

/// The last recorded frame of a render actor, relative to the report's folder
/// (frames are named by zero-padded tick, so the greatest name is the last).
std::string last_frame(const ActorReport& a) {
  const auto dir = note(a, "frames");
  if (dir.empty() || counter(a, "frames_recorded") == 0)
    return {};
  std::filesystem::path newest;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".png" && entry.path().filename() > newest.filename())
      newest = entry.path();
  if (newest.empty())
    return {};
  return (std::filesystem::path(dir).filename() / newest.filename()).string();
}

std::string summary_table(const RunResult& r) {
  std::ostringstream out;
  out << "\n  troupe run " << (r.ok ? "finished" : "FAILED") << ": " << r.ticks << " ticks, "
      << r.bodies << " bodies, " << fixed(r.wall_seconds, 2) << " s wall, " << r.threads
      << " physics thread(s)\n";
  out << "  world hash " << hash_text(r.world_hash) << "\n\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-12s %-9s %-10s %10s %8s %8s %8s %8s\n", "actor", "kind",
                "node", "admitted", "dropped", "rejected", "high", "cap");
  out << line;
  for (auto& a : r.actors) {
    std::snprintf(line, sizeof line, "  %-12s %-9s %-10s %10llu %8llu %8llu %8llu %8u\n",
                  a.name.c_str(), a.kind.c_str(), a.node.c_str(),
                  static_cast<unsigned long long>(a.mailbox.admitted),
                  static_cast<unsigned long long>(a.mailbox.dropped),
                  static_cast<unsigned long long>(a.mailbox.rejected),
                  static_cast<unsigned long long>(a.mailbox.high_water), a.mailbox.capacity);
    out << line;
  }
  out << '\n';
  for (auto& a : r.actors) {
    for (auto& [name, p] : a.distributions) {
      if (p.count == 0)
        continue;
      std::snprintf(line, sizeof line, "  %-12s %-11s p50 %9s  p95 %9s  p99 %9s  max %9s\n",
                    a.name.c_str(), name.c_str(), fixed(p.p50).c_str(), fixed(p.p95).c_str(),
                    fixed(p.p99).c_str(), fixed(p.max).c_str());
      out << line;
    }
  }
  const auto commands = command_counts(r);
  out << "\n  commands sent " << commands.sent << ", applied " << commands.applied
      << ", due after the last tick " << commands.after_end << ", lost " << commands.lost() << '\n';
  for (auto& a : r.actors)
    if (const auto said = note(a, "summary"); !said.empty())
      out << "  " << a.name << ": " << said << '\n';
  if (!r.ok)
    out << "\n  error: " << r.error.to_string() << '\n';
  return out.str();
}

std::string report_json(const RunResult& r, const config::Topology& topology,
                        const config::SimulationSpec& s) {
  using json = nlohmann::ordered_json;
  json out;
  out["schema"] = "troupe-report/1";
  out["ok"] = r.ok;
  out["error"] = r.error.to_string();
  out["config"] = topology.path;
  out["simulation"] = {{"scenario", s.scenario}, {"bodies", s.bodies},
                       {"seed", s.seed},         {"tick_hz", json_number(s.tick_hz)},
                       {"ticks", s.ticks},       {"threads", s.threads},
                       {"mode", s.mode == config::Mode::batch ? "batch" : "realtime"}};
  out["ticks"] = r.ticks;
  out["bodies"] = r.bodies;
  out["world_hash"] = hash_text(r.world_hash);
  out["wall_seconds"] = json_number(r.wall_seconds);
  if (const auto* logic = first_with_role(r, "coordinator"))
    if (auto* p = find_distribution(*logic, "tick_ms"))
      out["tick_ms"] = percentiles_json(*p);
  Percentiles handoff{};
  for (auto& a : r.actors)
    if (auto* p = find_distribution(a, "handoff_us"); p && p->count > handoff.count)
      handoff = *p;
  out["snapshot_handoff_us"] = percentiles_json(handoff);
  const auto commands = command_counts(r);
  out["commands"] = {{"sent", json_number(commands.sent)},
                     {"applied", json_number(commands.applied)},
                     {"after_end", json_number(commands.after_end)},
                     {"lost", json_number(commands.lost())}};
  out["nodes"] = json::array();
  for (auto& [name, port] : r.node_ports)
    out["nodes"].push_back({{"name", name}, {"port", port}});
  out["actors"] = json::array();
  for (const auto& a : r.actors) {
    json entry = {{"name", a.name}, {"kind", a.kind}, {"node", a.node}, {"role", a.role}};
    entry["mailbox"] = {{"capacity", a.mailbox.capacity},
                        {"overflow", overflow_name(a.mailbox.overflow)},
                        {"admitted", a.mailbox.admitted},
                        {"dropped", a.mailbox.dropped},
                        {"rejected", a.mailbox.rejected},
                        {"high_water", a.mailbox.high_water}};
    auto& counters = entry["counters"] = json::object();
    for (auto& [name, v] : a.counters)
      counters[name] = json_number(v);
    auto& distributions = entry["distributions"] = json::object();
    for (auto& [name, p] : a.distributions)
      distributions[name] = percentiles_json(p);
    auto& series = entry["series"] = json::object();
    for (auto& [name, ys] : a.series) {
      auto& values = series[name] = json::array();
      for (double y : ys)
        values.push_back(json_number(y));
    }
    auto& notes = entry["notes"] = json::object();
    for (auto& [name, text] : a.notes)
      notes[name] = text;
    out["actors"].push_back(std::move(entry));
  }
  // Text from a config or a peer may hold bytes that are not UTF-8: replaced, not thrown.
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string report_html(const RunResult& r, const config::Topology& topology,
                        const config::SimulationSpec& s) {
  std::ostringstream out;
  out << "<!doctype html><html><head><meta charset='utf-8'><title>troupe report</title>"
      << "<style>body{font:14px sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}"
      << "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#f3f4f6}"
      << "td:first-child{text-align:left}figure{margin:1em 0}figcaption{font-weight:bold}</style>"
      << "</head><body><h1>troupe run report</h1>";
  out << "<p>" << (r.ok ? "Finished" : "<b>FAILED</b>: " + html_escape(r.error.to_string())) << ". Config <code>"
      << html_escape(topology.path) << "</code>, scenario " << html_escape(s.scenario) << ", "
      << r.ticks << " ticks, " << r.bodies << " bodies at the end, " << fixed(r.wall_seconds, 2)
      << " s wall, " << s.threads << " physics thread(s). World hash <code>" << hash_text(r.world_hash)
      << "</code>.</p>";
  out << "<h2>Distributions</h2><table><tr><th>actor</th><th>quantity</th><th>count</th><th>p50</th>"
      << "<th>p95</th><th>p99</th><th>max</th></tr>";
  for (auto& a : r.actors)
    for (auto& [name, p] : a.distributions)
      out << "<tr><td>" << html_escape(a.name) << "</td><td>" << html_escape(name) << "</td><td>"
          << p.count << "</td><td>" << fixed(p.p50) << "</td><td>" << fixed(p.p95) << "</td><td>"
          << fixed(p.p99) << "</td><td>" << fixed(p.max) << "</td></tr>";
  out << "</table>" << regions_section(r) << "<h2>Plots</h2>";
  for (auto& a : r.actors)
    for (auto& [name, ys] : a.series) {
      if (a.role == "supervisor")
        continue; // its restarts get a timeline of their own, below
      if (a.role == "stepper" && counter(a, "regions") > 1)
        continue; // regions share plots, above
      const auto unit = name.ends_with("_ms") ? "ms" : name.ends_with("_us") ? "µs" : "";
      const auto point = note(a, "series_per");
      const auto per = point.empty() ? std::string{"tick"} : point;
      // The samples behind each point: from the distribution of the same name.
      std::size_t bucket = 1;
      for (const auto& [dist, p] : a.distributions)
        if (dist == name && !ys.empty())
          bucket = (p.count + ys.size() - 1) / ys.size();
      out << plot({{name, &ys}}, a.name + ": " + name + " per " + per, unit, per, bucket);
    }
  out << svg_mailboxes(r);
  for (auto& a : r.actors)
    if (a.role == "supervisor")
      out << svg_restarts(a);
  out << "<h2>Counters</h2><table><tr><th>actor</th><th>counter</th><th>value</th></tr>";
  for (auto& a : r.actors)
    for (auto& [name, v] : a.counters)
      out << "<tr><td>" << html_escape(a.name) << "</td><td>" << html_escape(name) << "</td><td>"
          << number_text(v) << "</td></tr>";
  out << "</table>";
  for (auto& a : r.actors) {
    if (a.notes.empty())
      continue;
    out << "<h2>" << html_escape(a.name) << "</h2><table>";
    for (auto& [key, value] : a.notes)
      out << "<tr><td>" << html_escape(key) << "</td><td style='text-align:left'>" << html_escape(value)
          << "</td></tr>";
    out << "</table>";
    if (const auto frame = last_frame(a); !frame.empty())
      out << "<figure><figcaption>" << html_escape(a.name) << ": the last recorded frame</figcaption><img src='"
          << html_escape(frame) << "' style='max-width:100%'></figure>";
  }
  out << plot_scripts() << "</body></html>\n";
  return out.str();
}

} // namespace troupe::app
