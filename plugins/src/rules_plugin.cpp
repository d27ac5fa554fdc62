#include <troupe/plugins/rules_plugin.hpp>
#include <troupe/sim/advance.hpp>

#include <troupe/sim/parallel.hpp>
#include <troupe/sim/rules.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

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
  impl->handle = ::dlopen(impl->copy.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!impl->handle) {
    const char* why = ::dlerror();
    return refused(std::string("not a loadable shared library: ") + (why ? why : "dlopen failed"));
  }
  auto* entry = reinterpret_cast<RulesEntry>(::dlsym(impl->handle, rules_entry_point));
  if (!entry)
    return refused(std::string("no ") + rules_entry_point + " symbol: not a troupe rules plugin");
  impl->api = entry();
  if (!impl->api || !impl->api->step)
    return refused(std::string(rules_entry_point) + " returned no rules");
  if (impl->api->abi_version != rules_abi_version)
    return refused("built for rules ABI " + std::to_string(impl->api->abi_version) + ", this troupe speaks " +
           std::to_string(rules_abi_version));
  const std::string build_id = impl->api->build_id ? impl->api->build_id : "";
  if (build_id != host_build_id())
    return refused("built against other sim headers or another compiler (build id " + build_id +
           ", this troupe " + host_build_id() + "): rebuild it with this tree");
  impl->name = impl->api->name ? impl->api->name : "unnamed";
  impl->version = impl->api->version ? impl->api->version : "?";
  return RulesPlugin(std::move(impl));
}

RulesPlugin::RulesPlugin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RulesPlugin::RulesPlugin(RulesPlugin&&) noexcept = default;
RulesPlugin& RulesPlugin::operator=(RulesPlugin&&) noexcept = default;
RulesPlugin::~RulesPlugin() = default;

Expected<void> RulesPlugin::step(sim::World& world) const {
  char error[256] = {};
  auto failed = [&](const std::string& why) {
    return Error{errc::bad_plugin, impl_->name + " " + why, impl_->path};
  };
  try {
    if (impl_->api->step(world, error, sizeof error))
      return {};
    error[sizeof error - 1] = '\0';
    return failed("failed at tick " + std::to_string(world.tick) + ": " +
                  (error[0] ? std::string(error) : std::string("no reason given")));
  } catch (const std::exception& e) {
    return failed("threw at tick " + std::to_string(world.tick) + ": " + e.what());
  } catch (...) {
    return failed("threw at tick " + std::to_string(world.tick) + ": an unknown exception");
  }
}

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
  const sim::RulesStep rules = [&](sim::World& w) -> Expected<void> {
    if (auto stepped = plugin.step(w); !stepped)
      return failed(stepped.error().message);
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
