// Which of a boss's tasks the cluster no longer holds. A task the cluster
// confirmed storing stays in its platform's work-queue stream until a worker
// has stored its result: a message leaves the stream only when acked, a
// worker acks only after the results of its tasks are in UNI_RESULTS, and a
// task queued again is published before its old message is acked. A task
// found in neither was lost after it was stored (a stream lost with its
// only node, purged or deleted); the boss submits it again.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nats/client/jetstream.hpp"
#include "nats/store/names.hpp"
#include "nats/store/result_stream.hpp"
#include "proto/messages.hpp"

namespace uni::nats {

class TaskAudit {
 public:
  TaskAudit(JetStream& js, const Names& names, std::uint64_t session);

  // `tasks`: tasks of this session, by platform, that the cluster confirmed
  // storing and whose result the boss has not had. `found` is given the
  // results stored meanwhile that it reads on the way (the boss's live feed
  // may have missed them). Returns the tasks held neither as tasks nor as
  // results. Cheap when nothing is lost (one count per platform and the
  // results stored since the last call); reads the session's messages only
  // when the count falls short. Throws NatsError if the cluster does not
  // answer.
  // The platforms whose stream is gone are added to `gone`.
  std::vector<proto::TaskId> lost(const std::map<std::string, std::vector<proto::TaskId>>& tasks,
                                  const std::function<void(std::vector<proto::Result>&)>& found,
                                  std::vector<std::string>& gone);

 private:
  // The ids of the results stored since the last read, given to `found`.
  std::vector<proto::TaskId> read_results(
      const std::function<void(std::vector<proto::Result>&)>& found);

  JetStream& js_;
  Names names_;
  std::uint64_t session_;
  ResultStream results_;
  std::uint64_t results_from_ = 1;  // the next result stream sequence to read
};

}  // namespace uni::nats
