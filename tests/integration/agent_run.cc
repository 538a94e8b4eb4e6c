#include "tests/integration/agent_run.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/fixture_builds.h"
#include "tests/support/http_client.h"
#include "userspace/explain/profile_reader.h"

namespace gotrace::testing {

namespace fs = std::filesystem;

AllocsService::AllocsService(const std::string& dir, const std::string& name, const std::string& mode) : name_(name) {
  std::string path = dir + "/" + name;
  fs::copy_file(local_build("allocs", "plain"), path, fs::copy_options::overwrite_existing);
  fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  process_ = std::make_unique<ChildProcess>(std::vector<std::string>{path, mode});
  process_->read_until(mode);
}

int AllocsService::end() {
  process_->close_stdin();
  return process_->wait();
}

bool wait_for(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

int health_port(const BackgroundGotrace& agent) {
  static const std::regex line(R"(metrics at http://127\.0\.0\.1:([0-9]+)/metrics)");
  std::smatch match;
  std::string err = agent.err();
  return std::regex_search(err, match, line) ? std::stoi(match[1]) : 0;
}

Metrics read_metrics(int port) {
  Metrics metrics;
  auto response = http_get(fmt::format("http://127.0.0.1:{}/metrics", port));
  if (!response || response->status != 200) {
    ADD_FAILURE() << "GET /metrics: " << (response ? std::to_string(response->status) : response.error().message);
    return metrics;
  }
  std::istringstream lines(response->body);
  for (std::string text; std::getline(lines, text);) {
    if (text.empty() || text[0] == '#') continue;
    size_t space = text.rfind(' ');
    if (space != std::string::npos) metrics[text.substr(0, space)] = std::stod(text.substr(space + 1));
  }
  return metrics;
}

double metric(const Metrics& metrics, const std::string& name) {
  auto found = metrics.find(name);
  return found == metrics.end() ? -1 : found->second;
}

std::vector<std::string> profile_files(const std::string& dir, const std::string& service) {
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir + "/" + service, error))
    if (entry.path().string().ends_with(".pb.gz")) files.push_back(entry.path().string());
  std::sort(files.begin(), files.end(), [](const std::string& a, const std::string& b) {
    return a.substr(a.size() - 22) < b.substr(b.size() - 22);  // by the time in the name
  });
  return files;
}

SiteFigures sites_of_bytes(const std::string& bytes, const std::string& sample_type) {
  SiteFigures sites;
  auto profile = parse_profile(bytes, "the profile");
  if (!profile) {
    ADD_FAILURE() << profile.error().message;
    return sites;
  }
  auto index = profile->sample_type(sample_type);
  if (!index) {
    ADD_FAILURE() << "the profile has no " << sample_type;
    return sites;
  }
  for (const ProfileSample& sample : profile->samples) {
    for (uint32_t location : sample.locations) {
      const std::vector<ProfileFrame>& frames = profile->locations[location].frames;
      if (frames.empty() || frames.front().function.starts_with("[")) continue;
      sites[frames.front().function] += sample.values[*index];  // innermost first: the site
      break;
    }
  }
  for (auto it = sites.begin(); it != sites.end();) it = it->second == 0 ? sites.erase(it) : std::next(it);
  return sites;
}

SiteFigures sites_of_files(const std::vector<std::string>& profiles, const std::string& sample_type) {
  SiteFigures sum;
  for (const std::string& path : profiles) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& [site, value] : sites_of_bytes(bytes, sample_type)) sum[site] += value;
  }
  return sum;
}

}  // namespace gotrace::testing
