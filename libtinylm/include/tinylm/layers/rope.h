// Rotary position embedding. Two conventions: rotate-half (dim i pairs with i + r/2) and
// interleaved pairs (2i with 2i+1); frequency i is base^(-2i/r) where r = rotary dims
// = fraction * head_dim (rounded down to even). Dims past r pass through unchanged.
#pragma once
#include "tinylm/layers/layer.h"

namespace tinylm {

enum class RopeStyle { kRotateHalf, kInterleaved };

struct RopeOptions {
  RopeStyle style = RopeStyle::kRotateHalf;
  float base = 10000.0f;
  float fraction = 1.0f;
};

// The rotation itself, usable on any [.., T, .., head_dim] layout given its strides.
class Rope {
 public:
  Rope(int64_t head_dim, RopeOptions opt);
  int64_t rotary_dims() const { return rot_; }
  // FLOPs of rotating `vectors` head vectors (two multiplies and an add per rotated element).
  double Flops(double vectors) const { return 3.0 * rot_ * vectors; }
  // Rotates x in place. Element (b, t, h, i) is at x[b*sb + t*st + h*sh + i]; position = pos0+t.
  // inverse = true applies the transpose (the backward of a rotation is its inverse).
  void Apply(float* x, int64_t batch, int64_t seq, int64_t heads, int64_t sb, int64_t st,
             int64_t sh, int64_t pos0, bool inverse) const;

 private:
  void EnsureTable(int64_t positions) const;
  int64_t head_dim_, rot_;
  RopeOptions opt_;
  mutable std::vector<float> cos_, sin_;  // [positions, rot/2], grown on demand
  mutable int64_t table_positions_ = 0;
};

// RoPE as a standalone layer over [B, T, heads*head_dim] (positions 0..T-1, or from `pos` in
// Step). Parameter-free.
class RopeLayer : public Layer {
 public:
  RopeLayer(int64_t heads, int64_t head_dim, RopeOptions opt);
  std::string type() const override { return "rope"; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  Tensor Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) override;
  double ForwardFlops() const override;

 private:
  Tensor Rotate(const Tensor& x, Tensor& out, int64_t pos0, bool inverse);
  int64_t heads_, head_dim_;
  Rope rope_;
  Tensor y_, dx_;
};

}  // namespace tinylm
