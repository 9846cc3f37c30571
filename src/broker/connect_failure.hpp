// Why a link's first connection failed (BossLink::open, WorkerLink::open),
// in the terms a caller acts on: wait and try again (kUnreachable), or give
// up (kAuthFailed, kProtocol). The client turns it into uni::ConnectError.
#pragma once

#include <stdexcept>
#include <string>

namespace uni::broker {

class ConnectFailure : public std::runtime_error {
 public:
  enum class Reason { kUnreachable, kAuthFailed, kProtocol };
  ConnectFailure(Reason reason, const std::string& what)
      : std::runtime_error(what), reason_(reason) {}
  Reason reason() const { return reason_; }

 private:
  Reason reason_;
};

}  // namespace uni::broker
