// `uni run`, `map`, `spawn`, `stop`, `status`: the boss side on the command
// line. Arguments are JSON (design §7); results are printed as JSON.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/signals.hpp"
#include "client/client.hpp"
#include "common/json_msgpack.hpp"
#include "common/log.hpp"
#include "common/units.hpp"

namespace uni::cli {

namespace {

using Clock = std::chrono::steady_clock;

// Failures of the command itself, with their exit code.
struct CommandError : std::runtime_error {
  CommandError(int code, const std::string& what) : std::runtime_error(what), code(code) {}
  int code;
};

std::shared_ptr<detail::Client> connect_client(const ClientFlags& flags) {
  ConnectOptions options;
  options.authkey = flags.authkey;
  options.authkey_file = flags.authkey_file;
  std::string address = flags.connect.empty() ? "tcp://127.0.0.1:7070" : flags.connect;
  try {
    return detail::Client::connect(address, options);
  } catch (const ConnectError& e) {
    throw CommandError(kExitConnect, e.what());
  }
}

std::shared_ptr<const detail::ModuleInfo> load_module(detail::Client& client,
                                                      const std::string& path) {
  try {
    return client.module_file(path);
  } catch (const ModuleError& e) {
    throw CommandError(kExitUsage, e.what());
  }
}

TaskOptions task_options(const TaskFlags& flags) {
  TaskOptions options;
  if (!flags.timeout.empty()) {
    auto ms = parse_seconds(flags.timeout);
    if (!ms) throw CommandError(kExitUsage, "--timeout: not a number of seconds: " + flags.timeout);
    options.timeout = *ms;
  }
  if (!flags.wait.empty()) {
    auto ms = parse_seconds(flags.wait);
    if (!ms) throw CommandError(kExitUsage, "--wait: not a number of seconds: " + flags.wait);
    options.wait = *ms;
  }
  if (flags.max_attempts < 1 || flags.max_attempts > 255)
    throw CommandError(kExitUsage, "--max-attempts must be between 1 and 255");
  options.max_attempts = flags.max_attempts;
  return options;
}

std::string pack_arguments(const std::vector<std::string>& args) {
  nlohmann::json values = nlohmann::json::array();
  for (const std::string& a : args) values.push_back(parse_cli_argument(a));
  return json_to_msgpack(values);
}

std::string result_json(const proto::Result& r) {
  msgpack::object_handle h = detail::unpack_checked(r.payload.data(), r.payload.size());
  return dump_json(to_json(h.get()));
}

bool wait_done_for(const detail::TaskState& state, std::chrono::milliseconds timeout) {
  std::unique_lock lock(state.mutex);
  return state.finished.wait_for(lock, timeout, [&] { return state.done; });
}

// Ctrl-C (or SIGTERM) while tasks are out: cancel them on the cluster, so that
// nothing keeps running for a boss that is gone.
struct Interrupted {
  int signal;
};

void on_interrupt_cancel(detail::Client& client,
                         const std::vector<std::shared_ptr<detail::TaskState>>& states) {
  int sig = received_stop_signal();
  if (sig == 0) return;
  std::vector<proto::TaskId> ids;
  for (const auto& s : states)
    if (s && !wait_done_for(*s, std::chrono::milliseconds(0))) ids.push_back(s->task.id);
  if (!ids.empty()) {
    std::fprintf(stderr, "interrupted: cancelling %zu unfinished task(s)\n", ids.size());
    try {
      client.cancel(ids, std::chrono::seconds(3));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cancelling failed: %s\n", e.what());
    }
  }
  throw Interrupted{sig};
}

// Runs a client command, turning its errors into messages and exit codes.
int guarded(const char* name, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Interrupted& i) {
    return 128 + i.signal;
  } catch (const CommandError& e) {
    std::fprintf(stderr, "uni %s: %s\n", name, e.what());
    return e.code;
  } catch (const ConnectError& e) {
    std::fprintf(stderr, "uni %s: %s\n", name, e.what());
    return kExitConnect;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uni %s: %s\n", name, e.what());
    return kExitUsage;
  }
}

// The CLI prints only warnings and errors from the library.
void quiet_logs() { log::setup("uni", "warn"); }

}  // namespace

void TaskFlags::add_to(CLI::App& app) {
  app.add_option("--timeout", timeout, "run-time limit in seconds (fractions allowed)");
  app.add_option("--wait", wait, "how long the task may wait for a worker, seconds");
  app.add_option("--max-attempts", max_attempts,
                 "runs lost to crashes before giving up (1: never rerun)")
      ->capture_default_str();
}

void add_run_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "run",
      "run FN of MODULE.so once and print its result as JSON\n"
      "usage: uni run [OPTIONS] MODULE.so FN [ARG...]  (options before MODULE; each ARG is JSON)");
  auto client_flags = std::make_shared<ClientFlags>();
  auto task_flags = std::make_shared<TaskFlags>();
  client_flags->add_to(*cmd);
  task_flags->add_to(*cmd);
  // Everything from MODULE on is taken as is, so that -7 is an argument.
  cmd->prefix_command();
  cmd->callback([=, &exit_code] {
    exit_code = guarded("run", [&] {
      std::vector<std::string> rest = cmd->remaining();
      if (rest.size() < 2)
        throw CommandError(kExitUsage, "usage: uni run [OPTIONS] MODULE.so FN [ARG...]");
      quiet_logs();
      TaskOptions options = task_options(*task_flags);
      std::string args = pack_arguments({rest.begin() + 2, rest.end()});
      auto client = connect_client(*client_flags);
      auto module = load_module(*client, rest[0]);
      on_stop_signal(nullptr, nullptr);
      auto state = client->submit(module, rest[1], std::move(args), options, 0);
      while (!wait_done_for(*state, std::chrono::milliseconds(100)))
        on_interrupt_cancel(*client, {state});
      const proto::Result& r = state->result;
      if (r.status != proto::Status::kOk) {
        std::fprintf(stderr, "uni run: %s failed (%s): %s\n", rest[1].c_str(),
                     proto::status_name(r.status), r.payload.c_str());
        return kExitTaskFailed;
      }
      std::printf("%s\n", result_json(r).c_str());
      return kExitOk;
    });
  });
}

void add_map_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "map", "run FN once per input line; print one JSON result per line, in order");
  auto client_flags = std::make_shared<ClientFlags>();
  auto task_flags = std::make_shared<TaskFlags>();
  auto module = std::make_shared<std::string>();
  auto function = std::make_shared<std::string>();
  auto input = std::make_shared<std::string>("-");
  client_flags->add_to(*cmd);
  task_flags->add_to(*cmd);
  cmd->add_option("MODULE", *module, "module file (.so)")->required();
  cmd->add_option("FN", *function, "function name")->required();
  cmd->add_option("--input", *input, "file with one JSON array of arguments per line (- for stdin)")
      ->capture_default_str();
  cmd->callback([=, &exit_code] {
    exit_code = guarded("map", [&] {
      quiet_logs();
      TaskOptions options = task_options(*task_flags);
      std::ifstream file;
      std::istream* in = &std::cin;
      if (*input != "-") {
        file.open(*input);
        if (!file) throw CommandError(kExitUsage, "cannot open " + *input);
        in = &file;
      }
      // Parse every line first: a bad line becomes an error line of its own.
      std::vector<std::string> packed;
      std::vector<std::string> bad;  // error text, or empty
      std::string line;
      while (std::getline(*in, line)) {
        nlohmann::json args = nlohmann::json::parse(line, nullptr, false);
        if (args.is_discarded() || !args.is_array()) {
          packed.emplace_back();
          bad.push_back("input line " + std::to_string(packed.size()) +
                        " is not a JSON array of arguments");
          continue;
        }
        packed.push_back(json_to_msgpack(args));
        bad.emplace_back();
      }
      auto client = connect_client(*client_flags);
      auto mod = load_module(*client, *module);
      on_stop_signal(nullptr, nullptr);
      std::vector<std::shared_ptr<detail::TaskState>> states(packed.size());
      for (std::size_t i = 0; i < packed.size(); ++i)
        if (bad[i].empty())
          states[i] = client->submit(mod, *function, std::move(packed[i]), options, 0);

      bool failed = false;
      Clock::time_point next_progress = Clock::now() + std::chrono::seconds(2);
      for (std::size_t i = 0; i < states.size(); ++i) {
        if (!states[i]) {
          std::printf("%s\n", dump_json({{"error", bad[i]}}).c_str());
          failed = true;
          continue;
        }
        while (!wait_done_for(*states[i], std::chrono::milliseconds(100))) {
          on_interrupt_cancel(*client, states);
          if (Clock::now() >= next_progress) {
            std::size_t left = client->outstanding();
            std::fprintf(stderr, "uni map: %zu/%zu done\n", states.size() - left, states.size());
            next_progress = Clock::now() + std::chrono::seconds(2);
          }
        }
        const proto::Result& r = states[i]->result;
        if (r.status == proto::Status::kOk) {
          std::printf("%s\n", result_json(r).c_str());
        } else {
          std::printf(
              "%s\n",
              dump_json({{"error", r.payload}, {"kind", proto::status_name(r.status)}}).c_str());
          failed = true;
        }
        std::fflush(stdout);
      }
      return failed ? kExitTaskFailed : kExitOk;
    });
  });
}

void add_spawn_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("spawn",
                                 "start FN of MODULE.so as a service; print its id\n"
                                 "usage: uni spawn [OPTIONS] MODULE.so FN [ARG...]  (options "
                                 "before MODULE; each ARG is JSON)");
  auto client_flags = std::make_shared<ClientFlags>();
  client_flags->add_to(*cmd);
  cmd->prefix_command();
  cmd->callback([=, &exit_code] {
    exit_code = guarded("spawn", [&] {
      std::vector<std::string> rest = cmd->remaining();
      if (rest.size() < 2)
        throw CommandError(kExitUsage, "usage: uni spawn [OPTIONS] MODULE.so FN [ARG...]");
      quiet_logs();
      std::string args = pack_arguments({rest.begin() + 2, rest.end()});
      auto client = connect_client(*client_flags);
      auto module = load_module(*client, rest[0]);
      auto state = client->submit(module, rest[1], std::move(args), {},
                                  proto::kFlagService | proto::kFlagDetached);
      std::string id = state->task.id.str();
      // Return once its worker reports it running (or it failed at once), so
      // that the service exists when this command exits.
      for (;;) {
        if (wait_done_for(*state, std::chrono::milliseconds(100))) {
          std::fprintf(stderr, "uni spawn: %s ended at once (%s): %s\n", rest[1].c_str(),
                       proto::status_name(state->result.status), state->result.payload.c_str());
          return kExitTaskFailed;
        }
        std::string status = client->status(std::chrono::seconds(5));
        msgpack::object_handle h = detail::unpack_checked(status.data(), status.size());
        nlohmann::json j = to_json(h.get());
        for (const auto& s : j.value("services", nlohmann::json::array()))
          if (s.value("id", "") == id && s.value("started", false)) {
            std::printf("%s\n", id.c_str());
            return kExitOk;
          }
      }
    });
  });
}

void add_stop_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("stop", "stop a service, or cancel a task, by id");
  auto client_flags = std::make_shared<ClientFlags>();
  auto id = std::make_shared<std::string>();
  client_flags->add_to(*cmd);
  cmd->add_option("ID", *id, "service or task id (as printed by uni spawn)")->required();
  cmd->callback([=, &exit_code] {
    exit_code = guarded("stop", [&] {
      auto task = proto::TaskId::parse(*id);
      if (!task) throw CommandError(kExitUsage, "not a task id: " + *id);
      quiet_logs();
      auto client = connect_client(*client_flags);
      auto outcomes = client->cancel({*task}, std::chrono::seconds(5));
      std::string state = outcomes.empty() ? "unknown" : outcomes[0].state;
      if (state == "unknown")
        throw CommandError(kExitTaskFailed, "no task or service with id " + *id);
      if (state == "done") std::printf("%s had already finished\n", id->c_str());
      else if (state == "cancelled") std::printf("cancelled %s before it started\n", id->c_str());
      else std::printf("stopped %s\n", id->c_str());
      return kExitOk;
    });
  });
}

void add_status_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("status", "list workers, the queue and services");
  auto client_flags = std::make_shared<ClientFlags>();
  auto json = std::make_shared<bool>(false);
  client_flags->add_to(*cmd);
  cmd->add_flag("--json", *json, "print the status as one JSON object");
  cmd->callback([=, &exit_code] {
    exit_code = guarded("status", [&] {
      quiet_logs();
      auto client = connect_client(*client_flags);
      std::string bytes = client->status(std::chrono::seconds(5));
      msgpack::object_handle h = detail::unpack_checked(bytes.data(), bytes.size());
      nlohmann::json j = to_json(h.get());
      if (*json) {
        std::printf("%s\n", dump_json(j).c_str());
        return kExitOk;
      }
      std::printf("manager %s at %s (uni %s)\n", j.value("manager", "").c_str(),
                  j.value("endpoint", "").c_str(), j.value("version", "").c_str());
      const auto& workers = j["workers"];
      std::printf("%zu worker(s)\n", workers.size());
      if (!workers.empty()) {
        std::printf("  %-10s %-20s %-8s %-6s %-5s %s\n", "ID", "HOST", "PID", "SLOTS", "BUSY",
                    "ISOLATION");
        for (const auto& w : workers)
          std::printf("  %-10s %-20s %-8u %-6u %-5u %s\n", w.value("id", "").c_str(),
                      w.value("host", "").c_str(), w.value("pid", 0u), w.value("slots", 0u),
                      w.value("busy", 0u), w.value("isolation", "").c_str());
      }
      std::printf("queue: %llu waiting, %llu running\n",
                  static_cast<unsigned long long>(j.value("queue", 0ull)),
                  static_cast<unsigned long long>(j.value("running", 0ull)));
      const auto& services = j["services"];
      std::printf("%zu service(s)\n", services.size());
      for (const auto& s : services)
        std::printf("  %-24s on %-10s %s\n", s.value("id", "").c_str(),
                    s.value("worker", "").c_str(), s.value("function", "").c_str());
      return kExitOk;
    });
  });
}

}  // namespace uni::cli
