// Writes small synthetic seed inputs for the fuzz targets (see scripts/fuzz.sh).
//
//   make_fuzz_seeds <go-binary-dir> <hostile-dir> <build-info-dir> <proc-maps-dir> <pprof-dir>
//
// Real Go binaries are megabytes; the fuzzer mutates them slowly and rarely
// hits the few bytes that matter. These seeds are complete Go executables of
// a few KiB, one per pclntab/moduledata/build-info format gotrace reads
// (Go 1.16, 1.17, 1.19, 1.20, 1.26, 1.27, with and without section headers,
// plus a refused pre-1.16 table): four functions, one with two levels of
// inlining, two type descriptors, build info and module data. Every seed is
// checked to load and symbolize with the library before it is written, so a
// seed that stopped exercising the deep paths fails loudly. Two more seeds,
// in <hostile-dir>, are hostile layouts that used to make loading hang
// (make_hostile); they are slow enough (milliseconds) to drag the small-input
// run down, so scripts/fuzz.sh gives them to the full-size run.

#include <elf.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "export/profile.pb.h"
#include "symbolizer/elf_file.h"
#include "symbolizer/go_binary.h"
#include "tests/fuzz/synthetic_elf.h"
#include "tests/fuzz/synthetic_go.h"
#include "userspace/probe/entry_points.h"

namespace {

using namespace gotrace;
using namespace gotrace::fuzz;

bool write_file(const std::string& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  out.close();
  if (!out) std::fprintf(stderr, "make_fuzz_seeds: cannot write %s\n", path.c_str());
  return bool(out);
}

// Checks that a seed takes the symbolizer down its deep paths.
bool verify(const Spec& spec, const Bytes& file) {
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "make_fuzz_seeds: %s: %s\n", spec.file_name.c_str(), why.c_str());
    return false;
  };
  auto elf = ElfFile::from_bytes(file, spec.file_name);
  if (!elf) return fail(elf.error().message);
  auto binary = GoBinary::from_elf(std::move(*elf));
  if (spec.format == Format::kLegacy) return binary ? fail("a pre-1.16 table was accepted") : true;
  if (!binary) return fail(binary.error().message);
  const GoBinary& b = **binary;
  if (b.elf().go_build_id().empty() || b.elf().gnu_build_id().empty()) return fail("build IDs not found");
  if (b.build_info().setting("-buildmode") != "exe") return fail("build settings not read");
  if (!b.module_data()) return fail("module data not found");
  if (b.pclntab_found_by_scan() == spec.sections) return fail("pclntab found the wrong way");
  // main.main's call to runtime.mallocgcSmallNoscanSC2 reaches the allocator
  // only through mallocgc: one entry point, with one direct call.
  auto found = find_allocation_entry_points(b);
  if (!found || found->entry_points.size() != 1 || found->entry_points[0].call_sites != 1)
    return fail("allocation entry points not found");
  std::vector<Frame> frames;
  if (const char* reason = b.symbolize(kText + 0x200 + 0x28, false, &frames)) return fail(reason);
  std::string got;
  for (const Frame& f : frames) got += fmt::format("{} {}:{}{}; ", f.function, f.file, f.line, f.inlined ? " (inlined)" : "");
  if (got != "main.inner /src/seed/main.go:30 (inlined); main.middle /src/seed/main.go:20 (inlined); "
             "main.main /src/seed/main.go:10; ")
    return fail("inlined frames: " + got);
  frames.clear();
  if (const char* reason = b.symbolize(kText + 0x18, true, &frames)) return fail(reason);
  if (frames.size() != 1 || frames[0].function != "runtime.mallocgc" || frames[0].line != 5 ||
      frames[0].file != "/goroot/src/runtime/malloc.go")
    return fail("runtime.mallocgc frame wrong");
  if (b.type_name(kTypeStar) != "main.T" || b.type_name(kTypeSlice) != "[]uint8") return fail("type names wrong");
  return true;
}

// Hostile layouts that once made loading take minutes to hours: many
// pclntab signatures in writable data, and many PT_LOAD segments mapping
// the same bytes. Both must now be refused quickly.
Bytes make_hostile(int segments, uint64_t data_size) {
  uint64_t data_off = (sizeof(Elf64_Ehdr) + segments * sizeof(Elf64_Phdr) + 15) / 16 * 16;
  Bytes file(data_off + data_size, 0);
  for (uint64_t at = data_off; at + 8 <= file.size(); at += 8) {
    put32(file, at, 0xfffffff1);
    put32(file, at + 4, 0x08010000);
  }
  Elf64_Ehdr ehdr = elf_header(ET_EXEC, 0, uint16_t(segments));
  put(file, 0, &ehdr, sizeof(ehdr));
  for (int i = 0; i < segments; ++i) {
    uint64_t vaddr = 0x500000 + uint64_t(i) * 0x100000 + data_off;
    put_program_header(file, i, {PT_LOAD, PF_R | PF_W, data_off, vaddr, data_size, data_size, 0x1000});
  }
  return file;
}

// A profile of two sites, one inlined into its caller, with gotrace's labels.
std::string pprof_seed() {
  pprof::Profile profile;
  for (const char* s : {"", "alloc_objects", "count", "alloc_space", "bytes", "main.siteAppend", "main.go",
                        "main.main", "type", "int", "alloc", "growslice", "pid", "/srv/app", "abc123"})
    profile.add_string_table(s);
  for (int type : {1, 3}) {
    auto* value_type = profile.add_sample_type();
    value_type->set_type(type);
    value_type->set_unit(type + 1);
  }
  profile.set_default_sample_type(3);
  auto* mapping = profile.add_mapping();
  mapping->set_id(1);
  mapping->set_memory_start(0x401000);
  mapping->set_memory_limit(0x500000);
  mapping->set_filename(13);
  mapping->set_build_id(14);
  for (int id : {1, 2}) {
    auto* function = profile.add_function();
    function->set_id(id);
    function->set_name(id == 1 ? 5 : 7);
    function->set_filename(6);
  }
  auto* location = profile.add_location();
  location->set_id(1);
  location->set_mapping_id(1);
  location->set_address(0x401234);
  for (int id : {1, 2}) {
    auto* line = location->add_line();
    line->set_function_id(id);
    line->set_line(id * 10);
  }
  for (int n : {1, 2}) {
    auto* sample = profile.add_sample();
    sample->add_location_id(1);
    sample->add_value(n);
    sample->add_value(n * 64);
    for (auto [key, value] : {std::pair{8, 9}, std::pair{10, 11}}) {
      auto* label = sample->add_label();
      label->set_key(key);
      label->set_str(value);
    }
    auto* pid = sample->add_label();
    pid->set_key(12);
    pid->set_num(4242);
  }
  std::string bytes;
  profile.SerializeToString(&bytes);
  return bytes;
}

std::string gzip(const std::string& bytes) {
  z_stream stream{};
  deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, bytes.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = uInt(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = uInt(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(out.size() - stream.avail_out);
  deflateEnd(&stream);
  return out;
}

bool write_text(const std::string& path, const std::string& bytes) {
  return write_file(path, std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr,
                 "usage: make_fuzz_seeds <go-binary-dir> <hostile-dir> <build-info-dir> <proc-maps-dir> <pprof-dir>\n");
    return 2;
  }
  std::string binaries = argv[1], hostile = argv[2], build_info = argv[3], maps = argv[4], pprof_dir = argv[5];
  const Spec specs[] = {
      {"synth-go1.26", "go1.26.8", Format::kGo120, true, false, false, false, 296, 304, 320},
      {"synth-go1.26-nosections", "go1.26.8", Format::kGo120, false, false, false, false, 296, 304, 320},
      {"synth-go1.27", "go1.27.4 X:nosizespecializedmalloc,greenteagc", Format::kGo120, true, false, false, false,
       296, 312, 344},
      {"synth-go1.20", "go1.20.14", Format::kGo120, true, true, false, false, 296, 304, 320},
      {"synth-go1.19-nosections", "go1.19.13", Format::kGo118, false, true, false, false, 280, 288, 304},
      {"synth-go1.17", "go1.17.13", Format::kGo116, true, true, true, false, 280, 288, std::nullopt},
      {"synth-go1.16-nosections", "go1.16.15", Format::kGo116, false, true, true, true, 280, 288, std::nullopt},
      {"synth-go1.15", "go1.15.15", Format::kLegacy, true, true, true, true, 280, 288, std::nullopt},
  };
  bool ok = true;
  for (const Spec& spec : specs) {
    Bytes file = make_go_binary(spec);
    if (!verify(spec, file)) {
      ok = false;
      continue;
    }
    ok &= write_file(binaries + "/" + spec.file_name, file);
    Bytes data = data_segment(spec, kBuildInfoDataVaddr, 0, 0);
    ok &= write_file(build_info + "/" + spec.file_name, data);
  }
  ok &= write_file(hostile + "/hostile-signatures", make_hostile(1, 16 * 1024));
  ok &= write_file(hostile + "/hostile-overlap", make_hostile(300, 4 * 1024));
  // A Go PIE process as fuzz_proc_maps's fixed ELF file describes it, with
  // the awkward paths a process can give its mappings.
  std::string text =
      "555555554000-555555644000 r-xp 00000000 fd:01 1234567                    /usr/local/bin/app\n"
      "555555654000-5555556d4000 r--p 000f0000 fd:01 1234567                    /usr/local/bin/app\n"
      "5555556d5000-5555556e5000 rw-p 00170000 fd:01 1234567                    /usr/local/bin/app\n"
      "5555556e5000-555555705000 rw-p 00000000 00:00 0 \n"
      "c000000000-c004000000 rw-p 00000000 00:00 0\n"
      "7ffff7fc1000-7ffff7fc5000 r--p 00000000 00:00 0                          [vvar]\n"
      "7ffff7ff0000-7ffff7ff1000 r-xp 00000000 fd:01 42                         /tmp/a b (deleted)\n"
      "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n"
      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";
  ok &= write_text(maps + "/synth-go-pie", text);
  std::string profile = pprof_seed();
  ok &= write_text(pprof_dir + "/two-sites.pb", profile);
  ok &= write_text(pprof_dir + "/two-sites.pb.gz", gzip(profile));
  return ok ? 0 : 1;
}
