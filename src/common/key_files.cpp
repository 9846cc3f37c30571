// Client key files and the manager's clients file (see key_files.hpp).
#include "common/key_files.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

#include "common/files.hpp"
#include "common/unique_fd.hpp"

namespace uni {

namespace {

std::string mode_text(mode_t mode) {
  char out[8];
  std::snprintf(out, sizeof(out), "%04o", static_cast<unsigned>(mode & 07777));
  return out;
}

// Reads a file whose permissions matter: `forbidden` bits set in its mode
// make it refused, with `why`. fstat on the open descriptor: what is checked
// is what is read.
std::string read_guarded(const std::string& path, mode_t forbidden, const std::string& why) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw KeyFileError("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    throw KeyFileError("cannot stat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw KeyFileError(path + " is not a regular file");
  if (st.st_mode & forbidden)
    throw KeyFileError(path + " " + why + " (mode " + mode_text(st.st_mode) + "): run chmod " +
                       mode_text(st.st_mode & ~forbidden & 0777) + " " + path);
  fd.reset();
  try {
    return read_file(path);
  } catch (const std::runtime_error& e) {
    throw KeyFileError(e.what());
  }
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == '@'))
      return false;
  return true;
}

std::string dir_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

// Z85 here rather than libzmq's: key files are read by processes and
// folders that know no transport (the layering of src/).
namespace {
constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
}  // namespace

std::string z85_encode(const std::string& raw32) {
  if (raw32.size() != 32) throw std::invalid_argument("z85_encode: needs 32 bytes");
  std::string out;
  out.reserve(40);
  for (std::size_t i = 0; i < 32; i += 4) {
    std::uint32_t value = 0;
    for (std::size_t j = 0; j < 4; ++j)
      value = (value << 8) | static_cast<unsigned char>(raw32[i + j]);
    char group[5];
    for (int k = 4; k >= 0; --k) {
      group[k] = kZ85Alphabet[value % 85];
      value /= 85;
    }
    out.append(group, 5);
  }
  return out;
}

std::optional<std::string> z85_decode(std::string_view text) {
  if (text.size() != 40) return std::nullopt;
  std::string raw;
  raw.reserve(32);
  for (std::size_t i = 0; i < 40; i += 5) {
    std::uint64_t value = 0;
    for (std::size_t j = 0; j < 5; ++j) {
      std::size_t digit = kZ85Alphabet.find(text[i + j]);
      if (digit == std::string_view::npos) return std::nullopt;
      value = value * 85 + digit;
    }
    if (value > 0xffffffffu) return std::nullopt;  // five digits that are no four bytes
    for (int shift = 24; shift >= 0; shift -= 8)
      raw.push_back(static_cast<char>((value >> shift) & 0xff));
  }
  return raw;
}

ClientKey generate_client_key(const std::string& name, Role role, const std::string& manager_key) {
  if (!valid_name(name))
    throw KeyFileError("'" + name + "' cannot name a key: use 1 to 64 letters, digits and - _ . @");
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  unsigned char pub[crypto_box_PUBLICKEYBYTES], sec[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pub, sec);
  ClientKey key;
  key.name = name;
  key.role = role;
  key.public_key.assign(reinterpret_cast<const char*>(pub), sizeof(pub));
  key.secret_key.assign(reinterpret_cast<const char*>(sec), sizeof(sec));
  sodium_memzero(sec, sizeof(sec));
  key.manager_key = manager_key;
  return key;
}

std::string public_line(const ClientKey& key) {
  return std::string(role_name(key.role)) + " " + z85_encode(key.public_key) + " " + key.name;
}

void write_client_key(const std::string& prefix, const ClientKey& key) {
  const std::string secret_path = prefix + ".secret", public_path = prefix + ".pub";
  for (const std::string& path : {secret_path, public_path})
    if (exists(path))
      throw KeyFileError(path + " exists: remove it first (uni keygen never overwrites a key)");
  if (std::string dir = dir_of(prefix); !dir.empty()) make_directories(dir, 0700);
  std::string secret = "# uni client key '" + key.name + "' (role " + role_name(key.role) +
                       "): keep it private; uni refuses it once others may read it\n" + "name " +
                       key.name + "\nrole " + role_name(key.role) + "\npublic " +
                       z85_encode(key.public_key) + "\nsecret " + z85_encode(key.secret_key) +
                       "\nmanager " + z85_encode(key.manager_key) + "\n";
  write_file_atomic(secret_path, secret, 0600);
  sodium_memzero(secret.data(), secret.size());
  write_file_atomic(public_path, public_line(key) + "\n", 0644);
}

ClientKey read_client_key(const std::string& path) {
  std::string text = read_guarded(path, 077, "may be read by others than its owner");
  std::map<std::string, std::string> fields;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> w = words(line);
    if (w.size() != 2) throw KeyFileError(path + " is not a uni key file (made by uni keygen)");
    fields[w[0]] = w[1];
  }
  sodium_memzero(text.data(), text.size());
  auto field = [&](const char* name) {
    auto it = fields.find(name);
    if (it == fields.end())
      throw KeyFileError(path + " is not a uni key file (made by uni keygen): no '" + name +
                         "' line");
    return it->second;
  };
  auto raw = [&](const char* name) {
    std::optional<std::string> k = z85_decode(field(name));
    if (!k) throw KeyFileError(path + ": its '" + name + "' line is not a Z85 key");
    return *k;
  };
  ClientKey key;
  key.name = field("name");
  std::optional<Role> role = role_from_name(field("role"));
  if (!role) throw KeyFileError(path + ": unknown role '" + field("role") + "'");
  key.role = *role;
  key.public_key = raw("public");
  key.secret_key = raw("secret");
  key.manager_key = raw("manager");
  for (auto& [name, value] : fields) sodium_memzero(value.data(), value.size());
  unsigned char derived[crypto_box_PUBLICKEYBYTES];
  crypto_scalarmult_base(derived, reinterpret_cast<const unsigned char*>(key.secret_key.data()));
  if (key.public_key != std::string(reinterpret_cast<const char*>(derived), sizeof(derived)))
    throw KeyFileError(path + ": its public and secret keys do not belong together");
  return key;
}

CurveKeys curve_keys_of(const ClientKey& key) {
  return CurveKeys{key.manager_key, "", key.public_key, key.secret_key};
}

std::vector<Identity> read_clients_file(const std::string& path) {
  std::string text = read_guarded(path, 022, "may be written by others than its owner");
  std::vector<Identity> out;
  std::map<std::string, std::size_t> by_key;
  std::map<std::uint32_t, std::size_t> by_tag;
  std::istringstream in(text);
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    std::vector<std::string> w = words(line);
    if (w.empty() || w[0][0] == '#') continue;
    const std::string where = path + " line " + std::to_string(number);
    if (w.size() != 3)
      throw KeyFileError(where + ": expected 'ROLE KEY NAME' (a line of a .pub file)");
    Identity id;
    std::optional<Role> role = role_from_name(w[0]);
    if (!role)
      throw KeyFileError(where + ": unknown role '" + w[0] + "' (boss, worker, observer or admin)");
    std::optional<std::string> key = z85_decode(w[1]);
    if (!key) throw KeyFileError(where + ": '" + w[1] + "' is not a Z85 public key");
    if (!valid_name(w[2])) throw KeyFileError(where + ": '" + w[2] + "' cannot name a key");
    id.role = *role;
    id.public_key = *key;
    id.name = w[2];
    id.owner_tag = owner_tag(id.public_key);
    if (auto it = by_key.find(id.public_key); it != by_key.end())
      throw KeyFileError(where + ": the key of '" + id.name + "' is listed already, as '" +
                         out[it->second].name + "'");
    if (auto it = by_tag.find(id.owner_tag); it != by_tag.end())
      throw KeyFileError(where + ": the keys of '" + id.name + "' and '" + out[it->second].name +
                         "' begin alike, so their tasks could not be told apart: generate one of "
                         "them again");
    by_key[id.public_key] = out.size();
    by_tag[id.owner_tag] = out.size();
    out.push_back(std::move(id));
  }
  return out;
}

std::string find_key_file(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("UNI_KEY");
  return env ? env : "";
}

}  // namespace uni
