// Proves src/worker/executor.cpp on its own: `uni executor`, started the way
// the supervisor starts it (channel on fd 3, status page on fd 4), runs tasks
// and, when its channel closes, exits cleanly: code 0, not a crash at exit.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <msgpack.hpp>
#include <string>
#include <vector>

#include "common/process.hpp"
#include "common/unique_fd.hpp"
#include "worker/channel.hpp"
#include "worker/executor.hpp"
#include "worker/status_page.hpp"

namespace {

using namespace std::chrono_literals;
using uni::ExitStatus;
using uni::Process;
using uni::UniqueFd;
namespace w = uni::worker;

std::string module_path(const std::string& name) {
  return std::string(UNI_MODULE_DIR) + "/lib" + name + ".so";
}

// One executor process and the supervisor's end of its channel.
class TestExecutor {
 public:
  TestExecutor() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      throw std::runtime_error("socketpair");
    channel_.reset(sv[0]);
    UniqueFd child(sv[1]);
    page_ = w::SharedStatusPage::create();
    uni::SpawnOptions spawn;
    spawn.argv = {std::string(UNI_BIN_DIR) + "/uni", "executor",    "--supervisor",
                  std::to_string(::getpid()),        "--mem-limit", "0"};
    spawn.fds = {{child.get(), w::kExecutorChannelFd}, {page_.fd(), w::kExecutorStatusFd}};
    spawn.stdin_null = true;
    process_ = Process::spawn(spawn);
  }

  // Sends RUN for fn(args...) under `tag`.
  template <typename... Args>
  void run(std::uint64_t tag, const std::string& module, const std::string& fn, Args... args) {
    msgpack::sbuffer packed_args;
    msgpack::pack(packed_args, std::make_tuple(args...));
    msgpack::sbuffer body;
    msgpack::packer<msgpack::sbuffer> p(body);
    p.pack_array(5);
    p.pack_uint8(w::kRun);
    p.pack_uint64(tag);
    p.pack(module);
    p.pack(fn);
    p.pack_bin(static_cast<std::uint32_t>(packed_args.size()));
    p.pack_bin_body(packed_args.data(), static_cast<std::uint32_t>(packed_args.size()));
    std::string frame;
    w::append_frame(frame, std::string_view(body.data(), body.size()));
    ASSERT_TRUE(w::write_all(channel_.get(), frame));
  }

  // The next DONE frame's status, skipping OUTPUT frames; nullopt on EOF or
  // after 20 s.
  std::optional<int> next_done() {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      while (auto frame = reader_.next()) {
        msgpack::object_handle h = msgpack::unpack(frame->data(), frame->size());
        const msgpack::object& m = h.get();
        if (m.via.array.ptr[0].as<int>() == w::kDone) return m.via.array.ptr[2].as<int>();
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      pollfd pfd{channel_.get(), POLLIN, 0};
      if (::poll(&pfd, 1, 100) > 0 && !reader_.fill(channel_.get())) return std::nullopt;
    }
  }

  void close_channel() { channel_.reset(); }

  // How the process ended, waiting at most 20 s (then SIGKILL).
  ExitStatus wait() {
    for (int i = 0; i < 200; ++i) {
      if (auto status = process_.try_wait()) return *status;
      std::this_thread::sleep_for(100ms);
    }
    process_.signal(SIGKILL);
    return process_.wait();
  }

 private:
  UniqueFd channel_;
  w::SharedStatusPage page_;
  Process process_;
  w::FrameReader reader_;
};

TEST(Executor, ExitsWithCodeZeroWhenItsChannelClosesBeforeAnyTask) {
  TestExecutor executor;
  executor.close_channel();
  ExitStatus status = executor.wait();
  EXPECT_FALSE(status.signaled) << status.describe();
  EXPECT_EQ(status.code, 0) << status.describe();
}

TEST(Executor, ExitsWithCodeZeroAfterTasksThatPrinted) {
  TestExecutor executor;
  executor.run(1, module_path("testfns"), "chatter", std::string("x"), 3);
  EXPECT_EQ(executor.next_done(), 0);
  executor.run(2, module_path("testfns"), "add", 2, 3);
  EXPECT_EQ(executor.next_done(), 0);
  executor.close_channel();
  ExitStatus status = executor.wait();
  EXPECT_FALSE(status.signaled) << status.describe();
  EXPECT_EQ(status.code, 0) << status.describe();
}

}  // namespace
