// Platform tags and their capabilities (see platforms.hpp).
#include "proto/platforms.hpp"

#include <cctype>

namespace uni::proto {

std::string_view platform_capability(std::string_view platform) {
  std::size_t plus = platform.rfind('+');
  if (plus == std::string_view::npos || plus + 1 >= platform.size() ||
      !std::isalpha(static_cast<unsigned char>(platform[plus + 1])))
    return {};
  return platform.substr(plus + 1);
}

std::string platform_need(std::string_view platform) {
  std::string text = "platform " + std::string(platform);
  std::string_view capability = platform_capability(platform);
  if (capability.empty()) return text;
  if (capability.starts_with("python") && capability.size() >= 8) {
    // "python311": CPython 3.11 (no '.' in a tag: it names a NATS stream).
    std::string version =
        std::string(capability.substr(6, 1)) + "." + std::string(capability.substr(7));
    return text + " (Python functions: a worker offers them when it has libpython" + version +
           " and python3-cloudpickle, and says at start-up why it does not)";
  }
  return text + " (a worker with " + std::string(capability) + ")";
}

}  // namespace uni::proto
