// The --health server on a loopback port of its own: what it answers, and
// that no client can stop it from answering the next one.
#include "userspace/agent/health_server.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/unit/loopback_http.h"

namespace gotrace {
namespace {

using testing::http_exchange;

std::string get(uint16_t port, const std::string& path) {
  return http_exchange(port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

std::string status_line(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }
std::string body_of(const std::string& answer) {
  size_t end = answer.find("\r\n\r\n");
  return end == std::string::npos ? "" : answer.substr(end + 4);
}

class HealthServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HealthServer::start("127.0.0.1:0", [this] {
      ++scrapes_;
      return std::string("# HELP up Whether it is up.\n# TYPE up gauge\nup 1\n");
    }, {.max_request_bytes = 8 * 1024, .read_timeout = std::chrono::milliseconds(200)});
    ASSERT_TRUE(started) << started.error().message;
    server_ = std::move(*started);
  }

  std::atomic<int> scrapes_ = 0;
  std::unique_ptr<HealthServer> server_;
};

TEST_F(HealthServerTest, ServesTheRenderedMetrics) {
  ASSERT_NE(server_->port(), 0);
  std::string answer = get(server_->port(), "/metrics");
  EXPECT_EQ(status_line(answer), "HTTP/1.1 200 OK");
  EXPECT_NE(answer.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_NE(answer.find("\r\nContent-Length: 49\r\n"), std::string::npos) << answer;
  EXPECT_EQ(body_of(answer), "# HELP up Whether it is up.\n# TYPE up gauge\nup 1\n");
  EXPECT_EQ(scrapes_, 1);
  EXPECT_EQ(status_line(get(server_->port(), "/metrics?name[]=up")), "HTTP/1.1 200 OK");
  EXPECT_EQ(scrapes_, 2);
}

TEST_F(HealthServerTest, AnswersHealthReadinessAndTheRest) {
  EXPECT_EQ(body_of(get(server_->port(), "/healthz")), "ok\n");
  EXPECT_EQ(body_of(get(server_->port(), "/ready")), "ok\n");
  EXPECT_EQ(status_line(get(server_->port(), "/")), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(status_line(get(server_->port(), "/metricsx")), "HTTP/1.1 404 Not Found");
  std::string post = http_exchange(server_->port(), "POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_EQ(status_line(post), "HTTP/1.1 405 Method Not Allowed");
  EXPECT_NE(post.find("\r\nAllow: GET\r\n"), std::string::npos);
  EXPECT_EQ(status_line(http_exchange(server_->port(), "nonsense\r\n\r\n")), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(scrapes_, 0);
}

TEST_F(HealthServerTest, ASilentClientDoesNotStopTheNextOne) {
  Fd silent = testing::connect_loopback(server_->port());
  ASSERT_GE(silent.get(), 0);
  // Served once the silent one has had its read timeout.
  EXPECT_EQ(body_of(get(server_->port(), "/healthz")), "ok\n");
  // The silent client was closed without an answer.
  EXPECT_EQ(testing::read_until_closed(silent.get()), "");
}

TEST_F(HealthServerTest, AnOversizedRequestIsRefusedAndTheNextServed) {
  std::string huge = "GET /metrics HTTP/1.1\r\nX-Padding: " + std::string(16 * 1024, 'x') + "\r\n\r\n";
  EXPECT_EQ(status_line(http_exchange(server_->port(), huge)), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(scrapes_, 0);
  // A client that leaves at once, and one that sends half a request.
  testing::connect_loopback(server_->port());
  http_exchange(server_->port(), "GET /metr");
  EXPECT_EQ(body_of(get(server_->port(), "/healthz")), "ok\n");
}

TEST(HealthServer, EveryInterfaceIncludesLoopback) {
  auto server = HealthServer::start(":0", [] { return std::string("up 1\n"); });
  ASSERT_TRUE(server) << server.error().message;
  EXPECT_EQ(body_of(get((*server)->port(), "/metrics")), "up 1\n");
}

TEST(HealthServer, ErrorsNameTheFlagAndTheCause) {
  auto first = HealthServer::start("127.0.0.1:0", [] { return std::string(); });
  ASSERT_TRUE(first);
  std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = HealthServer::start(taken, [] { return std::string(); });
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().message, "--health '" + taken + "': address in use");
  auto error = [](const std::string& address) {
    auto server = HealthServer::start(address, [] { return std::string(); });
    return server ? std::string("started") : server.error().message;
  };
  EXPECT_EQ(error("9100"), "--health '9100': no port; expected HOST:PORT, :PORT or [IPV6]:PORT");
  EXPECT_EQ(error("::1:9100"), "--health '::1:9100': an IPv6 address needs brackets, as in [::1]:9100");
  EXPECT_EQ(error("127.0.0.1:65536").rfind("--health '127.0.0.1:65536': port '65536': ", 0), 0u);
  EXPECT_EQ(error("127.0.0.1:").rfind("--health '127.0.0.1:': port '': ", 0), 0u);
  EXPECT_EQ(error("192.0.2.1:0"), "--health '192.0.2.1:0': not an address of this host");
}

TEST(HealthServer, AddressesAreParsed) {
  auto parse = [](std::string_view text) {
    auto address = parse_listen_address(text);
    return address ? address->host + "|" + std::to_string(address->port) : "error: " + address.error().message;
  };
  EXPECT_EQ(parse("127.0.0.1:9100"), "127.0.0.1|9100");
  EXPECT_EQ(parse(":9100"), "|9100");
  EXPECT_EQ(parse("[::1]:0"), "::1|0");
  EXPECT_EQ(parse("localhost:80"), "localhost|80");
  EXPECT_EQ(parse("[::1]9100"), "error: an IPv6 address is [ADDRESS]:PORT; expected HOST:PORT, :PORT or [IPV6]:PORT");
  EXPECT_EQ(parse(""), "error: empty address; expected HOST:PORT, :PORT or [IPV6]:PORT");
}

}  // namespace
}  // namespace gotrace
