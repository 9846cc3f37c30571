// The processes a task starts end with it. The executor is their subreaper
// (PR_SET_CHILD_SUBREAPER), so none can leave its tree by double-forking or
// setsid; when a task ends, one waitid() says whether it left any (the common
// case: none, for the cost of that one system call), and if so they are
// killed and reaped before the task's result goes out.
#pragma once

namespace uni::worker {

class TaskProcesses {
 public:
  // `own_pid_namespace`: this executor is PID 2 of a namespace of its own
  // (executor_keeper.hpp), where kill(-1) reaches exactly the processes tasks
  // started. Otherwise they are found in /proc. Throws std::runtime_error if
  // the executor cannot become a subreaper.
  explicit TaskProcesses(bool own_pid_namespace);

  // Kills and reaps every process started since the last call (and any
  // they started). Gives up after about two seconds on processes that do not
  // die (uninterruptible sleep); the next call tries again.
  void end_all();

 private:
  bool own_pid_namespace_;
};

}  // namespace uni::worker
