// What each key may do (docs/security.md §1): the manager's access rules,
// in one table, and the owner rule. A worker key takes tasks and returns
// their results, nothing else; an observer reads the status; a boss submits,
// uploads modules, reads the status, and acts on what it owns; an admin does
// everything. Owners: a task id's session tells its owner's key (the key's
// owner tag is the session's upper half, identity.hpp), so the check needs
// no lookup and holds after a manager restart. The shared authkey's identity
// is an admin: one trust domain, no owners inside it.
#pragma once

#include <string>

#include "common/identity.hpp"
#include "proto/messages.hpp"

namespace uni::manager {

enum class Action : std::uint8_t {
  kServe,        // HELLO as a worker: take tasks, return their results
  kSubmit,       // SUBMIT, PUT_MODULE, ACK
  kStatus,       // STATUS
  kCancel,       // CANCEL: cancel a task, stop a service
  kBecome,       // BECOME
  kFetchResult,  // FETCH_RESULT
};

// O(1): one table lookup.
bool may(Role role, Action action);

// Whether `who` may act on task `id` (cancel, stop, become, fetch): its
// owner, or an admin. O(1).
inline bool owns(const Identity& who, const proto::TaskId& id) {
  return who.shared || who.role == Role::kAdmin ||
         static_cast<std::uint32_t>(id.session >> 32) == who.owner_tag;
}

// Whether `who` may open (or resume) boss session `session`: one of its own.
inline bool session_of(const Identity& who, std::uint64_t session) {
  return who.shared || static_cast<std::uint32_t>(session >> 32) == who.owner_tag;
}

// "refused: key 'w1' has role worker, which may not submit"
std::string role_refusal(const Identity& who, Action action);
// "refused: key 'bob' (role boss) may not stop task ID: it belongs to another key"
std::string owner_refusal(const Identity& who, Action action, const proto::TaskId& id);

}  // namespace uni::manager
