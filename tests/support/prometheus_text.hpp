// A strict reader of the Prometheus text exposition format (version 0.0.4),
// for tests of the manager's /metrics: it throws std::runtime_error naming
// the line for anything a Prometheus server would reject or misread (bad
// names or labels, samples before their TYPE, a family declared twice,
// histogram buckets that are not cumulative or lack +Inf, _count != +Inf).
#pragma once

#include <cmath>
#include <map>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace uni::test {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromFamily {
  std::string name, help, type;
  std::vector<PromSample> samples;
  // The value of the sample with this name and no labels; throws if none.
  double value(const std::string& sample_name = "") const {
    for (const PromSample& s : samples)
      if (s.name == (sample_name.empty() ? name : sample_name) && s.labels.empty()) return s.value;
    throw std::runtime_error("no sample " + (sample_name.empty() ? name : sample_name));
  }
};

inline std::map<std::string, PromFamily> parse_prometheus_text(const std::string& text) {
  static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex kLabel("[a-zA-Z_][a-zA-Z0-9_]*");
  std::map<std::string, PromFamily> families;
  std::map<std::string, std::string> family_of_sample;
  auto fail = [](std::size_t n, const std::string& line, const std::string& why) {
    throw std::runtime_error("line " + std::to_string(n) + " (" + line + "): " + why);
  };
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("text does not end in \\n");
  std::size_t n = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++n;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::smatch m;
      static const std::regex kMeta("# (HELP|TYPE) (\\S+) (.*)");
      if (!std::regex_match(line, m, kMeta)) continue;  // a plain comment
      std::string name = m[2];
      if (!std::regex_match(name, kName)) fail(n, line, "bad metric name");
      PromFamily& f = families[name];
      f.name = name;
      if (m[1] == "HELP") {
        if (!f.help.empty()) fail(n, line, "second HELP");
        f.help = m[3];
        if (f.help.empty()) fail(n, line, "empty HELP");
      } else {
        if (!f.type.empty()) fail(n, line, "second TYPE");
        if (!f.samples.empty()) fail(n, line, "TYPE after samples");
        static const std::regex kType("counter|gauge|histogram|summary|untyped");
        if (!std::regex_match(m[3].str(), kType)) fail(n, line, "unknown type " + m[3].str());
        f.type = m[3];
        std::vector<std::string> names = {name};
        if (f.type == "histogram") names = {name + "_bucket", name + "_sum", name + "_count"};
        for (const std::string& s : names) {
          if (family_of_sample.count(s)) fail(n, line, "sample name " + s + " already declared");
          family_of_sample[s] = name;
        }
      }
      continue;
    }
    // name{label="value",...} value
    PromSample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!std::regex_match(s.name, kName)) fail(n, line, "bad sample name");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::size_t eq = line.find('=', i);
        if (eq == std::string::npos) fail(n, line, "label without =");
        std::string label = line.substr(i, eq - i);
        if (!std::regex_match(label, kLabel)) fail(n, line, "bad label name");
        if (eq + 1 >= line.size() || line[eq + 1] != '"') fail(n, line, "unquoted label value");
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            if (++j >= line.size()) fail(n, line, "bad escape");
            char c = line[j];
            if (c == 'n') value += '\n';
            else if (c == '\\' || c == '"') value += c;
            else fail(n, line, "bad escape");
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) fail(n, line, "unterminated label value");
        s.labels[label] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) fail(n, line, "unterminated labels");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') fail(n, line, "no value");
    std::string value = line.substr(i + 1);
    if (value.find(' ') != std::string::npos) value = value.substr(0, value.find(' '));
    if (value == "+Inf") s.value = INFINITY;
    else if (value == "-Inf") s.value = -INFINITY;
    else if (value == "NaN") s.value = NAN;
    else {
      std::size_t used = 0;
      try {
        s.value = std::stod(value, &used);
      } catch (const std::exception&) {
        fail(n, line, "bad value");
      }
      if (used != value.size()) fail(n, line, "bad value");
    }
    auto owner = family_of_sample.find(s.name);
    if (owner == family_of_sample.end()) fail(n, line, "sample before its TYPE");
    families[owner->second].samples.push_back(std::move(s));
  }
  for (auto& [name, f] : families) {
    if (f.type.empty()) throw std::runtime_error(name + ": no TYPE");
    if (f.help.empty()) throw std::runtime_error(name + ": no HELP");
    if (f.type != "histogram") continue;
    double last = 0;
    bool inf = false;
    double inf_count = 0;
    for (const PromSample& s : f.samples) {
      if (s.name != name + "_bucket") continue;
      if (!s.labels.count("le")) throw std::runtime_error(name + ": bucket without le");
      if (s.value < last) throw std::runtime_error(name + ": buckets not cumulative");
      last = s.value;
      if (s.labels.at("le") == "+Inf") {
        inf = true;
        inf_count = s.value;
      }
    }
    if (!inf) throw std::runtime_error(name + ": no +Inf bucket");
    if (f.value(name + "_count") != inf_count)
      throw std::runtime_error(name + ": _count differs from the +Inf bucket");
  }
  return families;
}

}  // namespace uni::test
