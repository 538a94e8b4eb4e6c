// `gotrace agent`'s command line: its flags, their words in --help, and
// what each becomes in AgentOptions.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "userspace/commands/agent_command.h"

namespace gotrace {

struct AgentFlags {
  AgentOptions options;
  CLI::App* command = nullptr;

  void add_to(CLI::App& app);
  // Resolves the flags and runs the agent; the exit code.
  int run();

 private:
  std::string interval, duration, dir_max_size, push_queue, max_overhead, max_memory, push_url;
  std::vector<std::string> labels, service_rules;
  std::string basic_auth_user, password_file, bearer_token_file;
  PushTarget push;
  int resolve_push();
};

}  // namespace gotrace
