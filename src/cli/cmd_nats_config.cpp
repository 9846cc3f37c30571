// `uni nats-config`: nkey users for a NATS cluster, one per uni client, and
// the nats-server `authorization` block that gives each its role's
// permissions (docs/scale-out.md §4, docs/security.md §1.8). The work is
// the composition root's (app/broker_access.hpp).
#include <cstdio>
#include <stdexcept>

#include "app/broker_access.hpp"
#include "cli/commands.hpp"
#include "proto/platforms.hpp"
#include "uni/detail/platform.hpp"

namespace uni::cli {

void add_nats_config_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "nats-config",
      "write a nats-server authorization block (DIR/authorization.conf) with an nkey user per "
      "name and its role's permissions, and each user's seed (DIR/NAME.nk, mode 0600)");
  struct Flags {
    std::string out, prefix = "uni";
    std::vector<std::string> bosses, workers, observers, admins, platforms;
  };
  auto flags = std::make_shared<Flags>();
  cmd->add_option("--out", flags->out, "the directory to write into (created if missing)")
      ->required();
  cmd->add_option("--boss", flags->bosses,
                  "a boss: submits tasks and reads its own results (repeatable)");
  cmd->add_option("--worker", flags->workers,
                  "a worker: takes tasks and stores their results (repeatable)");
  cmd->add_option("--observer", flags->observers, "reads the status only (repeatable)");
  cmd->add_option("--admin", flags->admins,
                  "may do everything, creates uni's streams (repeatable)");
  cmd->add_option("--platform", flags->platforms,
                  "platform tags whose task streams the users may use (repeatable; default: "
                  "this machine's, " UNI_PLATFORM_TAG
                  ", and for its Python functions " UNI_PLATFORM_TAG "+python311)");
  cmd->add_option("--prefix", flags->prefix, "the names' prefix (UNI_NATS_PREFIX; default uni)");
  cmd->callback([flags, &exit_code] {
    exit_code = guarded("nats-config", [&] {
      std::vector<std::string> platforms = flags->platforms;
      if (platforms.empty())
        platforms = {UNI_PLATFORM_TAG,
                     std::string(UNI_PLATFORM_TAG "+") + std::string(proto::kPythonCapability)};
      std::vector<app::AccessUser> users;
      for (const auto& n : flags->bosses) users.push_back({n, Role::kBoss, ""});
      for (const auto& n : flags->workers) users.push_back({n, Role::kWorker, ""});
      for (const auto& n : flags->observers) users.push_back({n, Role::kObserver, ""});
      for (const auto& n : flags->admins) users.push_back({n, Role::kAdmin, ""});
      if (users.empty())
        throw CommandError(kExitUsage,
                           "name at least one user: --boss, --worker, --observer or --admin NAME");
      try {
        users = app::write_nats_config(flags->out, std::move(users), platforms, flags->prefix);
      } catch (const std::invalid_argument& e) {
        throw CommandError(kExitUsage, e.what());
      }
      for (const app::AccessUser& user : users)
        std::printf("%s %s %s\n", role_name(user.role), user.name.c_str(), user.public_key.c_str());
      std::fprintf(stderr,
                   "wrote %s/authorization.conf (include it in the nats-server configuration) "
                   "and a seed per user, NAME.nk (keep it private: give it to that client as "
                   "UNI_NATS_NKEY_SEED_FILE)\n",
                   flags->out.c_str());
      return kExitOk;
    });
  });
}

}  // namespace uni::cli
