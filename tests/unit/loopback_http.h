// HTTP on the loopback interface for the agent's tests: a client that sends
// raw bytes and reads the answer, and a server that takes one connection,
// records the request and answers what it was told. Every wait is bounded
// (10 s), so a broken server or client under test fails a test instead of
// hanging it.
#pragma once

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "base/fd.h"

namespace gotrace::testing {

constexpr int kLoopbackWaitMs = 10000;

inline sockaddr_in loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

inline Fd connect_loopback(uint16_t port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address = loopback(port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) fd.reset();
  return fd;
}

// Reads until the peer closes, or 10 s pass.
inline std::string read_until_closed(int fd) {
  std::string text;
  char buffer[4096];
  for (;;) {
    pollfd ready{fd, POLLIN, 0};
    if (poll(&ready, 1, kLoopbackWaitMs) <= 0) return text;
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) return text;
    text.append(buffer, n);
  }
}

// Sends `request` on a new connection and returns the whole answer.
inline std::string http_exchange(uint16_t port, const std::string& request) {
  Fd fd = connect_loopback(port);
  if (fd.get() < 0) return "";
  if (send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return "";
  return read_until_closed(fd.get());
}

// A port on which nothing listens: bound, then closed.
inline uint16_t closed_port() {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address = loopback(0);
  bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

// Takes one connection on 127.0.0.1 and answers it with `status` and
// `body`, or, with status 0, reads the request and answers nothing until
// the client goes.
class OneShotHttpServer {
 public:
  OneShotHttpServer(int status, std::string body) : status_(status), body_(std::move(body)) {
    listener_ = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address = loopback(0);
    bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    listen(listener_.get(), 4);
    socklen_t length = sizeof address;
    getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~OneShotHttpServer() {
    if (thread_.joinable()) thread_.join();
  }

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The request as it came, head and body; waits for the exchange to end.
  const std::string& request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  void serve() {
    pollfd ready{listener_.get(), POLLIN, 0};
    if (poll(&ready, 1, kLoopbackWaitMs) <= 0) return;
    Fd connection(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    read_request(connection.get());
    if (status_ == 0) {
      read_until_closed(connection.get());
      return;
    }
    std::string answer = "HTTP/1.1 " + std::to_string(status_) + " Canned\r\nContent-Type: application/json\r\n" +
                         "Content-Length: " + std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
    send(connection.get(), answer.data(), answer.size(), MSG_NOSIGNAL);
  }

  // The head, and as much body as its Content-Length says.
  void read_request(int fd) {
    char buffer[65536];
    size_t head_end = std::string::npos, wanted = 0;
    while (head_end == std::string::npos || request_.size() < head_end + 4 + wanted) {
      pollfd ready{fd, POLLIN, 0};
      if (poll(&ready, 1, kLoopbackWaitMs) <= 0) return;
      ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) return;
      request_.append(buffer, n);
      if (head_end == std::string::npos && (head_end = request_.find("\r\n\r\n")) != std::string::npos) {
        size_t at = request_.find("Content-Length: ");
        if (at != std::string::npos && at < head_end) wanted = std::stoul(request_.substr(at + 16));
      }
    }
  }

  int status_;
  std::string body_;
  Fd listener_;
  uint16_t port_ = 0;
  std::string request_;
  std::thread thread_;
};

}  // namespace gotrace::testing
