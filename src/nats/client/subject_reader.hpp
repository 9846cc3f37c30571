// Reads the stored messages of one subject of a stream through an ephemeral
// push consumer made with $JS.API.CONSUMER.CREATE.<stream>.<name>.<subject>:
// the subject is in the API subject, where a server permission can name it,
// so a user can be allowed to read its own subjects and no others. A direct
// get ($JS.API.DIRECT.GET.<stream>) carries its subject in the request body,
// which permissions cannot see. nats-server 2.9 checks that the filter in
// the body is the one in the API subject.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "nats/client/connection.hpp"
#include "nats/client/message.hpp"

namespace uni::nats {

struct SubjectRead {
  Message message;
  std::uint64_t stream_seq = 0;
};

// The messages of `subject` (one subject, no wildcards) stored in `stream`
// from stream sequence `from` on, in order; empty if the stream has none or
// does not exist. The consumer is delivered to a fresh inbox of the
// connection, acks nothing, and is removed by the server once the read is
// over (inactive threshold), so the reader needs no permission to delete
// consumers. Throws NatsError (a refused or unanswered request, a delivery
// that stopped coming within `timeout`).
std::vector<SubjectRead> read_subject(Connection& connection, const std::string& stream,
                                      const std::string& subject, std::uint64_t from,
                                      std::chrono::milliseconds timeout);

}  // namespace uni::nats
