// `uni submit` and `uni result`: a task that outlives its boss (issue 9). The
// first hands the task to the cluster and prints its id; the second, from any
// process and later, prints its result as `uni run` would. On NATS the task
// and its result are stored by the cluster; on the built-in manager they are
// held while the manager runs (uni/detached.hpp).
#include <cstdio>

#include "cli/commands.hpp"
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
      "hand FN of MODULE.so to the cluster as a task that outlives this command; print its id\n"
      "usage: uni submit [OPTIONS] MODULE.so FN [ARG...]  (options before MODULE; each ARG is "
      "JSON); uni result ID prints its result");
  auto client_flags = std::make_shared<ClientFlags>();
  auto task_flags = std::make_shared<TaskFlags>();
  client_flags->add_to(*cmd);
  task_flags->add_to(*cmd);
  cmd->prefix_command();
  cmd->callback([=, &exit_code] {
    exit_code = guarded("submit", [&] {
      log::setup("uni", "warn");
      std::vector<std::string> rest = cmd->remaining();
      if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
      if (rest.size() < 2)
        throw CommandError(kExitUsage, "usage: uni submit [OPTIONS] MODULE.so FN [ARG...]");
      TaskOptions options;
      options.timeout = seconds_option(task_flags->timeout, "--timeout");
      options.wait = seconds_option(task_flags->wait, "--wait");
      options.max_attempts = task_flags->max_attempts;
      nlohmann::json args = nlohmann::json::array();
      for (std::size_t i = 2; i < rest.size(); ++i) {
        try {
          args.push_back(parse_cli_argument(rest[i]));
        } catch (const JsonError& e) {
          throw CommandError(kExitUsage, "argument " + std::to_string(i - 1) + ": " + e.what());
        }
      }
      std::string packed;
      try {
        packed = json_to_msgpack(args);
      } catch (const JsonError& e) {
        throw CommandError(kExitUsage, std::string("arguments: ") + e.what());
      }
      std::string id;
      try {
        id = submit_detached(client_flags->address(), rest[0], rest[1], packed, options,
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
        std::fprintf(stderr, "uni result: task %s has no result yet (%s)\n", id->c_str(),
                     address.rfind("nats://", 0) == 0
                         ? "still queued or running, or unknown or expired"
                         : "still queued or running");
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
