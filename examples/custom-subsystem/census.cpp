#include "census.hpp"

#include <troupe/actors/reader.hpp>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>

namespace census {
namespace {

/// What every incarnation of one census actor shares: the open file, so a
/// restart appends instead of starting over.
struct State {
  std::mutex mutex;
  std::ofstream out;
  std::uint64_t rows = 0;
};

class Census final : public troupe::Reader {
public:
  Census(const troupe::ActorContext& ctx, State& state)
    : params_(ctx.params<Params>()), state_(state), path_(ctx.options.out_dir + "/" + params_.file) {
    std::lock_guard<std::mutex> guard{state_.mutex};
    if (!state_.out.is_open()) {
      state_.out.open(path_, std::ios::trunc);
      state_.out << "tick,tag,count,mean_height\n";
    }
  }

  troupe::Subscription subscription() const override {
    return {troupe::topic_recorded_frames, params_.every, 2};
  }

  // Runs on this reader's thread, once per recorded tick, in tick order.
  void on_recorded(const troupe::Snapshot& snapshot, troupe::ReaderContext&) override {
    struct Tally {
      std::uint64_t count = 0;
      double height = 0; // summed in body order: the same bits on every node
    };
    std::map<std::uint64_t, Tally> tags;
    const auto& world = *snapshot.world;
    for (std::size_t i = 0; i < world.size(); ++i) {
      auto& tally = tags[world.infos[i].user_data];
      ++tally.count;
      tally.height += world.bodies[i].position.y;
    }
    std::lock_guard<std::mutex> guard{state_.mutex};
    for (const auto& [tag, tally] : tags) {
      char row[96];
      std::snprintf(row, sizeof row, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.4f\n", snapshot.tick, tag, tally.count,
                    tally.height / static_cast<double>(tally.count));
      state_.out << row;
      ++state_.rows;
    }
    state_.out.flush();
  }

  void on_finish(std::uint64_t, troupe::ReaderContext&) override {
    std::lock_guard<std::mutex> guard{state_.mutex};
    state_.out.close();
  }

  void report(troupe::ActorReport& out) const override {
    std::lock_guard<std::mutex> guard{state_.mutex};
    troupe::set_counter(out, "rows", static_cast<double>(state_.rows));
    out.notes.emplace_back("file", path_);
    out.notes.emplace_back("summary", std::to_string(state_.rows) + " rows in " + path_);
  }

private:
  Params params_;
  State& state_;
  std::string path_;
};

} // namespace

troupe::Subsystem subsystem() {
  troupe::Subsystem kind;
  kind.name = "census";
  kind.role = troupe::Role::reader;
  kind.mailbox = {8, troupe::config::Overflow::latest};
  kind.blocking = true; // it writes a file
  kind.parse = troupe::config::parse_as<Params>([](troupe::config::ParamsReader& in, Params& p) {
    in.integer("every", p.every, 1, 1'000'000);
    in.text("file", p.file, true);
    if (p.file.find('/') != std::string::npos)
      in.refuse("file", "a file name in the output folder, without '/'");
  });
  kind.describe = [](const troupe::config::ActorSpec& spec, const troupe::config::Topology&) {
    const auto& p = spec.params_as<Params>();
    return "census of body tags every " + std::to_string(p.every) + " ticks into OUT/" + p.file;
  };
  kind.prepare = [](const troupe::ActorContext&) -> troupe::Expected<std::shared_ptr<void>> {
    return std::shared_ptr<void>(std::make_shared<State>());
  };
  kind.make_reader = [](const troupe::ActorContext& ctx,
                        troupe::ReaderContext&) -> troupe::Expected<std::unique_ptr<troupe::Reader>> {
    return std::unique_ptr<troupe::Reader>(std::make_unique<Census>(ctx, ctx.state_as<State>()));
  };
  return kind;
}

} // namespace census
