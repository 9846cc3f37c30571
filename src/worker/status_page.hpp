// A page of memory shared by the supervisor and one executor, saying which
// task the executor is running and since when. The executor updates it with
// two plain stores per task, no syscall; when the executor dies, the page
// tells the supervisor which task of a pipelined batch killed it, so that
// only that task is charged with the crash.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/unique_fd.hpp"

namespace uni::worker {

struct StatusPage {
  std::atomic<std::uint64_t> running_tag{0};  // 0: between tasks
  std::atomic<std::int64_t> started_ns{0};    // steady clock (CLOCK_MONOTONIC) at its start
  // The task started last, kept after it ends: if the executor dies with
  // running_tag 0 before that task's result came out, it is the one that
  // broke the executor (closed or garbled its channel, say).
  std::atomic<std::uint64_t> last_started_tag{0};
  // Set by an executor that found its channel closed or replaced after its
  // tasks from this tag up to last_started_tag had run: one of them did it
  // (one only, unless a task too quick to be checked alone did; executor.cpp).
  std::atomic<std::uint64_t> charge_from{0};
  // Tasks the supervisor takes back: tags in [recall_from, recall_to] not yet
  // started are answered "handed back" instead of run (0: none).
  std::atomic<std::uint64_t> recall_from{0};
  std::atomic<std::uint64_t> recall_to{0};
  // Become (executor_service.hpp). The running task's tag while it is a
  // service that can be handed over (its function takes a ServiceContext).
  std::atomic<std::uint64_t> handover_capable_tag{0};
  // The become request in progress, and where it stands (HandoverState):
  // the supervisor requests and may withdraw (back to idle), the executor
  // accepts, and a compare-and-swap decides which of the last two came first.
  std::atomic<std::uint64_t> handover_id{0};
  std::atomic<std::uint32_t> handover_state{0};
  // The system call the sandbox denied the executor, which then died of
  // SIGSYS (seccomp_filter.hpp); 0: none.
  std::atomic<std::int32_t> denied_syscall{0};
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

enum HandoverState : std::uint32_t {
  kHandoverIdle = 0,
  kHandoverRequested = 1,  // the service is asked to hand over (its handover fd is readable)
  kHandoverAccepted = 2,   // it did: the executor is starting the new version
};

class SharedStatusPage {
 public:
  // Supervisor side: a new page in a memfd. Throws std::runtime_error.
  static SharedStatusPage create();
  // Executor side: maps the page the supervisor passed as `fd`.
  static SharedStatusPage attach(int fd);

  SharedStatusPage() = default;
  SharedStatusPage(SharedStatusPage&& other) noexcept;
  SharedStatusPage& operator=(SharedStatusPage&& other) noexcept;
  ~SharedStatusPage();

  StatusPage* page() const { return page_; }
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  StatusPage* page_ = nullptr;
};

}  // namespace uni::worker
