#pragma once
/// \file Measurement helpers shared by the subsystem actors: a sample recorder
/// that gives percentiles and a plot-sized series for the report, and feeds a
/// live histogram when asked. No CAF here.

#include <troupe/live/telemetry.hpp>
#include <troupe/messages/messages.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace troupe {

/// Nanoseconds on the steady clock; snapshot timestamps use it.
inline std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

/// Records every sample of one quantity (a run has at most a few hundred
/// thousand: kept whole so percentiles are exact).
class SampleRecorder {
public:
  void add(double value) {
    samples_.push_back(value);
    live_.observe(value * to_seconds_);
  }
  /// Also feeds every sample to `live`, times `to_seconds` (1e-3 for ms).
  void mirror(live::Histogram live, double to_seconds) {
    live_ = live;
    to_seconds_ = to_seconds;
  }
  std::size_t size() const { return samples_.size(); }

  /// Nearest-rank percentiles of everything recorded.
  Percentiles percentiles() const {
    Percentiles out;
    out.count = samples_.size();
    if (samples_.empty())
      return out;
    auto sorted = samples_;
    std::sort(sorted.begin(), sorted.end());
    auto rank = [&](double p) {
      auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
      return sorted[std::min(i, sorted.size() - 1)];
    };
    out.p50 = rank(0.50);
    out.p95 = rank(0.95);
    out.p99 = rank(0.99);
    out.max = sorted.back();
    double sum = 0;
    for (double v : sorted)
      sum += v;
    out.mean = sum / static_cast<double>(sorted.size());
    return out;
  }

  /// At most `points` values for a plot: the maximum of each bucket, so spikes
  /// stay visible.
  std::vector<float> series(std::size_t points = 600) const {
    std::vector<float> out;
    if (samples_.empty())
      return out;
    const std::size_t bucket = (samples_.size() + points - 1) / points;
    for (std::size_t i = 0; i < samples_.size(); i += bucket) {
      double peak = samples_[i];
      for (std::size_t j = i; j < std::min(i + bucket, samples_.size()); ++j)
        peak = std::max(peak, samples_[j]);
      out.push_back(static_cast<float>(peak));
    }
    return out;
  }

private:
  std::vector<double> samples_;
  live::Histogram live_;
  double to_seconds_ = 1;
};

} // namespace troupe
