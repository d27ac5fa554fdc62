#pragma once
// Boost.Serialization `serialize` functions for sim/ and message types. Private
// to messages/: everything else goes through codec.hpp.

#include <troupe/messages/codec.hpp>
#include <troupe/messages/compact.hpp>

#include <boost/serialization/array_wrapper.hpp>
#include <boost/serialization/is_bitwise_serializable.hpp>
#include <boost/serialization/shared_ptr.hpp>

#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// The hot and cold body arrays are trivially copyable with no padding: Boost
// writes them as one block (this is what keeps a 100k-body snapshot cheap).
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::Vec3)
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::BodyId)
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::Body)
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::BodyInfo)
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::Slot)
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::ContactEvent)
BOOST_IS_BITWISE_SERIALIZABLE(troupe::sim::WholeBody)

static_assert(sizeof(troupe::sim::BodyInfo) == 24 && sizeof(troupe::sim::Slot) == 8,
              "bitwise-serialised structs must have no padding");
static_assert(sizeof(troupe::sim::ContactEvent) == 56, "ContactEvent is written bitwise: no padding");
static_assert(std::is_trivially_copyable_v<troupe::sim::ContactEvent>);
static_assert(sizeof(troupe::sim::WholeBody) == 56 && std::is_trivially_copyable_v<troupe::sim::WholeBody>,
              "WholeBody (a parcel's body) is written bitwise: no padding");

// Bounded sequences. Boost's own vector and string loaders resize to whatever
// count the bytes claim before reading an element, so 8 bytes could ask for
// terabytes. Every vector and string here goes through `sequence` instead: on
// load, a count is checked against the bytes actually left in the payload
// (each element takes at least `min_bytes` of them) before anything is
// allocated, so no claim allocates more than a small multiple of the bytes
// received (docs/architecture.md, "Trust").
namespace troupe::codec {

/// A streambuf reading a byte range in place: what every payload is decoded
/// from.
class SpanSource : public std::streambuf {
public:
  SpanSource(const char* data, std::size_t size) {
    auto* p = const_cast<char*>(data); // read-only use; streambuf wants char*
    setg(p, p, p + size);
  }
  /// The next `n` bytes, passed over (the caller checked that they are there).
  const char* take(std::size_t n) {
    char* at = gptr();
    setg(eback(), at + n, egptr());
    return at;
  }
};

/// The payload being decoded on this thread (set by read_archive): what the
/// counts are checked against, and where blocks are read from. Null when
/// encoding.
inline thread_local SpanSource* decoding = nullptr;

/// Reads elements of a block type out of a byte range that may not be
/// aligned for them (one memcpy each): a vector is built from the payload in
/// one pass, with no value-initialised elements to overwrite.
template <class T> class UnalignedReader {
public:
  using iterator_category = std::random_access_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using pointer = const T*;
  using reference = T;
  explicit UnalignedReader(const char* at) : at_(at) {}
  T operator*() const {
    T x;
    std::memcpy(static_cast<void*>(&x), at_, sizeof(T));
    return x;
  }
  UnalignedReader& operator++() {
    at_ += sizeof(T);
    return *this;
  }
  UnalignedReader operator++(int) {
    auto before = *this;
    ++*this;
    return before;
  }
  UnalignedReader& operator--() {
    at_ -= sizeof(T);
    return *this;
  }
  UnalignedReader operator--(int) {
    auto before = *this;
    --*this;
    return before;
  }
  UnalignedReader& operator+=(difference_type n) {
    at_ += n * static_cast<difference_type>(sizeof(T));
    return *this;
  }
  UnalignedReader& operator-=(difference_type n) { return *this += -n; }
  T operator[](difference_type n) const { return *(*this + n); }
  friend UnalignedReader operator+(UnalignedReader a, difference_type n) { return a += n; }
  friend UnalignedReader operator+(difference_type n, UnalignedReader a) { return a += n; }
  friend UnalignedReader operator-(UnalignedReader a, difference_type n) { return a -= n; }
  friend difference_type operator-(const UnalignedReader& a, const UnalignedReader& b) {
    return (a.at_ - b.at_) / static_cast<difference_type>(sizeof(T));
  }
  friend bool operator==(const UnalignedReader&, const UnalignedReader&) = default;
  friend auto operator<=>(const UnalignedReader&, const UnalignedReader&) = default;

private:
  const char* at_;
};

template <class T> struct is_sequence : std::false_type {};
template <class T, class Alloc> struct is_sequence<std::vector<T, Alloc>> : std::true_type {};
template <> struct is_sequence<std::string> : std::true_type {};
template <class T> struct is_pair : std::false_type {};
template <class A, class B> struct is_pair<std::pair<A, B>> : std::true_type {};

/// Elements written as one block: their bytes are the memory.
template <class T>
inline constexpr bool is_block = std::is_arithmetic_v<T> || boost::serialization::is_bitwise_serializable<T>::value;

/// The fewest bytes one T takes in a payload.
template <class T> constexpr std::size_t min_bytes() {
  if constexpr (is_block<T>)
    return sizeof(T);
  else if constexpr (is_sequence<T>::value)
    return sizeof(std::uint64_t); // its count
  else if constexpr (is_pair<T>::value)
    return min_bytes<typename T::first_type>() + min_bytes<typename T::second_type>();
  else
    return 1;
}

template <class A, class V> void sequence(A& ar, V& v);

/// A bool travels as one byte that must be 0 or 1 (Boost would read any byte
/// into a bool: undefined behaviour for every other value).
template <class A> void flag(A& ar, bool& b) {
  std::uint8_t byte = b ? 1 : 0;
  ar & byte;
  if constexpr (A::is_loading::value) {
    if (byte > 1)
      throw std::runtime_error("a flag of value " + std::to_string(byte));
    b = byte == 1;
  }
}

/// A field: bools through `flag`, everything else as Boost writes it.
template <class A, class T> void field(A& ar, T& x) {
  if constexpr (std::is_same_v<T, bool>)
    flag(ar, x);
  else
    ar & x;
}

template <class A, class T> void item(A& ar, T& x) {
  if constexpr (is_sequence<T>::value)
    sequence(ar, x);
  else if constexpr (is_pair<T>::value) {
    item(ar, x.first);
    item(ar, x.second);
  } else
    field(ar, x);
}

/// A vector or string: its count (u64), then its elements.
template <class A, class V> void sequence(A& ar, V& v) {
  using T = typename V::value_type;
  std::uint64_t count = v.size();
  ar & count;
  if constexpr (A::is_loading::value) {
    const auto left = decoding ? static_cast<std::uint64_t>(std::max<std::streamsize>(decoding->in_avail(), 0))
                               : std::numeric_limits<std::uint64_t>::max();
    if (count > left / min_bytes<T>())
      throw std::length_error("a sequence of " + std::to_string(count) + " elements in " + std::to_string(left) +
                              " bytes");
    if constexpr (is_block<T>) {
      if (decoding) { // straight from the payload: its bytes are the elements
        const char* bytes = decoding->take(static_cast<std::size_t>(count) * sizeof(T));
        v.assign(UnalignedReader<T>(bytes), UnalignedReader<T>(bytes + static_cast<std::size_t>(count) * sizeof(T)));
        return;
      }
    }
    v.resize(static_cast<std::size_t>(count));
  }
  if constexpr (is_block<T>) {
    if (count > 0)
      ar & boost::serialization::make_array(v.data(), v.size());
  } else {
    for (auto& x : v)
      item(ar, x);
  }
}

} // namespace troupe::codec

namespace boost::serialization {

using troupe::codec::field;
using troupe::codec::flag;
using troupe::codec::sequence;

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
  troupe::sim::for_each_setting(x, [&](auto& v) { field(ar, v); });
  sequence(ar, x.bodies);
  sequence(ar, x.infos);
  sequence(ar, x.slots);
  sequence(ar, x.free_slots);
}

template <class A> void serialize(A& ar, troupe::sim::BodySpec& x, unsigned) {
  ar & x.position & x.velocity & x.radius & x.density & x.restitution & x.color & x.user_data;
}

template <class A> void serialize(A& ar, troupe::sim::SpawnBody& x, unsigned) { ar & x.spec; }
template <class A> void serialize(A& ar, troupe::sim::ApplyImpulse& x, unsigned) { ar & x.body & x.dv; }
template <class A> void serialize(A& ar, troupe::sim::Shake& x, unsigned) { ar & x.dv; }
template <class A> void serialize(A& ar, troupe::sim::RemoveBody& x, unsigned) { ar & x.body; }
template <class A> void serialize(A& ar, troupe::sim::SetPaused& x, unsigned) { flag(ar, x.paused); }
template <class A> void serialize(A& ar, troupe::sim::SetGravity& x, unsigned) { ar & x.gravity; }
template <class A> void serialize(A& ar, troupe::sim::SetFountain& x, unsigned) { ar & x.fountain; }
template <class A> void serialize(A& ar, troupe::sim::LoadRules& x, unsigned) { sequence(ar, x.path); }
template <class A> void serialize(A& ar, troupe::sim::Rebalance& x, unsigned) {
  ar & x.axis;
  sequence(ar, x.cuts);
}

// std::variant (sim::Action, sim::BodyOp): the alternative's index, then the alternative.
template <class A, class V> void save_variant(A& ar, const V& x) {
  const auto index = static_cast<std::uint8_t>(x.index());
  ar << index;
  std::visit([&](const auto& alt) { ar << alt; }, x);
}

template <class A, class V, std::size_t I = 0> void load_alternative(A& ar, V& x, std::uint8_t index) {
  if constexpr (I < std::variant_size_v<V>) {
    if (index == I) {
      std::variant_alternative_t<I, V> alt{};
      ar >> alt;
      x = std::move(alt);
      return;
    }
    load_alternative<A, V, I + 1>(ar, x, index);
  } else {
    throw std::runtime_error("unknown alternative index " + std::to_string(index));
  }
}

template <class A, class V> void load_variant(A& ar, V& x) {
  std::uint8_t index = 0;
  ar >> index;
  load_alternative(ar, x, index);
}

template <class A> void save(A& ar, const troupe::sim::Action& x, unsigned) { save_variant(ar, x); }
template <class A> void load(A& ar, troupe::sim::Action& x, unsigned) { load_variant(ar, x); }
template <class A> void serialize(A& ar, troupe::sim::Action& x, unsigned v) { split_free(ar, x, v); }

// A partitioned tick (sim/regions.hpp).
template <class A> void serialize(A& ar, troupe::sim::WholeBody& x, unsigned) { ar & x.body & x.info; }
template <class A> void serialize(A& ar, troupe::sim::SpawnOp& x, unsigned) { ar & x.spawned; }
template <class A> void serialize(A& ar, troupe::sim::ImpulseOp& x, unsigned) { ar & x.body & x.dv; }
template <class A> void serialize(A& ar, troupe::sim::ShakeOp& x, unsigned) { ar & x.dv; }
template <class A> void serialize(A& ar, troupe::sim::RemoveOp& x, unsigned) { ar & x.body; }
template <class A> void save(A& ar, const troupe::sim::BodyOp& x, unsigned) { save_variant(ar, x); }
template <class A> void load(A& ar, troupe::sim::BodyOp& x, unsigned) { load_variant(ar, x); }
template <class A> void serialize(A& ar, troupe::sim::BodyOp& x, unsigned v) { split_free(ar, x, v); }

template <class A> void serialize(A& ar, troupe::sim::Layout& x, unsigned) {
  for (auto& cuts : x.cuts)
    sequence(ar, cuts);
}

template <class A> void serialize(A& ar, troupe::sim::TickPlan& x, unsigned) {
  ar & x.tick;
  troupe::sim::for_each_setting(x.settings, [&](auto& v) { field(ar, v); });
  sequence(ar, x.ops);
  sequence(ar, x.rules.path);
  ar & x.rules.digest & x.layout & x.halo & x.passes & x.max_move & x.survey;
}

template <class A> void serialize(A& ar, troupe::sim::Parcel& x, unsigned) {
  ar & x.from;
  sequence(ar, x.bodies);
}

template <class A> void serialize(A& ar, troupe::sim::StepStats& x, unsigned) { ar & x.pairs_tested & x.contacts; }

template <class A> void serialize(A& ar, troupe::sim::RegionReport& x, unsigned) {
  ar & x.region & x.tick;
  sequence(ar, x.removed);
  sequence(ar, x.events);
  ar & x.hash_part & x.owned & x.ghosts & x.arrived & x.max_radius & x.max_speed & x.max_move & x.stats;
  sequence(ar, x.survey);
}

template <class A> void serialize(A& ar, troupe::SourceAck& x, unsigned) {
  ar & x.source & x.seq;
}

template <class A> void serialize(A& ar, troupe::Command& x, unsigned) {
  ar & x.source & x.seq & x.tick & x.action;
}

template <class A> void serialize(A& ar, troupe::CommandBatch& x, unsigned) {
  ar & x.source & x.sealed_through;
  sequence(ar, x.commands);
}

template <class A> void serialize(A& ar, troupe::InputEvent& x, unsigned) {
  ar & x.source & x.seq & x.pointer;
}

template <class A> void serialize(A& ar, troupe::RulesEvent& x, unsigned) {
  ar & x.kind & x.tick;
  sequence(ar, x.path);
  sequence(ar, x.name);
  sequence(ar, x.version);
  sequence(ar, x.reason);
}

// A shared_ptr to a World (const or not) travels as the world itself (an
// absent world is written as an empty flag).
template <class A, class W> void save_world(A& ar, const std::shared_ptr<W>& x) {
  bool present = static_cast<bool>(x);
  flag(ar, present);
  if (present)
    ar << *x;
}

template <class A, class W> void load_world(A& ar, std::shared_ptr<W>& x) {
  bool present = false;
  flag(ar, present);
  if (!present) {
    x.reset();
    return;
  }
  auto world = std::make_shared<troupe::sim::World>();
  ar >> *world;
  // A world from outside bytes is indexed by its own slot table: refuse one
  // whose tables do not agree before anything steps or reads it.
  if (auto broken = troupe::sim::check_invariants(*world))
    throw std::runtime_error(std::string("inconsistent world: ") + *broken);
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
  ar & x.generation & x.tick & x.world;
  sequence(ar, x.acks);
  ar & x.world_hash & x.published_ns & x.parts & x.part;
}

template <class A> void serialize(A& ar, troupe::CompactSnapshot& x, unsigned) {
  ar & x.generation & x.tick & x.base_generation & x.world_hash & x.published_ns;
  sequence(ar, x.acks);
  ar & x.body_count & x.moving_count;
  sequence(ar, x.bytes);
  ar & x.parts & x.part;
}

// The plan is shared by every region of a process; it travels as itself.
template <class A> void save(A& ar, const std::shared_ptr<const troupe::sim::TickPlan>& x, unsigned) {
  bool present = static_cast<bool>(x);
  flag(ar, present);
  if (present)
    ar << *x;
}
template <class A> void load(A& ar, std::shared_ptr<const troupe::sim::TickPlan>& x, unsigned) {
  bool present = false;
  flag(ar, present);
  if (!present) {
    x.reset();
    return;
  }
  auto plan = std::make_shared<troupe::sim::TickPlan>();
  ar >> *plan;
  x = std::move(plan);
}
template <class A> void serialize(A& ar, std::shared_ptr<const troupe::sim::TickPlan>& x, unsigned v) {
  split_free(ar, x, v);
}

template <class A> void serialize(A& ar, troupe::RegionStep& x, unsigned) {
  ar & x.plan & x.generation;
  flag(ar, x.checkpoint);
  ar & x.epoch;
}

template <class A> void serialize(A& ar, troupe::RegionParcel& x, unsigned) { ar & x.tick & x.parcel & x.epoch; }

template <class A> void serialize(A& ar, troupe::RegionStepped& x, unsigned) {
  ar & x.report & x.step_ms & x.wait_ms & x.exchange_bytes & x.exchange_messages;
  flag(ar, x.checkpointed);
}

template <class A> void serialize(A& ar, troupe::StepRequest& x, unsigned) {
  ar & x.tick & x.world;
}

template <class A> void serialize(A& ar, troupe::StepResult& x, unsigned) {
  ar & x.tick & x.world;
  sequence(ar, x.contacts);
  ar & x.step_ms;
}

template <class A> void serialize(A& ar, troupe::ContactBatch& x, unsigned) {
  ar & x.tick;
  sequence(ar, x.events);
  ar & x.published_events;
}

template <class A> void serialize(A& ar, troupe::MailboxStats& x, unsigned) {
  ar & x.capacity & x.overflow & x.admitted & x.dropped & x.rejected & x.high_water;
}

template <class A> void serialize(A& ar, troupe::Percentiles& x, unsigned) {
  ar & x.count & x.p50 & x.p95 & x.p99 & x.max & x.mean;
}

template <class A> void serialize(A& ar, troupe::ActorReport& x, unsigned) {
  sequence(ar, x.name);
  sequence(ar, x.kind);
  sequence(ar, x.role);
  sequence(ar, x.node);
  ar & x.mailbox;
  sequence(ar, x.counters);
  sequence(ar, x.distributions);
  sequence(ar, x.series);
  sequence(ar, x.notes);
}

template <class A> void serialize(A& ar, troupe::sim::Ledger::PendingCuts& x, unsigned) {
  ar & x.tick & x.axis;
  sequence(ar, x.cuts);
}

template <class A> void serialize(A& ar, troupe::sim::Ledger& x, unsigned) {
  troupe::sim::for_each_setting(x.settings, [&](auto& v) { field(ar, v); });
  ar & x.tick & x.seed & x.rng_state;
  sequence(ar, x.slots);
  sequence(ar, x.free_slots);
  ar & x.alive & x.max_radius & x.max_speed & x.layout & x.rebalance_every & x.rebalance_after;
  sequence(ar, x.pending_cuts);
  ar & x.surveying & x.survey_applies;
}

template <class A> void serialize(A& ar, troupe::Checkpoint& x, unsigned) {
  ar & x.generation & x.world;
  sequence(ar, x.acks);
  ar & x.parts & x.part & x.ledger & x.world_hash & x.published_events;
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
BOOST_CLASS_IMPLEMENTATION(troupe::sim::TickPlan, boost::serialization::object_serializable)
BOOST_CLASS_IMPLEMENTATION(troupe::sim::Parcel, boost::serialization::object_serializable)
BOOST_CLASS_IMPLEMENTATION(troupe::sim::RegionReport, boost::serialization::object_serializable)
BOOST_CLASS_IMPLEMENTATION(troupe::sim::BodyOp, boost::serialization::object_serializable)
BOOST_CLASS_IMPLEMENTATION(troupe::RegionStep, boost::serialization::object_serializable)
BOOST_CLASS_IMPLEMENTATION(troupe::RegionParcel, boost::serialization::object_serializable)
BOOST_CLASS_IMPLEMENTATION(troupe::RegionStepped, boost::serialization::object_serializable)
BOOST_CLASS_TRACKING(troupe::sim::TickPlan, boost::serialization::track_never)
BOOST_CLASS_TRACKING(std::shared_ptr<const troupe::sim::TickPlan>, boost::serialization::track_never)
BOOST_CLASS_TRACKING(troupe::sim::World, boost::serialization::track_never)
BOOST_CLASS_TRACKING(troupe::WorldPtr, boost::serialization::track_never)
BOOST_CLASS_TRACKING(std::shared_ptr<troupe::sim::World>, boost::serialization::track_never)
