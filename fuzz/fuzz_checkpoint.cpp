// libFuzzer target: checkpoint files (header, checksum, payload, invariants).
// A mutated file must be refused, never crash; one that loads must hold its
// invariants. The first byte picks the mode: as is (the header and checksum
// checks), or sealed first (length and checksum made to match, so mutations
// reach the payload decoder behind them).
#include <troupe/messages/codec.hpp>

#include <cstdint>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  std::vector<char> file(reinterpret_cast<const char*>(data) + 1, reinterpret_cast<const char*>(data) + size);
  if (data[0] & 1)
    troupe::seal_checkpoint(file);
  auto loaded = troupe::decode_checkpoint(file, "fuzz.ckpt");
  if (loaded && troupe::sim::check_invariants(loaded->world))
    __builtin_trap(); // it loaded a world that is not whole
  return 0;
}
