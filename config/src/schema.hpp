#pragma once
// The generic toolkit for reading a TOML document with errors that name the
// file, line, column and key: a Checker that collects errors, typed reads with
// bounds, "did you mean" for unknown keys, and TableReader, the ParamsReader a
// kind reads its own keys through. Private to config/ (toml++ stays here).

#include <troupe/config/kind.hpp>
#include <troupe/config/topology.hpp>

#include <toml++/toml.h>

#include <cstdint>
#include <iterator>
#include <limits>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::config::detail {

inline constexpr std::int64_t int_max = std::numeric_limits<std::int64_t>::max();

using Names = std::vector<std::string_view>;

/// A position in the file, 1-based.
struct Where {
  int line = 1;
  int column = 1;
};

Where where(const toml::source_region& region);

/// Letters, digits, '_' and '-': a key TOML needs no quotes for.
bool is_bare_key(std::string_view key);

/// A TOML basic string: quoted, control characters escaped (always one line).
std::string quote(std::string_view text);

/// The dotted path of `key` inside `parent`, quoting keys that are not bare.
std::string join(std::string_view parent, std::string_view key);

using config::format_number;

/// A TOML value as it would appear in the file, for "got ..." in messages.
std::string show(const toml::node& node);

/// "a, b or c".
template <class Range> std::string alternatives(const Range& names, std::string_view last_separator = " or ") {
  std::string out;
  const auto count = static_cast<std::size_t>(std::distance(std::begin(names), std::end(names)));
  std::size_t index = 0;
  for (const std::string_view name : names) {
    if (index > 0)
      out += index + 1 == count ? last_separator : std::string_view(", ");
    out += name;
    ++index;
  }
  return out;
}

/// Collects errors; hands back the one nearest the top of the file (toml++
/// tables iterate by key name, not in file order, so "the first one found"
/// would otherwise be arbitrary).
class Checker {
public:
  explicit Checker(std::string file) : file_(std::move(file)) {}
  void fail(Where at, std::string key, std::string message);
  bool failed() const { return !errors_.empty(); }
  Error first() const;
  const std::string& file() const { return file_; }

private:
  std::string file_;
  std::vector<Error> errors_;
};

/// One key of a table being read.
struct Entry {
  std::string_view name; ///< the key itself
  std::string path;      ///< its dotted path
  Where at;              ///< where the key is written
  const toml::node& value;
};

Entry entry(std::string_view parent, const toml::key& key, const toml::node& value);

/// "unknown key (did you mean X?); expected one of ...".
void unknown_key(Checker& checker, const Entry& entry, const Names& known);

/// "an integer in [lo, hi]" and friends.
std::string integer_range(std::int64_t lo, std::int64_t hi);

template <class T> bool read_integer(Checker& checker, const Entry& entry, T& out, std::int64_t lo, std::int64_t hi) {
  static_assert(std::is_integral_v<T>);
  const auto* integer = entry.value.as_integer();
  if (integer == nullptr || integer->get() < lo || integer->get() > hi) {
    checker.fail(entry.at, entry.path, "expected " + integer_range(lo, hi) + ", got " + show(entry.value));
    return false;
  }
  out = static_cast<T>(integer->get());
  return true;
}

/// A range of doubles; `lo_open` excludes the lower bound. NaN is never inside.
struct Interval {
  double lo;
  double hi;
  bool lo_open = false;
};

bool read_number(Checker& checker, const Entry& entry, double& out, Interval range);
std::optional<std::string> read_string(Checker& checker, const Entry& entry, bool non_empty);
/// One of `choices`; the message lists them all.
std::optional<std::size_t> read_choice(Checker& checker, const Entry& entry, std::span<const std::string_view> choices);
const toml::table* read_table(Checker& checker, const Entry& entry, std::string_view expected);
bool read_bool(Checker& checker, const Entry& entry, bool& out);
/// `[x, y, z]`: three finite numbers, |v| <= 1e6.
bool read_vec3(Checker& checker, const Entry& entry, std::array<double, 3>& out);

/// The ParamsReader of one [actors.NAME] table: reads the kind's keys,
/// records each resolved value, and afterwards refuses every key of the table
/// that neither the actor's common keys nor the kind asked for.
class TableReader final : public ParamsReader {
public:
  TableReader(Checker& checker, const toml::table& table, const ActorSpec& actor, std::string path, Where table_at,
              std::string config_path);

  void integer(std::string_view key, std::uint32_t& out, std::int64_t lo, std::int64_t hi) override;
  void integer(std::string_view key, std::uint64_t& out, std::int64_t lo, std::int64_t hi) override;
  void number(std::string_view key, double& out, double lo, double hi, bool lo_open) override;
  void number(std::string_view key, float& out, double lo, double hi, bool lo_open) override;
  void boolean(std::string_view key, bool& out) override;
  void text(std::string_view key, std::string& out, bool non_empty) override;
  void path(std::string_view key, std::string& out) override;
  void choice(std::string_view key, std::string& out, std::span<const std::string_view> choices) override;
  void vec3(std::string_view key, std::array<double, 3>& out, bool* present) override;
  void integers(std::string_view key, std::span<std::uint32_t> out, std::int64_t lo, std::int64_t hi,
                bool* present) override;
  void nodes(std::string_view key, std::vector<std::string>& out) override;
  void parts(std::uint32_t count, std::vector<std::string> nodes) override;
  void refuse(std::string_view key, std::string message) override;
  const ActorSpec& actor() const override { return actor_; }
  std::string resolve(const std::string& path) const override;

  /// Refuses the keys nobody asked for; `common` are the keys every actor has.
  void refuse_unknown(const Names& common);
  /// The kind's keys as resolved, in the order they were read.
  std::vector<ResolvedKey> take_resolved() { return std::move(resolved_); }

  /// Node names the kind read (`nodes`): checked in phase two.
  struct NodeRefs {
    std::string path; ///< "actors.physics.region_nodes"
    Where at;
    std::vector<std::string> names;
  };
  std::vector<NodeRefs> take_node_refs() { return std::move(node_refs_); }
  /// What `parts` said: how many, and on which nodes.
  std::uint32_t part_count() const { return parts_; }
  std::vector<std::string> take_part_nodes() { return std::move(part_nodes_); }

private:
  /// The entry of `key` (and marks it as known), or nothing when not given.
  std::optional<Entry> find(std::string_view key);
  void record(std::string_view key, std::string value, bool is_path = false);

  Checker& checker_;
  const toml::table& table_;
  const ActorSpec& actor_;
  std::string path_;
  Where table_at_;
  std::string config_path_;
  std::vector<std::string> asked_;
  std::vector<ResolvedKey> resolved_;
  std::vector<NodeRefs> node_refs_;
  std::uint32_t parts_ = 1;
  std::vector<std::string> part_nodes_;
};

} // namespace troupe::config::detail
