#pragma once
/// \file Every message type that crosses a node boundary, listed once. The list
/// gives each its WireEnvelope kind tag and the name CAF registers it under (the
/// same on every node); the codecs' instantiations, the CAF type registration,
/// the `inspect` overload and the envelope's kind check all come from it, so a
/// new message type is one line here (plus its Boost `serialize`).

#include <troupe/messages/compact.hpp>
#include <troupe/messages/messages.hpp>

#include <cstdint>
#include <type_traits>

/// X(TYPE, KIND, NAME): the type (in namespace troupe), its kind tag (never
/// reuse a number) and its CAF type name.
#define TROUPE_WIRE_MESSAGES(X)                       \
  X(CommandBatch, 1, "troupe::command_batch")         \
  X(InputEvent, 2, "troupe::input_event")             \
  X(Snapshot, 3, "troupe::snapshot")                  \
  X(StepRequest, 4, "troupe::step_request")           \
  X(StepResult, 5, "troupe::step_result")             \
  X(ContactBatch, 6, "troupe::contact_batch")         \
  X(ActorReport, 7, "troupe::actor_report")           \
  X(RulesEvent, 8, "troupe::rules_event")             \
  X(CompactSnapshot, 9, "troupe::compact_snapshot")   \
  X(RegionStep, 10, "troupe::region_step")            \
  X(RegionParcel, 11, "troupe::region_parcel")        \
  X(RegionStepped, 12, "troupe::region_stepped")

namespace troupe {

/// Whether T crosses node boundaries; for those, its kind tag and name.
template <class T> struct wire_message : std::false_type {};

#define TROUPE_WIRE_TRAITS(T, KIND, NAME)               \
  template <> struct wire_message<T> : std::true_type { \
    static constexpr std::uint16_t kind = KIND;         \
    static constexpr const char* name = NAME;           \
  };
TROUPE_WIRE_MESSAGES(TROUPE_WIRE_TRAITS)
#undef TROUPE_WIRE_TRAITS

/// A message type of the list above.
template <class T>
concept WireMessage = wire_message<T>::value;

} // namespace troupe
