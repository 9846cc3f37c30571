// Reading a task command's line (see task_call.hpp).
#include "cli/task_call.hpp"

#include <cctype>
#include <optional>

#include "cli/commands.hpp"
#include "common/json_msgpack.hpp"
#include "common/log.hpp"
#include "common/units.hpp"

namespace uni::cli {

namespace {

bool looks_like_option(const std::string& token) {
  if (token.size() < 2 || token[0] != '-') return false;
  return !(std::isdigit(static_cast<unsigned char>(token[1])) || token[1] == '.');
}

}  // namespace

std::string task_usage(const std::string& command, bool takes_args) {
  return "usage: uni " + command + " [OPTIONS] MODULE.so FN" + (takes_args ? " [ARG...]" : "");
}

TaskCall TaskCall::read(CLI::App& cmd, bool takes_args) {
  const std::string name = cmd.get_name();
  std::vector<std::string> rest = cmd.remaining();
  std::vector<std::string> positional;
  bool literal = false;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const std::string& token = rest[i];
    if (literal || !looks_like_option(token)) {
      positional.push_back(token);
      continue;
    }
    if (token == "--") {
      literal = true;
      continue;
    }
    if (token == "-h" || token == "--help") throw CLI::CallForHelp();
    std::string option_name = token;
    std::optional<std::string> value;
    if (std::size_t eq = token.find('='); token.starts_with("--") && eq != std::string::npos) {
      option_name = token.substr(0, eq);
      value = token.substr(eq + 1);
    }
    CLI::Option* option = cmd.get_option_no_throw(option_name);
    if (!option)
      throw CommandError(kExitUsage, "unknown option " + token + " (uni " + name +
                                         " --help lists them)" +
                                         (takes_args ? "; an argument that begins with - goes "
                                                       "after --, as in: uni " +
                                                           name + " MODULE FN -- " + token
                                                     : ""));
    if (option->get_expected_min() == 0) {  // a flag (--quiet): it takes no value
      if (value) throw CommandError(kExitUsage, option_name + " takes no value");
      option->clear();
      option->add_result(std::string("true"));
      option->run_callback();
      continue;
    }
    if (!value) {
      if (i + 1 == rest.size()) throw CommandError(kExitUsage, option_name + " needs a value");
      value = rest[++i];
    }
    option->clear();  // given before MODULE too: the later one counts
    option->add_result(*value);
    option->run_callback();  // converts and checks, as if CLI11 had read it
  }
  if (positional.size() < 2) throw CommandError(kExitUsage, task_usage(name, takes_args));
  if (!takes_args && positional.size() > 2)
    throw CommandError(kExitUsage, "uni " + name + " takes no ARG after FN (got " + positional[2] +
                                       "): " + task_usage(name, false) +
                                       "; each input line is a JSON array of arguments");
  TaskCall call;
  call.module = positional[0];
  call.function = positional[1];
  call.args.assign(positional.begin() + 2, positional.end());
  return call;
}

void TaskFlags::add_to(CLI::App& app) {
  app.add_option("--timeout", timeout, "run-time limit in seconds (fractions allowed)");
  app.add_option("--wait", wait, "how long the task may wait for a worker, seconds");
  app.add_option("--max-attempts", max_attempts,
                 "runs lost to crashes before giving up (1: never rerun)")
      ->capture_default_str();
}

TaskOptions task_options(const TaskFlags& flags) {
  TaskOptions options;
  if (!flags.timeout.empty()) {
    auto ms = parse_seconds(flags.timeout);
    if (!ms) throw CommandError(kExitUsage, "--timeout: not a number of seconds: " + flags.timeout);
    options.timeout = *ms;
  }
  if (!flags.wait.empty()) {
    auto ms = parse_seconds(flags.wait);
    if (!ms) throw CommandError(kExitUsage, "--wait: not a number of seconds: " + flags.wait);
    options.wait = *ms;
  }
  if (flags.max_attempts < 1 || flags.max_attempts > 255)
    throw CommandError(kExitUsage, "--max-attempts must be between 1 and 255");
  options.max_attempts = flags.max_attempts;
  log::debug("task options: timeout {} ms, wait {} ms, max attempts {}", options.timeout.count(),
             options.wait.count(), options.max_attempts);
  return options;
}

std::string pack_arguments(const std::vector<std::string>& args) {
  nlohmann::json array = nlohmann::json::array();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string which = "argument " + std::to_string(i + 1);
    try {
      array.push_back(parse_cli_argument(args[i]));
    } catch (const JsonError& e) {
      if (e.not_json())
        throw CommandError(
            kExitUsage, which + " is not valid JSON; pass strings as '\"...\"' (" + e.what() + ")");
      throw CommandError(kExitUsage, which + ": " + e.what());
    }
  }
  try {
    return json_to_msgpack(array);
  } catch (const JsonError& e) {
    throw CommandError(kExitUsage, std::string("arguments: ") + e.what());
  }
}

}  // namespace uni::cli
