#pragma once
// The subsystem actors and what each needs to start. Private to actors/.

#include <troupe/actors/runtime.hpp>
#include <troupe/config/topology.hpp>
#include <troupe/messages/codec.hpp>
#include <troupe/messages/compact.hpp>
#include <troupe/audio/mixer.hpp>
#include <troupe/plugins/rules_plugin.hpp>
#include <troupe/render/video.hpp>

#include <caf/actor.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace troupe {

/// A config triple [x, y, z] as a sim vector.
inline sim::Vec3 vec3(const std::array<double, 3>& v) {
  return {static_cast<float>(v[0]), static_cast<float>(v[1]), static_cast<float>(v[2])};
}

/// A reader's side of compact snapshots (a logic on another node sends them):
/// decodes each against what it holds and acknowledges it, so logic encodes the
/// next against it. Counts what came.
class CompactReceiver {
public:
  /// The snapshot `in` stands for, or nothing (an undecodable one: logic is
  /// told to send a keyframe). Acknowledges to `logic` (the sender) as
  /// `reader`, the handle the reader subscribed with.
  std::optional<Snapshot> receive(const CompactSnapshot& in, const caf::actor& logic, const caf::actor& reader);
  /// Counters for the reader's report: compact_received, keyframes_received,
  /// compact_bytes_received, compact_decode_errors.
  std::vector<std::pair<std::string, double>> counters() const;

private:
  SnapshotDecoder decoder_;
  std::uint64_t received_ = 0, keyframes_ = 0, bytes_ = 0, errors_ = 0;
};

/// Fault injection for one incarnation of one actor (`--chaos`, `--kill`).
struct Chaos {
  double probability = 0;               ///< per tick
  std::optional<std::uint64_t> kill_at; ///< the first incarnation exits at this tick
  std::uint64_t seed = 0;
  std::uint32_t incarnation = 0;
  std::string name;

  /// Throws (a real failure inside the handler) when this incarnation is due to
  /// fail at `tick`: deterministic in (seed, name, tick, incarnation), so a
  /// restarted incarnation does not fail at the same tick forever.
  void strike(std::uint64_t tick) const;
};

/// A reader that records snapshots (render's frames): logic sends it every
/// `every`-th tick's snapshot as `(capture_atom, Snapshot)`, keeps each until the
/// reader acknowledges it, resends them when the reader subscribes again (a new
/// incarnation), and holds the tick while `window` are unacknowledged.
struct CaptureLog {
  caf::actor reader; ///< the reader's stable name: it outlives incarnations
  std::uint64_t every = 0;
  std::uint32_t window = 1;
  std::deque<Snapshot> unacked; ///< oldest first
};

using RulesPtr = std::shared_ptr<const plugins::RulesPlugin>;

/// Loads the rules plugin at `path` and smoke-tests it on a copy of `world` as
/// logic's `params` say: the plugin, or why not. Blocking (many ticks' work):
/// off the tick path.
Expected<RulesPtr> load_tested_rules(const std::string& path, const sim::World& world, const config::LogicParams& params,
                                     const sim::PhysicsSettings& physics);

/// The world a run starts from (no checkpoint): the scenario, with logic's
/// fountain override.
sim::World starting_world(const config::SimulationSpec& simulation, const config::LogicParams& params);

/// The step's settings from [actors.physics].
sim::PhysicsSettings physics_settings(const config::PhysicsParams& params);

/// A reload logic was asked for and has not acted on yet.
struct PendingReload {
  std::string path;
  std::uint64_t asked_tick = 0;
  std::uint64_t install_tick = 0; ///< the verdict (install or reject) takes effect here
};

/// What logic leaves behind for its next incarnation: the last published state.
/// Shared in-process with its supervisor (logic and its restart live on one node).
struct LogicState {
  RulesPtr rules;       ///< the plugin running now (null: the built-in rules only)
  RulesPtr known_good;  ///< what `rules` falls back to if it fails while running
  std::optional<PendingReload> pending_reload;
  std::vector<RulesEvent> rules_events;
  std::mutex mutex;
  WorldPtr world;
  std::uint64_t generation = 0;
  std::vector<SourceAck> acks;
  std::map<std::string, CaptureLog> captures; ///< by reader name
  std::set<std::string> awaiting;             ///< recording readers not yet subscribed
};

/// A command typed live (a window's keys), and the tick input gave it.
struct LiveCommand {
  std::uint64_t tick = 0;
  sim::Action action;
};

/// What input leaves behind: how far logic acknowledged it.
struct InputState {
  std::mutex mutex;
  std::vector<LiveCommand> live; ///< every live command so far, in arrival order
  std::uint64_t acked_tick = 0;
  std::uint64_t acked_seq = 0;
  std::uint64_t events_sent = 0; ///< bursts already sent are not sent again
};

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
  sim::PhysicsSettings physics; ///< the stepper's, for the rules smoke test
  /// Live snapshots to a subscriber on another node: a full one every N.
  std::uint32_t keyframe_every = 30;
  std::vector<std::uint32_t> sources;   ///< command sources to wait for
  std::optional<Checkpoint> resume;     ///< start from here instead of the scenario
  std::uint64_t checkpoint_every = 0;
  std::string checkpoint_dir;
  std::shared_ptr<LogicState> state;     ///< written every tick (null = none)
  /// Readers that record frames (render): the first tick waits until each has
  /// subscribed (or declined), so every run records the same frames.
  std::set<std::string> awaiting_readers;
  std::uint64_t applied_before_run = 0;  ///< commands a resumed checkpoint had applied
  Chaos chaos;
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
  bool append_log = false;              ///< a restarted input appends
  std::shared_ptr<InputState> state;    ///< written on every ack (null = none)
  std::uint64_t sent_before_run = 0;    ///< commands applied before this run (a checkpoint's)
  std::uint64_t events_sent = 0;        ///< burst events an earlier incarnation sent
  /// Live commands may come (a window is open): input never seals the whole
  /// future, only lead_ticks ahead, so a live command finds a free tick.
  bool interactive = false;
  Chaos chaos;
};

struct PhysicsSetup {
  Identity id;
  config::PhysicsParams params;
  std::uint32_t threads = 1;
  Chaos chaos;
};

struct ObserverSetup {
  Identity id;
  config::ObserverParams params;
  Chaos chaos;
};

/// What an audio actor leaves for its next incarnation: the mixer (its voices
/// keep ringing), the WAV file and how far it is rendered, so a restart neither
/// truncates the file nor leaves a gap in it.
struct AudioState {
  std::mutex mutex;
  bool opened = false;
  std::unique_ptr<audio::Mixer> mixer;
  std::unique_ptr<audio::WavWriter> wav;
  std::uint64_t rendered_tick = 0;
};

struct AudioSetup {
  Identity id;
  config::AudioParams params;
  double tick_hz = 60.0;
  std::uint64_t start_tick = 0;  ///< the WAV starts here (0, or a checkpoint's tick)
  std::string wav_path;
  std::shared_ptr<AudioState> state = std::make_shared<AudioState>();
  Chaos chaos;
};

/// What a render actor leaves for its next incarnation: how far recording got,
/// and the video being encoded (one file across incarnations).
struct RenderState {
  std::mutex mutex;
  std::uint64_t next_frame_tick = 0; ///< the next tick to record (0 = not started)
  std::uint64_t frames_recorded = 0;
  std::optional<render::VideoEncoder> video;
  bool video_tried = false;          ///< started (or failed to) once: do not retry
};

struct RenderSetup {
  Identity id;
  config::RenderParams params;
  std::uint64_t start_tick = 0;      ///< first tick logic runs (0, or a checkpoint's)
  std::string frames_dir;            ///< OUT/frames
  std::string video_path;            ///< OUT/run.mp4
  std::shared_ptr<RenderState> state;
  Chaos chaos;
};

caf::actor spawn_logic(caf::actor_system& sys, LogicSetup setup);
caf::actor spawn_input(caf::actor_system& sys, InputSetup setup);
caf::actor spawn_physics(caf::actor_system& sys, PhysicsSetup setup);
caf::actor spawn_observer(caf::actor_system& sys, ObserverSetup setup);
caf::actor spawn_audio(caf::actor_system& sys, AudioSetup setup);
caf::actor spawn_render(caf::actor_system& sys, RenderSetup setup);

/// Fills the identity and mailbox part of a report.
ActorReport make_report(const Identity& id, const MailboxStats& mailbox);

} // namespace troupe
