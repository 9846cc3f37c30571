// Length-prefixed frames over a stream fd (see channel.hpp).
#include "worker/channel.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace uni::worker {

void append_frame(std::string& out, std::string_view body) {
  std::uint32_t n = static_cast<std::uint32_t>(body.size());
  char prefix[4] = {static_cast<char>(n), static_cast<char>(n >> 8), static_cast<char>(n >> 16),
                    static_cast<char>(n >> 24)};
  out.append(prefix, 4);
  out.append(body);
}

bool FrameReader::fill(int fd, bool wait) {
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ > (1u << 20)) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  char chunk[65536];
  for (;;) {
    ssize_t n;
    if (receive_fds_) {
      iovec io{chunk, sizeof(chunk)};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
      msghdr msg{};
      msg.msg_iov = &io;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      n = ::recvmsg(fd, &msg, (wait ? 0 : MSG_DONTWAIT) | MSG_CMSG_CLOEXEC);
      if (n >= 0)
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
          std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          for (std::size_t i = 0; i < count; ++i) {
            int received;
            std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            fds_.emplace_back(received);
          }
        }
    } else {
      n = ::recv(fd, chunk, sizeof(chunk), wait ? 0 : MSG_DONTWAIT);
    }
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

bool FrameReader::has_frame() const {
  if (buffer_.size() - start_ < 4) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + start_);
  std::uint32_t n = p[0] | (p[1] << 8) | (p[2] << 16) | (std::uint32_t{p[3]} << 24);
  return buffer_.size() - start_ - 4 >= n || n > kMaxFrame;
}

std::optional<std::string> FrameReader::next() {
  if (buffer_.size() - start_ < 4) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + start_);
  std::uint32_t n = p[0] | (p[1] << 8) | (p[2] << 16) | (std::uint32_t{p[3]} << 24);
  if (n > kMaxFrame) throw std::runtime_error("channel frame of " + std::to_string(n) + " bytes");
  if (buffer_.size() - start_ - 4 < n) return std::nullopt;
  std::string frame = buffer_.substr(start_ + 4, n);
  start_ += 4 + n;
  return frame;
}

UniqueFd FrameReader::take_fd() {
  if (fds_.empty()) return {};
  UniqueFd fd = std::move(fds_.front());
  fds_.pop_front();
  return fd;
}

bool write_some(int fd, std::string& pending, std::deque<OutgoingFd>& fds) {
  if (fds.empty()) return write_some(fd, pending);
  // Offsets stay those of the buffer as it was until the end, where what was
  // written is erased and they are moved along.
  std::size_t done = 0;
  bool ok = true;
  while (done < pending.size()) {
    bool attach = !fds.empty() && fds.front().offset == done;
    std::size_t end = pending.size();
    if (attach && fds.size() > 1) end = fds[1].offset;
    if (!attach && !fds.empty()) end = fds.front().offset;
    ssize_t n;
    if (attach) {
      iovec io{pending.data() + done, end - done};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      msghdr msg{};
      msg.msg_iov = &io;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      int sent = fds.front().fd.get();
      std::memcpy(CMSG_DATA(c), &sent, sizeof(int));
      n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    } else {
      n = ::send(fd, pending.data() + done, end - done, MSG_NOSIGNAL);
    }
    if (n > 0) {
      if (attach) fds.pop_front();  // it went with the first byte
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    ok = false;
    break;
  }
  pending.erase(0, done);
  for (OutgoingFd& f : fds) f.offset -= done;
  return ok;
}

bool write_some(int fd, std::string& pending) {
  std::size_t done = 0;
  while (done < pending.size()) {
    ssize_t n = ::send(fd, pending.data() + done, pending.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    pending.erase(0, done);
    return false;
  }
  pending.erase(0, done);
  return true;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace uni::worker
