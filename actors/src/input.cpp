// The input actor: turns its script (a timeline file or a recorded command log)
// into Commands and hands them to logic; keeps each until a snapshot's ack says
// it was applied, then appends it to the command log.
//
// Determinism: commands carry the tick they are due; the batch's sealed_through
// promises no further command up to that tick, so logic never runs a tick whose
// commands could still arrive.

#include "subsystems.hpp"

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/metrics.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

#include <deque>
#include <fstream>
#include <limits>

namespace troupe {
namespace {

using namespace std::chrono_literals;

constexpr auto sealed_forever = std::numeric_limits<std::uint64_t>::max();

class input_actor : public bounded_actor {
public:
  input_actor(caf::actor_config& cfg, InputSetup setup)
    : bounded_actor(cfg, setup.id.mailbox), setup_(std::move(setup)) {
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
    for (auto& line : setup_.script) {
      if (line.action && line.source == setup_.source)
        entries.push_back({line.tick, false, line.seq, *line.action});
      else if (line.burst > 0 && line.tick >= setup_.start_tick && setup_.events_sent == 0)
        bursts_.push_back(line);
    }
    if (setup_.state) {
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
    return {
      [this](connect_atom, const std::string& role, caf::actor peer) {
        if (role == "logic") {
          logic_ = std::move(peer);
          // A new logic incarnation knows nothing we sent: send it all again.
          flush();
        }
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
    };
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
      aout(this) << "input: refused live command \"" << text << "\": "
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
    if (setup_.state) {
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
      aout(this) << "input: live command applied at tick " << live_pending_.front().tick << ": "
                 << sim::format_action(live_pending_.front().action) << "\n";
      live_pending_.pop_front();
    }
    while (!bursts_.empty() && bursts_.front().tick <= tick) {
      send_burst(bursts_.front().burst);
      bursts_.pop_front();
    }
    if (setup_.state) {
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
      aout(this) << "input: cannot write the command log " << setup_.log_path << "\n";
  }

  ActorReport report() {
    log_.flush();
    auto out = make_report(setup_.id, mailbox_stats());
    // Seqs are contiguous per source: the highest one sent counts every command,
    // across incarnations.
    out.counters = {{"commands_sent", static_cast<double>(max_seq_sent_ - setup_.sent_before_run)},
                    {"commands_acked", static_cast<double>(acked_)},
                    {"commands_unacked", static_cast<double>(unacked_.size() + todo_.size())},
                    {"batches_sent", static_cast<double>(batches_)},
                    {"batches_rejected", static_cast<double>(rejected_)},
                    {"input_events_sent", static_cast<double>(events_sent_)},
                    {"live_commands", static_cast<double>(live_)},
                    {"live_commands_refused", static_cast<double>(live_refused_)}};
    return out;
  }

  InputSetup setup_;
  caf::actor logic_;
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
  std::uint64_t acked_ = 0;
  std::uint64_t batches_ = 0;
  std::uint64_t rejected_ = 0;
  std::uint64_t event_seq_ = 0;
  std::uint64_t events_sent_ = 0;
  std::uint64_t live_ = 0;
  std::uint64_t live_refused_ = 0;
};

} // namespace

caf::actor spawn_input(caf::actor_system& sys, InputSetup setup) {
  return sys.spawn<input_actor>(std::move(setup));
}

} // namespace troupe
