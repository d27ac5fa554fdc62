#pragma once
/// \file Happens-before annotations for ThreadSanitizer. Debian's TBB and CAF
/// are not instrumented, so TSan cannot see the synchronisation inside them
/// (task hand-off, mailbox hand-off); troupe marks its own hand-over points so
/// that TSan checks troupe's data and not library internals. No-ops otherwise.

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
namespace troupe::sanitizer {
/// Everything written before `release(p)` happens before what follows `acquire(p)`.
inline void release(const void* p) { __tsan_release(const_cast<void*>(p)); }
inline void acquire(const void* p) { __tsan_acquire(const_cast<void*>(p)); }
} // namespace troupe::sanitizer
#else
namespace troupe::sanitizer {
inline void release(const void*) {}
inline void acquire(const void*) {}
} // namespace troupe::sanitizer
#endif
