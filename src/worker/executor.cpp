// Executor process main loop (see executor.hpp).
#include "worker/executor.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>

#include "worker/channel.hpp"
#include "worker/module_loader.hpp"

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

namespace uni::worker {

namespace {

std::string done_frame(std::uint64_t tag, const Outcome& outcome) {
  msgpack::sbuffer buffer(outcome.payload.size() + 32);
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_array(4);
  p.pack_uint8(kDone);
  p.pack_uint64(tag);
  p.pack_uint8(static_cast<std::uint8_t>(outcome.status));
  p.pack_bin(static_cast<std::uint32_t>(outcome.payload.size()));
  p.pack_bin_body(outcome.payload.data(), static_cast<std::uint32_t>(outcome.payload.size()));
  std::string frame;
  append_frame(frame, std::string_view(buffer.data(), buffer.size()));
  return frame;
}

std::string_view str_of(const msgpack::object& o) {
  if (o.type == msgpack::type::STR) return {o.via.str.ptr, o.via.str.size};
  if (o.type == msgpack::type::BIN) return {o.via.bin.ptr, o.via.bin.size};
  throw std::runtime_error("executor: expected a string field");
}

}  // namespace

int run_executor(const ExecutorOptions& options) {
  // Die with the supervisor, so no executor outlives it holding a port.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (options.supervisor != 0 && ::getppid() != options.supervisor) return 1;
  if (options.mem_limit > 0) {
    // Address-space limit: an allocation past it fails with std::bad_alloc,
    // which the task sees as a clean exception rather than the OOM killer.
    struct rlimit limit {options.mem_limit, options.mem_limit};
    if (::setrlimit(RLIMIT_AS, &limit) != 0) std::perror("executor: setrlimit(RLIMIT_AS)");
  }
  std::signal(SIGPIPE, SIG_IGN);  // a task writing to a closed socket gets EPIPE

  std::map<std::string, std::unique_ptr<LoadedModule>, std::less<>> modules;
  FrameReader reader;
  for (;;) {
    std::optional<std::string> frame;
    while (!(frame = reader.next()))
      if (!reader.fill(kExecutorChannelFd)) return 0;  // supervisor closed the channel
    msgpack::object_handle handle = msgpack::unpack(frame->data(), frame->size());
    const msgpack::object& msg = handle.get();
    if (msg.type != msgpack::type::ARRAY || msg.via.array.size < 2) return 2;
    const msgpack::object* f = msg.via.array.ptr;
    std::uint8_t kind = f[0].as<std::uint8_t>();

    if (kind == kUnload) {
      modules.erase(std::string(str_of(f[1])));
      continue;
    }
    if (kind != kRun || msg.via.array.size < 5) return 2;
    std::uint64_t tag = f[1].as<std::uint64_t>();
    std::string path(str_of(f[2]));
    std::string_view function = str_of(f[3]);
    std::string_view args = str_of(f[4]);

    Outcome outcome;
    auto it = modules.find(path);
    if (it == modules.end()) {
      try {
        it = modules.emplace(path, LoadedModule::open(path)).first;
      } catch (const ModuleLoadError& e) {
        outcome = {proto::Status::kModuleError, e.what()};
      }
    }
    if (it != modules.end()) outcome = invoke(*it->second, function, args);
    // Flush the task's output before its result, so that the supervisor, which
    // drains the pipes when the result arrives, labels every line correctly.
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    if (!write_all(kExecutorChannelFd, done_frame(tag, outcome))) return 0;
  }
}

}  // namespace uni::worker
