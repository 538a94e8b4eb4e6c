// Plain HTTP calls from the tests to a server on loopback (Pyroscope's
// connect API, gotrace's --health endpoint), with libcurl: one request, the
// whole answer, no retries, so that what a test sees is what the server said.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace gotrace::testing {

struct HttpResponse {
  long status = 0;
  std::string body;
};

// An error only when there was no answer at all (refused, timed out); any
// HTTP status is a response.
Result<HttpResponse> http_get(const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds(10));
Result<HttpResponse> http_post(const std::string& url, const std::string& content_type, const std::string& body,
                               std::chrono::milliseconds timeout = std::chrono::seconds(30));


// A TCP port on 127.0.0.1 that nothing listens on now.
Result<int> free_port();

}  // namespace gotrace::testing
