// Subjects that name a boss's identity, and the permissions built on them:
// the owner read back from each form of task subject, and what each role is
// granted (and, as much, what it is not) before any server is involved.
#include <gtest/gtest.h>

#include <algorithm>

#include "nats/store/names.hpp"
#include "nats/store/permissions.hpp"

namespace uni::nats {
namespace {

const std::string kPlatform = "x86_64-linux-libstdc++-cxx11";

bool has(const std::vector<std::string>& list, const std::string& subject) {
  return std::find(list.begin(), list.end(), subject) != list.end();
}

TEST(NatsNames, TaskAndResultSubjectsNameTheOwnerWhenThereIsOne) {
  Names names;
  const std::string session = "000000000000000a";
  EXPECT_EQ(names.task_subject(kPlatform, "", 10, 5),
            "uni.tasks." + kPlatform + "." + session + ".5");
  EXPECT_EQ(names.task_subject(kPlatform, "alice", 10, 5),
            "uni.tasks." + kPlatform + ".alice." + session + ".5");
  EXPECT_EQ(names.requeue_subject(kPlatform, "alice", 10, 2),
            "uni.tasks." + kPlatform + ".alice." + session + ".2.requeued");
  EXPECT_EQ(names.requeue_subject(kPlatform, "", 10, 2),
            "uni.tasks." + kPlatform + "." + session + ".2");
  EXPECT_EQ(names.task_session_subjects(kPlatform, "", 10),
            "uni.tasks." + kPlatform + "." + session + ".*");
  EXPECT_EQ(names.task_session_subjects(kPlatform, "alice", 10),
            "uni.tasks." + kPlatform + ".alice." + session + ".>");
  EXPECT_EQ(names.result_subject("", 1), "uni.results.0000000000000001");
  EXPECT_EQ(names.result_subject("alice", 1), "uni.results.alice.0000000000000001");

  EXPECT_EQ(names.task_owner(kPlatform, "uni.tasks." + kPlatform + ".alice." + session + ".5"),
            "alice");
  EXPECT_EQ(
      names.task_owner(kPlatform, "uni.tasks." + kPlatform + ".alice." + session + ".2.requeued"),
      "alice");
  EXPECT_EQ(names.task_owner(kPlatform, "uni.tasks." + kPlatform + "." + session + ".5"), "");
  EXPECT_EQ(names.task_owner(kPlatform, "uni.tasks." + kPlatform + ".5"), "");
  EXPECT_EQ(names.task_owner(kPlatform, "uni.tasks." + kPlatform), "");
  EXPECT_EQ(names.task_owner(kPlatform, "uni.tasks.other.alice." + session + ".5"), "");
}

TEST(NatsPermissions, EachRoleIsGrantedItsSubjectsOnly) {
  Names names;
  RolePermissions boss = role_permissions(names, Role::kBoss, "alice", {kPlatform});
  EXPECT_TRUE(has(boss.publish, "uni.tasks.*.alice.*.*"));
  EXPECT_TRUE(has(boss.subscribe, "uni.results.alice.*"));
  EXPECT_TRUE(has(boss.subscribe, "_INBOX_alice.>"));
  EXPECT_TRUE(has(boss.publish, "$JS.API.CONSUMER.CREATE.UNI_RESULTS.*.uni.results.alice.*"));
  EXPECT_FALSE(boss.allow_responses);

  RolePermissions worker = role_permissions(names, Role::kWorker, "w1", {kPlatform});
  EXPECT_TRUE(has(worker.publish, "uni.results.>"));
  EXPECT_TRUE(has(worker.publish, "uni.tasks.*.*.*.*.requeued"));
  EXPECT_TRUE(worker.allow_responses);

  RolePermissions observer = role_permissions(names, Role::kObserver, "eye", {kPlatform});
  for (const RolePermissions* p : {&boss, &worker, &observer}) {
    for (const std::string& s : p->publish) {
      // Nothing destructive, no wildcard over the API, no direct read of results.
      EXPECT_EQ(s.find("DELETE.UNI_RESULTS"), std::string::npos) << s;
      EXPECT_EQ(s.find("STREAM.DELETE"), std::string::npos) << s;
      EXPECT_EQ(s.find("PURGE"), std::string::npos) << s;
      EXPECT_EQ(s.find("UPDATE"), std::string::npos) << s;
      // Only the listing consumers of the registries (nats.c deletes its own).
      if (s.find("CONSUMER.DELETE") != std::string::npos) {
        EXPECT_EQ(s.find("CONSUMER.DELETE.KV_uni_"), 0u + std::string("$JS.API.").size()) << s;
      }
      EXPECT_NE(s, ">");
      EXPECT_NE(s, "$JS.API.>");
      EXPECT_EQ(s.find("GET.UNI_RESULTS"), std::string::npos) << s;
      EXPECT_NE(s, "$JS.API.CONSUMER.CREATE.UNI_RESULTS");
    }
    for (const std::string& s : p->subscribe) {
      EXPECT_NE(s.rfind("_INBOX.", 0), 0u) << "the shared inbox prefix: " << s;
      EXPECT_NE(s, "uni.results.>");
    }
  }
  for (const std::string& s : worker.publish)
    EXPECT_FALSE(s.rfind("uni.tasks.", 0) == 0 && s.find("requeued") == std::string::npos) << s;
  // An observer only asks, and puts its own entry in the bosses bucket.
  for (const std::string& s : observer.publish)
    EXPECT_TRUE(s.rfind("$JS.API.", 0) == 0 || s == "$KV.uni_bosses.eye.*") << s;
  EXPECT_TRUE(has(boss.publish, "$KV.uni_bosses.alice.*"));
  EXPECT_FALSE(has(boss.publish, "$KV.uni_bosses.>"));

  RolePermissions admin = role_permissions(names, Role::kAdmin, "root", {kPlatform});
  EXPECT_TRUE(has(admin.publish, ">"));
  EXPECT_THROW(role_permissions(names, Role::kBoss, "a.b", {kPlatform}), std::invalid_argument);
}

}  // namespace
}  // namespace uni::nats
