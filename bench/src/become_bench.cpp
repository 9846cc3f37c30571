// The `become` workload (bench/README.md): the echo service of
// examples/echo with 10 TCP clients sending lines without pause, turned
// into its other version and back again and again. Reports the handover
// time (the old version's hand_over() to the new one's take_over(), as the
// executor measures it: the time in which the service answers nobody), the
// time of the whole `become` call, and checks that no line is lost and no
// client dropped.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "become_bench.hpp"

namespace bench {

namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("no free TCP port");
  ::close(fd);
  return ntohs(addr.sin_port);
}

// One echo client: sends a line, waits for its answer, again, until told to stop.
struct EchoClient {
  int fd = -1;
  std::uint64_t lines = 0;
  std::string error;

  explicit EchoClient(int port) {
    for (int attempt = 0; attempt < 200 && fd < 0; ++attempt) {
      fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<std::uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) break;
      ::close(fd);
      fd = -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (fd < 0) throw std::runtime_error("cannot connect to the echo service");
    timeval limit{30, 0};  // a lost line shows as a timeout, not a hang
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  }
  ~EchoClient() {
    if (fd >= 0) ::close(fd);
  }

  void run(const std::atomic<bool>& stop) {
    std::string pending;
    while (!stop && error.empty()) {
      std::string line = "line " + std::to_string(lines) + "\n";
      if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
        error = "send failed";
        return;
      }
      while (pending.find('\n') == std::string::npos) {
        char buffer[512];
        ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) {
          error = n == 0 ? "connection closed" : "no answer within 30 s";
          return;
        }
        pending.append(buffer, static_cast<std::size_t>(n));
      }
      pending.erase(0, pending.find('\n') + 1);
      ++lines;
    }
  }
};

}  // namespace

void run_become(const Config& c, const Environment& env, LocalCluster& cluster) {
  uni::Cluster& boss = cluster.boss();
  const std::string v1 = env.module_dir + "/libecho.so", v2 = env.module_dir + "/libecho_v2.so";
  const int port = free_port();
  uni::Service<int> service = boss.spawn(boss.function<int(int)>(v1, "server"), port);
  constexpr int kClients = 10;
  std::vector<std::unique_ptr<EchoClient>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<EchoClient>(port));
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& client : clients) threads.emplace_back([&, p = client.get()] { p->run(stop); });

  const int becomes = c.quick ? 6 : 20;
  std::vector<double> handover_us, call_ms;
  std::string failure;
  try {
    for (int i = 0; i < becomes; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // clients busy in between
      Clock::time_point t0 = Clock::now();
      uni::BecomeResult r = boss.become(service.id(), i % 2 ? v1 : v2, "server");
      call_ms.push_back(ms_since(t0));
      handover_us.push_back(std::chrono::duration<double, std::micro>(r.handover).count());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } catch (const std::exception& e) {
    failure = e.what();
  }
  stop = true;
  for (auto& t : threads) t.join();
  service.stop();
  if (!failure.empty()) throw std::runtime_error("become: " + failure);
  std::uint64_t lines = 0;
  int dropped = 0;
  for (const auto& client : clients) {
    lines += client->lines;
    if (!client->error.empty()) {
      ++dropped;
      note("become: a client failed: %s", client->error.c_str());
    }
  }
  note(
      "become: %d becomes with %d busy clients: handover p50 %.0f us, max %.0f us; call p50 "
      "%.1f ms; %llu lines, %d client(s) dropped",
      becomes, kClients, quantile(handover_us, 0.5), quantile(handover_us, 1.0),
      quantile(call_ms, 0.5), static_cast<unsigned long long>(lines), dropped);
  emit(Json{{"workload", "become"},
            {"isolation", "process"},
            {"clients", kClients},
            {"becomes", becomes},
            {"handover_p50_us", round_to(quantile(handover_us, 0.5), 1)},
            {"handover_p99_us", round_to(quantile(handover_us, 0.99), 1)},
            {"handover_max_us", round_to(quantile(handover_us, 1.0), 1)},
            {"become_call_p50_ms", round_to(quantile(call_ms, 0.5), 2)},
            {"lines", lines},
            {"clients_dropped", dropped}});
  if (dropped > 0) throw std::runtime_error(std::to_string(dropped) + " client(s) dropped");
}

}  // namespace bench
