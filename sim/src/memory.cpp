#include <troupe/memory.hpp>

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace troupe {

void keep_freed_memory(std::size_t keep_free_bytes) {
#if defined(__GLIBC__)
  static std::mutex mutex;
  static std::size_t kept = 0; // the trim threshold set so far; 0: glibc's own
  std::lock_guard<std::mutex> guard{mutex};
  if (keep_free_bytes <= kept)
    return;
  if (const char* tunables = std::getenv("GLIBC_TUNABLES"); tunables && std::strstr(tunables, "glibc.malloc."))
    return;
  if (kept == 0)
    ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  if (::mallopt(M_TRIM_THRESHOLD, static_cast<int>(keep_free_bytes)) == 1)
    kept = keep_free_bytes;
#else
  (void)keep_free_bytes;
#endif
}

} // namespace troupe
