#include "userspace/tui/inuse_growth.h"

#include <algorithm>

namespace gotrace {

void InuseGrowth::add(const SiteTable& table) {
  if (!table.records_inuse) return;
  Point point{table.elapsed, table.inuse.bytes, {}};
  for (const SiteTotals& site : table.sites) {
    if (site.id >= point.by_site.size()) point.by_site.resize(site.id + 1);
    point.by_site[site.id] = site.inuse.bytes;
  }
  // The newest point always holds the latest figures; the one before it is
  // kept only if it is a full spacing after its own predecessor.
  if (points_.size() >= 2 && points_.back().elapsed - points_[points_.size() - 2].elapsed < kSpacing)
    points_.back() = std::move(point);
  else
    points_.push_back(std::move(point));
  // Keep the last point at or before the window's start, so that the
  // points span the whole window once there is that much.
  std::chrono::nanoseconds start = points_.back().elapsed - kWindow;
  while (points_.size() > kMinPoints && points_[1].elapsed <= start) points_.pop_front();
  update_weights();
}

void InuseGrowth::update_weights() {
  weights_.assign(points_.size(), 0);
  if (points_.size() < 2) return;
  // Seconds from the first point, so that the sums keep their precision.
  std::vector<double> t;
  for (const Point& point : points_)
    t.push_back(std::chrono::duration<double>(point.elapsed - points_.front().elapsed).count());
  double mean = 0;
  for (double x : t) mean += x;
  mean /= double(t.size());
  double spread = 0;
  for (double x : t) spread += (x - mean) * (x - mean);
  if (spread <= 0) return;
  for (size_t i = 0; i < t.size(); ++i) weights_[i] = (t[i] - mean) / spread;
}

std::chrono::nanoseconds InuseGrowth::span() const {
  if (points_.empty()) return std::chrono::nanoseconds(0);
  return points_.back().elapsed - points_.front().elapsed;
}

template <class ValueOf>
std::optional<double> InuseGrowth::slope(ValueOf value_of) const {
  if (points_.size() < 2 || span() < kMinSpan) return std::nullopt;
  double sum = 0;
  for (size_t i = 0; i < points_.size(); ++i) sum += weights_[i] * value_of(points_[i]);
  return sum;
}

std::optional<double> InuseGrowth::site_growth(uint32_t site_id) const {
  return slope([site_id](const Point& point) { return at(point, site_id); });
}

std::optional<double> InuseGrowth::total_growth() const {
  return slope([](const Point& point) { return point.total; });
}

bool InuseGrowth::site_only_grew(uint32_t site_id) const {
  // A timer that fires a little early must not keep the window short of full.
  if (points_.size() < kMinPoints || span() < kWindow - kSpacing) return false;
  std::optional<double> growth = site_growth(site_id);
  if (!growth || *growth <= 0) return false;
  std::vector<double> floors, wobbles;
  size_t n = points_.size();
  for (size_t stretch = 0; stretch < kStretches; ++stretch) {
    size_t begin = stretch * n / kStretches, end = (stretch + 1) * n / kStretches;
    double low = at(points_[begin], site_id), high = low;
    for (size_t i = begin + 1; i < end; ++i) {
      low = std::min(low, at(points_[i], site_id));
      high = std::max(high, at(points_[i], site_id));
    }
    if (!floors.empty() && low <= floors.back()) return false;
    floors.push_back(low);
    wobbles.push_back(high - low);
  }
  std::nth_element(wobbles.begin(), wobbles.begin() + kStretches / 2, wobbles.end());
  return floors.back() - floors.front() > wobbles[kStretches / 2] / 2;
}

}  // namespace gotrace
