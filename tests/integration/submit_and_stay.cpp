// A boss for kept_results_test: hands one task over with
// uni::submit_detached, prints its id and stays (until the test kills it with
// SIGKILL), so that the test can prove a result does not need its boss.
// Usage: submit_and_stay ADDRESS MODULE FN INT  (authkey from UNI_AUTHKEY)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <uni/detached.hpp>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: submit_and_stay ADDRESS MODULE FN INT\n");
    return 2;
  }
  try {
    std::string id = uni::submit_detached(argv[1], argv[2], argv[3],
                                          uni::detail::pack_arguments<int>(std::atoi(argv[4])));
    std::printf("%s\n", id.c_str());
    std::fflush(stdout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "submit_and_stay: %s\n", e.what());
    return 1;
  }
  for (;;) ::pause();
}
