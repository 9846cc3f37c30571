// `uni nats-config`: nkey users for a NATS cluster, one per uni client, and
// the nats-server `authorization` block that gives each its role's
// permissions (docs/scale-out.md §4, docs/security.md "NATS credential").
#include <cstdio>
#include <filesystem>

#include "cli/commands.hpp"
#include "common/files.hpp"
#include "common/identity.hpp"
#include "nats/client/nkey.hpp"
#include "nats/store/permissions.hpp"
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
                  "this machine's, " UNI_PLATFORM_TAG ")");
  cmd->add_option("--prefix", flags->prefix, "the names' prefix (UNI_NATS_PREFIX; default uni)");
  cmd->callback([flags, &exit_code] {
    exit_code = guarded("nats-config", [&] {
      std::vector<std::string> platforms = flags->platforms;
      if (platforms.empty()) platforms.push_back(UNI_PLATFORM_TAG);
      nats::Names names(flags->prefix);
      std::vector<std::pair<std::string, Role>> wanted;
      for (const auto& n : flags->bosses) wanted.emplace_back(n, Role::kBoss);
      for (const auto& n : flags->workers) wanted.emplace_back(n, Role::kWorker);
      for (const auto& n : flags->observers) wanted.emplace_back(n, Role::kObserver);
      for (const auto& n : flags->admins) wanted.emplace_back(n, Role::kAdmin);
      if (wanted.empty())
        throw CommandError(kExitUsage,
                           "name at least one user: --boss, --worker, --observer or "
                           "--admin NAME");
      namespace fs = std::filesystem;
      fs::create_directories(flags->out);
      for (const auto& [name, role] : wanted) {
        if (!nats::valid_subject_token(name) || name.find('/') != std::string::npos)
          throw CommandError(kExitUsage,
                             "the user name '" + name + "' must be letters, digits, '-' or '_'");
        if (fs::exists(fs::path(flags->out) / (name + ".nk")))
          throw CommandError(kExitUsage,
                             (fs::path(flags->out) / (name + ".nk")).string() +
                                 " exists: remove it first (uni nats-config never overwrites a "
                                 "seed)");
      }
      std::vector<nats::NatsUser> users;
      std::vector<std::string> seeds;
      for (const auto& [name, role] : wanted) {
        nats::NKey key = nats::NKey::generate_user();
        users.push_back({name, role, key.public_key()});
        seeds.push_back(key.seed());
      }
      const std::string block = nats::authorization_block(names, users, platforms);
      write_file_atomic((fs::path(flags->out) / "authorization.conf").string(), block, 0644);
      for (std::size_t i = 0; i < users.size(); ++i) {
        write_file_atomic((fs::path(flags->out) / (users[i].name + ".nk")).string(),
                          seeds[i] + "\n", 0600);
        std::printf("%s %s %s\n", role_name(users[i].role), users[i].name.c_str(),
                    users[i].nkey.c_str());
      }
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
