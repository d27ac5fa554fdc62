// Broken on purpose (tests): its constructor runs at dlopen and writes the
// file named by TROUPE_TEST_MARKER, the way a hostile library would run code
// the moment it is loaded. It exports no entry point.
#include <cstdio>
#include <cstdlib>

namespace {
__attribute__((constructor)) void announce() {
  if (const char* marker = std::getenv("TROUPE_TEST_MARKER"))
    if (FILE* f = std::fopen(marker, "w"))
      std::fclose(f);
}
} // namespace
