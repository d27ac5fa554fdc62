#include <troupe/live/telemetry.hpp>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

namespace troupe::live {

namespace {

struct ProbeEntry {
  Type type;
  std::string name, help;
  Labels labels;
  std::function<double()> read;
};

struct Mailbox {
  std::function<std::optional<MailboxReading>()> read;
  MailboxReading last;          // the current incarnation's last reading
  MailboxReading before;        // totals of the incarnations before it
  bool alive = true;
};

struct State {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::mutex mutex; // families_, probes, mailboxes
  std::map<std::string, prometheus::Family<prometheus::Counter>*> counters;
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> gauges;
  std::map<std::string, prometheus::Family<prometheus::Histogram>*> histograms;
  std::map<unsigned long long, ProbeEntry> probes;
  unsigned long long next_probe = 1;
  std::map<Labels, Mailbox> mailboxes;
};

// Never destroyed: actors, probes and the endpoint may outlive static
// destruction order.
State& state() {
  static State* the = new State;
  return *the;
}

const prometheus::Histogram::BucketBoundaries& seconds_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets{
    50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10};
  return buckets;
}

template <class Metric, class Builder>
prometheus::Family<Metric>& family(std::map<std::string, prometheus::Family<Metric>*>& families, Builder builder,
                                   const std::string& name, const std::string& help) {
  auto& slot = families[name];
  if (!slot)
    slot = &builder.Name(name).Help(help).Register(*state().registry);
  return *slot;
}

prometheus::ClientMetric sample(const Labels& labels, Type type, double value) {
  prometheus::ClientMetric metric;
  for (const auto& [name, label_value] : labels)
    metric.label.push_back({name, label_value});
  if (type == Type::counter)
    metric.counter.value = value;
  else
    metric.gauge.value = value;
  return metric;
}

/// Adds one sample to the family `name` in `out`, creating the family.
void add_sample(std::vector<prometheus::MetricFamily>& out, const std::string& name, const std::string& help,
                Type type, const Labels& labels, double value) {
  auto family = std::find_if(out.begin(), out.end(), [&](const auto& f) { return f.name == name; });
  if (family == out.end()) {
    out.push_back({name, help, type == Type::counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge,
                   {}});
    family = std::prev(out.end());
  }
  family->metric.push_back(sample(labels, type, value));
}

} // namespace

void Counter::add(double amount) const {
  if (metric_)
    metric_->Increment(amount);
}

void Counter::raise_to(double total) const {
  if (!metric_)
    return;
  const double now = metric_->Value();
  if (total > now)
    metric_->Increment(total - now);
}

void Gauge::set(double value) const {
  if (metric_)
    metric_->Set(value);
}

void Histogram::observe(double seconds) const {
  if (metric_)
    metric_->Observe(seconds);
}

Counter counter(const std::string& name, const std::string& help, const Labels& labels) {
  auto& s = state();
  std::lock_guard<std::mutex> guard{s.mutex};
  return Counter{&family(s.counters, prometheus::BuildCounter(), name, help).Add(labels)};
}

Gauge gauge(const std::string& name, const std::string& help, const Labels& labels) {
  auto& s = state();
  std::lock_guard<std::mutex> guard{s.mutex};
  return Gauge{&family(s.gauges, prometheus::BuildGauge(), name, help).Add(labels)};
}

Histogram histogram(const std::string& name, const std::string& help, const Labels& labels) {
  auto& s = state();
  std::lock_guard<std::mutex> guard{s.mutex};
  return Histogram{&family(s.histograms, prometheus::BuildHistogram(), name, help).Add(labels, seconds_buckets())};
}

Probe& Probe::operator=(Probe&& other) noexcept {
  if (this != &other) {
    Probe gone{std::move(*this)};
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

Probe::~Probe() {
  if (id_ == 0)
    return;
  auto& s = state();
  std::lock_guard<std::mutex> guard{s.mutex};
  s.probes.erase(id_);
}

Probe probe(Type type, const std::string& name, const std::string& help, const Labels& labels,
            std::function<double()> read) {
  auto& s = state();
  std::lock_guard<std::mutex> guard{s.mutex};
  const auto id = s.next_probe++;
  s.probes.emplace(id, ProbeEntry{type, name, help, labels, std::move(read)});
  return Probe{id};
}

void watch_mailbox(const Labels& labels, std::function<std::optional<MailboxReading>()> read) {
  auto& s = state();
  std::lock_guard<std::mutex> guard{s.mutex};
  auto& mailbox = s.mailboxes[labels];
  if (mailbox.read) {
    // The incarnation before is done: its last reading becomes history.
    if (mailbox.alive)
      if (auto final_reading = mailbox.read())
        mailbox.last = *final_reading;
    mailbox.before.admitted += mailbox.last.admitted;
    mailbox.before.dropped += mailbox.last.dropped;
    mailbox.before.rejected += mailbox.last.rejected;
    mailbox.before.high_water = std::max(mailbox.before.high_water, mailbox.last.high_water);
  }
  mailbox.read = std::move(read);
  mailbox.last = {};
  mailbox.alive = true;
}

namespace {

/// Everything, collected: the registry's families, then mailboxes and probes.
std::vector<prometheus::MetricFamily> collect() {
  auto& s = state();
  auto families = s.registry->Collect();
  {
    std::lock_guard<std::mutex> guard{s.mutex};
    for (auto& [labels, mailbox] : s.mailboxes) {
      if (mailbox.alive) {
        if (auto reading = mailbox.read())
          mailbox.last = *reading;
        else
          mailbox.alive = false;
      }
      const auto& now = mailbox.last;
      const auto& before = mailbox.before;
      add_sample(families, "troupe_mailbox_messages", "Messages held in the mailbox now", Type::gauge, labels,
                 mailbox.alive ? now.size : 0);
      add_sample(families, "troupe_mailbox_capacity_messages", "The mailbox's bound", Type::gauge, labels,
                 now.capacity);
      add_sample(families, "troupe_mailbox_high_water_messages", "Most messages the mailbox held at once",
                 Type::gauge, labels, std::max(now.high_water, before.high_water));
      add_sample(families, "troupe_mailbox_admitted_total", "Messages the mailbox took in", Type::counter, labels,
                 before.admitted + now.admitted);
      add_sample(families, "troupe_mailbox_dropped_total", "Messages the overflow policy dropped", Type::counter,
                 labels, before.dropped + now.dropped);
      add_sample(families, "troupe_mailbox_rejected_total",
                 "Reliable messages refused back to their sender (they are resent)", Type::counter, labels,
                 before.rejected + now.rejected);
    }
    for (const auto& [id, entry] : s.probes)
      add_sample(families, entry.name, entry.help, entry.type, entry.labels, entry.read());
  }
  std::sort(families.begin(), families.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return families;
}

} // namespace

std::string exposition() { return prometheus::TextSerializer{}.Serialize(collect()); }

std::vector<Sample> samples() {
  std::vector<Sample> out;
  for (const auto& family : collect())
    for (const auto& metric : family.metric) {
      Labels labels;
      for (const auto& label : metric.label)
        labels[label.name] = label.value;
      switch (family.type) {
      case prometheus::MetricType::Counter:
        out.push_back({family.name, labels, metric.counter.value});
        break;
      case prometheus::MetricType::Gauge:
        out.push_back({family.name, labels, metric.gauge.value});
        break;
      case prometheus::MetricType::Histogram:
        out.push_back({family.name + "_sum", labels, metric.histogram.sample_sum});
        out.push_back({family.name + "_count", labels, static_cast<double>(metric.histogram.sample_count)});
        break;
      default:
        break;
      }
    }
  return out;
}

} // namespace troupe::live
