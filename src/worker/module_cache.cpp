// On-disk module cache with LRU eviction (see module_cache.hpp).
#include "worker/module_cache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "common/files.hpp"
#include "common/log.hpp"

namespace uni::worker {

namespace {
// Images of modules no task uses are kept up to this much memory in all
// (least recently used dropped first): a module used again soon is not read
// and hashed again. Those in use are kept whatever their size.
constexpr std::uint64_t kIdleImageBytes = 256ull << 20;
}  // namespace

ModuleCache::FileId ModuleCache::file_id(const struct stat& st) {
  return {st.st_dev, st.st_ino, st.st_size,
          st.st_mtim.tv_sec * 1'000'000'000ll + st.st_mtim.tv_nsec,
          st.st_ctim.tv_sec * 1'000'000'000ll + st.st_ctim.tv_nsec};
}

ModuleCache::ModuleCache(std::string dir, std::uint64_t limit_bytes)
    : dir_(std::move(dir)), limit_(limit_bytes) {
  make_directories(dir_, 0700);
  struct CloseDir {
    void operator()(DIR* d) const { ::closedir(d); }
  };
  std::unique_ptr<DIR, CloseDir> d(::opendir(dir_.c_str()));
  if (!d) return;
  // Index what an earlier run left, oldest modification first.
  std::vector<std::pair<std::int64_t, ModuleHash>> found;
  while (dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name.size() != 67 || !name.ends_with(".so")) continue;
    auto hash = ModuleHash::from_hex(name.substr(0, 64));
    struct stat st {};
    if (!hash || ::stat((dir_ + "/" + name).c_str(), &st) != 0) continue;
    entries_[*hash].size = static_cast<std::uint64_t>(st.st_size);
    bytes_ += static_cast<std::uint64_t>(st.st_size);
    found.emplace_back(st.st_mtime, *hash);
  }
  std::sort(found.begin(), found.end());
  for (auto& [mtime, hash] : found) entries_[hash].last_use = ++clock_;
}

const std::string& ModuleCache::path(const ModuleHash& hash) const {
  // Asked once per task, mostly for the same module as the task before.
  if (!last_path_ || last_path_->first != hash)
    last_path_.emplace(hash, dir_ + "/" + hash.hex() + ".so");
  return last_path_->second;
}

int ModuleCache::image(const ModuleHash& hash) const {
  auto it = entries_.find(hash);
  return it == entries_.end() ? -1 : it->second.image.fd();
}

bool ModuleCache::check_file(const ModuleHash& hash, Entry& e, int file, const struct stat& st) {
  FileId id = file_id(st);
  if (e.image && id == e.image_file) return true;  // the file checked last time
  std::string error;
  ModuleImage checked = ModuleImage::from_file(file, hash, error);
  if (checked) {
    if (!e.image) {
      image_bytes_ += checked.size();
      e.image = std::move(checked);
    }
    e.image_file = id;
    return true;
  }
  // Not the module: written over, renamed over, truncated. Only the file at
  // the path now is removed if it is still the one read (another worker
  // sharing the directory may have put the right one back meanwhile).
  std::string file_path = path(hash);
  struct stat now {};
  if (::stat(file_path.c_str(), &now) == 0 && now.st_ino == st.st_ino && now.st_dev == st.st_dev)
    ::unlink(file_path.c_str());
  if (e.image) {
    // The image checked earlier holds the module's bytes: they go back.
    log::warn(
        "module cache: {} does not match its hash ({}): discarded; restored from the copy "
        "verified earlier",
        file_path, error);
    try {
      write_file_atomic(file_path, e.image.bytes(), 0600);
      struct stat restored {};
      if (::stat(file_path.c_str(), &restored) == 0) e.image_file = file_id(restored);
    } catch (const std::exception& ex) {
      log::warn("module cache: cannot restore {}: {}", file_path, ex.what());
    }
    return true;
  }
  log::warn("module cache: {} does not match its hash ({}): discarded; fetching it again",
            file_path, error);
  return false;
}

void ModuleCache::trim_idle_images() {
  if (image_bytes_ <= kIdleImageBytes) return;
  std::vector<std::pair<std::uint64_t, ModuleHash>> idle;
  for (auto& [hash, e] : entries_)
    if (e.users == 0 && e.image) idle.emplace_back(e.last_use, hash);
  std::sort(idle.begin(), idle.end());
  for (auto& [use, hash] : idle) {
    if (image_bytes_ <= kIdleImageBytes) break;
    Entry& e = entries_[hash];
    image_bytes_ -= e.image.size();
    e.image = ModuleImage();
  }
}

bool ModuleCache::acquire(const ModuleHash& hash) {
  auto it = entries_.find(hash);
  if (it != entries_.end() && it->second.users > 0) {
    ++it->second.users;
    it->second.last_use = ++clock_;
    return true;
  }
  if (!policy_.approved(hash)) return false;  // fetched, with its signatures
  // Lock, then check that the file we locked is still the one at the path:
  // another worker sharing the directory may have evicted it meanwhile, or
  // put an identical copy in its place (then lock that one).
  std::string file = path(hash);
  UniqueFd fd;
  struct stat locked {
  }, current{};
  for (int attempt = 0; attempt < 3 && !fd; ++attempt) {
    fd = UniqueFd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd || ::flock(fd.get(), LOCK_SH) != 0 || ::fstat(fd.get(), &locked) != 0 ||
        ::stat(file.c_str(), &current) != 0) {
      fd.reset();
      break;
    }
    if (locked.st_ino != current.st_ino) fd.reset();
  }
  Entry& e = entries_[hash];
  if (!fd || !check_file(hash, e, fd.get(), locked)) {
    bytes_ -= e.size;
    if (e.image) image_bytes_ -= e.image.size();
    entries_.erase(hash);
    return false;
  }
  if (e.size == 0) {
    e.size = static_cast<std::uint64_t>(locked.st_size);
    bytes_ += e.size;
  }
  e.users = 1;
  e.last_use = ++clock_;
  e.lock = std::move(fd);
  return true;
}

void ModuleCache::release(const ModuleHash& hash) {
  auto it = entries_.find(hash);
  if (it == entries_.end() || it->second.users == 0) return;
  if (--it->second.users == 0) {
    it->second.lock.reset();
    trim_idle_images();
  }
}

std::optional<std::string> ModuleCache::store(const ModuleHash& hash, const std::string& bytes,
                                              const std::vector<std::string>& signatures) {
  ModuleHash actual = ModuleHash::of(bytes);
  if (actual != hash)
    return "module " + hash.hex().substr(0, 12) + " arrived corrupted (its bytes hash to " +
           actual.hex().substr(0, 12) + ")";
  if (std::string refusal = policy_.approve(hash, signatures); !refusal.empty()) {
    log::warn("{}", refusal);
    return refusal;
  }
  // Content-addressed: a file of the right size under this name is this
  // module (another worker sharing the directory stored it); replacing it
  // would pull it from under that worker's lock.
  struct stat st {};
  bool present = ::stat(path(hash).c_str(), &st) == 0 &&
                 static_cast<std::uint64_t>(st.st_size) == bytes.size();
  try {
    if (!present) write_file_atomic(path(hash), bytes, 0600);
  } catch (const std::exception& e) {
    return std::string("cannot write to the module cache: ") + e.what();
  }
  Entry& e = entries_[hash];
  // The image comes from the verified bytes, not from the file read back:
  // what executors load cannot be what someone put at the path meanwhile. A
  // file found present is checked against it when it is next acquired.
  if (!e.image) {
    std::string error;
    e.image = ModuleImage::from_bytes(bytes, hash, error);
    if (!e.image) return "cannot make the module's image: " + error;
    image_bytes_ += e.image.size();
    if (!present && ::stat(path(hash).c_str(), &st) == 0) e.image_file = file_id(st);
  }
  bytes_ = bytes_ - e.size + bytes.size();
  e.size = bytes.size();
  e.last_use = ++clock_;
  return std::nullopt;
}

std::optional<std::string> ModuleCache::unusable() const {
  // A few kilobytes, not a few bytes: a disk with a little room left takes
  // a tiny file and fails every module.
  const std::string probe = dir_ + "/.probe." + std::to_string(::getpid());
  try {
    write_file_atomic(probe, std::string(16 * 1024, '\0'), 0600);
  } catch (const std::exception& e) {
    return e.what();
  }
  ::unlink(probe.c_str());
  return std::nullopt;
}

std::vector<std::string> ModuleCache::evict() {
  std::vector<std::string> removed;
  if (bytes_ <= limit_) return removed;
  std::vector<std::pair<std::uint64_t, ModuleHash>> candidates;
  for (auto& [hash, e] : entries_)
    if (e.users == 0) candidates.emplace_back(e.last_use, hash);
  std::sort(candidates.begin(), candidates.end());
  for (auto& [use, hash] : candidates) {
    if (bytes_ <= limit_) break;
    std::string file = path(hash);
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd && ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // another worker uses it
    if (fd) ::unlink(file.c_str());
    bytes_ -= entries_[hash].size;
    if (entries_[hash].image) image_bytes_ -= entries_[hash].image.size();
    entries_.erase(hash);
    removed.push_back(file);
    log::info("module cache over its limit: evicted {}", hash.hex().substr(0, 12));
  }
  return removed;
}

}  // namespace uni::worker
