// A module whose static initialiser fails when it is loaded, in the way
// LOAD_FAILURE names: 1 segfaults, 2 calls exit(3), 3 throws (std::terminate,
// abort). Before it fails it writes "ran" to $UNI_TEST_MARKER, so a test can
// tell whether anything ran its code. `uni inspect` must describe it all the same.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <uni/module.hpp>

namespace {

int fail_at_load() {
  if (const char* marker = std::getenv("UNI_TEST_MARKER")) {
    if (std::FILE* f = std::fopen(marker, "w")) {
      std::fputs("ran", f);
      std::fclose(f);
    }
  }
#if LOAD_FAILURE == 1
  std::raise(SIGSEGV);
#elif LOAD_FAILURE == 2
  std::exit(3);
#else
  throw std::runtime_error("static initialiser of a broken module");
#endif
  return 0;
}

const int loaded = fail_at_load();

}  // namespace

int twice(int x) { return 2 * x + loaded; }

UNI_EXPORT(twice);
