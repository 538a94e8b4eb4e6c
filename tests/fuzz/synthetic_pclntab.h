// The pclntab of a synthetic Go executable (tests/fuzz/synthetic_go.h), in
// the spec's format, and main.main's inline tree for go:func.*.
#pragma once

#include <cstdint>

#include "tests/fuzz/synthetic_elf.h"
#include "tests/fuzz/synthetic_go.h"

namespace gotrace::fuzz {

struct Tables {
  Bytes pclntab;  // loaded at kPclntab
  Bytes gofunc;   // loaded at kGofunc
  uint64_t funcnametab_offset = 0;
};

Tables make_tables(const Spec& spec);

}  // namespace gotrace::fuzz
