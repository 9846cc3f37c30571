// The nats-server permissions `uni nats-config` writes, against a real
// nats-server that runs with them: each role's allowed flows work (run, map,
// submit / result, a service, status), and each forbidden act, tried by a
// raw client holding that role's seed, fails and leaves nothing changed:
// deleting or purging streams, buckets and the module store, deleting the
// workers' consumer, publishing a task as a worker or as another boss,
// reading another boss's results (live, stored, by a consumer whose body
// filter differs from its subject, through its inbox), a worker or an
// observer reading results at all.
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nats/client/connection.hpp"
#include "nats/client/error.hpp"
#include "nats/client/jetstream.hpp"
#include "nats/client/subject_reader.hpp"
#include "nats/store/names.hpp"
#include "nats_test_util.hpp"
#include "uni/detail/platform.hpp"
#include "uni_on_nats.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;
using nats::Connection;
using nats::JetStream;

std::string testfns() { return module_path("testfns"); }

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `uni nats-config` for alice and bob (bosses), w1 (worker), eye (observer)
// and root (admin); a server running with its block; the public keys.
struct PermittedCluster {
  TempDir keys{"nats-perm"};
  std::map<std::string, std::string> public_key;  // name -> "U..."
  std::unique_ptr<NatsCluster> nats;

  PermittedCluster() {
    ChildOptions options;
    options.argv = {
        uni_binary(), "nats-config", "--out", keys.path().string(), "--boss", "alice",   "--boss",
        "bob",        "--worker",    "w1",    "--observer",         "eye",    "--admin", "root"};
    options.output_dir = keys.path();
    options.name = "nats-config";
    ChildProcess config = ChildProcess::start(options);
    std::optional<ExitStatus> status = config.wait_for(30s);
    if (!status || status->code != 0)
      throw std::runtime_error("uni nats-config failed: " + config.read_stderr());
    std::istringstream lines(config.read_stdout());
    for (std::string role, name, key; lines >> role >> name >> key;) public_key[name] = key;
    NatsServerOptions server;
    server.extra_config = file_text(keys.path() / "authorization.conf");
    nats = std::make_unique<NatsCluster>(1, server);
  }

  std::string seed_file(const std::string& name) const {
    return (keys.path() / (name + ".nk")).string();
  }
  // uni processes holding `name`'s seed.
  std::unique_ptr<UniOnNats> uni_as(const std::string& name) const {
    return std::make_unique<UniOnNats>(
        nats->address(), std::vector<std::string>{"UNI_NATS_NKEY_SEED_FILE=" + seed_file(name)});
  }
  // A raw client (the attacker's) holding `name`'s seed.
  Connection connect_as(const std::string& name) const {
    nats::ConnectOptions options;
    options.address = nats->address();
    std::ifstream in(seed_file(name));
    in >> options.nkey_seed;
    return Connection::connect(options);
  }
};

// A JetStream API request that must be refused: the server drops a publish
// the user may not make (and says so in an asynchronous -ERR), so no answer
// comes; an answer with an error is a refusal too.
::testing::AssertionResult refused(Connection& c, const std::string& subject,
                                   const std::string& body = "") {
  try {
    nats::Message answer = c.request(subject, body, 1500ms);
    nlohmann::json parsed = nlohmann::json::parse(answer.data(), nullptr, false);
    if (parsed.is_object() && parsed.contains("error"))
      return ::testing::AssertionSuccess() << "answered with an error";
    return ::testing::AssertionFailure()
           << subject << " was answered: " << std::string(answer.data());
  } catch (const nats::NatsError& e) {
    return ::testing::AssertionSuccess() << e.what();
  }
}

// Whether a subscription to `subject` by `c` receives anything within `wait`.
bool receives(Connection& c, const std::string& subject, const std::function<void()>& provoke,
              std::chrono::milliseconds wait = 1000ms) {
  nats::Subscription sub = c.subscribe(subject);
  try {
    c.flush();
  } catch (const nats::NatsError&) {
  }
  provoke();
  return sub.next(wait).has_value();
}

const nats::Names kNames;
const std::string kPlatform = UNI_PLATFORM_TAG;

void each_role_does_its_job_and_nothing_else(PermittedCluster& cluster);

TEST(PermissionsOnNats, EachRoleDoesItsJobAndNothingElse) {
  PermittedCluster cluster;
  try {
    each_role_does_its_job_and_nothing_else(cluster);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  if (::testing::Test::HasFailure()) std::cerr << "the server's log:\n" << cluster.nats->logs();
}

void each_role_does_its_job_and_nothing_else(PermittedCluster& cluster) {
  auto alice = cluster.uni_as("alice");
  auto bob = cluster.uni_as("bob");
  auto worker_uni = cluster.uni_as("w1");
  ChildProcess worker = worker_uni->worker(2, "w1");

  // Allowed flows, each under its own user's permissions.
  UniOnNats::Outcome run = alice->cli({"run", testfns(), "add", "2", "3"});
  ASSERT_EQ(run.status.code, 0) << run.err << worker.read_stderr();
  EXPECT_EQ(run.out, "5\n");
  UniOnNats::Outcome map = bob->cli({"map", testfns(), "add"}, std::string("[1,2]\n[3,4]\n"));
  EXPECT_EQ(map.status.code, 0) << map.err;
  EXPECT_EQ(map.out, "3\n7\n");
  UniOnNats::Outcome submit = alice->cli({"submit", testfns(), "add", "20", "22"});
  ASSERT_EQ(submit.status.code, 0) << submit.err;
  const std::string id = submit.out.substr(0, submit.out.find('\n'));
  UniOnNats::Outcome result = alice->cli({"result", id, "--wait", "30"});
  EXPECT_EQ(result.status.code, 0) << result.err;
  EXPECT_EQ(result.out, "42\n");
  // Another boss cannot read it: its reads name its own subjects only.
  UniOnNats::Outcome stolen = bob->cli({"result", id});
  EXPECT_EQ(stolen.status.code, 4) << stolen.out << stolen.err;
  EXPECT_EQ(stolen.out.find("42"), std::string::npos);
  UniOnNats::Outcome status = cluster.uni_as("eye")->cli({"status", "--json"});
  EXPECT_EQ(status.status.code, 0) << status.err;
  EXPECT_NE(status.out.find("\"workers\""), std::string::npos) << status.out;

  const std::string results = kNames.result_stream();
  const std::string tasks = kNames.task_stream(kPlatform);
  const std::string modules = "OBJ_" + kNames.module_bucket();
  const std::string workers_kv = "KV_" + kNames.worker_bucket();
  Connection root = cluster.connect_as("root");
  JetStream admin(root);
  const std::uint64_t stored_results = admin.stream_state(results)->messages;
  ASSERT_GT(stored_results, 0u);

  // Every forbidden request of every role, sent at once (a refused publish
  // gets no answer: each waits out its timeout), then their effects checked.
  std::map<std::string, Connection> as;
  for (const char* who : {"w1", "alice", "bob", "eye"}) as.emplace(who, cluster.connect_as(who));
  struct Attempt {
    std::string who, subject, body;
  };
  std::vector<Attempt> attempts;
  // Destruction: no role but admin deletes, purges or reconfigures anything.
  for (const char* who : {"w1", "alice", "eye"}) {
    for (const std::string& stream :
         {results, tasks, modules, workers_kv, kNames.cancel_stream()}) {
      attempts.push_back({who, "$JS.API.STREAM.DELETE." + stream, ""});
      attempts.push_back({who, "$JS.API.STREAM.PURGE." + stream, ""});
    }
    attempts.push_back(
        {who, "$JS.API.STREAM.UPDATE." + results,
         R"({"name":")" + results + R"(","subjects":["uni.results.>"],"max_age":1000000})"});
    attempts.push_back({who, "$JS.API.CONSUMER.DELETE." + tasks + ".workers", ""});
    // A stream of a name no uni client uses, capturing another's inbox.
    attempts.push_back(
        {who, "$JS.API.STREAM.CREATE.SPY",
         R"({"name":"SPY","subjects":["_INBOX_)" + cluster.public_key["bob"] + R"(.>"]})"});
  }
  // Publishing tasks: a worker and an observer cannot, a boss only as itself.
  const std::string task_body = "not a task, but it must not be stored either";
  for (const auto& [who, subject] : std::vector<std::pair<std::string, std::string>>{
           {"w1", kNames.task_subject(kPlatform, "", 1, 1)},
           {"w1", kNames.task_subject(kPlatform, cluster.public_key["alice"], 1, 1)},
           {"w1", kNames.task_subject(kPlatform, cluster.public_key["w1"], 1, 1)},
           {"eye", kNames.task_subject(kPlatform, cluster.public_key["eye"], 1, 1)},
           {"bob", kNames.task_subject(kPlatform, cluster.public_key["alice"], 1, 1)},
           {"bob", kNames.task_subject(kPlatform, "", 1, 1)}})
    attempts.push_back({who, subject, task_body});
  // Reading stored results: a worker, an observer and another boss cannot.
  const std::string alice_key = cluster.public_key["alice"];
  for (const char* who : {"w1", "eye", "bob"}) {
    attempts.push_back({who, "$JS.API.DIRECT.GET." + results, R"({"seq":1})"});
    attempts.push_back({who, "$JS.API.STREAM.MSG.GET." + results, R"({"seq":1})"});
    attempts.push_back({who, "$JS.API.CONSUMER.CREATE." + results,
                        R"({"stream_name":")" + results +
                            R"(","config":{"deliver_policy":"all","ack_policy":"none"}})"});
    // Alice's subject in the body of a consumer create that names one's own
    // subject (allowed to bob): the server checks that they are the same.
    const std::string mine = "uni.results." + cluster.public_key[who] + ".0000000000000001";
    attempts.push_back({who, "$JS.API.CONSUMER.CREATE." + results + ".spy." + mine,
                        R"({"stream_name":")" + results +
                            R"(","config":{"name":"spy","filter_subject":"uni.results.)" +
                            alice_key + R"(.>","deliver_policy":"all","ack_policy":"none"}})"});
  }
  const std::uint64_t queued = admin.stream_state(tasks)->last_seq;
  std::vector<std::future<::testing::AssertionResult>> outcomes;
  for (const Attempt& a : attempts)
    outcomes.push_back(std::async(std::launch::async,
                                  [&as, &a] { return refused(as.at(a.who), a.subject, a.body); }));
  for (std::size_t i = 0; i < attempts.size(); ++i)
    EXPECT_TRUE(outcomes[i].get()) << attempts[i].who << ": " << attempts[i].subject;
  EXPECT_EQ(admin.stream_state(results)->messages, stored_results);
  for (const std::string& stream : {tasks, modules, workers_kv, kNames.cancel_stream()})
    EXPECT_TRUE(admin.stream_state(stream).has_value()) << stream;
  EXPECT_FALSE(admin.stream_state("SPY").has_value());
  EXPECT_EQ(admin.stream_state(tasks)->last_seq, queued);

  // Reading results live, through a consumer, or from alice's inbox.
  for (const char* who : {"w1", "eye", "bob"}) {
    SCOPED_TRACE(who);
    Connection& c = as.at(who);
    EXPECT_FALSE(receives(c, kNames.result_subjects(), [&] {
      UniOnNats::Outcome again = alice->cli({"run", testfns(), "add", "1", "1"});
      EXPECT_EQ(again.status.code, 0) << again.err;
    }));
    EXPECT_THROW(
        nats::read_subject(c, results, "uni.results." + alice_key + ".0000000000000001", 1, 1500ms),
        nats::NatsError);
    // Replies to alice come to her inbox prefix, where no one else listens.
    EXPECT_FALSE(receives(c, "_INBOX_" + alice_key + ".>", [&] {
      UniOnNats::Outcome again = alice->cli({"result", id});
      EXPECT_EQ(again.status.code, 0) << again.err;
    }));
  }
  // The positive control: alice reads her own stored results, the admin all.
  Connection& alice_raw = as.at("alice");
  std::optional<proto::TaskId> task_id = proto::TaskId::parse(id);
  ASSERT_TRUE(task_id.has_value()) << id;
  const std::uint64_t alice_session = task_id->session;
  EXPECT_FALSE(nats::read_subject(alice_raw, results,
                                  kNames.result_subject(alice_key, alice_session), 1, 5000ms)
                   .empty());
  EXPECT_TRUE(receives(root, kNames.result_subjects(), [&] {
    UniOnNats::Outcome again = alice->cli({"run", testfns(), "add", "1", "1"});
    EXPECT_EQ(again.status.code, 0) << again.err;
  }));
}

}  // namespace
}  // namespace uni::test
