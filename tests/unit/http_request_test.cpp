// The manager's HTTP request heads: read within 8 KiB and 64 headers, strict
// about the request line, tolerant of LF line ends; incomplete heads ask for
// more, oversized ones are told apart from malformed ones; query values and
// cookies read back.
#include <gtest/gtest.h>

#include "manager/http_request.hpp"

namespace uni::manager {
namespace {

TEST(HttpRequest, AHeadReadsWithItsParts) {
  HttpRequest r;
  std::string text =
      "GET /api/status?token=abc&x=1 HTTP/1.1\r\nHost: 127.0.0.1:80\r\nCookie: a=1; "
      "uni_token=t0k\r\nX-Empty:\r\n\r\nrest";
  HeadResult h = parse_request_head(text, r);
  ASSERT_EQ(h.outcome, HeadParse::kComplete) << h.error;
  EXPECT_EQ(h.head_size, text.size() - 4);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/api/status");
  EXPECT_EQ(r.query_value("token"), "abc");
  EXPECT_EQ(r.query_value("x"), "1");
  EXPECT_EQ(r.query_value("y"), "");
  EXPECT_EQ(r.minor_version, 1);
  ASSERT_NE(r.header("host"), nullptr);
  EXPECT_EQ(*r.header("host"), "127.0.0.1:80");
  EXPECT_EQ(r.cookie("uni_token"), "t0k");
  ASSERT_NE(r.header("x-empty"), nullptr);
  EXPECT_EQ(*r.header("x-empty"), "");
}

TEST(HttpRequest, LfLineEndsAndHttp10AreRead) {
  HttpRequest r;
  HeadResult h = parse_request_head("GET / HTTP/1.0\nHost: x\n\n", r);
  ASSERT_EQ(h.outcome, HeadParse::kComplete) << h.error;
  EXPECT_EQ(r.minor_version, 0);
}

TEST(HttpRequest, IncompleteOversizedAndMalformedHeadsAreToldApart) {
  HttpRequest r;
  EXPECT_EQ(parse_request_head("GET / HTTP/1.1\r\nHost: x\r\n", r).outcome, HeadParse::kIncomplete);
  std::string long_line = "GET / HTTP/1.1\r\nX: " + std::string(kMaxRequestHead, 'a');
  EXPECT_EQ(parse_request_head(long_line, r).outcome, HeadParse::kTooLarge);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 70; ++i) many += "X" + std::to_string(i) + ": 1\r\n";
  EXPECT_EQ(parse_request_head(many + "\r\n", r).outcome, HeadParse::kTooLarge);
  for (const char* bad :
       {"GET\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", "GET / HTTP/2.0\r\n\r\n",
        "GET nopath HTTP/1.1\r\n\r\n", "G@T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nno colon\r\n\r\n", "GET / HTTP/1.1\r\n folded: x\r\n\r\n", "\r\n\r\n",
        "GET /a\x01 HTTP/1.1\r\n\r\n"})
    EXPECT_EQ(parse_request_head(bad, r).outcome, HeadParse::kBad) << bad;
}

}  // namespace
}  // namespace uni::manager
