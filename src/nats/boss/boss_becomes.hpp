// A boss's become requests on NATS, from `uni become` to the worker's answer:
// the service looked up in the services bucket (which worker runs it), the
// new module stored in the object store by hash (asked of the boss if it is
// not there yet, as a submit does), its platform checked against the
// worker's, and the request sent to that worker (nats/store/become_channel.hpp),
// whose reply, or the reason there is none, answers it. Each request waits
// on a thread of its own, so the link's thread never blocks on a become.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/wake_fd.hpp"
#include "nats/client/connection.hpp"
#include "nats/store/engine_config.hpp"
#include "proto/become.hpp"

namespace uni::nats {

class BossBecomes {
 public:
  using Answer = std::function<void(proto::BecomeReply)>;

  BossBecomes(Connection& connection, EngineConfig config);
  // Answers what is still waiting "not ok" (the boss is closing) and joins.
  ~BossBecomes();
  BossBecomes(const BossBecomes&) = delete;
  BossBecomes& operator=(const BossBecomes&) = delete;

  // Readable when take_modules_needed() has something.
  int wake_fd() const { return wake_.fd(); }

  // Starts a become; `answer` is called once, from another thread.
  void request(const proto::BecomeRequest& request, Answer answer);
  // Modules a request waits for: the boss answers with module_arrived().
  std::vector<ModuleHash> take_modules_needed();
  // A module's bytes from the boss. True if a request waited for it (it is
  // stored by that request); false if none did.
  bool module_arrived(const ModuleHash& hash, const std::string& platform, std::string bytes,
                      const std::vector<std::string>& signatures = {});
  bool pending() const;

  // How long a request waits for its module from the boss.
  static constexpr std::chrono::seconds kModuleWait{20};
  // Beyond twice the hand-over limit (the old version's hand-over, then the
  // new one's take-over), how long the worker is given to answer.
  static constexpr std::chrono::seconds kAnswerMargin{15};

 private:
  struct Upload {
    std::string platform, bytes;
    std::vector<std::string> signatures;
  };
  void run(proto::BecomeRequest request, const Answer& answer);
  proto::BecomeReply become(const proto::BecomeRequest& request);
  // The module's platform, uploading it first if the store lacks it; throws
  // std::runtime_error saying why it could not be had.
  std::string module_platform(const ModuleHash& hash);
  void reap_finished();  // under mutex_

  Connection& connection_;
  EngineConfig config_;
  WakeFd wake_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::size_t running_ = 0;
  std::vector<ModuleHash> needed_;        // for take_modules_needed()
  std::map<ModuleHash, int> awaited_;     // modules requests wait for, and how many
  std::map<ModuleHash, Upload> uploads_;  // arrived, for the requests that wait
  struct Worker {
    std::thread thread;
    bool done = false;
  };
  std::list<Worker> threads_;
};

}  // namespace uni::nats
