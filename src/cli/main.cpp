// `uni`: one binary for every role (manager, worker, up) and every client
// command (run, map, spawn, stop, status, inspect). See README and docs/architecture.md.
#include <sodium.h>

#include <cstdio>
#include <cstring>

#include "cli/commands.hpp"
#include "uni/version.hpp"

int main(int argc, char** argv) {
  using namespace uni::cli;
  // Executors start often and need none of the set-up below.
  if (argc >= 2 && std::strcmp(argv[1], "executor") == 0) return executor_main(argc, argv);
  if (sodium_init() < 0) {
    std::fprintf(stderr, "uni: libsodium failed to initialise\n");
    return kExitUsage;
  }

  CLI::App app{"uni: a universal server. Workers run any function you send them."};
  app.set_version_flag("--version", "uni " UNI_VERSION_STRING);
  app.require_subcommand(1);
  int exit_code = kExitOk;
  add_manager_command(app, exit_code);
  add_worker_command(app, exit_code);
  add_up_command(app, exit_code);
  add_run_command(app, exit_code);
  add_map_command(app, exit_code);
  add_spawn_command(app, exit_code);
  add_stop_command(app, exit_code);
  add_status_command(app, exit_code);
  add_become_command(app, exit_code);
  add_inspect_command(app, exit_code);
  add_keygen_command(app, exit_code);
  add_nats_config_command(app, exit_code);
  add_sign_command(app, exit_code);
  add_submit_command(app, exit_code);
  add_result_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message
    return kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uni: %s\n", e.what());
    return kExitUsage;
  }
  return exit_code;
}
