// `uni submit` and `uni result`: a task that outlives its boss. The
// first hands the task to the cluster and prints its id; the second, from any
// process and later, prints its result as `uni run` would. On NATS the task
// and its result are stored by the cluster; on the built-in manager they are
// held while the manager runs (uni/detached.hpp).
#include <cstdio>

#include "app/links.hpp"
#include "cli/commands.hpp"
#include "cli/task_call.hpp"
#include "common/json_msgpack.hpp"
#include "common/log.hpp"
#include "common/units.hpp"
#include "uni/detached.hpp"

namespace uni::cli {

namespace {

// No result within --wait: the task may still be queued or running.
constexpr int kExitNoResultYet = 4;

ConnectOptions connect_options(const ClientFlags& flags) {
  ConnectOptions options;
  options.key_file = flags.key_file;
  options.authkey = flags.authkey;
  options.authkey_file = flags.authkey_file;
  return options;
}

std::chrono::milliseconds seconds_option(const std::string& text, const char* name) {
  if (text.empty()) return std::chrono::milliseconds(0);
  auto ms = parse_seconds(text);
  if (!ms) throw CommandError(kExitUsage, std::string(name) + ": not a number of seconds: " + text);
  return *ms;
}

}  // namespace

void add_submit_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "submit",
      "hand FN of MODULE.so to the cluster as a task that outlives this command; print its id\n" +
          task_usage("submit") +
          "  (options anywhere before --; each ARG is JSON); uni result ID prints its result");
  auto client_flags = std::make_shared<ClientFlags>();
  auto task_flags = std::make_shared<TaskFlags>();
  client_flags->add_to(*cmd);
  task_flags->add_to(*cmd);
  cmd->prefix_command();
  cmd->callback([=, &exit_code] {
    exit_code = guarded("submit", [&] {
      // The same command line as uni run (TaskCall).
      TaskCall call = TaskCall::read(*cmd);
      log::setup("uni", "warn");
      TaskOptions options = task_options(*task_flags);
      std::string packed = pack_arguments(call.args);
      std::string id;
      try {
        id = submit_detached(client_flags->address(), call.module, call.function, packed, options,
                             connect_options(*client_flags));
      } catch (const ModuleError& e) {
        throw CommandError(kExitUsage, e.what());
      }
      std::printf("%s\n", id.c_str());
      return kExitOk;
    });
  });
}

void add_result_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "result",
      "print the result of a task uni submit handed over, as uni run prints it; exit 4 if it has "
      "none within --wait (the built-in manager keeps results only while it runs)");
  auto client_flags = std::make_shared<ClientFlags>();
  auto id = std::make_shared<std::string>();
  auto wait = std::make_shared<std::string>("0");
  client_flags->add_to(*cmd);
  cmd->add_option("ID", *id, "task id, as uni submit printed it")->required();
  cmd->add_option("--wait", *wait, "wait this many seconds for the result (default: look once)")
      ->capture_default_str();
  cmd->callback([=, &exit_code] {
    exit_code = guarded("result", [&] {
      log::setup("uni", "warn");
      std::chrono::milliseconds limit = seconds_option(*wait, "--wait");
      const std::string address = client_flags->address();
      std::optional<DetachedResult> r;
      try {
        r = detached_result(address, *id, limit, connect_options(*client_flags));
      } catch (const UnknownTaskError& e) {
        // No result, and none will come: as "no result yet" for scripts (as
        // on NATS, which cannot tell the two apart), with the reason.
        std::fprintf(stderr, "uni result: %s\n", e.what());
        return kExitNoResultYet;
      }
      if (!r) {
        // A broker with no manager cannot tell an unknown task from an
        // unfinished one (a manager throws UnknownTaskError above).
        std::fprintf(stderr, "uni result: task %s has no result yet (%s)\n", id->c_str(),
                     app::broker_identity(address).has_manager
                         ? "still queued or running"
                         : "still queued or running, or unknown or expired");
        return kExitNoResultYet;
      }
      if (!r->ok) {
        std::fprintf(stderr, "uni result: task %s failed (%s): %s\n", id->c_str(),
                     r->status.c_str(), r->value.c_str());
        return kExitTaskFailed;
      }
      msgpack::object_handle h = msgpack::unpack(r->value.data(), r->value.size());
      std::printf("%s\n", dump_json(to_json(h.get())).c_str());
      return kExitOk;
    });
  });
}

}  // namespace uni::cli
