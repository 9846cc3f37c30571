// Services that can be handed over, executor side (see executor_service.hpp).
//
// A hand-over, step by step (the supervisor's half is in executor_pool.cpp):
//   1. the supervisor writes BECOME on the channel, sets the status page to
//      kHandoverRequested and writes the eventfd the service polls;
//   2. the service calls ctx.hand_over(state, fds): the fds are duplicated,
//      the stack unwinds, and the invoker gives state and duplicates to the
//      executor (handing_over) before it returns;
//   3. the executor accepts the request (a compare-and-swap against the
//      supervisor withdrawing it at its time limit), reads the BECOME, loads
//      the new module beside the old one and calls the new function with the
//      service's spawn arguments and the inheritance;
//   4. its ctx.take_over() decodes the state: BECAME ok, and the descriptors
//      are the new version's. Should anything before that fail, the old
//      function is called again with the inheritance, takes over its own
//      state, and BECAME says why.
#include "worker/executor_service.hpp"

#include <unistd.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "common/unique_fd.hpp"

namespace uni::worker {

namespace {

using Clock = std::chrono::steady_clock;

// What one version hands the next, held by the executor in between.
struct Inheritance {
  std::string state;  // msgpack
  std::vector<UniqueFd> fds;
  std::vector<int> numbers;  // the same descriptors, as the host passes them
};

struct Version {
  const LoadedModule* module = nullptr;
  std::string function;
  uni_service_invoke_fn invoke = nullptr;
};

// One call of one version: the host it is lent, and what it did with it.
class VersionCall {
 public:
  VersionCall(ServiceHost& host, Inheritance* prior) : service_host_(host) {
    host_.abi_version = UNI_SERVICE_ABI_VERSION;
    host_.handover_fd = host.handover_fd;
    if (prior) {
      host_.prior_state = prior->state.data();
      host_.prior_state_size = prior->state.size();
      host_.prior_fds = prior->numbers.data();
      host_.prior_fd_count = prior->numbers.size();
    }
    prior_ = prior;
    host_.self = this;
    host_.requested = &requested;
    host_.took_over = &took_over;
    host_.handing_over = &handing_over;
  }
  VersionCall(const VersionCall&) = delete;
  VersionCall& operator=(const VersionCall&) = delete;

  const uni_service_host& host() const { return host_; }
  // Called when the version takes over (it runs on, inside its call).
  std::function<void()> on_took_over;

  bool took_over_ = false;
  std::optional<Inheritance> handed;
  Clock::time_point handed_at{};

 private:
  static int requested(void* self) {
    auto* call = static_cast<VersionCall*>(self);
    return call->service_host_.page->handover_state.load(std::memory_order_acquire) ==
           kHandoverRequested;
  }
  static void took_over(void* self) {
    auto* call = static_cast<VersionCall*>(self);
    call->took_over_ = true;
    // The descriptors are the version's now: the executor lets go of them.
    if (call->prior_)
      for (UniqueFd& fd : call->prior_->fds) fd.release();
    if (call->on_took_over) call->on_took_over();
  }
  static void handing_over(void* self, const char* state, std::size_t size, const int* fds,
                           std::size_t count) {
    auto* call = static_cast<VersionCall*>(self);
    Inheritance& out = call->handed.emplace();
    out.state.assign(state, size);
    for (std::size_t i = 0; i < count; ++i) {
      out.fds.emplace_back(fds[i]);
      out.numbers.push_back(fds[i]);
    }
    call->handed_at = Clock::now();
  }

  ServiceHost& service_host_;
  Inheritance* prior_ = nullptr;
  uni_service_host host_{};
};

// Why a new version did not take over, from the outcome of its call.
std::string why_not(const Version& v, const Outcome& out) {
  switch (out.status) {
    case proto::Status::kOk:
      return v.function + " returned before it took over (a new version calls ctx.take_over())";
    case proto::Status::kBadArguments: return out.payload;  // names the function and signature
    default: return v.function + " failed before it took over: " + out.payload;
  }
}

// The new version a BECOME names, or why it cannot be one.
std::optional<Version> resolve(ServiceHost& host, const BecomeOrder& order, std::string& error) {
  const LoadedModule* module = host.load(order.module_path, error);
  if (!module) return std::nullopt;
  const uni_export* e = module->find(order.function);
  if (!e) {
    error =
        "unknown function '" + order.function + "': the module exports " + module->export_names();
    return std::nullopt;
  }
  uni_service_invoke_fn invoke = module->find_service(order.function);
  if (!invoke) {
    error = order.function +
            " cannot take over a service: it takes no uni::ServiceContext& (signature: " +
            e->signature + ")";
    return std::nullopt;
  }
  return Version{module, order.function, invoke};
}

void clear(int eventfd) {
  std::uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(eventfd, &count, sizeof(count));
}

}  // namespace

Outcome run_service(ServiceHost& host, std::uint64_t tag, const LoadedModule& module,
                    const std::string& function, uni_service_invoke_fn service,
                    std::string_view args) {
  StatusPage& page = *host.page;
  // A request left from an earlier service of this executor is void.
  page.handover_state.store(kHandoverIdle, std::memory_order_release);
  if (host.handover_fd >= 0) {
    clear(host.handover_fd);
    page.handover_capable_tag.store(tag, std::memory_order_release);
  }

  Version running{&module, function, service};
  // While `running` is a new version that has not taken over: the one it
  // replaces, resumed if it fails.
  std::optional<Version> previous;
  std::optional<Inheritance> inherited;  // between a hand-over and a take-over
  Clock::time_point inherited_at{};      // when it was handed over
  std::uint64_t order_id = 0;
  auto report = [&](bool ok, std::string text, std::chrono::nanoseconds took) {
    page.handover_state.store(kHandoverIdle, std::memory_order_release);
    host.report({order_id, ok, std::move(text), took});
  };

  for (;;) {
    VersionCall call(host, inherited ? &*inherited : nullptr);
    call.on_took_over = [&] {
      if (!previous) return;  // a resumed version taking its own state back
      previous.reset();
      report(true, {}, Clock::now() - inherited_at);
    };
    Outcome out =
        invoke_service(*running.module, running.function, running.invoke, args, call.host());
    if (call.took_over_) inherited.reset();
    if (out.handed_over && inherited) {
      // It handed over what it had not taken: its hand-over is void (its
      // duplicates close), and it counts as a failure to take over.
      out = {proto::Status::kException, "it handed over before taking over", false};
    }
    if (out.handed_over) {
      inherited = std::move(call.handed);
      inherited_at = call.handed_at;
      // Accept the request, unless the supervisor withdrew it meanwhile (or
      // none was made): then the same version continues from its state.
      std::uint32_t expected = kHandoverRequested;
      if (!page.handover_state.compare_exchange_strong(expected, kHandoverAccepted,
                                                       std::memory_order_acq_rel))
        continue;
      clear(host.handover_fd);
      order_id = page.handover_id.load(std::memory_order_acquire);
      std::optional<BecomeOrder> order = host.next_order(order_id);
      if (!order)  // the supervisor is gone: nobody to serve
        return {proto::Status::kException, "the worker went away during a become", false};
      std::string error;
      if (std::optional<Version> next = resolve(host, *order, error)) {
        previous = std::move(running);
        running = std::move(*next);
      } else {
        report(false, std::move(error), {});
      }
      continue;
    }
    if (previous) {  // the new version failed before it took over: the old one resumes
      report(false, why_not(running, out), {});
      running = std::move(*previous);
      previous.reset();
      continue;
    }
    page.handover_capable_tag.store(0, std::memory_order_release);
    return out;  // the service has ended: its result, or its failure
  }
}

}  // namespace uni::worker
