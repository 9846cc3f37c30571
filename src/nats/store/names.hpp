// The names of everything uni keeps in NATS, in one place (docs/scale-out.md
// lists them): streams, subjects, the workers' consumer and the buckets. A
// prefix other than "uni" lets two uni clusters share one NATS account.
// Subjects of tasks and results name their boss's NATS identity (its user or
// nkey, `owner` below) when it has one, so that nats-server permissions can
// hold each boss to its own (docs/security.md, "NATS credential"); an empty
// owner gives the subjects of a cluster without users.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace uni::nats {

class Names {
 public:
  // Throws std::invalid_argument unless `prefix` is letters, digits, '_' or '-'.
  explicit Names(std::string prefix = "uni");

  const std::string& prefix() const { return prefix_; }

  // Work-queue stream of one platform's tasks, its subject and the durable
  // pull consumer its workers share.
  std::string task_stream(std::string_view platform) const;   // UNI_TASKS_<platform>
  std::string task_subject(std::string_view platform) const;  // uni.tasks.<platform>
  // A message of `count` tasks of boss session `session`, submitted by
  // identity `owner`, is published on
  // uni.tasks.<platform>[.<owner>].<session>.<count>: the stream's
  // per-subject counts say how many tasks it holds, in all and of each
  // session; a boss can read its own messages (to find tasks the cluster no
  // longer holds); and a permission can bind a boss to its own identity.
  std::string task_subject(std::string_view platform, std::string_view owner, std::uint64_t session,
                           std::size_t count) const;
  // Tasks a worker puts back in the queue (given back, or to retry):
  // uni.tasks.<platform>.<owner>.<session>.<count>.requeued, a subject a
  // worker may be allowed to publish on without being allowed to submit as a
  // boss; with no owner, the boss's own subject.
  std::string requeue_subject(std::string_view platform, std::string_view owner,
                              std::uint64_t session, std::size_t count) const;
  // Every message of one session, requeued ones included.
  std::string task_session_subjects(std::string_view platform, std::string_view owner,
                                    std::uint64_t session) const;
  // The owner named by the subject of a task message; "" if none.
  std::string task_owner(std::string_view platform, std::string_view subject) const;
  std::string task_consumer() const { return "workers"; }
  // The platform whose task stream `stream` is; empty if it is none.
  std::string platform_of_task_stream(std::string_view stream) const;
  // Captured max-deliveries advisories of a platform's consumer.
  std::string exhausted_stream(std::string_view platform) const;  // UNI_EXHAUSTED_<platform>

  // Results, one subject per boss session (its 64-bit id in 16 hex digits).
  std::string result_stream() const;                        // UNI_RESULTS
  std::string result_subject(std::uint64_t session) const;  // uni.results.<session>
  // uni.results.<owner>.<session> (uni.results.<session> with no owner).
  std::string result_subject(std::string_view owner, std::uint64_t session) const;
  std::string result_subjects() const;  // uni.results.>

  std::string cancel_stream() const;                        // UNI_CANCELS
  std::string cancel_subject(std::uint64_t session) const;  // uni.cancel.<session>
  std::string cancel_subjects() const;                      // uni.cancel.>

  std::string module_bucket() const;   // object store uni_modules (stream OBJ_uni_modules)
  std::string worker_bucket() const;   // KV uni_workers
  std::string service_bucket() const;  // KV uni_services
  std::string boss_bucket() const;     // KV uni_bosses: bosses connected now
  std::string session_bucket() const;  // KV uni_sessions: ids each session handed out

  // Become requests to one worker (core NATS request/reply, not stored).
  std::string become_subject(std::string_view worker_id) const;  // uni.become.<worker id>

 private:
  std::string prefix_;  // as given, for subjects and buckets
  std::string upper_;   // upper case, for stream names
};

// A platform tag must be usable as a subject token and inside a stream name:
// no '.', '*', '>', whitespace or path separators. uni's tags
// ("x86_64-linux-libstdc++-cxx11") are. Throws std::invalid_argument.
void check_platform(std::string_view platform);

// Whether `token` can be one token of a subject (and of a permission): not
// empty, printable, no '.', '*', '>' or whitespace.
bool valid_subject_token(std::string_view token);

std::string session_hex(std::uint64_t session);  // 16 lowercase hex digits

}  // namespace uni::nats
