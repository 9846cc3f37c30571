// SUBMIT, task by task (see submission.hpp).
#include "manager/submission.hpp"

namespace uni::manager {

namespace {

// A task record's id: its first two fields, if they are unsigned integers.
std::optional<proto::TaskId> id_of(const msgpack::object& record) {
  if (record.type != msgpack::type::ARRAY || record.via.array.size < 2) return std::nullopt;
  const msgpack::object& session = record.via.array.ptr[0];
  const msgpack::object& seq = record.via.array.ptr[1];
  if (session.type != msgpack::type::POSITIVE_INTEGER ||
      seq.type != msgpack::type::POSITIVE_INTEGER)
    return std::nullopt;
  return proto::TaskId{session.via.u64, seq.via.u64};
}

}  // namespace

Submission read_submission(const proto::Message& submit) {
  Submission out;
  try {
    out.tasks = submit.tasks();  // the common case: every record decodes
    return out;
  } catch (const proto::DecodeError&) {
    // Some record does not: go through them one by one (below).
  }
  const msgpack::object& list = submit.field(0);
  if (list.type != msgpack::type::ARRAY) throw proto::DecodeError("SUBMIT: tasks must be an array");
  for (std::uint32_t i = 0; i < list.via.array.size; ++i) {
    const msgpack::object& record = list.via.array.ptr[i];
    try {
      out.tasks.push_back(proto::decode_task(record));
    } catch (const proto::DecodeError& e) {
      if (std::optional<proto::TaskId> id = id_of(record)) out.refused.push_back({*id, e.what()});
      else out.unanswerable.push_back(e.what());
    }
  }
  return out;
}

}  // namespace uni::manager
