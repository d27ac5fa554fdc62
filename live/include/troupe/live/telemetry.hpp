#pragma once
/// \file The live metrics of this process (docs/architecture.md, "Live view").
///
/// One registry per process, on prometheus-cpp: actors and the runtime update
/// counters, gauges and histograms from any thread (atomics, and a short lock
/// for a histogram), and the HTTP endpoint renders everything as Prometheus
/// text on its own thread. A metric is keyed by its name and labels, so a
/// restarted actor gets the same counters back and they never go down.
///
/// Values whose owner already keeps them (a mailbox's counters, the bytes on
/// the wire) are read when scraped, through a `Probe` or `watch_mailbox`,
/// rather than counted twice on the hot path.
///
/// Names follow Prometheus conventions: the `troupe_` prefix, base units
/// (seconds, bytes), `_total` on counters. No per-body labels.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
} // namespace prometheus

namespace troupe::live {

/// A metric's labels (node, actor, kind, ...).
using Labels = std::map<std::string, std::string>;

/// A counter handle; a default-constructed one counts nothing. Cheap to copy.
class Counter {
public:
  Counter() = default;
  explicit Counter(prometheus::Counter* metric) : metric_(metric) {}
  void add(double amount = 1) const;
  /// Raises the counter to `total` (a running total its owner keeps); never
  /// lowers it. One writer per counter.
  void raise_to(double total) const;

private:
  prometheus::Counter* metric_ = nullptr;
};

/// A gauge handle; a default-constructed one does nothing.
class Gauge {
public:
  Gauge() = default;
  explicit Gauge(prometheus::Gauge* metric) : metric_(metric) {}
  void set(double value) const;

private:
  prometheus::Gauge* metric_ = nullptr;
};

/// A histogram handle, in seconds; a default-constructed one does nothing.
class Histogram {
public:
  Histogram() = default;
  explicit Histogram(prometheus::Histogram* metric) : metric_(metric) {}
  void observe(double seconds) const;

private:
  prometheus::Histogram* metric_ = nullptr;
};

/// The metric `name` with `labels`, created on first use. Handles stay valid
/// for the life of the process.
Counter counter(const std::string& name, const std::string& help, const Labels& labels);
Gauge gauge(const std::string& name, const std::string& help, const Labels& labels);
/// Buckets from 50 us to 10 s, about three per decade.
Histogram histogram(const std::string& name, const std::string& help, const Labels& labels);

enum class Type { counter, gauge };

/// A value read when scraped, while the probe lives. Move-only.
class Probe {
public:
  Probe() = default;
  Probe(Probe&& other) noexcept : id_(other.id_) { other.id_ = 0; }
  Probe& operator=(Probe&& other) noexcept;
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;
  ~Probe();

private:
  friend Probe probe(Type, const std::string&, const std::string&, const Labels&, std::function<double()>);
  explicit Probe(unsigned long long id) : id_(id) {}
  unsigned long long id_ = 0;
};

/// Reads `read()` at every scrape (on the endpoint's thread: it must be
/// thread-safe and quick) until the probe is destroyed.
[[nodiscard]] Probe probe(Type type, const std::string& name, const std::string& help, const Labels& labels,
                          std::function<double()> read);

/// One reading of a bounded mailbox.
struct MailboxReading {
  double size = 0, capacity = 0, high_water = 0;
  double admitted = 0, dropped = 0, rejected = 0;
};

/// Exposes the mailbox of the actor with `labels` as troupe_mailbox_*: read at
/// every scrape. A later call with the same labels (the next incarnation)
/// replaces the reader, and the totals of the one before carry over, so the
/// counters never go down. `read` gives nothing once the actor is gone (it
/// must not keep the actor alive): then its last reading stands.
void watch_mailbox(const Labels& labels, std::function<std::optional<MailboxReading>()> read);

/// Everything, in the Prometheus text exposition format (version 0.0.4).
std::string exposition();

/// One value of the exposition: a counter or gauge, or a histogram's _sum or
/// _count (the dashboard reads these).
struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};
std::vector<Sample> samples();

} // namespace troupe::live
