#include <troupe/live/trace.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <utility>

namespace troupe::live {

namespace {

struct Event {
  const char* name;
  std::uint32_t track;
  char phase; // 'X' span, 'i' instant
  std::int64_t begin_ns, end_ns, tick;
  std::string detail;
};

struct Recorder {
  std::atomic<bool> on{false};
  std::mutex mutex;
  std::size_t max_events = 0;
  std::vector<Event> events;
  std::uint64_t dropped = 0;
  std::map<std::pair<std::string, std::string>, std::uint32_t> tracks; // (node, actor) -> id
};

Recorder& recorder() {
  static Recorder* the = new Recorder; // outlives every thread that may still trace
  return *the;
}

void add(Event event, const std::string& node, const std::string& actor) {
  auto& r = recorder();
  std::lock_guard<std::mutex> guard{r.mutex};
  if (r.events.size() >= r.max_events) {
    ++r.dropped;
    return;
  }
  const auto track = r.tracks.emplace(std::make_pair(node, actor), static_cast<std::uint32_t>(r.tracks.size() + 1));
  event.track = track.first->second;
  r.events.push_back(std::move(event));
}

Expected<void> write_json(const nlohmann::json& json, const std::string& path) {
  const auto temporary = path + ".partial";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (!out)
      return Error{errc::io_failed, "cannot write " + temporary};
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec)
    return Error{errc::io_failed, "cannot write " + path + ": " + ec.message()};
  return {};
}

} // namespace

void start_trace(std::size_t max_events) {
  auto& r = recorder();
  {
    std::lock_guard<std::mutex> guard{r.mutex};
    r.max_events = max_events;
    r.events.reserve(std::min<std::size_t>(max_events, 65536));
  }
  r.on.store(true, std::memory_order_release);
}

bool tracing() { return recorder().on.load(std::memory_order_relaxed); }

void trace_span(const char* name, const std::string& node, const std::string& actor, std::int64_t begin_ns,
                std::int64_t end_ns, std::int64_t tick, const std::string& detail) {
  if (tracing())
    add({name, 0, 'X', begin_ns, end_ns, tick, detail}, node, actor);
}

void trace_instant(const char* name, const std::string& node, const std::string& actor, std::int64_t at_ns,
                   std::int64_t tick, const std::string& detail) {
  if (tracing())
    add({name, 0, 'i', at_ns, at_ns, tick, detail}, node, actor);
}

Expected<void> write_trace(const std::string& path, const std::vector<std::string>& nodes) {
  auto& r = recorder();
  std::lock_guard<std::mutex> guard{r.mutex};
  auto pid_of = [&](const std::string& node) {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i] == node)
        return static_cast<int>(i + 1);
    return static_cast<int>(nodes.size() + 1);
  };
  std::map<std::uint32_t, std::pair<int, std::string>> track_of; // id -> (pid, actor)
  for (const auto& [key, id] : r.tracks)
    track_of[id] = {pid_of(key.first), key.second};
  auto events = nlohmann::json::array();
  std::map<int, std::string> processes;
  for (const auto& [key, id] : r.tracks)
    processes[pid_of(key.first)] = key.first;
  for (const auto& [pid, node] : processes)
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"args", {{"name", "node " + node}}}});
  for (const auto& [id, track] : track_of)
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", track.first},
                      {"tid", id},
                      {"args", {{"name", track.second}}}});
  for (const auto& e : r.events) {
    const auto& [pid, actor] = track_of[e.track];
    nlohmann::json event{{"name", e.name},
                         {"cat", "troupe"},
                         {"ph", std::string(1, e.phase)},
                         {"pid", pid},
                         {"tid", e.track},
                         {"ts", static_cast<double>(e.begin_ns) / 1e3}};
    if (e.phase == 'X')
      event["dur"] = static_cast<double>(e.end_ns - e.begin_ns) / 1e3;
    else
      event["s"] = "t";
    auto args = nlohmann::json::object();
    if (e.tick >= 0)
      args["tick"] = e.tick;
    if (!e.detail.empty())
      args["detail"] = e.detail;
    if (!args.empty())
      event["args"] = std::move(args);
    events.push_back(std::move(event));
  }
  nlohmann::json json{{"traceEvents", std::move(events)},
                      {"displayTimeUnit", "ms"},
                      {"otherData", {{"clock", "steady (CLOCK_MONOTONIC), microseconds"},
                                     {"events_dropped", r.dropped}}}};
  return write_json(json, path);
}

Expected<std::string> merge_traces(const std::vector<std::string>& files, const std::string& path) {
  auto events = nlohmann::json::array();
  std::string skipped;
  std::uint64_t dropped = 0;
  for (const auto& file : files) {
    std::ifstream in(file);
    auto json = in ? nlohmann::json::parse(in, nullptr, false) : nlohmann::json{};
    if (!json.is_object() || !json.contains("traceEvents") || !json["traceEvents"].is_array()) {
      skipped += (skipped.empty() ? "" : ", ") + file;
      continue;
    }
    for (auto& event : json["traceEvents"])
      events.push_back(std::move(event));
    dropped += json.value("otherData", nlohmann::json::object()).value("events_dropped", std::uint64_t{0});
  }
  nlohmann::json merged{{"traceEvents", std::move(events)},
                        {"displayTimeUnit", "ms"},
                        {"otherData", {{"clock", "steady (CLOCK_MONOTONIC), microseconds"},
                                       {"events_dropped", dropped}}}};
  if (auto written = write_json(merged, path); !written)
    return written.error();
  return skipped.empty() ? std::string{} : "no trace from " + skipped;
}

} // namespace troupe::live
