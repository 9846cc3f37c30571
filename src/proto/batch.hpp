// Cutting tasks and results into messages by their real encoded size. Every
// sender of SUBMIT, TASKS and RESULT (boss, manager, worker) batches through
// here, so a batch is cut where the bytes on the wire say, not where a guessed
// per-item overhead does.
#pragma once

#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "proto/messages.hpp"

namespace uni::proto {

// Bytes one record takes inside a SUBMIT/TASKS or RESULT message, exactly as
// messages.cpp writes it (tests/unit/batch_test.cpp holds the two together).
std::size_t encoded_size(const Task& task);
std::size_t encoded_size(const Result& result);

// Bytes of a whole SUBMIT, TASKS or RESULT message holding `count` records
// of `records_bytes` in all.
std::size_t list_message_size(std::size_t count, std::size_t records_bytes);

// Gathers records (Task or Result) into messages of at most `limit` bytes and
// hands each full batch to `send`, in order. A record that alone is larger
// than the limit goes in a message by itself: whether a record may be sent at
// all is the caller's question (the peer's --max-message), asked before add().
// The records must outlive the batch they are in (until send returns).
template <class Record>
class Batcher {
 public:
  using Send = std::function<void(const std::vector<const Record*>&)>;

  Batcher(std::size_t limit, Send send) : limit_(limit), send_(std::move(send)) {}
  ~Batcher() = default;  // does not flush: a caller that stops early sends nothing half-made
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Adds a record, first sending the held batch if the record would take the
  // message past the limit.
  void add(const Record& record) {
    std::size_t size = encoded_size(record);
    if (!records_.empty() && list_message_size(records_.size() + 1, bytes_ + size) > limit_)
      flush();
    records_.push_back(&record);
    bytes_ += size;
  }

  // Sends what is held, if anything.
  void flush() {
    if (records_.empty()) return;
    send_(records_);
    records_.clear();
    bytes_ = 0;
  }

  bool empty() const { return records_.empty(); }
  // Bytes of the message the held records make.
  std::size_t message_bytes() const { return list_message_size(records_.size(), bytes_); }

 private:
  std::size_t limit_;
  Send send_;
  std::vector<const Record*> records_;
  std::size_t bytes_ = 0;  // of the records alone
};

}  // namespace uni::proto
