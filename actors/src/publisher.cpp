// Publishing to readers by topic (publisher.hpp).

#include "publisher.hpp"

#include <troupe/actors/reader.hpp>

#include <caf/all.hpp>

#include <algorithm>

namespace troupe {

bool Publisher::subscribe(caf::event_based_actor* self, const caf::actor& reader, const std::string& name,
                          std::uint8_t topics, std::uint64_t every, std::uint32_t window) {
  auto known = std::find_if(subscribers_.begin(), subscribers_.end(),
                            [&](const Subscription& s) { return s.reader == reader; });
  const bool fresh = known == subscribers_.end();
  if (fresh)
    subscribers_.push_back({reader, name, topics, every, window});
  else
    *known = {reader, name, topics, every, window};
  // A (new incarnation of a) reader on another node holds no generation yet.
  if (reader.node() != self->node())
    remote_.insert_or_assign(reader.address(), Remote{SnapshotEncoder{history(), keyframe_every_}, 0});
  if (every == 0 || (topics & topic_recorded_frames) == 0) {
    captures_.erase(name);
  } else {
    auto& log = captures_[name];
    log.reader = reader;
    log.every = every;
    log.window = std::max<std::uint32_t>(window, 1);
    // A new incarnation of the reader: where its recording stands (one on a
    // restarted node lost its cursor with its process), then what the last
    // one did not write.
    if (const auto next = next_recorded(log); next != 0)
      self->send(reader, capture_atom::value, next);
    log.resend(self);
  }
  if ((topics & topic_kept_contacts) == 0) {
    kept_.erase(name);
  } else {
    auto& log = kept_[name];
    log.reader = reader;
    log.resend(self); // what the last incarnation did not take
  }
  return fresh;
}

bool Publisher::down(const caf::actor_addr& reader, bool node_lost) {
  std::erase_if(subscribers_, [&](const Subscription& s) { return s.reader.address() == reader; });
  remote_.erase(reader);
  if (node_lost) {
    // Keep what it has not written: its next incarnation subscribes and gets it all.
    const auto wait = [&](auto& logs) {
      for (auto& [name, log] : logs)
        if (log.reader.address() == reader)
          log.reader = nullptr;
    };
    wait(captures_);
    wait(kept_);
    return false;
  }
  // A recording reader's stable name goes down only when its supervisor
  // removed it for good: stop recording for it.
  const auto gone = [&](const auto& kv) { return kv.second.reader.address() == reader; };
  return (std::erase_if(captures_, gone) + std::erase_if(kept_, gone)) > 0;
}

void Publisher::captured(const std::string& name, std::uint64_t tick) {
  if (auto i = captures_.find(name); i != captures_.end())
    i->second.forget([&](const Snapshot& snapshot) { return snapshot.tick <= tick; });
}

void Publisher::contacts_taken(const std::string& name, std::uint64_t published_events) {
  if (auto i = kept_.find(name); i != kept_.end())
    i->second.forget([&](const ContactBatch& batch) { return batch.published_events <= published_events; });
}

void Publisher::acked(const caf::actor_addr& reader, std::uint64_t generation) {
  auto remote = remote_.find(reader);
  if (remote != remote_.end() && (generation == 0 || generation > remote->second.acked))
    remote->second.acked = generation;
}

void Publisher::broadcast(caf::event_based_actor* self, std::uint8_t topic, const caf::message& message) {
  for (const auto& s : subscribers_)
    if (s.topics & topic)
      self->send(s.reader, message);
}

void Publisher::publish_contacts(caf::event_based_actor* self, ContactBatch batch) {
  for (auto& [name, log] : kept_)
    log.keep_and_send(self, batch);
  broadcast(self, topic_contacts, caf::make_message(std::move(batch)));
}

std::uint64_t Publisher::next_recorded(const CaptureLog& log) const {
  if (!log.unacked.empty())
    return log.unacked.front().tick;
  if (!published_tick_)
    return 0;
  return (*published_tick_ / log.every + 1) * log.every;
}

void Publisher::publish(caf::event_based_actor* self, const Snapshot& snapshot) {
  published_tick_ = snapshot.tick;
  for (auto& [name, log] : captures_)
    if (snapshot.tick % log.every == 0)
      log.keep_and_send(self, snapshot);
  std::optional<caf::message> local;
  for (const auto& [reader, name, topics, every, window] : subscribers_) {
    if ((topics & topic_snapshots) == 0)
      continue;
    auto remote = remote_.find(reader.address());
    if (remote == remote_.end()) {
      if (!local)
        local = caf::make_message(snapshot);
      self->send(reader, *local);
      continue;
    }
    const auto start_ns = steady_now_ns();
    auto compact = remote->second.encoder.encode(snapshot, remote->second.acked);
    counters_.encode_us.add(static_cast<double>(steady_now_ns() - start_ns) / 1e3);
    counters_.compact_bytes += compact.bytes.size();
    counters_.compact_moving += compact.moving_count;
    counters_.keyframes_sent += compact.base_generation == 0 ? 1 : 0;
    ++counters_.compact_sent;
    if (compact.moving_count > 0)
      counters_.bytes_per_moving.add(static_cast<double>(compact.bytes.size()) / compact.moving_count);
    self->send(reader, std::move(compact));
  }
}

bool Publisher::holding() const {
  return std::any_of(captures_.begin(), captures_.end(),
                     [](const auto& kv) { return kv.second.unacked.size() >= kv.second.window; }) ||
         std::any_of(kept_.begin(), kept_.end(),
                     [](const auto& kv) { return kv.second.unacked.size() >= kept_contacts_window; });
}

bool Publisher::recorded_through(std::uint64_t tick) const {
  // A batch names the tick stepped: the world at `tick` follows batch tick - 1.
  return std::none_of(captures_.begin(), captures_.end(),
                      [&](const auto& kv) {
                        return !kv.second.unacked.empty() && kv.second.unacked.front().tick <= tick;
                      }) &&
         std::none_of(kept_.begin(), kept_.end(), [&](const auto& kv) {
           return !kv.second.unacked.empty() && kv.second.unacked.front().tick < tick;
         });
}

std::vector<std::string> Publisher::recording() const {
  std::vector<std::string> out;
  for (const auto& [name, log] : captures_)
    out.push_back(name);
  return out;
}

std::shared_ptr<SnapshotHistory> Publisher::history() {
  if (!history_)
    history_ = std::make_shared<SnapshotHistory>();
  return history_;
}

} // namespace troupe
