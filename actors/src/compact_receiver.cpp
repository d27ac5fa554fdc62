// Readers' side of compact snapshots (see subsystems.hpp).

#include "subsystems.hpp"

#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

#include <iostream>

namespace troupe {

std::optional<Snapshot> CompactReceiver::receive(const CompactSnapshot& in, const caf::actor& logic,
                                                 const caf::actor& reader) {
  ++received_;
  keyframes_ += in.base_generation == 0 ? 1 : 0;
  bytes_ += in.bytes.size();
  Snapshot out;
  if (auto err = decoder_.decode(in, out)) {
    // Ask for a keyframe: an acknowledgement of nothing.
    if (errors_++ == 0)
      std::cerr << "troupe: a compact snapshot could not be decoded (" << err->message
                << "); asking for a keyframe" << std::endl;
    caf::anon_send(logic, ack_atom::value, reader, std::uint64_t{0});
    return std::nullopt;
  }
  caf::anon_send(logic, ack_atom::value, reader, out.generation);
  return out;
}

std::vector<std::pair<std::string, double>> CompactReceiver::counters() const {
  return {{"compact_received", static_cast<double>(received_)},
          {"keyframes_received", static_cast<double>(keyframes_)},
          {"compact_bytes_received", static_cast<double>(bytes_)},
          {"compact_decode_errors", static_cast<double>(errors_)}};
}

} // namespace troupe
