#include "userspace/agent/health_server.h"

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/parse_integer.h"

namespace gotrace {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kAddressForms = "expected HOST:PORT, :PORT or [IPV6]:PORT";

std::string socket_error(int error) {
  switch (error) {
    case EADDRINUSE: return "address in use";
    case EADDRNOTAVAIL: return "not an address of this host";
    case EACCES: return "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)";
    default: return std::strerror(error);
  }
}

// A socket listening on `address`; on failure an invalid Fd, with the errno
// of the step that failed in *error.
Fd listen_on(const sockaddr* address, socklen_t length, bool dual_stack, int* error) {
  Fd fd(socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) {
    *error = errno;
    return fd;
  }
  int yes = 1, no = 0;
  // A restarted agent must get its port back while the old connections sit
  // in TIME_WAIT.
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  if (dual_stack) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof no);
  if (bind(fd.get(), address, length) != 0 || listen(fd.get(), 16) != 0) {
    *error = errno;
    fd.reset();
  }
  return fd;
}

// Every interface: IPv6 and IPv4 on one socket, or IPv4 alone on a host
// without IPv6.
Fd listen_everywhere(uint16_t port, int* error) {
  sockaddr_in6 any6{};
  any6.sin6_family = AF_INET6;
  any6.sin6_addr = in6addr_any;
  any6.sin6_port = htons(port);
  Fd fd = listen_on(reinterpret_cast<const sockaddr*>(&any6), sizeof any6, true, error);
  if (fd.get() >= 0 || *error != EAFNOSUPPORT) return fd;
  sockaddr_in any4{};
  any4.sin_family = AF_INET;
  any4.sin_addr.s_addr = htonl(INADDR_ANY);
  any4.sin_port = htons(port);
  return listen_on(reinterpret_cast<const sockaddr*>(&any4), sizeof any4, false, error);
}

// The first of the host's addresses that takes a listening socket.
Result<Fd> listen_on_host(const ListenAddress& address) {
  int error = 0;
  if (address.host.empty()) {
    Fd fd = listen_everywhere(address.port, &error);
    if (fd.get() < 0) return Error{socket_error(error)};
    return fd;
  }
  addrinfo hints{};
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int resolved = getaddrinfo(address.host.c_str(), std::to_string(address.port).c_str(), &hints, &found);
  if (resolved != 0) return make_error("cannot resolve '{}': {}", address.host, gai_strerror(resolved));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  int first_error = 0;
  for (addrinfo* each = found; each != nullptr; each = each->ai_next) {
    Fd fd = listen_on(each->ai_addr, each->ai_addrlen, false, &error);
    if (fd.get() >= 0) return fd;
    if (first_error == 0) first_error = error;
  }
  return Error{socket_error(first_error)};
}

uint16_t bound_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

std::string response(std::string_view status, std::string_view content_type, std::string_view body,
                     std::string_view extra_headers = "") {
  std::string text = "HTTP/1.1 ";
  text += status;
  text += "\r\nContent-Type: ";
  text += content_type;
  text += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n";
  text += extra_headers;
  text += "\r\n";
  text += body;
  return text;
}

constexpr std::string_view kPlainText = "text/plain; charset=utf-8";
constexpr std::string_view kMetricsText = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

Result<ListenAddress> parse_listen_address(std::string_view text) {
  if (text.empty()) return make_error("empty address; {}", kAddressForms);
  ListenAddress address;
  std::string_view port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return make_error("an IPv6 address is [ADDRESS]:PORT; {}", kAddressForms);
    address.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (address.host.empty()) return make_error("empty IPv6 address in brackets");
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return make_error("no port; {}", kAddressForms);
    address.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (address.host.find(':') != std::string::npos)
      return make_error("an IPv6 address needs brackets, as in [::1]:9100");
  }
  auto number = parse_decimal(port, 0, 65535);
  if (!number) return with_context(number.error(), "port '" + std::string(port) + "'");
  address.port = static_cast<uint16_t>(*number);
  return address;
}

Result<std::unique_ptr<HealthServer>> HealthServer::start(const std::string& address, RenderMetrics render,
                                                          HealthServerLimits limits) {
  const std::string context = "--health '" + address + "'";
  auto parsed = parse_listen_address(address);
  if (!parsed) return with_context(parsed.error(), context);
  auto listener = listen_on_host(*parsed);
  if (!listener) return with_context(listener.error(), context);
  Fd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake.get() < 0) return make_error("{}: eventfd: {}", context, std::strerror(errno));
  uint16_t port = bound_port(listener->get());
  return std::unique_ptr<HealthServer>(
      new HealthServer(std::move(*listener), std::move(wake), port, std::move(render), limits));
}

HealthServer::HealthServer(Fd listener, Fd wake, uint16_t port, RenderMetrics render, HealthServerLimits limits)
    : listener_(std::move(listener)), wake_(std::move(wake)), port_(port), render_(std::move(render)),
      limits_(limits) {
  thread_ = std::thread([this] { serve(); });
}

HealthServer::~HealthServer() {
  uint64_t one = 1;
  // The eventfd stays readable from here on, so every poll of the thread's
  // returns at once.
  [[maybe_unused]] ssize_t written = write(wake_.get(), &one, sizeof one);
  thread_.join();
}

void HealthServer::serve() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    // A timeout only so that a failing accept (no descriptors left) does not
    // spin: it is retried a little later.
    if (poll(fds, 2, 1000) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    Fd connection(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (connection.get() < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        pollfd wake{wake_.get(), POLLIN, 0};
        poll(&wake, 1, 100);
      }
      continue;
    }
    serve_connection(connection.get());
  }
}

void HealthServer::serve_connection(int connection) {
  bool too_long = false;
  std::string request = read_request(connection, Clock::now() + limits_.read_timeout, &too_long);
  std::string answer;
  if (too_long) answer = response("431 Request Header Fields Too Large", kPlainText, "request too large\n");
  else if (!request.empty()) answer = respond(request);
  if (answer.empty()) return;  // nothing came in time, or the client left
  auto deadline = Clock::now() + limits_.read_timeout;
  write_all(connection, answer, deadline);
  // Closing a socket with unread bytes resets the connection, and the client
  // may then lose the answer: say we are done, and read what is left for a
  // moment (a bounded amount) before closing.
  shutdown(connection, SHUT_WR);
  char discard[4096];
  for (size_t drained = 0; drained < 64 * 1024 && wait_for(connection, POLLIN, deadline);) {
    ssize_t n = read(connection, discard, sizeof discard);
    if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) break;
    if (n > 0) drained += n;
  }
}

std::string HealthServer::read_request(int connection, Clock::time_point deadline, bool* too_long) {
  std::string request;
  char buffer[4096];
  while (wait_for(connection, POLLIN, deadline)) {
    ssize_t n = read(connection, buffer, sizeof buffer);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return "";
    request.append(buffer, n);
    size_t end = request.find("\r\n\r\n");
    if (end == std::string::npos) end = request.find("\n\n");
    if (end != std::string::npos && end <= limits_.max_request_bytes) return request.substr(0, end);
    if (request.size() > limits_.max_request_bytes) {
      *too_long = true;
      return "";
    }
  }
  return "";
}

std::string HealthServer::respond(std::string_view request) {
  std::string_view line = request.substr(0, request.find_first_of("\r\n"));
  size_t first_space = line.find(' ');
  size_t second_space = line.find(' ', first_space + 1);
  if (first_space == std::string_view::npos || second_space == std::string_view::npos ||
      line.substr(second_space + 1).substr(0, 5) != "HTTP/")
    return response("400 Bad Request", kPlainText, "bad request\n");
  std::string_view method = line.substr(0, first_space);
  std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  std::string_view path = target.substr(0, target.find('?'));
  if (method != "GET") return response("405 Method Not Allowed", kPlainText, "only GET\n", "Allow: GET\r\n");
  if (path == "/metrics") return response("200 OK", kMetricsText, render_ ? render_() : "");
  if (path == "/healthz" || path == "/ready") return response("200 OK", kPlainText, "ok\n");
  return response("404 Not Found", kPlainText, "not found; try /metrics, /healthz or /ready\n");
}

void HealthServer::write_all(int connection, std::string_view bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    ssize_t n = send(connection, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(connection, POLLOUT, deadline)) return;
    } else {
      return;
    }
  }
}

bool HealthServer::wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd fds[2] = {{fd, events, 0}, {wake_.get(), POLLIN, 0}};
    int ready = poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || fds[1].revents != 0) return false;
    return true;  // ready, or an error or hang-up that the next call reports
  }
}

}  // namespace gotrace
