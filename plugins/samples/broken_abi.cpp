// Broken on purpose (tests): claims a rules ABI this troupe does not speak.
#include <troupe/plugins/rules_abi.hpp>

namespace {
bool step(troupe::sim::World&, char*, std::size_t) { return true; }
} // namespace

extern "C" __attribute__((visibility("default"))) const troupe::plugins::RulesApi* troupe_rules_v1() {
  static const troupe::plugins::RulesApi api{troupe::plugins::rules_abi_version + 98, TROUPE_RULES_BUILD_ID,
                                             "broken-abi", "1", troupe::plugins::RulesScope::world,
                                             step, nullptr, 0.f};
  return &api;
}
