// Proves src/worker/module_image.hpp and the checks of module_cache.hpp: an
// image is sealed (nobody can write it) and hashed after sealing; an image of
// other bytes is refused, by the cache and by the loader; a cache file found
// not to match its hash is discarded (and restored from the image checked
// earlier); a module refused by the worker's policy is neither stored nor
// acquired.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/files.hpp"
#include "common/signing.hpp"
#include "worker/module_cache.hpp"
#include "worker/module_image.hpp"
#include "worker/module_loader.hpp"

namespace {

using uni::ModuleHash;
using uni::UniqueFd;
using uni::worker::LoadedModule;
using uni::worker::ModuleCache;
using uni::worker::ModuleImage;
using uni::worker::ModuleLoadError;
using uni::worker::ModulePolicy;

const std::string kFactorial = std::string(UNI_MODULE_DIR) + "/libfactorial.so";
const std::string kTestfns = std::string(UNI_MODULE_DIR) + "/libtestfns.so";

struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/uni-integrity.XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(ModuleImage, IsSealedAgainstWritesAndHashesToItsModule) {
  std::string bytes = uni::read_file(kFactorial);
  std::string error;
  ModuleImage image = ModuleImage::from_bytes(bytes, ModuleHash::of(bytes), error);
  ASSERT_TRUE(image) << error;
  EXPECT_EQ(::pwrite(image.fd(), "x", 1, 0), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(::ftruncate(image.fd(), 1), -1);
  EXPECT_EQ(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, image.fd(), 0), MAP_FAILED);
  EXPECT_EQ(ModuleImage::verify(image.fd(), ModuleHash::of(bytes)), "");
  EXPECT_EQ(image.bytes(), bytes);
}

TEST(ModuleImage, OtherBytesThanTheHashSaysAreRefused) {
  std::string bytes = uni::read_file(kFactorial);
  std::string error;
  ModuleImage image = ModuleImage::from_bytes(bytes, ModuleHash::of("something else"), error);
  EXPECT_FALSE(image);
  EXPECT_EQ(error, "its bytes hash to " + ModuleHash::of(bytes).hex().substr(0, 12));
}

TEST(ModuleImage, TheLoaderLoadsOnlyASealedImageOfTheExpectedModule) {
  std::string bytes = uni::read_file(kFactorial);
  std::string error;
  ModuleImage image = ModuleImage::from_bytes(bytes, ModuleHash::of(bytes), error);
  ASSERT_TRUE(image) << error;
  auto module = LoadedModule::open_image(UniqueFd(::dup(image.fd())), ModuleHash::of(bytes));
  EXPECT_NE(module->find("factorial"), nullptr);
  // Expected to be another module: refused before dlopen.
  EXPECT_THROW(LoadedModule::open_image(UniqueFd(::dup(image.fd())), ModuleHash::of("other")),
               ModuleLoadError);
  // A memfd anyone could still write: refused.
  UniqueFd open_memfd(::memfd_create("unsealed", MFD_CLOEXEC));
  ASSERT_EQ(::write(open_memfd.get(), bytes.data(), bytes.size()),
            static_cast<ssize_t>(bytes.size()));
  try {
    LoadedModule::open_image(std::move(open_memfd), ModuleHash::of(bytes));
    ADD_FAILURE() << "an unsealed image loaded";
  } catch (const ModuleLoadError& e) {
    EXPECT_NE(std::string(e.what()).find("not sealed against writes"), std::string::npos)
        << e.what();
  }
}

TEST(ModuleCacheIntegrity, AFileThatDoesNotMatchItsHashIsDiscardedAtItsFirstUse) {
  TempDir dir;
  std::string bytes = uni::read_file(kFactorial);
  ModuleHash hash = ModuleHash::of(bytes);
  std::string file = dir.path + "/" + hash.hex() + ".so";
  uni::write_file_atomic(file, uni::read_file(kTestfns), 0600);  // poisoned before we start
  ModuleCache cache(dir.path, 1 << 30);
  EXPECT_FALSE(cache.acquire(hash));
  EXPECT_FALSE(std::filesystem::exists(file));
  ASSERT_EQ(cache.store(hash, bytes), std::nullopt);
  ASSERT_TRUE(cache.acquire(hash));
  EXPECT_EQ(ModuleImage::verify(cache.image(hash), hash), "");
  cache.release(hash);
}

TEST(ModuleCacheIntegrity, AFileReplacedAfterItsCheckIsRestoredFromTheImage) {
  TempDir dir;
  std::string bytes = uni::read_file(kFactorial);
  ModuleHash hash = ModuleHash::of(bytes);
  ModuleCache cache(dir.path, 1 << 30);
  ASSERT_EQ(cache.store(hash, bytes), std::nullopt);
  ASSERT_TRUE(cache.acquire(hash));
  cache.release(hash);
  std::string file = cache.path(hash);
  uni::write_file_atomic(file, uni::read_file(kTestfns), 0600);  // renamed over
  ASSERT_TRUE(cache.acquire(hash));
  EXPECT_EQ(ModuleImage::verify(cache.image(hash), hash), "");
  EXPECT_EQ(uni::read_file(file), bytes);
  cache.release(hash);
  // Written in place, the same size, the mtime put back: the ctime tells.
  std::string evil = bytes;
  evil[evil.size() / 2] ^= 0x55;
  struct stat before {};
  ::stat(file.c_str(), &before);
  {
    std::ofstream out(file, std::ios::binary | std::ios::in | std::ios::out);
    out.write(evil.data(), static_cast<std::streamsize>(evil.size()));
  }
  timespec times[2] = {before.st_atim, before.st_mtim};
  ::utimensat(AT_FDCWD, file.c_str(), times, 0);
  ASSERT_TRUE(cache.acquire(hash));
  EXPECT_EQ(ModuleImage::verify(cache.image(hash), hash), "");
  EXPECT_EQ(uni::read_file(file), bytes);
  cache.release(hash);
}

TEST(ModuleCacheIntegrity, AModuleThePolicyRefusesIsNeitherStoredNorAcquired) {
  TempDir dir;
  std::string bytes = uni::read_file(kFactorial);
  ModuleHash hash = ModuleHash::of(bytes);
  std::string list = dir.path + "/allowed";
  uni::write_file_atomic(list, ModuleHash::of(uni::read_file(kTestfns)).hex() + "\n", 0644);
  ModuleCache cache(dir.path + "/cache", 1 << 30);
  cache.set_policy(ModulePolicy::from_files({}, {list}));
  std::optional<std::string> refused = cache.store(hash, bytes);
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->find("is refused by this worker: it is not in --allow-modules"),
            std::string::npos)
      << *refused;
  EXPECT_FALSE(std::filesystem::exists(cache.path(hash)));
  // Already in the cache from a run without the policy: not acquired either.
  uni::write_file_atomic(cache.path(hash), bytes, 0600);
  EXPECT_FALSE(cache.acquire(hash));
}

}  // namespace
