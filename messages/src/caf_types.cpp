#include <atomic>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

namespace troupe {

caf::error make_error(errc code, std::string context) {
  return caf::error{static_cast<std::uint8_t>(code), caf::atom("troupe"),
                    context.empty() ? caf::message{} : caf::make_message(std::move(context))};
}

Error to_error(const caf::error& error, const std::string& words) {
  const bool ours = error.category() == caf::atom("troupe");
  return Error{ours ? static_cast<errc>(error.code()) : errc::crashed, words};
}

namespace {
/// What make_error put in an error's context.
std::string context_words(const caf::message& context) {
  return context.match_elements<std::string>() ? context.get_as<std::string>(0) : std::string{};
}
} // namespace

std::string error_words(const caf::error& error) { return context_words(error.context()); }

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
#define TROUPE_REGISTER(T, KIND, NAME) cfg.add_message_type<T>(NAME);
  TROUPE_WIRE_MESSAGES(TROUPE_REGISTER)
#undef TROUPE_REGISTER
  cfg.add_message_type<std::vector<ActorReport>>("std::vector<troupe::actor_report>");
  cfg.add_error_category(caf::atom("troupe"), [](std::uint8_t code, caf::atom_value,
                                                  const caf::message& context) {
    std::string out = "troupe::";
    out += to_string(static_cast<errc>(code));
    if (const auto words = context_words(context); !words.empty()) {
      out += ": ";
      out += words;
    }
    return out;
  });
}

} // namespace troupe
