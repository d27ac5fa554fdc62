#pragma once
/// \file Loading a rules plugin and checking it before it may run a simulation.
///
/// `RulesPlugin::load` works on a private copy of the file, so the plugin can be
/// rebuilt in place while the loaded copy runs, and every load of the same path
/// gets the code that is there now (dlopen alone would hand back the library
/// it already mapped). `smoke_test` runs a candidate on a copy of the world.
///
/// Loading a library runs its code (its constructors run at dlopen), so only
/// files of a trusted plugin directory are ever opened: `load` refuses, before
/// it reads a byte, a path that is not a regular file inside that directory
/// (symbolic links resolved), or a file or directory that another user could
/// have written (group- or world-writable, or owned by someone else than this
/// user or root).

#include <troupe/error.hpp>
#include <troupe/plugins/rules_abi.hpp>
#include <troupe/sim/physics.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>

namespace troupe::plugins {

/// A loaded rules plugin. Not thread-safe; move-only.
class RulesPlugin {
public:
  /// Loads `path`, or says why not: unreadable file, not a shared library,
  /// missing `troupe_rules_v1`, another ABI version or build id.
  /// Loads `path`, which must lie in the trusted directory `plugin_dir` (see
  /// the file comment); a bad_plugin Error naming the file otherwise.
  static Expected<RulesPlugin> load(const std::string& path, const std::string& plugin_dir);

  RulesPlugin(RulesPlugin&&) noexcept;
  RulesPlugin& operator=(RulesPlugin&&) noexcept;
  ~RulesPlugin(); ///< unloads the private copy

  /// Runs one tick of the rules on a whole world (body rules: on all its
  /// bodies); a bad_plugin Error with the reason when they failed, threw or
  /// (body rules) broke their contract.
  Expected<void> step(sim::World& world) const;
  /// Body rules only: one tick of them on some bodies (id order), handed on
  /// in batches, each checked against its contract (rules_abi.hpp). Called
  /// once at least, with no bodies too.
  Expected<void> step_bodies(const sim::WorldSettings& settings, std::uint64_t tick, std::span<sim::Body> bodies,
                             std::span<sim::BodyInfo> infos) const;

  RulesScope scope() const;
  /// Body rules: the most they speed a body up in a tick (m/s); else 0.
  float max_speedup() const;
  /// XXH3-64 of the file's bytes as loaded: the same build everywhere.
  std::uint64_t digest() const;

  const std::string& name() const;
  const std::string& version() const;
  const std::string& path() const; ///< the file it was loaded from

private:
  struct Impl;
  explicit RulesPlugin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// What a candidate must survive before it is installed.
struct SmokeTest {
  std::uint32_t ticks = 30;                       ///< rules + physics steps on a copy
  std::chrono::milliseconds budget{1000};         ///< for all of them
  sim::PhysicsSettings physics;
};

/// Runs `plugin` for `test.ticks` ticks (its rules, then physics) on a copy of
/// `world`. Fails with the reason when a step fails or throws, a body's
/// position, velocity or radius stops being finite, the world's tables stop
/// agreeing, or the budget is spent; body rules also when they break their
/// contract or give other results for the bodies handed one by one than for
/// all of them at once (they are not body by body).
Expected<void> smoke_test(const RulesPlugin& plugin, const sim::World& world, const SmokeTest& test);

/// Why `path` may not be loaded from `plugin_dir` (outside it, not a regular
/// file, writable by another user), or nothing. Opens nothing.
Expected<void> check_trusted(const std::string& path, const std::string& plugin_dir);

/// The build id this host accepts (TROUPE_RULES_BUILD_ID).
const char* host_build_id();

} // namespace troupe::plugins
