#pragma once
// The subsystem actors and what each needs to start. Private to actors/.

#include <troupe/actors/runtime.hpp>
#include <troupe/config/topology.hpp>
#include <troupe/messages/codec.hpp>

#include <caf/fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace troupe {

/// Who an actor is, for reports.
struct Identity {
  std::string name;
  std::string kind;
  std::string node;
  config::MailboxSpec mailbox;
};

struct LogicSetup {
  Identity id;
  config::SimulationSpec simulation;
  config::LogicParams params;
  std::vector<std::uint32_t> sources;   ///< command sources to wait for
  std::optional<Checkpoint> resume;     ///< start from here instead of the scenario
  std::uint64_t checkpoint_every = 0;
  std::string checkpoint_dir;
};

struct InputSetup {
  Identity id;
  std::uint32_t source = 1;
  std::vector<ScriptLine> script;       ///< sorted by (tick, seq)
  std::uint32_t lead_ticks = 120;
  std::uint64_t start_tick = 0;         ///< first tick logic will run
  std::uint64_t acked_seq = 0;          ///< commands up to here are applied already
  std::string log_path;                 ///< command log to write ("" = none)
  std::string log_header;               ///< written first: config and overrides
};

struct PhysicsSetup {
  Identity id;
  config::PhysicsParams params;
  std::uint32_t threads = 1;
};

struct ObserverSetup {
  Identity id;
  config::ObserverParams params;
};

struct AudioSetup {
  Identity id;
  config::AudioParams params;
  double tick_hz = 60.0;
  std::uint64_t start_tick = 0;  ///< the WAV starts here (0, or a checkpoint's tick)
  std::string wav_path;
};

caf::actor spawn_logic(caf::actor_system& sys, LogicSetup setup);
caf::actor spawn_input(caf::actor_system& sys, InputSetup setup);
caf::actor spawn_physics(caf::actor_system& sys, PhysicsSetup setup);
caf::actor spawn_observer(caf::actor_system& sys, ObserverSetup setup);
caf::actor spawn_audio(caf::actor_system& sys, AudioSetup setup);

/// Fills the identity and mailbox part of a report.
ActorReport make_report(const Identity& id, const MailboxStats& mailbox);

} // namespace troupe
