#pragma once
/// \file Subsystem kinds: what a kind registers so that topologies can use it
/// (docs/architecture.md, "Roles and kinds"). The runtime knows roles, never
/// kind names: it starts actors in role order, wires each role to the roles it
/// talks to, flushes readers at the end, and asks every actor for its report.
/// The six built-in kinds (physics, logic, input, observer, audio, render)
/// register exactly the way an application's kind does:
///
///   troupe::register_subsystem(troupe::reader_subsystem({...}));  // reader.hpp
///
/// before the topology is loaded (see examples/custom-subsystem). No CAF here.

#include <troupe/actors/runtime.hpp>
#include <troupe/config/kind.hpp>
#include <troupe/config/topology.hpp>
#include <troupe/error.hpp>
#include <troupe/messages/codec.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caf {
class actor;
class actor_system;
} // namespace caf

namespace troupe {

using config::Role;

class Reader;
class ReaderContext;

/// Fault injection for one incarnation of one actor (`--chaos`, `--kill`).
struct Chaos {
  double probability = 0;               ///< per tick
  std::optional<std::uint64_t> kill_at; ///< the first incarnation fails at this tick
  std::uint64_t seed = 0;
  std::uint32_t incarnation = 0;
  std::string name;

  /// Throws (a real failure inside the handler) when this incarnation is due to
  /// fail at `tick`: deterministic in (seed, name, tick, incarnation), so a
  /// restarted incarnation does not fail at the same tick forever.
  void strike(std::uint64_t tick) const;
};

/// What the runtime knows of a run before any actor starts; the same on every
/// node of it.
struct RunFacts {
  std::optional<Checkpoint> resume; ///< the checkpoint the run starts from
  std::uint64_t start_tick = 0;     ///< the first tick logic runs (0, or the checkpoint's)
  std::string command_log;          ///< where the source logs applied commands ("" = none)
  std::string log_header;           ///< the command log's header (config and overrides)
  /// Every reader of the topology, by name: the first tick waits until each has
  /// subscribed, so every run sees the same ticks wherever its readers run.
  std::vector<std::string> readers;
  /// Some actor takes commands live (a window's keys, `--watch`, `live = true`):
  /// the source then seals only a few ticks ahead.
  bool live_commands = false;
};

/// Everything about one incarnation of one actor that its kind needs to make it.
struct ActorContext {
  const config::ActorSpec& spec;
  const config::Topology& topology;
  const config::SimulationSpec& simulation; ///< after command-line overrides
  const RunOptions& options;
  const RunFacts& run;
  std::uint32_t incarnation = 0;
  Chaos chaos;
  /// What the kind's `prepare` made for this actor (null when it has none):
  /// one object per actor per run, handed to every incarnation.
  std::shared_ptr<void> state;

  template <class Params> const Params& params() const { return spec.params_as<Params>(); }
  template <class State> State& state_as() const { return *static_cast<State*>(state.get()); }
};

/// Makes a reader's behaviour for one incarnation, on the reader's own thread.
/// An Error of code unrecoverable makes the supervisor give up at once (a
/// required device is missing); any other is a failure it restarts.
using ReaderFactory = std::function<Expected<std::unique_ptr<Reader>>(const ActorContext&, ReaderContext&)>;

/// A registered kind: its schema (name, role, default mailbox, params parser,
/// check line) and how to run one.
struct Subsystem : config::KindSchema {
  /// Runs once per actor of this kind on its node, before anything starts
  /// (load and check files, open what incarnations share); the object is handed
  /// to every incarnation (ActorContext::state). An Error refuses the run
  /// (troupe exits 2 for bad input). May be empty.
  std::function<Expected<std::shared_ptr<void>>(const ActorContext&)> prepare;
  /// A reader kind: makes its behaviour; the runtime runs it in a reader actor
  /// (subscription, compact decoding, recorded frames exactly once, flush,
  /// counters: reader.hpp).
  ReaderFactory make_reader;
  /// Any other kind: spawns one incarnation as a CAF actor that speaks its
  /// role's protocol (troupe/actors/protocols.hpp). The built-in stepper,
  /// coordinator and source are made this way.
  std::function<caf::actor(caf::actor_system&, const ActorContext&)> spawn;
  /// The actor blocks (a device, files, a long step): it gets a thread of its own.
  bool blocking = false;
  /// It can open a window (`--window` applies to it).
  bool opens_windows = false;
  /// Whether this actor takes commands live in this run (see RunFacts).
  std::function<bool(const config::ActorSpec&, const RunOptions&)> takes_live_commands;
};

/// Adds a kind; a bad_argument Error when the name is taken, or when it has
/// no parser, or neither `make_reader` (a reader) nor `spawn`. Register before
/// loading a topology (not thread-safe against loading).
Expected<void> register_subsystem(Subsystem subsystem);

/// The registered kinds, built-ins first, as the config reads them.
const config::KindCatalog& subsystems();

/// The kind of this name, or nullptr.
const Subsystem* find_subsystem(std::string_view name);

/// The kind of a validated actor.
const Subsystem& subsystem_of(const config::ActorSpec& spec);

} // namespace troupe
