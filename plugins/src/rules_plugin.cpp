#include <troupe/plugins/rules_plugin.hpp>
#include <troupe/sim/advance.hpp>

#include <troupe/sim/parallel.hpp>
#include <troupe/sim/regions.hpp>
#include <troupe/sim/rules.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include <xxhash.h>

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

namespace troupe::plugins {

struct RulesPlugin::Impl {
  void* handle = nullptr;
  const RulesApi* api = nullptr;
  std::string path;
  std::string copy; ///< the private copy dlopen mapped
  std::string name;
  std::string version;
  std::uint64_t digest = 0; ///< XXH3-64 of the file's bytes as loaded

  ~Impl() {
    if (handle)
      ::dlclose(handle);
    if (!copy.empty()) {
      std::error_code ec;
      std::filesystem::remove(copy, ec);
    }
  }
};

namespace {

/// A fresh private file in the temp folder, for a copy of a plugin.
std::string private_copy_name() {
  auto pattern = (std::filesystem::temp_directory_path() / "troupe-rules-XXXXXX").string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0)
    return {};
  ::close(fd);
  return pattern;
}

} // namespace

const char* host_build_id() { return TROUPE_RULES_BUILD_ID; }

namespace {

/// Nobody but this user (or root) could have written what `st` describes.
bool only_ours(const struct stat& st) {
  return (st.st_mode & (S_IWGRP | S_IWOTH)) == 0 && (st.st_uid == ::geteuid() || st.st_uid == 0);
}

} // namespace

Expected<void> check_trusted(const std::string& path, const std::string& plugin_dir) {
  auto refused = [&](const std::string& why) { return Error{errc::bad_plugin, why, path}; };
  if (plugin_dir.empty())
    return refused("no plugin directory is configured ([actors.logic] plugin_dir, or the folder of --rules): "
                   "nothing is loaded");
  std::error_code ec;
  const auto dir = std::filesystem::canonical(plugin_dir, ec);
  if (ec)
    return refused("the plugin directory " + plugin_dir + " cannot be opened: " + ec.message());
  const auto file = std::filesystem::canonical(path, ec);
  if (ec)
    return refused("no such file");
  const auto relative = file.lexically_relative(dir);
  if (relative.empty() || *relative.begin() == ".." || relative.is_absolute())
    return refused("outside the plugin directory " + dir.string() + ": refused, nothing was loaded");
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return refused("not a regular file");
  if (!only_ours(st))
    return refused("another user could have written it (group- or world-writable, or not ours): refused");
  // Every folder from the plugin directory down to the file.
  for (auto folder = file.parent_path();; folder = folder.parent_path()) {
    if (::stat(folder.c_str(), &st) != 0 || !only_ours(st))
      return refused("another user could write into " + folder.string() + ": refused");
    if (folder == dir || folder == folder.parent_path())
      break;
  }
  return {};
}

Expected<RulesPlugin> RulesPlugin::load(const std::string& path, const std::string& plugin_dir) {
  auto refused = [&](const std::string& why) { return Error{errc::bad_plugin, why, path}; };
  if (auto trusted = check_trusted(path, plugin_dir); !trusted)
    return trusted.error();
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  std::error_code ec;
  impl->copy = private_copy_name();
  if (impl->copy.empty() ||
      !std::filesystem::copy_file(path, impl->copy, std::filesystem::copy_options::overwrite_existing, ec))
    return refused("cannot make a private copy to load: " + (ec ? ec.message() : "no temp file"));
  {
    // The digest of what is loaded: the copy, which nobody rewrites.
    std::ifstream in(impl->copy, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    impl->digest = XXH3_64bits(bytes.data(), bytes.size());
  }
  impl->handle = ::dlopen(impl->copy.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!impl->handle) {
    const char* why = ::dlerror();
    return refused(std::string("not a loadable shared library: ") + (why ? why : "dlopen failed"));
  }
  auto* entry = reinterpret_cast<RulesEntry>(::dlsym(impl->handle, rules_entry_point));
  if (!entry)
    return refused(std::string("no ") + rules_entry_point + " symbol: not a troupe rules plugin");
  impl->api = entry();
  if (!impl->api)
    return refused(std::string(rules_entry_point) + " returned no rules");
  // The version first: the rest of the struct is laid out as that version says.
  if (impl->api->abi_version != rules_abi_version)
    return refused("built for rules ABI " + std::to_string(impl->api->abi_version) + ", this troupe speaks " +
           std::to_string(rules_abi_version));
  const std::string build_id = impl->api->build_id ? impl->api->build_id : "";
  if (build_id != host_build_id())
    return refused("built against other sim headers or another compiler (build id " + build_id +
           ", this troupe " + host_build_id() + "): rebuild it with this tree");
  const auto scope = impl->api->scope;
  if (scope == RulesScope::world ? !impl->api->step
                                 : scope != RulesScope::body || !impl->api->step_bodies)
    return refused(std::string(rules_entry_point) + " returned no step for its scope (world: step; body: step_bodies)");
  if (scope == RulesScope::body && !(impl->api->max_speedup >= 0.f && std::isfinite(impl->api->max_speedup)))
    return refused("max_speedup must be a finite number of m/s, 0 or more");
  impl->name = impl->api->name ? impl->api->name : "unnamed";
  impl->version = impl->api->version ? impl->api->version : "?";
  return RulesPlugin(std::move(impl));
}

RulesPlugin::RulesPlugin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RulesPlugin::RulesPlugin(RulesPlugin&&) noexcept = default;
RulesPlugin& RulesPlugin::operator=(RulesPlugin&&) noexcept = default;
RulesPlugin::~RulesPlugin() = default;

namespace {

/// Calls a plugin's step, turning false and exceptions into a bad_plugin Error.
template <class Call>
Expected<void> guarded(const RulesPlugin& plugin, std::uint64_t tick, Call&& call) {
  char error[256] = {};
  auto failed = [&](const std::string& why) {
    return Error{errc::bad_plugin, plugin.name() + " " + why, plugin.path()};
  };
  try {
    if (call(error, sizeof error))
      return {};
    error[sizeof error - 1] = '\0';
    return failed("failed at tick " + std::to_string(tick) + ": " +
                  (error[0] ? std::string(error) : std::string("no reason given")));
  } catch (const std::exception& e) {
    return failed("threw at tick " + std::to_string(tick) + ": " + e.what());
  } catch (...) {
    return failed("threw at tick " + std::to_string(tick) + ": an unknown exception");
  }
}

double speed(sim::Vec3 v) {
  return std::sqrt(static_cast<double>(v.x) * v.x + static_cast<double>(v.y) * v.y + static_cast<double>(v.z) * v.z);
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }
bool same_bits(sim::Vec3 a, sim::Vec3 b) { return std::memcmp(&a, &b, sizeof a) == 0; }

/// What a body rule did to one body that it may not do, or nothing.
std::optional<std::string> broken_contract(const sim::Body& before, const sim::BodyId id, const sim::Body& after,
                                           const sim::BodyInfo& info, float max_speedup) {
  const auto name = "body " + std::to_string(id.index) + ":" + std::to_string(id.generation);
  if (!(info.id == id))
    return name + ": its id was changed";
  if (!same_bits(before.position, after.position) || !same_bits(before.radius, after.radius) ||
      !same_bits(before.inv_mass, after.inv_mass))
    return name + ": its position, radius or mass was changed (a body rule may change velocity, restitution, "
                  "colour and user data)";
  const double was = speed(before.velocity), is = speed(after.velocity);
  if (!std::isfinite(is) && std::isfinite(was))
    return name + ": its velocity is no longer finite";
  if (is > (was + max_speedup) * (1 + sim::rules_speedup_slack))
    return name + ": sped up by " + std::to_string(is - was) + " m/s in a tick, more than the " +
           std::to_string(max_speedup) + " m/s it declares (max_speedup)";
  if (!(info.restitution >= 0.f && info.restitution <= 1.f))
    return name + ": restitution " + std::to_string(info.restitution) + " is not between 0 and 1";
  return std::nullopt;
}

} // namespace

Expected<void> RulesPlugin::step(sim::World& world) const {
  if (scope() == RulesScope::body)
    return step_bodies(world, world.tick, world.bodies, world.infos);
  return guarded(*this, world.tick,
                 [&](char* error, std::size_t size) { return impl_->api->step(world, error, size); });
}

Expected<void> RulesPlugin::step_bodies(const sim::WorldSettings& settings, std::uint64_t tick,
                                        std::span<sim::Body> bodies, std::span<sim::BodyInfo> infos) const {
  if (scope() != RulesScope::body)
    return Error{errc::bad_plugin, name() + " works on the whole world (scope world), not body by body", path()};
  if (bodies.size() != infos.size())
    return Error{errc::bad_plugin, "bodies and infos disagree", path()};
  // In batches, each checked against a copy of what it was: a body rule may
  // change only what its contract says (rules_abi.hpp). A batch is any size
  // to a body rule; this one fits in a core's cache.
  constexpr std::size_t batch = 1024;
  sim::Body before[batch];
  sim::BodyId ids[batch];
  std::size_t at = 0;
  do {
    const std::size_t n = std::min(batch, bodies.size() - at);
    for (std::size_t k = 0; k < n; ++k) {
      before[k] = bodies[at + k];
      ids[k] = infos[at + k].id;
    }
    if (auto stepped = guarded(*this, tick, [&](char* error, std::size_t size) {
          return impl_->api->step_bodies(settings, tick, bodies.data() + at, infos.data() + at, n, error, size);
        });
        !stepped)
      return stepped;
    for (std::size_t k = 0; k < n; ++k)
      if (auto broken = broken_contract(before[k], ids[k], bodies[at + k], infos[at + k], max_speedup()))
        return Error{errc::bad_plugin,
                     name() + " broke its body contract at tick " + std::to_string(tick) + ": " + *broken, path()};
    at += n;
  } while (at < bodies.size());
  return {};
}

RulesScope RulesPlugin::scope() const { return impl_->api->scope; }
float RulesPlugin::max_speedup() const { return scope() == RulesScope::body ? impl_->api->max_speedup : 0.f; }
std::uint64_t RulesPlugin::digest() const { return impl_->digest; }

const std::string& RulesPlugin::name() const { return impl_->name; }
const std::string& RulesPlugin::version() const { return impl_->version; }
const std::string& RulesPlugin::path() const { return impl_->path; }

namespace {

bool finite(sim::Vec3 v) { return std::isfinite(v.x) && std::isfinite(v.y) && std::isfinite(v.z); }

/// The first broken invariant of `world`, or nothing.
std::optional<std::string> check(const sim::World& world) {
  if (world.bodies.size() != world.infos.size())
    return "bodies and infos disagree (" + std::to_string(world.bodies.size()) + " vs " +
           std::to_string(world.infos.size()) + ")";
  for (std::size_t i = 0; i < world.bodies.size(); ++i) {
    const auto& b = world.bodies[i];
    if (!finite(b.position) || !finite(b.velocity) || !std::isfinite(b.radius) || !(b.radius > 0))
      return "body " + std::to_string(i) + " is no longer finite (position, velocity or radius)";
  }
  if (!finite(world.gravity) || !(world.dt > 0))
    return "gravity or dt is no longer valid";
  return std::nullopt;
}

} // namespace

Expected<void> smoke_test(const RulesPlugin& plugin, const sim::World& world, const SmokeTest& test) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  sim::World copy = world;
  const auto parallel = sim::Parallel::sequential();
  std::vector<sim::ContactEvent> events;
  // The tick a run runs (sim::advance), with a check of the world between the
  // rules and physics.
  auto failed = [&](const std::string& why) { return Error{errc::bad_plugin, "smoke test: " + why, plugin.path()}; };
  std::vector<sim::Body> alone_bodies;
  std::vector<sim::BodyInfo> alone_infos;
  const sim::RulesStep rules = [&](sim::World& w) -> Expected<void> {
    if (plugin.scope() == RulesScope::body) {
      alone_bodies = w.bodies;
      alone_infos = w.infos;
    }
    if (auto stepped = plugin.step(w); !stepped)
      return failed(stepped.error().message);
    if (plugin.scope() == RulesScope::body) {
      // Body by body means the same result for a body handed alone as with
      // all the others: what lets a partitioned world run it in each region.
      for (std::size_t k = 0; k < alone_bodies.size(); ++k) {
        if (auto stepped = plugin.step_bodies(w, w.tick, {&alone_bodies[k], 1}, {&alone_infos[k], 1}); !stepped)
          return failed(stepped.error().message);
        if (std::memcmp(&alone_bodies[k], &w.bodies[k], sizeof(sim::Body)) != 0 ||
            std::memcmp(&alone_infos[k], &w.infos[k], sizeof(sim::BodyInfo)) != 0)
          return failed(plugin.name() + " changes body " + std::to_string(k) + " at tick " + std::to_string(w.tick) +
                        " otherwise when it is handed alone than with the other bodies: body rules must read each "
                        "body alone (scope body)");
      }
    }
    if (auto err = check(w))
      return failed("after " + plugin.name() + " at tick " + std::to_string(w.tick) + ": " + *err);
    return {};
  };
  for (std::uint32_t t = 0; t < test.ticks; ++t) {
    events.clear();
    if (auto advanced = sim::advance(copy, {}, &rules, test.physics, parallel, events); !advanced)
      return advanced.error();
    if (Clock::now() - started > test.budget)
      return failed(std::to_string(t + 1) + " of " + std::to_string(test.ticks) + " ticks took more than " +
                    std::to_string(test.budget.count()) + " ms");
  }
  return {};
}

} // namespace troupe::plugins
