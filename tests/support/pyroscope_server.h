// A real Grafana Pyroscope server on loopback for the tests of
// `gotrace agent --push`: started from the binary scripts/pyroscope-server.sh
// builds (pinned, cached), in a data directory of the test's, on free ports,
// all in one process; killed, stopped or restarted on the same ports and
// data; and queried back through the same connect API Grafana uses, so that
// a test checks what a user of Pyroscope would see.
//
// What survives: the server keeps what it ingests in an in-memory head block
// that it writes out as a block on a graceful stop (SIGTERM, stop()) and
// otherwise once an hour; kill() (SIGKILL) loses what was pushed since.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace gotrace::testing {

// The server binary: $GOTRACE_PYROSCOPE when set, else the one
// `scripts/pyroscope-server.sh path` names in the source tree. An error that
// says to run scripts/setup.sh when it is not built.
Result<std::string> pyroscope_binary();

// One series of the server: its labels, the server's own (__name__,
// __profile_type__, service_name, ...) with the pushed ones.
using PyroscopeLabels = std::map<std::string, std::string>;

class PyroscopeServer {
 public:
  PyroscopeServer() = default;
  ~PyroscopeServer();  // kills it
  PyroscopeServer(const PyroscopeServer&) = delete;
  PyroscopeServer& operator=(const PyroscopeServer&) = delete;

  // Starts the server with its data and its log (pyroscope.log) in
  // `data_dir`, on free loopback ports, and waits until it is ready (up to
  // `timeout`); the error has the end of its log.
  Status start(const std::string& data_dir, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // "http://127.0.0.1:PORT"; valid once started, and across restarts.
  std::string url() const;
  pid_t pid() const { return pid_; }
  std::string log_path() const { return data_dir_ + "/pyroscope.log"; }
  std::string log_tail(size_t lines = 30) const;

  // SIGKILL, and waits for it to go: what is in its head block is lost.
  void kill();
  // SIGTERM, and waits for it to write its head block and exit (up to
  // `timeout`, then kills it and fails).
  Status stop(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Starts it again (after kill() or stop(), or kills it first) on the same
  // ports and data directory, and waits until it is ready.
  Status restart(std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Pushes one gzipped pprof profile with these series labels, as an agent
  // would: POST /push.v1.PusherService/Push, JSON.
  Status push(const PyroscopeLabels& labels, const std::string& gzipped_pprof) const;

  // The series whose labels match `matchers` (each a selector such as
  // `{service_name="orders"}`) with data between the two times (Unix ms).
  Result<std::vector<PyroscopeLabels>> series(const std::vector<std::string>& matchers, int64_t from_ms,
                                              int64_t until_ms) const;
  // The profile of one type (e.g. "memory:alloc_objects:count:space:bytes")
  // merged over the series `label_selector` selects, as the server's pprof
  // google.v1.Profile message (not gzipped).
  Result<std::string> select_merge_profile(const std::string& profile_type_id, const std::string& label_selector,
                                           int64_t from_ms, int64_t until_ms) const;
  // The ids of the profile types it has data of between the two times.
  Result<std::vector<std::string>> profile_types(int64_t from_ms, int64_t until_ms) const;

 private:
  Status launch(std::chrono::milliseconds timeout);
  Status wait_ready(std::chrono::milliseconds timeout);
  Result<std::string> call(const std::string& method, const std::string& content_type, const std::string& body) const;

  std::string binary_;
  std::string data_dir_;
  int http_port_ = 0, grpc_port_ = 0, memberlist_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace gotrace::testing
