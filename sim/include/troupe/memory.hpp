#pragma once
/// \file How a troupe process uses the C library's allocator
/// (docs/architecture.md, "Memory").

#include <cstddef>

namespace troupe {

/// Keeps the big blocks this process frees for reuse instead of giving them
/// back to the kernel: glibc's malloc then serves blocks under 32 MiB (its
/// largest threshold) from its heap and keeps at least `keep_free_bytes` of
/// free heap top. With glibc's defaults it maps each block above 128 KiB (later:
/// above the largest block freed so far) on its own and trims a free heap top
/// above twice that, so buffers a tick builds and frees (worlds, snapshots,
/// frames, a CPU driver's scratch) were fresh pages every tick, one fault per
/// 4 KiB touched. Process-wide; a later call only ever raises what is kept.
/// Left alone when GLIBC_TUNABLES sets malloc's tunables (the user chose), and
/// without glibc.
void keep_freed_memory(std::size_t keep_free_bytes = std::size_t{64} << 20);

} // namespace troupe
