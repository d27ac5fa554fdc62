// libFuzzer target: the TOML topology loader with the registered (built-in)
// kinds. Any text gives a topology or one error line; never a crash.
#include <troupe/actors/subsystem.hpp>
#include <troupe/config/topology.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = troupe::config::parse_topology(text, "fuzz.toml", troupe::subsystems());
  if (loaded) {
    (void)troupe::config::describe(*loaded);
    (void)troupe::config::topology_digest(*loaded);
  } else if (loaded.error().to_string().find('\n') != std::string::npos) {
    __builtin_trap(); // an error is one line
  }
  return 0;
}
