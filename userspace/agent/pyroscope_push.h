// One push of one profile to Grafana Pyroscope, the agent's backend.
//
// Pyroscope takes profiles at POST <base>/push.v1.PusherService/Push, a
// Connect RPC; its JSON form needs no generated code: a series with the
// profile's labels, and one sample holding the gzipped pprof in base64 under
// a random ID. A Pusher keeps one curl handle, so that its connection is
// reused from one push to the next.
//
// What a push's outcome means is what the queue (push_queue.h) does next:
// `retry` when the backend could take the profile later (no connection, a
// timeout, TLS failing, HTTP 5xx, 408, 429), `rejected` when it never will
// (any other 4xx, a redirect): retrying those would only hold up the rest.
//
// The flags named in errors are the agent's: --push (url), --tenant,
// --basic-auth, --bearer-token-file, --tls-ca, --tls-cert,
// --tls-key, --tls-insecure.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace gotrace {

struct PushTarget {
  std::string url{};  // base, e.g. http://pyroscope:4040 or https://host/prefix/ (a trailing / is fine)
  std::string tenant{};  // X-Scope-OrgID; "" for none
  std::string basic_user{}, basic_password{};  // HTTP basic authentication; "" user for none
  std::string bearer_token{};  // Authorization: Bearer; "" for none
  std::string ca_file{};  // PEM file of the CAs to trust; "" for the system's
  std::string client_cert{}, client_key{};  // PEM files for mutual TLS; "" for none
  bool tls_insecure = false;  // skip verifying the server's certificate
  std::chrono::milliseconds timeout{10000};  // one whole push, connecting included
};

// One profile to push.
struct Upload {
  // Series labels, in order. Pyroscope wants __name__ (the profile type;
  // "memory" is added first when absent) and service_name.
  std::vector<std::pair<std::string, std::string>> labels;
  std::string pprof;  // gzipped pprof
  std::string what;   // names the profile in messages, e.g. "orders pid 123"
};

enum class PushResult { ok, retry, rejected };

struct PushOutcome {
  PushResult result = PushResult::ok;
  int http_status = 0;  // 0 when no HTTP answer came
  std::string cause;    // "" when ok; "connection refused", "HTTP 400: invalid_argument: ..."
  std::string message;  // one line for logs: "push of orders pid 123 to URL: CAUSE"; "" when ok
};

// Checks a target before the agent starts: the URL is http or https with a
// host, the files can be read, the options fit together. Errors name the
// flag: "--tls-ca '/etc/ca.pem': No such file or directory".
Status check_push_target(const PushTarget& target);

class Pusher {
 public:
  // Checks `target` (check_push_target) and prepares the connection.
  static Result<std::unique_ptr<Pusher>> create(const PushTarget& target);
  ~Pusher();
  Pusher(const Pusher&) = delete;
  Pusher& operator=(const Pusher&) = delete;

  // Sends one profile; blocks for at most the target's timeout. Not for two
  // threads at once.
  PushOutcome push(const Upload& upload);

  // Where pushes go, without any user or password the URL held: for messages.
  const std::string& endpoint() const { return shown_endpoint_; }

 private:
  struct Curl;
  explicit Pusher(std::unique_ptr<Curl> curl, std::string shown_endpoint);
  PushOutcome outcome(int curl_code, std::string_view body);

  std::unique_ptr<Curl> curl_;
  std::string shown_endpoint_;
};

// The pieces of a push, for tests.

// The endpoint for a base URL: its path, less trailing slashes, followed by
// /push.v1.PusherService/Push. With `redact`, without user and password.
Result<std::string> push_endpoint(const std::string& base_url, bool redact);
// The request's JSON body, with the sample's ID.
std::string push_request_body(const Upload& upload, std::string_view sample_id);
// A random (version 4) UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".
std::string random_uuid_v4();
// Standard base64 with padding (RFC 4648 section 4), as JSON carries bytes.
std::string base64_encode(std::string_view bytes);
// ok for 2xx; retry for 408, 429 and 5xx; rejected for the rest.
PushResult classify_http_status(long status);
// A short, one-line, printable excerpt of an error answer's body: a Connect
// error's "code: message", HTML with its tags dropped, or the text itself;
// control characters become spaces, and at most `limit` bytes are kept.
std::string error_body_excerpt(std::string_view body, size_t limit = 200);

}  // namespace gotrace
