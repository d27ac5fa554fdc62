// Broken on purpose (tests): throws in its first step.
#include <troupe/plugins/rules_abi.hpp>

#include <stdexcept>

namespace {
bool step(troupe::sim::World&, char*, std::size_t) { throw std::runtime_error("rules exploded on purpose"); }
} // namespace

TROUPE_RULES_PLUGIN("broken-throws", "1", step)
