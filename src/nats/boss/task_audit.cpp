// TaskAudit: a count of the session's tasks per stream first, its messages
// and its stored results read only when the count falls short.
#include "nats/boss/task_audit.hpp"

#include <unordered_set>

#include "nats/store/task_queue.hpp"

namespace uni::nats {

TaskAudit::TaskAudit(JetStream& js, const Names& names, std::uint64_t session)
    : js_(js), names_(names), session_(session), results_(ResultStream::bind(js, names)) {}

std::vector<proto::TaskId> TaskAudit::read_results(
    const std::function<void(std::vector<proto::Result>&)>& found) {
  std::vector<proto::TaskId> ids;
  std::vector<proto::Result> all;
  for (StoredResults& stored : results_.read(session_, results_from_)) {
    results_from_ = stored.stream_seq + 1;
    for (proto::Result& r : stored.results) {
      ids.push_back(r.id);
      all.push_back(std::move(r));
    }
  }
  if (!all.empty()) found(all);
  return ids;
}

std::vector<proto::TaskId> TaskAudit::lost(
    const std::map<std::string, std::vector<proto::TaskId>>& tasks,
    const std::function<void(std::vector<proto::Result>&)>& found, std::vector<std::string>& gone) {
  // Counted before the results are read: a task that left the stream before
  // the count had its result stored before it left.
  std::map<std::string, std::optional<std::uint64_t>> counts;
  for (const auto& [platform, ids] : tasks)
    counts[platform] = TaskQueue::count_tasks(
        js_, names_.task_stream(platform),
        names_.task_session_subjects(platform, js_.connection().identity(), session_));
  std::vector<proto::TaskId> read = read_results(found);
  std::unordered_set<proto::TaskId, proto::TaskIdHash> resolved(read.begin(), read.end());

  std::vector<proto::TaskId> out;
  for (const auto& [platform, ids] : tasks) {
    std::vector<proto::TaskId> waiting;
    for (const proto::TaskId& id : ids)
      if (!resolved.count(id)) waiting.push_back(id);
    if (waiting.empty()) continue;
    // The count includes this session's newer tasks: it falls short only
    // when some are surely missing.
    const std::optional<std::uint64_t>& count = counts[platform];
    if (count && *count >= waiting.size()) continue;
    if (!count) gone.push_back(platform);
    std::unordered_set<proto::TaskId, proto::TaskIdHash> held;
    if (count) {
      TaskQueue queue = TaskQueue::bind(js_, names_, platform);
      if (std::optional<std::vector<proto::TaskId>> in_stream = queue.session_tasks(session_))
        held.insert(in_stream->begin(), in_stream->end());
    }
    // Results stored while the messages were read (their messages left).
    for (const proto::TaskId& id : read_results(found)) resolved.insert(id);
    for (const proto::TaskId& id : waiting)
      if (!held.count(id) && !resolved.count(id)) out.push_back(id);
  }
  return out;
}

}  // namespace uni::nats
