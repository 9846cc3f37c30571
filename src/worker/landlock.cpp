// Landlock rulesets through the raw system calls (see landlock.hpp). The
// kernel's headers of the build machine may be older than the kernel it runs
// on: the structure and the rights of later ABIs are spelt out here.
#include "worker/landlock.hpp"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "common/unique_fd.hpp"

namespace uni::worker {

namespace {

// landlock_ruleset_attr as of ABI 6; the kernel accepts a longer structure
// whose fields it does not know are zero.
struct RulesetAttr {
  std::uint64_t handled_access_fs = 0;
  std::uint64_t handled_access_net = 0;
  std::uint64_t scoped = 0;
};

struct PathBeneath {
  std::uint64_t allowed_access = 0;
  std::int32_t parent_fd = -1;
} __attribute__((packed));

constexpr std::uint64_t kFsExecute = 1ull << 0;
constexpr std::uint64_t kFsWriteFile = 1ull << 1;
constexpr std::uint64_t kFsReadFile = 1ull << 2;
constexpr std::uint64_t kFsReadDir = 1ull << 3;
constexpr std::uint64_t kFsMakeChar = 1ull << 6;
constexpr std::uint64_t kFsMakeBlock = 1ull << 11;
constexpr std::uint64_t kFsTruncate = 1ull << 14;              // ABI 3
constexpr std::uint64_t kFsIoctlDev = 1ull << 15;              // ABI 5
constexpr std::uint64_t kScopeAbstractUnixSocket = 1ull << 0;  // ABI 6
constexpr std::uint64_t kScopeSignal = 1ull << 1;              // ABI 6

// Every filesystem right an ABI knows.
std::uint64_t fs_rights(int abi) {
  std::uint64_t rights = (1ull << 13) - 1;  // ABI 1: execute .. make_sym
  if (abi >= 2) rights |= 1ull << 13;       // refer
  if (abi >= 3) rights |= kFsTruncate;
  if (abi >= 5) rights |= kFsIoctlDev;
  return rights;
}

// The rights a rule on a file (not a directory) may grant.
std::uint64_t file_rights(int abi) {
  std::uint64_t rights = kFsExecute | kFsWriteFile | kFsReadFile;
  if (abi >= 3) rights |= kFsTruncate;
  if (abi >= 5) rights |= kFsIoctlDev;
  return rights;
}

int create_ruleset(const RulesetAttr* attr, std::size_t size, std::uint32_t flags) {
  return static_cast<int>(::syscall(SYS_landlock_create_ruleset, attr, size, flags));
}

// Grants `rights` beneath `path` (to the file, if it is one). A path this
// system does not have is skipped.
void allow(int ruleset, const char* path, std::uint64_t rights, int abi) {
  UniqueFd fd(::open(path, O_PATH | O_CLOEXEC));
  if (!fd) return;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return;
  PathBeneath rule;
  rule.allowed_access = S_ISDIR(st.st_mode) ? rights : rights & file_rights(abi);
  rule.parent_fd = fd.get();
  ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
}

}  // namespace

int landlock_abi() {
  int abi = create_ruleset(nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : abi;
}

std::string enter_landlock_domain(bool strict, int abi) {
  if (abi < 1) return "this kernel has no Landlock";
  RulesetAttr attr;
  if (strict) {
    attr.handled_access_fs = fs_rights(abi);
  } else {
    // A domain needs something to handle before ABI 6; device nodes are
    // nothing a task makes. What the domain is for is its ptrace scoping.
    attr.handled_access_fs = kFsMakeChar | kFsMakeBlock;
  }
  if (abi >= 6) attr.scoped = kScopeSignal | (strict ? kScopeAbstractUnixSocket : 0);
  UniqueFd ruleset(create_ruleset(&attr, sizeof(attr), 0));
  if (!ruleset) return std::string("cannot create a Landlock ruleset: ") + std::strerror(errno);
  if (strict) {
    const std::uint64_t read_only = kFsExecute | kFsReadFile | kFsReadDir;
    for (const char* dir : {"/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc",
                            "/opt", "/proc", "/sys"})
      allow(ruleset.get(), dir, read_only, abi);
    for (const char* dir : {"/tmp", "/var/tmp", "/dev/shm"})
      allow(ruleset.get(), dir, fs_rights(abi), abi);
    for (const char* device :
         {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"})
      allow(ruleset.get(), device, file_rights(abi) & ~kFsExecute, abi);
  }
  if (::syscall(SYS_landlock_restrict_self, ruleset.get(), 0) != 0)
    return std::string("cannot enter a Landlock domain: ") + std::strerror(errno);
  return {};
}

}  // namespace uni::worker
