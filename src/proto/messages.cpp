// Encoding and defensive decoding of protocol messages (docs/protocol.md).
#include "proto/messages.hpp"

#include <sodium.h>

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <limits>

namespace uni::proto {

const char* type_name(Type type) {
  switch (type) {
    case Type::kHello: return "HELLO";
    case Type::kWelcome: return "WELCOME";
    case Type::kError: return "ERROR";
    case Type::kHeartbeat: return "HEARTBEAT";
    case Type::kSubmit: return "SUBMIT";
    case Type::kNeedModule: return "NEED_MODULE";
    case Type::kPutModule: return "PUT_MODULE";
    case Type::kResult: return "RESULT";
    case Type::kAck: return "ACK";
    case Type::kCancel: return "CANCEL";
    case Type::kCancelReply: return "CANCEL_REPLY";
    case Type::kStatus: return "STATUS";
    case Type::kStatusReply: return "STATUS_REPLY";
    case Type::kTasks: return "TASKS";
    case Type::kFetchModule: return "FETCH_MODULE";
    case Type::kModule: return "MODULE";
    case Type::kCredit: return "CREDIT";
    case Type::kNotice: return "NOTICE";
    case Type::kBye: return "BYE";
    case Type::kServiceStarted: return "SERVICE_STARTED";
    case Type::kBecome: return "BECOME";
    case Type::kBecomeReply: return "BECOME_REPLY";
    case Type::kFetchResult: return "FETCH_RESULT";
    case Type::kKeptResult: return "KEPT_RESULT";
    case Type::kChunk: return "CHUNK";
  }
  return "UNKNOWN";
}

std::string TaskId::str() const {
  char out[48];
  std::snprintf(out, sizeof(out), "%016" PRIx64 "-%" PRIu64, session, seq);
  return out;
}

std::optional<TaskId> TaskId::parse(std::string_view text) {
  std::size_t dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 16) return std::nullopt;
  TaskId id;
  const char* end = text.data() + text.size();
  auto [p1, e1] = std::from_chars(text.data(), text.data() + dash, id.session, 16);
  auto [p2, e2] = std::from_chars(text.data() + dash + 1, end, id.seq, 10);
  if (e1 != std::errc() || p1 != text.data() + dash || e2 != std::errc() || p2 != end ||
      dash + 1 == text.size())
    return std::nullopt;
  return id;
}

// ---- encoding ----------------------------------------------------------------

namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

// Starts [type, version, ...] with `fields` body fields to follow.
class Writer {
 public:
  Writer(Type type, std::uint32_t fields, std::size_t reserve = 64)
      : buffer_(reserve), packer_(buffer_) {
    packer_.pack_array(2 + fields);
    packer_.pack_uint8(static_cast<std::uint8_t>(type));
    packer_.pack_uint32(kVersion);
  }
  Packer& p() { return packer_; }
  void str(std::string_view s) {
    packer_.pack_str(static_cast<std::uint32_t>(s.size()));
    packer_.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
  }
  void bin(std::string_view s) {
    packer_.pack_bin(static_cast<std::uint32_t>(s.size()));
    packer_.pack_bin_body(s.data(), static_cast<std::uint32_t>(s.size()));
  }
  void id(const TaskId& id) {
    packer_.pack_uint64(id.session);
    packer_.pack_uint64(id.seq);
  }
  std::string done() { return std::string(buffer_.data(), buffer_.size()); }

 private:
  msgpack::sbuffer buffer_;
  Packer packer_;
};

void write_task(Writer& w, const Task& t) {
  w.p().pack_array(10);
  w.id(t.id);
  w.bin(t.module.raw());
  w.str(t.function);
  w.bin(t.args);
  w.p().pack_uint32(t.timeout_ms);
  w.p().pack_uint32(t.wait_ms);
  w.p().pack_uint8(t.max_attempts);
  w.p().pack_uint8(t.flags);
  w.p().pack_uint8(t.attempt);
}

void write_running(Writer& w, const RunningTask& t) {
  w.p().pack_array(t.args_digest ? 7 : 6);
  w.id(t.id);
  w.bin(t.module.raw());
  w.str(t.function);
  w.p().pack_uint8(t.flags);
  w.p().pack_uint8(t.attempt);
  if (t.args_digest) w.p().pack_uint64(*t.args_digest);
}

void write_key(Writer& w, std::string_view key) { w.str(key); }

std::size_t tasks_size(const std::vector<const Task*>& tasks) {
  std::size_t n = 32;
  for (const Task* t : tasks) n += 80 + t->function.size() + t->args.size();
  return n;
}

}  // namespace

std::string encode_hello(const Hello& h) {
  Writer w(Type::kHello, 2);
  w.str(h.role);
  const std::uint32_t secret = h.secret.empty() ? 0 : 1;
  if (h.role == "boss") {
    w.p().pack_map(1 + secret);
    write_key(w, "session");
    w.p().pack_uint64(h.session);
  } else {
    w.p().pack_map(8 + secret + (h.also_platforms.empty() ? 0 : 1));
    write_key(w, "id");
    w.str(h.worker_id);
    write_key(w, "host");
    w.str(h.host);
    write_key(w, "pid");
    w.p().pack_uint32(h.pid);
    write_key(w, "slots");
    w.p().pack_uint32(h.slots);
    write_key(w, "capacity");
    w.p().pack_uint32(h.capacity);
    write_key(w, "platform");
    w.str(h.platform);
    write_key(w, "isolation");
    w.str(h.isolation);
    write_key(w, "running");
    w.p().pack_array(static_cast<std::uint32_t>(h.running.size()));
    for (const RunningTask& t : h.running) write_running(w, t);
    if (!h.also_platforms.empty()) {
      write_key(w, "also_platforms");
      w.p().pack_array(static_cast<std::uint32_t>(h.also_platforms.size()));
      for (const std::string& p : h.also_platforms) w.str(p);
    }
  }
  if (secret) {
    write_key(w, "secret");
    w.bin(h.secret);
  }
  return w.done();
}

std::string new_hello_secret() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  std::string secret(16, '\0');
  randombytes_buf(secret.data(), secret.size());
  return secret;
}

std::uint64_t digest_args(std::string_view args) {
  static constexpr unsigned char kKey[crypto_shorthash_KEYBYTES] = {
      'u', 'n', 'i', '.', 'a', 'r', 'g', 's', '.', 'd', 'i', 'g', 'e', 's', 't', 0};
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, reinterpret_cast<const unsigned char*>(args.data()), args.size(), kKey);
  std::uint64_t digest = 0;
  for (int i = 7; i >= 0; --i) digest = (digest << 8) | out[i];  // little-endian, as SipHash
  return digest;
}

std::string encode_welcome(const Welcome& welcome) {
  Writer w(Type::kWelcome, 1);
  w.p().pack_map(5);
  write_key(w, "manager");
  w.str(welcome.manager_id);
  write_key(w, "version");
  w.str(welcome.version);
  write_key(w, "heartbeat_ms");
  w.p().pack_uint32(welcome.heartbeat_ms);
  write_key(w, "max_message");
  w.p().pack_uint64(welcome.max_message);
  write_key(w, "max_module");
  w.p().pack_uint64(welcome.max_module);
  return w.done();
}

std::string encode_error(std::string_view code, std::string_view text) {
  Writer w(Type::kError, 2);
  w.str(code);
  w.str(text);
  return w.done();
}

std::string encode_refusal(std::string_view text, const Refusal& refused) {
  Writer w(Type::kError, 3, 64 + text.size() + 18 * refused.ids.size());
  w.str("refused");
  w.str(text);
  w.p().pack_array(3);
  w.p().pack_uint8(static_cast<std::uint8_t>(refused.type));
  w.p().pack_uint64(refused.request);
  w.p().pack_array(static_cast<std::uint32_t>(2 * refused.ids.size()));
  for (const TaskId& id : refused.ids) w.id(id);
  return w.done();
}

std::string encode_heartbeat() { return Writer(Type::kHeartbeat, 0).done(); }

std::string encode_worker_heartbeat(std::uint32_t busy, const std::vector<TaskId>& services,
                                    std::string_view note) {
  Writer w(Type::kHeartbeat, note.empty() ? 2 : 3, 24 + 18 * services.size() + note.size());
  w.p().pack_uint32(busy);
  w.p().pack_array(static_cast<std::uint32_t>(2 * services.size()));
  for (const TaskId& id : services) w.id(id);
  if (!note.empty()) {
    w.p().pack_str(static_cast<std::uint32_t>(note.size()));
    w.p().pack_str_body(note.data(), static_cast<std::uint32_t>(note.size()));
  }
  return w.done();
}

static std::string encode_task_list(Type type, const std::vector<const Task*>& tasks) {
  Writer w(type, 1, tasks_size(tasks));
  w.p().pack_array(static_cast<std::uint32_t>(tasks.size()));
  for (const Task* t : tasks) write_task(w, *t);
  return w.done();
}

std::string encode_submit(const std::vector<const Task*>& tasks) {
  return encode_task_list(Type::kSubmit, tasks);
}

std::string encode_tasks(const std::vector<const Task*>& tasks) {
  return encode_task_list(Type::kTasks, tasks);
}

std::string encode_need_module(const ModuleHash& hash) {
  Writer w(Type::kNeedModule, 1);
  w.bin(hash.raw());
  return w.done();
}

namespace {
// The optional signatures field: written only when there are signatures, so
// that an unsigned module's messages are what they always were.
void write_signatures(Writer& w, const ModuleSignatures& signatures) {
  if (signatures.empty()) return;
  w.p().pack_array(static_cast<std::uint32_t>(signatures.size()));
  for (const std::string& s : signatures) w.bin(s);
}
std::size_t signatures_size(const ModuleSignatures& signatures) { return signatures.size() * 100; }
}  // namespace

std::string encode_put_module(const ModuleHash& hash, std::string_view platform,
                              std::string_view bytes, const ModuleSignatures& signatures) {
  Writer w(Type::kPutModule, signatures.empty() ? 3 : 4,
           bytes.size() + 128 + signatures_size(signatures));
  w.bin(hash.raw());
  w.str(platform);
  w.bin(bytes);
  write_signatures(w, signatures);
  return w.done();
}

std::string encode_results(const std::vector<const Result*>& results) {
  std::size_t reserve = 32;
  for (const Result* r : results)
    reserve += 64 + r->payload.size() + r->worker.size() + r->host.size();
  Writer w(Type::kResult, 1, reserve);
  w.p().pack_array(static_cast<std::uint32_t>(results.size()));
  for (const Result* r : results) pack_result(w.p(), *r);
  return w.done();
}

void pack_result(Packer& p, const Result& r) {
  auto pack_str = [&](std::string_view s) {
    p.pack_str(static_cast<std::uint32_t>(s.size()));
    p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
  };
  p.pack_array(8);
  p.pack_uint64(r.id.session);
  p.pack_uint64(r.id.seq);
  p.pack_uint8(static_cast<std::uint8_t>(r.status));
  p.pack_bin(static_cast<std::uint32_t>(r.payload.size()));
  p.pack_bin_body(r.payload.data(), static_cast<std::uint32_t>(r.payload.size()));
  pack_str(r.worker);
  pack_str(r.host);
  p.pack_uint32(r.pid);
  p.pack_uint8(r.attempt);
}

static std::string encode_id_list(Type type, const std::vector<TaskId>& ids) {
  Writer w(type, 1, 16 + 18 * ids.size());
  w.p().pack_array(static_cast<std::uint32_t>(2 * ids.size()));
  for (const TaskId& id : ids) w.id(id);
  return w.done();
}

std::string encode_ack(const std::vector<TaskId>& ids) { return encode_id_list(Type::kAck, ids); }
std::string encode_service_started(const std::vector<TaskId>& ids) {
  return encode_id_list(Type::kServiceStarted, ids);
}
std::string encode_cancel(const std::vector<TaskId>& ids) {
  return encode_id_list(Type::kCancel, ids);
}

std::string encode_cancel_reply(const std::vector<CancelOutcome>& outcomes) {
  Writer w(Type::kCancelReply, 1);
  w.p().pack_array(static_cast<std::uint32_t>(outcomes.size()));
  for (const CancelOutcome& o : outcomes) {
    w.p().pack_array(3);
    w.id(o.id);
    w.str(cancel_state_name(o.state));
  }
  return w.done();
}

std::string encode_status_request() { return Writer(Type::kStatus, 0).done(); }

std::string encode_status_reply(std::string_view packed_map) {
  Writer w(Type::kStatusReply, 1, packed_map.size() + 16);
  // The map is already msgpack: append it as the body field verbatim.
  std::string out = w.done();
  out.append(packed_map);
  return out;
}

std::string encode_status_reply(const StatusReport& report) {
  return encode_status_reply(pack_status_report(report));
}

std::string encode_fetch_module(const ModuleHash& hash) {
  Writer w(Type::kFetchModule, 1);
  w.bin(hash.raw());
  return w.done();
}

std::string encode_module(const ModuleHash& hash, const std::string* bytes, std::string_view error,
                          const ModuleSignatures& signatures) {
  Writer w(Type::kModule, signatures.empty() ? 3 : 4,
           (bytes ? bytes->size() : 0) + 128 + signatures_size(signatures));
  w.bin(hash.raw());
  if (bytes) w.bin(*bytes);
  else w.p().pack_nil();
  w.str(error);
  write_signatures(w, signatures);
  return w.done();
}

std::string encode_credit(std::uint32_t capacity) {
  Writer w(Type::kCredit, 1);
  w.p().pack_uint32(capacity);
  return w.done();
}

std::string encode_notice(std::string_view text) {
  Writer w(Type::kNotice, 1);
  w.str(text);
  return w.done();
}

std::string encode_bye(std::string_view reason) {
  Writer w(Type::kBye, 1);
  w.str(reason);
  return w.done();
}

// ---- decoding ------------------------------------------------------------------

namespace {

[[noreturn]] void fail(const std::string& what) { throw DecodeError(what); }

using detail::kind_name;

// Reads the fields of one msgpack array in order, naming each in errors.
class Fields {
 public:
  Fields(const msgpack::object& o, const char* what, std::uint32_t min_size) : what_(what) {
    if (o.type != msgpack::type::ARRAY)
      fail(std::string(what) + ": expected array, got " + kind_name(o));
    if (o.via.array.size < min_size)
      fail(std::string(what) + ": expected at least " + std::to_string(min_size) + " fields, got " +
           std::to_string(o.via.array.size));
    ptr_ = o.via.array.ptr;
    size_ = o.via.array.size;
  }

  const msgpack::object& next(const char* name) {
    if (index_ >= size_) fail(std::string(what_) + ": missing field " + name);
    return ptr_[index_++];
  }
  std::uint64_t u64(const char* name) {
    const msgpack::object& o = next(name);
    if (o.type != msgpack::type::POSITIVE_INTEGER) wrong(name, "unsigned integer", o);
    return o.via.u64;
  }
  template <class T>
  T uint(const char* name) {
    std::uint64_t v = u64(name);
    if (v > std::numeric_limits<T>::max())
      fail(std::string(what_) + ": field " + name + " out of range: " + std::to_string(v));
    return static_cast<T>(v);
  }
  std::string str(const char* name) {
    const msgpack::object& o = next(name);
    if (o.type != msgpack::type::STR) wrong(name, "string", o);
    return std::string(o.via.str.ptr, o.via.str.size);
  }
  std::string bin(const char* name) {
    const msgpack::object& o = next(name);
    if (o.type == msgpack::type::BIN) return std::string(o.via.bin.ptr, o.via.bin.size);
    if (o.type == msgpack::type::STR) return std::string(o.via.str.ptr, o.via.str.size);
    wrong(name, "binary", o);
  }
  ModuleHash hash(const char* name) {
    std::string raw = bin(name);
    auto h = ModuleHash::from_bytes(raw);
    if (!h)
      fail(std::string(what_) + ": field " + name + " must be 32 bytes, got " +
           std::to_string(raw.size()));
    return *h;
  }
  TaskId id() {
    TaskId id;
    id.session = u64("session");
    id.seq = u64("seq");
    return id;
  }
  bool more() const { return index_ < size_; }

 private:
  [[noreturn]] void wrong(const char* name, const char* expected, const msgpack::object& o) {
    fail(std::string(what_) + ": field " + name + ": expected " + expected + ", got " +
         kind_name(o));
  }
  const char* what_;
  const msgpack::object* ptr_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint32_t index_ = 0;
};

const msgpack::object& array_of(const msgpack::object& o, const char* what) {
  if (o.type != msgpack::type::ARRAY)
    fail(std::string(what) + ": expected array, got " + kind_name(o));
  return o;
}

// A list of records, at most kMaxRecords of them (`per_record` array
// elements each: 2 for a flat list of ids).
const msgpack::object& records_of(const msgpack::object& o, const char* what,
                                  std::uint32_t per_record = 1) {
  array_of(o, what);
  if (o.via.array.size / per_record > kMaxRecords)
    fail(std::string(what) + ": " + std::to_string(o.via.array.size / per_record) +
         " records in one message, more than the " + std::to_string(kMaxRecords) + " allowed");
  return o;
}

// Looks keys up in a msgpack map with string keys.
class MapReader {
 public:
  MapReader(const msgpack::object& o, const char* what) : what_(what) {
    if (o.type != msgpack::type::MAP)
      fail(std::string(what) + ": expected map, got " + kind_name(o));
    map_ = &o.via.map;
  }
  const msgpack::object* find(std::string_view key) const {
    for (std::uint32_t i = 0; i < map_->size; ++i) {
      const msgpack::object& k = map_->ptr[i].key;
      if (k.type == msgpack::type::STR && std::string_view(k.via.str.ptr, k.via.str.size) == key)
        return &map_->ptr[i].val;
    }
    return nullptr;
  }
  const msgpack::object& get(std::string_view key) const {
    const msgpack::object* o = find(key);
    if (!o) fail(std::string(what_) + ": missing key " + std::string(key));
    return *o;
  }
  std::string str(std::string_view key) const {
    const msgpack::object& o = get(key);
    if (o.type != msgpack::type::STR) wrong(key, "string", o);
    return std::string(o.via.str.ptr, o.via.str.size);
  }
  std::uint64_t u64(std::string_view key) const {
    const msgpack::object& o = get(key);
    if (o.type != msgpack::type::POSITIVE_INTEGER) wrong(key, "unsigned integer", o);
    return o.via.u64;
  }
  std::uint32_t u32(std::string_view key) const {
    std::uint64_t v = u64(key);
    if (v > UINT32_MAX) fail(std::string(what_) + ": " + std::string(key) + " out of range");
    return static_cast<std::uint32_t>(v);
  }

 private:
  [[noreturn]] void wrong(std::string_view key, const char* expected,
                          const msgpack::object& o) const {
    fail(std::string(what_) + ": " + std::string(key) + ": expected " + expected + ", got " +
         kind_name(o));
  }
  const char* what_;
  const msgpack::object_map* map_ = nullptr;
};

Task read_task_record(const msgpack::object& o) {
  Fields f(o, "task", 10);
  Task t;
  t.id = f.id();
  t.module = f.hash("module");
  t.function = f.str("function");
  t.args = f.bin("args");
  t.timeout_ms = f.uint<std::uint32_t>("timeout_ms");
  t.wait_ms = f.uint<std::uint32_t>("wait_ms");
  t.max_attempts = f.uint<std::uint8_t>("max_attempts");
  t.flags = f.uint<std::uint8_t>("flags");
  t.attempt = f.uint<std::uint8_t>("attempt");
  if (t.function.empty()) fail("task: empty function name");
  return t;
}

RunningTask read_running(const msgpack::object& o) {
  Fields f(o, "running task", 6);
  RunningTask t;
  t.id = f.id();
  t.module = f.hash("module");
  t.function = f.str("function");
  t.flags = f.uint<std::uint8_t>("flags");
  t.attempt = f.uint<std::uint8_t>("attempt");
  if (f.more()) t.args_digest = f.u64("args_digest");
  return t;
}

}  // namespace

std::optional<ModuleHash> put_module_hash(std::string_view head) {
  const auto* p = reinterpret_cast<const unsigned char*>(head.data());
  constexpr std::size_t kHashAt = 5;
  if (head.size() < kHashAt + 32 || p[0] != 0x95 ||
      p[1] != static_cast<unsigned char>(Type::kPutModule) || p[2] != kVersion || p[3] != 0xc4 ||
      p[4] != 32)
    return std::nullopt;
  return ModuleHash::from_bytes(head.substr(kHashAt, 32));
}

Message Message::parse(const char* data, std::size_t size, const ParseLimits& limits) {
  Message m;
  // The check bounds what msgpack-cxx may reserve by what the bytes can hold.
  if (std::string error = detail::check_msgpack(data, size, limits.max_depth, limits.max_values);
      !error.empty())
    fail("not valid msgpack: " + error);
  try {
    if (limits.reference_bytes)
      msgpack::unpack(m.handle_, data, size,
                      [](msgpack::type::object_type, std::size_t, void*) { return true; });
    else msgpack::unpack(m.handle_, data, size);
  } catch (const std::exception& e) {
    fail(std::string("not valid msgpack: ") + e.what());
  }
  const msgpack::object& root = m.handle_.get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size < 2)
    fail("a message must be an array [type, version, ...]");
  const msgpack::object& type = root.via.array.ptr[0];
  const msgpack::object& version = root.via.array.ptr[1];
  if (type.type != msgpack::type::POSITIVE_INTEGER || type.via.u64 < 1 ||
      type.via.u64 > static_cast<std::uint8_t>(kLastType))
    fail("unknown message type");
  if (version.type != msgpack::type::POSITIVE_INTEGER || version.via.u64 > UINT32_MAX)
    fail("the protocol version must be an unsigned integer");
  m.type_ = static_cast<Type>(type.via.u64);
  m.version_ = static_cast<std::uint32_t>(version.via.u64);
  m.body_ = root.via.array.ptr + 2;
  m.body_size_ = root.via.array.size - 2;
  return m;
}

const msgpack::object& Message::field(std::uint32_t index) const {
  if (index >= body_size_)
    fail(std::string(type_name(type_)) + ": missing field " + std::to_string(index + 1));
  return body_[index];
}

Hello Message::hello() const {
  Hello h;
  const msgpack::object& role = field(0);
  if (role.type != msgpack::type::STR) fail("HELLO: role must be a string");
  h.role.assign(role.via.str.ptr, role.via.str.size);
  MapReader info(field(1), "HELLO info");
  if (const msgpack::object* secret = info.find("secret")) {
    if (secret->type != msgpack::type::BIN || secret->via.bin.size > 64)
      fail("HELLO: secret must be binary, at most 64 bytes");
    h.secret.assign(secret->via.bin.ptr, secret->via.bin.size);
  }
  if (h.role == "boss") {
    h.session = info.u64("session");
  } else if (h.role == "worker") {
    h.worker_id = info.str("id");
    h.host = info.str("host");
    h.pid = info.u32("pid");
    h.slots = info.u32("slots");
    h.capacity = info.u32("capacity");
    h.platform = info.str("platform");
    h.isolation = info.str("isolation");
    const msgpack::object& running = records_of(info.get("running"), "HELLO running");
    for (std::uint32_t i = 0; i < running.via.array.size; ++i)
      h.running.push_back(read_running(running.via.array.ptr[i]));
    if (const msgpack::object* also = info.find("also_platforms")) {
      const msgpack::object& list = array_of(*also, "HELLO also_platforms");
      if (list.via.array.size > 8) fail("HELLO: at most 8 platforms beside the first");
      for (std::uint32_t i = 0; i < list.via.array.size; ++i) {
        const msgpack::object& p = list.via.array.ptr[i];
        if (p.type != msgpack::type::STR || p.via.str.size == 0 || p.via.str.size > 200)
          fail("HELLO: also_platforms: expected non-empty strings of at most 200 bytes");
        h.also_platforms.emplace_back(p.via.str.ptr, p.via.str.size);
      }
    }
    if (h.worker_id.empty() || h.slots == 0)
      fail("HELLO: a worker needs an id and at least one slot");
  } else {
    fail("HELLO: role must be \"boss\" or \"worker\", got \"" + h.role + "\"");
  }
  return h;
}

Welcome Message::welcome() const {
  MapReader info(field(0), "WELCOME");
  Welcome w;
  w.manager_id = info.str("manager");
  w.version = info.str("version");
  w.heartbeat_ms = info.u32("heartbeat_ms");
  w.max_message = info.u64("max_message");
  w.max_module = info.u64("max_module");
  return w;
}

ErrorMessage Message::error() const {
  const msgpack::object& code = field(0);
  const msgpack::object& text = field(1);
  if (code.type != msgpack::type::STR || text.type != msgpack::type::STR)
    fail("ERROR: code and text must be strings");
  return {std::string(code.via.str.ptr, code.via.str.size),
          std::string(text.via.str.ptr, text.via.str.size)};
}

Refusal Message::refusal() const {
  Refusal r;
  if (body_size_ < 3) return r;
  Fields f(field(2), "ERROR refused", 3);
  std::uint8_t type = f.uint<std::uint8_t>("type");
  if (type < 1 || type > static_cast<std::uint8_t>(kLastType)) fail("ERROR refused: unknown type");
  r.type = static_cast<Type>(type);
  r.request = f.u64("request");
  const msgpack::object& ids = f.next("ids");
  if (ids.type != msgpack::type::ARRAY || ids.via.array.size % 2 != 0)
    fail("ERROR refused: ids must be an array of session, seq pairs");
  Fields list(ids, "ERROR refused ids", 0);
  for (std::uint32_t i = 0; i < ids.via.array.size; i += 2) r.ids.push_back(list.id());
  return r;
}

std::vector<Task> Message::tasks() const {
  const msgpack::object& list = records_of(field(0), type_name(type_));
  std::vector<Task> out;
  out.reserve(std::min<std::uint32_t>(list.via.array.size, 1024));
  std::uint32_t i = 0;
  try {
    for (; i < list.via.array.size; ++i) out.push_back(read_task_record(list.via.array.ptr[i]));
  } catch (const DecodeError& e) {
    // The first bad record ends the decoding: name it, once.
    fail("record " + std::to_string(i + 1) + " of " + std::to_string(list.via.array.size) + ": " +
         e.what());
  }
  return out;
}

ModuleHash Message::module_hash() const {
  const msgpack::object& o = field(0);
  if (o.type != msgpack::type::BIN)
    fail(std::string(type_name(type_)) + ": module hash must be binary");
  auto h = ModuleHash::from_bytes(std::string_view(o.via.bin.ptr, o.via.bin.size));
  if (!h) fail(std::string(type_name(type_)) + ": module hash must be 32 bytes");
  return *h;
}

ModuleUpload Message::module_upload() const {
  ModuleUpload up;
  up.hash = module_hash();
  const msgpack::object& platform = field(1);
  const msgpack::object& bytes = field(2);
  if (platform.type != msgpack::type::STR) fail("PUT_MODULE: platform must be a string");
  if (bytes.type != msgpack::type::BIN) fail("PUT_MODULE: bytes must be binary");
  up.platform.assign(platform.via.str.ptr, platform.via.str.size);
  up.bytes.assign(bytes.via.bin.ptr, bytes.via.bin.size);
  up.signatures = signatures(3);
  return up;
}

ModuleSignatures Message::signatures(std::uint32_t index) const {
  ModuleSignatures out;
  if (body_size_ <= index) return out;
  const msgpack::object& list = array_of(field(index), type_name(type_));
  if (list.via.array.size > kMaxModuleSignatures)
    fail(std::string(type_name(type_)) + ": more than " + std::to_string(kMaxModuleSignatures) +
         " signatures");
  for (std::uint32_t i = 0; i < list.via.array.size; ++i) {
    const msgpack::object& s = list.via.array.ptr[i];
    if (s.type != msgpack::type::BIN || s.via.bin.size != 96)
      fail(std::string(type_name(type_)) + ": a signature must be 96 bytes of binary");
    out.emplace_back(s.via.bin.ptr, s.via.bin.size);
  }
  return out;
}

std::vector<Result> Message::results() const {
  const msgpack::object& list = records_of(field(0), "RESULT");
  std::vector<Result> out;
  out.reserve(std::min<std::uint32_t>(list.via.array.size, 1024));
  for (std::uint32_t i = 0; i < list.via.array.size; ++i)
    out.push_back(decode_result(list.via.array.ptr[i]));
  return out;
}

Result decode_result(const msgpack::object& record) {
  Fields f(record, "result", 8);
  Result r;
  r.id = f.id();
  std::uint8_t status = f.uint<std::uint8_t>("status");
  if (status > static_cast<std::uint8_t>(kLastStatus))
    fail("result: unknown status " + std::to_string(status));
  r.status = static_cast<Status>(status);
  r.payload = f.bin("payload");
  r.worker = f.str("worker");
  r.host = f.str("host");
  r.pid = f.uint<std::uint32_t>("pid");
  r.attempt = f.uint<std::uint8_t>("attempt");
  return r;
}

std::vector<TaskId> Message::task_ids() const { return id_list(0); }

std::vector<TaskId> Message::started_services() const {
  return body_size_ >= 2 ? id_list(1) : std::vector<TaskId>{};
}

std::vector<TaskId> Message::id_list(std::uint32_t index) const {
  const msgpack::object& list = records_of(field(index), type_name(type_), 2);
  if (list.via.array.size % 2 != 0)
    fail(std::string(type_name(type_)) + ": odd number of id fields");
  Fields f(list, type_name(type_), 0);
  std::vector<TaskId> out;
  out.reserve(std::min<std::uint32_t>(list.via.array.size / 2, 1024));
  for (std::uint32_t i = 0; i < list.via.array.size; i += 2) out.push_back(f.id());
  return out;
}

std::vector<CancelOutcome> Message::cancel_outcomes() const {
  const msgpack::object& list = array_of(field(0), "CANCEL_REPLY");
  std::vector<CancelOutcome> out;
  for (std::uint32_t i = 0; i < list.via.array.size; ++i) {
    Fields f(list.via.array.ptr[i], "cancel outcome", 3);
    TaskId id = f.id();
    out.emplace_back(id, f.str("state"));
  }
  return out;
}

Task decode_task(const msgpack::object& record) { return read_task_record(record); }

StatusReport Message::status_report() const { return read_status_report(field(0)); }

CancelOutcome::CancelOutcome(TaskId id, std::string_view state_name) : id(id) {
  std::optional<CancelState> known = cancel_state_from_name(state_name);
  if (!known) fail("cancel outcome: unknown state \"" + std::string(state_name) + "\"");
  state = *known;
}

ModuleReply Message::module_reply() const {
  ModuleReply reply;
  reply.hash = module_hash();
  const msgpack::object& bytes = field(1);
  const msgpack::object& error = field(2);
  if (bytes.type == msgpack::type::BIN) reply.bytes.emplace(bytes.via.bin.ptr, bytes.via.bin.size);
  else if (bytes.type != msgpack::type::NIL) fail("MODULE: bytes must be binary or nil");
  if (error.type != msgpack::type::STR) fail("MODULE: error must be a string");
  reply.error.assign(error.via.str.ptr, error.via.str.size);
  reply.signatures = signatures(3);
  return reply;
}

std::uint32_t Message::credit() const {
  const msgpack::object& o = field(0);
  if (o.type != msgpack::type::POSITIVE_INTEGER || o.via.u64 > UINT32_MAX)
    fail("CREDIT: capacity must be an unsigned 32-bit integer");
  return static_cast<std::uint32_t>(o.via.u64);
}

std::optional<std::uint32_t> Message::busy() const {
  if (body_size_ == 0) return std::nullopt;
  const msgpack::object& o = field(0);
  if (o.type != msgpack::type::POSITIVE_INTEGER || o.via.u64 > UINT32_MAX)
    fail("HEARTBEAT: busy must be an unsigned 32-bit integer");
  return static_cast<std::uint32_t>(o.via.u64);
}

std::string Message::worker_note() const {
  if (body_size_ < 3) return {};
  const msgpack::object& o = field(2);
  if (o.type != msgpack::type::STR) fail("HEARTBEAT: note must be a string");
  return std::string(o.via.str.ptr, std::min<std::uint32_t>(o.via.str.size, 1024));
}

std::string Message::text() const {
  const msgpack::object& o = field(0);
  if (o.type != msgpack::type::STR) fail(std::string(type_name(type_)) + ": text must be a string");
  return std::string(o.via.str.ptr, o.via.str.size);
}

}  // namespace uni::proto
