// libFuzzer target: the framed envelope every wire message travels in (the
// first byte picks the message type). Bytes reach it only from a peer that
// passed the gate; still, garbage must give an error, never a crash.
#include <troupe/messages/codec.hpp>
#include <troupe/messages/wire.hpp>

#include <cstdint>
#include <vector>

namespace {

template <class T> void decode_as(const std::vector<char>& bytes) {
  T out{};
  (void)troupe::decode_framed(bytes, out);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  std::vector<char> bytes(reinterpret_cast<const char*>(data) + 1, reinterpret_cast<const char*>(data) + size);
  // The high bit of the first byte seals the frame (length and checksum made
  // to match), so that mutations reach the payload decoder too.
  if (data[0] & 0x80)
    troupe::seal_frame(bytes);
#define TROUPE_COUNT(T, KIND, NAME) +1
  constexpr int message_types = 0 TROUPE_WIRE_MESSAGES(TROUPE_COUNT);
#undef TROUPE_COUNT
  int which = (data[0] & 0x7f) % message_types;
#define TROUPE_DECODE(T, KIND, NAME) \
  if (which-- == 0)                  \
    decode_as<troupe::T>(bytes);
  TROUPE_WIRE_MESSAGES(TROUPE_DECODE)
#undef TROUPE_DECODE
  return 0;
}
