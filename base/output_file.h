// The files gotrace writes its results to, as the user named them.
//
// gotrace runs as root on hosts it does not own, so an output path is taken
// as the user meant it and nothing else is touched:
// - "-" is standard output;
// - a path that names something other than a regular file (a device such as
//   /dev/null, a pipe, a terminal, /dev/stdout) is opened and written
//   through, never replaced;
// - symlinks are followed: the file they lead to is written, the link stays;
// - a regular file (or a new one) is written to an unnamed temporary file in
//   the same directory (O_TMPFILE, or a uniquely named one where the file
//   system has no O_TMPFILE) and put in place by a rename at the end, so a
//   reader never sees half a file, and a gotrace killed while writing leaves
//   the old file as it was.
// Nothing gotrace did not create is ever deleted or renamed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace gotrace {

// Where bytes go: the writers of every output format stream into one, so
// that no output is ever built whole in memory.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status write(std::string_view bytes) = 0;
};

// An output as the command line names it.
struct OutputPath {
  std::string flag;  // the option that named it, e.g. "--output": errors name it
  std::string path;  // as given; "-" is standard output; "" is no output
};

// Checks every output before anything is attached, so that a trace is never
// lost at the end to something that could have been seen at the start: each
// can be written, and no two name the same file. Every problem is reported,
// one line each (lines joined by '\n').
Status check_outputs(const std::vector<OutputPath>& outputs);

// One output being written. Bytes go through a buffer; commit() makes the
// output whole. An OutputFile destroyed before commit() leaves what the path
// named as it was (a regular file), or as far as it was written (a device or
// pipe, which cannot be taken back).
class OutputFile final : public ByteSink {
 public:
  static Result<OutputFile> create(const OutputPath& output);
  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&&) = delete;
  ~OutputFile() override;

  Status write(std::string_view bytes) override;
  Status commit();

 private:
  OutputFile() = default;
  Status flush();
  Status fail(int error);

  OutputPath output_;
  Fd fd_;
  std::string target_;     // the regular file to put in place; "" when written through
  std::string temporary_;  // a named temporary file of ours, when there is no O_TMPFILE
  std::string buffer_;
  bool failed_ = false;
};

// Writes `bytes` to `output` and commits it.
Status write_output(const OutputPath& output, std::string_view bytes);

}  // namespace gotrace
