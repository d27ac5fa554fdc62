// The reader actor (reader.hpp): one actor type runs every reader kind. It
// subscribes by topic through the reader's stable name, turns compact
// snapshots from another node back into snapshots, puts the pieces of a world
// run as regions together, orders live snapshots, delivers recorded ones
// exactly once in tick order, and flushes at the end; the kind's Reader does
// the rest.

#include "console.hpp"
#include "subsystems.hpp"

#include <troupe/actors/metrics.hpp>
#include <troupe/live/world_view.hpp>

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/protocols.hpp>
#include <troupe/messages/caf_types.hpp>
#include <troupe/messages/compact.hpp>

#include <caf/all.hpp>

#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>

namespace troupe {
namespace {

using namespace std::chrono_literals;

/// How long a flush waits for the last snapshot, or for the last recorded
/// frames (which may still be on their way from another node).
constexpr auto flush_wait = 5s;
constexpr auto flush_wait_recording = 30s;

class reader_impl final : public bounded_actor, private ReaderContext {
public:
  reader_impl(caf::actor_config& cfg, const Subsystem* kind, ActorContext ctx, std::shared_ptr<ReaderCursor> cursor)
    : bounded_actor(cfg, ctx.spec.mailbox), kind_(kind), ctx_(std::move(ctx)), cursor_(std::move(cursor)),
      live_handoff_(live::histogram("troupe_handoff_seconds", "From logic publishing a snapshot to a reader taking it",
                                    labels_of(ctx_.spec))),
      live_skipped_(live::counter("troupe_generations_skipped_total",
                                  "Snapshots a reader never saw because newer ones replaced them",
                                  labels_of(ctx_.spec))) {}

  caf::behavior make_behavior() override {
    // The behaviour is made here, on the reader's own thread: a device or a
    // window belongs to the thread that opened it.
    auto made = kind_->make_reader(ctx_, *this);
    if (!made) {
      const auto code = made.error().code == errc::unrecoverable ? errc::unrecoverable : errc::crashed;
      quit(make_error(code, made.error().message));
      return {};
    }
    reader_ = std::move(*made);
    subscription_ = reader_->subscription();
    return reader_actor::behavior_type{
      [this](connect_atom, const caf::actor& coordinator, const caf::actor& self_name, const caf::actor& source) {
        coordinator_ = caf::actor_cast<coordinator_actor>(coordinator);
        {
          std::lock_guard<std::mutex> guard{cursor_->mutex};
          cursor_->acknowledge = [weak = caf::actor_cast<caf::weak_actor_ptr>(coordinator),
                                  name = ctx_.spec.name](std::uint64_t tick) {
            if (auto alive = caf::actor_cast<caf::actor>(weak.lock()))
              caf::anon_send(alive, capture_atom::value, name, tick);
          };
        }
        self_name_ = self_name;
        source_ = caf::actor_cast<source_actor>(source);
        resubscribe();
      },
      [this](const Snapshot& snapshot) { on_live_piece(snapshot); },
      [this](const CompactSnapshot& compact) {
        const auto logic = caf::actor_cast<caf::actor>(current_sender());
        if (auto snapshot = decode(compact, logic)) {
          const auto generation = snapshot->generation;
          on_live_piece(*snapshot);
          // Acknowledged once the reader took it: the acknowledgement (a
          // send through the middleman) is not on the snapshot's way in.
          anon_send(logic, ack_atom::value, self_name_, generation);
        }
      },
      [this](const ContactBatch& batch) { on_contacts(batch); },
      [this](capture_atom, const ContactBatch& batch) {
        on_contacts(batch);
        // Taken (the hook returned): logic may forget it.
        send(coordinator_, ack_atom::value, ctx_.spec.name, batch.published_events);
      },
      [this](const RulesEvent& event) {
        ++rules_events_;
        reader_->on_rules_event(event, *this);
      },
      [this](capture_atom, const Snapshot& snapshot) { on_recorded_piece(snapshot); },
      [this](capture_atom, std::uint64_t next) { resume_recording_at(next); },
      [this](tick_atom) { reader_->on_timer(*this); },
      [this](flush_atom, std::uint64_t final_tick) -> caf::result<ActorReport> {
        final_tick_ = final_tick;
        finish_promise_ = make_response_promise<ActorReport>();
        delayed_send(this, recording() ? flush_wait_recording : flush_wait, flush_atom::value);
        finish_if_due();
        return finish_promise_;
      },
      [this](flush_atom) {
        if (finish_promise_.pending()) {
          ++flush_timeouts_;
          finish();
        }
      },
      [this](report_atom) { return report(); },
    }
      .unbox();
  }

  void on_exit() override {
    reader_.reset(); // hands what the kind keeps across incarnations back to its state
    coordinator_ = nullptr;
    self_name_ = nullptr;
    source_ = nullptr;
  }

private:
  // -- ReaderContext ----------------------------------------------------------

  const std::string& actor_name() const override { return ctx_.spec.name; }

  void command(const std::string& action) override {
    if (source_)
      send(source_, action_atom::value, action);
  }

  void end_run() override {
    if (coordinator_)
      send(coordinator_, done_atom::value);
  }

  void after(std::chrono::nanoseconds delay) override { delayed_send(this, delay, tick_atom::value); }

  void say(const std::string& line) override { console() << line + "\n"; }

  void resubscribe() override {
    if (!reader_)
      return;
    subscription_ = reader_->subscription();
    if (recording()) {
      std::lock_guard<std::mutex> guard{cursor_->mutex};
      if (cursor_->next_recorded == 0) {
        const auto every = subscription_.record_every;
        cursor_->next_recorded = (ctx_.run.start_tick / every + 1) * every;
      }
    }
    if (!coordinator_)
      return;
    // By name: logic's first tick waits for every named reader.
    send(coordinator_, subscribe_atom::value, self_name_, ctx_.spec.name, subscription_.topics,
         recording() ? subscription_.record_every : std::uint64_t{0}, subscription_.record_window);
  }

  // -- delivery ---------------------------------------------------------------

  bool recording() const {
    return (subscription_.topics & topic_recorded_frames) != 0 && subscription_.record_every > 0;
  }

  /// A compact snapshot from a logic on another node, decoded against what
  /// this reader holds (the caller acknowledges it, so logic encodes the next
  /// against it); nothing for an undecodable one, whose acknowledgement of
  /// nothing asks `logic` for a keyframe.
  std::optional<Snapshot> decode(const CompactSnapshot& in, const caf::actor& logic) {
    ++compact_received_;
    keyframes_received_ += in.base_generation == 0 ? 1 : 0;
    compact_bytes_ += in.bytes.size();
    Snapshot out;
    const auto start_ns = steady_now_ns();
    // One stream per publisher: logic's, and each region's part.
    auto err = decoders_[in.parts == 0 ? whole_stream : in.part].decode(in, out);
    decode_us_.add(static_cast<double>(steady_now_ns() - start_ns) / 1e3);
    if (err) {
      if (decode_errors_++ == 0)
        say("troupe: " + ctx_.spec.name + ": a compact snapshot could not be decoded (" + err->message +
            "); asking for a keyframe");
      anon_send(logic, ack_atom::value, self_name_, std::uint64_t{0});
      return std::nullopt;
    }
    return out;
  }

  /// Pieces of worlds run as regions, by generation (live) or tick (recorded):
  /// logic's header and the regions' parts, until every one is in.
  struct Pieces {
    std::optional<Snapshot> header;
    std::map<std::uint32_t, WorldPtr> parts;
  };

  /// The whole snapshot once `piece` completes its set (a whole world is one
  /// piece); nothing while pieces are missing.
  static std::optional<Snapshot> put_together(Pieces& pieces, const Snapshot& piece) {
    if (piece.parts == 0)
      return piece;
    if (is_header(piece))
      pieces.header = piece;
    else if (piece.part < piece.parts)
      pieces.parts[piece.part] = piece.world;
    if (!pieces.header || pieces.parts.size() < pieces.header->parts)
      return std::nullopt;
    std::vector<const sim::World*> parts;
    for (const auto& [index, world] : pieces.parts)
      parts.push_back(world.get());
    Snapshot whole = *pieces.header;
    whole.world = std::make_shared<const sim::World>(sim::assemble_parts(*pieces.header->world, parts));
    whole.parts = whole.part = 0;
    return whole;
  }

  void on_live_piece(const Snapshot& piece) {
    if (piece.parts == 0) {
      on_live(piece);
      return;
    }
    if (piece.generation <= last_generation_)
      return; // a piece of a generation delivered or skipped
    auto whole = put_together(live_pieces_[piece.generation], piece);
    // A slow reader skips generations: keep the pieces of a few only.
    while (live_pieces_.size() > 8)
      live_pieces_.erase(live_pieces_.begin());
    if (!whole)
      return;
    live_pieces_.erase(live_pieces_.begin(), live_pieces_.upper_bound(piece.generation));
    on_live(*whole);
  }

  void on_recorded_piece(const Snapshot& piece) {
    if (piece.parts == 0) {
      on_recorded(piece);
      return;
    }
    if (recording() && piece.tick < next_recorded()) {
      ++recorded_duplicates_;
      acknowledge(piece.tick); // a resend of a tick already written
      return;
    }
    auto whole = put_together(recorded_pieces_[piece.tick], piece);
    if (!whole)
      return;
    recorded_pieces_.erase(piece.tick);
    on_recorded(*whole);
  }

  void on_contacts(const ContactBatch& batch) {
    {
      // Each batch once: a world rolled back to a cut runs the ticks since
      // again, and publishes their contacts again, counted the same.
      std::lock_guard<std::mutex> guard{cursor_->mutex};
      if (batch.published_events != 0 && batch.published_events <= cursor_->contacts_through) {
        ++contact_duplicates_;
        return;
      }
      cursor_->contacts_through = std::max(cursor_->contacts_through, batch.published_events);
    }
    ++contact_batches_;
    contact_events_ += batch.events.size();
    reader_->on_contacts(batch, *this);
  }

  void on_live(const Snapshot& snapshot) {
    ctx_.chaos.strike(snapshot.tick);
    // Never the same generation twice, never backwards.
    if (snapshot.generation <= last_generation_) {
      ++out_of_order_;
      return;
    }
    live_handoff_.observe(static_cast<double>(steady_now_ns() - snapshot.published_ns) / 1e9);
    if (last_generation_ != 0) {
      skipped_ += snapshot.generation - last_generation_ - 1;
      live_skipped_.add(static_cast<double>(snapshot.generation - last_generation_ - 1));
    }
    last_generation_ = snapshot.generation;
    last_tick_ = std::max(last_tick_, snapshot.tick);
    ++seen_;
    if (live::world_view_wanted()) // a dashboard in this process is watching
      live::offer_world_view(*snapshot.world, snapshot.generation);
    reader_->on_snapshot(snapshot, *this);
    finish_if_due();
  }

  std::uint64_t next_recorded() {
    std::lock_guard<std::mutex> guard{cursor_->mutex};
    return cursor_->next_recorded;
  }

  /// Recorded snapshots in tick order, each once across incarnations: a resend
  /// of one already taken is acknowledged again; one ahead of its turn (a
  /// resend after a restart came out of order) waits, at most record_window.
  void on_recorded(const Snapshot& snapshot) {
    ctx_.chaos.strike(snapshot.tick);
    if (!recording()) {
      acknowledge(snapshot.tick); // declined: logic must not wait for it
      return;
    }
    const auto next = next_recorded();
    if (snapshot.tick < next) {
      ++recorded_duplicates_;
      acknowledge(snapshot.tick);
      return;
    }
    if (snapshot.tick > next) {
      waiting_.emplace(snapshot.tick, snapshot);
      return;
    }
    take_recorded(snapshot);
    take_waiting();
    finish_if_due();
  }

  /// The recorded snapshots that waited for their turn and have it now.
  void take_waiting() {
    for (auto i = waiting_.begin(); i != waiting_.end();) {
      const auto due = next_recorded();
      if (i->first < due) {
        i = waiting_.erase(i);
      } else if (i->first == due) {
        take_recorded(i->second);
        i = waiting_.erase(i);
      } else {
        break;
      }
    }
  }

  /// Logic's word on where this reader's recording stands: the first recorded
  /// tick it holds unacknowledged (or the next one due). A reader whose node was
  /// killed lost its cursor with its process and starts there; one further
  /// along (a tick it took is still being written) stays where it is.
  void resume_recording_at(std::uint64_t next) {
    if (!recording())
      return;
    {
      std::lock_guard<std::mutex> guard{cursor_->mutex};
      cursor_->next_recorded = std::max(cursor_->next_recorded, next);
    }
    take_waiting();
    finish_if_due();
  }

  void take_recorded(const Snapshot& snapshot) {
    taking_ = snapshot.tick;
    deferred_ = false;
    reader_->on_recorded(snapshot, *this);
    taking_.reset();
    ++recorded_here_;
    if (deferred_)
      return; // taken already; its RecordedDone acknowledges it
    {
      std::lock_guard<std::mutex> guard{cursor_->mutex};
      mark_taken(snapshot.tick);
    }
    acknowledge(snapshot.tick);
  }

  /// Under the cursor's lock.
  void mark_taken(std::uint64_t tick) {
    cursor_->next_recorded = tick + subscription_.record_every;
    ++cursor_->recorded;
  }

  bool yield_to_simulation() override {
    if (!kind_->blocking)
      return false; // a CAF worker's thread is every actor's
    return stop_preempting_on_wakeup();
  }

  RecordedDone finish_recorded_later() override {
    if (!taking_)
      throw std::logic_error(ctx_.spec.name + ": finish_recorded_later called outside on_recorded");
    deferred_ = true;
    {
      std::lock_guard<std::mutex> guard{cursor_->mutex};
      cursor_->unfinished.insert(*taking_);
      mark_taken(*taking_);
    }
    return [cursor = cursor_, tick = *taking_] {
      std::uint64_t taken_through = 0;
      {
        std::lock_guard<std::mutex> guard{cursor->mutex};
        cursor->unfinished.erase(tick);
        taken_through = cursor->next_recorded - 1;
      }
      acknowledge(*cursor, taken_through);
    };
  }

  void acknowledge(std::uint64_t tick) { acknowledge(*cursor_, tick); }

  /// Acknowledges recorded ticks through `tick`, less any a worker still
  /// writes (acknowledgements are cumulative); from any thread.
  static void acknowledge(ReaderCursor& cursor, std::uint64_t tick) {
    std::function<void(std::uint64_t)> send_ack;
    {
      std::lock_guard<std::mutex> guard{cursor.mutex};
      if (!cursor.unfinished.empty())
        tick = std::min(tick, *cursor.unfinished.begin() - 1);
      send_ack = cursor.acknowledge;
    }
    if (send_ack) // set once the reader is connected
      send_ack(tick);
  }

  /// The flush is done when the last tick's snapshot and every recorded tick
  /// up to it were delivered.
  void finish_if_due() {
    if (!finish_promise_.pending())
      return;
    const bool snapshots_in = (subscription_.topics & topic_snapshots) == 0 || last_tick_ >= final_tick_;
    const bool recorded_in = !recording() || next_recorded() > final_tick_;
    if (snapshots_in && recorded_in)
      finish();
  }

  void finish() {
    reader_->on_finish(final_tick_, *this);
    finish_promise_.deliver(report());
  }

  ActorReport report() {
    auto out = make_report(ctx_.spec, mailbox_stats());
    std::uint64_t recorded_total = 0;
    {
      std::lock_guard<std::mutex> guard{cursor_->mutex};
      recorded_total = cursor_->recorded;
    }
    out.counters = {{"snapshots_seen", static_cast<double>(seen_)},
                    {"generations_skipped", static_cast<double>(skipped_)},
                    {"out_of_order", static_cast<double>(out_of_order_)},
                    {"last_generation", static_cast<double>(last_generation_)},
                    {"contact_batches", static_cast<double>(contact_batches_)},
                    {"contact_events", static_cast<double>(contact_events_)},
                    {"contact_duplicates", static_cast<double>(contact_duplicates_)},
                    {"rules_events", static_cast<double>(rules_events_)},
                    {"recorded", static_cast<double>(recorded_total)},
                    {"recorded_here", static_cast<double>(recorded_here_)},
                    {"recorded_duplicates", static_cast<double>(recorded_duplicates_)},
                    {"compact_received", static_cast<double>(compact_received_)},
                    {"keyframes_received", static_cast<double>(keyframes_received_)},
                    {"compact_bytes_received", static_cast<double>(compact_bytes_)},
                    {"compact_decode_errors", static_cast<double>(decode_errors_)},
                    {"flush_timeouts", static_cast<double>(flush_timeouts_)},
                    {"incarnation", static_cast<double>(ctx_.incarnation)}};
    if (reader_)
      reader_->report(out);
    if (compact_received_ > 0) // the reader's own distributions came first
      out.distributions.emplace_back("compact_decode_us", decode_us_.percentiles());
    return out;
  }

  const Subsystem* kind_;
  ActorContext ctx_;
  std::shared_ptr<ReaderCursor> cursor_;
  std::unique_ptr<Reader> reader_;
  Subscription subscription_;
  coordinator_actor coordinator_;
  caf::actor self_name_;
  source_actor source_;
  /// Compact streams by publisher: a region's part, or whole worlds.
  static constexpr std::uint32_t whole_stream = ~0u;
  std::map<std::uint32_t, SnapshotDecoder> decoders_;
  std::map<std::uint64_t, Pieces> live_pieces_;     ///< by generation
  std::map<std::uint64_t, Pieces> recorded_pieces_; ///< by tick
  std::map<std::uint64_t, Snapshot> waiting_; // recorded snapshots ahead of their turn
  std::optional<std::uint64_t> taking_;       ///< the recorded tick on_recorded is given now
  bool deferred_ = false;                     ///< ... and it asked to finish it later
  std::uint64_t last_generation_ = 0, last_tick_ = 0, final_tick_ = 0;
  caf::typed_response_promise<ActorReport> finish_promise_;
  std::uint64_t seen_ = 0, skipped_ = 0, out_of_order_ = 0;
  live::Histogram live_handoff_;
  live::Counter live_skipped_;
  std::uint64_t contact_batches_ = 0, contact_events_ = 0, contact_duplicates_ = 0, rules_events_ = 0;
  std::uint64_t recorded_here_ = 0, recorded_duplicates_ = 0, flush_timeouts_ = 0;
  std::uint64_t compact_received_ = 0, keyframes_received_ = 0, compact_bytes_ = 0, decode_errors_ = 0;
  SampleRecorder decode_us_; ///< per compact snapshot
};

} // namespace

caf::actor spawn_reader(caf::actor_system& sys, const Subsystem& kind, const ActorContext& ctx,
                        std::shared_ptr<ReaderCursor> cursor) {
  if (kind.blocking)
    return sys.spawn<reader_impl, caf::detached>(&kind, ctx, std::move(cursor));
  return sys.spawn<reader_impl>(&kind, ctx, std::move(cursor));
}

} // namespace troupe
