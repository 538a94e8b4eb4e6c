#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>

namespace gotrace::testing {
namespace {

size_t append_to_string(char* data, size_t size, size_t count, void* sink) {
  static_cast<std::string*>(sink)->append(data, size * count);
  return size * count;
}

// libcurl wants its global state set up once, before any handle, and never
// concurrently with another thread's setup.
bool curl_ready() {
  static const bool ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ready;
}

Result<HttpResponse> perform(const std::string& url, const std::string* content_type, const std::string* body,
                             std::chrono::milliseconds timeout) {
  if (!curl_ready()) return make_error("'{}': libcurl cannot be initialised", url);
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return make_error("'{}': libcurl cannot make a handle", url);
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = "";
  curl_slist* headers = nullptr;
  // No "Expect: 100-continue": the server answers at once, and curl would
  // otherwise wait for it on larger bodies.
  headers = curl_slist_append(headers, "Expect:");
  if (content_type != nullptr) headers = curl_slist_append(headers, ("Content-Type: " + *content_type).c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, &curl_slist_free_all);
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, long(timeout.count()));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");  // loopback: no proxy from the environment
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response.body);
  if (body != nullptr) {
    curl_easy_setopt(curl.get(), CURLOPT_POST, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body->size()));
  }
  CURLcode code = curl_easy_perform(curl.get());
  if (code != CURLE_OK) return make_error("'{}': {}", url, error[0] != '\0' ? error : curl_easy_strerror(code));
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace

Result<HttpResponse> http_get(const std::string& url, std::chrono::milliseconds timeout) {
  return perform(url, nullptr, nullptr, timeout);
}

Result<HttpResponse> http_post(const std::string& url, const std::string& content_type, const std::string& body,
                               std::chrono::milliseconds timeout) {
  return perform(url, &content_type, &body, timeout);
}

// A TCP port on 127.0.0.1 that nothing listens on now: the kernel's pick
// for port 0. Another process could take it before the server does; on
// loopback, in a test, that is rare enough, and what listens there fails saying so.
Result<int> free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("socket: {}", strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  int bind_errno = errno;
  close(fd);
  if (port <= 0) return make_error("no free port on 127.0.0.1: {}", strerror(bind_errno));
  return port;
}

}  // namespace gotrace::testing
