// The series a process's profiles go to: the service it is, and the few
// labels that tell its processes apart.
//
// A profiling backend keeps one series per distinct set of labels, and its
// cost grows with their number: the labels here are a process's and the
// host's only (service_name, pid, hostname, container, go_version, and the
// user's static --label pairs). What varies within a process (the allocated
// type, the allocation kind) stays inside the profile.
//
// The service is the executable's name unless a rule (--service-name)
// names it: `exe:GLOB=NAME`, `path:GLOB=NAME` or `cgroup:GLOB=NAME`, the
// first rule whose glob (fnmatch) matches the executable's name, its path,
// or its cgroup. `cgroup:*/orders.service=orders` names a systemd unit's
// processes; `exe:*=NAME` names them all.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace gotrace {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct ServiceRule {
  enum class Field { kExe, kPath, kCgroup };
  Field field = Field::kExe;
  std::string glob;
  std::string name;
};

// "exe:GLOB=NAME", "path:GLOB=NAME" or "cgroup:GLOB=NAME"; the error names --service-name.
Result<ServiceRule> parse_service_rule(std::string_view text);
// "KEY=VALUE" with KEY a label name ([a-zA-Z_][a-zA-Z0-9_]*, not one of the
// agent's own nor starting with "__"); the error names --label.
Result<std::pair<std::string, std::string>> parse_static_label(std::string_view text);

// Who a process is, as its labels say.
struct ProcessFacts {
  int pid = 0;
  std::string exe;        // the executable's base name
  std::string path;       // the executable, as the process sees it
  std::string container;  // its cgroup; "" for none
  std::string go_version;
};

class SeriesLabeler {
 public:
  SeriesLabeler(std::vector<ServiceRule> rules, Labels static_labels, std::string hostname)
      : rules_(std::move(rules)), static_labels_(std::move(static_labels)), hostname_(std::move(hostname)) {}

  std::string service_of(const ProcessFacts& process) const;
  // service_name first, then pid, hostname, container (when there is one),
  // go_version, and the static labels.
  Labels labels_of(const ProcessFacts& process) const;

 private:
  std::vector<ServiceRule> rules_;
  Labels static_labels_;
  std::string hostname_;
};

}  // namespace gotrace
