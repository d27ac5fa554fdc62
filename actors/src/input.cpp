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
    // Number the script's commands once, in file order; skip what a checkpoint
    // says is applied already.
    std::uint64_t seq = 0;
    for (auto& line : setup_.script) {
      if (line.action) {
        seq = line.seq != 0 ? line.seq : seq + 1;
        if (line.source != setup_.source || seq <= setup_.acked_seq)
          continue;
        todo_.push_back(Command{setup_.source, seq, line.tick, *line.action});
      } else if (line.burst > 0 && line.tick >= setup_.start_tick && setup_.events_sent == 0) {
        bursts_.push_back(line);
      }
    }
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
      [this](report_atom) { return report(); },
    };
  }

  void on_exit() override { logic_ = nullptr; }

private:
  std::uint64_t horizon() const {
    if (todo_.empty())
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
    const auto sealed = todo_.empty() ? sealed_forever : through;
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
      aout(this) << "input: cannot write the command log " << setup_.log_path << '\n';
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
                    {"input_events_sent", static_cast<double>(events_sent_)}};
    return out;
  }

  InputSetup setup_;
  caf::actor logic_;
  std::deque<Command> todo_;    // not yet sent
  std::deque<Command> unacked_; // sent, waiting for an ack
  std::deque<ScriptLine> bursts_;
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
};

} // namespace

caf::actor spawn_input(caf::actor_system& sys, InputSetup setup) {
  return sys.spawn<input_actor>(std::move(setup));
}

} // namespace troupe
