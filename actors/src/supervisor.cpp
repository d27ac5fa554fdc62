#include <troupe/actors/supervisor.hpp>

#include "console.hpp"

#include <troupe/actors/metrics.hpp>
#include <troupe/messages/caf_types.hpp>

#include <caf/all.hpp>

#include <deque>
#include <set>

namespace troupe {
namespace {

/// Forwards everything to the current incarnation of a child, keeping sender
/// and request id (the child answers the original sender directly); while there
/// is none it holds messages, up to its mailbox capacity, and hands them over in
/// order to the next incarnation.
class stable_name : public bounded_actor {
public:
  stable_name(caf::actor_config& cfg, config::MailboxSpec hold)
    : bounded_actor(cfg, hold), capacity_(hold.capacity) {}

  caf::behavior make_behavior() override {
    set_default_handler([this](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
      auto* element = current_mailbox_element();
      Held message{element->sender, element->mid, x.move_content_to_message()};
      if (target_) {
        pass(std::move(message));
      } else if (held_.size() < capacity_) {
        held_.push_back(std::move(message));
      } else {
        ++refused_;
        if (message.mid.is_request())
          return make_error(errc::mailbox_full, "restarting, and its hold is full");
        return caf::message{};
      }
      // Someone else (the child) answers requests.
      return caf::delegated<caf::message>{};
    });
    return {
      // A subsystem's mailbox is the stable name's and the child's together:
      // report both (drops can happen at either).
      [this](report_atom) -> caf::result<ActorReport> {
        if (!target_)
          return make_error(errc::shutting_down, "restarting");
        auto promise = make_response_promise<ActorReport>();
        request(target_, std::chrono::seconds(10), report_atom::value)
          .then(
            [this, promise](ActorReport& report) mutable {
              // Everything admitted reached the child's mailbox (some came
              // straight to it, e.g. subscriptions): its count stands; losses
              // at either queue add up.
              const auto own = mailbox_stats();
              report.mailbox.dropped += own.dropped;
              report.mailbox.rejected += own.rejected + refused_;
              report.mailbox.high_water = std::max(report.mailbox.high_water, own.high_water);
              promise.deliver(std::move(report));
            },
            [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
        return promise;
      },
      [this](retarget_atom, caf::actor target) {
        target_ = std::move(target);
        while (target_ && !held_.empty()) {
          pass(std::move(held_.front()));
          held_.pop_front();
        }
      },
    };
  }

private:
  struct Held {
    caf::strong_actor_ptr sender;
    caf::message_id mid;
    caf::message content;
  };

  void pass(Held message) {
    target_->enqueue(std::move(message.sender), message.mid, std::move(message.content), context());
  }

  void on_exit() override {
    target_ = nullptr;
    held_.clear();
  }

  const std::size_t capacity_;
  caf::actor target_;
  std::deque<Held> held_;
  std::uint64_t refused_ = 0;
};

struct Child {
  ChildSpec spec;
  caf::actor stable;         // never changes
  caf::actor current;        // null while stopped or restarting
  std::uint32_t incarnation = 0;
  std::uint32_t restarts = 0;
  std::uint32_t failures_in_a_row = 0;
  std::int64_t started_ns = 0;
  bool removed = false;      // temporary/transient child that will not come back
  bool restart_pending = false;
};

class supervisor_actor : public caf::event_based_actor {
public:
  supervisor_actor(caf::actor_config& cfg, SupervisorSpec spec, std::vector<ChildSpec> children)
    : event_based_actor(cfg), spec_(std::move(spec)), rng_(spec_.seed) {
    for (auto& c : children) {
      Child child;
      child.spec = std::move(c);
      children_.push_back(std::move(child));
    }
  }

  caf::behavior make_behavior() override {
    started_ns_ = steady_now_ns();
    set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
    for (auto& child : children_)
      child.stable = spawn<stable_name>(child.spec.hold);
    for (std::size_t i = 0; i < children_.size(); ++i)
      start(i);
    return {
      [this](lookup_atom, const std::string& name) -> caf::result<caf::actor> {
        for (auto& child : children_)
          if (child.spec.name == name)
            return child.stable;
        return make_error(errc::unknown_peer, "no child named \"" + name + "\" under " + spec_.name);
      },
      [this](restart_atom, std::uint64_t index, std::uint32_t ticket) {
        auto& child = children_[index];
        if (child.restart_pending && ticket == child.incarnation) {
          child.restart_pending = false;
          start(index);
        }
      },
      [this](report_atom) { return report(); },
      [this](done_atom) -> caf::result<done_atom> {
        shutting_down_ = true;
        shutdown_promise_ = make_response_promise<done_atom>();
        stop_next(children_.size());
        return shutdown_promise_;
      },
      [this](kill_atom, std::uint64_t index, std::uint32_t incarnation) {
        auto& child = children_[index];
        if (child.current && child.incarnation == incarnation) {
          ++killed_;
          send_exit(child.current, caf::exit_reason::kill);
        }
      },
    };
  }

  void on_exit() override {
    // Reverse start order; the stable names go with their children.
    for (auto i = children_.rbegin(); i != children_.rend(); ++i) {
      if (i->current)
        send_exit(i->current, caf::exit_reason::user_shutdown);
      if (i->stable)
        send_exit(i->stable, caf::exit_reason::user_shutdown);
      i->current = nullptr;
      i->stable = nullptr;
    }
  }

private:
  void start(std::size_t index) {
    auto& child = children_[index];
    child.current = child.spec.start(system(), child.incarnation);
    child.started_ns = steady_now_ns();
    monitor(child.current);
    send<caf::message_priority::high>(child.stable, retarget_atom::value, child.current);
    if (child.spec.on_started)
      child.spec.on_started(child.current, child.incarnation);
  }

  /// Stops a running child on purpose (strategy), without counting it as a failure.
  void stop(std::size_t index) {
    auto& child = children_[index];
    if (!child.current)
      return;
    demonitor(child.current);
    send_exit(child.current, caf::exit_reason::user_shutdown);
    child.current = nullptr;
    send<caf::message_priority::high>(child.stable, retarget_atom::value, caf::actor{});
  }

  /// Stops the last running child before `end` (reverse start order); the
  /// down message of that child stops the next one.
  void stop_next(std::size_t end) {
    for (std::size_t i = end; i-- > 0;) {
      auto& child = children_[i];
      child.restart_pending = false;
      if (!child.current)
        continue;
      stopping_ = i;
      send_exit(child.current, caf::exit_reason::user_shutdown);
      delayed_send(this, child.spec.shutdown_timeout, kill_atom::value, static_cast<std::uint64_t>(i),
                   child.incarnation);
      return;
    }
    shutdown_promise_.deliver(done_atom::value);
    quit();
  }

  void on_down(caf::down_msg& msg) {
    std::size_t index = children_.size();
    for (std::size_t i = 0; i < children_.size(); ++i)
      if (children_[i].current && children_[i].current.address() == msg.source)
        index = i;
    if (index == children_.size())
      return; // an incarnation we stopped on purpose
    auto& child = children_[index];
    child.current = nullptr;
    if (shutting_down_) {
      send_exit(child.stable, caf::exit_reason::user_shutdown);
      if (index == stopping_)
        stop_next(index);
      return;
    }
    send<caf::message_priority::high>(child.stable, retarget_atom::value, caf::actor{});
    const bool normal = !msg.reason || msg.reason == caf::exit_reason::normal;
    const auto reason = normal ? std::string{"normal"} : system().render(msg.reason);
    if (child.spec.restart == Restart::temporary ||
        (child.spec.restart == Restart::transient && normal)) {
      // Its name goes with it: whoever monitors the stable name learns that
      // nothing will answer there again.
      child.removed = true;
      send_exit(child.stable, caf::exit_reason::user_shutdown); // "normal" would be ignored
      return;
    }
    if (msg.reason.category() == caf::atom("troupe") &&
        msg.reason.code() == static_cast<std::uint8_t>(errc::unrecoverable)) {
      // Restarting cannot help (no device, say): give up now, not after
      // max_restarts futile attempts.
      give_up(spec_.name + ": " + child.spec.name + " cannot run: " + reason);
      return;
    }
    // Intensity: a sliding window of restart times.
    const auto now = steady_now_ns();
    restart_times_.push_back(now);
    const auto window = std::chrono::duration_cast<std::chrono::nanoseconds>(spec_.period).count();
    while (!restart_times_.empty() && now - restart_times_.front() > window)
      restart_times_.pop_front();
    if (restart_times_.size() > spec_.max_restarts) {
      give_up(spec_.name + ": " + child.spec.name + " exceeded the restart intensity (" +
              std::to_string(restart_times_.size()) + " restarts within " +
              std::to_string(spec_.period.count()) + " ms, max " + std::to_string(spec_.max_restarts) +
              "; " + std::to_string(child.restarts) + " restarts of " + child.spec.name +
              " in all); last error: " + reason);
      return;
    }
    // Which children go down and come back with it.
    std::vector<std::size_t> group;
    switch (spec_.strategy) {
      case Strategy::one_for_one:
        group = {index};
        break;
      case Strategy::one_for_all:
        for (std::size_t i = 0; i < children_.size(); ++i)
          group.push_back(i);
        break;
      case Strategy::rest_for_one:
        for (std::size_t i = index; i < children_.size(); ++i)
          group.push_back(i);
        break;
    }
    for (auto i = group.rbegin(); i != group.rend(); ++i)
      if (*i != index)
        stop(*i);
    // Failures in a row: a child that stayed up for a whole intensity period
    // is healthy again (a shorter threshold made the backoff depend on how
    // fast this machine happens to be).
    const auto ran = std::chrono::nanoseconds(now - child.started_ns);
    child.failures_in_a_row = ran > spec_.period ? 1 : child.failures_in_a_row + 1;
    const auto delay = backoff(child.failures_in_a_row);
    const auto at_ms = static_cast<double>(now - started_ns_) / 1e6;
    for (auto i : group) {
      auto& member = children_[i];
      if (member.removed)
        continue;
      ++member.incarnation;
      ++member.restarts;
      member.restart_pending = true;
      timeline_.push_back({at_ms, member.spec.name, i == index ? reason : "stopped with " + child.spec.name,
                           static_cast<double>(delay.count()) / 1e3, member.incarnation});
      // In start order; each restart is a message, so the supervisor keeps serving.
      if (delay.count() == 0) // no wait: skip the round trip through the clock thread
        send(this, restart_atom::value, static_cast<std::uint64_t>(i), member.incarnation);
      else
        delayed_send(this, delay, restart_atom::value, static_cast<std::uint64_t>(i), member.incarnation);
    }
  }

  std::chrono::microseconds backoff(std::uint32_t failures) {
    const auto min = static_cast<double>(spec_.backoff_min.count());
    const auto max = static_cast<double>(spec_.backoff_max.count());
    double delay = min;
    for (std::uint32_t i = 1; i < failures && delay < max; ++i)
      delay *= 2;
    delay = std::min(delay, max);
    // splitmix64: seeded, so a run's backoffs can be reproduced.
    rng_ += 0x9e3779b97f4a7c15ull;
    auto z = rng_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const double jitter = 0.5 + static_cast<double>(z >> 11) * 0x1.0p-53;
    return std::chrono::microseconds(static_cast<std::int64_t>(delay * jitter));
  }

  void give_up(std::string why) {
    console() << why << "\n";
    quit(make_error(errc::escalated, std::move(why)));
  }

  ActorReport report() {
    ActorReport out;
    out.name = spec_.name;
    out.kind = "supervisor";
    out.role = "supervisor";
    std::uint64_t total = 0;
    out.counters.emplace_back("killed_at_shutdown", static_cast<double>(killed_));
    for (auto& child : children_) {
      out.counters.emplace_back("restarts_" + child.spec.name, static_cast<double>(child.restarts));
      out.counters.emplace_back("removed_" + child.spec.name, child.removed ? 1.0 : 0.0);
      total += child.restarts;
    }
    out.counters.emplace_back("restarts", static_cast<double>(total));
    std::vector<float> at, backoff_ms, child_index;
    for (auto& r : timeline_) {
      at.push_back(static_cast<float>(r.at_ms));
      backoff_ms.push_back(static_cast<float>(r.backoff_ms));
      for (std::size_t i = 0; i < children_.size(); ++i)
        if (children_[i].spec.name == r.child)
          child_index.push_back(static_cast<float>(i));
    }
    out.series = {{"restart_at_ms", at}, {"restart_backoff_ms", backoff_ms}, {"restart_child", child_index}};
    std::string names;
    for (auto& child : children_)
      names += (names.empty() ? "" : ",") + child.spec.name;
    out.notes = {{"children", names}};
    return out;
  }

  SupervisorSpec spec_;
  std::vector<Child> children_;
  std::deque<std::int64_t> restart_times_;
  std::vector<RestartRecord> timeline_;
  bool shutting_down_ = false;
  std::size_t stopping_ = 0;
  std::uint64_t killed_ = 0;
  caf::typed_response_promise<done_atom> shutdown_promise_;
  std::uint64_t rng_;
  std::int64_t started_ns_ = 0;
};

} // namespace

std::optional<std::string> validate(const SupervisorSpec& spec, const std::vector<ChildSpec>& children) {
  if (spec.period.count() <= 0)
    return spec.name + ": period must be positive";
  if (spec.backoff_min.count() < 0 || spec.backoff_max < spec.backoff_min)
    return spec.name + ": backoff must satisfy 0 <= min <= max";
  std::set<std::string> names;
  for (std::size_t i = 0; i < children.size(); ++i) {
    const auto& child = children[i];
    if (child.name.empty())
      return spec.name + ": child " + std::to_string(i) + " has no name";
    if (!names.insert(child.name).second)
      return spec.name + ": two children are named \"" + child.name + "\"";
    if (!child.start)
      return spec.name + ": child \"" + child.name + "\" has no start function";
    if (child.hold.capacity == 0)
      return spec.name + ": child \"" + child.name + "\" has a hold capacity of 0";
  }
  return std::nullopt;
}

caf::actor spawn_supervisor(caf::actor_system& sys, SupervisorSpec spec, std::vector<ChildSpec> children) {
  return sys.spawn<supervisor_actor>(std::move(spec), std::move(children));
}

} // namespace troupe
