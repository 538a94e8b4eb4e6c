#include "tests/support/pyroscope_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "userspace/agent/pyroscope_push.h"

namespace gotrace::testing {
namespace {

using Json = nlohmann::json;

// Everything on 127.0.0.1: without the ring addresses the server advertises
// (and dials) the machine's first non-loopback address and is never ready.
// No pushes of its own profiles, no usage reports, and ready as soon as the
// ingester has joined its ring of one.
std::vector<std::string> server_args(const std::string& binary, const std::string& data_dir, int http_port,
                                     int grpc_port, int memberlist_port) {
  const std::string a = "127.0.0.1";
  return {binary,
          "-server.http-listen-address=" + a,
          "-server.http-listen-port=" + std::to_string(http_port),
          "-server.grpc-listen-address=" + a,
          "-server.grpc-listen-port=" + std::to_string(grpc_port),
          "-memberlist.bind-addr=" + a,
          "-memberlist.bind-port=" + std::to_string(memberlist_port),
          "-memberlist.advertise-addr=" + a,
          "-memberlist.advertise-port=" + std::to_string(memberlist_port),
          "-compactor.ring.instance-addr=" + a,
          "-distributor.ring.instance-addr=" + a,
          "-ingester.lifecycler.addr=" + a,
          "-overrides-exporter.ring.instance-addr=" + a,
          "-query-frontend.instance-addr=" + a,
          "-query-scheduler.ring.instance-addr=" + a,
          "-store-gateway.sharding-ring.instance-addr=" + a,
          "-self-profiling.disable-push",
          "-usage-stats.enabled=false",
          "-ingester.min-ready-duration=0s",
          "-pyroscopedb.data-path=" + data_dir + "/pyroscopedb",
          "-storage.backend=filesystem",
          "-storage.filesystem.dir=" + data_dir + "/blocks"};
}

// Protobuf wire format, for the one binary request (SelectMergeProfile).
void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out += char(uint8_t(value) | 0x80);
    value >>= 7;
  }
  out += char(value);
}
void put_string_field(std::string& out, int field, const std::string& value) {
  put_varint(out, uint64_t(field) << 3 | 2);
  put_varint(out, value.size());
  out += value;
}
void put_int64_field(std::string& out, int field, int64_t value) {
  put_varint(out, uint64_t(field) << 3);
  put_varint(out, uint64_t(value));
}

std::string random_uuid() {
  static std::mt19937_64 random{std::random_device{}()};
  uint64_t high = random(), low = random();
  high = (high & ~0xf000ULL) | 0x4000ULL;              // version 4
  low = (low & ~(3ULL << 62)) | (2ULL << 62);           // RFC 4122 variant
  char text[37];
  snprintf(text, sizeof(text), "%08x-%04x-%04x-%04x-%012llx", unsigned(high >> 32), unsigned(high >> 16) & 0xffff,
           unsigned(high) & 0xffff, unsigned(low >> 48), static_cast<unsigned long long>(low & 0xffffffffffffULL));
  return text;
}

}  // namespace

Result<std::string> pyroscope_binary() {
  if (const char* path = std::getenv("GOTRACE_PYROSCOPE"); path != nullptr && *path != '\0') {
    if (access(path, X_OK) != 0) return make_error("GOTRACE_PYROSCOPE '{}': not an executable", path);
    return std::string(path);
  }
  std::string script = std::string(GOTRACE_TEST_SOURCE_DIR) + "/scripts/pyroscope-server.sh";
  CommandResult result = run_command({script, "path"});
  std::string path = result.out.substr(0, result.out.find('\n'));
  if (result.exit_code != 0 || path.empty()) {
    std::string reason = result.err.substr(0, result.err.find('\n'));
    if (reason.starts_with("pyroscope-server: error: ")) reason.erase(0, sizeof("pyroscope-server: error: ") - 1);
    if (reason.empty()) reason = "'" + script + " path' exited " + std::to_string(result.exit_code);
    if (reason.find("setup.sh") == std::string::npos) reason += "; run scripts/setup.sh";
    return make_error("no Pyroscope server for the tests: {}", reason);
  }
  return path;
}

PyroscopeServer::~PyroscopeServer() { kill(); }

Status PyroscopeServer::start(const std::string& data_dir, std::chrono::milliseconds timeout) {
  if (pid_ > 0) return make_error("Pyroscope server: already started (pid {})", pid_);
  auto binary = pyroscope_binary();
  if (!binary) return binary.error();
  binary_ = *binary;
  std::error_code error;
  std::filesystem::create_directories(data_dir, error);
  data_dir_ = std::filesystem::absolute(data_dir, error).lexically_normal().string();
  if (!std::filesystem::is_directory(data_dir_)) return make_error("Pyroscope data directory '{}': cannot be made", data_dir);
  for (int* port : {&http_port_, &grpc_port_, &memberlist_port_}) {
    auto free = free_port();
    if (!free) return free.error();
    *port = *free;
  }
  return launch(timeout);
}

std::string PyroscopeServer::url() const { return "http://127.0.0.1:" + std::to_string(http_port_); }

Status PyroscopeServer::launch(std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = server_args(binary_, data_dir_, http_port_, grpc_port_, memberlist_port_);
  std::vector<char*> c_argv;
  for (std::string& arg : argv) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  // Appended to, so that a restart's log follows the first run's.
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int log = open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (in < 0 || log < 0) {
    if (in >= 0) close(in);
    return make_error("Pyroscope log '{}': {}", log_path(), strerror(errno));
  }
  pid_ = fork();
  if (pid_ == 0) {
    // A process group of its own, which kill() ends whole; its working
    // directory the data directory, so that nothing it writes lands elsewhere.
    setpgid(0, 0);
    dup2(in, 0);
    dup2(log, 1);
    dup2(log, 2);
    if (chdir(data_dir_.c_str()) != 0) _exit(126);
    execv(c_argv[0], c_argv.data());
    _exit(127);
  }
  int fork_errno = errno;
  close(in);
  close(log);
  if (pid_ < 0) return make_error("Pyroscope server: fork: {}", strerror(fork_errno));
  return wait_ready(timeout);
}

Status PyroscopeServer::wait_ready(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto ready = http_get(url() + "/ready", std::chrono::seconds(2));
    if (ready && ready->status == 200) return Ok{};
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return make_error("Pyroscope server '{}' exited before it was ready; the end of {}:\n{}", binary_, log_path(),
                        log_tail());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill();
      return make_error("Pyroscope server at {} not ready after {} ms; the end of {}:\n{}", url(), timeout.count(),
                        log_path(), log_tail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string PyroscopeServer::log_tail(size_t lines) const {
  std::ifstream in(log_path());
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "    " + all[i] + "\n";
  return out;
}

void PyroscopeServer::kill() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

Status PyroscopeServer::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return Ok{};
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (waitpid(pid_, nullptr, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() >= deadline) {
      kill();
      return make_error("Pyroscope server: still running {} ms after SIGTERM; killed it", timeout.count());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  return Ok{};
}

Status PyroscopeServer::restart(std::chrono::milliseconds timeout) {
  if (binary_.empty()) return make_error("Pyroscope server: restart before start");
  kill();
  return launch(timeout);
}

Result<std::string> PyroscopeServer::call(const std::string& method, const std::string& content_type,
                                          const std::string& body) const {
  std::string endpoint = url() + "/" + method;
  auto response = http_post(endpoint, content_type, body);
  if (!response) return response.error();
  if (response->status != 200) {
    // A connect error is JSON: {"code": "...", "message": "..."}.
    Json error = Json::parse(response->body, nullptr, false);
    std::string message = error.is_object() && error.contains("message") ? error["message"].get<std::string>()
                                                                         : response->body.substr(0, 200);
    return make_error("'{}': HTTP {}: {}", endpoint, response->status, message);
  }
  return std::move(response->body);
}

Status PyroscopeServer::push(const PyroscopeLabels& labels, const std::string& gzipped_pprof) const {
  Json series_labels = Json::array();
  for (const auto& [name, value] : labels) series_labels.push_back({{"name", name}, {"value", value}});
  Json request = {{"series", Json::array({{{"labels", series_labels},
                                           {"samples", Json::array({{{"ID", random_uuid()},
                                                                     {"rawProfile", base64_encode(gzipped_pprof)}}})}}})}};
  auto response = call("push.v1.PusherService/Push", "application/json", request.dump());
  if (!response) return response.error();
  return Ok{};
}

Result<std::vector<PyroscopeLabels>> PyroscopeServer::series(const std::vector<std::string>& matchers,
                                                             int64_t from_ms, int64_t until_ms) const {
  Json request = {{"matchers", matchers}, {"start", from_ms}, {"end", until_ms}};
  auto response = call("querier.v1.QuerierService/Series", "application/json", request.dump());
  if (!response) return response.error();
  Json json = Json::parse(*response, nullptr, false);
  if (!json.is_object()) return make_error("Series: the answer is not JSON: {}", response->substr(0, 200));
  std::vector<PyroscopeLabels> out;
  for (const Json& set : json.value("labelsSet", Json::array())) {
    PyroscopeLabels labels;
    for (const Json& pair : set.value("labels", Json::array()))
      labels[pair.value("name", "")] = pair.value("value", "");
    out.push_back(std::move(labels));
  }
  return out;
}

Result<std::string> PyroscopeServer::select_merge_profile(const std::string& profile_type_id,
                                                          const std::string& label_selector, int64_t from_ms,
                                                          int64_t until_ms) const {
  // querier.v1.SelectMergeProfileRequest (api v1.0.0's querier.proto):
  // profile_typeID = 1, label_selector = 2, start = 3, end = 4.
  std::string request;
  put_string_field(request, 1, profile_type_id);
  put_string_field(request, 2, label_selector);
  put_int64_field(request, 3, from_ms);
  put_int64_field(request, 4, until_ms);
  return call("querier.v1.QuerierService/SelectMergeProfile", "application/proto", request);
}

Result<std::vector<std::string>> PyroscopeServer::profile_types(int64_t from_ms, int64_t until_ms) const {
  Json request = {{"start", from_ms}, {"end", until_ms}};
  auto response = call("querier.v1.QuerierService/ProfileTypes", "application/json", request.dump());
  if (!response) return response.error();
  Json json = Json::parse(*response, nullptr, false);
  if (!json.is_object()) return make_error("ProfileTypes: the answer is not JSON: {}", response->substr(0, 200));
  std::vector<std::string> ids;
  for (const Json& type : json.value("profileTypes", Json::array())) ids.push_back(type.value("ID", ""));
  return ids;
}

}  // namespace gotrace::testing
