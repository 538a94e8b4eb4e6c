#include "tests/integration/pprof_top.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tests/support/child_process.h"

namespace gotrace::testing {

int64_t PprofTop::flat(const std::string& function) const {
  for (const Row& row : rows)
    if (row.function == function) return row.flat;
  return 0;
}

PprofTop read_pprof_top(const std::string& path, const std::string& sample_index,
                        const std::vector<std::string>& options) {
  std::vector<std::string> argv = {"go", "tool", "pprof", "-sample_index=" + sample_index, "-unit=B",
                                   "-nodefraction=0", "-nodecount=100000", "-top"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(path);
  auto result = run_command(argv);
  EXPECT_EQ(result.exit_code, 0) << path << ": " << result.err;
  PprofTop top;
  top.text = result.out;
  std::istringstream in(result.out);
  bool in_rows = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string flat, flat_percent, sum_percent, cum, cum_percent;
    if (!(fields >> flat >> flat_percent >> sum_percent >> cum >> cum_percent)) continue;
    if (flat == "flat") {
      in_rows = true;
      continue;
    }
    if (!in_rows) continue;
    PprofTop::Row row;
    std::getline(fields >> std::ws, row.function);
    if (row.function.ends_with(" (inline)")) row.function.resize(row.function.size() - 9);
    if (flat.ends_with('B')) flat.pop_back();
    row.flat = std::stoll(flat);
    top.rows.push_back(std::move(row));
  }
  EXPECT_FALSE(top.rows.empty()) << "no rows in go tool pprof -top " << path << ":\n" << result.out;
  return top;
}

}  // namespace gotrace::testing
