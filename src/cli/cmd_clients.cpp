// `uni run`, `map`, `spawn`, `stop`, `status`, `become`: the boss side on the command
// line, through the public API of include/uni/uni.hpp alone (untyped calls
// with msgpack in and out). Arguments are JSON; results are
// printed as JSON.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/commands.hpp"
#include "cli/progress_line.hpp"
#include "cli/signals.hpp"
#include "cli/status_view.hpp"
#include "cli/task_call.hpp"
#include "common/json_msgpack.hpp"
#include "common/log.hpp"
#include "common/units.hpp"
#include "uni/uni.hpp"

namespace uni::cli {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

Cluster connect_cluster(const ClientFlags& flags) {
  ConnectOptions options;
  options.key_file = flags.key_file;
  options.authkey = flags.authkey;
  options.authkey_file = flags.authkey_file;
  try {
    return connect(flags.address(), options);
  } catch (const ConnectError& e) {
    throw CommandError(kExitConnect, e.what());
  }
}

// Reads and checks the module file before anything is submitted: a bad one
// is a usage error, whatever the input.
void check_module(const Cluster& cluster, const std::string& path, const std::string& function) {
  try {
    cluster.function<void()>(path, function);
  } catch (const ModuleError& e) {
    throw CommandError(kExitUsage, e.what());
  }
}

// A finished task, as `uni run` reports it: the result as JSON on stdout
// (exit 0), or what went wrong on stderr (exit 1).
int report_result(const char* command, const std::string& function, const Future<Msgpack>& task,
                  const char* failed) {
  try {
    std::printf("%s\n", msgpack_to_json(task.get().bytes).c_str());
    return kExitOk;
  } catch (const TaskError& e) {
    if (e.kind() == ErrorKind::kRefused) {  // the key may not submit: the text says why
      std::fprintf(stderr, "uni %s: %s\n", command, e.what());
      return kExitConnect;
    }
    std::fprintf(stderr, "uni %s: %s %s (%s): %s\n", command,
                 function.empty() ? "''" : function.c_str(), failed, to_string(e.kind()), e.what());
    return kExitTaskFailed;
  }
}

// Ctrl-C (or SIGTERM) while tasks are out: cancel them on the cluster, so that
// nothing keeps running (or waits to run) for a boss that is gone.
struct Interrupted {
  int signal;
};

void on_interrupt_cancel(const Cluster& cluster, const std::vector<Future<Msgpack>>& tasks) {
  int sig = received_stop_signal();
  if (sig == 0) return;
  std::vector<std::string> ids;
  for (const auto& t : tasks)
    if (t.valid() && !t.ready()) ids.push_back(t.id());
  if (!ids.empty()) {
    std::string which = ids.size() == 1 ? " (" + ids.front() + ")" : "";
    std::fprintf(stderr, "interrupted: cancelling %zu unfinished task(s)%s\n", ids.size(),
                 which.c_str());
    try {
      cluster.cancel(ids);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cancelling failed: %s\n", e.what());
    }
  }
  withdrawing_tasks(false);
  throw Interrupted{sig};
}

// The CLI prints only warnings and errors from the library (UNI_LOG_LEVEL
// overrides: debug shows the key lookup, the connection, each request).
void quiet_logs() { log::setup("uni", "warn"); }

// Every input line, read whole before anything is submitted. Input that
// cannot be read (a directory, an I/O error) is an error, never an empty map.
std::vector<std::string> read_input(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  std::string name = path == "-" ? "standard input" : path;
  if (path != "-") {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      throw CommandError(kExitUsage, "cannot read " + path + ": it is a directory");
    file.open(path);
    if (!file) throw CommandError(kExitUsage, "cannot open " + path + ": " + std::strerror(errno));
    in = &file;
  }
  std::vector<std::string> lines;
  std::string line;
  errno = 0;
  while (std::getline(*in, line)) lines.push_back(std::move(line));
  // std::cin reads through stdio, which keeps a read error to itself.
  if (in->bad() || !in->eof() || (in == &std::cin && std::ferror(stdin)))
    throw CommandError(kExitUsage, "cannot read " + name +
                                       (errno ? ": " + std::string(std::strerror(errno)) : ""));
  log::debug("read {} input line(s) from {}", lines.size(), name);
  return lines;
}

}  // namespace

// Every task command (run, map, spawn) takes the same command line:
// options anywhere, then MODULE.so FN ARG... (TaskCall; map takes no ARG).
struct TaskCommand {
  CLI::App* cmd;
  std::shared_ptr<ClientFlags> client_flags = std::make_shared<ClientFlags>();
  std::shared_ptr<TaskFlags> task_flags = std::make_shared<TaskFlags>();
};

TaskCommand add_task_command(CLI::App& app, const std::string& name, const std::string& what,
                             bool takes_args = true) {
  TaskCommand c{
      app.add_subcommand(name, what + "\n" + task_usage(name, takes_args) +
                                   (takes_args ? "  (options anywhere before --; each ARG is JSON)"
                                               : "  (options anywhere)"))};
  c.client_flags->add_to(*c.cmd);
  c.task_flags->add_to(*c.cmd);
  c.cmd->prefix_command();
  return c;
}

// What a task command has read and checked before it submits anything: the
// call, its options and arguments, and the cluster, whose module it checked.
struct PreparedCall {
  TaskCall call;
  TaskOptions options;
  Msgpack args;
  Cluster cluster;
};

PreparedCall prepare_call(const TaskCommand& c) {
  TaskCall call = TaskCall::read(*c.cmd);
  quiet_logs();
  TaskOptions options = task_options(*c.task_flags);
  Msgpack args{pack_arguments(call.args)};
  Cluster cluster = connect_cluster(*c.client_flags);
  check_module(cluster, call.module, call.function);
  on_stop_signal(nullptr, nullptr);
  withdrawing_tasks(true);
  return {std::move(call), options, std::move(args), std::move(cluster)};
}

void add_run_command(CLI::App& app, int& exit_code) {
  TaskCommand c =
      add_task_command(app, "run", "run FN of MODULE.so once and print its result as JSON");
  c.cmd->callback([=, &exit_code] {
    exit_code = guarded("run", [&] {
      auto [call, options, args, cluster] = prepare_call(c);
      Future<Msgpack> task = cluster.call(call.module, call.function, std::move(args), options);
      log::debug("submitted {} as task {}", call.function, task.id());
      while (!task.wait_for(100ms)) on_interrupt_cancel(cluster, {task});
      return report_result("run", call.function, task, "failed");
    });
  });
}

void add_map_command(CLI::App& app, int& exit_code) {
  TaskCommand c = add_task_command(
      app, "map", "run FN once per input line; print one JSON result per line, in order",
      /*takes_args=*/false);
  auto input = std::make_shared<std::string>("-");
  c.cmd
      ->add_option("--input", *input,
                   "file with one JSON array of arguments per line (- for stdin)")
      ->capture_default_str();
  auto quiet = std::make_shared<bool>(false);
  auto progress = std::make_shared<bool>(false);
  c.cmd->add_flag("--quiet", *quiet, "no progress line on stderr");
  c.cmd->add_flag("--progress", *progress,
                  "a progress line on stderr even when it is not a terminal (a line every 2 s)");
  c.cmd->callback([=, &exit_code] {
    exit_code = guarded("map", [&] {
      const Clock::time_point started = Clock::now();
      TaskCall call = TaskCall::read(*c.cmd, /*takes_args=*/false);
      quiet_logs();
      TaskOptions options = task_options(*c.task_flags);
      std::vector<std::string> lines = read_input(*input);
      // Parse every line first: a bad line becomes an error line of its own.
      std::vector<std::string> packed(lines.size());
      std::vector<std::string> bad(lines.size());  // error text, or empty
      for (std::size_t i = 0; i < lines.size(); ++i) {
        std::string where = "input line " + std::to_string(i + 1);
        try {
          nlohmann::json args = parse_json(lines[i]);
          if (!args.is_array()) bad[i] = where + " is not a JSON array of arguments";
          else packed[i] = json_to_msgpack(args);
        } catch (const JsonError& e) {
          bad[i] =
              e.not_json() ? where + " is not a JSON array of arguments" : where + ": " + e.what();
        }
      }
      Cluster cluster = connect_cluster(*c.client_flags);
      check_module(cluster, call.module, call.function);
      on_stop_signal(nullptr, nullptr);
      withdrawing_tasks(true);
      // The line's clock started with the map, before its input was read:
      // started after the submission, its first frame showed millions of
      // tasks a second, and its final average left out reading the input,
      // connecting and submitting (1.5 to 4 times the real rate).
      ProgressLine line(stderr, ProgressLine::choose(stderr, *quiet, *progress), packed.size(),
                        started);
      std::vector<Future<Msgpack>> tasks(packed.size());
      for (std::size_t i = 0; i < packed.size(); ++i)
        if (bad[i].empty())
          tasks[i] = cluster.call(call.module, call.function, {std::move(packed[i])}, options);

      bool failed = false;
      std::string refusal;  // the manager's, if the key may not submit
      // Inputs refused before submission count as finished and failed.
      const std::size_t refused_inputs = static_cast<std::size_t>(
          std::count_if(bad.begin(), bad.end(), [](const auto& b) { return !b.empty(); }));
      auto show = [&] {
        // Both counts from one moment: a result arriving between two reads
        // (in the order the compiler chose) showed a failed task as done but
        // not yet failed. Everything is submitted, so `unfinished` only falls.
        std::size_t unfinished = 0, failed_now = 0;
        do {
          unfinished = cluster.unfinished();
          failed_now = cluster.failed();
        } while (cluster.unfinished() != unfinished);
        line.update(tasks.size() - unfinished, refused_inputs + failed_now);
      };
      for (std::size_t i = 0; i < tasks.size(); ++i) {
        if (!tasks[i].valid()) {
          std::printf("%s\n", dump_json({{"error", bad[i]}}).c_str());
          failed = true;
          continue;
        }
        while (!tasks[i].wait_for(100ms)) {
          on_interrupt_cancel(cluster, tasks);
          show();
        }
        show();
        try {
          std::printf("%s\n", msgpack_to_json(tasks[i].get().bytes).c_str());
        } catch (const TaskError& e) {
          std::printf("%s\n",
                      dump_json({{"error", e.what()}, {"kind", to_string(e.kind())}}).c_str());
          failed = true;
          if (e.kind() == ErrorKind::kRefused) refusal = e.what();
        }
        std::fflush(stdout);
      }
      line.finish(tasks.size(), refused_inputs + cluster.failed());
      if (!refusal.empty()) {  // the key may not submit: said once, as uni run says it
        std::fprintf(stderr, "uni map: %s\n", refusal.c_str());
        return kExitConnect;
      }
      return failed ? kExitTaskFailed : kExitOk;
    });
  });
}

void add_spawn_command(CLI::App& app, int& exit_code) {
  TaskCommand c =
      add_task_command(app, "spawn", "start FN of MODULE.so as a service; print its id");
  c.cmd->callback([=, &exit_code] {
    exit_code = guarded("spawn", [&] {
      auto [call, options, args, cluster] = prepare_call(c);
      Service<Msgpack> service =
          cluster.spawn(call.module, call.function, std::move(args), options, /*detached=*/true);
      const std::string id = service.id();
      log::debug("submitted {} as service {}", call.function, id);
      // Return once its worker reports it running (the manager says so:
      // SERVICE_STARTED), so that the service exists when this command
      // exits; or with its result, if it ended at once.
      Clock::time_point notice_at = Clock::now() + 3s;
      for (;;) {
        if (service.wait_started_for(100ms)) {
          if (!service.future().ready()) {
            std::printf("%s\n", id.c_str());
            return kExitOk;
          }
          try {
            service.get();
            std::fprintf(stderr, "uni spawn: %s returned at once, so it runs as no service\n",
                         call.function.c_str());
          } catch (const TaskError&) {
          }
          return report_result("spawn", call.function, service.future(), "ended at once");
        }
        on_interrupt_cancel(cluster, {service.future()});  // not yet started: withdrawn
        if (Clock::now() < notice_at) continue;
        // Say once why it waits. With no worker for its platform the manager
        // says so too; this also covers workers that are all busy.
        notice_at = Clock::time_point::max();
        ClusterStatus status;
        try {
          status = cluster.status();
        } catch (const std::exception& e) {
          log::debug("status: {}", e.what());  // the client says on stderr what it waits for
          continue;
        }
        unsigned slots = 0, busy = 0;
        for (const auto& w : status.workers) {
          slots += w.slots;
          busy += w.busy;
        }
        std::fprintf(stderr,
                     "uni spawn: service %s is still waiting for a worker to start it (%zu "
                     "worker(s), %u of %u slot(s) busy, %llu task(s) queued); Ctrl-C "
                     "withdraws it\n",
                     id.c_str(), status.workers.size(), busy, slots,
                     static_cast<unsigned long long>(status.queued));
      }
    });
  });
}

// Waits up to `limit` for the manager to stop listing service `id`: it does
// once the service's worker has reported it ended, that is once its executor
// is gone and with it the service's descriptors (its port). True then, or at
// once for a plain task, which the status does not list.
bool service_ended(const Cluster& cluster, const std::string& id, Clock::duration limit) {
  const Clock::time_point deadline = Clock::now() + limit;
  for (;;) {
    const ClusterStatus status = cluster.status();
    if (std::none_of(status.services.begin(), status.services.end(),
                     [&](const ServiceStatus& s) { return s.id == id; }))
      return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);  // no event tells another boss of the end
  }
}

void add_stop_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("stop", "stop a service, or cancel a task, by id");
  auto client_flags = std::make_shared<ClientFlags>();
  auto id = std::make_shared<std::string>();
  client_flags->add_to(*cmd);
  cmd->add_option("ID", *id, "service or task id (as printed by uni spawn or uni status)")
      ->required();
  cmd->callback([=, &exit_code] {
    exit_code = guarded("stop", [&] {
      if (!valid_task_id(*id)) throw CommandError(kExitUsage, "not a task id: " + *id);
      quiet_logs();
      Cluster cluster = connect_cluster(*client_flags);
      CancelResult state = cluster.cancel({*id}).at(0);
      if (state == CancelResult::kUnknown)
        throw CommandError(kExitTaskFailed, "no task or service with id " + *id);
      if (state == CancelResult::kDone) std::printf("%s had already finished\n", id->c_str());
      else if (state == CancelResult::kCancelled)
        std::printf("cancelled %s before it started\n", id->c_str());
      // A running service: its worker was told to stop it. "stopped" once it
      // has ended, so that its port and its slot are free when this returns.
      else if (service_ended(cluster, *id, 10s)) std::printf("stopped %s\n", id->c_str());
      else
        std::printf(
            "stopping %s: its worker has not reported its end yet (uni status lists it "
            "until then)\n",
            id->c_str());
      return kExitOk;
    });
  });
}

// The status, waited for up to `limit` while the broker does not answer (a
// NATS cluster electing leaders, regaining a quorum), saying so once: a
// status is most wanted when the cluster is in trouble. One request at a
// time: a request that timed out still runs, and new ones would queue
// behind it.
ClusterStatus status_within(const Cluster& cluster, std::chrono::seconds limit) {
  const Clock::time_point deadline = Clock::now() + limit;
  bool said = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    try {
      return cluster.status(said ? std::max(left, std::chrono::milliseconds(1000)) : 5000ms);
    } catch (const RefusedError&) {
      throw;                    // an answer: waiting would not change it
    } catch (const Error& e) {  // the broker's failure
      if (Clock::now() >= deadline) throw;
      if (!said)
        std::fprintf(stderr, "uni status: %s; waiting for up to %lld s\n", e.what(),
                     static_cast<long long>(limit.count()));
      said = true;
      std::this_thread::sleep_for(500ms);
    }
  }
}

void add_status_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("status", "list workers, the queue and services");
  auto client_flags = std::make_shared<ClientFlags>();
  auto json = std::make_shared<bool>(false);
  auto watch = std::make_shared<bool>(false);
  auto interval = std::make_shared<std::string>("1");
  client_flags->add_to(*cmd);
  cmd->add_flag("--json", *json, "print the status as one JSON object");
  cmd->add_flag("--watch", *watch,
                "refresh in place until Ctrl-C (with --json: one JSON object a line)");
  cmd->add_option("--interval", *interval, "seconds between refreshes of --watch")
      ->capture_default_str();
  cmd->callback([=, &exit_code] {
    exit_code = guarded("status", [&] {
      quiet_logs();
      auto every = parse_seconds(*interval);
      if (!every || every->count() < 100)
        throw CommandError(kExitUsage, "--interval: not a number of seconds >= 0.1: " + *interval);
      Cluster cluster = connect_cluster(*client_flags);
      if (*watch) return watch_status([&] { return cluster.status(); }, *json, *every);
      ClusterStatus status = status_within(cluster, 30s);
      if (*json) {
        std::printf("%s\n", to_json(status).c_str());
        return kExitOk;
      }
      std::fputs(status_text(status).c_str(), stdout);
      return kExitOk;
    });
  });
}

// `uni become ID MODULE FN`: the running service takes on new code, keeping
// its id, its state and its connections (uni/service.hpp). Exit 1 with the
// reason when it did not (the service runs on unchanged).
void add_become_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "become", "turn a running service into another function, keeping its state and connections");
  auto client_flags = std::make_shared<ClientFlags>();
  auto id = std::make_shared<std::string>();
  auto module = std::make_shared<std::string>();
  auto function = std::make_shared<std::string>();
  auto timeout = std::make_shared<std::string>("10");
  client_flags->add_to(*cmd);
  cmd->add_option("ID", *id, "service id (as printed by uni spawn or uni status)")->required();
  cmd->add_option("MODULE", *module, "module file with the new version")->required();
  cmd->add_option("FN", *function, "its function that takes the service over")->required();
  cmd->add_option("--timeout", *timeout,
                  "seconds the service has to hand over (then it keeps running); default 10");
  cmd->callback([=, &exit_code] {
    exit_code = guarded("become", [&] {
      if (!valid_task_id(*id)) throw CommandError(kExitUsage, "not a service id: " + *id);
      auto limit = parse_seconds(*timeout);
      if (!limit || limit->count() <= 0 || *limit > std::chrono::hours(24))
        throw CommandError(
            kExitUsage,
            "--timeout: not a number of seconds above 0 and at most a day: " + *timeout);
      quiet_logs();
      Cluster cluster = connect_cluster(*client_flags);
      BecomeResult became;
      try {
        became = cluster.become(*id, *module, *function, *limit);
      } catch (const ConnectError&) {
        throw;
      } catch (const RefusedError&) {
        throw;  // exit 3, as every refusal
      } catch (const ModuleError& e) {
        throw CommandError(kExitUsage, e.what());
      } catch (const Error& e) {
        // Refused or failed: the service runs on as it was.
        throw CommandError(kExitTaskFailed, e.what());
      }
      std::printf("%s became %s of %s (handover %.3f ms, become #%u)\n", id->c_str(),
                  function->c_str(), module->c_str(), became.handover.count() / 1e6,
                  became.becomes);
      return kExitOk;
    });
  });
}

int guarded(const char* name, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Interrupted& i) {
    return 128 + i.signal;
  } catch (const CLI::CallForHelp&) {
    throw;  // main prints the command's help
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "uni %s: %s\n", name, e.what());
    return kExitUsage;
  } catch (const CommandError& e) {
    std::fprintf(stderr, "uni %s: %s\n", name, e.what());
    return e.code;
  } catch (const ConnectError& e) {
    std::fprintf(stderr, "uni %s: %s\n", name, e.what());
    return kExitConnect;
  } catch (const RefusedError& e) {
    std::fprintf(stderr, "uni %s: %s\n", name, e.what());
    return kExitConnect;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uni %s: %s\n", name, e.what());
    return kExitUsage;
  }
}

}  // namespace uni::cli
