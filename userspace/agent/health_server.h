// The agent's --health endpoint: a tiny HTTP/1.1 server for Prometheus'
// scrapes (GET /metrics) and for liveness and readiness probes (GET /healthz,
// GET /ready).
//
// It runs on a thread of its own beside the tracing and must never be what
// stops the agent, whoever connects: it serves one connection at a time,
// reads at most max_request_bytes of a request and waits at most
// read_timeout for it, answers every request with Connection: close, and
// its destructor ends the thread promptly (an eventfd wakes its poll).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "base/fd.h"
#include "base/result.h"

namespace gotrace {

// Where --health listens: "host:port", ":port" (every interface, IPv6 and
// IPv4 where the host has both), "[::1]:port"; port 0 lets the kernel pick.
struct ListenAddress {
  std::string host;  // "" for every interface; brackets removed
  uint16_t port = 0;
};
// Errors are the cause alone ("no port"); start() puts the flag before it.
Result<ListenAddress> parse_listen_address(std::string_view text);

struct HealthServerLimits {
  size_t max_request_bytes = 8 * 1024;              // a longer request is answered 431
  std::chrono::milliseconds read_timeout{2000};     // for the request, and for writing the answer
};

class HealthServer {
 public:
  // Renders the /metrics page (prometheus_text.h). Called on the server's
  // thread, once per scrape: it must be safe to call beside the agent.
  using RenderMetrics = std::function<std::string()>;

  // Listens on `address` (as --health gave it) and starts serving. Errors
  // name the flag and the cause: "--health '127.0.0.1:80': address in use".
  static Result<std::unique_ptr<HealthServer>> start(const std::string& address, RenderMetrics render,
                                                     HealthServerLimits limits = {});
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // The port it listens on: the one asked for, or the kernel's pick for 0.
  uint16_t port() const { return port_; }

 private:
  HealthServer(Fd listener, Fd wake, uint16_t port, RenderMetrics render, HealthServerLimits limits);
  void serve();
  void serve_connection(int connection);
  // The whole request head, or "" when the client sent none in time, or
  // closed; *too_long when it passed the limit first.
  std::string read_request(int connection, std::chrono::steady_clock::time_point deadline, bool* too_long);
  std::string respond(std::string_view request);
  void write_all(int connection, std::string_view bytes, std::chrono::steady_clock::time_point deadline);
  // Waits for `events` on `fd` until the deadline; false when it passed or
  // the server is stopping.
  bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline);

  Fd listener_;
  Fd wake_;  // an eventfd: written once by the destructor
  uint16_t port_;
  RenderMetrics render_;
  HealthServerLimits limits_;
  std::thread thread_;
};

}  // namespace gotrace
