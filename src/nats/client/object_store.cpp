// ObjectStore: chunks, JSON metadata with a SHA-256 digest, rollup and purge.
#include "nats/client/object_store.hpp"

#include <sodium.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "nats/client/error.hpp"

namespace uni::nats {

namespace {

// Room left in a chunk message for its subject and headers.
constexpr std::int64_t kChunkHeadroom = 1024;

ObjectInfo info_from_json(const nlohmann::json& json) {
  ObjectInfo info;
  info.name = json.value("name", "");
  info.bucket = json.value("bucket", "");
  info.nuid = json.value("nuid", "");
  info.description = json.value("description", "");
  info.size = json.value("size", std::uint64_t{0});
  info.chunks = json.value("chunks", std::uint32_t{0});
  info.digest = json.value("digest", "");
  info.deleted = json.value("deleted", false);
  if (json.contains("options") && json["options"].is_object())
    info.chunk_size = json["options"].value("max_chunk_size", std::uint32_t{0});
  if (json.contains("headers") && json["headers"].is_object())
    for (const auto& [key, values] : json["headers"].items())
      if (values.is_array())
        for (const auto& value : values)
          if (value.is_string()) info.headers[key].push_back(value.get<std::string>());
  return info;
}

nlohmann::json info_to_json(const ObjectInfo& info) {
  nlohmann::ordered_json json;
  json["name"] = info.name;
  if (!info.description.empty()) json["description"] = info.description;
  if (!info.headers.empty()) json["headers"] = info.headers;
  json["options"] = {{"max_chunk_size", info.chunk_size}};
  json["bucket"] = info.bucket;
  json["nuid"] = info.nuid;
  json["size"] = info.size;
  // nats.go stores the zero time and reads the modification time from the
  // metadata message's own timestamp.
  json["mtime"] = "0001-01-01T00:00:00Z";
  json["chunks"] = info.chunks;
  if (!info.digest.empty()) json["digest"] = info.digest;
  if (info.deleted) json["deleted"] = true;
  return json;
}

// Metadata is published with a subject rollup: the stream keeps only the
// latest metadata message of each object.
PublishOptions rollup() {
  PublishOptions options;
  options.headers = {{"Nats-Rollup", "sub"}};
  return options;
}

class Sha256 {
 public:
  Sha256() { crypto_hash_sha256_init(&state_); }
  void update(std::string_view data) {
    crypto_hash_sha256_update(&state_, reinterpret_cast<const unsigned char*>(data.data()),
                              data.size());
  }
  std::string digest() {
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&state_, out);
    return "SHA-256=" + base64url(std::string_view(reinterpret_cast<char*>(out), sizeof out));
  }

 private:
  crypto_hash_sha256_state state_;
};

}  // namespace

std::string base64url(std::string_view data) {
  std::string out(sodium_base64_encoded_len(data.size(), sodium_base64_VARIANT_URLSAFE), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()),
                    data.size(), sodium_base64_VARIANT_URLSAFE);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string object_digest(std::string_view data) {
  Sha256 sha;
  sha.update(data);
  return sha.digest();
}

std::string new_nuid() {
  static constexpr char kDigits[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out(22, '0');
  for (char& c : out) c = kDigits[randombytes_uniform(62)];
  return out;
}

ObjectStore ObjectStore::open(JetStream& js, const ObjectStoreConfig& config) {
  for (char c : config.bucket)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
      throw std::invalid_argument("object store bucket '" + config.bucket +
                                  "' may hold only letters, digits, '_' and '-'");
  if (config.bucket.empty()) throw std::invalid_argument("object store bucket name is empty");
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
  StreamConfig stream;
  stream.name = "OBJ_" + config.bucket;
  stream.description = config.description;
  stream.subjects = {"$O." + config.bucket + ".C.>", "$O." + config.bucket + ".M.>"};
  stream.replicas = config.replicas;
  stream.max_bytes = config.max_bytes;
  stream.discard_new = true;
  stream.allow_rollup = true;
  stream.allow_direct = true;
  js.ensure_stream(stream);
  return ObjectStore(js, config.bucket);
}

std::string ObjectStore::meta_subject(const std::string& name) const {
  return "$O." + bucket_ + ".M." + base64url(name);
}

std::string ObjectStore::chunk_subject(const std::string& nuid) const {
  return "$O." + bucket_ + ".C." + nuid;
}

ObjectInfo ObjectStore::put(const std::string& name, std::string_view data,
                            const std::map<std::string, std::vector<std::string>>& headers,
                            std::uint32_t chunk_size) {
  if (name.empty()) throw std::invalid_argument("an object needs a name");
  std::optional<ObjectInfo> previous = info(name);
  std::int64_t payload_limit = js_->connection().max_payload() - kChunkHeadroom;
  if (payload_limit > 0 && chunk_size > payload_limit)
    chunk_size = static_cast<std::uint32_t>(payload_limit);
  if (chunk_size == 0) throw std::invalid_argument("object chunk size 0");

  ObjectInfo info;
  info.name = name;
  info.bucket = bucket_;
  info.nuid = new_nuid();
  info.headers = headers;
  info.chunk_size = chunk_size;
  info.size = data.size();
  std::string chunks = chunk_subject(info.nuid);
  Sha256 sha;
  try {
    for (std::size_t offset = 0; offset < data.size(); offset += chunk_size) {
      std::string_view chunk = data.substr(offset, chunk_size);
      sha.update(chunk);
      // A chunk's id makes a retry across a leader election store it once.
      PublishOptions options;
      options.msg_id = info.nuid + "." + std::to_string(info.chunks);
      js_->publish(chunks, chunk, options);
      ++info.chunks;
    }
    info.digest = sha.digest();
    js_->publish(meta_subject(name), info_to_json(info).dump(), rollup());
  } catch (...) {
    try {
      js_->purge_subject(stream_, chunks);  // leave no orphan chunks behind
    } catch (const NatsError&) {
      // The original failure is what the caller must see.
    }
    throw;
  }
  if (previous && previous->nuid != info.nuid)
    js_->purge_subject(stream_, chunk_subject(previous->nuid));
  return info;
}

std::optional<ObjectInfo> ObjectStore::info(const std::string& name) {
  std::optional<Message> message = js_->last_message(stream_, meta_subject(name));
  if (!message) return std::nullopt;
  ObjectInfo info;
  try {
    info = info_from_json(nlohmann::json::parse(message->data()));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("the metadata of object '" + name + "' in " + stream_ +
                             " is not valid JSON: " + e.what());
  }
  if (info.deleted) return std::nullopt;
  return info;
}

std::optional<std::string> ObjectStore::get(const std::string& name) {
  std::optional<ObjectInfo> meta = info(name);
  if (!meta) return std::nullopt;
  std::string out;
  out.reserve(meta->size);
  Sha256 sha;
  std::string subject = chunk_subject(meta->nuid);
  std::uint64_t seq = 1;
  for (std::uint32_t i = 0; i < meta->chunks; ++i) {
    std::optional<Message> chunk = js_->next_message(stream_, subject, seq);
    if (!chunk)
      throw std::runtime_error("object '" + name + "' in " + stream_ + " has " + std::to_string(i) +
                               " of its " + std::to_string(meta->chunks) + " chunks");
    sha.update(chunk->data());
    out += chunk->data();
    seq = chunk->sequence() + 1;
  }
  if (out.size() != meta->size)
    throw std::runtime_error("object '" + name + "' in " + stream_ + " has " +
                             std::to_string(out.size()) + " bytes, its metadata says " +
                             std::to_string(meta->size));
  if (std::string digest = sha.digest(); digest != meta->digest)
    throw std::runtime_error("object '" + name + "' in " + stream_ +
                             " does not match its digest (" + digest + ", metadata says " +
                             meta->digest + ")");
  return out;
}

bool ObjectStore::remove(const std::string& name) {
  std::optional<ObjectInfo> meta = info(name);
  if (!meta) return false;
  ObjectInfo marker = *meta;
  marker.deleted = true;
  marker.size = 0;
  marker.chunks = 0;
  marker.digest.clear();
  js_->publish(meta_subject(name), info_to_json(marker).dump(), rollup());
  js_->purge_subject(stream_, chunk_subject(meta->nuid));
  return true;
}

}  // namespace uni::nats
