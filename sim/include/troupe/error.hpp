#pragma once
/// \file troupe's one error type: a code that programs test and words that
/// people read, and `Expected<T>`, a value or an Error (std::expected is C++23;
/// this is the part troupe needs). Every layer reports failures this way:
/// config, scripts, checkpoints, plugins, render, audio and the runtime; the
/// runtime turns CAF errors of category "troupe" into it. Code is tested with
/// `error.code == errc::...`, never by searching the message.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <variant>

namespace troupe {

/// What kind of failure an Error is. The numbers travel inside CAF errors
/// (category "troupe"): never reuse one.
enum class errc : std::uint8_t {
  none = 0,
  /// A peer speaks another wire protocol version, or runs another topology.
  protocol_mismatch = 1,
  /// Bytes from a peer or a file could not be decoded.
  decode_failed = 2,
  /// A bounded mailbox refused the message; the sender keeps it and retries.
  mailbox_full = 3,
  /// A bounded mailbox dropped a request under its overflow policy.
  mailbox_dropped = 4,
  /// A peer named in the topology could not be found, or refused us.
  unknown_peer = 5,
  /// The actor is shutting down.
  shutting_down = 6,
  /// A supervisor exceeded its restart intensity and gave up.
  escalated = 7,
  /// An actor's handler threw; the message holds what().
  crashed = 8,
  /// An actor cannot run at all (no device, say): its supervisor gives up at
  /// once instead of restarting it.
  unrecoverable = 9,
  /// A topology file is wrong: file, line, column and key say where.
  bad_config = 10,
  /// A timeline or command log is wrong: file and line say where.
  bad_script = 11,
  /// A command-line argument is wrong.
  bad_argument = 12,
  /// An input file (a checkpoint, say) is missing, foreign, corrupt or of
  /// another version: file says which.
  bad_file = 13,
  /// A plugin did not load, failed its smoke test, or failed while running.
  bad_plugin = 14,
  /// A device (Vulkan, audio, a window) is missing or failed.
  device_failed = 15,
  /// Writing a file failed.
  io_failed = 16,
  /// A run stopped before its last tick (stuck, a node lost for good, ...).
  run_failed = 17,
  /// A region holds another tick than the coordinator asked it to step (it
  /// lost what it held with its node): the coordinator rolls the world back
  /// to the last consistent cut.
  out_of_step = 18,
  /// A node refused a peer that has not greeted it (yet: a dialed node may
  /// ask before the dialer's directory has admitted it).
  not_greeted = 19,
};

/// The code's name ("bad_config").
const char* to_string(errc code);

/// True for the codes that mean "the input is wrong" (a config, script,
/// argument, file or plugin, or a refused peer): troupe exits with 2 for them.
bool is_bad_input(errc code);

/// A failure: its code, one line of words, and where in a file when a file is
/// to blame.
struct Error {
  Error() = default;
  Error(errc code_, std::string message_, std::string file_ = {}, int line_ = 0, int column_ = 0,
        std::string key_ = {})
    : code(code_), message(std::move(message_)), file(std::move(file_)), line(line_), column(column_),
      key(std::move(key_)) {}

  errc code = errc::none;
  std::string message;
  std::string file; ///< the file to blame ("" = none)
  int line = 0;     ///< 1-based; 0 = the whole file
  int column = 0;   ///< 1-based; 0 = the whole line
  std::string key;  ///< a config key's dotted path, e.g. "actors.physics.substeps"

  /// One line: "FILE:LINE:COL: KEY: MESSAGE", with the parts that are known
  /// ("FILE: MESSAGE" for a file without a position; the message alone when
  /// no file is to blame). Newlines in the parts become spaces.
  std::string to_string() const;
};

/// Writes `error.to_string()`.
std::ostream& operator<<(std::ostream& out, const Error& error);

/// A value or an Error.
template <class T>
class [[nodiscard]] Expected {
public:
  Expected(T value) : v_(std::move(value)) {}
  Expected(Error error) : v_(std::move(error)) {}
  /// True when a value is held.
  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  /// The value; only when `has_value()`.
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  /// The error; only when `!has_value()`.
  const Error& error() const { return std::get<1>(v_); }

private:
  std::variant<T, Error> v_;
};

/// Success or an Error, for work that yields no value.
template <>
class [[nodiscard]] Expected<void> {
public:
  Expected() = default;
  Expected(Error error) : error_(std::move(error)), failed_(true) {}
  bool has_value() const { return !failed_; }
  explicit operator bool() const { return has_value(); }
  /// The error; only when `!has_value()`.
  const Error& error() const { return error_; }

private:
  Error error_;
  bool failed_ = false;
};

} // namespace troupe
