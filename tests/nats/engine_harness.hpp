// A boss engine and a worker engine driven by hand on real nats-servers,
// for the engine tests: their configuration, tasks to submit, and a pump that
// runs the pair (modules put and fetched as asked) until results come.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nats/boss/boss_engine.hpp"
#include "nats/worker/worker_engine.hpp"
#include "nats_server.hpp"
#include "nats_test_util.hpp"

namespace uni::nats {

using namespace std::chrono_literals;

inline const std::string kPlatform = "x86_64-linux-libstdc++-cxx11";
inline const std::string kModuleBytes = "module bytes";

inline EngineConfig config_for(const test::NatsCluster& nats,
                               std::chrono::milliseconds ack_wait = 30s) {
  EngineConfig config;
  config.connect.address = nats.address();
  config.ack_wait = ack_wait;
  config.max_deliver = 5;
  return config;
}

inline WorkerIdentity identity(const std::string& id) {
  return {.id = id,
          .host = "testhost",
          .platform = kPlatform,
          .isolation = "thread",
          .pid = 42,
          .slots = 4};
}

inline std::vector<proto::Task> tasks(std::uint64_t session, int count,
                                      std::uint8_t max_attempts = 3) {
  std::vector<proto::Task> out = testing::make_tasks(session, 1, count);
  for (proto::Task& t : out) t.max_attempts = max_attempts;
  return out;
}

// Waits for either engine's fd, up to `timeout`.
inline void wait_for_events(const BossEngine* boss, const WorkerEngine* worker,
                            std::chrono::milliseconds timeout) {
  std::vector<pollfd> fds;
  if (boss) fds.push_back({boss->wake_fd(), POLLIN, 0});
  if (worker) fds.push_back({worker->wake_fd(), POLLIN, 0});
  ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
}

// Runs a boss and a worker until `want` results came or `timeout` passed.
// `run` decides each task's result; modules are put and fetched as asked;
// the boss's notices go to `notices` if given.
inline std::map<proto::TaskId, std::vector<proto::Result>> pump(
    BossEngine& boss, WorkerEngine* worker, std::size_t want,
    const std::function<proto::Result(const proto::Task&)>& run,
    std::chrono::milliseconds timeout = 20s, std::vector<std::string>* notices = nullptr) {
  std::map<proto::TaskId, std::vector<proto::Result>> got;
  std::size_t count = 0;
  std::vector<proto::Task> waiting_module;
  bool have_module = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (count < want && std::chrono::steady_clock::now() < deadline) {
    wait_for_events(&boss, worker, 100ms);
    BossEvents b = boss.take();
    if (notices) notices->insert(notices->end(), b.notices.begin(), b.notices.end());
    for (const ModuleHash& hash : b.modules_needed) {
      EXPECT_EQ(hash, ModuleHash::of(kModuleBytes));
      boss.put_module(hash, kPlatform, kModuleBytes);
    }
    for (proto::Result& r : b.results) {
      got[r.id].push_back(r);
      ++count;
    }
    if (!worker) continue;
    WorkerEngineEvents w = worker->take();
    for (proto::ModuleReply& m : w.modules) {
      EXPECT_TRUE(m.bytes) << m.error;
      if (!m.bytes) continue;
      EXPECT_EQ(*m.bytes, kModuleBytes);
      have_module = true;
    }
    for (proto::Task& t : w.tasks) {
      if (!have_module && waiting_module.empty()) worker->fetch_module(t.module);
      waiting_module.push_back(t);
    }
    if (have_module && !waiting_module.empty()) {
      std::vector<proto::Result> results;
      for (const proto::Task& t : waiting_module) results.push_back(run(t));
      std::vector<const proto::Result*> ptrs;
      for (const proto::Result& r : results) ptrs.push_back(&r);
      worker->send_results(ptrs);
      waiting_module.clear();
    }
  }
  return got;
}

inline proto::Result echo(const proto::Task& t) {
  proto::Result r;
  r.id = t.id;
  r.payload = t.args;
  r.attempt = t.attempt;
  return r;
}

}  // namespace uni::nats
