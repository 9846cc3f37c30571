// Proves src/common/module_file.hpp: a real module passes with its platform tag; text, plain .so,
// executables, truncated or corrupted modules are a ModuleFileError (no crash), in linear time.
#include <dlfcn.h>
#include <elf.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "common/files.hpp"
#include "common/module_file.hpp"
#include "common/python_function_file.hpp"
#include "uni/detail/module_abi.hpp"
#include "uni/detail/platform.hpp"

namespace {

namespace fs = std::filesystem;
using uni::check_module_image;
using uni::ModuleFile;
using uni::ModuleFileError;
using uni::read_python_function_file;

const std::string kModule = std::string(UNI_MODULE_DIR) + "/libfactorial.so";

std::string module_bytes() {
  static const std::string bytes = uni::read_file(kModule);
  return bytes;
}

// The check on an exact-size heap copy: a sanitizer build catches any read past the end.
// An image that passes has its .uni_exports read too, so that every test of a broken image
// exercises that reader as well.
std::string check_copy(std::string_view image) {
  std::unique_ptr<char[]> copy(new char[image.size() ? image.size() : 1]);
  std::memcpy(copy.get(), image.data(), image.size());
  std::string_view view(copy.get(), image.size());
  std::string platform = check_module_image(view, "m.so");
  uni::read_module_exports(view, "m.so");
  return platform;
}

// The error text, or "" if the check passed; fails the test on any other exception.
// `in_place`: check these very bytes (the caller made sure they end where their allocation
// does); otherwise check an exact-size copy.
std::string error_of(std::string_view image, bool in_place = false) {
  try {
    if (in_place) {
      check_module_image(image, "m.so");
      uni::read_module_exports(image, "m.so");
    } else {
      check_copy(image);
    }
    return "";
  } catch (const ModuleFileError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a ModuleFileError: " << e.what();
    return e.what();
  }
}

// One allocation for many cases: an image placed at the end of the buffer ends where the
// allocation ends, so a sanitizer build still catches any read past it.
class EndAlignedBuffer {
 public:
  explicit EndAlignedBuffer(std::size_t size) : data_(new char[size ? size : 1]), size_(size) {}
  std::string_view place(std::string_view image) {
    char* at = data_.get() + size_ - image.size();
    std::memcpy(at, image.data(), image.size());
    return {at, image.size()};
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_;
};

Elf64_Ehdr header_of(const std::string& image) {
  Elf64_Ehdr h;
  std::memcpy(&h, image.data(), sizeof(h));
  return h;
}

void put_header(std::string& image, const Elf64_Ehdr& h) {
  std::memcpy(image.data(), &h, sizeof(h));
}

std::string path_of_symbol(const void* address) {
  Dl_info info{};
  if (::dladdr(address, &info) == 0 || !info.dli_fname) return "";
  return info.dli_fname;
}

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/uni-module-file-test-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, std::string_view content) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

 private:
  std::string path_;
};

TEST(ModuleFileCheck, RealModulePassesWithItsPlatformTag) {
  ASSERT_TRUE(fs::exists(kModule)) << kModule;
  EXPECT_EQ(check_copy(module_bytes()), UNI_PLATFORM_TAG);
}

TEST(ModuleFileCheck, LoadReadsHashesAndTags) {
  ModuleFile file = ModuleFile::load(kModule);
  EXPECT_EQ(file.path, kModule);
  EXPECT_EQ(file.bytes, module_bytes());
  EXPECT_EQ(file.platform, UNI_PLATFORM_TAG);
  EXPECT_EQ(file.hash, uni::ModuleHash::of(module_bytes()));
  EXPECT_EQ(uni::ModuleHash::from_hex(file.hash.hex()), file.hash);
  EXPECT_EQ(file.hash.hex().size(), 64u);
}

TEST(ModuleFileCheck, LoadOfAMissingFileOrDirectory) {
  try {
    ModuleFile::load("/nonexistent/libnothing.so");
    FAIL() << "no error";
  } catch (const ModuleFileError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/libnothing.so"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(ModuleFile::load("/tmp"), ModuleFileError);
}

TEST(ModuleFileCheck, TextFile) {
  TempDir dir;
  std::string path = dir.file("notes.txt", "just some text, not ELF at all\n");
  try {
    ModuleFile::load(path);
    FAIL() << "no error";
  } catch (const ModuleFileError& e) {
    EXPECT_NE(std::string(e.what()).find(path + " is not an ELF file"), std::string::npos)
        << e.what();
  }
  EXPECT_NE(error_of("").find("is not an ELF file"), std::string::npos);
  EXPECT_NE(error_of("\x7f"
                     "EL")
                .find("is not an ELF file"),
            std::string::npos);
}

TEST(ModuleFileCheck, SharedObjectThatIsNotAModule) {
  std::vector<std::string> libraries;
  for (const char* z : {"/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1",
                        "/lib/aarch64-linux-gnu/libz.so.1"})
    if (fs::exists(z)) libraries.push_back(z);
  libraries.push_back(path_of_symbol(reinterpret_cast<const void*>(&sodium_init)));
  for (const std::string& path : libraries) {
    ASSERT_FALSE(path.empty());
    std::string error = error_of(uni::read_file(path));
    EXPECT_NE(error.find("is not a uni module"), std::string::npos) << path << ": " << error;
    EXPECT_NE(error.find("uni_module_v1"), std::string::npos) << error;
  }
}

TEST(ModuleFileCheck, Executables) {
  for (const std::string& path :
       {std::string("/bin/ls"), fs::read_symlink("/proc/self/exe").string()}) {
    if (!fs::exists(path)) continue;
    std::string image = uni::read_file(path);
    std::string error = error_of(image);
    if (header_of(image).e_type == ET_DYN)
      EXPECT_NE(error.find("is an executable, not a shared object"), std::string::npos)
          << path << ": " << error;
    else
      EXPECT_NE(error.find("is not a shared object"), std::string::npos) << path << ": " << error;
  }
}

TEST(ModuleFileCheck, ThirtyTwoBitAndWrongType) {
  std::string image = module_bytes();
  std::string elf32 = image;
  elf32[EI_CLASS] = ELFCLASS32;
  EXPECT_NE(error_of(elf32).find("is not a 64-bit ELF file"), std::string::npos);
  std::string relocatable = image;
  Elf64_Ehdr h = header_of(relocatable);
  h.e_type = ET_REL;
  put_header(relocatable, h);
  EXPECT_NE(error_of(relocatable).find("is not a shared object"), std::string::npos);
}

TEST(ModuleFileCheck, NoPlatformSection) {
  std::string image = module_bytes();
  // Rename the section ".uni_platform" in the section name table (every occurrence).
  const std::string name = ".uni_platform";
  std::size_t at = image.find(name + '\0');
  ASSERT_NE(at, std::string::npos);
  for (; at != std::string::npos; at = image.find(name + '\0', at + 1)) image[at + 1] = 'X';
  EXPECT_NE(error_of(image).find("has no .uni_platform section"), std::string::npos)
      << error_of(image);
}

TEST(ModuleFileCheck, HeaderFieldsPointingOutside) {
  const std::string image = module_bytes();
  const Elf64_Ehdr good = header_of(image);
  auto with = [&](auto change) {
    std::string copy = image;
    Elf64_Ehdr h = good;
    change(h);
    put_header(copy, h);
    return error_of(copy);
  };
  auto expect_error = [](const std::string& error, const char* what) {
    EXPECT_NE(error.find("m.so "), std::string::npos) << what << ": " << error;
  };
  expect_error(with([](Elf64_Ehdr& h) { h.e_shoff = ~0ull; }), "e_shoff max");
  expect_error(with([&](Elf64_Ehdr& h) { h.e_shoff = image.size() - 10; }), "e_shoff near end");
  expect_error(with([](Elf64_Ehdr& h) { h.e_phoff = ~0ull - 8; }), "e_phoff wraps");
  expect_error(with([](Elf64_Ehdr& h) { h.e_phnum = 0xffff; }), "e_phnum max");
  expect_error(with([](Elf64_Ehdr& h) { h.e_shstrndx = 0xfffe; }), "e_shstrndx out of range");
  expect_error(with([](Elf64_Ehdr& h) { h.e_shentsize = 0; }), "e_shentsize 0");
  expect_error(with([](Elf64_Ehdr& h) { h.e_shnum = 0xffff; }), "e_shnum max");
  // e_phentsize 0 reads the first program header again and again: bogus but in bounds.
  with([](Elf64_Ehdr& h) { h.e_phentsize = 0; });
  // No sections at all: no entry point found.
  expect_error(with([](Elf64_Ehdr& h) { h.e_shnum = 0; }), "e_shnum 0");
}

TEST(ModuleFileCheck, SectionHeadersPointingOutside) {
  const std::string image = module_bytes();
  const Elf64_Ehdr h = header_of(image);
  ASSERT_EQ(h.e_shentsize, sizeof(Elf64_Shdr));
  ASSERT_LE(h.e_shoff + std::uint64_t{h.e_shnum} * sizeof(Elf64_Shdr), image.size());
  for (std::uint16_t i = 0; i < h.e_shnum; ++i) {
    for (int field = 0; field < 4; ++field) {
      std::string copy = image;
      Elf64_Shdr sh;
      const std::size_t at = h.e_shoff + std::size_t{i} * sizeof(Elf64_Shdr);
      std::memcpy(&sh, copy.data() + at, sizeof(sh));
      switch (field) {
        case 0: sh.sh_offset = ~0ull - 4; break;
        case 1: sh.sh_size = ~0ull; break;
        case 2: sh.sh_link = 0xffffffffu; break;
        case 3: sh.sh_name = 0xffffffffu; break;
      }
      std::memcpy(copy.data() + at, &sh, sizeof(sh));
      error_of(copy);  // either passes or is a ModuleFileError; never reads out of bounds
    }
  }
}

TEST(ModuleFileCheck, EveryTruncationIsAnError) {
  const std::string image = module_bytes();
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n < std::min<std::size_t>(image.size(), 4096); ++n) lengths.push_back(n);
  const std::size_t step = std::max<std::size_t>(61, image.size() / 1500);
  for (std::size_t n = 4096; n < image.size(); n += step) lengths.push_back(n);
  // Every cut through the section header table at the end of the file.
  const std::uint64_t shoff = header_of(image).e_shoff;
  for (std::size_t n = shoff > 64 ? shoff - 64 : 0; n < image.size(); ++n) lengths.push_back(n);
  EndAlignedBuffer buffer(image.size());
  for (std::size_t n : lengths) {
    std::string error = error_of(buffer.place(std::string_view(image).substr(0, n)), true);
    // The section headers sit at the end: every proper prefix lacks some of them.
    EXPECT_FALSE(error.empty()) << "a prefix of " << n << " of " << image.size()
                                << " bytes passed the check";
    if (HasFailure()) break;
  }
}

TEST(ModuleFileCheck, RandomCorruptionNeverCrashes) {
  const std::string image = module_bytes();
  const Elf64_Ehdr h = header_of(image);
  std::mt19937_64 rng(42);
  // Bytes the checker reads: the ELF header, the program headers, the section headers.
  auto pick = [&]() -> std::size_t {
    switch (rng() % 4) {
      case 0: return rng() % sizeof(Elf64_Ehdr);
      case 1: return h.e_phoff + rng() % (std::size_t{h.e_phnum} * sizeof(Elf64_Phdr));
      case 2: return h.e_shoff + rng() % (std::size_t{h.e_shnum} * sizeof(Elf64_Shdr));
      default: return rng() % image.size();
    }
  };
  EndAlignedBuffer buffer(image.size());
  std::string_view placed = buffer.place(image);
  char* bytes = const_cast<char*>(placed.data());
  for (int round = 0; round < 10000; ++round) {
    std::vector<std::pair<std::size_t, char>> undo;
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      std::size_t at = pick();
      if (at >= image.size()) continue;
      undo.emplace_back(at, bytes[at]);
      switch (rng() % 3) {
        case 0: bytes[at] = static_cast<char>(rng()); break;
        case 1: bytes[at] = static_cast<char>(0xff); break;
        case 2: bytes[at] ^= static_cast<char>(1u << (rng() % 8)); break;
      }
    }
    error_of(placed, true);
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) bytes[it->first] = it->second;
    if (HasFailure()) break;
  }
  EXPECT_EQ(error_of(placed, true), "") << "the image was not restored between rounds";
}

// The manager runs this check on every upload in its single event loop, so its cost must
// stay linear in the image: a crafted image may not make it scan one symbol table for each
// of 65535 section headers.
TEST(ModuleFileCheck, CraftedImageCannotMakeTheCheckQuadratic) {
  const std::uint32_t sections = 0x8000;
  const std::size_t symbols_bytes = 1 << 19;  // one symbol table of 21845 symbols
  const std::size_t shoff = sizeof(Elf64_Ehdr) + symbols_bytes;
  std::string image(shoff + std::size_t{sections} * sizeof(Elf64_Shdr), '\0');
  Elf64_Ehdr h{};
  std::memcpy(h.e_ident, ELFMAG, SELFMAG);
  h.e_ident[EI_CLASS] = ELFCLASS64;
  h.e_ident[EI_DATA] = ELFDATA2LSB;
  h.e_ident[EI_VERSION] = EV_CURRENT;
  h.e_type = ET_DYN;
  h.e_machine = EM_X86_64;
  h.e_version = EV_CURRENT;
  h.e_ehsize = sizeof(Elf64_Ehdr);
  h.e_shoff = shoff;
  h.e_shentsize = sizeof(Elf64_Shdr);
  h.e_shnum = static_cast<std::uint16_t>(sections);
  h.e_shstrndx = 0;
  put_header(image, h);
  // Every section header is the same dynamic symbol table over the whole 512 KiB; its string
  // table (sh_link 0) is the same range, and so is the section name table.
  Elf64_Shdr sh{};
  sh.sh_type = SHT_DYNSYM;
  sh.sh_offset = sizeof(Elf64_Ehdr);
  sh.sh_size = symbols_bytes;
  sh.sh_link = 0;
  sh.sh_entsize = sizeof(Elf64_Sym);
  for (std::uint32_t i = 0; i < sections; ++i)
    std::memcpy(image.data() + shoff + std::size_t{i} * sizeof(sh), &sh, sizeof(sh));

  // The check runs in a child that is killed at the deadline, so that a slow check fails
  // this test quickly instead of stalling the suite. Linear work on this 2.5 MiB image takes
  // milliseconds (also under a sanitizer); 32768 x 21845 symbol visits take seconds.
  const auto deadline = std::chrono::milliseconds(250);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      check_module_image(image, "m.so");
      ::_exit(1);
    } catch (const ModuleFileError& e) {
      ::_exit(std::string(e.what()).find("is not a uni module") != std::string::npos ? 0 : 2);
    } catch (...) {
      ::_exit(3);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  int status = 0;
  while (::waitpid(child, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - start > deadline) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      FAIL() << "checking a crafted 2.5 MiB image took longer than " << deadline.count()
             << " ms (killed)";
    }
    ::usleep(2000);
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: accepted, 2: wrong message, 3: wrong exception type";
}

// ---- .uni_exports -----------------------------------------------------------------------

// The image with `from` replaced by `to` (same length) at its first occurrence.
std::string patched(std::string image, std::string_view from, std::string_view to) {
  std::size_t at = image.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(from.size(), to.size());
  if (at != std::string::npos) image.replace(at, from.size(), to);
  return image;
}

TEST(ModuleExports, ARealModuleDescribesItsFunctions) {
  uni::ModuleExports exports = uni::read_module_exports(module_bytes(), "m.so");
  ASSERT_TRUE(exports.described);
  ASSERT_EQ(exports.functions.size(), 1u);
  EXPECT_EQ(exports.functions[0].name, "factorial");
  EXPECT_EQ(exports.functions[0].signature, "unsigned long factorial(int)");
  EXPECT_EQ(exports.functions[0].result, "u64:unsigned long");
  EXPECT_EQ(exports.functions[0].params, std::vector<std::string>{"i32:int"});
}

// Every function of a module with many, in name order, each as its loaded table says.
TEST(ModuleExports, EveryExportOfAModuleMatchesItsLoadedTable) {
  const std::string path = std::string(UNI_MODULE_DIR) + "/libtestfns.so";
  uni::ModuleExports exports = uni::read_module_exports(uni::read_file(path), path);
  ASSERT_TRUE(exports.described);
  ASSERT_EQ(exports.functions.size(), 17u);
  for (std::size_t i = 1; i < exports.functions.size(); ++i)
    EXPECT_LT(exports.functions[i - 1].name, exports.functions[i].name);
  // Loading it here is fine: it is our own test module.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << ::dlerror();
  auto entry = reinterpret_cast<uni_module_entry_fn>(::dlsym(handle, UNI_MODULE_ENTRY_SYMBOL));
  ASSERT_NE(entry, nullptr);
  const uni_module_table* table = entry();
  ASSERT_EQ(table->count, exports.functions.size());
  for (std::size_t i = 0; i < table->count; ++i) {
    auto it = std::find_if(exports.functions.begin(), exports.functions.end(),
                           [&](const auto& e) { return e.name == table->exports[i].name; });
    ASSERT_NE(it, exports.functions.end()) << table->exports[i].name;
    EXPECT_EQ(it->signature, table->exports[i].signature);
  }
  ::dlclose(handle);
}

TEST(ModuleExports, AModuleWithoutTheSectionIsUndescribedNotAnError) {
  std::string image = patched(module_bytes(), std::string_view(".uni_exports\0", 13),
                              std::string_view(".uni_eXports\0", 13));
  uni::ModuleExports exports = uni::read_module_exports(image, "m.so");
  EXPECT_FALSE(exports.described);
  EXPECT_TRUE(exports.functions.empty());
}

TEST(ModuleExports, RecordsOfAnotherVersionAreSkipped) {
  std::string image =
      patched(module_bytes(), "uni-export-v1\nfactorial", "uni-export-v9\nfactorial");
  uni::ModuleExports exports = uni::read_module_exports(image, "m.so");
  EXPECT_TRUE(exports.described);
  EXPECT_TRUE(exports.functions.empty());
}

TEST(ModuleExports, AMalformedRecordIsAClearError) {
  // The record cut after its name: "uni-export-v1\nfactorial\0unsigned long ...".
  std::string image = patched(module_bytes(), std::string_view("uni-export-v1\nfactorial\n"),
                              std::string_view("uni-export-v1\nfactorial\0", 24));
  try {
    uni::read_module_exports(image, "m.so");
    FAIL() << "no error";
  } catch (const ModuleFileError& e) {
    EXPECT_NE(std::string(e.what()).find("m.so has a malformed .uni_exports record"),
              std::string::npos)
        << e.what();
  }
  // An empty parameter line.
  image = patched(module_bytes(), "\ni32:int", std::string_view("\n\0\0\0\0\0\0\0", 8));
  EXPECT_NE(error_of(image).find("an empty parameter type"), std::string::npos) << error_of(image);
}

// A Python function's module: the runtime's bytes, "name\0pickle", the
// payload's size (u64 LE) and the magic; anything else carries no function.
std::string python_trailer(std::string_view payload, std::uint64_t size) {
  std::string out(payload);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
  return out + "uni-python-fn-v1";
}

TEST(PythonFunctionFile, ReadsTheNameAndThePickleSizeFromTheTrailer) {
  std::string payload = std::string("__main__.square\0", 16) + "PICKLE";
  auto fn = read_python_function_file("ELF...runtime" + python_trailer(payload, payload.size()));
  ASSERT_TRUE(fn.has_value());
  EXPECT_EQ(fn->name, "__main__.square");
  EXPECT_EQ(fn->pickled_bytes, 6u);
}

TEST(PythonFunctionFile, MalformedTrailersCarryNoFunction) {
  std::string payload = std::string("f\0", 2) + "P";
  EXPECT_FALSE(read_python_function_file(module_bytes()).has_value());      // a C++ module
  EXPECT_FALSE(read_python_function_file("uni-python-fn-v1").has_value());  // no size
  EXPECT_FALSE(read_python_function_file(python_trailer(payload, 1000)).has_value());  // too big
  EXPECT_FALSE(read_python_function_file(python_trailer(payload, ~std::uint64_t{0})).has_value());
  EXPECT_FALSE(read_python_function_file(python_trailer("noname", 6)).has_value());  // no NUL
  EXPECT_FALSE(read_python_function_file(python_trailer(std::string("\0P", 2), 2)).has_value());
}

}  // namespace
