// The manager's defensive decoding, seen from a raw ZeroMQ peer built from
// the project's own protocol pieces: a HELLO of another protocol version is
// answered with ERROR "version", random bytes with ERROR "malformed", a
// SUBMIT with a bad task record is refused whole with a `rejected` RESULT
// for each of its tasks (so that no boss waits for ever), and the manager
// goes on serving.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "common/module_file.hpp"
#include "proto/chunks.hpp"
#include "proto/messages.hpp"
#include "raw_peer.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

// A boss HELLO as encode_hello writes it, but claiming protocol `version`.
std::string hello_with_version(std::uint32_t version) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_array(4);
  p.pack_uint8(static_cast<std::uint8_t>(proto::Type::kHello));
  p.pack_uint32(version);
  p.pack(std::string("boss"));
  p.pack_map(1);
  p.pack(std::string("session"));
  p.pack_uint64(0x7e57);
  return std::string(buffer.data(), buffer.size());
}

void expect_error(const std::optional<proto::Message>& reply, const std::string& code,
                  const std::string& text_part) {
  ASSERT_TRUE(reply) << "no answer from the manager";
  ASSERT_EQ(reply->type(), proto::Type::kError) << proto::type_name(reply->type());
  proto::ErrorMessage e = reply->error();
  EXPECT_EQ(e.code, code) << e.text;
  EXPECT_NE(e.text.find(text_part), std::string::npos) << e.text;
}

void expect_still_serving(TestCluster& cluster) {
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "20", "22"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "42\n") << r.describe();
}

TEST(Protocol, HelloOfAnotherVersionGetsAVersionError) {
  TestCluster cluster;
  RawPeer peer(cluster, "raw-version-peer");
  ASSERT_TRUE(peer.send(hello_with_version(proto::kVersion + 1)));
  std::optional<proto::Message> reply = peer.receive();
  expect_error(reply, "version", "version " + std::to_string(proto::kVersion + 1));
  ASSERT_TRUE(reply);
  EXPECT_NE(reply->error().text.find("version mismatch"), std::string::npos);
  expect_still_serving(cluster);
  // The same peer speaking the right version is welcomed.
  ASSERT_TRUE(peer.send(hello_with_version(proto::kVersion)));
  std::optional<proto::Message> welcome = peer.receive();
  ASSERT_TRUE(welcome);
  EXPECT_EQ(welcome->type(), proto::Type::kWelcome) << proto::type_name(welcome->type());
}

TEST(Protocol, MalformedFramesGetMalformedErrorsAndTheManagerKeepsServing) {
  TestCluster cluster;
  RawPeer peer(cluster, "raw-malformed-peer");
  std::mt19937 random(20240601);  // fixed seed: a failure can be reproduced
  for (int i = 0; i < 5; ++i) {
    std::string junk(16 + random() % 200, '\0');
    for (char& c : junk) c = static_cast<char>(random());
    junk[0] = static_cast<char>(0xc1);  // a byte msgpack never uses: cannot parse as a message
    ASSERT_TRUE(peer.send(junk));
    expect_error(peer.receive(), "malformed", "malformed");
  }
  // Well-formed msgpack that is not a message: a bare string, and a HELLO
  // whose fields have the wrong types.
  msgpack::sbuffer text;
  msgpack::pack(text, std::string("hello?"));
  ASSERT_TRUE(peer.send(std::string(text.data(), text.size())));
  expect_error(peer.receive(), "malformed", "malformed");
  msgpack::sbuffer bad_hello;
  msgpack::packer<msgpack::sbuffer> p(bad_hello);
  p.pack_array(4);
  p.pack_uint8(static_cast<std::uint8_t>(proto::Type::kHello));
  p.pack_uint32(proto::kVersion);
  p.pack(42);
  p.pack(std::string("not a map"));
  ASSERT_TRUE(peer.send(std::string(bad_hello.data(), bad_hello.size())));
  expect_error(peer.receive(), "malformed", "malformed");

  expect_still_serving(cluster);
  EXPECT_TRUE(cluster.manager().running()) << cluster.manager().read_stderr();
}

// ---- refusals are answered ------------------------------------------------------

constexpr std::uint64_t kSession = 0x7e57;  // hello_with_version's

// A task record as the protocol lays it out, with `function` and the
// timeout field given as msgpack objects so that either can be made wrong.
void pack_task(msgpack::packer<msgpack::sbuffer>& p, std::uint64_t session, std::uint64_t seq,
               const ModuleHash& module, const std::string& function, bool timeout_as_text) {
  p.pack_array(10);
  p.pack_uint64(session);
  p.pack_uint64(seq);
  p.pack_bin(32);
  p.pack_bin_body(module.raw().data(), 32);
  p.pack(function);
  msgpack::sbuffer args;
  msgpack::pack(args, std::vector<int>{20, 22});
  p.pack_bin(static_cast<std::uint32_t>(args.size()));
  p.pack_bin_body(args.data(), static_cast<std::uint32_t>(args.size()));
  if (timeout_as_text) p.pack(std::string("soon"));
  else p.pack_uint32(0);
  p.pack_uint32(0);
  p.pack_uint8(1);
  p.pack_uint8(0);
  p.pack_uint8(1);
}

// Every message the peer receives within `timeout`, by type.
std::multimap<proto::Type, proto::Message> receive_all(RawPeer& peer,
                                                       std::chrono::milliseconds timeout) {
  std::multimap<proto::Type, proto::Message> out;
  while (std::optional<proto::Message> m = peer.receive(timeout))
    out.emplace(m->type(), std::move(*m));
  return out;
}

// The `rejected` results among `messages`, by task seq.
std::map<std::uint64_t, std::string> rejections(
    const std::multimap<proto::Type, proto::Message>& messages) {
  std::map<std::uint64_t, std::string> out;
  auto [begin, end] = messages.equal_range(proto::Type::kResult);
  for (auto it = begin; it != end; ++it)
    for (const proto::Result& r : it->second.results())
      if (r.status == proto::Status::kRejected) out[r.id.seq] = r.payload;
  return out;
}

void say_hello(RawPeer& peer) {
  ASSERT_TRUE(peer.send(hello_with_version(proto::kVersion)));
  std::optional<proto::Message> welcome = peer.receive();
  ASSERT_TRUE(welcome && welcome->type() == proto::Type::kWelcome);
}

TEST(Protocol, ASubmitWithABadTaskRecordIsRefusedWholeAndEachOfItsTasksAnswered) {
  TestCluster cluster;
  RawPeer peer(cluster, "raw-submitting-boss");
  ASSERT_NO_FATAL_FAILURE(say_hello(peer));

  ModuleFile testfns = ModuleFile::load(module_path("testfns"));
  msgpack::sbuffer submit;
  msgpack::packer<msgpack::sbuffer> p(submit);
  p.pack_array(3);
  p.pack_uint8(static_cast<std::uint8_t>(proto::Type::kSubmit));
  p.pack_uint32(proto::kVersion);
  p.pack_array(5);
  pack_task(p, kSession, 1, testfns.hash, "add", false);      // fine
  pack_task(p, kSession, 2, testfns.hash, "", false);         // empty function name
  pack_task(p, kSession, 3, testfns.hash, "add", true);       // a field of the wrong type
  pack_task(p, kSession + 1, 4, testfns.hash, "add", false);  // another boss's session
  p.pack(std::string("not a task record"));                   // no id to answer
  ASSERT_TRUE(peer.send(std::string(submit.data(), submit.size())));

  auto answers = receive_all(peer, 3s);
  std::map<std::uint64_t, std::string> rejected = rejections(answers);
  // Decoding stopped at record 2; every task whose id reads is answered with why.
  ASSERT_EQ(rejected.size(), 4u);
  for (const auto& [seq, why] : rejected) {
    EXPECT_NE(why.find("record 2 of 5"), std::string::npos) << seq << ": " << why;
    EXPECT_NE(why.find("empty function name"), std::string::npos) << seq << ": " << why;
  }
  ASSERT_EQ(answers.count(proto::Type::kError), 1u);
  proto::ErrorMessage error = answers.find(proto::Type::kError)->second.error();
  EXPECT_EQ(error.code, "malformed");
  EXPECT_NE(error.text.find("none of its tasks was taken"), std::string::npos) << error.text;
  EXPECT_EQ(answers.count(proto::Type::kNeedModule), 0u)
      << "a task of the refused SUBMIT was taken";
  expect_still_serving(cluster);
}

TEST(Protocol, AnUndecodablePutModuleFailsTheTasksWaitingForIt) {
  TestCluster cluster;
  RawPeer peer(cluster, "raw-uploading-boss");
  ASSERT_NO_FATAL_FAILURE(say_hello(peer));
  ModuleFile testfns = ModuleFile::load(module_path("testfns"));
  msgpack::sbuffer submit;
  msgpack::packer<msgpack::sbuffer> p(submit);
  p.pack_array(3);
  p.pack_uint8(static_cast<std::uint8_t>(proto::Type::kSubmit));
  p.pack_uint32(proto::kVersion);
  p.pack_array(1);
  pack_task(p, kSession, 1, testfns.hash, "add", false);
  ASSERT_TRUE(peer.send(std::string(submit.data(), submit.size())));
  auto asked = receive_all(peer, 2s);
  ASSERT_EQ(asked.count(proto::Type::kNeedModule), 1u);

  // A PUT_MODULE that does not decode (platform not a string) fails the task
  // waiting for that module instead of leaving it waiting for ever. It is
  // larger than a frame: it travels in CHUNKs.
  msgpack::sbuffer put;
  msgpack::packer<msgpack::sbuffer> q(put);
  q.pack_array(5);
  q.pack_uint8(static_cast<std::uint8_t>(proto::Type::kPutModule));
  q.pack_uint32(proto::kVersion);
  q.pack_bin(32);
  q.pack_bin_body(testfns.hash.raw().data(), 32);
  q.pack(42);
  q.pack_bin(static_cast<std::uint32_t>(testfns.bytes.size()));
  q.pack_bin_body(testfns.bytes.data(), static_cast<std::uint32_t>(testfns.bytes.size()));
  ASSERT_GT(put.size(), proto::kMaxFrameBytes);
  ASSERT_TRUE(peer.send(std::string(put.data(), put.size())));
  auto after_put = receive_all(peer, 3s);
  std::map<std::uint64_t, std::string> failed;
  auto [begin, end] = after_put.equal_range(proto::Type::kResult);
  for (auto it = begin; it != end; ++it)
    for (const proto::Result& r : it->second.results()) failed[r.id.seq] = r.payload;
  ASSERT_EQ(failed.count(1), 1u) << "the task waiting for the module got no answer";
  EXPECT_NE(failed[1].find("PUT_MODULE"), std::string::npos) << failed[1];
  EXPECT_EQ(after_put.count(proto::Type::kError), 1u);

  expect_still_serving(cluster);
}

}  // namespace
}  // namespace uni::test
