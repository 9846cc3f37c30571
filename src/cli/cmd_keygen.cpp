// `uni keygen`: a client key of its own for a manager started with --clients
// (docs/security.md §3): NAME.secret for the client, NAME.pub for the
// manager's clients file.
#include <cstdio>

#include "cli/commands.hpp"
#include "common/key_files.hpp"
#include "common/keys.hpp"
#include "common/log.hpp"

namespace uni::cli {

void add_keygen_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "keygen",
      "make a client key: PATH/NAME.secret (mode 0600, for the client's --key) and "
      "PATH/NAME.pub (a line for the manager's --clients file)");
  auto role = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto authkey = std::make_shared<std::string>();
  auto authkey_file = std::make_shared<std::string>();
  cmd->add_option("--role", *role,
                  "boss (submit, act on its own tasks), worker (run tasks), observer (read the "
                  "status) or admin (everything)")
      ->required()
      ->check(CLI::IsMember({"boss", "worker", "observer", "admin"}));
  cmd->add_option("--out", *out, "PATH/NAME: the key's name is NAME")->required();
  cmd->add_option("--authkey-file", *authkey_file,
                  "the manager's authkey, whose public key the client needs (default: "
                  "$UNI_AUTHKEY or ~/.config/uni/authkey, created if missing, as uni manager "
                  "does)");
  cmd->add_option("--authkey", *authkey, "the manager's authkey itself")->group("");
  cmd->callback([=, &exit_code] {
    exit_code = guarded("keygen", [&] {
      log::setup("uni", "warn");
      std::string key;
      if (auto found = find_authkey(*authkey, *authkey_file)) {
        key = *found;
      } else {
        key = create_default_authkey();
        std::fprintf(stderr, "generated a new authkey in %s (uni manager finds it there)\n",
                     default_authkey_path().c_str());
      }
      std::size_t slash = out->rfind('/');
      std::string name = slash == std::string::npos ? *out : out->substr(slash + 1);
      ClientKey k =
          generate_client_key(name, *role_from_name(*role), derive_curve_keys(key).server_public);
      try {
        write_client_key(*out, k);
      } catch (const std::runtime_error& e) {
        throw CommandError(kExitUsage, e.what());
      }
      std::printf("%s\n", public_line(k).c_str());
      std::fprintf(stderr,
                   "wrote %s.secret (keep it private: give it to the client as --key or UNI_KEY) "
                   "and %s.pub (add its line to the manager's --clients file)\n",
                   out->c_str(), out->c_str());
      return kExitOk;
    });
  });
}

}  // namespace uni::cli
