#include "userspace/commands/agent_flags.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/byte_size.h"
#include "base/duration.h"
#include "base/percentage.h"
#include "userspace/commands/usage_errors.h"

namespace gotrace {
namespace {

// A secret from a file, without its trailing newline; the error names the flag.
Result<std::string> read_secret(std::string_view flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error("{} {}: cannot read it", flag, quote(path));
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return make_error("{} {}: the file is empty", flag, quote(path));
  return secret;
}

std::string environment(const char* name) {
  const char* value = getenv(name);
  return value ? value : "";
}

}  // namespace

void AgentFlags::add_to(CLI::App& app) {
  command = app.add_subcommand(
      "agent",
      "Profile every Go process of the host continuously: each interval, one pprof profile per process (the "
      "interval's allocations, and the memory in use at its end) pushed to Pyroscope and/or written to a directory");
  command->add_option("--interval", interval, "How often each process's profile is taken (default 15s)");
  command->add_option("--push", push_url,
                      "Push each profile to this Pyroscope server (http://host:4040, https://...; its push API)");
  command->add_option("--dir", options.dir,
                      "Write each profile to DIR/SERVICE/SERVICE.PID.TIME.pb.gz (with --push too: a copy)");
  command->add_option("--dir-max-size", dir_max_size,
                      "What the files under --dir may take (default 1GiB): past it the oldest are removed");
  command->add_option("--label", labels, "A label of every series, KEY=VALUE (repeatable): env=prod");
  command->add_option("--service-name", service_rules,
                      "Name a process's service by a rule (repeatable; the first match wins): exe:GLOB=NAME, "
                      "path:GLOB=NAME or cgroup:GLOB=NAME; without, the executable's name");
  command->add_option("--cgroup", options.cgroup, "Only the Go processes of this cgroup (v2) and below it");
  command->add_option("--max-overhead", max_overhead,
                      "What tracing may cost a process, in percent of its own CPU time (default 3): past it, the "
                      "process is no longer traced, with a line on stderr");
  command->add_option("--health", options.health,
                      "Serve /metrics (Prometheus text) and /healthz on ADDR: 127.0.0.1:9464, :9464");
  command->add_option("--push-queue", push_queue,
                      "The memory profiles waiting for the server may take (default 64MiB): past it the oldest "
                      "are dropped, and counted");
  command->add_option("--tenant", push.tenant, "The Pyroscope tenant (X-Scope-OrgID)");
  command->add_option("--basic-auth", basic_auth_user,
                      "Basic auth's user name; the password from --password-file or $GOTRACE_PUSH_PASSWORD");
  command->add_option("--password-file", password_file, "The file that holds the basic auth password");
  command->add_option("--bearer-token-file", bearer_token_file,
                      "The file that holds a bearer token (or $GOTRACE_PUSH_TOKEN)");
  command->add_option("--tls-ca", push.ca_file, "Trust the server's certificate by this CA (PEM)");
  command->add_option("--tls-cert", push.client_cert, "A client certificate (PEM), with --tls-key");
  command->add_option("--tls-key", push.client_key, "The client certificate's key (PEM)");
  command->add_flag("--tls-insecure", push.tls_insecure, "Do not verify the server's certificate");
  command->add_option("--max-memory", max_memory,
                      "Bound the memory each process's distinct stacks take (default 1GiB)");
  command->add_option("-d,--duration", duration, "Stop after this long (30s, 2m, 1h); default: until SIGTERM");
  command->add_flag("--allow-unverified-go", options.trace.allow_unverified_release,
                    "Trace Go releases newer than gotrace is verified on");
  command->add_flag("-v,--verbose", options.trace.verbose, "Show libbpf's and the BPF verifier's log on stderr");
}

int AgentFlags::resolve_push() {
  if (push_url.empty()) {
    if (basic_auth_user.empty() && bearer_token_file.empty() && push.tenant.empty() && push.ca_file.empty() &&
        push.client_cert.empty() && !push.tls_insecure)
      return 0;
    std::cerr << "gotrace: error: agent: --basic-auth, --bearer-token-file, --tenant and --tls-* are for --push\n";
    return kExitUsage;
  }
  push.url = push_url;
  if (!basic_auth_user.empty()) {
    push.basic_user = basic_auth_user;
    auto password = password_file.empty() ? Result<std::string>(environment("GOTRACE_PUSH_PASSWORD"))
                                          : read_secret("--password-file", password_file);
    if (!password) return report(password.error());
    push.basic_password = *password;
  }
  if (!bearer_token_file.empty() || !environment("GOTRACE_PUSH_TOKEN").empty()) {
    auto token = bearer_token_file.empty() ? Result<std::string>(environment("GOTRACE_PUSH_TOKEN"))
                                           : read_secret("--bearer-token-file", bearer_token_file);
    if (!token) return report(token.error());
    push.bearer_token = *token;
  }
  if (!push.basic_user.empty() && !push.bearer_token.empty()) {
    std::cerr << "gotrace: error: agent: basic auth and a bearer token exclude each other\n";
    return kExitUsage;
  }
  if (Status s = check_push_target(push); !s) {
    print_error(s.error());
    return kExitUsage;
  }
  options.push = push;
  return 0;
}

int AgentFlags::run() {
  options.trace.mode = TraceOptions::Mode::kHeap;
  options.trace.guard_each_process = true;
  if (!interval.empty()) {
    auto parsed = parse_duration(interval);
    if (parsed && *parsed < std::chrono::seconds(1)) parsed = Error{"below the shortest, 1s"};
    if (!parsed) return bad_value("--interval", interval, "an interval", parsed.error());
    options.interval = *parsed;
  }
  if (!duration.empty()) {
    auto parsed = parse_duration(duration);
    if (!parsed) return bad_value("-d/--duration", duration, "a duration", parsed.error());
    options.duration = *parsed;
  }
  for (auto [flag, text, bytes] : {std::tuple{"--dir-max-size", &dir_max_size, &options.dir_max_bytes},
                                   {"--push-queue", &push_queue, &options.push_queue_bytes},
                                   {"--max-memory", &max_memory, &options.trace.max_memory}}) {
    if (text->empty()) continue;
    auto parsed = parse_byte_size(*text);
    if (!parsed) return bad_value(flag, *text, "a size", parsed.error());
    *bytes = *parsed;
  }
  if (!max_overhead.empty()) {
    auto fraction = parse_percentage(max_overhead, 100);
    if (!fraction) return bad_value("--max-overhead", max_overhead, "a percentage", fraction.error());
    options.trace.max_overhead = *fraction;
  }
  for (const std::string& text : labels) {
    auto label = parse_static_label(text);
    if (!label) {
      print_error(label.error());
      return kExitUsage;
    }
    options.labels.push_back(*label);
  }
  for (const std::string& text : service_rules) {
    auto rule = parse_service_rule(text);
    if (!rule) {
      print_error(rule.error());
      return kExitUsage;
    }
    options.service_rules.push_back(*rule);
  }
  if (int code = resolve_push(); code != 0) return code;
  if (!options.push && options.dir.empty()) {
    std::cerr << "gotrace: error: agent: say where the profiles go: --push URL, --dir DIR, or both\n";
    return kExitUsage;
  }
  auto code = run_agent(options);
  return code ? *code : report(code.error());
}

}  // namespace gotrace
