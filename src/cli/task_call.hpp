// The command line of every task command (run, map, spawn, submit): options
// anywhere before `--`, then MODULE.so FN and, for those that take them, ARGs
// that are each one JSON value. One parser, so that the commands agree.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "uni/uni.hpp"

namespace uni::cli {

// MODULE FN [ARG...] and the options placed among them. The command is a
// CLI11 prefix_command: CLI11 reads the options before MODULE and leaves
// the rest untouched (its positionals would split a JSON argument such as
// [1,2] at the comma). read() takes the rest: an option of the command
// anywhere before `--` is taken as that option, something else that begins
// with `-` is refused (never taken for the module path), and after `--`
// everything is an argument. Negative numbers (-7, -2.5) are arguments.
struct TaskCall {
  std::string module;
  std::string function;
  std::vector<std::string> args;

  // Throws CommandError (exit 2) on a bad command line; `takes_args` false
  // refuses any ARG (uni map reads its arguments from --input).
  static TaskCall read(CLI::App& cmd, bool takes_args = true);
};

// The usage line of a task command.
std::string task_usage(const std::string& command, bool takes_args = true);

// --timeout, --wait and --max-attempts, checked: CommandError (exit 2).
TaskOptions task_options(const TaskFlags& flags);

// The arguments as the wire's msgpack array. Each is JSON; a bare word
// (hello) is taken as a string, but text that begins as JSON does ([1,2,
// 3x, "ab) and is not valid JSON is an error, as is JSON the wire cannot
// carry: CommandError (exit 2) naming the argument.
std::string pack_arguments(const std::vector<std::string>& args);

}  // namespace uni::cli
