// One push to Pyroscope: the request's JSON and headers, and what each kind
// of answer means, through the real libcurl against a server in the test.
#include "userspace/agent/pyroscope_push.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/unit/loopback_http.h"

namespace gotrace {

// For gtest's messages: the outcome's name, not its bytes.
void PrintTo(PushResult result, std::ostream* out) {
  *out << (result == PushResult::ok ? "ok" : result == PushResult::retry ? "retry" : "rejected");
}

namespace {

using testing::OneShotHttpServer;

std::string base64_decode(std::string_view text) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  uint32_t group = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    group = group << 6 | static_cast<uint32_t>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((group >> bits) & 0xff);
    }
  }
  return bytes;
}

std::string all_bytes() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  return bytes;
}

Upload orders_upload() {
  return Upload{{{"service_name", "orders"}, {"pid", "123"}}, "\x1f\x8b\x08" + all_bytes(), "orders pid 123"};
}

// The value of a header in a raw request, or "" when absent.
std::string header(const std::string& request, const std::string& name) {
  size_t at = request.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  size_t start = at + name.size() + 4;
  return request.substr(start, request.find("\r\n", start) - start);
}

std::string body_of(const std::string& request) { return request.substr(request.find("\r\n\r\n") + 4); }

TEST(PushRequest, Base64MatchesTheRfcVectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("\xff\xfe\xfd"), "//79");
  for (size_t length = 0; length < 8; ++length)
    EXPECT_EQ(base64_decode(base64_encode(all_bytes().substr(250 - length))), all_bytes().substr(250 - length));
}

TEST(PushRequest, BodyHasTheLabelsInOrderAndTheProfileInBase64) {
  Upload upload = orders_upload();
  auto body = nlohmann::json::parse(push_request_body(upload, "an-id"));
  auto expected_labels = nlohmann::json::parse(R"([{"name":"__name__","value":"memory"},
      {"name":"service_name","value":"orders"},{"name":"pid","value":"123"}])");
  ASSERT_EQ(body["series"].size(), 1u);
  EXPECT_EQ(body["series"][0]["labels"], expected_labels);
  ASSERT_EQ(body["series"][0]["samples"].size(), 1u);
  const auto& sample = body["series"][0]["samples"][0];
  EXPECT_EQ(sample["ID"], "an-id");
  EXPECT_EQ(base64_decode(sample["rawProfile"].get<std::string>()), upload.pprof);
  EXPECT_EQ(body.size(), 1u);
}

TEST(PushRequest, KeepsAGivenNameAndReplacesInvalidUtf8) {
  Upload upload{{{"__name__", "process_memory"}, {"comm", "bad\xff"}}, "x", ""};
  auto body = nlohmann::json::parse(push_request_body(upload, "id"));
  const auto& labels = body["series"][0]["labels"];
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[0]["value"], "process_memory");
  EXPECT_EQ(labels[1]["value"], "bad\xef\xbf\xbd");  // U+FFFD
}

TEST(PushRequest, SampleIdsAreRandomVersion4Uuids) {
  std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = random_uuid_v4();
    EXPECT_TRUE(std::regex_match(id, uuid)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(PushRequest, EndpointFollowsTheBaseUrlsPath) {
  EXPECT_EQ(*push_endpoint("http://pyroscope:4040", false), "http://pyroscope:4040/push.v1.PusherService/Push");
  EXPECT_EQ(*push_endpoint("http://pyroscope:4040/", false), "http://pyroscope:4040/push.v1.PusherService/Push");
  EXPECT_EQ(*push_endpoint("https://host/prefix//", false), "https://host/prefix/push.v1.PusherService/Push");
  EXPECT_EQ(*push_endpoint("https://me:secret@host/p", true), "https://host/p/push.v1.PusherService/Push");
  EXPECT_EQ(*push_endpoint("https://me:secret@host/p", false), "https://me:secret@host/p/push.v1.PusherService/Push");
}

TEST(PushTarget, ChecksNameTheFlag) {
  auto error = [](PushTarget target) {
    Status status = check_push_target(target);
    return status ? std::string("ok") : status.error().message;
  };
  EXPECT_EQ(error({.url = "http://pyroscope:4040"}), "ok");
  EXPECT_EQ(error({.url = "https://h", .ca_file = "/proc/self/status"}), "ok");
  EXPECT_EQ(error({.url = "ftp://h"}), "--push 'ftp://h': the scheme must be http or https, as in http://pyroscope:4040");
  EXPECT_EQ(error({.url = "pyroscope:4040"}).rfind("--push 'pyroscope:4040': ", 0), 0u);
  EXPECT_EQ(error({.url = ""}), "--push: no URL");
  EXPECT_EQ(error({.url = "https://h", .ca_file = "/nonexistent/ca.pem"}),
            "--tls-ca '/nonexistent/ca.pem': No such file or directory");
  EXPECT_EQ(error({.url = "https://h", .client_cert = "/proc"}), "--tls-cert '/proc': not a regular file");
  EXPECT_EQ(error({.url = "https://h", .client_key = "/proc/self/status"}), "--tls-key needs --tls-cert");
  EXPECT_EQ(error({.url = "http://h", .ca_file = "/proc/self/status"}),
            "--push 'http://h': the TLS options are for an https URL");
  EXPECT_EQ(error({.url = "http://h", .basic_user = "u", .bearer_token = "t"}),
            "--bearer-token-file and --basic-auth: give one or the other");
  EXPECT_EQ(error({.url = "http://h", .tenant = "a\r\nX-Evil: 1"}), "--tenant: control characters are not allowed");
}

TEST(PushOutcomes, HttpStatusesAreClassified) {
  for (long status : {200, 202, 204}) EXPECT_EQ(classify_http_status(status), PushResult::ok) << status;
  for (long status : {408, 429, 500, 502, 503, 504}) EXPECT_EQ(classify_http_status(status), PushResult::retry) << status;
  for (long status : {301, 400, 401, 403, 404, 413, 422}) EXPECT_EQ(classify_http_status(status), PushResult::rejected) << status;
}

TEST(PushOutcomes, ErrorBodiesBecomeOneShortLine) {
  EXPECT_EQ(error_body_excerpt(R"({"code":"invalid_argument","message":"bad\nprofile"})"), "invalid_argument: bad profile");
  EXPECT_EQ(error_body_excerpt("<html><body><h1>502 Bad Gateway</h1></body></html>\n"), "502 Bad Gateway");
  EXPECT_EQ(error_body_excerpt("  too\tmany\x1b[31m  \r\n requests  "), "too many [31m requests");
  EXPECT_EQ(error_body_excerpt(std::string(500, 'x'), 10), "xxxxxxxxxx...");
  EXPECT_EQ(error_body_excerpt("ab\xc3\xa9" "cd", 3), "ab...");  // never half of é
  EXPECT_EQ(error_body_excerpt(""), "");
}

TEST(PushOverHttp, SendsTheProfileWithItsHeaders) {
  OneShotHttpServer server(200, "{}");
  auto pusher = Pusher::create({.url = server.url() + "/prefix/", .tenant = "team-a", .basic_user = "me",
                                .basic_password = "secret"});
  ASSERT_TRUE(pusher) << pusher.error().message;
  Upload upload = orders_upload();
  PushOutcome outcome = (*pusher)->push(upload);
  EXPECT_EQ(outcome.result, PushResult::ok) << outcome.message;
  EXPECT_EQ(outcome.http_status, 200);
  EXPECT_EQ(outcome.message, "");
  const std::string& request = server.request();
  EXPECT_EQ(request.substr(0, request.find("\r\n")), "POST /prefix/push.v1.PusherService/Push HTTP/1.1");
  EXPECT_EQ(header(request, "Content-Type"), "application/json");
  EXPECT_EQ(header(request, "X-Scope-OrgID"), "team-a");
  EXPECT_EQ(header(request, "Authorization"), "Basic " + base64_encode("me:secret"));
  auto body = nlohmann::json::parse(body_of(request));
  EXPECT_EQ(base64_decode(body["series"][0]["samples"][0]["rawProfile"].get<std::string>()), upload.pprof);
  EXPECT_EQ(body["series"][0]["labels"][1]["value"], "orders");
}

TEST(PushOverHttp, SendsABearerTokenAndNoTenantWhenNoneIsGiven) {
  OneShotHttpServer server(204, "");
  auto pusher = Pusher::create({.url = server.url(), .bearer_token = "tok3n"});
  ASSERT_TRUE(pusher);
  EXPECT_EQ((*pusher)->push(orders_upload()).result, PushResult::ok);
  EXPECT_EQ(header(server.request(), "Authorization"), "Bearer tok3n");
  EXPECT_EQ(header(server.request(), "X-Scope-OrgID"), "");
}

TEST(PushOverHttp, ServerErrorsAreRetriedAndSayWhy) {
  OneShotHttpServer server(503, R"({"code":"unavailable","message":"ingester is shutting down"})");
  auto pusher = Pusher::create({.url = server.url()});
  ASSERT_TRUE(pusher);
  PushOutcome outcome = (*pusher)->push(orders_upload());
  EXPECT_EQ(outcome.result, PushResult::retry);
  EXPECT_EQ(outcome.http_status, 503);
  EXPECT_EQ(outcome.cause, "HTTP 503: unavailable: ingester is shutting down");
  EXPECT_EQ(outcome.message, "push of orders pid 123 to " + server.url() +
                                 "/push.v1.PusherService/Push: HTTP 503: unavailable: ingester is shutting down");
}

TEST(PushOverHttp, TooManyRequestsIsRetried) {
  OneShotHttpServer server(429, "slow down");
  auto pusher = Pusher::create({.url = server.url()});
  ASSERT_TRUE(pusher);
  EXPECT_EQ((*pusher)->push(orders_upload()).result, PushResult::retry);
}

TEST(PushOverHttp, BadRequestsAreRejected) {
  OneShotHttpServer server(400, R"({"code":"invalid_argument","message":"failed to parse pprof"})");
  auto pusher = Pusher::create({.url = server.url()});
  ASSERT_TRUE(pusher);
  PushOutcome outcome = (*pusher)->push(orders_upload());
  EXPECT_EQ(outcome.result, PushResult::rejected);
  EXPECT_EQ(outcome.cause, "HTTP 400: invalid_argument: failed to parse pprof");
}

TEST(PushOverHttp, ARefusedConnectionIsRetried) {
  std::string url = "http://127.0.0.1:" + std::to_string(testing::closed_port());
  auto pusher = Pusher::create({.url = url});
  ASSERT_TRUE(pusher);
  PushOutcome outcome = (*pusher)->push(orders_upload());
  EXPECT_EQ(outcome.result, PushResult::retry);
  EXPECT_EQ(outcome.http_status, 0);
  EXPECT_EQ(outcome.message, "push of orders pid 123 to " + url + "/push.v1.PusherService/Push: connection refused");
}

TEST(PushOverHttp, ASilentServerTimesOutAndIsRetried) {
  OneShotHttpServer server(0, "");
  auto pusher = Pusher::create({.url = server.url(), .timeout = std::chrono::milliseconds(300)});
  ASSERT_TRUE(pusher);
  PushOutcome outcome = (*pusher)->push(orders_upload());
  EXPECT_EQ(outcome.result, PushResult::retry);
  EXPECT_EQ(outcome.cause, "no answer within 300 ms");
}

}  // namespace
}  // namespace gotrace
