#include "userspace/commands/info_command.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "symbolizer/go_binary.h"
#include "symbolizer/process_maps.h"
#include "userspace/probe/entry_points.h"
#include "userspace/probe/probe_site.h"

namespace gotrace {
namespace {

bool looks_like_pid(const std::string& target) {
  if (target.empty() || !std::all_of(target.begin(), target.end(), [](char c) { return std::isdigit(uint8_t(c)); }))
    return false;
  struct stat st;
  return stat(target.c_str(), &st) != 0;  // a file named "123" is a file
}

}  // namespace

Status run_info(const InfoOptions& options, std::ostream& out) {
  std::optional<ProcessExecutable> process;
  std::string path = options.target;
  std::string display = options.target;
  if (looks_like_pid(options.target)) {
    auto inspected = inspect_process(std::stoi(options.target));
    if (!inspected) return inspected.error();
    process = std::move(*inspected);
    path = process->open_path;
    display = process->path;
  }
  auto opened = GoBinary::open(path, display);
  if (!opened) return opened.error();
  const GoBinary& binary = **opened;
  std::optional<AddressTranslator> translator;
  if (process) {
    auto created = AddressTranslator::create(*process, binary.elf());
    if (!created) return created.error();
    translator = std::move(*created);
  }

  const BuildInfo& build = binary.build_info();
  const Pclntab& table = binary.pclntab();
  // A binary gotrace cannot trace is still worth looking at: say why.
  auto found = find_allocation_entry_points(binary);
  AllocationEntryPoints none;
  const AllocationEntryPoints& entry_points = found ? *found : none;
  std::string pclntab_where = binary.pclntab_found_by_scan() ? "found by signature scan" : "found by section name";

  nlohmann::ordered_json info;
  if (process) info["pid"] = process->pid;
  info["file"] = binary.name();
  info["go_version"] = build.go_version;
  info["experiments"] = build.experiments;
  info["main_path"] = build.main_path;
  info["pclntab_format"] = std::string(to_string(table.format()));
  info["pclntab_address"] = fmt::format("0x{:x}", binary.pclntab_vaddr());
  info["pclntab_located"] = pclntab_where;
  info["stripped"] = binary.stripped();
  info["dwarf"] = binary.elf().has_dwarf();
  info["pie"] = binary.elf().is_pie();
  info["functions"] = table.function_count();
  info["text_start"] = fmt::format("0x{:x}", table.text_start());
  info["inlining"] = table.can_expand_inlining();
  info["type_names"] = binary.module_data().has_value();
  info["build_id"] = binary.elf().go_build_id();
  info["gnu_build_id"] = binary.elf().gnu_build_id();
  if (translator) info["load_bias"] = fmt::format("0x{:x}", translator->load_bias());
  auto describe = [&](const std::vector<EntryPoint>& list, bool probed) {
    nlohmann::ordered_json points = nlohmann::ordered_json::array();
    for (const EntryPoint& entry_point : list) {
      const FunctionInfo& f = entry_point.function;
      auto offset = binary.file_offset(f.entry);
      nlohmann::ordered_json point = {{"function", f.name},
                                      {"address", fmt::format("0x{:x}", f.entry)},
                                      {"file_offset", offset ? fmt::format("0x{:x}", *offset) : std::string()},
                                      {"call_sites", entry_point.call_sites},
                                      {"found", entry_point.how_found}};
      // Where `gotrace attach` puts the probe, or why it would refuse. A path
      // gotrace does not understand is never probed.
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
  };
  info["allocation_entry_points"] = describe(entry_points.entry_points, true);
  if (!found) info["allocation_entry_points_error"] = found.error().message;
  // Allocation paths gotrace does not understand: attach and run refuse the
  // binary unless --allow-unverified-go is given.
  info["unverified_entry_points"] = describe(entry_points.unverified, false);

  if (options.json) {
    out << info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return Ok{};
  }
  if (process) out << fmt::format("{:<16}{}\n", "pid:", process->pid);
  out << fmt::format("{:<16}{}\n", "file:", binary.name());
  std::string experiments;
  for (const auto& e : build.experiments) experiments += (experiments.empty() ? "" : ",") + e;
  out << fmt::format("{:<16}{}{}\n", "go version:", build.go_version,
                     experiments.empty() ? "" : " (experiments: " + experiments + ")");
  if (!build.main_path.empty()) out << fmt::format("{:<16}{}\n", "main package:", build.main_path);
  out << fmt::format("{:<16}{} format at 0x{:x} ({})\n", "pclntab:", to_string(table.format()),
                     binary.pclntab_vaddr(), pclntab_where);
  out << fmt::format("{:<16}{}\n", "stripped:",
                     binary.stripped() ? (binary.elf().has_dwarf() ? "symbols only (DWARF kept)" : "yes (no .symtab, no DWARF)")
                                       : (binary.elf().has_dwarf() ? "no" : "no (.symtab kept, no DWARF)"));
  out << fmt::format("{:<16}{}\n", "pie:", binary.elf().is_pie() ? "yes" : "no");
  if (translator) out << fmt::format("{:<16}0x{:x}\n", "load bias:", translator->load_bias());
  out << fmt::format("{:<16}{}\n", "functions:", table.function_count());
  out << fmt::format("{:<16}{}\n", "inlined frames:", table.can_expand_inlining() ? "yes" : "no (module data not found)");
  out << fmt::format("{:<16}{}\n", "type names:", binary.module_data() ? "yes" : "no (module data not found)");
  if (!binary.elf().go_build_id().empty()) out << fmt::format("{:<16}{}\n", "build id:", binary.elf().go_build_id());
  auto print = [&](const nlohmann::ordered_json& points) {
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
  };
  if (!found) {
    out << fmt::format("allocation entry points: none ({})\n", found.error().message);
    return Ok{};
  }
  out << fmt::format("allocation entry points ({}), found from the calls the code makes, each probed after its "
                     "stack-bound check:\n",
                     info["allocation_entry_points"].size());
  print(info["allocation_entry_points"]);
  if (!entry_points.unverified.empty()) {
    out << fmt::format("allocation paths not understood ({}), never probed; attach and run refuse the binary "
                       "without --allow-unverified-go:\n",
                       entry_points.unverified.size());
    print(info["unverified_entry_points"]);
  }
  return Ok{};
}

}  // namespace gotrace
