// The access table and the refusal texts (see access.hpp).
#include "manager/access.hpp"

#include <array>

namespace uni::manager {

namespace {

// Rows: Role (observer, worker, boss, admin); columns: Action.
constexpr std::array<std::array<bool, 6>, 4> kMay{{
    //  serve  submit status cancel become fetch
    {false, false, true, false, false, false},  // observer
    {true, false, false, false, false, false},  // worker
    {false, true, true, true, true, true},      // boss
    {true, true, true, true, true, true},       // admin
}};

const char* verb(Action action) {
  switch (action) {
    case Action::kServe: return "serve as a worker";
    case Action::kSubmit: return "submit";
    case Action::kStatus: return "read the status";
    case Action::kCancel: return "cancel or stop tasks";
    case Action::kBecome: return "change a service's code (become)";
    case Action::kFetchResult: return "fetch results";
  }
  return "do that";
}

const char* verb_on(Action action) {
  switch (action) {
    case Action::kCancel: return "cancel or stop";
    case Action::kBecome: return "change the code of";
    case Action::kFetchResult: return "fetch the result of";
    default: return "act on";
  }
}

}  // namespace

bool may(Role role, Action action) {
  return kMay[static_cast<std::size_t>(role)][static_cast<std::size_t>(action)];
}

std::string role_refusal(const Identity& who, Action action) {
  return "refused: key '" + who.name + "' has role " + role_name(who.role) + ", which may not " +
         verb(action);
}

std::string owner_refusal(const Identity& who, Action action, const proto::TaskId& id) {
  return "refused: key '" + who.name + "' (role " + role_name(who.role) + ") may not " +
         verb_on(action) + " " + id.str() + ": it belongs to another key";
}

}  // namespace uni::manager
