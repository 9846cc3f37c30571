// The sandbox of tasks (docs/security.md §9), from the side of a hostile
// task: it cannot read the authkey from its environment or its files, nor a
// keyed worker's key file, nor the supervisor's or a sibling executor's
// memory; a call the sandbox denies fails the task naming the call, and the
// worker serves on; descriptors of whatever started the worker do not reach
// tasks; `--sandbox off` gives tasks the worker's environment and rights
// back; `strict` cuts the network and most of the filesystem. These tests
// run as root, where the sandbox must hold too (capabilities dropped,
// seccomp, no_new_privs).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <iterator>

#include "security_support.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

bool is_error(const nlohmann::json& j) { return text_of(j).rfind("error: ", 0) == 0; }

TEST(Sandbox, ATaskCannotReadTheAuthkeyFromItsEnvironmentOrTheKeyFiles) {
  // `uni up` hands its workers the authkey in UNI_AUTHKEY; the default key
  // file and the derived-key cache are in the config dir.
  TestCluster cluster({.workers = 0, .slots = 1, .up_workers = 1});
  write_text(cluster.config_dir() / "authkey", cluster.authkey() + "\n");
  std::filesystem::path derived;
  for (const auto& entry : std::filesystem::directory_iterator(cluster.config_dir() / "derived"))
    derived = entry.path();
  ASSERT_FALSE(derived.empty()) << "the cluster derived no keys into its config dir";

  EXPECT_EQ(hostile(cluster, "env_var", {quoted("UNI_AUTHKEY")}), "<unset>");
  nlohmann::json key_file =
      hostile(cluster, "read_path", {quoted((cluster.config_dir() / "authkey").string())});
  EXPECT_TRUE(is_error(key_file)) << key_file;
  EXPECT_FALSE(contains(text_of(key_file), cluster.authkey()));
  nlohmann::json derived_keys = hostile(cluster, "read_path", {quoted(derived.string())});
  EXPECT_TRUE(is_error(derived_keys)) << derived_keys;
  // Ordinary files stay readable.
  EXPECT_FALSE(is_error(hostile(cluster, "read_path", {quoted("/etc/hostname")})));
}

TEST(Sandbox, AKeyedWorkersOwnKeyFileIsHiddenFromItsTasks) {
  // In a keyed cluster the harness's workers connect with --key
  // keys/harness-worker.secret: a task that read it could join the cluster
  // as that worker.
  TestCluster cluster({.workers = 1, .slots = 1, .keys = {{"alice", "boss"}}});
  const std::filesystem::path secret = cluster.key_file("harness-worker");
  std::ifstream in(secret);
  const std::string secret_text((std::istreambuf_iterator<char>(in)), {});
  ASSERT_TRUE(contains(secret_text, "secret ")) << secret;

  nlohmann::json read = hostile(cluster, "read_path", {quoted(secret.string())});
  EXPECT_FALSE(contains(text_of(read), secret_text)) << read;
  EXPECT_TRUE(is_error(read) || text_of(read).empty()) << read;
  // Its public half beside it is no secret, and stays readable.
  std::filesystem::path pub = secret;
  pub.replace_extension(".pub");
  std::ifstream pub_in(pub);
  const std::string pub_text((std::istreambuf_iterator<char>(pub_in)), {});
  ASSERT_FALSE(pub_text.empty()) << pub;
  EXPECT_EQ(text_of(hostile(cluster, "read_path", {quoted(pub.string())})), pub_text);
}

TEST(Sandbox, ATaskCannotReadTheSupervisorsOrASiblingsMemory) {
  TestCluster cluster({.workers = 1, .slots = 2});
  int supervisor = hostile(cluster, "supervisor_pid").get<int>();
  EXPECT_EQ(supervisor, cluster.worker(0).pid());
  nlohmann::json of_supervisor = hostile(cluster, "read_memory", {std::to_string(supervisor)});
  EXPECT_TRUE(is_error(of_supervisor)) << of_supervisor;
  nlohmann::json siblings = hostile(cluster, "sibling_pids");
  ASSERT_TRUE(siblings.is_array() && !siblings.empty()) << siblings;
  nlohmann::json of_sibling =
      hostile(cluster, "read_memory", {std::to_string(siblings[0].get<int>())});
  EXPECT_TRUE(is_error(of_sibling)) << of_sibling;
  // Executors are not dumpable, and a task cannot make its own so again.
  EXPECT_EQ(hostile(cluster, "dumpable"), 0);
  EXPECT_TRUE(is_error(hostile(cluster, "make_dumpable")));
  EXPECT_EQ(hostile(cluster, "status_field", {quoted("NoNewPrivs")}), "1");
  EXPECT_EQ(hostile(cluster, "status_field", {quoted("Seccomp")}), "2");
}

TEST(Sandbox, ADeniedCallFailsTheTaskNamingItAndTheWorkerServesOn) {
  TestCluster cluster({.workers = 1, .slots = 2});
  pid_t worker = cluster.worker(0).pid();
  struct Denied {
    std::string fn, target, name;
  };
  int sibling = hostile(cluster, "sibling_pids").at(0).get<int>();
  for (const Denied& d : {Denied{"trace", std::to_string(worker), "ptrace"},
                          Denied{"vm_read", std::to_string(sibling), "process_vm_readv"}}) {
    CommandResult r = cluster.uni({"run", module_path("hostile"), d.fn, d.target});
    EXPECT_EQ(r.exit_code, 1) << r.describe();
    EXPECT_TRUE(contains(r.err, "sandbox: " + d.name + " denied while running " + d.fn))
        << r.describe();
    // Its own doing, and it would do it again: not retried.
    EXPECT_FALSE(contains(r.err, "attempt 2")) << r.describe();
  }
  EXPECT_EQ(::kill(worker, 0), 0) << "the worker died";
  EXPECT_FALSE(cluster.worker_status(worker).is_null()) << "the worker left the cluster";
  expect_still_serving(cluster);
}

TEST(Sandbox, DescriptorsOfWhateverStartedTheWorkerDoNotReachTasks) {
  TestCluster cluster({.workers = 0});
  std::filesystem::path marker = cluster.dir() / "inherited-by-the-worker";
  write_text(marker, "secret");
  // The worker's parent leaves descriptor 9 open (not close-on-exec).
  ChildProcess worker =
      cluster.start("worker", {"/bin/sh", "-c", "exec 9<\"$0\"; exec \"$@\"", marker.string(),
                               uni_binary(), "worker", "--connect", cluster.address(), "--authkey",
                               cluster.authkey(), "--slots", "1"});
  ASSERT_TRUE(cluster.wait_for_worker(worker.pid()));
  nlohmann::json fds = hostile(cluster, "open_fds");
  ASSERT_TRUE(fds.is_array()) << fds;
  for (const auto& fd : fds) EXPECT_FALSE(contains(fd.get<std::string>(), marker.string())) << fds;
}

TEST(Sandbox, ThreadsForkAndLoopbackSocketsStillWork) {
  TestCluster cluster({.workers = 1, .slots = 1});
  EXPECT_EQ(hostile(cluster, "fork_and_wait"), 7);
  EXPECT_EQ(hostile(cluster, "connect_to", {quoted("127.0.0.1"), manager_port(cluster)}),
            "connected");
}

TEST(Sandbox, OffGivesTasksTheWorkersEnvironmentAndRightsBack) {
  TestCluster cluster(
      {.workers = 0, .slots = 1, .manager_args = {"--sandbox", "off"}, .up_workers = 1});
  EXPECT_EQ(hostile(cluster, "env_var", {quoted("UNI_AUTHKEY")}), cluster.authkey());
  EXPECT_EQ(hostile(cluster, "status_field", {quoted("NoNewPrivs")}), "0");
  EXPECT_EQ(hostile(cluster, "status_field", {quoted("Seccomp")}), "0");
  EXPECT_TRUE(contains(cluster.manager().read_stderr(), "--sandbox off"));
}

TEST(Sandbox, StrictCutsTheNetworkAndTheFilesBeyondTheSystemDirectories) {
  TestCluster cluster({.workers = 1, .slots = 1, .worker_args = {"--sandbox", "strict"}});
  nlohmann::json out = hostile(cluster, "connect_to", {quoted("127.0.0.1"), manager_port(cluster)});
  EXPECT_TRUE(is_error(out)) << out;
  nlohmann::json module = hostile(cluster, "read_path", {quoted(module_path("testfns"))});
  EXPECT_TRUE(is_error(module)) << module;
  EXPECT_FALSE(is_error(hostile(cluster, "read_path", {quoted("/etc/hostname")})));
  EXPECT_EQ(hostile(cluster, "fork_and_wait"), 7);
  expect_still_serving(cluster);
}

}  // namespace
}  // namespace uni::test
