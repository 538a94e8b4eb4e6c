#include "userspace/export/folded_writer.h"

#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "userspace/export/string_sink.h"

namespace gotrace {
namespace {

// ';' separates frames and ' ' ends the stack, so neither may appear inside a
// name (generic instantiations like `main.F[go.shape.struct { A int; B int }]` have both).
std::string folded_name(std::string_view name) {
  std::string out(name);
  for (char& c : out) c = c == ';' ? ',' : c == ' ' ? '_' : c;
  return out;
}

// Each frame name a stack can fold to, held once and numbered.
class FoldedStacks {
 public:
  FoldedStacks(const Profile& profile, const FoldedOptions& options) : profile_(profile), options_(options) {
    truncated_ = name_id("[truncated]");
    merged_ = name_id(kMergedFrame);
    location_names_.resize(profile.locations.size());
    for (size_t i = 0; i < profile.locations.size(); ++i) {
      std::span<const Frame> frames = shown_frames(profile.locations[i]);
      for (auto frame = frames.rbegin(); frame != frames.rend(); ++frame)  // root first
        location_names_[i].push_back(name_id(frame->function));
    }
    if (options.type_frame)
      for (const std::string& type : profile.type_names) type_names_.push_back(name_id("[" + type + "]"));
    if (options.process_frame)
      for (const ProcessLabel& process : profile.processes)
        process_names_.push_back(name_id(process_name_and_pid(process)));
  }

  // The names of sample `s`'s line, root first.
  void names_of(uint32_t s, std::vector<uint32_t>* names) const {
    const Sample& sample = profile_.samples[s];
    names->clear();
    if (has_process_frame(sample)) names->push_back(process_names_[sample.process]);
    // A stack cut at the root end hangs under one root of its own, rather
    // than passing for a root of the program.
    if (sample.truncated) names->push_back(truncated_);
    if (sample.merged) names->push_back(merged_);
    std::span<const uint32_t> locations = profile_.locations_of(sample);
    for (auto location = locations.rbegin(); location != locations.rend(); ++location)
      names->insert(names->end(), location_names_[*location].begin(), location_names_[*location].end());
    if (options_.type_frame) names->push_back(type_names_[sample.type]);
  }

  // Whether the line of sample `x` sorts before that of sample `y`, as
  // their texts (names joined by ';') would. Names are walked in place:
  // sorting copies nothing.
  bool before(uint32_t x, uint32_t y) const {
    // Locations the two share from the root have the same names: those are
    // skipped in one step, the names compared from the first that differs.
    const Sample& p_sample = profile_.samples[x];
    const Sample& q_sample = profile_.samples[y];
    size_t shared = 0;
    if (p_sample.truncated == q_sample.truncated && p_sample.merged == q_sample.merged &&
        (!options_.process_frame || p_sample.process == q_sample.process)) {
      std::span<const uint32_t> p = profile_.locations_of(p_sample), q = profile_.locations_of(q_sample);
      size_t most = std::min(p.size(), q.size());
      while (shared < most && p[p.size() - 1 - shared] == q[q.size() - 1 - shared]) ++shared;
    }
    Cursor a(*this, x, shared), b(*this, y, shared);
    while (!a.done() && !b.done() && a.name() == b.name()) {
      a.next();
      b.next();
    }
    if (a.done() || b.done()) return a.done() && !b.done();  // a line that is a prefix of another
    std::string_view p = names_[a.name()], q = names_[b.name()];
    size_t common = std::min(p.size(), q.size());
    int order = p.substr(0, common).compare(q.substr(0, common));
    if (order != 0) return order < 0;
    // One name is a prefix of the other: the shorter goes on with ';', or
    // ends the line.
    bool a_shorter = p.size() < q.size();
    Cursor& shorter = a_shorter ? a : b;
    char after = (a_shorter ? q : p)[common];
    shorter.next();
    bool shorter_first = shorter.done() || ';' < after;
    return a_shorter == shorter_first;
  }

  std::string_view name(uint32_t id) const { return names_[id]; }

  // Whether a line of `sample` starts with its process.
  bool has_process_frame(const Sample& sample) const { return sample.process < process_names_.size(); }

 private:
  // The names of a sample's line, root first, one at a time.
  class Cursor {
   public:
    // From the `location`th location from the root on, when the lines
    // before it are the same.
    Cursor(const FoldedStacks& stacks, uint32_t sample, size_t location)
        : stacks_(stacks), sample_(stacks.profile_.samples[sample]),
          locations_(stacks.profile_.locations_of(sample_)), location_(location) {
      if (location > 0) stage_ = kLocations;  // and the frames before the locations are the same
      settle();
    }
    bool done() const { return stage_ == kDone; }
    uint32_t name() const {
      switch (stage_) {
        case kProcess: return stacks_.process_names_[sample_.process];
        case kTruncated: return stacks_.truncated_;
        case kMerged: return stacks_.merged_;
        case kLocations: return location_names()[frame_];
        default: return stacks_.type_names_[sample_.type];
      }
    }
    void next() {
      if (stage_ == kLocations) ++frame_;
      else stage_ = Stage(stage_ + 1);
      settle();
    }

   private:
    enum Stage { kProcess, kTruncated, kMerged, kLocations, kType, kDone };
    const std::vector<uint32_t>& location_names() const {
      return stacks_.location_names_[locations_[locations_.size() - 1 - location_]];
    }
    // Moves on to a name there is, or to the end.
    void settle() {
      if (stage_ == kProcess && !stacks_.has_process_frame(sample_)) stage_ = kTruncated;
      if (stage_ == kTruncated && !sample_.truncated) stage_ = kMerged;
      if (stage_ == kMerged && !sample_.merged) stage_ = kLocations;
      while (stage_ == kLocations) {
        if (location_ == locations_.size()) {
          stage_ = kType;
        } else if (frame_ == location_names().size()) {
          ++location_;
          frame_ = 0;
        } else {
          break;
        }
      }
      if (stage_ == kType && !stacks_.options_.type_frame) stage_ = kDone;
    }

    const FoldedStacks& stacks_;
    const Sample& sample_;
    std::span<const uint32_t> locations_;
    Stage stage_ = kProcess;
    size_t location_ = 0;  // counted from the root end
    size_t frame_ = 0;
  };

  uint32_t name_id(std::string_view name) {
    auto [it, inserted] = ids_.emplace(folded_name(name), names_.size());
    if (inserted) names_.push_back(it->first);
    return it->second;
  }

  const Profile& profile_;
  const FoldedOptions& options_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string_view> names_;                // by id, into ids_
  std::vector<std::vector<uint32_t>> location_names_;  // by location
  std::vector<uint32_t> type_names_;                   // by type, with type_frame
  std::vector<uint32_t> process_names_;                // by process, with process_frame
  uint32_t truncated_ = 0, merged_ = 0;
};

}  // namespace

Status write_folded(const Profile& profile, const FoldedOptions& options, ByteSink& sink) {
  FoldedStacks stacks(profile, options);
  std::vector<uint32_t> order(profile.samples.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) { return stacks.before(x, y); });
  // Lines that fold alike are next to each other now, and summed.
  std::string line;
  std::vector<uint32_t> current, next;
  uint64_t value = 0;
  auto flush = [&]() -> Status {
    line.clear();
    for (size_t i = 0; i < current.size(); ++i) {
      if (i > 0) line += ';';
      line += stacks.name(current[i]);
    }
    line += fmt::format(" {}\n", value);
    return sink.write(line);
  };
  for (size_t i = 0; i < order.size(); ++i) {
    const Sample& sample = profile.samples[order[i]];
    stacks.names_of(order[i], &next);
    if (i > 0 && next != current)
      if (Status s = flush(); !s) return s;
    if (i == 0 || next != current) value = 0;
    current.swap(next);
    value += options.bytes ? sample.totals.bytes : sample.totals.count;
  }
  if (!order.empty()) return flush();
  return Ok{};
}

std::string encode_folded(const Profile& profile, const FoldedOptions& options) {
  StringSink sink;
  (void)write_folded(profile, options, sink);  // a string takes every write
  return std::move(sink).take();
}

}  // namespace gotrace
