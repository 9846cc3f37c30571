// The `uni` command line: one function per subcommand, and the conventions
// they share: exit codes, client flags, argument parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace uni::cli {

// Exit codes, part of the CLI's contract.
inline constexpr int kExitOk = 0;
inline constexpr int kExitTaskFailed = 1;  // the task (for map: at least one) failed
inline constexpr int kExitUsage = 2;       // bad flag, bad file, local error
// Cannot connect, authentication failed, or refused (the key's role may not
// do it, or the task is another key's).
inline constexpr int kExitConnect = 3;

// --connect, --key, --authkey, --authkey-file (UNI_CONNECT, UNI_KEY and
// UNI_AUTHKEY stand in).
struct ClientFlags {
  std::string connect;
  std::string key_file;
  std::string authkey;
  std::string authkey_file;
  void add_to(CLI::App& app);
  // --connect, or the default local manager.
  std::string address() const { return connect.empty() ? "tcp://127.0.0.1:7070" : connect; }
};

// A client command's failure, with its exit code.
struct CommandError : std::runtime_error {
  CommandError(int code, const std::string& what) : std::runtime_error(what), code(code) {}
  int code;
};

// Runs a client command's body, turning its errors into a line on stderr
// ("uni NAME: ...") and an exit code (cmd_clients.cpp).
int guarded(const char* name, const std::function<int()>& body);

// Task options shared by run, map and spawn.
struct TaskFlags {
  std::string timeout;  // seconds, fractions allowed
  std::string wait;
  int max_attempts = 3;
  void add_to(CLI::App& app);
};

// Each registers its subcommand on `app`; the callback it sets runs the
// command and stores the exit code in `exit_code`.
void add_manager_command(CLI::App& app, int& exit_code);
void add_up_command(CLI::App& app, int& exit_code);
void add_worker_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);
void add_map_command(CLI::App& app, int& exit_code);
void add_spawn_command(CLI::App& app, int& exit_code);
void add_stop_command(CLI::App& app, int& exit_code);
void add_status_command(CLI::App& app, int& exit_code);
void add_become_command(CLI::App& app, int& exit_code);
void add_inspect_command(CLI::App& app, int& exit_code);
// Client keys for a manager started with --clients (cmd_keygen.cpp).
void add_keygen_command(CLI::App& app, int& exit_code);
// nkey users and nats-server permissions for a NATS cluster (cmd_nats_config.cpp).
void add_nats_config_command(CLI::App& app, int& exit_code);
// Module signatures and signing keys (cmd_sign.cpp).
void add_sign_command(CLI::App& app, int& exit_code);
// Tasks that outlive their boss (cmd_detached.cpp).
void add_submit_command(CLI::App& app, int& exit_code);
void add_result_command(CLI::App& app, int& exit_code);

// `uni executor`: not for people; the worker starts its executors this way.
int executor_main(int argc, char** argv);

}  // namespace uni::cli
