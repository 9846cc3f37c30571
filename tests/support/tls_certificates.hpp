// Test certificates made by `openssl` at test time (nothing secret is
// committed): a CA, a server certificate for 127.0.0.1 and localhost signed by
// it, and a client certificate for mutual TLS, as PEM files in a directory.
#pragma once

#include <filesystem>
#include <string>

namespace uni::test {

struct TestCertificates {
  std::string ca_cert, ca_key;
  std::string server_cert, server_key;
  std::string client_cert, client_key;

  // Writes them into `dir`. Throws std::runtime_error with openssl's output on failure.
  static TestCertificates make(const std::filesystem::path& dir);
};

}  // namespace uni::test
