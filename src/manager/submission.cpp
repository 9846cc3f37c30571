// SUBMIT, whole or not at all (see submission.hpp).
#include "manager/submission.hpp"

namespace uni::manager {

namespace {

// A task record's id: its first two fields, if they are unsigned integers.
// Reads without throwing: it runs for every record of a refused SUBMIT.
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
    out.tasks = submit.tasks();  // stops at the first record that does not decode
    return out;
  } catch (const proto::DecodeError& e) {
    out.tasks.clear();
    out.error = std::string("SUBMIT refused: ") + e.what() + "; none of its tasks was taken";
  }
  const msgpack::object& list = submit.field(0);
  if (list.type != msgpack::type::ARRAY || list.via.array.size > proto::kMaxRecords)
    throw proto::DecodeError(out.error);
  for (std::uint32_t i = 0; i < list.via.array.size; ++i)
    if (std::optional<proto::TaskId> id = id_of(list.via.array.ptr[i])) out.refused.push_back(*id);
  return out;
}

}  // namespace uni::manager
