// How memory in use moves over time, by call site and in all: the live
// view's GROWTH column and its leak marker.
//
// In-use figures are noisy: a site that allocates temporaries climbs between
// two garbage collections and drops at each sweep, and with the runtime's
// sampler (one sample per MemProfileRate bytes) they move in steps of a
// sample. The change over the last refresh is mostly that noise, and so is
// the difference between two moments, each caught at a random point of the
// sawtooth. So the growth is the least-squares slope of in-use bytes over the
// points of the last 30 s (kWindow: several GC cycles of a busy program), a
// point a second: every point pulls on it, and the noise averages out.
//
// A site is marked as a possible leak when its in-use memory only grew over
// the whole window, through the GC noise: the window's points cut in
// kStretches consecutive stretches, the lowest point of each stretch is
// above the lowest of the one before (a sawtooth on a rising floor rises
// too), and the floor rose by more than half of what it wobbles within a
// stretch (the median stretch's highest minus lowest), so that a churning
// site whose floors happen to line up does not flicker in and out. A slow
// leak under much churn is not marked, but its growth still shows.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "userspace/tui/site_table.h"

namespace gotrace {

class InuseGrowth {
 public:
  static constexpr std::chrono::seconds kWindow{30};
  // With a long refresh interval the window stretches to this many points.
  static constexpr size_t kMinPoints = 10;
  // A slope needs this much time behind it to be worth showing.
  static constexpr std::chrono::seconds kMinSpan{10};
  static constexpr size_t kStretches = 5;
  // Points closer together than this replace the newest one, so that a
  // fast refresh does not shorten the window.
  static constexpr std::chrono::milliseconds kSpacing{900};

  // A table's in-use figures; a table without them (records_inuse false)
  // is ignored.
  void add(const SiteTable& table);

  // Bytes per second, once the points span kMinSpan.
  std::optional<double> site_growth(uint32_t site_id) const;
  std::optional<double> total_growth() const;
  // Whether the site's in-use only grew over the whole window (see above).
  bool site_only_grew(uint32_t site_id) const;
  // The time the points span, as the slope is taken over.
  std::chrono::nanoseconds span() const;

 private:
  struct Point {
    std::chrono::nanoseconds elapsed;
    double total = 0;
    std::vector<double> by_site;  // in-use bytes by site id; a site beyond it had none yet
  };
  static double at(const Point& point, uint32_t site_id) {
    return site_id < point.by_site.size() ? point.by_site[site_id] : 0;
  }
  template <class ValueOf>
  std::optional<double> slope(ValueOf value_of) const;
  void update_weights();

  std::deque<Point> points_;
  // The least-squares slope is the sum of weight[i] * value[i]: the weights
  // depend on the times only, and are computed once per table.
  std::vector<double> weights_;
};

}  // namespace gotrace
