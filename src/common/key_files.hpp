// Client key files (`uni keygen`, docs/security.md §3): NAME.secret, a
// client's own CURVE keypair with its name, its role and the manager's public
// key; NAME.pub, the one line `ROLE Z85-PUBLIC-KEY NAME` that goes into the
// manager's clients file (like ssh's authorized_keys). Secret files that
// others may read are refused, as ssh refuses such private keys; a clients
// file that others may write is refused, as sshd refuses such an
// authorized_keys.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/identity.hpp"
#include "common/keys.hpp"

namespace uni {

// A key file's problem (unreadable, malformed, too open): the message names
// the file and what to do.
struct KeyFileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ClientKey {
  std::string name;
  Role role = Role::kBoss;
  std::string public_key, secret_key;  // 32 raw bytes each
  std::string manager_key;             // the manager's public key, 32 raw bytes
};

// Z85 (ZeroMQ RFC 32) of 32 raw bytes: 40 characters; and back (nullopt if
// the text is not the Z85 of 32 bytes).
std::string z85_encode(const std::string& raw32);
std::optional<std::string> z85_decode(std::string_view text);

// A fresh keypair. `manager_key`: the public key of the manager the client
// will connect to (derived from its authkey, keys.hpp).
ClientKey generate_client_key(const std::string& name, Role role, const std::string& manager_key);

// Writes PREFIX.secret (mode 0600) and PREFIX.pub, creating PREFIX's
// directory (0700) if needed. Refuses to overwrite either file.
void write_client_key(const std::string& prefix, const ClientKey& key);
// The .pub line: "boss <z85> alice".
std::string public_line(const ClientKey& key);

// Reads a NAME.secret file. Throws KeyFileError if it cannot be read, is not
// a key file, or may be read by others than its owner (mode & 077).
ClientKey read_client_key(const std::string& path);

// The CURVE keys a client of this key connects with (no server secret).
CurveKeys curve_keys_of(const ClientKey& key);

// Reads a clients file: one `ROLE Z85-PUBLIC-KEY NAME` line per key, `#`
// comments and blank lines ignored. Throws KeyFileError naming the file and
// line for anything else, for a key listed twice, for two keys whose owner
// tags collide (generate one of them again), and for a file others may write.
std::vector<Identity> read_clients_file(const std::string& path);

// The key file a client uses: `flag` if given, else $UNI_KEY, else empty.
std::string find_key_file(const std::string& flag);

}  // namespace uni
