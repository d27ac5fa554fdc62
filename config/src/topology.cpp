/// \file Loading and validating a topology (schema in topology.hpp).
///
/// Validation runs in two phases. Phase one reads every key of every table on its
/// own: unknown keys, types and ranges. Phase two, only when phase one found
/// nothing, checks what needs the whole file: node names unique, ports free, each
/// actor's node exists, exactly one logic, input and physics actor. Within a phase
/// every error is collected and the one nearest the top of the file is returned,
/// because that is the one a reader fixes first (toml++ tables iterate by key name,
/// not in file order, so "the first one found" would otherwise be arbitrary).

#include "troupe/config/topology.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <sstream>
#include <system_error>
#include <utility>

namespace troupe::config {

namespace {

constexpr std::int64_t int_max = std::numeric_limits<std::int64_t>::max();

// Kinds in start order: physics first (logic needs it to step), then logic (the
// source of truth), then input (feeds logic), then the observers.
constexpr std::array<std::string_view, 6> kind_names = {"physics", "logic", "input", "observer",
                                                       "audio",   "render"};
constexpr std::array<std::string_view, 2> audio_output_names = {"wav", "device"};
constexpr std::array<std::string_view, 2> video_names = {"auto", "off"};
constexpr std::array<std::string_view, 3> scenario_names = {"sandbox", "pile", "empty"};
constexpr std::array<std::string_view, 4> overflow_names = {"latest", "drop-oldest",
                                                            "drop-newest", "reject"};
constexpr std::array<std::string_view, 2> mode_names = {"batch", "realtime"};

using Names = std::vector<std::string_view>;

const Names top_level_keys = {"simulation", "network", "nodes", "actors"};
const Names network_keys = {"heartbeat_ms", "node_timeout_ms", "connect_timeout_ms", "keyframe_every", "tls_ca"};
const Names simulation_keys = {"tick_hz", "ticks",   "seed", "scenario",
                                   "bodies",  "threads", "mode"};
const Names node_keys = {"name", "host", "port", "supervision", "tls_certificate", "tls_key"};
const Names supervision_keys = {"strategy", "max_restarts", "period_ms", "backoff_min_ms",
                                "backoff_max_ms"};
constexpr std::array<std::string_view, 3> strategy_names = {"one_for_one", "one_for_all",
                                                            "rest_for_one"};
constexpr std::array<std::string_view, 3> restart_names = {"permanent", "transient", "temporary"};
const Names mailbox_keys = {"capacity", "overflow"};
const Names actor_keys = {"kind", "node", "mailbox", "restart", "shutdown_timeout_ms"};
const Names physics_keys = {"substeps", "iterations", "friction", "contact_event_speed"};
const Names logic_keys = {"fountain_every", "fountain_max", "rules", "smoke_ticks", "smoke_budget_ms",
                          "install_after_ticks"};
const Names input_keys = {"timeline", "lead_ticks", "live"};
const Names observer_keys = {"work_us"};
const Names audio_keys = {"voices", "output", "listener", "listener_target"};
const Names render_keys = {"width",     "height",  "device", "frames_every", "capture_window",
                           "video",     "video_fps", "max_fps", "window",    "required",
                           "eye",       "target"};

/// A position in the file, 1-based.
struct Where {
  int line = 1;
  int column = 1;
};

Where where(const toml::source_region& region) {
  // toml++ leaves line 0 on nodes it did not parse from text.
  if (region.begin.line == 0) {
    return {};
  }
  return {static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
}

bool is_bare_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
  });
}

/// A TOML basic string: quoted, with control characters escaped so that an error
/// message always stays on one line.
std::string quote(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    switch (ch) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
        std::array<char, 8> buffer{};
        std::snprintf(buffer.data(), buffer.size(), "\\u%04x", static_cast<unsigned>(ch));
        out += buffer.data();
      } else {
        out += ch;
      }
    }
  }
  out += '"';
  return out;
}

/// The dotted path of `key` inside `parent`, quoting keys that are not bare.
std::string join(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) {
    out += '.';
  }
  out += is_bare_key(key) ? std::string(key) : quote(key);
  return out;
}

/// Shortest text that reads back as the same double ("0.3", not "0.29999...").
std::string format_number(double value) {
  std::array<char, 64> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return {buffer.data(), result.ptr};
}

/// A TOML value as it would appear in the file, for "got ..." in messages.
std::string show(const toml::node& node) {
  switch (node.type()) {
  case toml::node_type::string: {
    constexpr std::size_t max_shown = 60;
    const std::string& text = node.as_string()->get();
    return text.size() <= max_shown ? quote(text) : quote(text.substr(0, max_shown)) + "...";
  }
  case toml::node_type::integer:
    return std::to_string(node.as_integer()->get());
  case toml::node_type::floating_point: {
    // Keep the decimal point so that "expected an integer, got 4.0" makes sense.
    std::string text = format_number(node.as_floating_point()->get());
    if (text.find_first_not_of("-0123456789") == std::string::npos) {
      text += ".0";
    }
    return text;
  }
  case toml::node_type::boolean:
    return node.as_boolean()->get() ? "true" : "false";
  case toml::node_type::table:
    return "a table";
  case toml::node_type::array:
    return "an array";
  case toml::node_type::date:
    return "a date";
  case toml::node_type::time:
    return "a time";
  case toml::node_type::date_time:
    return "a date-time";
  case toml::node_type::none:
    break;
  }
  return "nothing";
}

/// "a, b or c".
template <class Range>
std::string alternatives(const Range& names, std::string_view last_separator = " or ") {
  std::string out;
  const auto count = static_cast<std::size_t>(std::distance(std::begin(names), std::end(names)));
  std::size_t index = 0;
  for (const std::string_view name : names) {
    if (index > 0) {
      out += index + 1 == count ? last_separator : std::string_view(", ");
    }
    out += name;
    ++index;
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0U : 1U)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// Collects errors; hands back the one nearest the top of the file.
class Checker {
public:
  explicit Checker(std::string file) : file_(std::move(file)) {}

  void fail(Where at, std::string key, std::string message) {
    errors_.push_back({file_, at.line, at.column, std::move(key), std::move(message)});
  }

  bool failed() const { return !errors_.empty(); }

  ConfigError first() const {
    // min_element keeps the first of equals: for errors at one position, the one
    // found first.
    return *std::min_element(errors_.begin(), errors_.end(),
                             [](const ConfigError& a, const ConfigError& b) {
                               return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                             });
  }

private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

/// One key of a table being read.
struct Entry {
  std::string_view name; ///< the key itself
  std::string path;      ///< its dotted path
  Where at;              ///< where the key is written
  const toml::node& value;
};

Entry entry(std::string_view parent, const toml::key& key, const toml::node& value) {
  return {key.str(), join(parent, key.str()), where(key.source()), value};
}

void unknown_key(Checker& checker, const Entry& entry, const Names& known) {
  std::string message = "unknown key";
  const std::string_view* closest = nullptr;
  std::size_t closest_distance = 3; // suggest only near misses
  for (const std::string_view& name : known) {
    const std::size_t distance = edit_distance(entry.name, name);
    if (distance < closest_distance) {
      closest = &name;
      closest_distance = distance;
    }
  }
  if (closest != nullptr) {
    message += " (did you mean ";
    message += *closest;
    message += "?)";
  }
  message += "; expected one of " + alternatives(known);
  checker.fail(entry.at, entry.path, std::move(message));
}

std::string integer_range(std::int64_t lo, std::int64_t hi) {
  if (hi == int_max) {
    return lo == 0 ? "a non-negative integer" : "an integer >= " + std::to_string(lo);
  }
  return "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

template <class T>
void read_integer(Checker& checker, const Entry& entry, T& out, std::int64_t lo, std::int64_t hi) {
  static_assert(std::is_integral_v<T>);
  const auto* integer = entry.value.as_integer();
  if (integer == nullptr || integer->get() < lo || integer->get() > hi) {
    checker.fail(entry.at, entry.path,
                 "expected " + integer_range(lo, hi) + ", got " + show(entry.value));
    return;
  }
  out = static_cast<T>(integer->get());
}

/// A range of doubles; `lo_open` excludes the lower bound. NaN is never inside.
struct Interval {
  double lo;
  double hi;
  bool lo_open = false;
};

void read_number(Checker& checker, const Entry& entry, double& out, Interval range) {
  // An integer is a number too: `tick_hz = 60` means 60.0.
  std::optional<double> value;
  if (const auto* floating = entry.value.as_floating_point()) {
    value = floating->get();
  } else if (const auto* integer = entry.value.as_integer()) {
    value = static_cast<double>(integer->get());
  }
  const bool inside = value.has_value() && (range.lo_open ? *value > range.lo : *value >= range.lo) &&
                      *value <= range.hi;
  if (!inside) {
    const std::string expected =
        range.lo_open ? "a number > " + format_number(range.lo) + " and <= " + format_number(range.hi)
                      : "a number in [" + format_number(range.lo) + ", " +
                            format_number(range.hi) + "]";
    checker.fail(entry.at, entry.path, "expected " + expected + ", got " + show(entry.value));
    return;
  }
  out = *value;
}

std::optional<std::string> read_string(Checker& checker, const Entry& entry, bool non_empty) {
  const auto* text = entry.value.as_string();
  if (text == nullptr || (non_empty && text->get().empty())) {
    checker.fail(entry.at, entry.path,
                 std::string(non_empty ? "expected a non-empty string" : "expected a string") +
                     ", got " + show(entry.value));
    return std::nullopt;
  }
  return text->get();
}

/// One of a fixed set of strings; the message lists them all.
template <std::size_t N>
std::optional<std::size_t> read_choice(Checker& checker, const Entry& entry,
                                       const std::array<std::string_view, N>& choices) {
  if (const auto* text = entry.value.as_string()) {
    const auto found = std::find(choices.begin(), choices.end(), text->get());
    if (found != choices.end()) {
      return static_cast<std::size_t>(found - choices.begin());
    }
  }
  checker.fail(entry.at, entry.path,
               "expected " + alternatives(choices) + ", got " + show(entry.value));
  return std::nullopt;
}

const toml::table* read_table(Checker& checker, const Entry& entry, std::string_view expected) {
  const auto* table = entry.value.as_table();
  if (table == nullptr) {
    checker.fail(entry.at, entry.path,
                 "expected " + std::string(expected) + ", got " + show(entry.value));
  }
  return table;
}

void read_simulation(Checker& checker, const toml::table& table, SimulationSpec& out) {
  for (auto&& [key, value] : table) {
    const Entry e = entry("simulation", key, value);
    if (e.name == "tick_hz") {
      read_number(checker, e, out.tick_hz, {0.0, 10000.0, true});
    } else if (e.name == "ticks") {
      read_integer(checker, e, out.ticks, 1, int_max);
    } else if (e.name == "seed") {
      read_integer(checker, e, out.seed, 0, int_max);
    } else if (e.name == "scenario") {
      if (const auto index = read_choice(checker, e, scenario_names)) {
        out.scenario = scenario_names[*index];
      }
    } else if (e.name == "bodies") {
      read_integer(checker, e, out.bodies, 0, 1'000'000);
    } else if (e.name == "threads") {
      read_integer(checker, e, out.threads, 1, 256);
    } else if (e.name == "mode") {
      if (const auto index = read_choice(checker, e, mode_names)) {
        out.mode = *index == 0 ? Mode::batch : Mode::realtime;
      }
    } else {
      unknown_key(checker, e, simulation_keys);
    }
  }
}

void read_network(Checker& checker, const toml::table& table, NetworkSpec& out) {
  for (auto&& [key, value] : table) {
    const Entry e = entry("network", key, value);
    if (e.name == "heartbeat_ms") {
      read_integer(checker, e, out.heartbeat_ms, 10, 60'000);
    } else if (e.name == "node_timeout_ms") {
      read_integer(checker, e, out.node_timeout_ms, 50, 600'000);
    } else if (e.name == "connect_timeout_ms") {
      read_integer(checker, e, out.connect_timeout_ms, 100, 3'600'000);
    } else if (e.name == "keyframe_every") {
      read_integer(checker, e, out.keyframe_every, 1, 100'000);
    } else if (e.name == "tls_ca") {
      if (auto path = read_string(checker, e, true)) {
        out.tls_ca = std::move(*path);
      }
    } else {
      unknown_key(checker, e, network_keys);
    }
  }
  if (out.node_timeout_ms <= out.heartbeat_ms) {
    checker.fail(where(table.source()), "network.node_timeout_ms",
                 "must exceed heartbeat_ms (" + std::to_string(out.heartbeat_ms) + ")");
  }
}

/// A node with the positions phase two needs.
struct NodeEntry {
  NodeSpec spec;
  std::string path; ///< "nodes[1]"
  Where at;         ///< the [[nodes]] header
  Where name_at;
  Where port_at;
  Where cert_at;
};

void read_supervision(Checker& checker, const Entry& supervision, SupervisionSpec& out) {
  const auto* table = read_table(
      checker, supervision, "a table such as { strategy = \"one_for_one\", max_restarts = 20 }");
  if (table == nullptr) {
    return;
  }
  for (auto&& [key, value] : *table) {
    const Entry e = entry(supervision.path, key, value);
    if (e.name == "strategy") {
      if (const auto index = read_choice(checker, e, strategy_names)) {
        out.strategy = static_cast<Strategy>(*index);
      }
    } else if (e.name == "max_restarts") {
      read_integer(checker, e, out.max_restarts, 0, 1'000'000);
    } else if (e.name == "period_ms") {
      read_integer(checker, e, out.period_ms, 1, 86'400'000);
    } else if (e.name == "backoff_min_ms") {
      read_number(checker, e, out.backoff_min_ms, {0.0, 60'000.0});
    } else if (e.name == "backoff_max_ms") {
      read_number(checker, e, out.backoff_max_ms, {0.0, 600'000.0});
    } else {
      unknown_key(checker, e, supervision_keys);
    }
  }
  if (out.backoff_max_ms < out.backoff_min_ms) {
    checker.fail(supervision.at, supervision.path + ".backoff_max_ms",
                 "must be at least backoff_min_ms (" + std::to_string(out.backoff_min_ms) + ")");
  }
}

void read_nodes(Checker& checker, const Entry& nodes, std::vector<NodeEntry>& out) {
  const auto* array = nodes.value.as_array();
  if (array == nullptr) {
    checker.fail(nodes.at, nodes.path,
                 "expected an array of tables ([[nodes]]), got " + show(nodes.value));
    return;
  }
  for (std::size_t index = 0; index < array->size(); ++index) {
    const toml::node& element = *array->get(index);
    NodeEntry node;
    node.path = "nodes[" + std::to_string(index) + "]";
    node.at = where(element.source());
    const auto* table = element.as_table();
    if (table == nullptr) {
      checker.fail(node.at, node.path, "expected a table ([[nodes]]), got " + show(element));
      continue;
    }
    bool named = false;
    for (auto&& [key, value] : *table) {
      const Entry e = entry(node.path, key, value);
      if (e.name == "name") {
        named = true;
        node.name_at = e.at;
        if (auto name = read_string(checker, e, true)) {
          if (!is_bare_key(*name)) {
            checker.fail(e.at, e.path,
                         "a node name uses only letters, digits, '_' and '-', got " + show(value));
          }
          node.spec.name = std::move(*name);
        }
      } else if (e.name == "host") {
        if (auto host = read_string(checker, e, true)) {
          node.spec.host = std::move(*host);
        }
      } else if (e.name == "port") {
        node.port_at = e.at;
        read_integer(checker, e, node.spec.port, 0, 65535);
      } else if (e.name == "supervision") {
        read_supervision(checker, e, node.spec.supervision);
      } else if (e.name == "tls_certificate") {
        node.cert_at = e.at;
        if (auto path = read_string(checker, e, true)) {
          node.spec.tls_certificate = std::move(*path);
        }
      } else if (e.name == "tls_key") {
        if (auto path = read_string(checker, e, true)) {
          node.spec.tls_key = std::move(*path);
        }
      } else {
        unknown_key(checker, e, node_keys);
      }
    }
    if (!named) {
      checker.fail(node.at, node.path + ".name", "missing: every node needs a unique name");
    }
    out.push_back(std::move(node));
  }
}

/// An actor with the positions phase two needs.
struct ActorEntry {
  ActorSpec spec;
  std::string path;  ///< "actors.NAME"
  Where at;          ///< the NAME key
  Where kind_at;     ///< the kind key, or `at` when the kind comes from the name
  Where node_at;     ///< the node key, if given
  bool node_given = false;
};

void read_mailbox(Checker& checker, const Entry& mailbox, MailboxSpec& out) {
  const auto* table =
      read_table(checker, mailbox, "a table such as { capacity = 1024, overflow = \"reject\" }");
  if (table == nullptr) {
    return;
  }
  for (auto&& [key, value] : *table) {
    const Entry e = entry(mailbox.path, key, value);
    if (e.name == "capacity") {
      read_integer(checker, e, out.capacity, 1, 10'000'000);
    } else if (e.name == "overflow") {
      if (const auto index = read_choice(checker, e, overflow_names)) {
        out.overflow = *parse_overflow(overflow_names[*index]);
      }
    } else {
      unknown_key(checker, e, mailbox_keys);
    }
  }
}

// Kind parameters: each returns false for a key that is not one of its own.

bool read_param(Checker&, const Entry&, std::monostate&) { return false; }

bool read_param(Checker& checker, const Entry& e, PhysicsParams& params) {
  if (e.name == "substeps") {
    read_integer(checker, e, params.substeps, 1, 64);
  } else if (e.name == "iterations") {
    read_integer(checker, e, params.iterations, 1, 64);
  } else if (e.name == "friction") {
    read_number(checker, e, params.friction, {0.0, 1.0});
  } else if (e.name == "contact_event_speed") {
    // m/s; above this nothing in a sandbox ever makes a sound.
    read_number(checker, e, params.contact_event_speed, {0.0, 1000.0});
  } else {
    return false;
  }
  return true;
}

bool read_param(Checker& checker, const Entry& e, LogicParams& params) {
  if (e.name == "fountain_every") {
    read_integer(checker, e, params.fountain_every, 0, 1'000'000);
  } else if (e.name == "fountain_max") {
    read_integer(checker, e, params.fountain_max, 0, 1'000'000);
  } else if (e.name == "rules") {
    if (auto rules = read_string(checker, e, false)) {
      params.rules = std::move(*rules);
    }
  } else if (e.name == "smoke_ticks") {
    read_integer(checker, e, params.smoke_ticks, 1, 100'000);
  } else if (e.name == "smoke_budget_ms") {
    read_integer(checker, e, params.smoke_budget_ms, 1, 600'000);
  } else if (e.name == "install_after_ticks") {
    read_integer(checker, e, params.install_after_ticks, 1, 1'000'000);
  } else {
    return false;
  }
  return true;
}

void read_bool(Checker& checker, const Entry& e, bool& out) {
  if (const auto* flag = e.value.as_boolean()) {
    out = flag->get();
  } else {
    checker.fail(e.at, e.path, "expected true or false, got " + show(e.value));
  }
}

bool read_param(Checker& checker, const Entry& e, InputParams& params) {
  if (e.name == "timeline") {
    if (auto timeline = read_string(checker, e, false)) {
      params.timeline = std::move(*timeline);
    }
  } else if (e.name == "lead_ticks") {
    read_integer(checker, e, params.lead_ticks, 1, 1'000'000);
  } else if (e.name == "live") {
    read_bool(checker, e, params.live);
  } else {
    return false;
  }
  return true;
}

bool read_param(Checker& checker, const Entry& e, ObserverParams& params) {
  if (e.name == "work_us") {
    read_integer(checker, e, params.work_us, 0, 10'000'000);
  } else {
    return false;
  }
  return true;
}

/// Reads `[x, y, z]` (numbers) into `out`.
void read_vec3(Checker& checker, const Entry& e, std::array<double, 3>& out) {
  const auto* array = e.value.as_array();
  if (array == nullptr || array->size() != 3) {
    checker.fail(e.at, e.path, "expected an array of 3 numbers [x, y, z], got " + show(e.value));
    return;
  }
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& item = (*array)[i];
    if (auto v = item.value<double>(); v && std::isfinite(*v) && std::fabs(*v) <= 1e6) {
      out[i] = *v;
    } else {
      checker.fail(e.at, e.path, "expected an array of 3 finite numbers [x, y, z], got " + show(e.value));
      return;
    }
  }
}

bool read_param(Checker& checker, const Entry& e, AudioParams& params) {
  if (e.name == "voices") {
    read_integer(checker, e, params.voices, 1, 1024);
  } else if (e.name == "output") {
    if (const auto index = read_choice(checker, e, audio_output_names)) {
      params.output = std::string(audio_output_names[*index]);
    }
  } else if (e.name == "listener") {
    read_vec3(checker, e, params.listener);
  } else if (e.name == "listener_target") {
    read_vec3(checker, e, params.listener_target);
  } else {
    return false;
  }
  return true;
}

bool read_param(Checker& checker, const Entry& e, RenderParams& params) {
  if (e.name == "width") {
    read_integer(checker, e, params.width, 16, 8192);
  } else if (e.name == "height") {
    read_integer(checker, e, params.height, 16, 8192);
  } else if (e.name == "device") {
    if (auto device = read_string(checker, e, true)) {
      params.device = std::move(*device);
    }
  } else if (e.name == "frames_every") {
    read_integer(checker, e, params.frames_every, 0, 1'000'000);
  } else if (e.name == "capture_window") {
    read_integer(checker, e, params.capture_window, 1, 64);
  } else if (e.name == "video") {
    if (const auto index = read_choice(checker, e, video_names)) {
      params.video = std::string(video_names[*index]);
    }
  } else if (e.name == "video_fps") {
    read_number(checker, e, params.video_fps, {0.0, 1000.0, true});
  } else if (e.name == "max_fps") {
    read_number(checker, e, params.max_fps, {0.0, 10000.0});
  } else if (e.name == "window") {
    read_bool(checker, e, params.window);
  } else if (e.name == "required") {
    read_bool(checker, e, params.required);
  } else if (e.name == "eye") {
    read_vec3(checker, e, params.eye.emplace());
  } else if (e.name == "target") {
    read_vec3(checker, e, params.target.emplace());
  } else {
    return false;
  }
  return true;
}

/// The keys an actor of this kind accepts.
Names actor_keys_for(std::string_view kind) {
  Names keys = actor_keys;
  const Names& own = kind == "physics" ? physics_keys
                     : kind == "logic" ? logic_keys
                     : kind == "input" ? input_keys
                     : kind == "audio" ? audio_keys
                     : kind == "render" ? render_keys
                                       : observer_keys;
  keys.insert(keys.end(), own.begin(), own.end());
  return keys;
}

void read_actor(Checker& checker, const toml::key& key, const toml::node& value,
                std::vector<ActorEntry>& out) {
  ActorEntry actor;
  actor.spec.name = std::string(key.str());
  actor.path = join("actors", key.str());
  actor.at = where(key.source());
  actor.kind_at = actor.at;
  actor.spec.line = where(value.source()).line;
  if (!is_bare_key(key.str())) {
    checker.fail(actor.at, actor.path,
                 "an actor name uses only letters, digits, '_' and '-', got " + quote(key.str()));
  }
  const Entry self{key.str(), actor.path, actor.at, value};
  const auto* table = read_table(checker, self, "a table ([actors." + actor.spec.name + "])");
  if (table == nullptr) {
    return;
  }

  // The kind first: it decides which other keys exist.
  bool kind_known = false;
  if (const auto kind = table->find("kind"); kind != table->end()) {
    const Entry e = entry(actor.path, kind->first, kind->second);
    actor.kind_at = e.at;
    if (const auto index = read_choice(checker, e, kind_names)) {
      actor.spec.kind = kind_names[*index];
      kind_known = true;
    }
  } else if (std::find(kind_names.begin(), kind_names.end(), key.str()) != kind_names.end()) {
    actor.spec.kind = std::string(key.str());
    kind_known = true;
  } else {
    checker.fail(actor.at, actor.path + ".kind",
                 "no kind given and the name is not a kind; set kind to " +
                     alternatives(kind_names));
  }

  actor.spec.mailbox = default_mailbox(actor.spec.kind);
  if (actor.spec.kind == "physics") {
    actor.spec.params = PhysicsParams{};
  } else if (actor.spec.kind == "logic") {
    actor.spec.params = LogicParams{};
  } else if (actor.spec.kind == "input") {
    actor.spec.params = InputParams{};
  } else if (actor.spec.kind == "observer") {
    actor.spec.params = ObserverParams{};
  } else if (actor.spec.kind == "audio") {
    actor.spec.params = AudioParams{};
  } else if (actor.spec.kind == "render") {
    actor.spec.params = RenderParams{};
  }

  for (auto&& [param_key, param_value] : *table) {
    const Entry e = entry(actor.path, param_key, param_value);
    if (e.name == "kind") {
      continue; // read above
    }
    if (e.name == "node") {
      actor.node_at = e.at;
      actor.node_given = true;
      if (auto node = read_string(checker, e, true)) {
        actor.spec.node = std::move(*node);
      }
    } else if (e.name == "mailbox") {
      read_mailbox(checker, e, actor.spec.mailbox);
    } else if (e.name == "restart") {
      if (const auto index = read_choice(checker, e, restart_names)) {
        actor.spec.restart = static_cast<Restart>(*index);
      }
    } else if (e.name == "shutdown_timeout_ms") {
      read_integer(checker, e, actor.spec.shutdown_timeout_ms, 0, 600'000);
    } else if (!std::visit([&](auto& params) { return read_param(checker, e, params); },
                           actor.spec.params) &&
               kind_known) {
      // With an unknown kind there is no list to check against; the kind error says
      // what to fix first.
      unknown_key(checker, e, actor_keys_for(actor.spec.kind));
    }
  }
  out.push_back(std::move(actor));
}

int kind_rank(std::string_view kind) {
  const auto found = std::find(kind_names.begin(), kind_names.end(), kind);
  return static_cast<int>(found - kind_names.begin());
}

/// Phase two: what needs the whole file.
void cross_check(Checker& checker, const Where actors_at, const Where nodes_at, bool nodes_given,
                 std::vector<NodeEntry>& nodes, std::vector<ActorEntry>& actors) {
  if (nodes.empty()) {
    checker.fail(nodes_at, "nodes",
                 nodes_given ? "at least one node is required"
                             : "at least one node is required: add a [[nodes]] table with a name");
    return;
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const NodeSpec& a = nodes[j].spec;
      const NodeSpec& b = nodes[i].spec;
      if (a.name == b.name) {
        checker.fail(nodes[i].name_at, nodes[i].path + ".name",
                     "duplicate node name " + quote(b.name) + ", already used by " +
                         nodes[j].path + " (line " + std::to_string(nodes[j].name_at.line) + ")");
        break;
      }
      if (b.port != 0 && a.port == b.port && a.host == b.host) {
        checker.fail(nodes[i].port_at, nodes[i].path + ".port",
                     "port " + std::to_string(b.port) + " on host " + b.host +
                         " is already used by node " + quote(a.name) + " (" + nodes[j].path +
                         ")");
        break;
      }
    }
  }

  std::vector<std::string_view> node_names;
  for (const NodeEntry& node : nodes) {
    node_names.push_back(node.spec.name);
  }
  for (ActorEntry& actor : actors) {
    if (!actor.node_given) {
      actor.spec.node = nodes.front().spec.name;
    } else if (std::find(node_names.begin(), node_names.end(), actor.spec.node) ==
               node_names.end()) {
      checker.fail(actor.node_at, actor.path + ".node",
                   "no node named " + quote(actor.spec.node) + "; nodes are " +
                       alternatives(node_names, " and "));
    }
  }

  for (const ActorEntry& actor : actors) {
    if (const auto* render = std::get_if<RenderParams>(&actor.spec.params);
        render != nullptr && render->frames_every > 0 &&
        actor.spec.mailbox.capacity <= render->capture_window) {
      checker.fail(actor.at, actor.path + ".mailbox.capacity",
                   "capacity " + std::to_string(actor.spec.mailbox.capacity) +
                       " leaves no room beside capture_window " +
                       std::to_string(render->capture_window) +
                       " recorded frames; make it at least capture_window + 1");
    }
  }

  // Exactly one of each of these; "second" means second in the file.
  for (const std::string_view kind : {"logic", "input", "physics"}) {
    std::vector<const ActorEntry*> found;
    for (const ActorEntry& actor : actors) {
      if (actor.spec.kind == kind) {
        found.push_back(&actor);
      }
    }
    if (found.empty()) {
      checker.fail(actors_at, join("actors", kind),
                   "a " + std::string(kind) + " actor is required: add [actors." +
                       std::string(kind) + "]");
      continue;
    }
    std::sort(found.begin(), found.end(), [](const ActorEntry* a, const ActorEntry* b) {
      return std::pair(a->at.line, a->at.column) < std::pair(b->at.line, b->at.column);
    });
    for (std::size_t i = 1; i < found.size(); ++i) {
      checker.fail(found[i]->kind_at, found[i]->path + ".kind",
                   "a second " + std::string(kind) + " actor (the first is " + found[0]->path +
                       ", line " + std::to_string(found[0]->spec.line) +
                       "); exactly one is allowed");
    }
  }
}

LoadResult validate(const toml::table& root, const std::string& path) {
  Checker checker(path);
  Topology topology;
  topology.path = path;
  std::vector<NodeEntry> nodes;
  std::vector<ActorEntry> actors;
  Where actors_at;
  Where nodes_at;
  bool nodes_given = false;

  for (auto&& [key, value] : root) {
    const Entry e = entry("", key, value);
    if (e.name == "simulation") {
      if (const auto* table = read_table(checker, e, "a table ([simulation])")) {
        read_simulation(checker, *table, topology.simulation);
      }
    } else if (e.name == "network") {
      if (const auto* table = read_table(checker, e, "a table ([network])")) {
        read_network(checker, *table, topology.network);
      }
    } else if (e.name == "nodes") {
      nodes_at = e.at;
      nodes_given = true;
      read_nodes(checker, e, nodes);
    } else if (e.name == "actors") {
      actors_at = e.at;
      if (const auto* table = read_table(checker, e, "a table ([actors.NAME])")) {
        for (auto&& [actor_key, actor_value] : *table) {
          read_actor(checker, actor_key, actor_value, actors);
        }
      }
    } else {
      unknown_key(checker, e, top_level_keys);
    }
  }
  if (checker.failed()) {
    return checker.first();
  }

  cross_check(checker, actors_at, nodes_at, nodes_given, nodes, actors);
  if (checker.failed()) {
    return checker.first();
  }

  // Mutual TLS is all or nothing: with a CA, every node shows a certificate.
  for (const NodeEntry& node : nodes) {
    const bool cert = !node.spec.tls_certificate.empty();
    const bool key = !node.spec.tls_key.empty();
    if (cert != key) {
      checker.fail(node.at, node.path + (cert ? ".tls_key" : ".tls_certificate"),
                   "missing: tls_certificate and tls_key go together");
    } else if (topology.network.tls() && !cert) {
      checker.fail(node.at, node.path + ".tls_certificate",
                   "missing: [network] tls_ca is set, so every node needs a certificate and key");
    } else if (!topology.network.tls() && cert) {
      checker.fail(node.cert_at, node.path + ".tls_certificate",
                   "needs [network] tls_ca (the CA that signs the nodes' certificates)");
    }
  }
  if (checker.failed()) {
    return checker.first();
  }
  for (NodeEntry& node : nodes) {
    topology.nodes.push_back(std::move(node.spec));
  }
  for (ActorEntry& actor : actors) {
    topology.actors.push_back(std::move(actor.spec));
  }
  // Start order (shutdown is the reverse): by kind, then by name.
  std::sort(topology.actors.begin(), topology.actors.end(),
            [](const ActorSpec& a, const ActorSpec& b) {
              return std::pair(kind_rank(a.kind), std::string_view(a.name)) <
                     std::pair(kind_rank(b.kind), std::string_view(b.name));
            });
  return topology;
}

std::string one_line(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char ch) { return ch == '\n' || ch == '\r'; }, ' ');
  return text;
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) {
    text.append(width - text.size(), ' ');
  }
  return text;
}

struct ParamsText {
  const Topology& topology;

  std::string operator()(const std::monostate&) const { return {}; }
  std::string operator()(const PhysicsParams& p) const {
    return "substeps " + std::to_string(p.substeps) + ", iterations " +
           std::to_string(p.iterations) + ", friction " + format_number(p.friction) +
           ", contact_event_speed " + format_number(p.contact_event_speed) + " m/s";
  }
  std::string operator()(const LogicParams& p) const {
    std::string out = p.fountain_every == 0
                          ? std::string{"fountain: scenario default"}
                          : "fountain: one body every " + std::to_string(p.fountain_every) +
                                " ticks, up to " + std::to_string(p.fountain_max) + " bodies";
    out += ", rules " + (p.rules.empty() ? std::string{"built-in"} : p.rules);
    return out + " (smoke " + std::to_string(p.smoke_ticks) + " ticks within " +
           std::to_string(p.smoke_budget_ms) + " ms, install after " + std::to_string(p.install_after_ticks) +
           " ticks)";
  }
  std::string operator()(const InputParams& p) const {
    std::string timeline = "timeline none";
    if (!p.timeline.empty()) {
      const std::string resolved = resolve_relative(topology, p.timeline);
      timeline = "timeline " + p.timeline;
      if (resolved != p.timeline) {
        timeline += " (" + resolved + ")";
      }
    }
    return timeline + ", lead_ticks " + std::to_string(p.lead_ticks) + (p.live ? ", live" : "");
  }
  std::string operator()(const ObserverParams& p) const {
    return "work_us " + std::to_string(p.work_us);
  }
  std::string operator()(const RenderParams& p) const {
    std::string out = std::to_string(p.width) + "x" + std::to_string(p.height) + ", device " + p.device +
                      (p.window ? ", window" : ", offscreen") + ", max_fps " + format_number(p.max_fps);
    out += p.frames_every == 0 ? std::string{", no frames"}
                               : ", a frame every " + std::to_string(p.frames_every) + " ticks (window " +
                                     std::to_string(p.capture_window) + "), video " + p.video;
    return out + (p.required ? ", required" : ", optional");
  }
  std::string operator()(const AudioParams& p) const {
    auto vec = [](const std::array<double, 3>& v) {
      std::ostringstream out;
      out << '[' << v[0] << ", " << v[1] << ", " << v[2] << ']';
      return out.str();
    };
    return "voices " + std::to_string(p.voices) + ", output " + p.output + ", listener " +
           vec(p.listener) + " facing " + vec(p.listener_target);
  }
};

} // namespace

const char* to_string(Overflow overflow) {
  switch (overflow) {
  case Overflow::latest:
    return "latest";
  case Overflow::drop_oldest:
    return "drop-oldest";
  case Overflow::drop_newest:
    return "drop-newest";
  case Overflow::reject:
    return "reject";
  }
  return "?";
}

std::optional<Overflow> parse_overflow(std::string_view text) {
  for (const Overflow overflow :
       {Overflow::latest, Overflow::drop_oldest, Overflow::drop_newest, Overflow::reject}) {
    if (text == to_string(overflow)) {
      return overflow;
    }
  }
  return std::nullopt;
}

const char* to_string(Mode mode) {
  switch (mode) {
  case Mode::batch:
    return "batch";
  case Mode::realtime:
    return "realtime";
  }
  return "?";
}

MailboxSpec default_mailbox(std::string_view kind) {
  // Commands must never be lost, so the command paths reject (the sender keeps and
  // retries); physics holds few step requests at a time; an observer only ever wants
  // the newest snapshot.
  if (kind == "logic") {
    return {4096, Overflow::reject};
  }
  if (kind == "input") {
    return {1024, Overflow::reject};
  }
  if (kind == "physics") {
    return {64, Overflow::reject};
  }
  if (kind == "observer") {
    return {4, Overflow::latest};
  }
  if (kind == "audio") {
    // Contact batches are events: under a flood the oldest go first.
    return {256, Overflow::drop_oldest};
  }
  if (kind == "render") {
    // The newest snapshot replaces a queued one; recorded frames (never dropped,
    // at most capture_window of them) wait beside it.
    return {8, Overflow::latest};
  }
  return {};
}

const ActorSpec* Topology::actor(std::string_view name) const {
  const auto found = std::find_if(actors.begin(), actors.end(),
                                  [&](const ActorSpec& actor) { return actor.name == name; });
  return found == actors.end() ? nullptr : &*found;
}

const NodeSpec* Topology::node(std::string_view name) const {
  const auto found = std::find_if(nodes.begin(), nodes.end(),
                                  [&](const NodeSpec& node) { return node.name == name; });
  return found == nodes.end() ? nullptr : &*found;
}

std::vector<const ActorSpec*> Topology::actors_of_kind(std::string_view kind) const {
  std::vector<const ActorSpec*> out;
  for (const ActorSpec& actor : actors) {
    if (actor.kind == kind) {
      out.push_back(&actor);
    }
  }
  return out;
}

std::string ConfigError::to_string() const {
  std::string out = one_line(file) + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  if (!key.empty()) {
    out += one_line(key) + ": ";
  }
  out += one_line(message);
  return out;
}

LoadResult load_topology(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    return ConfigError{path, 1, 1, "",
                       "cannot open the file" +
                           (error != 0 ? ": " + std::generic_category().message(error)
                                       : std::string())};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return ConfigError{path, 1, 1, "", "cannot read the file"};
  }
  return parse_topology(text.str(), path);
}

LoadResult parse_topology(std::string_view text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(path));
  } catch (const toml::parse_error& error) {
    // toml++ says "Error while parsing value: ..."; keep its words after that.
    std::string_view description = error.description();
    constexpr std::string_view prefix = "Error while parsing ";
    std::string message = "TOML syntax error";
    if (description.substr(0, prefix.size()) == prefix) {
      message += " in ";
      description.remove_prefix(prefix.size());
    } else {
      message += ": ";
    }
    message += description;
    const Where at = where(error.source());
    return ConfigError{path, at.line, at.column, "", std::move(message)};
  }
  return validate(root, path);
}

std::string describe(const Topology& topology) {
  const SimulationSpec& sim = topology.simulation;
  std::ostringstream out;
  std::array<char, 32> seconds{};
  std::snprintf(seconds.data(), seconds.size(), "%.4g",
                static_cast<double>(sim.ticks) / sim.tick_hz);
  out << "topology " << topology.path << "\n";
  out << "simulation\n";
  out << "  scenario " << sim.scenario << ", " << sim.bodies << " bodies, seed " << sim.seed
      << "\n";
  out << "  " << sim.ticks << " ticks at " << format_number(sim.tick_hz) << " Hz ("
      << seconds.data() << " s simulated), " << to_string(sim.mode) << " mode, " << sim.threads
      << (sim.threads == 1 ? " physics thread" : " physics threads") << "\n";

  std::size_t name_width = 0;
  for (const NodeSpec& node : topology.nodes) {
    name_width = std::max(name_width, node.name.size());
  }
  for (const ActorSpec& actor : topology.actors) {
    name_width = std::max(name_width, actor.name.size());
  }
  name_width += 2;

  out << "nodes (" << topology.nodes.size() << ")\n";
  for (const NodeSpec& node : topology.nodes) {
    const auto& sup = node.supervision;
    out << "  " << pad(node.name, name_width) << node.host << ":" << node.port
        << (node.port == 0 ? " (any free port)" : "") << "\n";
    out << "  " << pad("", name_width) << "supervisor " << strategy_names[static_cast<int>(sup.strategy)]
        << ", at most " << sup.max_restarts << " restarts in " << sup.period_ms << " ms, backoff "
        << sup.backoff_min_ms << ".." << sup.backoff_max_ms << " ms\n";
  }
  const NetworkSpec& net = topology.network;
  out << "network: heartbeat every " << net.heartbeat_ms << " ms, a peer is lost after "
      << net.node_timeout_ms << " ms, peers are retried for " << net.connect_timeout_ms
      << " ms, a keyframe every " << net.keyframe_every << " remote snapshots, "
      << (net.tls() ? "mutual TLS (CA " + net.tls_ca + ")" : std::string{"plain TCP"})
      << "\n";
  out << "actors (" << topology.actors.size() << ", in start order)\n";
  for (const ActorSpec& actor : topology.actors) {
    out << "  " << pad(actor.name, name_width) << pad("kind " + actor.kind, 15)
        << pad("on " + actor.node, name_width + 5) << "mailbox " << actor.mailbox.capacity
        << " " << to_string(actor.mailbox.overflow) << ", "
        << restart_names[static_cast<int>(actor.restart)] << ", stop within "
        << actor.shutdown_timeout_ms << " ms\n";
    const std::string params = std::visit(ParamsText{topology}, actor.params);
    if (!params.empty()) {
      out << "  " << pad("", name_width) << params << "\n";
    }
  }
  return out.str();
}

std::string separate_processes_error(const Topology& topology) {
  for (const NodeSpec& node : topology.nodes) {
    if (node.port == 0) {
      return topology.path + ": node " + node.name +
             " has port 0: nodes in separate processes find each other by port, give each one";
    }
  }
  return {};
}

std::uint64_t topology_digest(const Topology& topology) {
  // The description without the file's path (it differs from host to host) and
  // without the network line (timeouts are each node's own business), plus
  // whether links are TLS.
  std::istringstream lines(describe(topology));
  std::string text;
  std::getline(lines, text); // "topology PATH"
  text.clear();
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("network:", 0) != 0) {
      text += line + "\n";
    }
  }
  text += topology.network.tls() ? "tls\n" : "plain\n";
  std::uint64_t hash = 0xcbf29ce484222325ull; // FNV-1a: small, stable, no dependency
  for (const unsigned char ch : text) {
    hash = (hash ^ ch) * 0x100000001b3ull;
  }
  return hash;
}

std::string resolve_relative(const Topology& topology, const std::string& path) {
  const std::filesystem::path given(path);
  if (path.empty() || given.is_absolute()) {
    return path;
  }
  const std::filesystem::path directory = std::filesystem::path(topology.path).parent_path();
  if (directory.empty()) {
    return path;
  }
  return (directory / given).string();
}

} // namespace troupe::config
