// Timeline files and command logs: one command a line.
//   timeline:     TICK ACTION...            (# comments, blank lines)
//   command log:  TICK SOURCE SEQ ACTION... (after a # header)
// plus the input directive `TICK burst N` (N droppable input events).

#include <troupe/actors/runtime.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace troupe {
namespace {

bool parse_u64(std::string_view text, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

// Scripts are read whole; these bound what one may claim before anything is
// allocated for it (a file is untrusted until checked).
constexpr std::uintmax_t max_script_bytes = std::uintmax_t{256} << 20;
constexpr std::size_t max_line_bytes = 4096;
constexpr std::uint64_t max_burst = 1'000'000;

Error too_large(std::uintmax_t size, const std::string& path) {
  return Error{errc::bad_script, "script of " + std::to_string(size) + " bytes, more than the " +
                                   std::to_string(max_script_bytes >> 20) + " MiB a script may hold", path};
}

} // namespace

Expected<std::vector<ScriptLine>> parse_script(std::string_view file, const std::string& path) {
  if (file.size() > max_script_bytes)
    return too_large(file.size(), path);
  std::vector<ScriptLine> lines;
  std::string text;
  int number = 0;
  std::size_t at = 0;
  while (at < file.size()) {
    const auto eol = std::min(file.find('\n', at), file.size());
    text.assign(file.substr(at, eol - at));
    at = eol + 1;
    ++number;
    auto bad = [&](const std::string& what) { return Error{errc::bad_script, what, path, number}; };
    if (text.size() > max_line_bytes)
      return bad("line of " + std::to_string(text.size()) + " bytes, longer than " + std::to_string(max_line_bytes));
    text = text.substr(0, text.find('#')); // a comment runs to the end of the line
    if (text.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::istringstream words(text);
    std::string tick_word, second;
    words >> tick_word >> second;
    ScriptLine line;
    if (!parse_u64(tick_word, line.tick))
      return bad("expected a tick number first, got \"" + tick_word + "\"");
    std::uint64_t source = 0;
    std::string rest;
    if (parse_u64(second, source)) {
      // Command log line: TICK SOURCE SEQ ACTION
      std::string seq_word;
      words >> seq_word;
      if (!parse_u64(seq_word, line.seq) || line.seq == 0 || source == 0 || source > 0xffffffffu)
        return bad("expected TICK SOURCE SEQ ACTION (source and seq >= 1)");
      line.source = static_cast<std::uint32_t>(source);
      std::getline(words, rest);
    } else {
      std::getline(words, rest);
      rest = second + rest;
    }
    const auto start = rest.find_first_not_of(" \t");
    rest = start == std::string::npos ? std::string{} : rest.substr(start);
    if (rest.rfind("burst", 0) == 0) {
      std::istringstream burst(rest.substr(5));
      std::string count;
      burst >> count;
      if (!parse_u64(count, line.burst) || line.burst == 0 || line.burst > max_burst)
        return bad("burst: expected an event count from 1 to " + std::to_string(max_burst) + ", got \"" + count +
                   "\"");
    } else {
      std::string error;
      line.action = sim::parse_action(rest, error);
      if (!line.action)
        return bad(error);
    }
    lines.push_back(std::move(line));
  }
  // Stable: commands of the same tick keep their file order, which is their seq.
  std::stable_sort(lines.begin(), lines.end(),
                   [](const ScriptLine& a, const ScriptLine& b) { return a.tick < b.tick; });
  return lines;
}

Expected<std::vector<ScriptLine>> load_script(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec)
    return Error{errc::bad_script, "cannot open script file: " + ec.message(), path};
  if (size > max_script_bytes)
    return too_large(size, path); // before reading a byte of it
  std::ifstream in(path, std::ios::binary);
  std::string file(size, '\0');
  if (!in || !in.read(file.data(), static_cast<std::streamsize>(size)))
    return Error{errc::bad_script, "cannot read script file", path};
  return parse_script(file, path);
}

} // namespace troupe
