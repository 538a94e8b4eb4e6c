#include "userspace/agent/pyroscope_push.h"

#include <cerrno>
#include <cstring>
#include <mutex>
#include <random>

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/fd.h"

namespace gotrace {
namespace {

constexpr std::string_view kPushPath = "/push.v1.PusherService/Push";
// Enough of an error answer for its message; the rest is read and dropped.
constexpr size_t kMaxKeptBody = 16 * 1024;

// curl's URL parser, freed when done.
using UrlHandle = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;

std::string url_part(CURLU* url, CURLUPart part) {
  char* text = nullptr;
  if (curl_url_get(url, part, &text, 0) != CURLUE_OK || text == nullptr) return "";
  std::string copy = text;
  curl_free(text);
  return copy;
}

Result<UrlHandle> parse_url(const std::string& text) {
  UrlHandle url(curl_url(), curl_url_cleanup);
  if (!url) return make_error("out of memory");
  CURLUcode parsed = curl_url_set(url.get(), CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (parsed != CURLUE_OK) return make_error("not a URL ({})", curl_url_strerror(parsed));
  return url;
}

// A file named by a flag must be a regular file we can open.
Status check_readable(std::string_view flag, const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat status {};
  if (fd.get() < 0 || fstat(fd.get(), &status) != 0) return make_error("{} '{}': {}", flag, path, std::strerror(errno));
  if (!S_ISREG(status.st_mode)) return make_error("{} '{}': not a regular file", flag, path);
  return Ok{};
}

// Header values go into the request as they are: no line breaks in them.
Status check_header_value(std::string_view flag, std::string_view value) {
  for (unsigned char c : value)
    if (c < 0x20 || c == 0x7f) return make_error("{}: control characters are not allowed", flag);
  return Ok{};
}

// The URL's scheme, once the URL is known good.
Result<std::string> check_url(const std::string& text) {
  auto context = [&](const Error& error) { return with_context(error, "--push '" + text + "'"); };
  if (text.empty()) return make_error("--push: no URL");
  auto url = parse_url(text);
  if (!url) return context(url.error());
  std::string scheme = url_part(url->get(), CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https")
    return context(make_error("the scheme must be http or https, as in http://pyroscope:4040"));
  if (url_part(url->get(), CURLUPART_HOST).empty()) return context(make_error("no host"));
  return scheme;
}

std::string lowercase_first(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  return text;
}

// Why a transfer failed, in a few words.
std::string transfer_cause(CURLcode code, const char* detail, long os_error, std::chrono::milliseconds timeout) {
  if (code == CURLE_COULDNT_CONNECT && os_error == ECONNREFUSED) return "connection refused";
  if (code == CURLE_OPERATION_TIMEDOUT) return "no answer within " + std::to_string(timeout.count()) + " ms";
  std::string text = detail[0] != '\0' ? detail : curl_easy_strerror(code);
  while (!text.empty() && (text.back() == '\n' || text.back() == '.')) text.pop_back();
  return lowercase_first(text);
}

size_t keep_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  size_t bytes = size * count;
  if (body->size() < kMaxKeptBody) body->append(data, std::min(bytes, kMaxKeptBody - body->size()));
  return bytes;
}

// Drops HTML's tags, for the error pages of proxies in front of the backend.
std::string without_tags(std::string_view html) {
  std::string text;
  bool in_tag = false;
  for (char c : html) {
    if (c == '<') in_tag = true;
    if (!in_tag) text += c;
    if (c == '>') {
      in_tag = false;
      text += ' ';
    }
  }
  return text;
}

}  // namespace

Status check_push_target(const PushTarget& target) {
  auto scheme = check_url(target.url);
  if (!scheme) return scheme.error();
  if (*scheme != "https" && (!target.ca_file.empty() || !target.client_cert.empty() || target.tls_insecure))
    return make_error("--push '{}': the TLS options are for an https URL", target.url);
  if (!target.client_key.empty() && target.client_cert.empty()) return make_error("--tls-key needs --tls-cert");
  if (!target.bearer_token.empty() && !target.basic_user.empty())
    return make_error("--bearer-token-file and --basic-auth: give one or the other");
  if (!target.basic_password.empty() && target.basic_user.empty()) return make_error("a password needs --basic-auth USER");
  for (auto [flag, value] : {std::pair<std::string_view, std::string_view>{"--tenant", target.tenant},
                             {"--bearer-token-file", target.bearer_token}})
    if (Status ok = check_header_value(flag, value); !ok) return ok;
  for (auto [flag, path] : {std::pair<std::string_view, const std::string&>{"--tls-ca", target.ca_file},
                            {"--tls-cert", target.client_cert}, {"--tls-key", target.client_key}})
    if (!path.empty())
      if (Status readable = check_readable(flag, path); !readable) return readable;
  if (target.timeout.count() <= 0) return make_error("the push timeout must be positive");
  return Ok{};
}

Result<std::string> push_endpoint(const std::string& base_url, bool redact) {
  auto url = parse_url(base_url);
  if (!url) return with_context(url.error(), "--push '" + base_url + "'");
  std::string path = url_part(url->get(), CURLUPART_PATH);
  while (!path.empty() && path.back() == '/') path.pop_back();
  path += kPushPath;
  curl_url_set(url->get(), CURLUPART_PATH, path.c_str(), 0);
  if (redact) {
    curl_url_set(url->get(), CURLUPART_USER, nullptr, 0);
    curl_url_set(url->get(), CURLUPART_PASSWORD, nullptr, 0);
  }
  return url_part(url->get(), CURLUPART_URL);
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string text;
  text.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t group = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) text += kAlphabet[(group >> shift) & 63];
  }
  if (size_t left = bytes.size() - i; left > 0) {
    uint32_t group = uint32_t(uint8_t(bytes[i])) << 16 | (left == 2 ? uint32_t(uint8_t(bytes[i + 1])) << 8 : 0);
    text += kAlphabet[(group >> 18) & 63];
    text += kAlphabet[(group >> 12) & 63];
    text += left == 2 ? kAlphabet[(group >> 6) & 63] : '=';
    text += '=';
  }
  return text;
}

std::string random_uuid_v4() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  uint64_t high = random(), low = random();
  high = (high & ~0xf000ull) | 0x4000ull;                     // version 4
  low = (low & ~(3ull << 62)) | (2ull << 62);                 // variant 10xx
  std::string hex = fmt::format("{:016x}{:016x}", high, low);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

std::string push_request_body(const Upload& upload, std::string_view sample_id) {
  using nlohmann::json;
  json labels = json::array();
  bool named = false;
  for (const auto& [name, value] : upload.labels) named = named || name == "__name__";
  if (!named) labels.push_back({{"name", "__name__"}, {"value", "memory"}});
  for (const auto& [name, value] : upload.labels) labels.push_back({{"name", name}, {"value", value}});
  json sample = json::object();
  sample["ID"] = sample_id;
  sample["rawProfile"] = base64_encode(upload.pprof);
  json series = json::object();
  series["labels"] = std::move(labels);
  series["samples"] = json::array({std::move(sample)});
  json body = json::object();
  body["series"] = json::array({std::move(series)});
  // Labels come from the traced processes (their names, their command
  // lines), which need not be UTF-8: replace what is not, never throw.
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

PushResult classify_http_status(long status) {
  if (status >= 200 && status < 300) return PushResult::ok;
  if (status == 408 || status == 429 || status >= 500) return PushResult::retry;
  return PushResult::rejected;
}

std::string error_body_excerpt(std::string_view body, size_t limit) {
  std::string text;
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
    if (parsed.contains("code") && parsed["code"].is_string()) text = parsed["code"].get<std::string>() + ": ";
    text += parsed["message"].get<std::string>();
  } else {
    size_t start = body.find_first_not_of(" \t\r\n");
    text = start != std::string_view::npos && body[start] == '<' ? without_tags(body) : std::string(body);
  }
  std::string line;
  for (char c : text) {
    bool space = static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ' ';
    if (space && (line.empty() || line.back() == ' ')) continue;
    line += space ? ' ' : c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  if (line.size() > limit) {
    size_t cut = limit;
    // Never end in the middle of a UTF-8 sequence.
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xc0) == 0x80) --cut;
    line = line.substr(0, cut) + "...";
  }
  return line;
}

// The curl handle and what it points into, kept alive between pushes.
struct Pusher::Curl {
  CURL* handle = nullptr;
  curl_slist* headers = nullptr;
  std::chrono::milliseconds timeout{};
  std::string body;      // the request being sent
  std::string response;  // the start of the answer's body
  char error[CURL_ERROR_SIZE] = {};
  ~Curl() {
    curl_slist_free_all(headers);
    if (handle != nullptr) curl_easy_cleanup(handle);
  }
};

namespace {

// The options every push shares.
Status configure(CURL* handle, curl_slist** headers, const PushTarget& target, const std::string& endpoint) {
  for (const std::string& header :
       {std::string("Content-Type: application/json"), std::string("Connect-Protocol-Version: 1"),
        // curl would wait a second for a "100 Continue" before a large body.
        std::string("Expect:"), target.tenant.empty() ? "" : "X-Scope-OrgID: " + target.tenant,
        target.bearer_token.empty() ? "" : "Authorization: Bearer " + target.bearer_token}) {
    if (header.empty()) continue;
    curl_slist* appended = curl_slist_append(*headers, header.c_str());
    if (appended == nullptr) return make_error("out of memory");
    *headers = appended;
  }
  bool ok = curl_easy_setopt(handle, CURLOPT_URL, endpoint.c_str()) == CURLE_OK;
  ok &= curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
  ok &= curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
  ok &= curl_easy_setopt(handle, CURLOPT_HTTPHEADER, *headers) == CURLE_OK;
  ok &= curl_easy_setopt(handle, CURLOPT_POST, 1L) == CURLE_OK;
  ok &= curl_easy_setopt(handle, CURLOPT_USERAGENT, "gotrace-agent") == CURLE_OK;
  ok &= curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(target.timeout.count())) == CURLE_OK;
  ok &= curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
  ok &= curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, keep_body) == CURLE_OK;
  if (!target.basic_user.empty()) {
    ok &= curl_easy_setopt(handle, CURLOPT_HTTPAUTH, CURLAUTH_BASIC) == CURLE_OK;
    ok &= curl_easy_setopt(handle, CURLOPT_USERNAME, target.basic_user.c_str()) == CURLE_OK;
    ok &= curl_easy_setopt(handle, CURLOPT_PASSWORD, target.basic_password.c_str()) == CURLE_OK;
  }
  if (!target.ca_file.empty()) ok &= curl_easy_setopt(handle, CURLOPT_CAINFO, target.ca_file.c_str()) == CURLE_OK;
  if (!target.client_cert.empty()) ok &= curl_easy_setopt(handle, CURLOPT_SSLCERT, target.client_cert.c_str()) == CURLE_OK;
  if (!target.client_key.empty()) ok &= curl_easy_setopt(handle, CURLOPT_SSLKEY, target.client_key.c_str()) == CURLE_OK;
  if (target.tls_insecure) {
    ok &= curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L) == CURLE_OK;
    ok &= curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK;
  }
  if (!ok) return make_error("--push '{}': this libcurl lacks an option the agent needs", target.url);
  return Ok{};
}

}  // namespace

Result<std::unique_ptr<Pusher>> Pusher::create(const PushTarget& target) {
  if (Status checked = check_push_target(target); !checked) return checked.error();
  static std::once_flag initialized;
  static CURLcode initialization = CURLE_OK;
  std::call_once(initialized, [] { initialization = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (initialization != CURLE_OK) return make_error("libcurl: {}", curl_easy_strerror(initialization));
  auto endpoint = push_endpoint(target.url, false);
  auto shown = push_endpoint(target.url, true);
  if (!endpoint || !shown) return endpoint ? shown.error() : endpoint.error();
  auto curl = std::make_unique<Curl>();
  curl->handle = curl_easy_init();
  if (curl->handle == nullptr) return make_error("libcurl: cannot make a handle");
  curl->timeout = target.timeout;
  if (Status configured = configure(curl->handle, &curl->headers, target, *endpoint); !configured)
    return configured.error();
  curl_easy_setopt(curl->handle, CURLOPT_WRITEDATA, &curl->response);
  curl_easy_setopt(curl->handle, CURLOPT_ERRORBUFFER, curl->error);
  return std::unique_ptr<Pusher>(new Pusher(std::move(curl), std::move(*shown)));
}

Pusher::Pusher(std::unique_ptr<Curl> curl, std::string shown_endpoint)
    : curl_(std::move(curl)), shown_endpoint_(std::move(shown_endpoint)) {}

Pusher::~Pusher() = default;

PushOutcome Pusher::push(const Upload& upload) {
  curl_->body = push_request_body(upload, random_uuid_v4());
  curl_->response.clear();
  curl_->error[0] = '\0';
  curl_easy_setopt(curl_->handle, CURLOPT_POSTFIELDS, curl_->body.data());
  curl_easy_setopt(curl_->handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(curl_->body.size()));
  CURLcode code = curl_easy_perform(curl_->handle);
  PushOutcome result = outcome(code, curl_->response);
  if (result.result != PushResult::ok)
    result.message = fmt::format("push of {} to {}: {}", upload.what.empty() ? "a profile" : upload.what,
                                 shown_endpoint_, result.cause);
  curl_->body = std::string();  // no profile's copy stays behind
  return result;
}

PushOutcome Pusher::outcome(int curl_code, std::string_view body) {
  PushOutcome result;
  auto code = static_cast<CURLcode>(curl_code);
  if (code != CURLE_OK) {
    long os_error = 0;
    curl_easy_getinfo(curl_->handle, CURLINFO_OS_ERRNO, &os_error);
    result.result = PushResult::retry;
    result.cause = transfer_cause(code, curl_->error, os_error, curl_->timeout);
    return result;
  }
  long status = 0;
  curl_easy_getinfo(curl_->handle, CURLINFO_RESPONSE_CODE, &status);
  result.http_status = static_cast<int>(status);
  result.result = classify_http_status(status);
  if (result.result == PushResult::ok) return result;
  result.cause = "HTTP " + std::to_string(status);
  if (status >= 300 && status < 400) result.cause += " (a redirect; --push must name the backend itself)";
  if (std::string excerpt = error_body_excerpt(body); !excerpt.empty()) result.cause += ": " + excerpt;
  return result;
}

}  // namespace gotrace
