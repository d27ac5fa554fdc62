// The registered kinds (subsystem.hpp): the built-ins first, then what the
// application registers. One registry per process.

#include "subsystems.hpp"

#include <algorithm>
#include <deque>
#include <stdexcept>

namespace troupe {
namespace {

class Registry final : public config::KindCatalog {
public:
  Registry() {
    for (auto make : {physics_subsystem, logic_subsystem, input_subsystem, observer_subsystem, audio_subsystem,
                      render_subsystem})
      kinds_.push_back(make());
  }

  const config::KindSchema* find(std::string_view name) const override { return find_subsystem(name); }

  std::vector<const config::KindSchema*> kinds() const override {
    std::vector<const config::KindSchema*> out;
    for (const auto& kind : kinds_)
      out.push_back(&kind);
    return out;
  }

  const Subsystem* find_subsystem(std::string_view name) const {
    const auto found = std::find_if(kinds_.begin(), kinds_.end(), [&](const Subsystem& s) { return s.name == name; });
    return found == kinds_.end() ? nullptr : &*found;
  }

  Expected<void> add(Subsystem kind) {
    auto refused = [&](const std::string& why) {
      return Error{errc::bad_argument, "cannot register kind \"" + kind.name + "\": " + why};
    };
    if (kind.name.empty())
      return refused("it has no name");
    if (find_subsystem(kind.name))
      return refused("a kind of that name is registered already");
    if (!kind.parse)
      return refused("it has no params parser (KindSchema::parse)");
    if (kind.role == Role::reader ? !kind.make_reader && !kind.spawn : !kind.spawn)
      return refused(kind.role == Role::reader ? "a reader needs make_reader (or spawn)"
                                               : "it needs a spawn function for its role");
    kinds_.push_back(std::move(kind)); // a deque: schemas already handed out stay put
    return {};
  }

private:
  std::deque<Subsystem> kinds_;
};

Registry& registry() {
  static Registry instance;
  return instance;
}

} // namespace

Expected<void> register_subsystem(Subsystem subsystem) { return registry().add(std::move(subsystem)); }

const config::KindCatalog& subsystems() { return registry(); }

const Subsystem* find_subsystem(std::string_view name) { return registry().find_subsystem(name); }

const Subsystem& subsystem_of(const config::ActorSpec& spec) {
  if (const auto* kind = find_subsystem(spec.kind))
    return *kind;
  throw std::logic_error("a validated topology names an unregistered kind: " + spec.kind);
}

void set_counter(ActorReport& report, const std::string& name, double value) {
  for (auto& [key, v] : report.counters)
    if (key == name) {
      v = value;
      return;
    }
  report.counters.emplace_back(name, value);
}

ActorReport make_report(const config::ActorSpec& spec, const MailboxStats& mailbox) {
  ActorReport out;
  out.name = spec.name;
  out.kind = spec.kind;
  out.role = config::to_string(spec.role);
  out.node = spec.node;
  out.mailbox = mailbox;
  return out;
}

live::Labels labels_of(const config::ActorSpec& spec) {
  return {{"node", spec.node}, {"actor", spec.name}, {"kind", spec.kind}};
}

} // namespace troupe
