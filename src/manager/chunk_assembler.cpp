// CHUNK runs put back together within limits (see chunk_assembler.hpp).
#include "manager/chunk_assembler.hpp"

namespace uni::manager {

ChunkAssembler::Step ChunkAssembler::add(const PeerId& peer, const proto::Chunk& chunk,
                                         Clock::time_point now) {
  Run& run = runs_[peer];
  run.last = now;
  run.size += chunk.piece.size();
  if (run.head.size() < kHeadBytes)
    run.head.append(chunk.piece.substr(0, kHeadBytes - run.head.size()));
  if (run.refused == Outcome::kPending) {
    if (run.size > max_message_) run.refused = Outcome::kTooLarge;
    else if (bytes_ + chunk.piece.size() > max_total_) run.refused = Outcome::kBusy;
    if (run.refused != Outcome::kPending) {  // keep counting, stop keeping
      bytes_ -= run.bytes.size();
      std::string().swap(run.bytes);
    }
  }
  if (run.refused == Outcome::kPending) {
    run.bytes.append(chunk.piece);
    bytes_ += chunk.piece.size();
  }
  if (chunk.more) return {};
  Step step;
  step.size = run.size;
  if (run.refused == Outcome::kPending) {
    step.outcome = Outcome::kComplete;
    bytes_ -= run.bytes.size();
    step.message = std::move(run.bytes);
  } else {
    step.outcome = run.refused;
    step.head = std::move(run.head);
  }
  runs_.erase(peer);
  return step;
}

void ChunkAssembler::drop(const PeerId& peer) {
  auto it = runs_.find(peer);
  if (it == runs_.end()) return;
  bytes_ -= it->second.bytes.size();
  runs_.erase(it);
}

std::size_t ChunkAssembler::expire(Clock::time_point now, std::chrono::milliseconds idle) {
  std::size_t dropped = 0;
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (now - it->second.last < idle) {
      ++it;
      continue;
    }
    bytes_ -= it->second.bytes.size();
    it = runs_.erase(it);
    ++dropped;
  }
  return dropped;
}

}  // namespace uni::manager
