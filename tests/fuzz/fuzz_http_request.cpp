// libFuzzer target: an HTTP request head as the manager's HTTP server reads
// it (src/manager/http_request.cpp): any bytes must give a head, a request
// for more, or a refusal, within the head limit.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "manager/http_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace uni::manager;
  std::string_view buffer(reinterpret_cast<const char*>(data), size);
  HttpRequest request;
  HeadResult head = parse_request_head(buffer, request);
  if (head.outcome == HeadParse::kComplete) {
    if (head.head_size > size || head.head_size > kMaxRequestHead) std::abort();
    if (request.headers.size() > kMaxHeaders) std::abort();
    request.query_value("token");
    request.cookie("uni_token");
    request.header("host");
  }
  return 0;
}
