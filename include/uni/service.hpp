// uni/service.hpp — services that can become new code while they run,
// keeping their state and their connections (`uni become`, Erlang's
// code_change).
//
// A service that supports become takes a uni::ServiceContext& as its first
// parameter. The context is not an argument: `uni spawn m.so server 5001`
// and `cluster.spawn(server, 5001)` pass only the port.
//
//   int server(uni::ServiceContext& ctx, int port) {
//     EchoState state;                                  // any type an argument may have
//     std::vector<Fd> fds;
//     if (auto prior = ctx.take_over<EchoState>()) {    // started by a become:
//       state = prior->state;                           //   carry on from the old version
//       fds = adopt(prior->fds);                        //   its listener and clients, now ours
//     } else {
//       fds.push_back(listen_on(port));                 // started fresh
//     }
//     for (;;) {
//       poll(fds + ctx.handover_fd(), ...);             // wakes on a become request too
//       if (ctx.handover_requested()) ctx.hand_over(state, raw(fds));  // does not return
//       ...serve...
//     }
//   }
//   UNI_EXPORT(server);
//
// What happens on `uni become ID new.so server`: the running version sees
// handover_fd() readable and calls hand_over(state, fds); the executor
// loads new.so beside the old module in the same process and calls its
// `server` with the original spawn arguments; take_over() there returns the
// state (checked like an argument) and the descriptors. If the new version
// cannot be loaded, is not exported, cannot take the state or throws before
// take_over() returns, the OLD version is called again the same way and
// takes over its own state: so a service that hands over must also be able
// to take over what it handed over.
//
// Services written without a context keep working; `uni become` refuses
// them. Under --isolation thread a service is never asked to hand over.
//
// A ServiceContext is used on the thread that runs the service function.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "uni/detail/service_abi.hpp"
#include "uni/detail/types.hpp"

namespace uni {

// What take_over() gives a new version of a service.
template <class State>
struct Takeover {
  State state;
  // The descriptors the previous version handed over, in its order. They are
  // yours: close them when you are done (the previous version's own copies
  // are gone).
  std::vector<int> fds;
};

namespace detail {

// Thrown by hand_over() to unwind the service back to its invoker. Not a
// std::exception, so that `catch (const std::exception&)` lets it pass; a
// `catch (...)` in the service must rethrow it. Copies share the payload;
// descriptors that never reach the executor are closed with the last copy.
class HandOver {
 public:
  struct Payload {
    std::string state;  // msgpack
    std::vector<int> fds;
    ~Payload() {
      for (int fd : fds) ::close(fd);
    }
  };
  explicit HandOver(std::shared_ptr<Payload> payload) : payload_(std::move(payload)) {}
  // Gives the descriptors to `host` (which owns them from then on).
  void deliver(const uni_service_host& host) const {
    host.handing_over(host.self, payload_->state.data(), payload_->state.size(),
                      payload_->fds.data(), payload_->fds.size());
    payload_->fds.clear();
  }

 private:
  std::shared_ptr<Payload> payload_;
};

template <auto Fn>
void invoke_service(const char* data, std::size_t size, const uni_service_host* host, void* ctx,
                    uni_emit_fn emit) noexcept;

}  // namespace detail

class ServiceContext {
 public:
  ServiceContext(const ServiceContext&) = delete;
  ServiceContext& operator=(const ServiceContext&) = delete;

  // A descriptor to poll for POLLIN beside your own: it is readable while
  // the service is asked to hand over. -1 when this run can never be asked
  // (poll() ignores a negative descriptor). Do not read or close it.
  int handover_fd() const noexcept { return host_ ? host_->handover_fd : -1; }

  // Whether a hand-over is requested now (a become waits for this service).
  // Costs no system call; a request withdrawn after its time limit reads
  // false again.
  bool handover_requested() const noexcept {
    return host_ && host_->requested && host_->requested(host_->self) != 0;
  }

  // Whether this run continues a service (a become started it, or a failed
  // become resumed it) and take_over() has not been called yet.
  bool taking_over() const noexcept { return host_ && host_->prior_state && !taken_; }

  // Ends this version of the service: `state` (any type a uni function may
  // take or return) and duplicates of `fds` go to the next version, and the
  // stack unwinds to the executor (your destructors run and may close your
  // own copies of the descriptors). Does not return. Throws, without handing
  // anything over, std::system_error if a descriptor cannot be duplicated
  // and std::logic_error if this run cannot be handed over (handover_fd()
  // is -1).
  template <class State>
  [[noreturn]] void hand_over(const State& state, const std::vector<int>& fds = {}) {
    if (!host_ || host_->handover_fd < 0)
      throw std::logic_error(
          "hand_over: this run of the service cannot be handed over (it runs as a plain "
          "function: thread isolation, or not started by an executor)");
    auto payload = std::make_shared<detail::HandOver::Payload>();
    detail::PackBuffer packed;
    detail::Packer(packed).pack(state);
    payload->state = std::move(packed.data);
    for (int fd : fds) {
      int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      if (copy < 0)
        throw std::system_error(errno, std::generic_category(),
                                "hand_over: cannot duplicate descriptor " + std::to_string(fd));
      payload->fds.push_back(copy);
    }
    throw detail::HandOver(std::move(payload));
  }

  // In a run that continues a service: the state its predecessor handed
  // over, decoded as State and checked the way arguments are, and its
  // descriptors, which become yours. Empty for a fresh start (spawn).
  // Throws std::invalid_argument ("state: expected ..., got ...") if the
  // state is not a State: the predecessor then resumes with its state and
  // descriptors, and the become fails with that message.
  template <class State>
  std::optional<Takeover<State>> take_over() {
    if (!host_ || !host_->prior_state) return std::nullopt;
    if (taken_) throw std::logic_error("take_over: called twice");
    Takeover<State> out{};
    std::string error;
    try {
      msgpack::object_handle handle =
          detail::unpack_checked(host_->prior_state, host_->prior_state_size);
      if (!detail::Codec<State>::decode(handle.get(), out.state, error)) error = "state: " + error;
    } catch (const std::exception& e) {
      error = std::string("state: not valid msgpack: ") + e.what();
    }
    if (!error.empty()) throw std::invalid_argument(error);
    out.fds.assign(host_->prior_fds, host_->prior_fds + host_->prior_fd_count);
    taken_ = true;
    host_->took_over(host_->self);
    return out;
  }

 private:
  template <auto Fn>
  friend void detail::invoke_service(const char*, std::size_t, const uni_service_host*, void*,
                                     uni_emit_fn) noexcept;
  explicit ServiceContext(const uni_service_host* host) noexcept : host_(host) {}

  const uni_service_host* host_;
  bool taken_ = false;
};

namespace detail {

// Whether F takes a ServiceContext first, and then the pieces of the rest of
// it: what travels (ArgsTuple) and how the worker's table spells it.
template <class F>
struct ServiceTraits {
  static constexpr bool takes_context = false;
};

template <class R, class... Args>
struct ServiceTraits<R (*)(ServiceContext&, Args...)> {
  static constexpr bool takes_context = true;
  using Result = R;
  using ArgsTuple = std::tuple<std::remove_cvref_t<Args>...>;
  static std::string signature(const char* name) {
    std::string params = join_type_names<Args...>();
    return type_name<R>() + " " + name + "(uni::ServiceContext&" +
           (params.empty() ? "" : ", " + params) + ")";
  }
};

template <class R, class... Args>
struct ServiceTraits<R (*)(ServiceContext&, Args...) noexcept>
    : ServiceTraits<R (*)(ServiceContext&, Args...)> {
  static_assert(sizeof(R*) == 0,
                "a service that takes a uni::ServiceContext cannot be noexcept: hand_over() "
                "unwinds it with an exception");
};

}  // namespace detail
}  // namespace uni
