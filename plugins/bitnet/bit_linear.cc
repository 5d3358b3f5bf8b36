// BitLinear (b1.58): y = Q_a(N(x)) Q_w(W)^T (+ b), with N the parameter-free RMSNorm, Q_a the
// per-row 8-bit absmax and Q_w the per-tensor ternary absmean quantiser (quantize.h).
// Backward is the straight-through estimator of the FAQ code (x + (q(x) - x).detach()): each
// quantiser passes the gradient unchanged, so
//   dW = dy^T Q_a(N(x)),  d N(x) = dy Q_w(W),  dx = r (g - N(x) mean(g N(x))),  r = 1 / rms(x).
// The latent weights stay fp32 and are what the optimiser updates; their ternary values are
// made once per update (cached on the store's version, which the optimiser, checkpoint loading
// and initialisation bump), not per forward. The matmuls run on the dequantised values in fp32
// (oneDNN); packed inference with int8 x ternary products is in packed_model.h.
// As a fused projection (attention's q/k/v, SwiGLU's gate/up) each part (ctx.out_parts) gets its
// own scale mean|W|, as the separate BitLinears of the reference model have.
#include "bit_linear.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "quantize.h"
#include "tinylm/model/packed.h"
#include "tinylm/tensors/ops.h"
#include "tinylm/tensors/parallel.h"

namespace tinylm::bitnet {

BitLinear::BitLinear(const LayerBuildContext& ctx, const plugins::BitLinearConfig& cfg)
    : in_(ctx.in_dim ? ctx.in_dim : ctx.d_model), out_(ctx.out_dim ? ctx.out_dim : ctx.d_model), cfg_(cfg) {
  if (cfg.activation_bits() < 2 || cfg.activation_bits() > 16)
    throw std::invalid_argument("activation_bits: must be in 2..16");
  weight_ = ctx.store->Declare(ctx.name + ".weight", {out_, in_}, Init::Normal(ctx.init_std), true);
  parts_ = ctx.out_parts.empty() ? std::vector<int64_t>{out_} : ctx.out_parts;
  int64_t rows = 0;
  for (int64_t p : parts_) rows += p;
  if (rows != out_) throw std::invalid_argument("bitlinear: fused parts do not add up to the output width");
}

std::vector<Param*> BitLinear::Params() const { return {weight_}; }

Shape BitLinear::OutputShape(const Shape& in) const {
  Shape s = in;
  s.back() = out_;
  return s;
}

double BitLinear::ForwardFlops() const {
  // Weight quantisation is not counted: it runs once per parameter update, not per forward.
  const double m = static_cast<double>(rows_);
  double f = m * out_ * 2.0 * in_;
  if (cfg_.input_norm()) f += 4.0 * m * in_;
  if (cfg_.quantize_activations()) f += 4.0 * m * in_;
  return f;
}

const Tensor& BitLinear::Weights() {
  if (packed_) {  // the file's codes and scales: the latent weights are not loaded
    if (!packed_dequantized_.defined()) {
      packed_dequantized_ = Tensor::Empty({out_, in_});
      float* w = packed_dequantized_.f32();
      for (int64_t o = 0; o < out_; ++o)
        for (int64_t c = 0; c < in_; ++c) w[o * in_ + c] = packed_->at(o, c) * packed_->scales[o];
    }
    return packed_dequantized_;
  }
  if (!cfg_.quantize_weights()) return weight_->value;
  if (weights_q_.defined() && *weight_->version == weights_version_) return weights_q_;
  EnsureShape(weights_q_, {out_, in_});
  int64_t row = 0;
  for (const int64_t rows : parts_) {  // one scale per fused part
    QuantizeWeightsTernary(weight_->value.f32() + row * in_, rows * in_, weights_q_.f32() + row * in_);
    row += rows;
  }
  weights_version_ = *weight_->version;
  return weights_q_;
}

Tensor BitLinear::Forward(Context& ctx, const Tensor& x, Mode mode) {
  if (x.dim(-1) != in_)
    throw std::invalid_argument("bitlinear: input " + ShapeString(x.shape()) + ", expected last dim " +
                                std::to_string(in_));
  const int64_t m = x.numel() / in_;
  // Normalised input.
  Tensor normed = x.Reshape({m, in_});
  if (cfg_.input_norm()) {
    normed = ctx.Pooled({m, in_});
    EnsureShape(inv_rms_, {m});
    const float* px = x.f32();
    float *pn = normed.f32(), *pr = inv_rms_.f32();
    ParallelFor(m, MinParallelRows(), [&](int64_t r) {
      double ss = 0;
      for (int64_t c = 0; c < in_; ++c) ss += static_cast<double>(px[r * in_ + c]) * px[r * in_ + c];
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(in_) + cfg_.norm_eps()));
      pr[r] = inv;
      for (int64_t c = 0; c < in_; ++c) pn[r * in_ + c] = px[r * in_ + c] * inv;
    });
  }
  // Quantised activations and weights (dequantised values).
  Tensor acts = normed;
  if (cfg_.quantize_activations() && !(packed_ && Int8Path())) {
    acts = ctx.Pooled({m, in_});
    QuantizeActivationRows(normed.f32(), m, in_, cfg_.activation_bits(), acts.f32());
  }
  Tensor y = ctx.Pooled(OutputShape(x.shape()));
  rows_ = m;
  if (packed_ && mode == Mode::kTrain)
    throw std::logic_error("bitlinear: a packed model runs inference only (it has no latent weights)");
  if (packed_ && Int8Path()) {  // int8 activations x ternary weights, integer sums
    act_bytes_.resize(m * packed_->in_padded);
    act_scales_.resize(m);
    QuantizeActivationRowsToBytes(normed.f32(), m, in_, cfg_.activation_bits(), packed_->in_padded,
                                  act_bytes_.data(), act_scales_.data());
    TernaryMatmul(act_bytes_.data(), act_scales_.data(), m, *packed_, y.f32());
    return y;
  }
  const Tensor& weights = Weights();
  if (m <= kFewRows) {  // batch-1 decode: a plain loop beats a oneDNN call's set-up
    FewRowsTimesTransposed(acts.f32(), m, weights.f32(), out_, in_, nullptr, y.f32());
  } else {
    MatmulOptions o;
    o.trans_b = true;
    Matmul(ctx, acts, weights, y.Reshape({m, out_}), o);
  }
  x_shape_ = x.shape();
  const bool train = mode == Mode::kTrain;
  normed_used_ = train ? normed : Tensor();
  acts_used_ = train ? acts : Tensor();
  return y;
}

Tensor BitLinear::Backward(Context& ctx, const Tensor& dy) {
  const int64_t m = dy.numel() / out_;
  const Tensor dy2 = dy.Reshape({m, out_});
  MatmulOptions w;
  w.trans_a = true;
  w.accumulate = true;
  Matmul(ctx, dy2, acts_used_, weight_->grad, w);  // STE through Q_w
  // The weights the forward multiplied: the optimiser has not stepped since (one step per
  // forward/backward pair), so the cache is still theirs.
  const Tensor& weights = Weights();
  Tensor dx = ctx.Pooled(x_shape_);
  if (!cfg_.input_norm()) {
    Matmul(ctx, dy2, weights, dx.Reshape({m, in_}));  // STE through Q_a
    normed_used_ = acts_used_ = Tensor();
    return dx;
  }
  Tensor dnormed = ctx.Pooled({m, in_});
  Matmul(ctx, dy2, weights, dnormed);  // STE through Q_a
  const float *pg = dnormed.f32(), *pn = normed_used_.f32(), *pr = inv_rms_.f32();
  float* pd = dx.f32();
  ParallelFor(m, MinParallelRows(), [&](int64_t r) {
    double dot = 0;
    for (int64_t c = 0; c < in_; ++c) dot += static_cast<double>(pg[r * in_ + c]) * pn[r * in_ + c];
    const float mean = static_cast<float>(dot / static_cast<double>(in_));
    for (int64_t c = 0; c < in_; ++c) pd[r * in_ + c] = pr[r] * (pg[r * in_ + c] - pn[r * in_ + c] * mean);
  });
  normed_used_ = acts_used_ = Tensor();
  return dx;
}

std::vector<Param*> BitLinear::WritePacked(PackedWriter& w) const {
  if (!cfg_.quantize_weights()) return {};  // latent weights are what it multiplies: stored as fp16
  // The codes and scales of exactly the quantiser the training forward runs.
  std::vector<float> q(out_ * in_);
  std::vector<int8_t> codes(out_ * in_);
  std::vector<float> scales;
  int64_t row = 0;
  for (const int64_t rows : parts_) {
    QuantizeWeightsTernary(weight_->value.f32() + row * in_, rows * in_, q.data() + row * in_);
    float magnitude = 0.0f;  // every nonzero dequantised weight of the part is +-(1 / (1 / g))
    for (int64_t i = row * in_; i < (row + rows) * in_; ++i) {
      codes[i] = static_cast<int8_t>((q[i] > 0.0f) - (q[i] < 0.0f));
      magnitude = std::max(magnitude, std::fabs(q[i]));
    }
    scales.push_back(magnitude);
    row += rows;
  }
  w.Add(weight_->name + ".ternary", "ternary2", {out_, in_}, PackTernary(codes.data(), out_ * in_));
  w.Add(weight_->name + ".scales", "f32", {static_cast<int64_t>(parts_.size())},
        std::string(reinterpret_cast<const char*>(scales.data()), scales.size() * sizeof(float)));
  return {weight_};
}

std::vector<Param*> BitLinear::ReadPacked(const PackedReader& r) {
  if (!cfg_.quantize_weights()) return {};
  const proto::PackedTensor* codes = r.Find(weight_->name + ".ternary", "ternary2", {out_, in_});
  if (!codes) return {};
  const int64_t parts = static_cast<int64_t>(parts_.size());
  const proto::PackedTensor* scales = r.Find(weight_->name + ".scales", "f32", {parts});
  if (!scales || scales->data().size() != parts * sizeof(float))
    throw std::runtime_error(r.path() + ": " + weight_->name + ".scales is missing or damaged");
  std::vector<int8_t> t(out_ * in_);
  if (!UnpackTernary(codes->data(), out_ * in_, t.data()))
    throw std::runtime_error(r.path() + ": " + weight_->name + ".ternary is short or holds a code that is not ternary");
  std::vector<float> row_scales;
  for (int64_t p = 0; p < parts; ++p) {
    float g;
    std::memcpy(&g, scales->data().data() + p * sizeof(float), sizeof(float));
    row_scales.insert(row_scales.end(), parts_[p], g);
  }
  packed_ = std::make_unique<TernaryMatrix>(MakeTernaryMatrix(t.data(), out_, in_, std::move(row_scales)));
  packed_dequantized_ = Tensor();
  return {weight_};
}

}  // namespace tinylm::bitnet
