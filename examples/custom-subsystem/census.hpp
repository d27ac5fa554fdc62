#pragma once
// Kind "census", a reader: every `every` ticks, one CSV row per body tag
// (BodyInfo::user_data) with how many bodies carry it and their mean height.
// It takes recorded snapshots, which troupe delivers exactly once per tick,
// in tick order, whatever crashes and wherever the reader runs: the file is
// the same for every placement of the topology.

#include <troupe/actors/subsystem.hpp>

namespace census {

/// [actors.NAME] keys of kind "census".
struct Params {
  std::uint32_t every = 30;        ///< a row per tag every N ticks
  std::string file = "census.csv"; ///< in the run's output folder
};

/// The kind, to register before loading a topology.
troupe::Subsystem subsystem();

} // namespace census
