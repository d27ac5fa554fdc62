// Broken on purpose (tests): a shared library without the entry point.
extern "C" __attribute__((visibility("default"))) int troupe_rules_v0() { return 0; }
