// EngineConfig::from_environment: the UNI_NATS_* variables.
#include "nats/store/engine_config.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace uni::nats {

namespace {

std::string variable(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

long number(const char* name, long fallback, long low, long high) {
  std::string text = variable(name);
  if (text.empty()) return fallback;
  try {
    std::size_t used = 0;
    long value = std::stol(text, &used);
    if (used == text.size() && value >= low && value <= high) return value;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(std::string(name) + "='" + text + "' is not a number from " +
                              std::to_string(low) + " to " + std::to_string(high));
}

std::string file_text(const char* name) {
  std::string path = variable(name);
  if (path.empty()) return "";
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(std::string(name) + ": cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string seed = text.str();
  while (!seed.empty() && (seed.back() == '\n' || seed.back() == '\r' || seed.back() == ' '))
    seed.pop_back();
  return seed;
}

}  // namespace

EngineConfig EngineConfig::from_environment(const std::string& address) {
  EngineConfig config;
  config.connect.address = address;
  config.connect.user = variable("UNI_NATS_USER");
  config.connect.password = variable("UNI_NATS_PASSWORD");
  config.connect.token = variable("UNI_NATS_TOKEN");
  config.connect.nkey_seed = variable("UNI_NATS_NKEY_SEED");
  if (config.connect.nkey_seed.empty())
    config.connect.nkey_seed = file_text("UNI_NATS_NKEY_SEED_FILE");
  config.connect.tls_ca_file = variable("UNI_NATS_TLS_CA");
  config.connect.tls_cert_file = variable("UNI_NATS_TLS_CERT");
  config.connect.tls_key_file = variable("UNI_NATS_TLS_KEY");
  config.replicas = static_cast<int>(number("UNI_NATS_REPLICAS", 0, 1, 5));
  config.ack_wait = std::chrono::milliseconds(number("UNI_NATS_ACK_WAIT_MS", 30000, 100, 86400000));
  config.max_deliver = static_cast<int>(number("UNI_NATS_MAX_DELIVER", 10, 2, 1000));
  std::string prefix = variable("UNI_NATS_PREFIX");
  if (!prefix.empty()) config.names = Names(prefix);
  return config;
}

}  // namespace uni::nats
