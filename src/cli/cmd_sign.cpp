// `uni sign`: code provenance for fleets (docs/security.md §7). `uni sign
// --new-key PATH/NAME` makes an ed25519 key pair; `uni sign MODULE --key
// NAME.signing` writes MODULE.sig beside the module, which bosses send with
// it and workers started with --trust check before they load it.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "common/files.hpp"
#include "common/module_file.hpp"
#include "common/signing.hpp"

namespace uni::cli {

namespace {

int new_key(const std::string& stem) {
  auto [secret, pub] = write_signing_key_pair(stem);
  std::printf("wrote %s (secret, mode 0600) and %s (give this one to workers: --trust)\n",
              secret.c_str(), pub.c_str());
  return kExitOk;
}

int sign(const std::string& module_path, const std::string& key_path) {
  SigningSecretKey key = read_signing_secret_key(key_path);
  ModuleFile module = ModuleFile::load(module_path);
  std::string signature = sign_module(module.hash, key);
  // Other signers' lines for this build stay; this key's line and lines for
  // other builds of the file (stale) go.
  std::string sig_path = module_path + ".sig";
  std::string kept;
  for (const std::string& other : module.signatures)
    if (signature_signer(other) != signature_signer(signature))
      kept += signature_line(module.hash, other, "");
  write_file_atomic(sig_path, kept + signature_line(module.hash, signature, key.name), 0644);
  std::printf("signed %s (module %s) as %s: %s\n", module_path.c_str(),
              module.hash.hex().substr(0, 12).c_str(), key.name.c_str(), sig_path.c_str());
  return kExitOk;
}

}  // namespace

void add_sign_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "sign", "sign a module for workers that run only trusted code (--trust), or make a key");
  auto module = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  auto new_key_stem = std::make_shared<std::string>();
  cmd->add_option("MODULE", *module, "module file (.so): writes MODULE.sig beside it");
  cmd->add_option("--key", *key, "the signing key (NAME.signing, mode 0600)");
  cmd->add_option("--new-key", *new_key_stem,
                  "make a key pair instead: PATH/NAME.signing (secret) and PATH/NAME.signing.pub");
  cmd->callback([=, &exit_code] {
    exit_code = guarded("sign", [&] {
      if (!new_key_stem->empty()) {
        if (!module->empty() || !key->empty())
          throw CommandError(kExitUsage, "--new-key makes a key; sign with MODULE --key FILE");
        return new_key(*new_key_stem);
      }
      if (module->empty() || key->empty())
        throw CommandError(kExitUsage, "give MODULE and --key FILE (or --new-key PATH/NAME)");
      return sign(*module, *key);
    });
  });
}

}  // namespace uni::cli
