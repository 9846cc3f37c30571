// Proves src/manager/module_store.hpp: uploads are verified (hash, ELF module, platform tag) and
// the store stays under its size limit by evicting least-recently-used modules, never pinned ones.
#include <gtest/gtest.h>

#include <string>

#include "common/files.hpp"
#include "common/hash.hpp"
#include "manager/module_store.hpp"
#include "uni/detail/platform.hpp"

namespace {

using uni::ModuleHash;
using uni::manager::ModuleStore;

const std::string& module_bytes() {
  static const std::string bytes = uni::read_file(std::string(UNI_MODULE_DIR) + "/libfactorial.so");
  return bytes;
}

// Distinct valid modules: bytes appended after the ELF data change the hash, not the check.
std::string variant(int n) { return module_bytes() + "variant " + std::to_string(n); }

class ModuleStoreTest : public ::testing::Test {
 protected:
  // Room for two variants but not three.
  std::uint64_t two_and_a_half() const { return variant(0).size() * 5 / 2; }

  ModuleHash put(ModuleStore& store, const std::string& bytes) {
    ModuleHash h = ModuleHash::of(bytes);
    auto error = store.put(h, UNI_PLATFORM_TAG, bytes);
    EXPECT_FALSE(error.has_value()) << *error;
    return h;
  }
};

TEST_F(ModuleStoreTest, StoresAVerifiedModule) {
  ModuleStore store(1 << 30);
  ModuleHash h = put(store, module_bytes());
  EXPECT_EQ(store.count(), 1u);
  EXPECT_EQ(store.bytes(), module_bytes().size());
  const auto* stored = store.find(h);
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(stored->bytes, module_bytes());
  EXPECT_EQ(stored->platform, UNI_PLATFORM_TAG);
  EXPECT_EQ(store.find(ModuleHash::of("something else")), nullptr);
}

TEST_F(ModuleStoreTest, SecondUploadOfTheSameModuleIsANoOp) {
  ModuleStore store(1 << 30);
  put(store, module_bytes());
  put(store, module_bytes());
  EXPECT_EQ(store.count(), 1u);
  EXPECT_EQ(store.bytes(), module_bytes().size());
}

TEST_F(ModuleStoreTest, HashMismatchIsRefusedWithBothHashes) {
  ModuleStore store(1 << 30);
  ModuleHash announced = ModuleHash::of("other bytes");
  auto error = store.put(announced, UNI_PLATFORM_TAG, module_bytes());
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("does not match its hash"), std::string::npos) << *error;
  EXPECT_NE(error->find(announced.hex()), std::string::npos) << *error;
  EXPECT_NE(error->find(ModuleHash::of(module_bytes()).hex()), std::string::npos) << *error;
  EXPECT_EQ(store.count(), 0u);
  EXPECT_EQ(store.find(announced), nullptr);
}

TEST_F(ModuleStoreTest, NonModulesAreRefused) {
  ModuleStore store(1 << 30);
  std::string text = "not a module at all";
  auto error = store.put(ModuleHash::of(text), UNI_PLATFORM_TAG, text);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("is not an ELF file"), std::string::npos) << *error;
  std::string truncated = module_bytes().substr(0, 200);
  error = store.put(ModuleHash::of(truncated), UNI_PLATFORM_TAG, truncated);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(store.count(), 0u);
  EXPECT_EQ(store.bytes(), 0u);
}

TEST_F(ModuleStoreTest, PlatformMismatchIsRefused) {
  ModuleStore store(1 << 30);
  auto error = store.put(ModuleHash::of(module_bytes()), "riscv64-linux-libc++", module_bytes());
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("tagged for platform " UNI_PLATFORM_TAG), std::string::npos) << *error;
  EXPECT_NE(error->find("riscv64-linux-libc++"), std::string::npos) << *error;
  EXPECT_EQ(store.count(), 0u);
}

TEST_F(ModuleStoreTest, EvictsLeastRecentlyUsedBeyondTheLimit) {
  ModuleStore store(two_and_a_half());
  ModuleHash a = put(store, variant(1));
  ModuleHash b = put(store, variant(2));
  ModuleHash c = put(store, variant(3));
  EXPECT_EQ(store.count(), 2u);
  EXPECT_EQ(store.find(a), nullptr);
  EXPECT_NE(store.find(b), nullptr);
  EXPECT_NE(store.find(c), nullptr);
  EXPECT_LE(store.bytes(), two_and_a_half());
}

TEST_F(ModuleStoreTest, FindMarksAModuleRecentlyUsed) {
  ModuleStore store(two_and_a_half());
  ModuleHash a = put(store, variant(1));
  ModuleHash b = put(store, variant(2));
  ASSERT_NE(store.find(a), nullptr);  // a is now more recent than b
  ModuleHash c = put(store, variant(3));
  EXPECT_NE(store.find(a), nullptr);
  EXPECT_EQ(store.find(b), nullptr);
  EXPECT_NE(store.find(c), nullptr);
}

TEST_F(ModuleStoreTest, PinnedModulesAreSkipped) {
  ModuleStore store(two_and_a_half());
  ModuleHash a = put(store, variant(1));
  store.pin(a);
  ModuleHash b = put(store, variant(2));
  ModuleHash c = put(store, variant(3));
  EXPECT_NE(store.find(a), nullptr) << "a pinned module was evicted";
  EXPECT_EQ(store.find(b), nullptr);
  EXPECT_NE(store.find(c), nullptr);
}

TEST_F(ModuleStoreTest, UnpinnedModulesBecomeEvictable) {
  ModuleStore store(two_and_a_half());
  ModuleHash a = put(store, variant(1));
  store.pin(a);
  store.pin(a);
  store.unpin(a);  // still pinned once
  ModuleHash b = put(store, variant(2));
  put(store, variant(3));
  EXPECT_NE(store.find(a), nullptr);
  EXPECT_EQ(store.find(b), nullptr);
  store.unpin(a);
  store.unpin(a);  // more unpins than pins are harmless
  store.find(a);
  put(store, variant(4));  // now the least recently used unpinned one goes: variant 3
  EXPECT_EQ(store.count(), 2u);
  EXPECT_NE(store.find(a), nullptr);
}

TEST_F(ModuleStoreTest, PinnedModulesStayEvenOverTheLimit) {
  ModuleStore store(two_and_a_half());
  ModuleHash a = put(store, variant(1));
  ModuleHash b = put(store, variant(2));
  store.pin(a);
  store.pin(b);
  ModuleHash c = put(store, variant(3));
  EXPECT_NE(store.find(a), nullptr);
  EXPECT_NE(store.find(b), nullptr);
  std::uint64_t held = 0;
  for (const ModuleHash& h : {a, b, c})
    if (const auto* m = store.find(h)) held += m->bytes.size();
  EXPECT_EQ(store.bytes(), held) << "the byte count must follow what is actually stored";
  EXPECT_EQ(store.count(), held / variant(1).size());
}

// The manager pins a task's module when the task is submitted, which is before the boss
// has uploaded it (SUBMIT, then NEED_MODULE, then PUT_MODULE). That pin must hold once the
// module arrives, or the module can be evicted while its tasks wait in the queue.
TEST_F(ModuleStoreTest, PinTakenBeforeTheUploadHolds) {
  ModuleStore store(two_and_a_half());
  ModuleHash a = ModuleHash::of(variant(1));
  store.pin(a);            // SUBMIT of a task that needs a
  put(store, variant(1));  // PUT_MODULE
  put(store, variant(2));
  put(store, variant(3));
  EXPECT_NE(store.find(a), nullptr) << "the module of a queued task was evicted";
}

// put() that reports success must leave the module in the store: the manager dereferences
// find(hash) right after a successful put (manager.cpp, on_put_module and module_arrived).
TEST_F(ModuleStoreTest, SuccessfulPutKeepsTheModuleJustStored) {
  ModuleStore store(two_and_a_half());
  ModuleHash a = put(store, variant(1));
  ModuleHash b = put(store, variant(2));
  store.pin(a);
  store.pin(b);
  ModuleHash c = ModuleHash::of(variant(3));
  auto error = store.put(c, UNI_PLATFORM_TAG, variant(3));
  if (!error) {
    EXPECT_NE(store.find(c), nullptr)
        << "put() returned success but evicted the module it had just stored";
  }
}

}  // namespace
