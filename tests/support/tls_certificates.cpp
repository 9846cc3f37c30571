// TestCertificates: a few `openssl` commands, run as real child processes.
#include "tls_certificates.hpp"

#include <fstream>
#include <stdexcept>
#include <vector>

#include "child_process.hpp"

namespace uni::test {

namespace {

void openssl(const std::filesystem::path& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "/usr/bin/openssl");
  ChildProcess child = ChildProcess::start({.argv = args, .output_dir = dir, .name = "openssl"});
  std::optional<ExitStatus> status = child.wait_for(std::chrono::seconds(60));
  if (!status || status->signaled || status->code != 0) {
    std::string command;
    for (const std::string& arg : args) command += arg + " ";
    throw std::runtime_error("openssl failed (" + describe(status) + "): " + command + "\n" +
                             child.read_stderr());
  }
}

}  // namespace

TestCertificates TestCertificates::make(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  auto path = [&](const char* name) { return (dir / name).string(); };
  TestCertificates out{path("ca.pem"),         path("ca-key.pem"), path("server.pem"),
                       path("server-key.pem"), path("client.pem"), path("client-key.pem")};
  // EC P-256 keys: quick to make, accepted by nats-server and OpenSSL 3.
  const std::vector<std::string> ec_key = {"-newkey", "ec", "-pkeyopt",
                                           "ec_paramgen_curve:prime256v1", "-nodes"};
  std::vector<std::string> ca = {"req",   "-x509",           "-days",   "2",
                                 "-subj", "/CN=uni test CA", "-keyout", out.ca_key,
                                 "-out",  out.ca_cert};
  ca.insert(ca.begin() + 2, ec_key.begin(), ec_key.end());
  openssl(dir, ca);

  auto leaf = [&](const std::string& cn, const std::string& cert, const std::string& key,
                  const std::string& extensions) {
    std::string csr = cert + ".csr";
    std::vector<std::string> request = {"req", "-subj", "/CN=" + cn, "-keyout", key, "-out", csr};
    request.insert(request.begin() + 1, ec_key.begin(), ec_key.end());
    request.insert(request.begin() + 1, "-new");
    openssl(dir, request);
    std::string ext_file = cert + ".ext";
    std::ofstream(ext_file) << extensions;
    openssl(dir, {"x509", "-req", "-in", csr, "-CA", out.ca_cert, "-CAkey", out.ca_key,
                  "-CAcreateserial", "-days", "2", "-extfile", ext_file, "-out", cert});
  };
  leaf("127.0.0.1", out.server_cert, out.server_key,
       "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  leaf("uni test client", out.client_cert, out.client_key, "extendedKeyUsage=clientAuth\n");
  return out;
}

}  // namespace uni::test
