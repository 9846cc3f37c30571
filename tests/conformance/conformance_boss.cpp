// The C++ side of the conformance suite: a boss built on the public C++ API
// (uni/uni.hpp) that the suite (conformance.py) drives with one JSON command
// per stdin line and reads one JSON reply per stdout line, so that the very
// same test cases run against the Python client and the C++ client.
//
//   conformance_boss ADDRESS      (authkey from UNI_AUTHKEY)
//   {"op": "call", "fn": "add", "args": [1, 2], "module": PATH, "timeout": 0.5}
//     -> {"ok": 3}  or  {"error": {"kind": "...", "message": "...", "worker": "..."}}
//   {"op": "submit", ...} -> {"handle": N, "id": "..."};  {"op": "result", "handle": N}
//   {"op": "cancel", "handle": N};  {"op": "map", "fn": .., "inputs": [[args], ...]}
//   {"op": "spawn", ...} -> {"handle": N, "id": ".."};  {"op": "stop", "handle": N}
//   {"op": "status"} -> {"status": {...}}
//   {"op": "become", "id": ID, "module": PATH, "fn": NAME, "timeout": S}
//     -> {"ok": {"becomes": N}}  or  {"error": {"kind": "become", "message": "..."}}
// "as": "name(sig)" calls the function under a signature of the caller's
// choosing, to provoke the worker's bad-arguments error.
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>
#include <uni/uni.hpp>

#include "conformance_fns.hpp"

using nlohmann::json;

namespace nlohmann {
template <class T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& v) { j = v ? json(*v) : json(nullptr); }
  static void from_json(const json& j, std::optional<T>& v) {
    if (j.is_null()) v.reset();
    else v = j.get<T>();
  }
};
}  // namespace nlohmann

namespace conformance {
// As the CLI shows them: MSGPACK_DEFINE structs are arrays, MSGPACK_DEFINE_MAP ones objects.
void to_json(json& j, const Point& p) { j = json::array({p.x, p.y, p.label}); }
void from_json(const json& j, Point& p) {
  p = {j.at(0).get<int>(), j.at(1).get<int>(), j.at(2).get<std::string>()};
}
void to_json(json& j, const Labelled& p) { j = {{"x", p.x}, {"y", p.y}, {"label", p.label}}; }
void from_json(const json& j, Labelled& p) {
  p = {j.at("x").get<int>(), j.at("y").get<int>(), j.at("label").get<std::string>()};
}
}  // namespace conformance

namespace {

const char* kind_name(uni::ErrorKind kind) {
  switch (kind) {
    case uni::ErrorKind::kException: return "exception";
    case uni::ErrorKind::kBadArguments: return "bad-arguments";
    case uni::ErrorKind::kUnknownFunction: return "unknown-function";
    case uni::ErrorKind::kModule: return "module-error";
    case uni::ErrorKind::kCrashed: return "crashed";
    case uni::ErrorKind::kTimedOut: return "timed-out";
    case uni::ErrorKind::kCancelled: return "cancelled";
    case uni::ErrorKind::kNoWorker: return "no-worker";
    case uni::ErrorKind::kRejected: return "rejected";
    case uni::ErrorKind::kRefused: return "refused";
  }
  return "unknown";
}

// A future of any result type, as JSON.
struct AnyFuture {
  std::function<json()> outcome;  // {"ok": value} or {"error": {...}}
  std::function<void()> cancel;
  std::string id;
};

template <class R>
AnyFuture erase(uni::Future<R> f) {
  auto outcome = [f] {
    try {
      if constexpr (std::is_void_v<R>) {
        f.get();
        return json{{"ok", nullptr}};
      } else {
        return json{{"ok", json(f.get())}};
      }
    } catch (const uni::TaskError& e) {
      return json{
          {"error",
           {{"kind", kind_name(e.kind())}, {"message", e.what()}, {"worker", e.worker().id}}}};
    }
  };
  return {outcome, [f] { f.cancel(); }, f.id()};
}

struct Call {
  const uni::Cluster& cluster;
  std::string module;
  std::string name;
  uni::TaskOptions options;
};

using Submitter = std::function<AnyFuture(const Call&, const json& args, bool service)>;
using Mapper = std::function<std::vector<AnyFuture>(const Call&, const json& inputs)>;

struct Entry {
  Submitter submit;
  Mapper map;
};
std::map<std::string, Entry> table;

// Registers name(Args...) -> R under `key`, converting arguments from JSON.
template <class R, class... Args>
void add(const std::string& key, const std::string& name) {
  auto fn = [name](const Call& c) {
    return c.cluster.function<R(Args...)>(c.module, name, c.options);
  };
  Entry e;
  e.submit = [fn](const Call& c, const json& args, bool service) {
    if (args.size() != sizeof...(Args)) throw std::runtime_error("wrong argument count");
    auto remote = fn(c);
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      if (service) return erase(c.cluster.spawn(remote, args.at(I).get<Args>()...).future());
      return erase(remote(args.at(I).get<Args>()...));
    }
    (std::index_sequence_for<Args...>{});
  };
  e.map = [fn](const Call& c, const json& inputs) {
    auto remote = fn(c);
    std::vector<AnyFuture> out;
    if constexpr (sizeof...(Args) == 1) {
      using Arg = std::tuple_element_t<0, std::tuple<Args...>>;
      std::vector<Arg> values;
      for (const auto& in : inputs) values.push_back(in.at(0).template get<Arg>());
      for (auto& f : c.cluster.map(remote, values)) out.push_back(erase(std::move(f)));
    } else {
      std::vector<std::tuple<Args...>> values;
      for (const auto& in : inputs) values.push_back(in.template get<std::tuple<Args...>>());
      for (auto& f : c.cluster.map(remote, values)) out.push_back(erase(std::move(f)));
    }
    return out;
  };
  table[key] = std::move(e);
}

template <class R, class... Args>
void add(const std::string& name) {
  add<R, Args...>(name, name);
}

void register_functions() {
  using namespace conformance;
  add<bool, bool>("echo_bool");
  add<std::int8_t, std::int8_t>("echo_i8");
  add<std::uint8_t, std::uint8_t>("echo_u8");
  add<std::int16_t, std::int16_t>("echo_i16");
  add<std::uint16_t, std::uint16_t>("echo_u16");
  add<std::int32_t, std::int32_t>("echo_i32");
  add<std::uint32_t, std::uint32_t>("echo_u32");
  add<std::int64_t, std::int64_t>("echo_i64");
  add<std::uint64_t, std::uint64_t>("echo_u64");
  add<float, float>("echo_f32");
  add<double, double>("echo_f64");
  add<std::string, std::string>("echo_string");
  add<std::vector<std::uint8_t>, std::vector<std::uint8_t>>("echo_bytes");
  add<std::vector<std::int64_t>, std::vector<std::int64_t>>("echo_vector");
  add<std::vector<std::vector<std::string>>, std::vector<std::vector<std::string>>>("echo_nested");
  add<std::array<int, 3>, std::array<int, 3>>("echo_array");
  add<std::map<std::string, double>, std::map<std::string, double>>("echo_map");
  add<std::optional<int>, std::optional<int>>("echo_optional");
  add<std::tuple<int, std::string, bool>, std::tuple<int, std::string, bool>>("echo_tuple");
  add<std::pair<std::string, int>, std::pair<std::string, int>>("echo_pair");
  add<Point, Point>("echo_point");
  add<Labelled, Labelled>("echo_labelled");
  add<void, int>("nothing");
  add<int, int, int>("add");
  add<std::int64_t, std::int64_t>("ident");
  add<int, std::string>("fail");
  add<int, int>("crash");
  add<int, int>("sleep_ms");
  add<int, int>("server");  // the echo example's service (uni::ServiceContext& is no argument)
  // Wrong promises, for the worker's bad-arguments errors.
  add<int, int, std::string>("add(int,string)", "add");
  add<int, int>("add(int)", "add");
  add<std::int8_t, int>("echo_i8(int)", "echo_i8");
  add<std::vector<std::int64_t>, std::vector<std::string>>("echo_vector(vector<string>)",
                                                           "echo_vector");
  add<std::map<std::string, double>, std::map<std::string, std::string>>(
      "echo_map(map<string,string>)", "echo_map");
  add<int, int>("no_such_function(int)", "no_such_function");
}

json error_reply(const std::string& what) { return {{"fatal", what}}; }

json status_json(const uni::ClusterStatus& s) {
  json workers = json::array();
  for (const auto& w : s.workers)
    workers.push_back(
        {{"id", w.id}, {"host", w.host}, {"pid", w.pid}, {"slots", w.slots}, {"busy", w.busy}});
  json services = json::array();
  for (const auto& sv : s.services)
    services.push_back({{"id", sv.id},
                        {"worker", sv.worker},
                        {"function", sv.function},
                        {"started", sv.started},
                        {"module", sv.module},
                        {"becomes", sv.becomes}});
  return {
      {"workers", workers}, {"queue", s.queued}, {"running", s.running}, {"services", services}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: conformance_boss ADDRESS\n";
    return 2;
  }
  register_functions();
  // Replies go to the original stdout; anything else the library prints to
  // stdout (logs) goes to stderr, so that it cannot garble the replies.
  std::FILE* replies = ::fdopen(::dup(1), "w");
  ::dup2(2, 1);
  auto send = [&](const json& reply) {
    std::fprintf(replies, "%s\n", reply.dump().c_str());
    std::fflush(replies);
  };
  std::optional<uni::Cluster> cluster;
  try {
    cluster = uni::connect(argv[1]);
  } catch (const uni::ConnectError& e) {
    send(error_reply(std::string("connect: ") + e.what()));
    return 3;
  }
  send({{"ready", true}});
  std::map<int, AnyFuture> handles;
  int next_handle = 1;
  std::string line;
  while (std::getline(std::cin, line)) {
    json reply;
    try {
      json cmd = json::parse(line);
      std::string op = cmd.at("op");
      uni::TaskOptions options;
      if (cmd.contains("timeout"))
        options.timeout =
            std::chrono::milliseconds(static_cast<int>(cmd["timeout"].get<double>() * 1000));
      if (cmd.contains("wait"))
        options.wait =
            std::chrono::milliseconds(static_cast<int>(cmd["wait"].get<double>() * 1000));
      if (cmd.contains("max_attempts")) options.max_attempts = cmd["max_attempts"];
      auto call = [&] {
        std::string key = cmd.value("as", cmd.value("fn", ""));
        auto it = table.find(key);
        if (it == table.end()) throw std::runtime_error("the driver has no function " + key);
        std::string name = key.substr(0, key.find('('));
        return std::make_pair(&it->second, Call{*cluster, cmd.at("module"), name, options});
      };
      if (op == "call" || op == "submit" || op == "spawn") {
        auto [entry, c] = call();
        AnyFuture f = entry->submit(c, cmd.value("args", json::array()), op == "spawn");
        if (op == "call") {
          reply = f.outcome();
        } else {
          int handle = next_handle++;
          reply = {{"handle", handle}, {"id", f.id}};
          handles[handle] = std::move(f);
        }
      } else if (op == "result") {
        reply = handles.at(cmd.at("handle")).outcome();
      } else if (op == "cancel" || op == "stop") {
        handles.at(cmd.at("handle")).cancel();
        reply = {{"done", true}};
      } else if (op == "map") {
        auto [entry, c] = call();
        json results = json::array();
        for (AnyFuture& f : entry->map(c, cmd.at("inputs"))) results.push_back(f.outcome());
        reply = {{"results", results}};
      } else if (op == "become") {
        const auto limit =
            std::chrono::milliseconds(static_cast<std::int64_t>(cmd.value("timeout", 10.0) * 1000));
        try {
          uni::BecomeResult r =
              cluster->become(cmd.at("id"), cmd.at("module"), cmd.at("fn"), limit);
          reply = {{"ok", {{"becomes", r.becomes}}}};
        } catch (const uni::ConnectError&) {
          throw;  // no answer: the suite fails on it
        } catch (const uni::Error& e) {
          reply = {{"error", {{"kind", "become"}, {"message", e.what()}}}};
        }
      } else if (op == "status") {
        reply = {{"status", status_json(cluster->status())}};
      } else {
        reply = error_reply("unknown op " + op);
      }
    } catch (const std::exception& e) {
      reply = error_reply(e.what());
    }
    send(reply);
  }
  return 0;
}
