// Writes the binary seed corpora of the fuzz targets (make fuzz): real bytes
// from troupe's own encoders, of a real world stepped by the real tick.
//   make_seeds DIR   ->  DIR/{envelope,compact,checkpoint,greeting}/*
// The text formats (topologies, timelines, command logs) are seeded from the
// shipped examples and fuzz/corpus/ by scripts/fuzz.
#include <troupe/messages/codec.hpp>
#include <troupe/messages/compact.hpp>
#include <troupe/messages/wire.hpp>
#include <troupe/sim/advance.hpp>
#include <troupe/sim/scenario.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace troupe;

void write(const std::filesystem::path& file, const std::vector<char>& bytes) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// The sandbox the compact target decodes deltas against (the same in
/// fuzz_compact.cpp), stepped `ticks` ticks.
sim::World sandbox(int ticks, std::vector<sim::ContactEvent>& contacts) {
  auto world = sim::make_scenario({"sandbox", 50, 3, 60.0});
  const auto parallel = sim::Parallel::sequential();
  for (int t = 0; t < ticks; ++t)
    (void)sim::advance(world, {}, nullptr, sim::PhysicsSettings{}, parallel, contacts);
  return world;
}

/// An envelope seed: the message's index in TROUPE_WIRE_MESSAGES, then its frame.
template <class T> void envelope(const std::filesystem::path& dir, int index, const T& value) {
  std::vector<char> bytes;
  encode_framed(value, bytes);
  bytes.insert(bytes.begin(), static_cast<char>(index));
  write(dir / ("envelope/" + std::to_string(index)), bytes);
}

/// A compact seed as fuzz_compact reads it: body count, moving count, a
/// keyframe (0) / delta (1) byte, the encoded bytes.
void compact(const std::filesystem::path& file, const CompactSnapshot& snapshot) {
  std::vector<char> bytes(9);
  std::memcpy(bytes.data(), &snapshot.body_count, 4);
  std::memcpy(bytes.data() + 4, &snapshot.moving_count, 4);
  bytes[8] = snapshot.base_generation != 0 ? 1 : 0;
  bytes.insert(bytes.end(), snapshot.bytes.begin(), snapshot.bytes.end());
  write(file, bytes);
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds DIR\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::vector<sim::ContactEvent> contacts;
  const auto start = sim::make_scenario({"sandbox", 50, 3, 60.0});
  const auto later = std::make_shared<sim::World>(sandbox(90, contacts));

  Command spawn;
  spawn.source = 1;
  spawn.seq = 1;
  spawn.tick = 5;
  std::string error;
  spawn.action = *sim::parse_action("spawn 0 6 0 0 0 0 0.6", error);
  Snapshot snapshot{9, later->tick, later, {{1, 4}}, sim::world_hash(*later), 0};
  ActorReport report;
  report.name = "physics";
  report.kind = "physics";
  report.role = "stepper";
  report.counters = {{"ticks", 90}};
  report.series = {{"tick_ms", {1.f, 2.f}}};
  report.notes = {{"summary", "a line"}};

  // One seed per message type, in the list's order (fuzz_envelope's first byte).
  envelope(dir, 0, CommandBatch{1, 9, {spawn}});
  envelope(dir, 1, InputEvent{1, 3, {1.f, 2.f, 3.f}});
  envelope(dir, 2, snapshot);
  envelope(dir, 3, StepRequest{later->tick, later});
  envelope(dir, 4, StepResult{later->tick - 1, later, contacts, 0.5});
  envelope(dir, 5, ContactBatch{later->tick - 1, contacts, contacts.size()});
  envelope(dir, 6, report);
  envelope(dir, 7, RulesEvent{RulesEvent::rejected, 12, "rules.so", "gravity", "1.0", "no entry point"});
  const auto base = quantize(start, 7);
  const auto current = quantize(*later, 8);
  Snapshot meta{8, 1, later, {}, 0, 0};
  const auto keyframe = encode_compact(current, nullptr, meta);
  const auto delta = encode_compact(current, &base, meta);
  envelope(dir, 8, delta);
  // A tick of the same world in two regions: the plan, a parcel, an answer.
  sim::Ledger ledger;
  std::vector<sim::Region> regions;
  sim::partition(*later, sim::Layout::even(later->arena, {2, 1, 1}), ledger, regions);
  std::vector<Command> commands{spawn};
  const auto plan = std::make_shared<const sim::TickPlan>(ledger.plan(commands, sim::PhysicsSettings{}));
  for (auto& region : regions)
    region.begin(*plan);
  const sim::Parcel parcel = regions[0].parcel_for(1);
  envelope(dir, 9, RegionStep{plan, 10, true});
  envelope(dir, 10, RegionParcel{plan->tick, parcel});
  envelope(dir, 11, RegionStepped{*regions[1].step(std::vector<sim::Parcel>{parcel}, sim::PhysicsSettings{},
                                                  sim::Parallel::sequential()),
                                  0.5, 0.1, 4096, 1, false});

  compact(dir / "compact/keyframe", keyframe);
  compact(dir / "compact/delta", delta);
  compact(dir / "compact/base", encode_compact(base, nullptr, Snapshot{7, 0, later, {}, 0, 0}));

  Checkpoint checkpoint;
  checkpoint.generation = 9;
  checkpoint.world = *later;
  checkpoint.acks = {{1, 4}};
  std::filesystem::create_directories(dir / "checkpoint");
  if (auto saved = save_checkpoint((dir / "checkpoint/sandbox.ckpt").string(), checkpoint); !saved) {
    std::cerr << "make_seeds: " << saved.error() << "\n";
    return 1;
  }
  // The greeting target: a proof of the right layout, then BASP frames (a
  // heartbeat, a message with a payload).
  std::vector<char> greeting = {'T', 'R', 'P', 'G', 1, 0, 0, 0};
  greeting.resize(72, '\x5a');
  for (const auto& [operation, length] : {std::pair{6, 0}, std::pair{1, 40}}) {
    std::vector<char> header(32, 0);
    header[0] = static_cast<char>(operation);
    header[7] = static_cast<char>(length);
    greeting.insert(greeting.end(), header.begin(), header.end());
    greeting.insert(greeting.end(), static_cast<std::size_t>(length), '\x01');
  }
  write(dir / "greeting/proof-and-frames", greeting);

  // Logic's piece of a cut of the same world in two regions (its ledger).
  Checkpoint cut;
  cut.generation = 9;
  cut.parts = cut.part = 2;
  cut.ledger = ledger;
  cut.world_hash = sim::world_hash(*later);
  if (auto saved = save_checkpoint((dir / "checkpoint/cut.ckpt").string(), cut); !saved) {
    std::cerr << "make_seeds: " << saved.error() << "\n";
    return 1;
  }

  // The checkpoint target's first byte picks its mode: both, for each file.
  for (const std::string name : {"sandbox", "cut"}) {
    std::ifstream in(dir / ("checkpoint/" + name + ".ckpt"), std::ios::binary);
    std::vector<char> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::filesystem::remove(dir / ("checkpoint/" + name + ".ckpt"));
    for (char mode : {'\0', '\1'}) {
      std::vector<char> seed{mode};
      seed.insert(seed.end(), file.begin(), file.end());
      write(dir / ("checkpoint/" + name + "-" + std::to_string(int{mode})), seed);
    }
  }

  std::cout << "make_seeds: wrote the envelope, compact and checkpoint seeds to " << dir.string() << "\n";
  return 0;
}
