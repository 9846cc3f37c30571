// A task's output costs the worker bounded memory however it is written: a
// task that writes 64 MiB without a newline reaches the worker's log whole,
// cut into marked lines of at most 64 KiB, and the supervisor's peak resident
// memory stays far below what it wrote.
#include <fstream>

#include "fault_support.hpp"

namespace uni::test {
namespace {

// Peak resident memory of a process (VmHWM), in bytes; 0 if unknown.
std::uint64_t peak_resident(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

TEST(OutputFlood, SixtyFourMegabytesWithoutANewlineAreCutIntoBoundedLines) {
  TestCluster cluster({.workers = 1, .slots = 1});
  ChildProcess& worker = cluster.worker(0);
  CommandResult r = cluster.uni({"run", module_path("faults"), "flood", "64"}, {.timeout = 120s});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "64\n");
  std::uint64_t peak = peak_resident(worker.pid());
  ASSERT_GT(peak, 0u);
#if !defined(__SANITIZE_ADDRESS__)
  // Before output was bounded, this flood took the supervisor past 500 MiB.
  // (AddressSanitizer's quarantine keeps up to 256 MiB of freed memory.)
  EXPECT_LT(peak, 128ull << 20) << "supervisor peak resident memory " << (peak >> 20) << " MiB";
#endif

  // Every byte is in the log, in lines of the task that are cut and marked.
  std::ifstream log(worker.stdout_path());
  std::string line;
  std::uint64_t xs = 0;
  std::size_t lines = 0, cut = 0, continued = 0, longest = 0;
  while (std::getline(log, line)) {
    std::size_t open = line.find("] ");
    if (line.empty() || line[0] != '[' || open == std::string::npos) continue;
    ++lines;
    longest = std::max(longest, line.size());
    std::string body = line.substr(open + 2);
    if (body.rfind("[continued] ", 0) == 0) {
      ++continued;
      body.erase(0, 12);
    }
    const std::string mark = " [line cut at 64 KiB]";
    if (body.size() >= mark.size() &&
        body.compare(body.size() - mark.size(), mark.size(), mark) == 0) {
      ++cut;
      body.resize(body.size() - mark.size());
    }
    xs += static_cast<std::uint64_t>(std::count(body.begin(), body.end(), 'x'));
  }
  EXPECT_EQ(xs, 64ull << 20) << "bytes of output lost";
  EXPECT_EQ(lines, 1024u);  // 64 MiB / 64 KiB
  EXPECT_EQ(cut, 1023u);
  EXPECT_EQ(continued, 1023u);
  EXPECT_LT(longest, (64u << 10) + 128);
  expect_still_serving(cluster);
}

}  // namespace
}  // namespace uni::test
