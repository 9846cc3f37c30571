// role_permissions and authorization_block: uni's subjects and JetStream API
// calls, role by role.
#include "nats/store/permissions.hpp"

#include <stdexcept>

namespace uni::nats {

namespace {

// JetStream API subjects of one stream.
std::string api(const std::string& call, const std::string& stream) {
  return "$JS.API." + call + "." + stream;
}

void add(std::vector<std::string>& to, std::initializer_list<std::string> subjects) {
  to.insert(to.end(), subjects.begin(), subjects.end());
}

// Creating a stream or bucket that exists with the same configuration
// changes nothing; uni's clients ask for each one they use. Granted by
// exact name only: a stream name of a wildcard could be one whose subjects
// capture another user's inbox. Update, delete and purge are not granted.
void may_open(std::vector<std::string>& to, const std::string& stream) {
  add(to, {api("STREAM.CREATE", stream), api("STREAM.INFO", stream)});
}

// Reading a KV bucket: its entries directly, and listing its keys (an
// ordered consumer of nats.c, answered on the reader's inbox, which nats.c
// deletes when the listing ends and waits for the answer: refused, every
// listing would wait out the API timeout). A registry bucket has no
// consumer but such listings.
void may_read_bucket(std::vector<std::string>& to, const std::string& stream) {
  may_open(to, stream);
  add(to, {api("DIRECT.GET", stream), api("DIRECT.GET", stream) + ".>",
           api("STREAM.MSG.GET", stream), api("CONSUMER.CREATE", stream),
           api("CONSUMER.CREATE", stream) + ".>", api("CONSUMER.DELETE", stream) + ".*"});
}

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

std::string list(const std::vector<std::string>& subjects, const std::string& indent) {
  std::string out = "[\n";
  for (const std::string& s : subjects) out += indent + "  " + quoted(s) + "\n";
  return out + indent + "]";
}

}  // namespace

RolePermissions role_permissions(const Names& names, Role role, const std::string& identity,
                                 const std::vector<std::string>& platforms) {
  if (!valid_subject_token(identity))
    throw std::invalid_argument("the NATS identity '" + identity +
                                "' cannot be named in a subject");
  for (const std::string& platform : platforms) check_platform(platform);
  RolePermissions out;
  if (role == Role::kAdmin) {
    out.publish = {">"};
    out.subscribe = {">"};
    return out;
  }
  const std::string& p = names.prefix();
  const std::string inbox = "_INBOX_" + identity + ".>";
  const std::string results = names.result_stream(), cancels = names.cancel_stream();
  const std::string modules = "OBJ_" + names.module_bucket();
  const std::string workers = "KV_" + names.worker_bucket(),
                    services = "KV_" + names.service_bucket(), bosses = "KV_" + names.boss_bucket(),
                    sessions = "KV_" + names.session_bucket();
  std::vector<std::string>& pub = out.publish;
  out.subscribe = {inbox};
  // Every role reads the status: the registries and the task streams' counts.
  add(pub, {"$JS.API.INFO", "$JS.API.STREAM.NAMES"});
  may_read_bucket(pub, workers);
  may_read_bucket(pub, services);
  may_read_bucket(pub, bosses);
  for (const std::string& platform : platforms) may_open(pub, names.task_stream(platform));
  // `uni status` is a boss's connection that submits nothing: it opens the
  // streams a boss opens and listens on its own (always empty) result subject.
  may_open(pub, modules);
  may_open(pub, results);
  may_open(pub, cancels);
  may_open(pub, sessions);
  out.subscribe.push_back(p + ".results." + identity + ".*");
  // ... and puts its entry in the bosses bucket, under its own identity.
  pub.push_back("$KV." + names.boss_bucket() + "." + identity + ".*");
  if (role == Role::kObserver) return out;

  // Bosses and workers read the module store (direct gets of chunks by
  // subject, the metadata by last message).
  add(pub, {api("DIRECT.GET", modules), api("STREAM.MSG.GET", modules)});

  if (role == Role::kBoss) {
    // Tasks only under its own identity; results only its own, live on its
    // subject or stored, through a consumer whose filter names its subject.
    pub.push_back(p + ".tasks.*." + identity + ".*.*");  // <session>.<count>
    add(pub, {p + ".cancel.*", p + ".become.*", "$KV." + names.session_bucket() + ".>",
              "$O." + names.module_bucket() + ".C.>", "$O." + names.module_bucket() + ".M.>",
              api("CONSUMER.CREATE", results) + ".*." + p + ".results." + identity + ".*"});
    // A boss reads the ledger of ids handed out (cancel of another session's id).
    add(pub, {api("DIRECT.GET", sessions), api("DIRECT.GET", sessions) + ".>",
              api("STREAM.MSG.GET", sessions)});
    return out;
  }

  // Workers: take tasks (the shared durable consumer `workers`), put back
  // what they cannot finish (the .requeued subjects only: never as a boss),
  // store results, fail exhausted batches, follow cancels, answer becomes.
  const std::string consumer = names.task_consumer();
  for (const std::string& platform : platforms) {
    const std::string tasks = names.task_stream(platform);
    const std::string exhausted = names.exhausted_stream(platform);
    may_open(pub, exhausted);
    add(pub, {api("CONSUMER.CREATE", tasks) + "." + consumer,
              api("CONSUMER.CREATE", tasks) + "." + consumer + ".>",
              api("CONSUMER.DURABLE.CREATE", tasks) + "." + consumer,
              api("CONSUMER.INFO", tasks) + "." + consumer,
              api("CONSUMER.MSG.NEXT", tasks) + "." + consumer,
              "$JS.ACK." + tasks + "." + consumer + ".>", api("STREAM.MSG.GET", tasks),
              api("STREAM.MSG.DELETE", tasks), api("CONSUMER.CREATE", exhausted) + ".sweepers",
              api("CONSUMER.CREATE", exhausted) + ".sweepers.>",
              api("CONSUMER.DURABLE.CREATE", exhausted) + ".sweepers",
              api("CONSUMER.INFO", exhausted) + ".sweepers",
              api("CONSUMER.MSG.NEXT", exhausted) + ".sweepers",
              "$JS.ACK." + exhausted + ".sweepers.>"});
  }
  add(pub, {p + ".tasks.*.*.*.*.requeued", p + ".results.>", "$KV." + names.worker_bucket() + ".>",
            "$KV." + names.service_bucket() + ".>", api("CONSUMER.CREATE", cancels),
            api("CONSUMER.CREATE", cancels) + ".>"});
  // A worker has no result subject of its own to listen on.
  out.subscribe = {inbox, p + ".become.*"};
  out.allow_responses = true;
  return out;
}

std::string authorization_block(const Names& names, const std::vector<NatsUser>& users,
                                const std::vector<std::string>& platforms) {
  std::string out =
      "# Written by `uni nats-config`: one nkey user per uni client, with the\n"
      "# permissions of its role (docs/security.md, \"NATS credential\").\n"
      "authorization {\n  users: [\n";
  for (const NatsUser& user : users) {
    RolePermissions perms = role_permissions(names, user.role, user.nkey, platforms);
    out += "    # " + user.name + " (" + role_name(user.role) + ")\n";
    out += "    {\n      nkey: " + user.nkey + "\n      permissions: {\n";
    out += "        publish: { allow: " + list(perms.publish, "        ") + " }\n";
    out += "        subscribe: { allow: " + list(perms.subscribe, "        ") + " }\n";
    if (perms.allow_responses) out += "        allow_responses: true\n";
    out += "      }\n    }\n";
  }
  return out + "  ]\n}\n";
}

}  // namespace uni::nats
