// libFuzzer target: timelines and command logs (one command a line).
#include <troupe/actors/runtime.hpp>
#include <troupe/sim/rules.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto lines = troupe::parse_script(text, "fuzz.timeline");
  if (lines) {
    for (const auto& line : *lines)
      if (line.action) {
        // What parses formats back and parses again (the command log's round trip).
        std::string error;
        if (!troupe::sim::parse_action(troupe::sim::format_action(*line.action), error))
          __builtin_trap();
      }
  }
  return 0;
}
