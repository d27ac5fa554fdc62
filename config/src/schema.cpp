/// \file The generic toolkit of config/ (schema.hpp): typed reads with bounds and
/// positions, and TableReader, through which a kind reads its own keys.

#include "schema.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace troupe::config::detail {

namespace {

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

} // namespace

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

std::string join(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) {
    out += '.';
  }
  out += is_bare_key(key) ? std::string(key) : quote(key);
  return out;
}


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

void Checker::fail(Where at, std::string key, std::string message) {
  errors_.emplace_back(errc::bad_config, std::move(message), file_, at.line, at.column, std::move(key));
}

Error Checker::first() const {
  // min_element keeps the first of equals: for errors at one position, the one
  // found first.
  return *std::min_element(errors_.begin(), errors_.end(), [](const Error& a, const Error& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
}

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

bool read_number(Checker& checker, const Entry& entry, double& out, Interval range) {
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
    return false;
  }
  out = *value;
  return true;
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

std::optional<std::size_t> read_choice(Checker& checker, const Entry& entry, std::span<const std::string_view> choices) {
  if (const auto* text = entry.value.as_string()) {
    const auto found = std::find(choices.begin(), choices.end(), text->get());
    if (found != choices.end())
      return static_cast<std::size_t>(found - choices.begin());
  }
  checker.fail(entry.at, entry.path, "expected " + alternatives(choices) + ", got " + show(entry.value));
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

bool read_bool(Checker& checker, const Entry& e, bool& out) {
  if (const auto* flag = e.value.as_boolean()) {
    out = flag->get();
    return true;
  }
  checker.fail(e.at, e.path, "expected true or false, got " + show(e.value));
  return false;
}

bool read_vec3(Checker& checker, const Entry& e, std::array<double, 3>& out) {
  const auto* array = e.value.as_array();
  if (array == nullptr || array->size() != 3) {
    checker.fail(e.at, e.path, "expected an array of 3 numbers [x, y, z], got " + show(e.value));
    return false;
  }
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& item = (*array)[i];
    if (auto v = item.value<double>(); v && std::isfinite(*v) && std::fabs(*v) <= 1e6) {
      out[i] = *v;
    } else {
      checker.fail(e.at, e.path, "expected an array of 3 finite numbers [x, y, z], got " + show(e.value));
      return false;
    }
  }
  return true;
}


// ---- TableReader -----------------------------------------------------------

TableReader::TableReader(Checker& checker, const toml::table& table, const ActorSpec& actor, std::string path,
                         Where table_at, std::string config_path)
  : checker_(checker), table_(table), actor_(actor), path_(std::move(path)), table_at_(table_at),
    config_path_(std::move(config_path)) {}

std::optional<Entry> TableReader::find(std::string_view key) {
  asked_.emplace_back(key);
  const auto found = table_.find(key);
  if (found == table_.end())
    return std::nullopt;
  return entry(path_, found->first, found->second);
}

void TableReader::record(std::string_view key, std::string value, bool is_path) {
  resolved_.push_back({std::string(key), std::move(value), is_path});
}

void TableReader::integer(std::string_view key, std::uint32_t& out, std::int64_t lo, std::int64_t hi) {
  if (auto e = find(key))
    read_integer(checker_, *e, out, lo, hi);
  record(key, std::to_string(out));
}

void TableReader::integer(std::string_view key, std::uint64_t& out, std::int64_t lo, std::int64_t hi) {
  if (auto e = find(key))
    read_integer(checker_, *e, out, lo, hi);
  record(key, std::to_string(out));
}

void TableReader::number(std::string_view key, double& out, double lo, double hi, bool lo_open) {
  if (auto e = find(key))
    read_number(checker_, *e, out, {lo, hi, lo_open});
  record(key, format_number(out));
}

void TableReader::number(std::string_view key, float& out, double lo, double hi, bool lo_open) {
  double value = out;
  if (auto e = find(key); e && read_number(checker_, *e, value, {lo, hi, lo_open}))
    out = static_cast<float>(value);
  record(key, format_number(out));
}

void TableReader::boolean(std::string_view key, bool& out) {
  if (auto e = find(key))
    read_bool(checker_, *e, out);
  record(key, out ? "true" : "false");
}

void TableReader::text(std::string_view key, std::string& out, bool non_empty) {
  if (auto e = find(key))
    if (auto value = read_string(checker_, *e, non_empty))
      out = std::move(*value);
  record(key, quote(out));
}

void TableReader::path(std::string_view key, std::string& out) {
  if (auto e = find(key))
    if (auto value = read_string(checker_, *e, false))
      out = std::move(*value);
  record(key, quote(out), true);
}

void TableReader::choice(std::string_view key, std::string& out, std::span<const std::string_view> choices) {
  if (auto e = find(key))
    if (const auto index = read_choice(checker_, *e, choices))
      out = std::string(choices[*index]);
  record(key, quote(out));
}

void TableReader::vec3(std::string_view key, std::array<double, 3>& out, bool* present) {
  const auto e = find(key);
  if (e)
    read_vec3(checker_, *e, out);
  if (present)
    *present = e.has_value();
  if (present && !e)
    record(key, "none");
  else
    record(key, "[" + format_number(out[0]) + ", " + format_number(out[1]) + ", " + format_number(out[2]) + "]");
}

void TableReader::integers(std::string_view key, std::span<std::uint32_t> out, std::int64_t lo, std::int64_t hi,
                           bool* present) {
  const auto e = find(key);
  if (present)
    *present = e.has_value();
  if (e) {
    const auto* array = e->value.as_array();
    bool ok = array != nullptr && array->size() == out.size();
    for (std::size_t i = 0; ok && i < out.size(); ++i) {
      // as_integer, not value<int64_t>: toml++ casts a float such as 1e92 to an integer out of range (UB).
      const auto* v = (*array)[i].as_integer();
      ok = v != nullptr && v->get() >= lo && v->get() <= hi;
      if (ok)
        out[i] = static_cast<std::uint32_t>(v->get());
    }
    if (!ok)
      checker_.fail(e->at, e->path,
                    "expected an array of " + std::to_string(out.size()) + " integers, each " + integer_range(lo, hi) +
                      ", got " + show(e->value));
  }
  std::string text = "[";
  for (std::size_t i = 0; i < out.size(); ++i)
    text += (i ? ", " : "") + std::to_string(out[i]);
  record(key, text + "]");
}

void TableReader::nodes(std::string_view key, std::vector<std::string>& out) {
  if (auto e = find(key)) {
    const auto* array = e->value.as_array();
    std::vector<std::string> names;
    bool ok = array != nullptr;
    for (std::size_t i = 0; ok && i < array->size(); ++i) {
      const auto v = (*array)[i].value<std::string>();
      ok = v && !v->empty();
      if (ok)
        names.push_back(*v);
    }
    if (!ok) {
      checker_.fail(e->at, e->path, "expected an array of node names such as [\"node-a\", \"node-b\"], got " +
                                      show(e->value));
    } else {
      out = names;
      node_refs_.push_back({e->path, e->at, std::move(names)});
    }
  }
  std::string text = "[";
  for (std::size_t i = 0; i < out.size(); ++i)
    text += (i ? ", " : "") + quote(out[i]);
  record(key, text + "]");
}

void TableReader::parts(std::uint32_t count, std::vector<std::string> nodes) {
  parts_ = std::max(count, 1u);
  part_nodes_ = std::move(nodes);
}

void TableReader::refuse(std::string_view key, std::string message) {
  const auto own = table_.find(key);
  const Where at = own != table_.end() ? where(own->first.source()) : table_at_;
  checker_.fail(at, path_ + "." + std::string(key), std::move(message));
}

std::string TableReader::resolve(const std::string& path) const {
  const std::filesystem::path given(path);
  if (path.empty() || given.is_absolute())
    return path;
  const auto directory = std::filesystem::path(config_path_).parent_path();
  return directory.empty() ? path : (directory / given).string();
}

void TableReader::refuse_unknown(const Names& common) {
  Names known = common;
  for (const auto& key : asked_)
    known.emplace_back(key);
  for (auto&& [key, value] : table_) {
    if (std::find(known.begin(), known.end(), key.str()) == known.end())
      unknown_key(checker_, entry(path_, key, value), known);
  }
}

} // namespace troupe::config::detail

namespace troupe::config {
namespace {

template <class Number> std::string shortest(Number value) {
  std::array<char, 64> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return {buffer.data(), result.ptr};
}

} // namespace

std::string format_number(double value) { return shortest(value); }
std::string format_number(float value) { return shortest(value); }

} // namespace troupe::config
