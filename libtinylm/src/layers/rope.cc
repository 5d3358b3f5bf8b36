#include "tinylm/layers/rope.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "tinylm/tensors/parallel.h"

namespace tinylm {

Rope::Rope(int64_t head_dim, RopeOptions opt) : head_dim_(head_dim), opt_(opt) {
  if (opt.fraction <= 0.0f || opt.fraction > 1.0f)
    throw std::invalid_argument("rope: fraction must be in (0, 1]");
  rot_ = static_cast<int64_t>(std::floor(opt.fraction * head_dim)) / 2 * 2;
}

void Rope::EnsureTable(int64_t positions) const {
  if (positions <= table_positions_) return;
  positions = std::max({positions, 2 * table_positions_, int64_t{64}});  // decode grows it one by one
  const int64_t half = rot_ / 2;
  cos_.resize(positions * half);
  sin_.resize(positions * half);
  for (int64_t t = 0; t < positions; ++t)
    for (int64_t i = 0; i < half; ++i) {
      // Computed in double, rounded once: matches a float32 reference to the last ulp or two.
      const double inv_freq = std::pow(static_cast<double>(opt_.base), -2.0 * i / rot_);
      const double a = static_cast<double>(static_cast<float>(t * inv_freq));
      cos_[t * half + i] = static_cast<float>(std::cos(a));
      sin_[t * half + i] = static_cast<float>(std::sin(a));
    }
  table_positions_ = positions;
}

void Rope::Apply(float* x, int64_t batch, int64_t seq, int64_t heads, int64_t sb, int64_t st,
                 int64_t sh, int64_t pos0, bool inverse) const {
  EnsureTable(pos0 + seq);
  const int64_t half = rot_ / 2;
  const float sign = inverse ? -1.0f : 1.0f;
  const bool interleaved = opt_.style == RopeStyle::kInterleaved;
  ParallelFor(batch * seq, 65, [&](int64_t bt) {
    const int64_t b = bt / seq, t = bt % seq;
    const float* c = cos_.data() + (pos0 + t) * half;
    const float* s = sin_.data() + (pos0 + t) * half;
    for (int64_t h = 0; h < heads; ++h) {
      float* v = x + b * sb + t * st + h * sh;
      if (interleaved) {
        for (int64_t i = 0; i < half; ++i) {
          const float x1 = v[2 * i], x2 = v[2 * i + 1], si = sign * s[i];
          v[2 * i] = x1 * c[i] - x2 * si;
          v[2 * i + 1] = x2 * c[i] + x1 * si;
        }
      } else {
#pragma omp simd
        for (int64_t i = 0; i < half; ++i) {
          const float x1 = v[i], x2 = v[i + half], si = sign * s[i];
          v[i] = x1 * c[i] - x2 * si;
          v[i + half] = x2 * c[i] + x1 * si;
        }
      }
    }
  });
}

RopeLayer::RopeLayer(int64_t heads, int64_t head_dim, RopeOptions opt)
    : heads_(heads), head_dim_(head_dim), rope_(head_dim, opt) {}

Tensor RopeLayer::Rotate(const Tensor& x, Tensor& out, int64_t pos0, bool inverse) {
  if (x.rank() != 3 || x.dim(2) != heads_ * head_dim_)
    throw std::invalid_argument("rope: input " + ShapeString(x.shape()) + ", expected [B,T," +
                                std::to_string(heads_ * head_dim_) + "]");
  EnsureShape(out, x.shape());
  out.CopyFrom(x);
  const int64_t d = heads_ * head_dim_;
  rope_.Apply(out.f32(), x.dim(0), x.dim(1), heads_, x.dim(1) * d, d, head_dim_, pos0, inverse);
  return out;
}

double RopeLayer::ForwardFlops() const {
  return y_.defined() ? rope_.Flops(static_cast<double>(y_.numel() / head_dim_)) : 0.0;
}

Tensor RopeLayer::Forward(Context&, const Tensor& x, Mode) { return Rotate(x, y_, 0, false); }
Tensor RopeLayer::Backward(Context&, const Tensor& dy) { return Rotate(dy, dx_, 0, true); }
Tensor RopeLayer::Step(Context&, const Tensor& x, int64_t pos, DecodeState*) {
  return Rotate(x, y_, pos, false);
}

}  // namespace tinylm
