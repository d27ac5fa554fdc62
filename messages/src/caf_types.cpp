#include <atomic>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

namespace troupe {

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
  }
  return "unknown";
}

caf::error make_error(errc code, std::string context) {
  return caf::error{static_cast<std::uint8_t>(code), caf::atom("troupe"),
                    context.empty() ? caf::message{} : caf::make_message(std::move(context))};
}

namespace {
std::atomic<std::uint64_t> wire_bytes{0};
} // namespace

std::uint64_t wire_bytes_sent() {
  return wire_bytes.load(std::memory_order_relaxed);
}

void detail::count_wire_bytes(std::size_t bytes) {
  wire_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<CommandBatch>(detail::wire_name<CommandBatch>());
  cfg.add_message_type<InputEvent>(detail::wire_name<InputEvent>());
  cfg.add_message_type<RulesEvent>(detail::wire_name<RulesEvent>());
  cfg.add_message_type<Snapshot>(detail::wire_name<Snapshot>());
  cfg.add_message_type<CompactSnapshot>(detail::wire_name<CompactSnapshot>());
  cfg.add_message_type<StepRequest>(detail::wire_name<StepRequest>());
  cfg.add_message_type<StepResult>(detail::wire_name<StepResult>());
  cfg.add_message_type<ContactBatch>(detail::wire_name<ContactBatch>());
  cfg.add_message_type<ActorReport>(detail::wire_name<ActorReport>());
  cfg.add_message_type<std::vector<ActorReport>>("std::vector<troupe::actor_report>");
  cfg.add_error_category(caf::atom("troupe"), [](std::uint8_t code, caf::atom_value,
                                                  const caf::message& context) {
    std::string out = "troupe::";
    out += to_string(static_cast<errc>(code));
    if (context.match_elements<std::string>()) {
      out += ": ";
      out += context.get_as<std::string>(0);
    }
    return out;
  });
}

} // namespace troupe
