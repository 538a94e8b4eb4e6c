#include "userspace/explain/go_command.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "base/fd.h"

extern char** environ;

namespace gotrace {
namespace {

// Kept of the go command's output: far more than any first error needs.
constexpr size_t kMaxOutput = 4 << 20;

std::optional<std::string> find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? std::optional(name) : std::nullopt;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "";
  while (true) {
    size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    dirs.remove_prefix(colon + 1);
  }
}

std::vector<std::string> child_environment(const GoCommandRun& run) {
  std::map<std::string, std::string> variables;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    size_t equals = text.find('=');
    if (equals != std::string_view::npos) variables[std::string(text.substr(0, equals))] = text.substr(equals + 1);
  }
  for (const auto& [name, value] : run.environment) {
    if (value) variables[name] = *value;
    else variables.erase(name);
  }
  std::vector<std::string> out;
  for (const auto& [name, value] : variables) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& text : strings) out.push_back(text.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<GoCommandOutput> run_go(const std::string& go_command, const GoCommandRun& run) {
  auto path = find_executable(go_command);
  if (!path) {
    bool named_by_path = go_command.find('/') != std::string::npos;
    return make_error("no '{}' command {}", go_command, named_by_path ? "there" : "on PATH");
  }
  std::vector<std::string> argv{*path};
  argv.insert(argv.end(), run.arguments.begin(), run.arguments.end());
  std::vector<std::string> env = child_environment(run);
  // Built before the fork: the child may only make async-signal-safe calls.
  std::vector<char*> argv_pointers = pointers(argv), env_pointers = pointers(env);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return make_error("cannot create a pipe: {}", std::strerror(errno));
  Fd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  pid_t pid = fork();
  if (pid < 0) return make_error("cannot fork: {}", std::strerror(errno));
  if (pid == 0) {
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(write_end.get(), 1) < 0 || dup2(write_end.get(), 2) < 0 ||
        chdir(run.directory.c_str()) != 0)
      _exit(126);
    execve(argv_pointers[0], argv_pointers.data(), env_pointers.data());
    _exit(127);
  }
  write_end.reset();
  GoCommandOutput result;
  char buffer[65536];
  while (true) {
    ssize_t n = read(read_end.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t keep = std::min(static_cast<size_t>(n), kMaxOutput - std::min(kMaxOutput, result.output.size()));
    result.output.append(buffer, keep);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (result.exit_code == 126) return make_error("cannot run '{}' in '{}'", *path, run.directory);
  if (result.exit_code == 127 && result.output.empty()) return make_error("cannot run '{}'", *path);
  return result;
}

std::string first_error_line(const std::string& output) {
  std::string_view rest = output;
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    // The package a go build's messages are about, and its progress lines.
    if (line.empty() || line.starts_with("# ") || line.starts_with("go: downloading ")) continue;
    return std::string(line);
  }
  return "no output";
}

}  // namespace gotrace
