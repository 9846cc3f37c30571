// The text of `uni status` and its --watch loop (see status_view.hpp).
#include "cli/status_view.hpp"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <thread>

#include "cli/signals.hpp"

namespace uni::cli {

namespace {

void append(std::string& out, const char* format, ...) __attribute__((format(printf, 2, 3)));
void append(std::string& out, const char* format, ...) {
  char line[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof(line), format, args);
  va_end(args);
  out += line;
}

// "850ms", "12s", "3m04s", "5h02m", "2d03h": short enough for a column.
std::string age(std::uint64_t ms) {
  char out[32];
  std::uint64_t s = ms / 1000;
  if (ms < 1000) std::snprintf(out, sizeof(out), "%llums", static_cast<unsigned long long>(ms));
  else if (s < 60) std::snprintf(out, sizeof(out), "%llus", static_cast<unsigned long long>(s));
  else if (s < 3600)
    std::snprintf(out, sizeof(out), "%llum%02llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  else if (s < 86400)
    std::snprintf(out, sizeof(out), "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s % 3600 / 60));
  else
    std::snprintf(out, sizeof(out), "%llud%02lluh", static_cast<unsigned long long>(s / 86400),
                  static_cast<unsigned long long>(s % 86400 / 3600));
  return out;
}

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

// The first line of a failure's error, cut to fit a line.
std::string one_line(const std::string& text, std::size_t width) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > width) line = line.substr(0, width - 3) + "...";
  return line;
}

}  // namespace

std::string status_text(const ClusterStatus& status) {
  std::string out;
  // A broker with no manager: no uptime, totals summed over the live
  // workers and bosses, results kept by the cluster (docs/scale-out.md section 6).
  if (!status.has_manager)
    append(out, "%s at %s (uni %s), no manager; totals are the live workers' and bosses'\n",
           status.broker.c_str(), status.endpoint.c_str(), status.version.c_str());
  else
    append(out, "manager %s at %s (uni %s), up %s\n", status.manager.c_str(),
           status.endpoint.c_str(), status.version.c_str(), age(status.uptime_ms).c_str());
  append(out, "%zu worker(s)\n", status.workers.size());
  if (!status.workers.empty()) {
    append(out, "  %-10s %-20s %-8s %-6s %-5s %-9s %-7s %-10s %-8s %s\n", "ID", "HOST", "PID",
           "SLOTS", "BUSY", "DONE", "FAILED", "HEARTBEAT", "UPTIME", "ISOLATION");
    for (const auto& w : status.workers)
      append(out, "  %-10s %-20s %-8u %-6u %-5llu %-9llu %-7llu %-10s %-8s %s\n", w.id.c_str(),
             w.host.c_str(), w.pid, w.slots, ull(w.busy), ull(w.completed), ull(w.failed),
             (age(w.heartbeat_age_ms) + " ago").c_str(), age(w.uptime_ms).c_str(),
             w.isolation.c_str());
    for (const auto& w : status.workers)
      if (!w.note.empty()) append(out, "  worker %s %s\n", w.id.c_str(), w.note.c_str());
  }
  append(out, "queue: %llu waiting, %llu running\n", ull(status.queued), ull(status.running));
  append(out,
         "tasks: %.1f/s over the last 10 s; %llu submitted, %llu completed, %llu failed, %llu "
         "cancelled\n",
         status.tasks_per_s, ull(status.totals.submitted), ull(status.totals.completed),
         ull(status.totals.failed), ull(status.totals.cancelled));
  if (!status.has_manager)
    append(out, "%llu boss(es) connected; results are kept in the cluster for uni result\n",
           ull(status.bosses));
  else
    append(out, "%llu boss(es) connected; %llu result(s) kept for uni result\n", ull(status.bosses),
           ull(status.totals.kept_results));
  if (status.has_manager && status.limits.descriptor_limit > 0) {
    const auto& l = status.limits;
    append(out,
           "descriptors: %llu in use of %llu; %llu connection(s); tasks hold %llu of %llu "
           "bytes\n",
           ull(l.descriptors), ull(l.descriptor_limit), ull(l.connections), ull(l.queued_bytes),
           ull(l.max_queued_bytes));
    std::string refused;
    for (const auto& [name, count] : l.refused)
      if (count > 0) refused += (refused.empty() ? "" : ", ") + name + " " + std::to_string(count);
    if (!refused.empty()) append(out, "refused by limits: %s\n", refused.c_str());
  }
  if (!status.streams.empty()) {
    // Replicas kept / live now, and whether a node can go: a stream stops
    // (stalls every command that needs it) when it loses its quorum.
    std::string line = "streams (replicas live/kept):";
    std::string weak;
    for (const auto& st : status.streams) {
      line += " " + st.name + " " + std::to_string(st.current) + "/" + std::to_string(st.replicas);
      if (st.current < st.replicas / 2 + 2)
        weak += (weak.empty() ? "" : ", ") + st.name +
                (st.current < st.replicas ? " (" + std::to_string(st.current) + " of " +
                                                std::to_string(st.replicas) + " live)"
                                          : " (" + std::to_string(st.replicas) + " replica" +
                                                (st.replicas == 1 ? "" : "s") + ")");
    }
    append(out, "%s\n", line.c_str());
    if (status.survives_node_loss)
      append(out,
             "the cluster can lose any one node: every stream keeps a quorum of its replicas\n");
    else
      append(out,
             "the cluster cannot lose a node without stopping: %s; 3 replicas on 3 or more "
             "JetStream nodes survive one (UNI_NATS_REPLICAS)\n",
             weak.empty() ? "its streams are not all known" : weak.c_str());
  }
  append(out, "%zu service(s)\n", status.services.size());
  if (!status.services.empty()) {
    append(out, "  %-24s %-9s %-10s %-8s %-12s %-7s %s\n", "ID", "STATE", "WORKER", "UPTIME",
           "MODULE", "BECOMES", "FUNCTION");
    for (const auto& s : status.services)
      append(
          out, "  %-24s %-9s %-10s %-8s %-12s %-7u %s\n", s.id.c_str(), s.state.c_str(),
          s.worker.empty() ? "-" : s.worker.c_str(), s.uptime_ms ? age(s.uptime_ms).c_str() : "-",
          s.module.empty() ? "-" : s.module.substr(0, 12).c_str(), s.becomes, s.function.c_str());
  }
  if (!status.recent_failures.empty()) {
    // The newest few; --json and the dashboard have the last 20.
    std::size_t shown = std::min<std::size_t>(status.recent_failures.size(), 5);
    append(out, "recent failures (newest first, %zu of %zu):\n", shown,
           status.recent_failures.size());
    for (std::size_t i = 0; i < shown; ++i) {
      const auto& f = status.recent_failures[i];
      append(out, "  %s ago  %s %s (%s)%s%s: %s\n", age(f.age_ms).c_str(), f.id.c_str(),
             f.function.c_str(), f.status.c_str(), f.worker.empty() ? "" : " on ", f.worker.c_str(),
             one_line(f.error, 100).c_str());
    }
  }
  return out;
}

int watch_status(const std::function<ClusterStatus()>& fetch, bool as_json,
                 std::chrono::milliseconds interval) {
  on_stop_signal(nullptr, nullptr);
  const bool terminal = !as_json && ::isatty(STDOUT_FILENO);
  bool first = true;
  while (received_stop_signal() == 0) {
    std::string screen;
    try {
      ClusterStatus status = fetch();
      screen = as_json ? to_json(status) + "\n" : status_text(status);
    } catch (const std::exception& e) {
      screen = std::string("uni status: ") + e.what() + " (retrying)\n";
    }
    if (terminal) {
      char when[32];
      std::time_t now = std::time(nullptr);
      std::strftime(when, sizeof(when), "%H:%M:%S", std::localtime(&now));
      // Home, then each line cleared to its end, then the rest of the screen:
      // redrawn in place, without the flicker of clearing first.
      std::string frame = first ? "\x1b[H\x1b[2J" : "\x1b[H";
      first = false;
      char heading[96];
      std::snprintf(heading, sizeof(heading), "every %g s, %s; Ctrl-C ends\n",
                    static_cast<double>(interval.count()) / 1000.0, when);
      std::string body = heading + screen;
      for (std::size_t start = 0; start < body.size();) {
        std::size_t end = body.find('\n', start);
        if (end == std::string::npos) end = body.size();
        frame += body.substr(start, end - start) + "\x1b[K\n";
        start = end + 1;
      }
      frame += "\x1b[J";
      std::fputs(frame.c_str(), stdout);
    } else {
      std::fputs(screen.c_str(), stdout);
      if (!as_json) std::fputs("\n", stdout);
    }
    std::fflush(stdout);
    for (auto slept = std::chrono::milliseconds(0); slept < interval && received_stop_signal() == 0;
         slept += std::chrono::milliseconds(50))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return 0;
}

}  // namespace uni::cli
