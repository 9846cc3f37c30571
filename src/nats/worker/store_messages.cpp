// Packing of a worker's result-path messages: see store_messages.hpp.
#include "nats/worker/store_messages.hpp"

namespace uni::nats {

void pack_requeues(const std::vector<proto::Task>& tasks,
                   const std::vector<std::uint64_t>& from_batch, const TaskQueue& queue,
                   const std::string& owner, std::size_t max_tasks, std::size_t max_bytes,
                   MessageIds ids, std::vector<StoreMessage>& out) {
  for (std::size_t first = 0; first < tasks.size();) {
    StoreMessage store;
    std::vector<const proto::Task*> part;
    std::size_t bytes = 0;
    for (std::size_t i = first; i < tasks.size() && part.size() < max_tasks; ++i) {
      std::size_t size = tasks[i].function.size() + tasks[i].args.size() + 64;
      if (!part.empty() && bytes + size > max_bytes) break;
      bytes += size;
      part.push_back(&tasks[i]);
      store.requeue_of.push_back(from_batch[i]);
    }
    store.subject = queue.requeue_subject_for(owner, part.size());
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
