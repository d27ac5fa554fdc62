// Kind "observer": a reader that measures what a reader sees: hand-off latency
// of snapshots (the reader actor counts skipped generations, contacts and
// rules events). Its `work_us` stands in for a slow reader's real work.

#include "subsystems.hpp"

#include <troupe/actors/metrics.hpp>

namespace troupe {
namespace {

class Observer final : public Reader {
public:
  explicit Observer(ObserverParams params) : params_(params) {}

  Subscription subscription() const override {
    return {topic_snapshots | topic_contacts | topic_rules_events, 0, 1};
  }

  void on_snapshot(const Snapshot& snapshot, ReaderContext&) override {
    const auto now = steady_now_ns();
    handoff_us_.add(static_cast<double>(now - snapshot.published_ns) / 1e3);
    if (params_.work_us > 0) {
      // Stand-in for a reader's real work (a frame): keeps the CPU busy.
      const auto until = now + static_cast<std::int64_t>(params_.work_us) * 1000;
      while (steady_now_ns() < until) {
      }
    }
  }

  void report(ActorReport& out) const override {
    out.distributions = {{"handoff_us", handoff_us_.percentiles()}};
    out.series = {{"handoff_us", handoff_us_.series()}};
    out.notes.emplace_back("series_per", "snapshot");
  }

private:
  ObserverParams params_;
  SampleRecorder handoff_us_;
};

} // namespace

Subsystem observer_subsystem() {
  Subsystem kind;
  kind.name = "observer";
  kind.role = Role::reader;
  kind.mailbox = {4, config::Overflow::latest}; // only ever the newest snapshot
  kind.parse = config::parse_as<ObserverParams>([](config::ParamsReader& in, ObserverParams& p) {
    in.integer("work_us", p.work_us, 0, 10'000'000);
  });
  kind.describe = [](const config::ActorSpec& spec, const config::Topology&) {
    return "work_us " + std::to_string(spec.params_as<ObserverParams>().work_us);
  };
  kind.make_reader = [](const ActorContext& ctx, ReaderContext&) -> Expected<std::unique_ptr<Reader>> {
    return std::unique_ptr<Reader>(std::make_unique<Observer>(ctx.params<ObserverParams>()));
  };
  return kind;
}

} // namespace troupe
