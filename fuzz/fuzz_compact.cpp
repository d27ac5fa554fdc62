// libFuzzer target: compact snapshot decoding, as a keyframe and as a delta
// against a real base. Never reads out of bounds; garbage is an error.
#include <troupe/messages/compact.hpp>
#include <troupe/sim/scenario.hpp>

#include <cstdint>
#include <cstring>

namespace {

const troupe::QuantizedWorld& base() {
  static const auto state = troupe::quantize(troupe::sim::make_scenario({"sandbox", 50, 3, 60.0}), 7);
  return state;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 9)
    return 0;
  troupe::CompactSnapshot in;
  in.generation = 8;
  in.tick = 1;
  std::memcpy(&in.body_count, data, 4);
  std::memcpy(&in.moving_count, data + 4, 4);
  const bool delta = data[8] & 1;
  in.base_generation = delta ? 7 : 0;
  in.bytes.assign(data + 9, data + size);
  troupe::QuantizedWorld out;
  if (!troupe::decode_compact(in, delta ? &base() : nullptr, out)) {
    // Decoded: it must be a world troupe can show.
    if (troupe::sim::check_invariants(troupe::dequantize(out)) && out.bodies.size() > out.slot_count)
      __builtin_trap();
  }
  return 0;
}
