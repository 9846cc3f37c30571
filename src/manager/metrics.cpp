// Throughput history, recent failures and the Prometheus text of a snapshot
// (see metrics.hpp).
#include "manager/metrics.hpp"

#include <algorithm>
#include <cstdio>

namespace uni::manager {

const char* refusal_name(Refusal refusal) {
  switch (refusal) {
    case Refusal::kTooLarge: return "too-large";
    case Refusal::kMalformed: return "malformed";
    case Refusal::kClosed: return "closed";
    case Refusal::kBusy: return "busy";
    case Refusal::kQueueFull: return "queue-full";
    case Refusal::kQueuedBytes: return "queued-bytes";
    case Refusal::kHello: return "hello";
    case Refusal::kDetachedExpired: return "detached-expired";
    case Refusal::kHandshakesShed: return "handshakes-shed";
    case Refusal::kHandshakesFailed: return "handshakes-failed";
  }
  return "unknown";
}

void ThroughputHistory::tick(Clock::time_point now, std::uint64_t finished_total) {
  if (next_ == Clock::time_point{}) {  // the first tick: the start of the first second
    next_ = now + std::chrono::seconds(1);
    last_total_ = finished_total;
    return;
  }
  // A loop that was held up (a long message) fills the missed seconds with
  // the average, so the sum stays right.
  if (now < next_) return;
  std::size_t seconds = 1 + static_cast<std::size_t>((now - next_) / std::chrono::seconds(1));
  std::uint64_t finished = finished_total - last_total_;
  for (std::size_t i = 0; i < seconds; ++i) {
    per_second_.push_back(finished / seconds + (i < finished % seconds ? 1 : 0));
    if (per_second_.size() > kSeconds) per_second_.pop_front();
  }
  last_total_ = finished_total;
  next_ += std::chrono::seconds(seconds);
}

double ThroughputHistory::rate(Clock::time_point now, std::uint64_t finished_total,
                               std::size_t seconds) const {
  if (next_ == Clock::time_point{} || seconds == 0) return 0;
  // The second under way, then whole seconds back to the window's start.
  double under_way = std::chrono::duration<double>(now - (next_ - std::chrono::seconds(1))).count();
  under_way = std::clamp(under_way, 0.0, 1.0);
  std::size_t whole = std::min(seconds - 1, per_second_.size());
  std::uint64_t sum = finished_total - last_total_;
  for (std::size_t i = per_second_.size() - whole; i < per_second_.size(); ++i)
    sum += per_second_[i];
  double span = static_cast<double>(whole) + under_way;
  return span < 0.05 ? 0 : static_cast<double>(sum) / span;
}

std::vector<std::uint64_t> ThroughputHistory::per_second() const {
  return {per_second_.begin(), per_second_.end()};
}

void RecentFailures::add(proto::StatusReport::Failure failure, Clock::time_point when) {
  if (failure.error.size() > proto::StatusReport::kFailureErrorBytes) {
    failure.error.resize(proto::StatusReport::kFailureErrorBytes);
    // Not in the middle of a UTF-8 sequence: JSON needs valid text.
    while (!failure.error.empty() && (failure.error.back() & 0xC0) == 0x80)
      failure.error.pop_back();
    if (!failure.error.empty() && (failure.error.back() & 0x80)) failure.error.pop_back();
    failure.error += "...";
  }
  failures_.emplace_front(when, std::move(failure));
  if (failures_.size() > kKept) failures_.pop_back();
}

std::vector<proto::StatusReport::Failure> RecentFailures::list(Clock::time_point now) const {
  std::vector<proto::StatusReport::Failure> out;
  out.reserve(failures_.size());
  for (const auto& [when, f] : failures_) {
    out.push_back(f);
    out.back().age_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(now - when).count());
  }
  return out;
}

// ---- Prometheus text -------------------------------------------------------------------

namespace {

class Exposition {
 public:
  void header(const char* name, const char* type, const char* help) {
    text_ += "# HELP ";
    text_ += name;
    text_ += ' ';
    text_ += help;
    text_ += "\n# TYPE ";
    text_ += name;
    text_ += ' ';
    text_ += type;
    text_ += '\n';
  }
  void sample(const std::string& name, double value, const std::string& labels = "") {
    char number[64];
    std::snprintf(number, sizeof(number), "%.15g", value);
    text_ += name;
    if (!labels.empty()) text_ += "{" + labels + "}";
    text_ += ' ';
    text_ += number;
    text_ += '\n';
  }
  void metric(const char* name, const char* type, const char* help, double value) {
    header(name, type, help);
    sample(name, value);
  }
  void histogram(const char* name, const char* help, const Histogram& h) {
    header(name, "histogram", help);
    std::string base = name;
    for (std::size_t i = 0; i < Histogram::kBounds.size(); ++i) {
      char le[32];
      std::snprintf(le, sizeof(le), "%g", Histogram::kBounds[i]);
      sample(base + "_bucket", static_cast<double>(h.cumulative(i)),
             "le=\"" + std::string(le) + "\"");
    }
    sample(base + "_bucket", static_cast<double>(h.count()), "le=\"+Inf\"");
    sample(base + "_sum", h.sum());
    sample(base + "_count", static_cast<double>(h.count()));
  }
  std::string& text() { return text_; }

 private:
  std::string text_;
};

std::string escape_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string prometheus_text(const MetricsSnapshot& s) {
  const proto::StatusReport& r = s.status;
  const auto& t = r.totals;
  auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  std::uint64_t slots = 0, busy = 0;
  for (const auto& w : r.workers) {
    slots += w.slots;
    busy += w.busy;
  }
  Exposition e;
  e.header("uni_build_info", "gauge", "The manager's uni version (value 1).");
  e.sample("uni_build_info", 1, "version=\"" + escape_label(r.version) + "\"");
  e.metric("uni_manager_uptime_seconds", "gauge", "Seconds since the manager started.",
           d(r.uptime_ms) / 1000.0);
  e.metric("uni_tasks_submitted_total", "counter", "Tasks accepted from bosses.", d(t.submitted));
  e.metric("uni_tasks_completed_total", "counter", "Tasks that ended with status ok.",
           d(t.completed));
  e.metric("uni_tasks_failed_total", "counter",
           "Tasks that ended with a status other than ok or cancelled.", d(t.failed));
  e.metric("uni_tasks_requeued_total", "counter",
           "Runs lost to a crash or a lost worker and queued again.", d(t.requeued));
  e.metric("uni_tasks_cancelled_total", "counter", "Tasks that ended cancelled.", d(t.cancelled));
  e.metric("uni_module_uploaded_bytes_total", "counter",
           "Bytes of modules received from bosses and stored.", d(t.module_upload_bytes));
  e.metric("uni_module_uploads_total", "counter", "Modules received from bosses and stored.",
           d(t.module_uploads));
  e.metric("uni_module_fetched_bytes_total", "counter", "Bytes of modules sent to workers.",
           d(t.module_fetch_bytes));
  e.metric("uni_module_store_bytes", "gauge", "Bytes of modules stored now.", d(t.module_bytes));
  e.metric("uni_module_store_modules", "gauge", "Modules stored now.", d(t.modules));
  e.metric("uni_queue_tasks", "gauge", "Tasks queued for a worker.", d(r.queue));
  e.metric("uni_tasks_waiting_for_module", "gauge", "Tasks waiting for their module's upload.",
           d(r.waiting_for_module));
  e.metric("uni_tasks_assigned", "gauge", "Tasks held by workers (running or prefetched).",
           d(r.assigned));
  e.metric("uni_workers", "gauge", "Connected workers.", d(r.workers.size()));
  e.metric("uni_slots", "gauge", "Slots of the connected workers.", d(slots));
  e.metric("uni_slots_busy", "gauge", "Slots executing a task.", d(busy));
  e.metric("uni_services", "gauge", "Services not yet ended.", d(r.services.size()));
  e.metric("uni_bosses_connected", "gauge", "Connected bosses.", d(r.bosses));
  e.metric("uni_kept_results", "gauge", "Results held for uni result (tasks of uni submit).",
           d(t.kept_results));
  e.metric("uni_tasks_per_second", "gauge", "Tasks finished per second over the last 10 s.",
           r.tasks_per_s);
  e.histogram("uni_task_run_seconds",
              "Seconds from a task's assignment to a worker to the result that ended it.",
              s.run_time);
  e.histogram("uni_task_queue_wait_seconds",
              "Seconds from a task's submission (or previous assignment) to its assignment.",
              s.queue_wait);
  const proto::StatusReport::Limits& l = r.limits;
  e.metric("uni_descriptors_open", "gauge", "File descriptors the manager has open.",
           d(l.descriptors));
  e.metric("uni_descriptors_limit", "gauge", "The manager's limit of open file descriptors.",
           d(l.descriptor_limit));
  e.metric("uni_connections", "gauge", "TCP connections to the manager's port.", d(l.connections));
  e.metric("uni_queued_bytes", "gauge", "Bytes the manager's tasks hold (--max-queued-bytes).",
           d(l.queued_bytes));
  e.metric("uni_assembling_bytes", "gauge", "Bytes of large messages being received in chunks.",
           d(l.assembling_bytes));
  e.header("uni_limit_refusals_total", "counter",
           "What each of the manager's limits refused (docs/security.md section 8).");
  for (const auto& [name, count] : l.refused)
    e.sample("uni_limit_refusals_total", d(count), "limit=\"" + escape_label(name) + "\"");
  return std::move(e.text());
}

}  // namespace uni::manager
