// Names: building and checking the NATS names uni uses.
#include "nats/store/names.hpp"

#include <algorithm>

#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace uni::nats {

Names::Names(std::string prefix) : prefix_(std::move(prefix)) {
  if (prefix_.empty()) throw std::invalid_argument("the NATS name prefix is empty");
  for (char c : prefix_) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
      throw std::invalid_argument("the NATS name prefix '" + prefix_ +
                                  "' may hold only letters, digits, '_' and '-'");
    upper_ += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
}

void check_platform(std::string_view platform) {
  if (platform.empty()) throw std::invalid_argument("the platform tag is empty");
  for (char c : platform) {
    if (c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' ||
        std::isspace(static_cast<unsigned char>(c)) || !std::isprint(static_cast<unsigned char>(c)))
      throw std::invalid_argument("the platform tag '" + std::string(platform) +
                                  "' cannot name a NATS stream (it holds '" + std::string(1, c) +
                                  "')");
  }
}

bool valid_subject_token(std::string_view token) {
  if (token.empty()) return false;
  for (char c : token)
    if (c == '.' || c == '*' || c == '>' || std::isspace(static_cast<unsigned char>(c)) ||
        !std::isprint(static_cast<unsigned char>(c)))
      return false;
  return true;
}

std::string session_hex(std::uint64_t session) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(session));
  return text;
}

std::string Names::task_stream(std::string_view platform) const {
  check_platform(platform);
  return upper_ + "_TASKS_" + std::string(platform);
}

std::string Names::task_subject(std::string_view platform) const {
  check_platform(platform);
  return prefix_ + ".tasks." + std::string(platform);
}

std::string Names::task_subject(std::string_view platform, std::string_view owner,
                                std::uint64_t session, std::size_t count) const {
  std::string out = task_subject(platform) + ".";
  if (!owner.empty()) out += std::string(owner) + ".";
  return out + session_hex(session) + "." + std::to_string(count);
}

std::string Names::requeue_subject(std::string_view platform, std::string_view owner,
                                   std::uint64_t session, std::size_t count) const {
  if (owner.empty()) return task_subject(platform, owner, session, count);
  return task_subject(platform, owner, session, count) + ".requeued";
}

std::string Names::task_session_subjects(std::string_view platform, std::string_view owner,
                                         std::uint64_t session) const {
  if (owner.empty()) return task_subject(platform) + "." + session_hex(session) + ".*";
  return task_subject(platform) + "." + std::string(owner) + "." + session_hex(session) + ".>";
}

std::string Names::task_owner(std::string_view platform, std::string_view subject) const {
  // <prefix>.tasks.<platform>[.<owner>].<session>.<count>[.requeued]: an
  // owner is there when three tokens follow the platform (".requeued" aside).
  const std::string base = task_subject(platform) + ".";
  if (subject.size() <= base.size() || subject.substr(0, base.size()) != base) return "";
  std::string_view rest = subject.substr(base.size());
  if (rest.ends_with(".requeued")) rest.remove_suffix(std::string_view(".requeued").size());
  if (std::count(rest.begin(), rest.end(), '.') != 2) return "";
  return std::string(rest.substr(0, rest.find('.')));
}

std::string Names::platform_of_task_stream(std::string_view stream) const {
  const std::string prefix = upper_ + "_TASKS_";
  if (stream.size() <= prefix.size() || stream.substr(0, prefix.size()) != prefix) return "";
  return std::string(stream.substr(prefix.size()));
}

std::string Names::exhausted_stream(std::string_view platform) const {
  check_platform(platform);
  return upper_ + "_EXHAUSTED_" + std::string(platform);
}

std::string Names::result_stream() const { return upper_ + "_RESULTS"; }
std::string Names::result_subject(std::uint64_t session) const {
  return prefix_ + ".results." + session_hex(session);
}
std::string Names::result_subject(std::string_view owner, std::uint64_t session) const {
  if (owner.empty()) return result_subject(session);
  return prefix_ + ".results." + std::string(owner) + "." + session_hex(session);
}
std::string Names::result_subjects() const { return prefix_ + ".results.>"; }

std::string Names::cancel_stream() const { return upper_ + "_CANCELS"; }
std::string Names::cancel_subject(std::uint64_t session) const {
  return prefix_ + ".cancel." + session_hex(session);
}
std::string Names::cancel_subjects() const { return prefix_ + ".cancel.>"; }

std::string Names::module_bucket() const { return prefix_ + "_modules"; }
std::string Names::worker_bucket() const { return prefix_ + "_workers"; }
std::string Names::service_bucket() const { return prefix_ + "_services"; }
std::string Names::boss_bucket() const { return prefix_ + "_bosses"; }
std::string Names::session_bucket() const { return prefix_ + "_sessions"; }

std::string Names::become_subject(std::string_view worker_id) const {
  if (worker_id.empty() || worker_id.find_first_of(".*> \t\r\n") != std::string_view::npos)
    throw std::invalid_argument("the worker id '" + std::string(worker_id) +
                                "' cannot be a NATS subject token");
  return prefix_ + ".become." + std::string(worker_id);
}

}  // namespace uni::nats
