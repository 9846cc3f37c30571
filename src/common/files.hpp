// Whole-file reads and crash-safe writes (temp file + rename), with errors
// that name the file.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace uni {

// Reads the whole file. Throws std::runtime_error naming the path on failure.
std::string read_file(const std::string& path);

// Writes data to path atomically: readers see the old file or the whole new one.
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);

// Creates the directory and its parents with the given mode if missing.
void make_directories(const std::string& path, mode_t mode = 0755);

}  // namespace uni
