// Compiled (not run) by the test types_char_parameters_compile: proves that functions taking
// char and std::vector<char> (plain bytes) can be exported, as uni/module.hpp promises integers.
#include <string>
#include <vector>

#include <uni/module.hpp>

int first_char(char c) { return c; }
std::size_t count_bytes(std::vector<char> bytes) { return bytes.size(); }
std::string echo_chars(std::vector<char> chars) { return std::string(chars.begin(), chars.end()); }

UNI_EXPORT(first_char);
UNI_EXPORT(count_bytes);
UNI_EXPORT(echo_chars);
