// `troupe up`: a process supervisor for the nodes of one topology. One thread,
// no CAF: it forks `troupe node` processes and waits for signals (SIGCHLD,
// SIGINT, SIGTERM) with sigtimedwait, so nothing races with a handler.

#include "up.hpp"

#include <troupe/live/trace.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <optional>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace troupe::app {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int exit_run_failed = 1;
constexpr int exit_bad_input = 2;
constexpr int exit_escalated = 3;

/// Backoff between restarts of one node: doubles per failure in a row, and
/// starts over once the node has run for `stable` without dying.
constexpr auto backoff_min = 200ms;
constexpr auto backoff_max = 5s;
constexpr auto stable = 30s;
/// How often the node with logic checkpoints when the command line does not say.
constexpr std::uint64_t default_checkpoint_every = 60;
/// What a stopped node gets between SIGTERM and SIGKILL.
constexpr auto stop_grace = 5s;

struct NodeProcess {
  const config::NodeSpec* spec = nullptr;
  bool coordinator = false;
  std::uint32_t starts = 0;
  pid_t pid = -1;
  bool finished = false;           ///< exited 0: served its part of the run
  Clock::time_point started;
  Clock::time_point restart_at;    ///< when pid < 0 and !finished
  std::chrono::milliseconds backoff = backoff_min;
  std::deque<Clock::time_point> failures; ///< within the supervision period
};

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return std::string("died from ") + (sigabbrev_np(sig) ? std::string("SIG") + sigabbrev_np(sig) : "signal " + std::to_string(sig));
  }
  return "exited with " + std::to_string(WEXITSTATUS(status));
}

class Up {
public:
  Up(const config::Topology& topology, std::string troupe, std::vector<std::string> args,
     std::vector<std::string> coordinator_args, std::string trace, const std::string& out_dir)
    : troupe_(std::move(troupe)), args_(std::move(args)), coordinator_args_(std::move(coordinator_args)),
      trace_(std::move(trace)), logs_(out_dir + "/logs"), traces_(out_dir + "/traces") {
    const auto& logic_node = topology.the(config::Role::coordinator).node;
    for (const auto& spec : topology.nodes) {
      NodeProcess node;
      node.spec = &spec;
      node.coordinator = spec.name == logic_node;
      nodes_.push_back(std::move(node));
    }
  }

  /// Supervises the nodes until the run ends, then merges their traces.
  int run() {
    const int code = supervise();
    if (!trace_.empty()) {
      if (auto merged = live::merge_traces(trace_files_, trace_); !merged)
        std::cerr << "troupe up: --trace: " << merged.error().message << std::endl;
      else
        std::cerr << "troupe up: wrote " << trace_ << " (the traces of " << trace_files_.size() << " node processes"
                  << (merged->empty() ? "" : "; " + *merged) << ")" << std::endl;
    }
    return code;
  }

private:
  int supervise() {
    std::filesystem::create_directories(logs_);
    if (!trace_.empty())
      std::filesystem::create_directories(traces_);
    for (auto& node : nodes_)
      if (!start(node))
        return stop_all(exit_run_failed);
    sigset_t wanted;
    sigemptyset(&wanted);
    for (int sig : {SIGCHLD, SIGINT, SIGTERM})
      sigaddset(&wanted, sig);
    for (;;) {
      const timespec poll{0, 100'000'000};
      const int sig = ::sigtimedwait(&wanted, nullptr, &poll);
      if (sig == SIGINT || sig == SIGTERM) {
        std::cerr << "troupe up: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ": stopping every node" << std::endl;
        return stop_all(128 + sig);
      }
      if (auto code = reap())
        return *code;
      const auto now = Clock::now();
      for (auto& node : nodes_)
        if (node.pid < 0 && !node.finished && now >= node.restart_at && !start(node))
          return stop_all(exit_run_failed);
    }
  }

  bool start(NodeProcess& node) {
    const auto log = logs_ + "/" + node.spec->name + ".log";
    std::vector<std::string> argv{troupe_, "node"};
    argv.insert(argv.end(), args_.begin(), args_.end());
    argv.insert(argv.end(), {"--node", node.spec->name});
    if (!trace_.empty()) {
      // One file per node process: a restarted node writes a file of its own.
      trace_files_.push_back(traces_ + "/" + node.spec->name + "-" + std::to_string(node.starts + 1) + ".json");
      argv.insert(argv.end(), {"--trace", trace_files_.back()});
    }
    if (node.coordinator) {
      argv.insert(argv.end(), coordinator_args_.begin(), coordinator_args_.end());
      // Logic's node writes checkpoints, and a restarted one resumes from the
      // newest: the others wait for it, and the run goes on from there.
      if (std::find(args_.begin(), args_.end(), "--checkpoint-every") == args_.end())
        argv.insert(argv.end(), {"--checkpoint-every", std::to_string(default_checkpoint_every)});
    }
    // A node started again: logic's resumes from its newest checkpoint, and
    // every node's readers carry on from what they wrote.
    if (node.starts > 0)
      argv.push_back("--resume-latest");
    ++node.starts;
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::cerr << "troupe up: cannot start node " << node.spec->name << ": " << std::strerror(errno) << std::endl;
      return false;
    }
    if (pid == 0) {
      // The child: dies with up, gets default signals back, logs to its file
      // (the coordinator keeps up's terminal: its progress and summary).
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent)
        ::_exit(exit_run_failed);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      if (!node.coordinator) {
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
          ::dup2(fd, STDOUT_FILENO);
          ::dup2(fd, STDERR_FILENO);
        }
      }
      std::vector<char*> raw;
      for (auto& arg : argv)
        raw.push_back(arg.data());
      raw.push_back(nullptr);
      ::execv(troupe_.c_str(), raw.data());
      std::cerr << "troupe up: cannot run " << troupe_ << ": " << std::strerror(errno) << std::endl;
      ::_exit(127);
    }
    node.pid = pid;
    node.started = Clock::now();
    std::cerr << "troupe up: node " + node.spec->name + " started (pid " + std::to_string(pid) + ")" +
                   (node.coordinator ? "" : ", log " + log) + "\n"
              << std::flush;
    return true;
  }

  /// Collects every child that ended; an exit code for up when the run is over.
  std::optional<int> reap() {
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      auto node = std::find_if(nodes_.begin(), nodes_.end(), [&](const NodeProcess& n) { return n.pid == pid; });
      if (node == nodes_.end())
        continue;
      node->pid = -1;
      const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (node->coordinator && WIFEXITED(status)) {
        // The run is over, one way or the other: the others were told to finish.
        if (!clean)
          std::cerr << "troupe up: node " + node->spec->name + " (logic) " + describe_status(status) + "\n"
                    << std::flush;
        return wait_then_stop_all(WEXITSTATUS(status));
      }
      if (clean) {
        node->finished = true;
        continue;
      }
      // One write per line: the nodes write to the same terminal.
      const auto line = "troupe up: node " + node->spec->name + " (pid " + std::to_string(pid) + ") " +
                        describe_status(status);
      if (WIFEXITED(status) && WEXITSTATUS(status) == exit_bad_input) {
        std::cerr << line + ": it was refused or misconfigured (see " + logs_ + "/" + node->spec->name +
                       ".log); stopping\n"
                  << std::flush;
        return stop_all(exit_bad_input);
      }
      const auto now = Clock::now();
      const auto& supervision = node->spec->supervision;
      if (now - node->started > stable)
        node->backoff = backoff_min;
      node->failures.push_back(now);
      while (!node->failures.empty() && now - node->failures.front() > std::chrono::milliseconds(supervision.period_ms))
        node->failures.pop_front();
      if (node->failures.size() > supervision.max_restarts) {
        std::cerr << line + "; more than " + std::to_string(supervision.max_restarts) + " restarts in " +
                       std::to_string(supervision.period_ms) + " ms: giving up\n"
                  << std::flush;
        return stop_all(exit_escalated);
      }
      std::cerr << line + "; restarting in " + std::to_string(node->backoff.count()) + " ms\n" << std::flush;
      node->restart_at = now + node->backoff;
      node->backoff = std::min<std::chrono::milliseconds>(node->backoff * 2, backoff_max);
    }
    return std::nullopt;
  }

  /// After the coordinator ended: the others exit on its word; wait for them a
  /// while, then stop the stragglers.
  int wait_then_stop_all(int code) {
    const auto until = Clock::now() + stop_grace;
    while (Clock::now() < until && std::any_of(nodes_.begin(), nodes_.end(), [](auto& n) { return n.pid > 0; })) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      for (auto& node : nodes_)
        if (pid > 0 && node.pid == pid)
          node.pid = -1;
      if (pid <= 0)
        ::usleep(10'000);
    }
    return stop_all(code);
  }

  /// Reverse start order: SIGTERM, then SIGKILL after the grace period.
  int stop_all(int code) {
    for (auto node = nodes_.rbegin(); node != nodes_.rend(); ++node) {
      if (node->pid <= 0)
        continue;
      ::kill(node->pid, SIGTERM);
      const auto until = Clock::now() + stop_grace;
      int status = 0;
      while (::waitpid(node->pid, &status, WNOHANG) == 0) {
        if (Clock::now() > until) {
          std::cerr << "troupe up: node " << node->spec->name << " ignored SIGTERM; killing it" << std::endl;
          ::kill(node->pid, SIGKILL);
          ::waitpid(node->pid, &status, 0);
          break;
        }
        ::usleep(10'000);
      }
      node->pid = -1;
    }
    return code;
  }

  std::string troupe_;
  std::vector<std::string> args_;
  std::vector<std::string> coordinator_args_;
  std::string trace_; ///< where the merged trace goes ("" = no trace)
  std::string logs_;
  std::string traces_;
  std::vector<std::string> trace_files_;
  std::vector<NodeProcess> nodes_;
};

} // namespace

int up(const config::Topology& topology, const std::string& troupe, const std::vector<std::string>& node_args,
       const std::vector<std::string>& coordinator_args, const std::string& trace, const std::string& out_dir) {
  return Up(topology, troupe, node_args, coordinator_args, trace, out_dir).run();
}

} // namespace troupe::app
