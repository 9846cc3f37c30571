// The hand-written NATS object store on a real nats-server: a module larger
// than the max payload round-trips in chunks; the metadata is what nats.go
// writes and reads (stream, subjects, JSON fields, SHA-256 digest, rollup);
// a damaged chunk fails the digest check with a message saying so; a
// replaced object leaves no old chunks; the module store checks the module
// hash and uploads a module once.
#include <gtest/gtest.h>
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "nats/client/object_store.hpp"
#include "nats/store/module_store.hpp"
#include "nats_server.hpp"

namespace uni::nats {
namespace {

using namespace std::chrono_literals;

std::string random_bytes(std::size_t size) {
  std::string out(size, '\0');
  randombytes_buf(out.data(), out.size());
  return out;
}

struct Fixture {
  // A small max payload, so a modest module needs many chunks.
  test::NatsCluster nats{1, {.max_payload = 64 * 1024}};
  Connection connection = Connection::connect({.address = nats.address()});
  JetStream js{connection};
};

TEST(ObjectStore, AnObjectOverTheMaxPayloadRoundTripsInChunks) {
  Fixture f;
  ASSERT_EQ(f.connection.max_payload(), 64 * 1024);
  ObjectStore store = ObjectStore::open(f.js, {.bucket = "things"});
  std::string data = random_bytes(300 * 1024 + 17);
  ObjectInfo put = store.put("big.so", data);
  EXPECT_EQ(put.size, data.size());
  EXPECT_EQ(put.chunks, 5u);  // chunks capped at 63 KiB by the 64 KiB payload
  EXPECT_EQ(put.chunk_size, 63u * 1024);
  std::optional<std::string> got = store.get("big.so");
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == data);
  EXPECT_FALSE(store.get("absent"));
  std::optional<ObjectInfo> empty = std::nullopt;
  EXPECT_TRUE(store.put("empty", "").chunks == 0u);
  EXPECT_EQ(store.get("empty"), std::string());
}

TEST(ObjectStore, WritesTheNatsObjectStoreFormat) {
  Fixture f;
  ObjectStore store = ObjectStore::open(f.js, {.bucket = "fmt"});
  std::string data = "hello object store";
  ObjectInfo put = store.put("a/b c", data, {{"Uni-Platform", {"p1"}}});
  // The stream and subjects nats.go uses.
  std::optional<StreamState> stream = f.js.stream_state("OBJ_fmt");
  ASSERT_TRUE(stream);
  std::string meta_subject = "$O.fmt.M." + base64url("a/b c");
  EXPECT_EQ(meta_subject, "$O.fmt.M.YS9iIGM=");  // Go's base64.URLEncoding, padded
  std::optional<Message> meta = f.js.last_message("OBJ_fmt", meta_subject);
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->header("Nats-Rollup"), "sub");
  nlohmann::json json = nlohmann::json::parse(meta->data());
  EXPECT_EQ(json["name"], "a/b c");
  EXPECT_EQ(json["bucket"], "fmt");
  EXPECT_EQ(json["nuid"], put.nuid);
  EXPECT_EQ(json["size"], data.size());
  EXPECT_EQ(json["chunks"], 1);
  EXPECT_EQ(json["options"]["max_chunk_size"], 128 * 1024 > 63 * 1024 ? 63 * 1024 : 128 * 1024);
  EXPECT_EQ(json["headers"]["Uni-Platform"][0], "p1");
  // The digest: "SHA-256=" and base64url of the SHA-256 of the content.
  unsigned char sha[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(sha, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  EXPECT_EQ(json["digest"],
            "SHA-256=" + base64url(std::string(reinterpret_cast<char*>(sha), sizeof sha)));
  std::optional<Message> chunk = f.js.last_message("OBJ_fmt", "$O.fmt.C." + put.nuid);
  ASSERT_TRUE(chunk);
  EXPECT_EQ(chunk->data(), data);
}

TEST(ObjectStore, ADamagedChunkFailsTheDigestCheck) {
  Fixture f;
  ObjectStore store = ObjectStore::open(f.js, {.bucket = "dmg"});
  std::string data = random_bytes(100 * 1024);
  ObjectInfo put = store.put("m", data);
  ASSERT_EQ(put.chunks, 2u);
  // Replace the second chunk with other bytes of the same size: size and
  // chunk count still match, only the digest can tell.
  std::string subject = store.chunk_subject(put.nuid);
  std::optional<Message> second = f.js.next_message(store.stream(), subject, 1);
  ASSERT_TRUE(second);
  second = f.js.next_message(store.stream(), subject, second->sequence() + 1);
  ASSERT_TRUE(second);
  std::string damaged(second->data());
  damaged[100] ^= 1;
  f.js.delete_message(store.stream(), second->sequence());
  f.js.publish(subject, damaged);
  try {
    store.get("m");
    ADD_FAILURE() << "a damaged object was returned";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match its digest"), std::string::npos)
        << e.what();
  }
  // A lost chunk is reported as such.
  f.js.purge_subject(store.stream(), subject);
  try {
    store.get("m");
    ADD_FAILURE() << "an object without chunks was returned";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("has 0 of its 2 chunks"), std::string::npos) << e.what();
  }
}

TEST(ObjectStore, ReplacingAndRemovingLeaveNoChunksBehind) {
  Fixture f;
  ObjectStore store = ObjectStore::open(f.js, {.bucket = "rep"});
  ObjectInfo first = store.put("x", random_bytes(200 * 1024));
  ObjectInfo second = store.put("x", "short");
  EXPECT_NE(first.nuid, second.nuid);
  EXPECT_EQ(store.get("x"), "short");
  EXPECT_FALSE(f.js.last_message(store.stream(), store.chunk_subject(first.nuid)));
  // Only the latest metadata message is kept (rollup), plus the one chunk.
  EXPECT_EQ(f.js.stream_state(store.stream())->messages, 2u);
  EXPECT_TRUE(store.remove("x"));
  EXPECT_FALSE(store.info("x"));
  EXPECT_FALSE(store.get("x"));
  EXPECT_FALSE(store.remove("x"));
  EXPECT_EQ(f.js.stream_state(store.stream())->messages, 1u);  // the deletion marker
}

TEST(ModuleStore, StoresAModuleOnceByItsHashAndChecksIt) {
  Fixture f;
  ModuleStore modules = ModuleStore::open(f.js, Names());
  std::string bytes = random_bytes(200 * 1024);
  ModuleHash hash = ModuleHash::of(bytes);
  EXPECT_FALSE(modules.contains(hash));
  EXPECT_TRUE(modules.put(hash, "x86_64-linux-libstdc++-cxx11", bytes));
  EXPECT_FALSE(modules.put(hash, "x86_64-linux-libstdc++-cxx11", bytes));  // there already
  EXPECT_TRUE(modules.contains(hash));
  EXPECT_EQ(modules.platform(hash), "x86_64-linux-libstdc++-cxx11");
  std::optional<std::string> got = modules.get(hash);
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == bytes);
  EXPECT_THROW(modules.put(ModuleHash::of("other"), "p", bytes), std::invalid_argument);
  // Bytes stored under a name that is not their hash are refused on the way out.
  ModuleHash wrong = ModuleHash::of("wrong");
  modules.objects().put(wrong.hex(), bytes);
  try {
    modules.get(wrong);
    ADD_FAILURE() << "a module that does not hash to its name was returned";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("hashes to " + hash.hex()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace uni::nats
