// Packing of a worker's result-path messages: see store_messages.hpp.
#include "nats/worker/store_messages.hpp"

#include <algorithm>

namespace uni::nats {

void pack_requeues(const std::vector<proto::Task>& tasks,
                   const std::vector<std::uint64_t>& from_batch, const TaskQueue& queue,
                   const std::string& owner, std::size_t max_tasks, std::size_t max_bytes,
                   MessageIds ids, std::vector<StoreMessage>& out) {
  // A message holds tasks of one session (its subject names it): the
  // tasks in session order, stable within each.
  std::vector<std::size_t> order(tasks.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return tasks[a].id.session < tasks[b].id.session;
  });
  for (std::size_t first = 0; first < order.size();) {
    StoreMessage store;
    std::vector<const proto::Task*> part;
    std::size_t bytes = 0;
    for (std::size_t k = first; k < order.size() && part.size() < max_tasks; ++k) {
      const proto::Task& task = tasks[order[k]];
      std::size_t size = task.function.size() + task.args.size() + 64;
      if (!part.empty() && (bytes + size > max_bytes || task.id.session != part[0]->id.session))
        break;
      bytes += size;
      part.push_back(&task);
      store.requeue_of.push_back(from_batch[order[k]]);
    }
    store.subject = queue.requeue_subject_for(owner, part.front()->id.session, part.size());
    store.data = proto::encode_tasks(part);
    store.msg_id = "requeue-" + part.front()->id.str() + "-" + ids.worker + "-" +
                   std::to_string(++ids.published);
    first += part.size();
    out.push_back(std::move(store));
  }
}

void pack_results(ResultsBySession& by_session, const Names& names, std::size_t max_bytes,
                  MessageIds ids, std::vector<StoreMessage>& out) {
  for (auto& [key, list] : by_session) {
    const auto& [owner, session] = key;
    StoreMessage store;
    std::size_t bytes = 0;
    auto flush = [&] {
      if (store.results.empty()) return;
      std::vector<const proto::Result*> ptrs;
      ptrs.reserve(store.results.size());
      for (const proto::Result& r : store.results) ptrs.push_back(&r);
      store.subject = names.result_subject(owner, session);
      store.data = proto::encode_results(ptrs);
      store.msg_id = ids.worker + "-r" + std::to_string(++ids.published);
      out.push_back(std::move(store));
      store = StoreMessage();
      bytes = 0;
    };
    for (proto::Result& r : list) {
      std::size_t size = r.payload.size() + r.worker.size() + r.host.size() + 48;
      if (!store.results.empty() && bytes + size > max_bytes) flush();
      bytes += size;
      store.results.push_back(std::move(r));
    }
    flush();
  }
}

}  // namespace uni::nats
