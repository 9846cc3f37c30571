// uni-nats-bench: publish+fetch throughput of tasks batched per message on
// JetStream, to choose the batch size of the NATS broker: one
// nats-server with a 1-replica work-queue stream, and a 3-node loopback
// cluster with 3 replicas. For each batch size a boss publishes TASKS
// messages (proto::encode_tasks, async, deduplicated ids) while a worker
// fetches and acks them, concurrently; figures are tasks/s from the first
// publish to the last ack. One JSON object per line on stdout.
// --round-trip measures instead the bare one-task round trip the NATS engines
// are built on (W2 without uni's threads, supervisor and executor): the boss
// publishes a task asynchronously, a worker thread waiting in a fetch of one
// message publishes its result to the results stream, and the boss receives
// it on its plain subscription: nats-server's part of W2 plus nats.c's.
//
//   uni-nats-bench [--quick] [--batch 1,10,100] [--nodes 1,3] [--round-trip]
#include <CLI/CLI.hpp>
#include <atomic>
#include <thread>

#include "common/log.hpp"
#include "nats/client/async_publisher.hpp"
#include "nats/store/result_stream.hpp"
#include "nats/store/task_consumer.hpp"
#include "nats_server.hpp"
#include "util.hpp"

namespace {

using namespace std::chrono_literals;

struct Run {
  int nodes = 1;
  int tasks_per_message = 1;
  int tasks = 0;
};

std::vector<uni::proto::Task> make_batch(std::uint64_t first, int count) {
  std::vector<uni::proto::Task> out(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    out[static_cast<std::size_t>(i)].id = {0xbe, first + static_cast<std::uint64_t>(i)};
    out[static_cast<std::size_t>(i)].module = uni::ModuleHash::of("bench");
    out[static_cast<std::size_t>(i)].function = "ident";
    out[static_cast<std::size_t>(i)].args = "\x91\x01";  // [1]: a 2-byte argument, as W1's ident(i)
  }
  return out;
}

bench::Json measure(uni::test::NatsCluster& nats, const Run& run) {
  using namespace uni::nats;
  std::string platform = "bench-" + std::to_string(run.tasks_per_message);
  Names names;
  Connection boss = Connection::connect({.address = nats.address()});
  Connection worker = Connection::connect({.address = nats.address()});
  JetStream boss_js(boss), worker_js(worker);
  TaskQueue queue = TaskQueue::open(boss_js, names, platform, {.replicas = nats.size()});
  TaskQueue worker_queue = TaskQueue::open(worker_js, names, platform, {.replicas = nats.size()});
  TaskConsumer consumer = TaskConsumer::bind(worker_queue, names);

  int messages = (run.tasks + run.tasks_per_message - 1) / run.tasks_per_message;
  std::vector<std::vector<uni::proto::Task>> batches;
  for (int m = 0; m < messages; ++m)
    batches.push_back(
        make_batch(1 + static_cast<std::uint64_t>(m) * run.tasks_per_message,
                   std::min(run.tasks_per_message, run.tasks - m * run.tasks_per_message)));
  std::vector<std::string> encoded;
  for (auto& batch : batches) {
    std::vector<const uni::proto::Task*> pointers;
    for (auto& task : batch) pointers.push_back(&task);
    encoded.push_back(uni::proto::encode_tasks(pointers));
  }

  std::atomic<int> received{0};
  auto start = bench::Clock::now();
  std::thread fetcher([&] {
    while (received.load() < run.tasks) {
      for (TaskDelivery& delivery : consumer.fetch(256, 1s)) {
        received += static_cast<int>(delivery.tasks().size());
        delivery.ack();
      }
    }
  });
  AsyncPublisher publisher(boss, {.max_pending = 4096});
  for (int m = 0; m < messages; ++m)
    publisher.publish(queue.subject(), encoded[static_cast<std::size_t>(m)],
                      platform + "-" + std::to_string(m));
  publisher.finish();
  double publish_s = bench::seconds_since(start);
  fetcher.join();
  boss.flush();
  worker.flush();
  double total_s = bench::seconds_since(start);
  boss_js.delete_stream(queue.stream());

  bench::Json line;
  line["bench"] = "nats_publish_fetch";
  line["nodes"] = nats.size();
  line["replicas"] = nats.size();
  line["tasks_per_message"] = run.tasks_per_message;
  line["tasks"] = run.tasks;
  line["message_bytes"] = encoded.front().size();
  line["seconds"] = bench::round_to(total_s, 3);
  line["tasks_per_s"] = bench::round_to(run.tasks / total_s, 0);
  line["messages_per_s"] = bench::round_to(messages / total_s, 0);
  line["publish_tasks_per_s"] = bench::round_to(run.tasks / publish_s, 0);
  return line;
}

bench::Json measure_round_trip(uni::test::NatsCluster& nats, int round_trips) {
  using namespace uni::nats;
  const std::string platform = "bench-rt";
  const std::uint64_t session = 0xbe;
  Names names;
  Connection boss = Connection::connect({.address = nats.address()});
  Connection worker = Connection::connect({.address = nats.address()});
  JetStream boss_js(boss), worker_js(worker);
  TaskQueue queue = TaskQueue::open(boss_js, names, platform, {.replicas = nats.size()});
  TaskQueue worker_queue = TaskQueue::open(worker_js, names, platform, {.replicas = nats.size()});
  TaskConsumer consumer = TaskConsumer::bind(worker_queue, names);
  ResultStream boss_results = ResultStream::open(boss_js, names, {.replicas = nats.size()});
  ResultStream worker_results = ResultStream::open(worker_js, names, {.replicas = nats.size()});
  ResultFeed feed = boss_results.subscribe(session);
  boss.flush();

  std::atomic<bool> done{false};
  std::thread fetcher([&] {
    AsyncPublisher publisher(worker);
    std::uint64_t n = 0;
    while (!done.load()) {
      for (TaskDelivery& delivery : consumer.fetch(1, 500ms)) {
        std::vector<uni::proto::Result> results;
        for (const uni::proto::Task& task : delivery.tasks()) {
          uni::proto::Result r;
          r.id = task.id;
          r.status = uni::proto::Status::kOk;
          r.payload = task.args;
          results.push_back(std::move(r));
        }
        std::vector<const uni::proto::Result*> pointers;
        for (const auto& r : results) pointers.push_back(&r);
        publisher.publish(names.result_subject(session), uni::proto::encode_results(pointers),
                          "rt-result-" + std::to_string(++n));
        delivery.ack();
      }
    }
    publisher.finish();
  });
  AsyncPublisher publisher(boss);
  std::vector<double> us;
  const int warmup = 200;
  for (int i = 0; i < warmup + round_trips; ++i) {
    std::vector<uni::proto::Task> task = make_batch(static_cast<std::uint64_t>(i) + 1, 1);
    task.front().id.session = session;
    std::vector<const uni::proto::Task*> pointers{&task.front()};
    auto t0 = bench::Clock::now();
    publisher.publish(queue.subject(), uni::proto::encode_tasks(pointers),
                      TaskQueue::batch_id(pointers));
    for (;;) {
      std::vector<uni::proto::Result> got = feed.next(2s);
      if (got.empty()) throw std::runtime_error("no result within 2 s");
      if (got.front().id == task.front().id) break;
    }
    if (i >= warmup) us.push_back(bench::us_between(t0, bench::Clock::now()));
  }
  done = true;
  fetcher.join();
  publisher.finish();
  boss_js.delete_stream(queue.stream());

  bench::Json line;
  line["bench"] = "nats_round_trip";
  line["nodes"] = nats.size();
  line["replicas"] = nats.size();
  line["round_trips"] = round_trips;
  line["p50_us"] = bench::round_to(bench::quantile(us, 0.5), 1);
  line["p99_us"] = bench::round_to(bench::quantile(us, 0.99), 1);
  return line;
}

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  for (std::string part; std::getline(ss, part, ',');)
    if (!part.empty()) out.push_back(std::stoi(part));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"uni-nats-bench: JetStream publish+fetch throughput by tasks per message"};
  bool quick = false;
  std::string batch_text = "1,10,100,1000", nodes_text = "1,3";
  app.add_flag("--quick", quick, "fewer tasks (a few seconds)");
  app.add_option("--batch", batch_text, "tasks per message, a comma list (default 1,10,100,1000)");
  app.add_option("--nodes", nodes_text, "1 (one server, R1) and/or 3 (cluster, R3)");
  bool round_trip = false;
  app.add_flag("--round-trip", round_trip,
               "the bare one-task round trip (task published, fetched, result published and "
               "received) instead of throughput");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  uni::log::setup("uni-nats-bench", "warn");
  int failures = 0;
  for (int nodes : parse_list(nodes_text)) {
    bench::current_broker() = "nats-" + std::to_string(nodes);
    bench::note("starting %d nats-server node(s)", nodes);
    uni::test::NatsCluster nats(nodes);
    nats.wait_jetstream_ready();
    if (round_trip) {
      try {
        bench::emit(measure_round_trip(nats, quick ? 500 : 2000));
      } catch (const std::exception& e) {
        bench::emit(
            bench::Json{{"bench", "nats_round_trip"}, {"nodes", nodes}, {"error", e.what()}});
        ++failures;
      }
      continue;
    }
    for (int per_message : parse_list(batch_text)) {
      // One task per message is ~100x slower than batches: fewer tasks keep it short.
      int tasks = per_message == 1 ? (quick ? 5'000 : 20'000) : (quick ? 50'000 : 200'000);
      bench::note("%d node(s): %d tasks, %d per message", nodes, tasks, per_message);
      try {
        bench::emit(
            measure(nats, {.nodes = nodes, .tasks_per_message = per_message, .tasks = tasks}));
      } catch (const std::exception& e) {
        bench::Json line;
        line["bench"] = "nats_publish_fetch";
        line["nodes"] = nodes;
        line["tasks_per_message"] = per_message;
        line["error"] = e.what();
        bench::emit(line);
        ++failures;
      }
    }
  }
  return failures == 0 ? 0 : 1;
}
