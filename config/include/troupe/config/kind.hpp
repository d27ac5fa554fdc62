#pragma once
/// \file What the config knows of a subsystem kind: its role, its default
/// mailbox, how it reads its own keys of an [actors.NAME] table, and the line
/// `troupe check` prints for it. The runtime's `Subsystem`
/// (troupe/actors/subsystem.hpp) adds how to run one; a kind is registered
/// there, and the config reads kinds through a `KindCatalog`. There is no
/// toml++ here: a kind reads its keys through a `ParamsReader`.

#include <any>
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::config {

struct ActorSpec;
struct Topology;

/// What the runtime does with an actor (docs/architecture.md, "Roles and kinds"), in
/// start order: the stepper first (the coordinator needs it to step), then the
/// coordinator, the source, and the readers.
enum class Role : std::uint8_t {
  stepper,     ///< advances the bodies one tick at a time (physics); exactly one
  coordinator, ///< owns the world, the tick and the commands (logic); exactly one
  source,      ///< feeds commands, sealed ahead and acknowledged (input); exactly one
  reader,      ///< subscribes by topic to what logic publishes (observer, audio, render); any number
};

/// The role's name ("stepper").
const char* to_string(Role role);

/// What a full mailbox does with one more message (docs/architecture.md,
/// "Mailboxes").
enum class Overflow : std::uint8_t {
  latest,      ///< replace the queued message of the same type from the same sender with the new one
  drop_oldest, ///< drop the oldest queued message to make room
  drop_newest, ///< drop the new message
  reject,      ///< refuse the new message and tell the sender, who retries
};

/// Bound and policy of one actor's mailbox.
struct MailboxSpec {
  std::uint32_t capacity = 1024; ///< >= 1
  Overflow overflow = Overflow::drop_oldest;
};

/// One key of a kind's table as it was resolved (given or default): the
/// canonical data of the actor's parameters. The topology digest hashes the
/// ones that are not paths; `troupe check` prints them all unless the kind
/// describes itself.
struct ResolvedKey {
  std::string key;
  std::string value; ///< canonical text: shortest round-trip numbers, quoted strings
  bool path = false; ///< a file path (differs from host to host: not in the digest)
};

/// A kind's own keys in one [actors.NAME] table, as its parser reads them. Each
/// read names a key the kind knows, gives the default in `out` and the bounds;
/// a key present in the table with a wrong type or out of range is an error at
/// its line and column, and a key no read asked for is refused as unknown
/// (with a "did you mean" from the keys that were asked for). Every read
/// records the resolved value (ResolvedKey).
class ParamsReader {
public:
  virtual ~ParamsReader() = default;

  /// An integer in [lo, hi].
  virtual void integer(std::string_view key, std::uint32_t& out, std::int64_t lo, std::int64_t hi) = 0;
  virtual void integer(std::string_view key, std::uint64_t& out, std::int64_t lo, std::int64_t hi) = 0;
  /// A number (an integer is a number too) in [lo, hi], or (lo, hi] when `lo_open`.
  virtual void number(std::string_view key, double& out, double lo, double hi, bool lo_open = false) = 0;
  virtual void number(std::string_view key, float& out, double lo, double hi, bool lo_open = false) = 0;
  /// true or false.
  virtual void boolean(std::string_view key, bool& out) = 0;
  /// A string (non-empty when asked).
  virtual void text(std::string_view key, std::string& out, bool non_empty = false) = 0;
  /// A file path as written in the config (see `resolve`).
  virtual void path(std::string_view key, std::string& out) = 0;
  /// One of `choices`.
  virtual void choice(std::string_view key, std::string& out, std::span<const std::string_view> choices) = 0;
  /// An array of three finite numbers [x, y, z] (|v| <= 1e6); `present` tells
  /// whether the key was given.
  virtual void vec3(std::string_view key, std::array<double, 3>& out, bool* present = nullptr) = 0;
  /// An array of exactly `out.size()` integers, each in [lo, hi] (a grid
  /// [nx, ny, nz]); `present` tells whether the key was given.
  virtual void integers(std::string_view key, std::span<std::uint32_t> out, std::int64_t lo, std::int64_t hi,
                        bool* present = nullptr) = 0;
  /// An array of node names; each must name a [[nodes]] table (checked once
  /// the whole file is read, at this key).
  virtual void nodes(std::string_view key, std::vector<std::string>& out) = 0;
  /// Runs the actor as `count` actors, NAME/0 ... NAME/(count - 1) (the
  /// physics regions): part i on `nodes[i % nodes.size()]`, or on the actor's
  /// own node when `nodes` is empty. Each part is an actor of its own: a
  /// stable name, a supervisor child, a report, faults (`--kill NAME/2@120`).
  /// 1 (the default) is one actor named NAME.
  virtual void parts(std::uint32_t count, std::vector<std::string> nodes) = 0;

  /// Refuses the actor's value at `key` (a key of its table, or a dotted path
  /// in it such as "mailbox.capacity") with `message`: a check of the kind's
  /// own. Points at the key when it is one of the table's own keys, else at the
  /// table.
  virtual void refuse(std::string_view key, std::string message) = 0;

  /// The actor as read so far: its name, node and mailbox are resolved before
  /// its kind's keys are read.
  virtual const ActorSpec& actor() const = 0;
  /// A path given in the config, relative to the config file's directory.
  virtual std::string resolve(const std::string& path) const = 0;
};

/// A kind as the config sees it. Parameters are any copyable type of the kind's
/// own (held in ActorSpec::params).
struct KindSchema {
  std::string name;           ///< the `kind` key's value, e.g. "render"
  Role role = Role::reader;
  MailboxSpec mailbox;        ///< the default when [actors.NAME] gives none (or half of one)
  /// Reads the kind's keys; returns its parameters (defaults for keys not given).
  std::function<std::any(ParamsReader&)> parse;
  /// The line `troupe check` prints under the actor; "" = the resolved keys.
  std::function<std::string(const ActorSpec&, const Topology&)> describe;
};

/// The kinds a topology may use, in registration order.
class KindCatalog {
public:
  virtual ~KindCatalog() = default;
  /// The kind named `name`, or nullptr.
  virtual const KindSchema* find(std::string_view name) const = 0;
  /// Every kind, in registration order (the order actors of one role start in).
  virtual std::vector<const KindSchema*> kinds() const = 0;
};

/// The shortest text that reads back as the same number ("0.3", "30"): what
/// `troupe check` lines and resolved keys print.
std::string format_number(double value);
std::string format_number(float value); ///< shortest as a float ("0.3", not "0.30000001...")

/// Makes a `KindSchema::parse` from a function that reads one Params type:
/// `parse_as<RenderParams>(read_render)`.
template <class Params, class Read>
std::function<std::any(ParamsReader&)> parse_as(Read read) {
  return [read](ParamsReader& in) -> std::any {
    Params params;
    read(in, params);
    return params;
  };
}

} // namespace troupe::config
