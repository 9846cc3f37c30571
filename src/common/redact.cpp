// Hiding credentials in text (see redact.hpp). A single left-to-right scan
// per line: logging is never on the hot path, but a line can be long.
#include "common/redact.hpp"

#include <cctype>

namespace uni {

namespace {

bool scheme_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
}

// Characters that end a URL's authority, or the text a URL sits in.
bool ends_authority(char c) {
  return c == '/' || c == '?' || c == '#' || c == '"' || c == '\'' || c == '<' || c == '>' ||
         std::isspace(static_cast<unsigned char>(c));
}

bool base32_upper(char c) { return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'); }

// An nkey seed: 'S', a type letter, then 56 base32 characters (58 in all),
// not inside a longer word.
constexpr std::size_t kSeedLength = 58;
bool seed_at(std::string_view text, std::size_t i) {
  if (text.size() - i < kSeedLength || text[i] != 'S') return false;
  if (i > 0 && (std::isalnum(static_cast<unsigned char>(text[i - 1])))) return false;
  std::string_view kinds = "UANOCPX";
  if (kinds.find(text[i + 1]) == std::string_view::npos) return false;
  for (std::size_t k = 2; k < kSeedLength; ++k)
    if (!base32_upper(text[i + k])) return false;
  return i + kSeedLength == text.size() ||
         !std::isalnum(static_cast<unsigned char>(text[i + kSeedLength]));
}

bool starts_with_nocase(std::string_view text, std::size_t i, std::string_view word) {
  if (text.size() - i < word.size()) return false;
  for (std::size_t k = 0; k < word.size(); ++k)
    if (std::tolower(static_cast<unsigned char>(text[i + k])) != word[k]) return false;
  return true;
}

// The end of a value that runs to the next separator.
std::size_t value_end(std::string_view text, std::size_t from) {
  std::size_t j = from;
  while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j])) && text[j] != '&' &&
         text[j] != ',' && text[j] != ';' && text[j] != '"' && text[j] != '\'')
    ++j;
  return j;
}

}  // namespace

std::string redact_secrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    // scheme://userinfo@host
    if (text.compare(i, 3, "://") == 0 && i > 0 && scheme_char(text[i - 1])) {
      std::size_t start = i + 3, j = start;
      while (j < text.size() && !ends_authority(text[j]) && text[j] != '@') ++j;
      if (j < text.size() && text[j] == '@' && j > start) {
        std::string_view userinfo = text.substr(start, j - start);
        out.append("://");
        std::size_t colon = userinfo.find(':');
        if (colon != std::string_view::npos) out.append(userinfo.substr(0, colon + 1));
        out.append(kRedacted);
        out.push_back('@');
        i = j + 1;
        continue;
      }
    }
    if (seed_at(text, i)) {
      out.append(kRedacted);
      i += kSeedLength;
      continue;
    }
    // "Bearer TOKEN", "password=X", "token=X", "secret=X"
    bool word_start = i == 0 || !std::isalnum(static_cast<unsigned char>(text[i - 1]));
    if (word_start) {
      std::size_t key_end = 0;
      // "Bearer " as HTTP writes it: uni's own sentences say "bearer token".
      if (text.compare(i, 7, "Bearer ") == 0) key_end = i + 7;
      else
        for (std::string_view key : {"password=", "token=", "secret="})
          if (starts_with_nocase(text, i, key)) {
            key_end = i + key.size();
            while (key_end < text.size() && text[key_end] == ' ') ++key_end;
            break;
          }
      if (key_end > 0 && key_end < text.size()) {
        std::size_t end = value_end(text, key_end);
        if (end > key_end) {
          out.append(text.substr(i, key_end - i));
          out.append(kRedacted);
          i = end;
          continue;
        }
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

std::string redact_url(std::string_view url) { return redact_secrets(url); }

}  // namespace uni
