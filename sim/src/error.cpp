#include <troupe/error.hpp>

#include <algorithm>
#include <ostream>

namespace troupe {
namespace {

std::string one_line(std::string text) {
  std::replace_if(text.begin(), text.end(), [](char ch) { return ch == '\n' || ch == '\r'; }, ' ');
  return text;
}

} // namespace

const char* to_string(errc code) {
  switch (code) {
  case errc::none: return "none";
  case errc::protocol_mismatch: return "protocol_mismatch";
  case errc::decode_failed: return "decode_failed";
  case errc::mailbox_full: return "mailbox_full";
  case errc::mailbox_dropped: return "mailbox_dropped";
  case errc::unknown_peer: return "unknown_peer";
  case errc::shutting_down: return "shutting_down";
  case errc::escalated: return "escalated";
  case errc::crashed: return "crashed";
  case errc::unrecoverable: return "unrecoverable";
  case errc::bad_config: return "bad_config";
  case errc::bad_script: return "bad_script";
  case errc::bad_argument: return "bad_argument";
  case errc::bad_file: return "bad_file";
  case errc::bad_plugin: return "bad_plugin";
  case errc::device_failed: return "device_failed";
  case errc::io_failed: return "io_failed";
  case errc::run_failed: return "run_failed";
  case errc::out_of_step: return "out_of_step";
  case errc::not_greeted: return "not_greeted";
  }
  return "unknown";
}

bool is_bad_input(errc code) {
  switch (code) {
  case errc::bad_config:
  case errc::bad_script:
  case errc::bad_argument:
  case errc::bad_file:
  case errc::bad_plugin:
  case errc::protocol_mismatch:
    return true;
  default:
    return false;
  }
}

std::string Error::to_string() const {
  if (file.empty())
    return one_line(message);
  // Appended piece by piece: `"literal" + std::string` trips GCC 12's
  // -Wrestrict at -O3 (a false positive).
  std::string out = one_line(file);
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
    if (column > 0) {
      out += ':';
      out += std::to_string(column);
    }
  }
  out += ": ";
  if (!key.empty()) {
    out += one_line(key);
    out += ": ";
  }
  out += one_line(message);
  return out;
}

std::ostream& operator<<(std::ostream& out, const Error& error) { return out << error.to_string(); }

} // namespace troupe
