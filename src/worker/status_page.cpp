// memfd + mmap for the executor status page (see status_page.hpp).
#include "worker/status_page.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

namespace uni::worker {

namespace {
StatusPage* map_page(int fd) {
  void* p = ::mmap(nullptr, sizeof(StatusPage), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    throw std::runtime_error(std::string("mmap of the status page: ") + std::strerror(errno));
  return static_cast<StatusPage*>(p);
}
}  // namespace

SharedStatusPage SharedStatusPage::create() {
  SharedStatusPage s;
  s.fd_.reset(::memfd_create("uni-executor-status", MFD_CLOEXEC));
  if (!s.fd_ || ::ftruncate(s.fd_.get(), sizeof(StatusPage)) != 0)
    throw std::runtime_error(std::string("memfd for the status page: ") + std::strerror(errno));
  s.page_ = new (map_page(s.fd_.get())) StatusPage();
  return s;
}

SharedStatusPage SharedStatusPage::attach(int fd) {
  SharedStatusPage s;
  s.fd_.reset(fd);
  s.page_ = map_page(fd);
  return s;
}

SharedStatusPage::SharedStatusPage(SharedStatusPage&& other) noexcept
    : fd_(std::move(other.fd_)), page_(std::exchange(other.page_, nullptr)) {}

SharedStatusPage& SharedStatusPage::operator=(SharedStatusPage&& other) noexcept {
  if (this != &other) {
    if (page_) ::munmap(page_, sizeof(StatusPage));
    fd_ = std::move(other.fd_);
    page_ = std::exchange(other.page_, nullptr);
  }
  return *this;
}

SharedStatusPage::~SharedStatusPage() {
  if (page_) ::munmap(page_, sizeof(StatusPage));
}

}  // namespace uni::worker
