// Kind "input", the source: turns its script (a timeline file or a recorded
// command log) and live commands into Commands and hands them to logic; keeps
// each until logic's ack says it was applied, then appends it to the command log.
//
// Determinism: commands carry the tick they are due; the batch's sealed_through
// promises no further command up to that tick, so logic never runs a tick whose
// commands could still arrive.

#include "console.hpp"
#include "subsystems.hpp"

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/metrics.hpp>
#include <troupe/actors/protocols.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

#include <deque>
#include <fstream>
#include <limits>

namespace troupe {
namespace {

using namespace std::chrono_literals;

constexpr auto sealed_forever = std::numeric_limits<std::uint64_t>::max();

/// A command typed live (a window's keys), and the tick input gave it.
struct LiveCommand {
  std::uint64_t tick = 0;
  sim::Action action;
};

/// What input's incarnations share: its script, read once before the run,
/// and how far logic acknowledged it.
struct InputState {
  std::vector<ScriptLine> script; ///< sorted by (tick, seq)
  std::mutex mutex;
  std::vector<LiveCommand> live; ///< every live command so far, in arrival order
  std::uint64_t acked_tick = 0;
  std::uint64_t acked_seq = 0;
  std::uint64_t events_sent = 0; ///< bursts already sent are not sent again
  bool started = false;          ///< an incarnation ran: the next appends to the log
};

/// What one incarnation starts from.
struct InputSetup {
  const config::ActorSpec* spec = nullptr;
  std::uint32_t source = 1;
  const std::vector<ScriptLine>* script = nullptr;
  std::uint32_t lead_ticks = 120;
  std::uint64_t start_tick = 0;         ///< first tick logic will run
  std::uint64_t acked_seq = 0;          ///< commands up to here are applied already
  std::string log_path;                 ///< command log to write ("" = none)
  std::string log_header;               ///< written first: config and overrides
  bool append_log = false;              ///< a restarted input appends
  std::shared_ptr<InputState> state;    ///< written on every ack
  std::uint64_t sent_before_run = 0;    ///< commands applied before this run (a checkpoint's)
  std::uint64_t events_sent = 0;        ///< burst events an earlier incarnation sent
  /// Live commands may come (a window is open): input never seals the whole
  /// future, only lead_ticks ahead, so a live command finds a free tick.
  bool interactive = false;
  Chaos chaos;
};

InputSetup setup_of(const ActorContext& ctx) {
  const auto& params = ctx.params<InputParams>();
  InputSetup setup;
  setup.spec = &ctx.spec;
  setup.source = 1;
  setup.state = std::static_pointer_cast<InputState>(ctx.state);
  setup.script = &setup.state->script;
  setup.lead_ticks = params.lead_ticks;
  setup.interactive = ctx.run.live_commands;
  if (setup.interactive) // a key takes effect within a few ticks
    setup.lead_ticks = std::min<std::uint32_t>(setup.lead_ticks, 6);
  setup.log_path = ctx.run.command_log;
  setup.log_header = ctx.run.log_header;
  setup.chaos = ctx.chaos;
  setup.start_tick = ctx.run.start_tick;
  if (ctx.run.resume) {
    for (const auto& ack : ctx.run.resume->acks)
      if (ack.source == setup.source)
        setup.acked_seq = ack.seq;
    setup.sent_before_run = setup.acked_seq;
  }
  std::lock_guard<std::mutex> guard{setup.state->mutex};
  if (setup.state->started) {
    setup.start_tick = std::max(setup.start_tick, setup.state->acked_tick);
    setup.acked_seq = std::max(setup.acked_seq, setup.state->acked_seq);
    setup.events_sent = setup.state->events_sent;
    setup.append_log = true;
  }
  setup.state->started = true;
  return setup;
}

class input_actor : public bounded_actor {
public:
  input_actor(caf::actor_config& cfg, InputSetup setup)
    : bounded_actor(cfg, setup.spec->mailbox), setup_(std::move(setup)),
      live_sent_(live::counter("troupe_commands_sent_total", "Commands this source sent (each once)",
                               labels_of(*setup_.spec))),
      live_unacked_(live::gauge("troupe_commands_unacked", "Commands sent and not yet acknowledged by logic",
                                labels_of(*setup_.spec))) {
    acked_tick_ = setup_.start_tick;
    // Number the script's commands once, in tick order (file order within a
    // tick), with the live commands of earlier incarnations merged in after
    // the script's commands of their tick: the numbering every incarnation
    // gave them. Skip what a checkpoint says is applied already.
    struct Entry {
      std::uint64_t tick;
      bool live;
      std::uint64_t seq; // 0 = number in order
      sim::Action action;
    };
    std::vector<Entry> entries;
    for (auto& line : *setup_.script) {
      if (line.action && line.source == setup_.source)
        entries.push_back({line.tick, false, line.seq, *line.action});
      else if (line.burst > 0 && line.tick >= setup_.start_tick && setup_.events_sent == 0)
        bursts_.push_back(line);
    }
    {
      std::lock_guard<std::mutex> guard{setup_.state->mutex};
      for (auto& live : setup_.state->live) {
        entries.push_back({live.tick, true, 0, live.action});
        live_pending_.push_back(live);
      }
    }
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return std::pair(a.tick, a.live) < std::pair(b.tick, b.live);
    });
    std::uint64_t seq = 0;
    for (auto& entry : entries) {
      seq = entry.seq != 0 ? entry.seq : seq + 1;
      if (seq > setup_.acked_seq)
        todo_.push_back(Command{setup_.source, seq, entry.tick, std::move(entry.action)});
    }
    std::erase_if(live_pending_, [&](const LiveCommand& c) { return c.tick < setup_.start_tick; });
    events_sent_ = setup_.events_sent;
    max_seq_sent_ = setup_.acked_seq;
    if (!setup_.log_path.empty()) {
      if (setup_.append_log) {
        log_.open(setup_.log_path, std::ios::app);
      } else {
        log_.open(setup_.log_path, std::ios::trunc);
        log_ << setup_.log_header;
      }
      log_.flush();
    }
  }

  caf::behavior make_behavior() override {
    return source_actor::behavior_type{
      [this](connect_atom, const caf::actor& coordinator) {
        logic_ = caf::actor_cast<coordinator_actor>(coordinator);
        // A new logic incarnation knows nothing we sent: send it all again.
        flush();
      },
      [this](start_atom) {
        started_ = true;
        flush();
      },
      [this](ack_atom, std::uint64_t tick, std::uint64_t seq) { on_ack(tick, seq); },
      [this](rejected_atom, CommandBatch&) {
        // Logic's mailbox was full: everything is still in unacked_, so resend
        // it a little later instead of hammering a busy actor.
        ++rejected_;
        if (!retry_pending_) {
          retry_pending_ = true;
          delayed_send(this, 2ms, flush_atom::value);
        }
      },
      [this](flush_atom) {
        retry_pending_ = false;
        flush();
      },
      [this](action_atom, const std::string& text) { on_live(text); },
      [this](report_atom) { return report(); },
    }
      .unbox();
  }

  void on_exit() override { logic_ = nullptr; }

  /// A command typed live: due at the first tick not yet sealed, numbered in
  /// tick order among the unsent ones (which are renumbered after it: nobody
  /// has seen their numbers yet), remembered for the next incarnation, logged
  /// like any other once applied.
  void on_live(const std::string& text) {
    std::string error;
    auto action = sim::parse_action(text, error);
    if (!action || !setup_.interactive) {
      ++live_refused_;
      console() << "input: refused live command \"" << text << "\": "
                 << (action ? "input is not live (set [actors.input] live = true, or run with --watch or --window)"
                            : error)
                 << "\n";
      return;
    }
    const auto tick = std::max(sealed_sent_, acked_tick_) + 1;
    auto at = std::find_if(todo_.begin(), todo_.end(), [&](const Command& c) { return c.tick > tick; });
    const auto seq = at == todo_.begin() ? max_seq_sent_ + 1 : std::prev(at)->seq + 1;
    for (auto i = at; i != todo_.end(); ++i)
      ++i->seq;
    todo_.insert(at, Command{setup_.source, seq, tick, *action});
    live_pending_.push_back({tick, *action});
    ++live_;
    {
      std::lock_guard<std::mutex> guard{setup_.state->mutex};
      setup_.state->live.push_back({tick, *action});
    }
    flush();
  }

private:
  std::uint64_t horizon() const {
    if (todo_.empty() && !setup_.interactive)
      return sealed_forever;
    return acked_tick_ + setup_.lead_ticks;
  }

  /// Sends every unacknowledged command plus the newly due ones, sealed through
  /// the horizon.
  void flush() {
    if (!started_ || !logic_)
      return;
    const auto through = horizon();
    while (!todo_.empty() && todo_.front().tick <= through) {
      max_seq_sent_ = std::max(max_seq_sent_, todo_.front().seq);
      unacked_.push_back(std::move(todo_.front()));
      todo_.pop_front();
    }
    const auto sealed = todo_.empty() && !setup_.interactive ? sealed_forever : through;
    CommandBatch batch{setup_.source, sealed, {unacked_.begin(), unacked_.end()}};
    sealed_sent_ = sealed;
    ++batches_;
    live_sent_.raise_to(static_cast<double>(max_seq_sent_));
    live_unacked_.set(static_cast<double>(unacked_.size()));
    send(logic_, std::move(batch));
  }

  void on_ack(std::uint64_t tick, std::uint64_t seq) {
    setup_.chaos.strike(tick);
    acked_tick_ = std::max(acked_tick_, tick);
    while (!unacked_.empty() && unacked_.front().seq <= seq) {
      record(unacked_.front());
      unacked_.pop_front();
      ++acked_;
    }
    // A tick's commands are applied once the world is past it.
    while (!live_pending_.empty() && live_pending_.front().tick < tick) {
      console() << "input: live command applied at tick " << live_pending_.front().tick << ": "
                 << sim::format_action(live_pending_.front().action) << "\n";
      live_pending_.pop_front();
    }
    while (!bursts_.empty() && bursts_.front().tick <= tick) {
      send_burst(bursts_.front().burst);
      bursts_.pop_front();
    }
    {
      std::lock_guard<std::mutex> guard{setup_.state->mutex};
      setup_.state->acked_tick = acked_tick_;
      setup_.state->acked_seq = std::max(setup_.state->acked_seq, seq);
      setup_.state->events_sent = events_sent_;
    }
    // Refill when logic has used up half of the lead.
    if (sealed_send_due())
      flush();
  }

  bool sealed_send_due() const {
    if (sealed_sent_ == sealed_forever)
      return false;
    return acked_tick_ + setup_.lead_ticks / 2 >= sealed_sent_;
  }

  void send_burst(std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i) {
      ++event_seq_;
      const auto phase = static_cast<float>(event_seq_ % 360);
      send(logic_, InputEvent{setup_.source, event_seq_, {phase, 0.f, -phase}});
    }
    events_sent_ += count;
  }

  void record(const Command& command) {
    if (!log_.is_open())
      return;
    log_ << command.tick << ' ' << command.source << ' ' << command.seq << ' '
         << sim::format_action(command.action) << '\n';
    if (!log_)
      console() << "input: cannot write the command log " << setup_.log_path << "\n";
  }

  ActorReport report() {
    log_.flush();
    auto out = make_report(*setup_.spec, mailbox_stats());
    // Seqs are contiguous per source: the highest one sent counts every command,
    // across incarnations.
    out.counters = {{"commands_sent", static_cast<double>(max_seq_sent_ - setup_.sent_before_run)},
                    {"commands_acked", static_cast<double>(acked_)},
                    {"commands_unacked", static_cast<double>(unacked_.size() + todo_.size())},
                    {"batches_sent", static_cast<double>(batches_)},
                    {"batches_rejected", static_cast<double>(rejected_)},
                    {"input_events_sent", static_cast<double>(events_sent_)},
                    {"live_commands", static_cast<double>(live_)},
                    {"live_commands_refused", static_cast<double>(live_refused_)},
                    {"incarnation", static_cast<double>(setup_.chaos.incarnation)}};
    return out;
  }

  InputSetup setup_;
  coordinator_actor logic_;
  std::deque<Command> todo_;    // not yet sent
  std::deque<Command> unacked_; // sent, waiting for an ack
  std::deque<ScriptLine> bursts_;
  std::deque<LiveCommand> live_pending_; // live commands not yet applied
  std::ofstream log_;
  bool started_ = false;
  bool retry_pending_ = false;
  std::uint64_t acked_tick_ = 0;
  std::uint64_t sealed_sent_ = 0;
  std::uint64_t max_seq_sent_ = 0;
  live::Counter live_sent_;
  live::Gauge live_unacked_;
  std::uint64_t acked_ = 0;
  std::uint64_t batches_ = 0;
  std::uint64_t rejected_ = 0;
  std::uint64_t event_seq_ = 0;
  std::uint64_t events_sent_ = 0;
  std::uint64_t live_ = 0;
  std::uint64_t live_refused_ = 0;
};

} // namespace

Subsystem input_subsystem() {
  Subsystem kind;
  kind.name = "input";
  kind.role = Role::source;
  kind.mailbox = {1024, config::Overflow::reject}; // commands are never lost: refused, kept, sent again
  kind.parse = config::parse_as<InputParams>([](config::ParamsReader& in, InputParams& p) {
    in.path("timeline", p.timeline);
    in.integer("lead_ticks", p.lead_ticks, 1, 1'000'000);
    in.boolean("live", p.live);
  });
  kind.describe = [](const config::ActorSpec& spec, const config::Topology& topology) {
    const auto& p = spec.params_as<InputParams>();
    std::string timeline = "timeline none";
    if (!p.timeline.empty()) {
      const std::string resolved = config::resolve_relative(topology, p.timeline);
      timeline = "timeline " + p.timeline + (resolved != p.timeline ? " (" + resolved + ")" : std::string{});
    }
    return timeline + ", lead_ticks " + std::to_string(p.lead_ticks) + (p.live ? ", live" : "");
  };
  kind.takes_live_commands = [](const config::ActorSpec& spec, const RunOptions&) {
    return spec.params_as<InputParams>().live;
  };
  // The script: a command log to replay, else the timeline, read on input's node.
  kind.prepare = [](const ActorContext& ctx) -> Expected<std::shared_ptr<void>> {
    auto state = std::make_shared<InputState>();
    const auto& timeline = ctx.params<InputParams>().timeline;
    const auto path = !ctx.options.replay_log.empty() ? ctx.options.replay_log
                      : timeline.empty()              ? std::string{}
                                                      : config::resolve_relative(ctx.topology, timeline);
    if (!path.empty()) {
      auto loaded = load_script(path);
      if (!loaded)
        return loaded.error();
      state->script = std::move(*loaded);
    }
    return std::shared_ptr<void>(std::move(state));
  };
  kind.spawn = [](caf::actor_system& sys, const ActorContext& ctx) { return sys.spawn<input_actor>(setup_of(ctx)); };
  return kind;
}

} // namespace troupe
