#pragma once
/// \file CAF glue for troupe messages: atoms, the troupe error category, and
/// `inspect` functions. Include only in actors/ and apps/ (CAF is heavy).
///
/// Every message type's `inspect` writes one WireEnvelope (protocol version, kind,
/// Boost.Serialization payload) as a byte string, so what crosses CAF's BASP is the
/// same framing as checkpoints and the version check happens on every message. An
/// in-process send never calls `inspect`: it moves a pointer.

#include <troupe/messages/codec.hpp>
#include <troupe/messages/compact.hpp>
#include <troupe/messages/messages.hpp>
#include <troupe/messages/wire.hpp>

#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deserializer.hpp>
#include <caf/serializer.hpp>
#include <caf/atom.hpp>
#include <caf/detail/stringification_inspector.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

#include <string>
#include <type_traits>
#include <vector>

namespace troupe {

/// A caf::error of category troupe, with an optional explanation.
caf::error make_error(errc code, std::string context = {});

/// The Error a caf::error stands for: its troupe code (errc::crashed for an
/// error of another category) and its words.
Error to_error(const caf::error& error, const std::string& words);

/// The explanation a caf::error carries (make_error's `context`), or "".
std::string error_words(const caf::error& error);

/// Registers every troupe message type (same names on every node) and the
/// troupe error category with a CAF config.
void register_message_types(caf::actor_system_config& cfg);

/// Atoms of troupe's protocol (at most 10 characters each).
using step_atom = caf::atom_constant<caf::atom("step")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using connect_atom = caf::atom_constant<caf::atom("connect")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using progress_atom = caf::atom_constant<caf::atom("progress")>;
using report_atom = caf::atom_constant<caf::atom("report")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using rejected_atom = caf::atom_constant<caf::atom("rejected")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using burst_atom = caf::atom_constant<caf::atom("burst")>;
using retarget_atom = caf::atom_constant<caf::atom("retarget")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using kill_atom = caf::atom_constant<caf::atom("kill")>;
using capture_atom = caf::atom_constant<caf::atom("capture")>;
using action_atom = caf::atom_constant<caf::atom("action")>;
using rules_atom = caf::atom_constant<caf::atom("rules")>;
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
using resend_atom = caf::atom_constant<caf::atom("resend")>;
using restore_atom = caf::atom_constant<caf::atom("restore")>;

/// Bytes of troupe messages this process serialized for the wire (every node
/// of this process together), and the counter behind it.
std::uint64_t wire_bytes_sent();
namespace detail {
void count_wire_bytes(std::size_t bytes);
}

namespace detail {

/// Reads a wire message where its frame lies in a binary deserializer's
/// buffer (BASP's): the layout of a byte string (its length, then its bytes),
/// without first copying a world's megabytes into a string of its own.
template <class T> caf::error decode_in_place(caf::binary_deserializer& in, T& x) {
  std::size_t size = 0;
  if (auto err = in.begin_sequence(size))
    return err;
  if (size > in.remaining())
    return make_error(errc::decode_failed, "a frame of " + std::to_string(size) + " bytes where " +
                                             std::to_string(in.remaining()) + " are left");
  const auto bytes = in.remainder();
  const auto decoded = decode_framed(std::span<const char>(reinterpret_cast<const char*>(bytes.data()), size), x);
  in.skip(size);
  if (decoded)
    return make_error(decoded->code, decoded->message);
  return in.end_sequence();
}

/// Writes a wire message's frame straight into the end of a binary
/// serializer's buffer (BASP's), laid out as a byte string (its length, then
/// its bytes), instead of framing it apart and copying it in. False, with the
/// buffer as it was, when the frame did not come out the size counted first.
template <class T> bool encode_in_place(caf::binary_serializer& out, const T& x) {
  auto& buf = out.buf();
  const std::size_t start = buf.size();
  const std::size_t size = framed_size(x);
  std::size_t length = size;
  bool written = !out.begin_sequence(length);
  const std::size_t at = buf.size();
  if (written) {
    buf.reserve(at + size);
    append_framed(x, buf);
    written = buf.size() - at == size;
  }
  if (written) {
    out.skip(size);
    written = !out.end_sequence();
  }
  if (!written) {
    buf.resize(start);
    out.seek(start);
    return false;
  }
  count_wire_bytes(size);
  return true;
}

/// The inspect of every wire message: the framed envelope as a byte string.
template <class Inspector, class T>
typename Inspector::result_type inspect_enveloped(Inspector& f, T& x) {
  if constexpr (std::is_same_v<Inspector, caf::detail::stringification_inspector>) {
    // Logging and to_string: name the message, never encode a whole world.
    return f(caf::meta::type_name(wire_message<T>::name));
  } else {
    if constexpr (Inspector::reads_state) {
      if constexpr (std::is_base_of_v<caf::serializer, Inspector>)
        if (auto* out = dynamic_cast<caf::binary_serializer*>(static_cast<caf::serializer*>(&f)))
          if (out->write_pos() == out->buf().size())
            if (encode_in_place(*out, x))
              return caf::none;
      // One scratch buffer per thread: a 100k-body snapshot is megabytes, and a
      // fresh buffer each time costs a page fault per 4 KiB.
      thread_local std::vector<char> scratch;
      encode_framed(x, scratch);
      count_wire_bytes(scratch.size());
      return f(caf::meta::type_name(wire_message<T>::name), scratch);
    } else {
      if constexpr (std::is_base_of_v<caf::deserializer, Inspector>)
        if (auto* in = dynamic_cast<caf::binary_deserializer*>(static_cast<caf::deserializer*>(&f)))
          return decode_in_place(*in, x);
      std::vector<char> bytes;
      return f(caf::meta::type_name(wire_message<T>::name), bytes,
               caf::meta::load_callback([&]() -> caf::error {
                 if (auto err = decode_framed(bytes, x))
                   return make_error(err->code, err->message);
                 return caf::none;
               }));
    }
  }
}

} // namespace detail

/// Every wire message (wire.hpp) crosses CAF as one framed envelope.
template <class Inspector, WireMessage T>
typename Inspector::result_type inspect(Inspector& f, T& x) {
  return detail::inspect_enveloped(f, x);
}

} // namespace troupe
