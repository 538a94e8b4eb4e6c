#include "tests/reliability/reliability_support.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>

#include "tests/support/background_gotrace.h"

namespace gotrace::testing {
namespace {

std::vector<std::string> with_prefix(std::vector<std::string> prefix, const std::string& binary) {
  prefix.push_back(binary);
  prefix.push_back("churn");
  return prefix;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// The number just before `end` in `text` (digits and thousands separators
// are not used by the summary: plain digits).
uint64_t number_before(const std::string& text, size_t end) {
  size_t begin = end;
  while (begin > 0 && std::isdigit(uint8_t(text[begin - 1]))) --begin;
  return begin == end ? 0 : std::stoull(text.substr(begin, end - begin));
}

}  // namespace

ChurnResult parse_churn_output(int exit_code, const std::string& output) {
  ChurnResult result;
  result.exit_code = exit_code;
  result.output = output;
  std::istringstream lines(output);
  std::string word;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    fields >> word;
    if (word == "checksum") {
      std::string sum;
      int rounds = 0;
      if (fields >> sum >> rounds) result.checksums[sum] += rounds;
    } else if (word == "mallocs") {
      fields >> result.mallocs;
    }
  }
  return result;
}

::testing::AssertionResult worked_as_untraced(const ChurnResult& result, const std::string& untraced) {
  if (result.exit_code != 0)
    return ::testing::AssertionFailure() << "the target exited with status " << result.exit_code << ":\n" << result.output;
  if (result.checksums.size() != 1)
    return ::testing::AssertionFailure() << "rounds computed different checksums:\n" << result.output;
  if (result.checksums.begin()->first != untraced)
    return ::testing::AssertionFailure() << "the rounds computed " << result.checksums.begin()->first
                                         << ", the untraced run " << untraced << ":\n"
                                         << result.output;
  return ::testing::AssertionSuccess();
}

std::string untraced_checksum(const std::string& binary) {
  CommandResult run = run_command({binary, "churn", "1"});
  ChurnResult result = parse_churn_output(run.exit_code, run.out);
  if (run.exit_code != 0 || result.checksums.size() != 1) {
    ADD_FAILURE() << "the untraced churn run failed (" << run.exit_code << "): " << run.out << run.err;
    return "";
  }
  return result.checksums.begin()->first;
}

ChurnTarget::ChurnTarget(const std::string& binary, const std::vector<std::string>& prefix)
    : process_(with_prefix(prefix, binary)) {
  lines_ = process_.read_until("churn");
}

char process_state(pid_t pid) {
  // The state is the field after the command's closing parenthesis.
  std::ifstream stat_file(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

bool ChurnTarget::running() const {
  char state = process_state(pid());
  return state == 'R' || state == 'S' || state == 'D';
}

bool ChurnTarget::burst(int count) {
  process_.write_line(fmt::format("burst {}", count));
  std::string done = fmt::format("burst {} done", count);
  std::vector<std::string> before = process_.read_until(done);
  lines_.insert(lines_.end(), before.begin(), before.end());
  // read_until stops at EOF too: only the marker itself is not kept.
  return process_.pid() > 0 && running();
}

ChurnResult ChurnTarget::finish() {
  process_.close_stdin();
  std::vector<std::string> rest = process_.read_until("\n");  // no line is a newline: to the end
  lines_.insert(lines_.end(), rest.begin(), rest.end());
  int exit_code = process_.wait();
  return parse_churn_output(exit_code, joined(lines_));
}

SeededSchedule::SeededSchedule() {
  const char* given = std::getenv("GOTRACE_TEST_SEED");
  seed_ = given != nullptr ? std::strtoull(given, nullptr, 10) : std::random_device{}();
  random_.seed(seed_);
}

int64_t SeededSchedule::uniform(int64_t low, int64_t high) {
  return std::uniform_int_distribution<int64_t>(low, high)(random_);
}

std::string SeededSchedule::describe() const {
  return fmt::format("random schedule seed {} (GOTRACE_TEST_SEED={} replays it)", seed_, seed_);
}

std::chrono::milliseconds time_budget(std::chrono::seconds nominal) {
  const char* given = std::getenv("GOTRACE_RELIABILITY_TIME");
  double factor = given != nullptr ? std::strtod(given, nullptr) : 1.0;
  if (!(factor > 0)) factor = 1.0;
  return std::chrono::milliseconds(int64_t(double(nominal.count()) * 1000 * factor));
}

std::chrono::microseconds time_to_attach(pid_t target) {
  using std::chrono::microseconds;
  microseconds best = microseconds::max();
  for (int i = 0; i < 2; ++i) {
    BackgroundGotrace tracer({"attach", std::to_string(target), "--no-tui"});
    EXPECT_TRUE(tracer.wait_attached()) << tracer.err();
    best = std::min(best, std::chrono::duration_cast<microseconds>(std::chrono::steady_clock::now() - tracer.started()));
    tracer.signal(SIGINT);
    EXPECT_EQ(tracer.wait(), 0) << tracer.err();
  }
  return best;
}

namespace {

// The sum of the counts of the folded stacks that `take` accepts.
uint64_t folded_sum(const std::string& folded, const std::function<bool(const std::string& stack)>& take) {
  uint64_t total = 0;
  std::istringstream lines(folded);
  for (std::string line; std::getline(lines, line);) {
    size_t space = line.rfind(' ');
    if (space != std::string::npos && take(line.substr(0, space))) total += std::stoull(line.substr(space + 1));
  }
  return total;
}

}  // namespace

uint64_t folded_count_at(const std::string& folded, const std::string& function) {
  return folded_sum(folded, [&](const std::string& stack) { return stack == function || stack.ends_with(";" + function); });
}

uint64_t folded_total(const std::string& folded) {
  return folded_sum(folded, [](const std::string&) { return true; });
}

bool parse_summary(const std::string& gotrace_stderr, SummaryCounts* counts) {
  // "traced pid N for", or "traced N processes for" with a line for each after it.
  size_t line = gotrace_stderr.find("gotrace: traced ");
  if (line == std::string::npos) return false;
  std::string summary = gotrace_stderr.substr(line, gotrace_stderr.find('\n', line) - line);
  size_t allocations = summary.find(" allocations, ");
  if (allocations == std::string::npos) return false;
  counts->allocations = number_before(summary, allocations);
  counts->lost = 0;
  for (size_t at = summary.find(" dropped ("); at != std::string::npos; at = summary.find(" dropped (", at + 1))
    counts->lost += number_before(summary, at);
  size_t kernel = gotrace_stderr.find(" allocations (", line);
  if (kernel != std::string::npos) counts->kernel_allocations = number_before(gotrace_stderr, kernel);
  return true;
}

}  // namespace gotrace::testing
