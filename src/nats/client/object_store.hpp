// A NATS object store written by hand in its wire format, since nats.c 3.4.1
// has no object-store API; nats.go and the `nats` CLI read and write the same
// objects (format of nats.go object.go): stream OBJ_<bucket> with subjects
// $O.<bucket>.C.> (chunks) and $O.<bucket>.M.> (metadata); an object is its
// chunks on $O.<bucket>.C.<nuid> and one JSON metadata message on
// $O.<bucket>.M.<base64url(name)>, published with "Nats-Rollup: sub" so only
// the latest is kept, holding size, chunk count and "SHA-256=<base64url>".
// Objects above the server's max payload are what chunks are for.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nats/client/jetstream.hpp"

namespace uni::nats {

struct ObjectStoreConfig {
  std::string bucket;  // letters, digits, '_' and '-'
  std::string description;
  int replicas = 1;
  std::int64_t max_bytes = -1;
};

struct ObjectInfo {
  std::string name, bucket, nuid, description;
  std::map<std::string, std::vector<std::string>> headers;
  std::uint64_t size = 0;
  std::uint32_t chunks = 0;
  std::uint32_t chunk_size = 0;
  std::string digest;  // "SHA-256=<base64url of the SHA-256 of the content>"
  bool deleted = false;
};

class ObjectStore {
 public:
  // Creates the bucket's stream as nats.go would, or binds to it.
  static ObjectStore open(JetStream& js, const ObjectStoreConfig& config);
  // A handle on the bucket, with no request (its stream made by open()).
  static ObjectStore bind(JetStream& js, const std::string& bucket) {
    return ObjectStore(js, bucket);
  }

  // Stores `data` under `name`, replacing an earlier object of that name
  // (whose chunks are purged after the new metadata is stored). Chunks are
  // `chunk_size` bytes (nats.go's default 128 KiB), capped below the
  // server's max payload. Throws NatsError; a failed put leaves no chunks.
  ObjectInfo put(const std::string& name, std::string_view data,
                 const std::map<std::string, std::vector<std::string>>& headers = {},
                 std::uint32_t chunk_size = 128 * 1024);
  // The metadata of a present object; nullopt if absent or deleted.
  std::optional<ObjectInfo> info(const std::string& name);
  // The content, checked against the stored size and SHA-256 digest;
  // nullopt if absent. Throws std::runtime_error if the chunks do not match
  // the metadata (corrupted or partly lost), saying which check failed.
  std::optional<std::string> get(const std::string& name);
  // Marks the object deleted (rollup) and purges its chunks; false if absent.
  bool remove(const std::string& name);

  const std::string& bucket() const { return bucket_; }
  const std::string& stream() const { return stream_; }
  std::string meta_subject(const std::string& name) const;
  std::string chunk_subject(const std::string& nuid) const;

 private:
  ObjectStore(JetStream& js, std::string bucket)
      : js_(&js), bucket_(bucket), stream_("OBJ_" + bucket) {}
  JetStream* js_;
  std::string bucket_, stream_;
};

// Helpers of the format, exposed for tests.
std::string object_digest(std::string_view data);  // "SHA-256=" + base64url(sha256)
std::string base64url(std::string_view data);      // with '=' padding, as Go's URLEncoding
std::string new_nuid();                            // 22 random base62 characters

}  // namespace uni::nats
