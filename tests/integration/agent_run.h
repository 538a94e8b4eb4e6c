// What the tests of `gotrace agent` share: services to profile (the allocs
// fixture's leak mode, under names of their own, as two services would
// be), the agent running beside them, its health endpoint's figures, and the
// profiles it left under --dir, summed by site.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/background_gotrace.h"
#include "tests/support/child_process.h"

namespace gotrace::testing {

// The allocs fixture copied into `dir` as `name` and started in `mode`, by
// default leak: 60 MiB a second allocated at two sites, 20 kept, with the
// runtime's default MemProfileRate, until its stdin closes (steady:
// allocation flat out, every one sampled, MemProfileRate 1).
class AllocsService {
 public:
  AllocsService(const std::string& dir, const std::string& name, const std::string& mode = "leak");
  const std::string& name() const { return name_; }
  pid_t pid() const { return process_->pid(); }
  // Closes its stdin; its exit status (0: tracing did not harm it).
  int end();

 private:
  std::string name_;
  std::unique_ptr<ChildProcess> process_;
};

// Waits up to `timeout` for `ready` to hold, checking every 100 ms.
bool wait_for(const std::function<bool()>& ready, std::chrono::milliseconds timeout);

// The agent's figures, as its /metrics says them: "name{labels}" → value.
using Metrics = std::map<std::string, double>;
// The port the agent's line "metrics at http://127.0.0.1:PORT/metrics" names, or 0.
int health_port(const BackgroundGotrace& agent);
Metrics read_metrics(int port);
// A metric's value, or -1 when the endpoint does not give it.
double metric(const Metrics& metrics, const std::string& name);

// The agent's profiles of one service under --dir, oldest first.
std::vector<std::string> profile_files(const std::string& dir, const std::string& service);

// One sample type's figures by call site: the first frame of each stack
// that is not a type's ("[main.Order]"). Of a gotrace profile file, or of
// the bytes Pyroscope answered with (not gzipped); summed over several.
using SiteFigures = std::map<std::string, int64_t>;
SiteFigures sites_of_bytes(const std::string& bytes, const std::string& sample_type);
SiteFigures sites_of_files(const std::vector<std::string>& profiles, const std::string& sample_type);

}  // namespace gotrace::testing
