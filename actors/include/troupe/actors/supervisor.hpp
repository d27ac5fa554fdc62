#pragma once
/// \file A supervisor with Erlang/OTP's semantics (supervisor.erl is the spec),
/// plus what OTP leaves to the user: backoff with jitter and stable names.
///
/// - Children start in order and stop in reverse order. The whole spec list is
///   validated before anything starts (`validate`).
/// - Restart types: `permanent` (always restarted), `transient` (restarted only
///   after an abnormal exit), `temporary` (never restarted).
/// - Strategies: `one_for_one` (restart the child), `one_for_all` (stop the
///   others in reverse order, restart all in order), `rest_for_one` (stop and
///   restart the children started after it).
/// - Intensity: more than `max_restarts` restarts within `period` and the
///   supervisor gives up: it stops every child and exits with
///   `troupe::escalated`, naming the child, its restarts and the last error, so
///   its own supervisor (or `troupe run`, exit code 3) takes over. A child that
///   exits with `troupe::unrecoverable` (it cannot run at all) makes the
///   supervisor give up at once.
/// - A child that is not restarted (temporary, or transient ending normally)
///   takes its stable name with it: monitors of the name see it go down.
/// - Backoff: a child that fails again soon after a restart waits
///   min * 2^(failures in a row), capped at max, times a seeded jitter in
///   [0.5, 1.5); failures stop counting as "in a row" once the child has stayed
///   up for a whole `period`. A restart is a scheduled message, never a blocking wait: the
///   supervisor keeps serving while it waits.
/// - Stable names: each child is reached through a `stable_name` actor that
///   forwards to the current incarnation and holds messages (bounded) while the
///   child restarts, so a sender never holds a dead handle and nothing sent
///   during a restart is lost.

#include <troupe/actors/bounded_actor.hpp>
#include <troupe/config/topology.hpp>
#include <troupe/messages/messages.hpp>

#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace troupe {

using config::Restart;
using config::Strategy;

/// How to start one child, and what to do when it ends.
struct ChildSpec {
  std::string name;
  Restart restart = Restart::permanent;
  /// Spawns incarnation `n` (0 first). Must return a live actor.
  std::function<caf::actor(caf::actor_system&, std::uint32_t n)> start;
  /// Called after every start with the new incarnation (wiring, hand-over of
  /// state); runs inside the supervisor.
  std::function<void(const caf::actor& child, std::uint32_t n)> on_started;
  /// Bound of the stable name's mailbox (it holds messages during restarts).
  config::MailboxSpec hold{4096, config::Overflow::reject};
  /// At shutdown: how long the child gets after its exit message before it is killed.
  std::chrono::milliseconds shutdown_timeout{5000};
};

/// The supervisor's own settings.
struct SupervisorSpec {
  std::string name = "supervisor";
  Strategy strategy = Strategy::one_for_one;
  std::uint32_t max_restarts = 10;
  std::chrono::milliseconds period{5000};
  std::chrono::microseconds backoff_min{1000};
  std::chrono::microseconds backoff_max{1000000};
  std::uint64_t seed = 1; ///< jitter
};

/// One restart, for the report's timeline.
struct RestartRecord {
  double at_ms = 0;        ///< since the supervisor started
  std::string child;
  std::string reason;      ///< why the previous incarnation ended
  double backoff_ms = 0;   ///< wait before the new one started
  std::uint32_t incarnation = 0;
};

/// The first problem with a spec list (empty or duplicate names, missing start
/// function, zero period...), or nothing.
std::optional<std::string> validate(const SupervisorSpec& spec, const std::vector<ChildSpec>& children);

/// Spawns a supervisor that starts `children` in order. Protocol:
///   (lookup_atom, name) -> caf::actor   the child's stable name
///   (report_atom) -> ActorReport        restarts and the restart timeline
///   (done_atom) -> done_atom            orderly shutdown: children stop one by
///                                       one in reverse start order, each killed
///                                       if it outlives its shutdown_timeout;
///                                       then the supervisor exits
/// It exits with `troupe::escalated` when the intensity is exceeded; exiting
/// for any reason stops the children in reverse order.
caf::actor spawn_supervisor(caf::actor_system& sys, SupervisorSpec spec, std::vector<ChildSpec> children);

} // namespace troupe
