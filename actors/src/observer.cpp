// An observer: a snapshot-bus subscriber that measures what a reader sees:
// hand-off latency, skipped generations, contact events. Render and audio are
// subscribers of the same shape.

#include "subsystems.hpp"

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/actors/metrics.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

namespace troupe {
namespace {

class observer_actor : public bounded_actor {
public:
  observer_actor(caf::actor_config& cfg, ObserverSetup setup)
    : bounded_actor(cfg, setup.id.mailbox), setup_(std::move(setup)) {}

  caf::behavior make_behavior() override {
    return {
      [this](connect_atom, const std::string& role, const caf::actor& peer) {
        if (role == "logic")
          // By name: logic's first tick waits for every named reader.
          send(peer, subscribe_atom::value, caf::actor_cast<caf::actor>(this), setup_.id.name, std::uint64_t{0},
               std::uint32_t{0});
      },
      [this](const Snapshot& snapshot) { on_snapshot(snapshot); },
      [this](const CompactSnapshot& compact) {
        if (auto snapshot = compact_.receive(compact, caf::actor_cast<caf::actor>(current_sender()), caf::actor_cast<caf::actor>(this)))
          on_snapshot(*snapshot);
      },
      [this](const ContactBatch& batch) {
        ++contact_batches_;
        contact_events_ += batch.events.size();
      },
      [this](const RulesEvent&) { ++rules_events_; },
      [this](report_atom) { return report(); },
    };
  }

private:
  void on_snapshot(const Snapshot& snapshot) {
    setup_.chaos.strike(snapshot.tick);
    const auto now = steady_now_ns();
    // The bus promises: never the same generation twice, never backwards.
    if (snapshot.generation <= last_generation_) {
      ++out_of_order_;
      return;
    }
    if (last_generation_ != 0)
      skipped_ += snapshot.generation - last_generation_ - 1;
    last_generation_ = snapshot.generation;
    ++seen_;
    handoff_us_.add(static_cast<double>(now - snapshot.published_ns) / 1e3);
    if (setup_.params.work_us > 0) {
      // Stand-in for a reader's real work (a frame): keeps the CPU busy.
      const auto until = now + static_cast<std::int64_t>(setup_.params.work_us) * 1000;
      while (steady_now_ns() < until) {
      }
    }
  }

  ActorReport report() {
    auto out = make_report(setup_.id, mailbox_stats());
    out.counters = {{"snapshots_seen", static_cast<double>(seen_)},
                    {"generations_skipped", static_cast<double>(skipped_)},
                    {"out_of_order", static_cast<double>(out_of_order_)},
                    {"last_generation", static_cast<double>(last_generation_)},
                    {"contact_batches", static_cast<double>(contact_batches_)},
                    {"contact_events", static_cast<double>(contact_events_)},
                    {"rules_events", static_cast<double>(rules_events_)}};
    for (auto& counter : compact_.counters())
      out.counters.push_back(std::move(counter));
    out.distributions = {{"handoff_us", handoff_us_.percentiles()}};
    out.series = {{"handoff_us", handoff_us_.series()}};
    return out;
  }

  ObserverSetup setup_;
  CompactReceiver compact_;
  std::uint64_t last_generation_ = 0;
  std::uint64_t seen_ = 0;
  std::uint64_t skipped_ = 0;
  std::uint64_t out_of_order_ = 0;
  std::uint64_t contact_batches_ = 0;
  std::uint64_t contact_events_ = 0;
  std::uint64_t rules_events_ = 0;
  SampleRecorder handoff_us_;
};

} // namespace

caf::actor spawn_observer(caf::actor_system& sys, ObserverSetup setup) {
  return sys.spawn<observer_actor>(std::move(setup));
}

} // namespace troupe
