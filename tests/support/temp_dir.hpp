// TempDir: a private directory under $TMPDIR (or /tmp) for one test, removed
// with everything in it when the owner goes away.
#pragma once

#include <filesystem>
#include <string>

namespace uni::test {

class TempDir {
 public:
  // `tag` ends up in the directory name, to tell leftovers apart.
  explicit TempDir(const std::string& tag = "uni-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  // Writes `content` to path()/name (creating parent directories) and returns the path.
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

// The whole content of a file; empty if it cannot be read.
std::string read_text(const std::filesystem::path& path);

}  // namespace uni::test
