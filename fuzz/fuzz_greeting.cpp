// libFuzzer target: the wire's gate (actors/src/wire.hpp): the greeting a
// server reads from an unknown client, and the BASP framing it follows
// afterwards, fed in pieces of every size. Nothing may crash; a greeting
// without the key never passes.
#include "wire.hpp"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const troupe::wire::ClusterKey key{};
  static const troupe::wire::Nonce nonce{};
  troupe::wire::Nonce theirs{};
  if (size >= troupe::wire::proof_size &&
      troupe::wire::check_client_proof(key, nonce, data, theirs) == troupe::wire::Proof::valid)
    __builtin_trap(); // a forged proof passed (a random 32-byte MAC: never)
  troupe::wire::FrameInspector inspector(1 << 16);
  std::size_t at = 0, step = 1;
  while (at < size) {
    const auto piece = std::min(step, size - at);
    if (inspector.feed(data + at, piece))
      break; // refused: the connection ends here
    at += piece;
    step = step * 3 % 97 + 1; // pieces of changing sizes, as reads come
  }
  return 0;
}
