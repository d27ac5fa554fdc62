#pragma once
// Boost.Serialization `serialize` functions for sim/ and message types. Private
// to messages/: everything else goes through codec.hpp.

#include <troupe/messages/codec.hpp>
#include <troupe/messages/compact.hpp>

#include <boost/serialization/array_wrapper.hpp>
#include <boost/serialization/is_bitwise_serializable.hpp>
#include <boost/serialization/shared_ptr.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>

#include <stdexcept>
#include <type_traits>

// The hot and cold body arrays are trivially copyable with no padding: Boost
// writes them as one block (this is what keeps a 100k-body snapshot cheap).
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::Vec3)
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::BodyId)
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::Body)
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::BodyInfo)
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::Slot)
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::ContactEvent)

static_assert(sizeof(troupe::sim::BodyInfo) == 24 && sizeof(troupe::sim::Slot) == 8,
              "bitwise-serialised structs must have no padding");
static_assert(sizeof(troupe::sim::ContactEvent) == 56, "ContactEvent is written bitwise: no padding");
static_assert(std::is_trivially_copyable_v<troupe::sim::ContactEvent>);

namespace boost::serialization {

// Field-wise forms; binary archives write arrays of these as one block instead.
template <class A> void serialize(A& ar, troupe::sim::Vec3& x, unsigned) { ar & x.x & x.y & x.z; }
template <class A> void serialize(A& ar, troupe::sim::BodyId& x, unsigned) {
  ar & x.index & x.generation;
}
template <class A> void serialize(A& ar, troupe::sim::Body& x, unsigned) {
  ar & x.position & x.radius & x.velocity & x.inv_mass;
}
template <class A> void serialize(A& ar, troupe::sim::BodyInfo& x, unsigned) {
  ar & x.id & x.restitution & x.color & x.user_data;
}
template <class A> void serialize(A& ar, troupe::sim::Slot& x, unsigned) {
  ar & x.generation & x.dense;
}
template <class A> void serialize(A& ar, troupe::sim::ContactEvent& x, unsigned) {
  ar & x.a & x.b & x.point & x.normal & x.impulse & x.approach_speed & x.radius & x.restitution;
}

template <class A> void serialize(A& ar, troupe::sim::Fountain& x, unsigned) {
  ar & x.origin & x.velocity & x.spread & x.radius & x.every_ticks & x.max_bodies;
}

template <class A> void serialize(A& ar, troupe::sim::World& x, unsigned) {
  ar & x.tick & x.seed & x.rng_state;
  troupe::sim::for_each_setting(x, [&](auto& v) { ar & v; });
  ar & x.bodies & x.infos & x.slots & x.free_slots;
}

template <class A> void serialize(A& ar, troupe::sim::BodySpec& x, unsigned) {
  ar & x.position & x.velocity & x.radius & x.density & x.restitution & x.color & x.user_data;
}

template <class A> void serialize(A& ar, troupe::sim::SpawnBody& x, unsigned) { ar & x.spec; }
template <class A> void serialize(A& ar, troupe::sim::ApplyImpulse& x, unsigned) { ar & x.body & x.dv; }
template <class A> void serialize(A& ar, troupe::sim::Shake& x, unsigned) { ar & x.dv; }
template <class A> void serialize(A& ar, troupe::sim::RemoveBody& x, unsigned) { ar & x.body; }
template <class A> void serialize(A& ar, troupe::sim::SetPaused& x, unsigned) { ar & x.paused; }
template <class A> void serialize(A& ar, troupe::sim::SetGravity& x, unsigned) { ar & x.gravity; }
template <class A> void serialize(A& ar, troupe::sim::SetFountain& x, unsigned) { ar & x.fountain; }
template <class A> void serialize(A& ar, troupe::sim::LoadRules& x, unsigned) { ar & x.path; }

// std::variant: the alternative's index, then the alternative.
template <class A> void save(A& ar, const troupe::sim::Action& x, unsigned) {
  const auto index = static_cast<std::uint8_t>(x.index());
  ar << index;
  std::visit([&](const auto& alt) { ar << alt; }, x);
}

template <class A, std::size_t I = 0>
void load_alternative(A& ar, troupe::sim::Action& x, std::uint8_t index) {
  if constexpr (I < std::variant_size_v<troupe::sim::Action>) {
    if (index == I) {
      std::variant_alternative_t<I, troupe::sim::Action> alt{};
      ar >> alt;
      x = std::move(alt);
      return;
    }
    load_alternative<A, I + 1>(ar, x, index);
  } else {
    throw std::runtime_error("unknown action index " + std::to_string(index));
  }
}

template <class A> void load(A& ar, troupe::sim::Action& x, unsigned) {
  std::uint8_t index = 0;
  ar >> index;
  load_alternative(ar, x, index);
}

template <class A> void serialize(A& ar, troupe::sim::Action& x, unsigned v) {
  split_free(ar, x, v);
}

template <class A> void serialize(A& ar, troupe::SourceAck& x, unsigned) {
  ar & x.source & x.seq;
}

template <class A> void serialize(A& ar, troupe::Command& x, unsigned) {
  ar & x.source & x.seq & x.tick & x.action;
}

template <class A> void serialize(A& ar, troupe::CommandBatch& x, unsigned) {
  ar & x.source & x.sealed_through & x.commands;
}

template <class A> void serialize(A& ar, troupe::InputEvent& x, unsigned) {
  ar & x.source & x.seq & x.pointer;
}

template <class A> void serialize(A& ar, troupe::RulesEvent& x, unsigned) {
  ar & x.kind & x.tick & x.path & x.name & x.version & x.reason;
}

// A shared_ptr to a World (const or not) travels as the world itself (an
// absent world is written as an empty flag).
template <class A, class W> void save_world(A& ar, const std::shared_ptr<W>& x) {
  const bool present = static_cast<bool>(x);
  ar << present;
  if (present)
    ar << *x;
}

template <class A, class W> void load_world(A& ar, std::shared_ptr<W>& x) {
  bool present = false;
  ar >> present;
  if (!present) {
    x.reset();
    return;
  }
  auto world = std::make_shared<troupe::sim::World>();
  ar >> *world;
  x = std::move(world);
}

template <class A> void save(A& ar, const troupe::WorldPtr& x, unsigned) { save_world(ar, x); }
template <class A> void load(A& ar, troupe::WorldPtr& x, unsigned) { load_world(ar, x); }
template <class A> void serialize(A& ar, troupe::WorldPtr& x, unsigned v) { split_free(ar, x, v); }
template <class A> void save(A& ar, const std::shared_ptr<troupe::sim::World>& x, unsigned) { save_world(ar, x); }
template <class A> void load(A& ar, std::shared_ptr<troupe::sim::World>& x, unsigned) { load_world(ar, x); }
template <class A> void serialize(A& ar, std::shared_ptr<troupe::sim::World>& x, unsigned v) {
  split_free(ar, x, v);
}

template <class A> void serialize(A& ar, troupe::Snapshot& x, unsigned) {
  ar & x.generation & x.tick & x.world & x.acks & x.world_hash & x.published_ns;
}

template <class A> void serialize(A& ar, troupe::CompactSnapshot& x, unsigned) {
  ar & x.generation & x.tick & x.base_generation & x.world_hash & x.published_ns & x.acks;
  ar & x.body_count & x.moving_count & x.bytes;
}

template <class A> void serialize(A& ar, troupe::StepRequest& x, unsigned) {
  ar & x.tick & x.world;
}

template <class A> void serialize(A& ar, troupe::StepResult& x, unsigned) {
  ar & x.tick & x.world & x.contacts & x.step_ms;
}

template <class A> void serialize(A& ar, troupe::ContactBatch& x, unsigned) {
  ar & x.tick & x.events & x.published_events;
}

template <class A> void serialize(A& ar, troupe::MailboxStats& x, unsigned) {
  ar & x.capacity & x.overflow & x.admitted & x.dropped & x.rejected & x.high_water;
}

template <class A> void serialize(A& ar, troupe::Percentiles& x, unsigned) {
  ar & x.count & x.p50 & x.p95 & x.p99 & x.max & x.mean;
}

template <class A> void serialize(A& ar, troupe::ActorReport& x, unsigned) {
  ar & x.name & x.kind & x.role & x.node & x.mailbox & x.counters & x.distributions & x.series & x.notes;
}

template <class A> void serialize(A& ar, troupe::Checkpoint& x, unsigned) {
  ar & x.generation & x.world & x.acks;
}

} // namespace boost::serialization

// Plain structs, no version bookkeeping on the wire: the protocol version covers it.
BOOST_CLASS_IMPLEMENTATION(troupe::sim::World, boost::serialization::object_serializable)
BOOST_CLASS_IMPLEMENTATION(troupe::Snapshot, boost::serialization::object_serializable)
BOOST_CLASS_IMPLEMENTATION(troupe::CompactSnapshot, boost::serialization::object_serializable)
BOOST_CLASS_IMPLEMENTATION(troupe::Command, boost::serialization::object_serializable)
BOOST_CLASS_IMPLEMENTATION(troupe::StepResult, boost::serialization::object_serializable)
BOOST_CLASS_IMPLEMENTATION(troupe::ContactBatch, boost::serialization::object_serializable)
BOOST_CLASS_IMPLEMENTATION(troupe::CommandBatch, boost::serialization::object_serializable)
BOOST_CLASS_TRACKING(troupe::sim::World, boost::serialization::track_never)
BOOST_CLASS_TRACKING(troupe::WorldPtr, boost::serialization::track_never)
BOOST_CLASS_TRACKING(std::shared_ptr<troupe::sim::World>, boost::serialization::track_never)
