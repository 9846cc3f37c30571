// read_cluster_status: the registries (workers, bosses, services), the
// task count of each platform's stream, and the replicas of uni's streams.
#include "nats/boss/cluster_status.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "common/log.hpp"
#include "nats/client/address.hpp"
#include "nats/client/error.hpp"
#include "nats/store/registry.hpp"
#include "nats/store/task_queue.hpp"
#include "uni/version.hpp"

namespace uni::nats {

namespace {

// Milliseconds from `then` (unix ms, another host's clock) to `now`; 0 if
// the clocks disagree the other way.
std::uint64_t ms_since(std::int64_t then, std::int64_t now) {
  return then > 0 && now > then ? static_cast<std::uint64_t>(now - then) : 0;
}

// Tasks in a platform's stream, waiting or held by a worker; nullopt if it
// has no stream yet.
std::optional<std::uint64_t> tasks_in_stream(JetStream& js, const EngineConfig& config,
                                             const std::string& platform) {
  return TaskQueue::count_tasks(js, config.names.task_stream(platform),
                                config.names.task_subject(platform) + ".>");
}

// The platforms that have a task stream: tasks may wait there for a
// platform no live worker has.
std::vector<std::string> platforms_with_streams(JetStream& js, const Names& names) {
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = js.api_timeout().count();
  std::string filter = names.prefix() + ".tasks.>";
  opts.Stream.Info.SubjectsFilter = filter.c_str();
  jsStreamNamesList* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_StreamNames(&raw, js.get(), &opts, &code);
  std::vector<std::string> out;
  if (status == NATS_NOT_FOUND) return out;  // no stream at all
  check(status, "listing the task streams", code);
  std::unique_ptr<jsStreamNamesList, void (*)(jsStreamNamesList*)> list(raw,
                                                                        jsStreamNamesList_Destroy);
  for (int i = 0; i < list->Count; ++i) {
    std::string platform = names.platform_of_task_stream(list->List[i]);
    if (!platform.empty()) out.push_back(std::move(platform));
  }
  return out;
}

// Whether `stream` is one of uni's (with this prefix).
bool is_unis(const Names& names, const std::string& stream) {
  static const std::string kv = "KV_", object = "OBJ_";
  const std::string results = names.result_stream();  // <PREFIX>_RESULTS
  const std::string exhausted = results.substr(0, results.rfind('_')) + "_EXHAUSTED_";
  return !names.platform_of_task_stream(stream).empty() || stream.rfind(exhausted, 0) == 0 ||
         stream == results || stream == names.cancel_stream() ||
         stream == object + names.module_bucket() || stream == kv + names.worker_bucket() ||
         stream == kv + names.service_bucket() || stream == kv + names.boss_bucket() ||
         stream == kv + names.session_bucket();
}

// uni's streams, their replicas and how many are live; by name.
std::vector<proto::StatusReport::Stream> read_streams(JetStream& js, const Names& names) {
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = js.api_timeout().count();
  jsStreamInfoList* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_Streams(&raw, js.get(), &opts, &code);
  std::vector<proto::StatusReport::Stream> out;
  if (status == NATS_NOT_FOUND) return out;
  check(status, "listing the streams", code);
  std::unique_ptr<jsStreamInfoList, void (*)(jsStreamInfoList*)> list(raw,
                                                                      jsStreamInfoList_Destroy);
  for (int i = 0; i < list->Count; ++i) {
    const jsStreamInfo* info = list->List[i];
    if (info == nullptr || info->Config == nullptr || info->Config->Name == nullptr) continue;
    std::string name = info->Config->Name;
    if (!is_unis(names, name)) continue;
    proto::StatusReport::Stream& st = out.emplace_back();
    st.name = std::move(name);
    st.replicas = static_cast<std::uint32_t>(std::max<int64_t>(1, info->Config->Replicas));
    if (info->Cluster == nullptr) {  // a single server: its one copy answered
      st.current = 1;
      continue;
    }
    // The leader, and the followers that are up to date.
    st.current = info->Cluster->Leader != nullptr && *info->Cluster->Leader != '\0' ? 1 : 0;
    for (int r = 0; r < info->Cluster->ReplicasLen; ++r) {
      const jsPeerInfo* peer = info->Cluster->Replicas[r];
      if (peer != nullptr && peer->Current && !peer->Offline) ++st.current;
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

// Whether every stream keeps a quorum of its replicas (a majority) with
// one more of them gone.
bool survives_node_loss(const std::vector<proto::StatusReport::Stream>& streams) {
  if (streams.empty()) return false;
  for (const proto::StatusReport::Stream& st : streams)
    if (st.current < st.replicas / 2 + 2) return false;  // quorum + 1
  return true;
}

}  // namespace

proto::StatusReport read_cluster_status(JetStream& js, const EngineConfig& config,
                                        std::vector<std::string> platforms) {
  proto::StatusReport report;
  report.manager = "nats";
  report.version = UNI_VERSION_STRING;
  report.endpoint = NatsAddress::parse(config.connect.address).servers_text();
  const std::int64_t now = unix_ms_now();

  WorkerRegistry workers = WorkerRegistry::open(js, config.names, {.replicas = config.replicas});
  std::map<std::string, std::string> host_of;
  std::map<std::string, std::uint64_t> fetched_on;  // platform -> tasks in held messages
  for (const WorkerEntry& w : workers.list()) {
    proto::StatusReport::Worker out;
    out.id = w.id;
    out.host = w.host;
    out.pid = w.pid;
    out.slots = w.slots;
    out.busy = w.busy;
    // An older worker reports no `assigned`: its busy slots at least.
    out.assigned = std::max<std::uint64_t>(w.assigned, w.busy);
    out.capacity = w.slots;
    out.platform = w.platform;
    out.isolation = w.isolation;
    out.completed = w.completed;
    out.failed = w.failed;
    out.heartbeat_age_ms = ms_since(w.at_ms, now);
    out.last_seen_ms = out.heartbeat_age_ms;
    out.uptime_ms = ms_since(w.started_ms, now);
    out.note = w.note;
    // A worker out of service has no credit (as the manager reports it).
    if (!w.note.empty()) out.capacity = 0;
    report.running += w.busy;
    report.assigned += out.assigned;
    report.totals.completed += w.completed;
    report.totals.failed += w.failed;
    report.totals.cancelled += w.cancelled;
    report.totals.requeued += w.requeued;
    report.tasks_per_s += w.tasks_per_s;
    fetched_on[w.platform] += w.fetched;
    host_of[w.id] = w.host;
    platforms.push_back(w.platform);
    report.workers.push_back(std::move(out));
  }
  // Oldest first, as the manager lists them.
  std::sort(report.workers.begin(), report.workers.end(), [](const auto& a, const auto& b) {
    return a.uptime_ms != b.uptime_ms ? a.uptime_ms > b.uptime_ms : a.id < b.id;
  });

  try {
    std::vector<std::string> streams = platforms_with_streams(js, config.names);
    platforms.insert(platforms.end(), streams.begin(), streams.end());
  } catch (const std::exception& e) {
    log::debug("NATS: cannot list the task streams: {}", e.what());
  }
  std::sort(platforms.begin(), platforms.end());
  platforms.erase(std::unique(platforms.begin(), platforms.end()), platforms.end());
  for (const std::string& platform : platforms) {
    try {
      check_platform(platform);
      // A message stays in the stream until its last task is stored: the
      // tasks of messages the live workers hold are theirs, the rest wait
      // (a dead worker's too, until ack-wait gives them to another).
      if (std::optional<std::uint64_t> tasks = tasks_in_stream(js, config, platform)) {
        std::uint64_t held = fetched_on[platform];
        report.queue += *tasks > held ? *tasks - held : 0;
      }
    } catch (const std::exception& e) {
      log::debug("NATS: no queue length for platform {}: {}", platform, e.what());
    }
  }

  ServiceRegistry services = ServiceRegistry::open(js, config.names, {.replicas = config.replicas});
  std::set<std::string> running;
  for (const ServiceEntry& s : services.list()) {
    proto::StatusReport::Service out;
    out.id = s.id;
    out.state = proto::ServiceState::kRunning;
    out.started = true;
    out.worker = s.worker;
    out.host = host_of.count(s.worker) ? host_of[s.worker] : "";
    out.function = s.function;
    out.module = s.module;
    out.becomes = s.becomes;
    running.insert(s.id);
    report.services.push_back(std::move(out));
  }

  // Bosses connected now; their services that no worker reports running
  // wait in a queue (or for a worker that died to be noticed).
  BossRegistry bosses = BossRegistry::open(js, config.names, {.replicas = config.replicas});
  for (const BossEntry& b : bosses.list()) {
    ++report.bosses;
    report.totals.submitted += b.submitted;
    for (const BossEntry::Service& s : b.services) {
      if (!running.insert(s.id).second) continue;
      proto::StatusReport::Service out;
      out.id = s.id;
      out.state = proto::ServiceState::kQueued;
      out.function = s.function;
      report.services.push_back(std::move(out));
    }
  }
  std::sort(report.services.begin(), report.services.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });

  try {
    report.streams = read_streams(js, config.names);
    report.survives_node_loss = survives_node_loss(report.streams);
  } catch (const std::exception& e) {
    log::debug("NATS: cannot read the streams' replicas: {}", e.what());
  }
  return report;
}

}  // namespace uni::nats
