// libFuzzer target: one frame from a peer, read as the manager reads it
// (CHUNK or message, with the manager's decode limits and bytes read in
// place), then every accessor its type has, as the manager or a peer would
// call it. Any input must end in a value or a DecodeError: never a crash, a
// hang, or memory out of proportion to the input.
#include <algorithm>
#include <cstdint>
#include <string_view>

#include "manager/submission.hpp"
#include "proto/become.hpp"
#include "proto/chunks.hpp"
#include "proto/kept_result.hpp"
#include "proto/messages.hpp"

namespace {

template <class Read>
void attempt(Read read) {
  try {
    read();
  } catch (const uni::proto::DecodeError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace uni::proto;
  std::string_view frame(reinterpret_cast<const char*>(data), size);
  Chunk chunk;
  parse_chunk(frame, chunk);
  put_module_hash(frame);
  ParseLimits limits;
  limits.max_values = std::min<std::size_t>(size / 2 + 64, std::size_t{1} << 21);
  limits.reference_bytes = true;
  Message m;
  try {
    m = Message::parse(frame.data(), frame.size(), limits);
  } catch (const DecodeError&) {
    return 0;
  }
  switch (m.type()) {
    case Type::kHello: attempt([&] { m.hello(); }); break;
    case Type::kWelcome: attempt([&] { m.welcome(); }); break;
    case Type::kError: attempt([&] { m.error(); }); break;
    case Type::kHeartbeat:
      attempt([&] { m.busy(); });
      attempt([&] { m.started_services(); });
      break;
    case Type::kSubmit:
    case Type::kTasks:
      attempt([&] { m.tasks(); });
      attempt([&] { uni::manager::read_submission(m); });
      break;
    case Type::kNeedModule:
    case Type::kFetchModule: attempt([&] { m.module_hash(); }); break;
    case Type::kPutModule: attempt([&] { m.module_upload(); }); break;
    case Type::kResult: attempt([&] { m.results(); }); break;
    case Type::kAck:
    case Type::kCancel:
    case Type::kServiceStarted: attempt([&] { m.task_ids(); }); break;
    case Type::kCancelReply: attempt([&] { m.cancel_outcomes(); }); break;
    case Type::kStatus: break;
    case Type::kStatusReply: attempt([&] { m.status_report(); }); break;
    case Type::kModule: attempt([&] { m.module_reply(); }); break;
    case Type::kCredit: attempt([&] { m.credit(); }); break;
    case Type::kNotice:
    case Type::kBye: attempt([&] { m.text(); }); break;
    case Type::kBecome: attempt([&] { read_become(m); }); break;
    case Type::kBecomeReply: attempt([&] { read_become_reply(m); }); break;
    case Type::kFetchResult: attempt([&] { read_fetch_result(m); }); break;
    case Type::kKeptResult: attempt([&] { read_kept_result(m); }); break;
    case Type::kChunk: break;
  }
  return 0;
}
