#include "userspace/commands/info_command.h"

#include <iostream>

#include <nlohmann/json.hpp>

#include "symbolizer/go_binary.h"
#include "symbolizer/process_maps.h"
#include "userspace/probe/entry_points.h"
#include "userspace/probe/heap_profiler_hooks.h"
#include "userspace/probe/probe_site.h"
#include "userspace/process/target_process.h"

namespace gotrace {
namespace {

using nlohmann::ordered_json;

// The binary `gotrace info` looks at, and the process running it when the
// target is a pid.
struct InfoTarget {
  std::unique_ptr<GoBinary> binary;
  std::optional<int> pid;
  std::optional<uint64_t> load_bias;
};

Result<InfoTarget> open_target(const InfoOptions& options) {
  InfoTarget target;
  std::optional<ProcessExecutable> process;
  std::string path = options.target;
  std::string display = options.target;
  if (options.pid) {
    auto pid = process_of(*options.pid, "showing the process", std::cerr);
    if (!pid) return pid.error();
    auto inspected = inspect_process(*pid);
    if (!inspected) return inspected.error();
    process = std::move(*inspected);
    path = process->open_path;
    display = process->path;
  }
  auto opened = GoBinary::open(path, display);
  if (!opened) return opened.error();
  target.binary = std::move(*opened);
  if (process) {
    auto translator = AddressTranslator::create(*process, target.binary->elf());
    if (!translator) return translator.error();
    target.pid = process->pid;
    target.load_bias = translator->load_bias();
  }
  return target;
}

// The entry points in `list`, with where `gotrace attach` puts the probe on
// each, or why it would refuse, when they are `probed`. A path gotrace does
// not understand is never probed.
ordered_json describe_entry_points(const GoBinary& binary, const std::vector<EntryPoint>& list, bool probed) {
  ordered_json points = ordered_json::array();
  for (const EntryPoint& entry_point : list) {
    const FunctionInfo& f = entry_point.function;
    auto offset = binary.file_offset(f.entry);
    ordered_json point = {{"function", f.name},
                          {"address", fmt::format("0x{:x}", f.entry)},
                          {"file_offset", offset ? fmt::format("0x{:x}", *offset) : std::string()},
                          {"call_sites", entry_point.call_sites},
                          {"found", entry_point.how_found}};
    if (probed) {
      if (auto site = find_probe_site(binary, f)) {
        point["probe_offset"] = fmt::format("0x{:x}", site->file_offset);
        point["probe_instruction"] = site->instruction;
      } else {
        point["probe_error"] = site.error().message;
      }
    }
    points.push_back(point);
  }
  return points;
}

ordered_json describe_hook(const ProbeSite& site) {
  return {{"function", site.function},
          {"address", fmt::format("0x{:x}", site.entry)},
          {"probe_offset", fmt::format("0x{:x}", site.file_offset)},
          {"probe_instruction", site.instruction}};
}

// Where --heap would watch the runtime's own heap profiler, and for a
// process the rate its heap profiler samples at now.
ordered_json describe_heap_profiler(const InfoTarget& target) {
  auto hooks = find_heap_profiler_hooks(*target.binary);
  if (!hooks) return {{"error", hooks.error().message}};
  ordered_json heap = {{"sample", describe_hook(hooks->sample)},
                       {"free", describe_hook(hooks->free)},
                       {"mem_profile_rate_address", fmt::format("0x{:x}", hooks->mem_profile_rate)},
                       {"special_kind_offset", hooks->special_kind_offset},
                       {"special_profile_kind", hooks->special_profile_kind},
                       {"found", hooks->how_found}};
  if (target.pid) {
    auto rate = read_target_word(*target.pid, hooks->mem_profile_rate + target.load_bias.value_or(0));
    if (rate)
      heap["mem_profile_rate"] = int64_t(*rate);  // a Go int
    else
      heap["mem_profile_rate_error"] = rate.error().message;
  }
  return heap;
}

// Everything `gotrace info` reports, as its --json output has it.
ordered_json gather_info(const InfoTarget& target) {
  const GoBinary& binary = *target.binary;
  const BuildInfo& build = binary.build_info();
  const Pclntab& table = binary.pclntab();
  ordered_json info;
  if (target.pid) info["pid"] = *target.pid;
  info["file"] = binary.name();
  info["go_version"] = build.go_version;
  info["experiments"] = build.experiments;
  info["main_path"] = build.main_path;
  info["pclntab_format"] = std::string(to_string(table.format()));
  info["pclntab_address"] = fmt::format("0x{:x}", binary.pclntab_vaddr());
  info["pclntab_located"] = binary.pclntab_found_by_scan() ? "found by signature scan" : "found by section name";
  info["stripped"] = binary.stripped();
  info["dwarf"] = binary.elf().has_dwarf();
  info["pie"] = binary.elf().is_pie();
  info["functions"] = table.function_count();
  info["text_start"] = fmt::format("0x{:x}", table.text_start());
  info["inlining"] = table.can_expand_inlining();
  info["type_names"] = binary.module_data().has_value();
  info["build_id"] = binary.elf().go_build_id();
  info["gnu_build_id"] = binary.elf().gnu_build_id();
  if (target.load_bias) info["load_bias"] = fmt::format("0x{:x}", *target.load_bias);
  // A binary gotrace cannot trace is still worth looking at: say why.
  auto found = find_allocation_entry_points(binary);
  AllocationEntryPoints none;
  const AllocationEntryPoints& entry_points = found ? *found : none;
  info["allocation_entry_points"] = describe_entry_points(binary, entry_points.entry_points, true);
  if (!found) info["allocation_entry_points_error"] = found.error().message;
  // Allocation paths gotrace does not understand: attach and run refuse the
  // binary unless --allow-unverified-go is given.
  info["unverified_entry_points"] = describe_entry_points(binary, entry_points.unverified, false);
  info["heap_profiler"] = describe_heap_profiler(target);
  return info;
}

void print_binary(const ordered_json& info, std::ostream& out) {
  auto text = [&](const char* key) { return info[key].get<std::string>(); };
  auto yes = [&](const char* key) { return info[key].get<bool>(); };
  if (info.contains("pid")) out << fmt::format("{:<16}{}\n", "pid:", info["pid"].get<int>());
  out << fmt::format("{:<16}{}\n", "file:", text("file"));
  std::string experiments;
  for (const auto& e : info["experiments"]) experiments += (experiments.empty() ? "" : ",") + e.get<std::string>();
  out << fmt::format("{:<16}{}{}\n", "go version:", text("go_version"),
                     experiments.empty() ? "" : " (experiments: " + experiments + ")");
  if (!text("main_path").empty()) out << fmt::format("{:<16}{}\n", "main package:", text("main_path"));
  out << fmt::format("{:<16}{} format at {} ({})\n", "pclntab:", text("pclntab_format"), text("pclntab_address"),
                     text("pclntab_located"));
  out << fmt::format("{:<16}{}\n", "stripped:",
                     yes("stripped") ? (yes("dwarf") ? "symbols only (DWARF kept)" : "yes (no .symtab, no DWARF)")
                                     : (yes("dwarf") ? "no" : "no (.symtab kept, no DWARF)"));
  out << fmt::format("{:<16}{}\n", "pie:", yes("pie") ? "yes" : "no");
  if (info.contains("load_bias")) out << fmt::format("{:<16}{}\n", "load bias:", text("load_bias"));
  out << fmt::format("{:<16}{}\n", "functions:", info["functions"].get<uint64_t>());
  out << fmt::format("{:<16}{}\n", "inlined frames:", yes("inlining") ? "yes" : "no (module data not found)");
  out << fmt::format("{:<16}{}\n", "type names:", yes("type_names") ? "yes" : "no (module data not found)");
  if (!text("build_id").empty()) out << fmt::format("{:<16}{}\n", "build id:", text("build_id"));
}

void print_entry_points(const ordered_json& points, std::ostream& out) {
  for (const auto& point : points) {
    std::string probe = point.contains("probe_offset")
                            ? fmt::format("probe at file offset {} ({})", point["probe_offset"].get<std::string>(),
                                          point["probe_instruction"].get<std::string>())
                        : point.contains("probe_error") ? "not probeable: " + point["probe_error"].get<std::string>()
                                                        : std::string("not probed");
    out << fmt::format("  {:<40} {:>10}  file offset {:<9} {}\n", point["function"].get<std::string>(),
                       point["address"].get<std::string>(), point["file_offset"].get<std::string>(), probe);
    out << fmt::format("    {}\n", point["found"].get<std::string>());
  }
}

void print_allocation_paths(const ordered_json& info, std::ostream& out) {
  if (info.contains("allocation_entry_points_error")) {
    out << fmt::format("allocation entry points: none ({})\n",
                       info["allocation_entry_points_error"].get<std::string>());
    return;
  }
  const ordered_json& entry_points = info["allocation_entry_points"];
  out << fmt::format("allocation entry points ({}), found from the calls the code makes, each probed after its "
                     "stack-bound check:\n",
                     entry_points.size());
  print_entry_points(entry_points, out);
  const ordered_json& unverified = info["unverified_entry_points"];
  if (!unverified.empty()) {
    out << fmt::format("allocation paths not understood ({}), never probed; attach and run refuse the binary "
                       "without --allow-unverified-go:\n",
                       unverified.size());
    print_entry_points(unverified, out);
  }
}

// What the live MemProfileRate means for --heap.
std::string mem_profile_rate_text(int64_t rate) {
  if (rate == 0)
    return "0: the program's heap profiling is off (it does not link runtime/pprof or net/http/pprof, or it set "
           "runtime.MemProfileRate to 0); --heap would see no allocation";
  if (rate == 1) return "1: the runtime records every allocation";
  if (rate < 0) return fmt::format("{}: not a rate the runtime samples at", rate);
  return fmt::format("{}: one sampled allocation per {} bytes on average", rate, rate);
}

void print_heap_profiler(const ordered_json& heap, std::ostream& out) {
  if (heap.contains("error")) {
    out << fmt::format("heap profiler hooks: none ({})\n", heap["error"].get<std::string>());
    return;
  }
  out << "heap profiler hooks (--heap), each probed after its stack-bound check:\n";
  for (const char* key : {"sample", "free"}) {
    const ordered_json& hook = heap[key];
    out << fmt::format("  {:<40} {:>10}  probe at file offset {} ({})\n", hook["function"].get<std::string>(),
                       hook["address"].get<std::string>(), hook["probe_offset"].get<std::string>(),
                       hook["probe_instruction"].get<std::string>());
  }
  out << fmt::format("  runtime.MemProfileRate at {}\n", heap["mem_profile_rate_address"].get<std::string>());
  out << fmt::format("    {}\n", heap["found"].get<std::string>());
  if (heap.contains("mem_profile_rate"))
    out << fmt::format("  MemProfileRate now: {}\n", mem_profile_rate_text(heap["mem_profile_rate"].get<int64_t>()));
  if (heap.contains("mem_profile_rate_error"))
    out << fmt::format("  MemProfileRate now: unknown ({})\n", heap["mem_profile_rate_error"].get<std::string>());
}

}  // namespace

Status run_info(const InfoOptions& options, std::ostream& out) {
  auto target = open_target(options);
  if (!target) return target.error();
  ordered_json info = gather_info(*target);
  if (options.json) {
    out << info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return Ok{};
  }
  print_binary(info, out);
  print_allocation_paths(info, out);
  print_heap_profiler(info["heap_profiler"], out);
  return Ok{};
}

}  // namespace gotrace
