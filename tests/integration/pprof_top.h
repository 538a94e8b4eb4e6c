// Profiles read as a user reads them: `go tool pprof -sample_index=X -top`,
// one row per function, its flat figure (what was allocated with that
// function as the leaf, the call site) first, largest first:
//
//         flat  flat%   sum%        cum   cum%
//   258273493B 66.28% 66.28% 258273493B 66.28%  main.siteLeakTemporary
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gotrace::testing {

struct PprofTop {
  struct Row {
    std::string function;
    int64_t flat = 0;  // bytes for the *_space sample types (-unit=B), else a count
  };
  std::vector<Row> rows;  // as pprof orders them: by flat, largest first
  std::string text;       // what pprof printed

  // The flat figure of `function`, 0 when it has no row.
  int64_t flat(const std::string& function) const;
  // The function of the first row, "" when there is none.
  std::string top() const { return rows.empty() ? std::string() : rows.front().function; }
};

// Every function, none dropped for being small (-nodefraction=0); `options`
// go to pprof as well, e.g. {"-tagfocus=process=compile"}.
PprofTop read_pprof_top(const std::string& path, const std::string& sample_index,
                        const std::vector<std::string>& options = {});

}  // namespace gotrace::testing
