// Messages a hostile peer sends (see forged_messages.hpp).
#include "forged_messages.hpp"

#include "common/key_files.hpp"
#include "uni/detail/platform.hpp"

namespace uni::test {

std::string worker_hello(const std::string& id, std::uint32_t capacity,
                         const std::vector<proto::RunningTask>& running,
                         const std::string& secret) {
  proto::Hello h;
  h.role = "worker";
  h.worker_id = id;
  h.host = "attacker";
  h.pid = 1;
  h.slots = 1;
  h.capacity = capacity;
  h.platform = UNI_PLATFORM_TAG;
  h.isolation = "process";
  h.running = running;
  h.secret = secret;
  return proto::encode_hello(h);
}

std::uint64_t session_of_key(const TestCluster& cluster, const std::string& name) {
  ClientKey key = read_client_key(cluster.key_file(name).string());
  return (static_cast<std::uint64_t>(owner_tag(key.public_key)) << 32) | 1;
}

std::string boss_hello(std::uint64_t session, const std::string& secret) {
  proto::Hello h;
  h.role = "boss";
  h.session = session;
  h.secret = secret;
  return proto::encode_hello(h);
}

std::string forged_result(const proto::TaskId& id, const std::string& msgpack_value) {
  proto::Result r;
  r.id = id;
  r.status = proto::Status::kOk;
  r.payload = msgpack_value;
  return proto::encode_results({&r});
}

std::string msgpack_uint(std::uint64_t v) {
  msgpack::sbuffer b;
  msgpack::pack(b, v);
  return std::string(b.data(), b.size());
}

}  // namespace uni::test
