#pragma once
// Lines for the user from any actor's thread, each written whole to stdout.
// CAF's aout hands every line to its printer actor on another thread; troupe
// writes it here instead, under one lock: no line crosses a thread, so
// nothing depends on synchronisation inside CAF that a sanitizer cannot see.
// Private to actors/.

#include <iostream>
#include <mutex>
#include <sstream>

namespace troupe {

/// One line (or a few) being written: `console() << "logic: " << x << "\n";`.
class ConsoleLine {
public:
  ConsoleLine() = default;
  ConsoleLine(const ConsoleLine&) = delete;
  ConsoleLine& operator=(const ConsoleLine&) = delete;
  ~ConsoleLine() {
    static std::mutex mutex;
    std::lock_guard<std::mutex> guard{mutex};
    std::cout << text_.str() << std::flush;
  }
  template <class T> ConsoleLine& operator<<(const T& value) {
    text_ << value;
    return *this;
  }

private:
  std::ostringstream text_;
};

inline ConsoleLine console() { return {}; }

} // namespace troupe
