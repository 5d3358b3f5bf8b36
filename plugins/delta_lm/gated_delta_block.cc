// Delta block option B (seed_systems.md section 2, "Keras-natural, norm-free"): eight Dense(d, d)
// layers with biases and three Dense(d -> 1) sigmoid gates, no normalisation, no scalars:
//   q, k, v = x W + b                                    3 Dense (one fused d -> 3d matmul)
//   s = sigmoid(x W_s + b_s)  [B, T, 3]                  3 Dense(d -> 1) (one fused d -> 3 matmul)
//   r = GatedMemory(q, k, v) with a_t = s_t[2] (MEAN) or lambda_t = s_t[2] (DECAY, delta weight 1)
//   x1 = x + s_t[0] (r W_o + b_o)                         1 Dense
//   y  = x1 + s_t[1] (F_1(x1) + F_2(x1)),  F_i: d -> d (GELU) -> d with biases   4 Dense
// Parameters: 3(d^2 + d) + (d^2 + d) + 4(d^2 + d) + 3(d + 1) = 8d^2 + 11d + 3.
// Why two parallel d-wide FFN branches: their sum is an FFN d -> 2d -> d (with one redundant
// output bias), the same width as option A's, so A against B isolates "norms and learned scalars"
// against "no norms and per-position gates". The gates read the block input x, as a Keras model
// naturally would; their biases start at 0 (gates at 0.5). With delta off and MEAN memory the
// third gate is not a parameter.
#include "block_math.h"
#include "delta_blocks.h"
#include "gated_memory.h"
#include "tinylm/layers/linear.h"
#include "tinylm/layers/mlp.h"
#include "tinylm/tensors/ops.h"

namespace tinylm::delta_lm {
namespace {

using plugins::DeltaBlockConfig;

struct MemoryState : DecodeState {
  Tensor memory;  // C_{t-1}, [B, d]
  int64_t count = 0;
};

class GatedDeltaBlock : public Layer {
 public:
  GatedDeltaBlock(const LayerBuildContext& ctx, const DeltaBlockConfig& cfg)
      : d_(ctx.d_model),
        decay_(cfg.memory() == DeltaBlockConfig::DECAY),
        delta_(cfg.delta()),
        gates_count_(decay_ || delta_ ? 3 : 2),
        qkv_(*ctx.store, ctx.name + ".qkv", d_, 3 * d_, true, DenseInitStd(ctx, cfg, d_, d_)),
        gates_(*ctx.store, ctx.name + ".gates", d_, gates_count_, true, DenseInitStd(ctx, cfg, d_, 1)),
        out_(*ctx.store, ctx.name + ".out", d_, d_, true, DenseInitStd(ctx, cfg, d_, d_)),
        ffn1_(*ctx.store, ctx.name + ".ffn1", d_, d_, GeluKind::kErf, true, DenseInitStd(ctx, cfg, d_, d_)),
        ffn2_(*ctx.store, ctx.name + ".ffn2", d_, d_, GeluKind::kErf, true, DenseInitStd(ctx, cfg, d_, d_)),
        memory_(d_) {}

  std::string type() const override { return "delta_block"; }

  std::vector<Param*> Params() const override {
    std::vector<Param*> p = qkv_.Params();
    for (const Layer* l : std::initializer_list<const Layer*>{&gates_, &out_, &ffn1_, &ffn2_}) AppendUnique(p, l->Params());
    return p;
  }

  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override { return Run(ctx, x, mode, 0, nullptr); }
  // The projections and FFNs, plus per element the memory (about 8), the gated residuals (4)
  // and the FFN sum (1); the sigmoid gates are negligible.
  double ForwardFlops() const override {
    double f = 0;
    for (const Layer* l : Children()) f += l->ForwardFlops();
    return f + (y_.defined() ? 13.0 * y_.numel() : 0.0);
  }
  std::vector<const Layer*> Children() const override { return {&qkv_, &gates_, &out_, &ffn1_, &ffn2_}; }

  Tensor Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) override {
    auto* s = static_cast<MemoryState*>(state);
    if (pos != s->count) throw std::logic_error("delta block step: positions must be contiguous");
    s->count += x.dim(1);
    return Run(ctx, x, Mode::kEval, pos, &s->memory);
  }

  std::unique_ptr<DecodeState> NewDecodeState(int64_t batch, int64_t) const override {
    auto s = std::make_unique<MemoryState>();
    s->memory = Tensor::Zeros({batch, d_});
    return s;
  }

  Tensor Backward(Context& ctx, const Tensor& dy) override {
    const int64_t rows = dy.numel() / d_, g = gates_count_;
    const float* s = gate_values_.f32();
    EnsureShape(dgates_, {dy.dim(0), dy.dim(1), g});
    float* dz = dgates_.f32();
    // y = x1 + s1 f:  ds1 = <dy, f> per row, df = s1 dy.
    RowDots(dy, ffn_sum_, dz + 1, g);
    const Tensor& df = RowScaled(dy, s + 1, g, dscaled_);
    EnsureShape(dx1_, dy.shape());
    Add(ffn1_.Backward(ctx, df), ffn2_.Backward(ctx, df), dx1_);
    AddInPlace(dx1_, dy);
    // x1 = x + s0 o:  ds0 = <dx1, o> per row, do = s0 dx1.
    RowDots(dx1_, o_, dz, g);
    const Tensor& dr = out_.Backward(ctx, RowScaled(dx1_, s, g, dscaled_));
    // The third gate's gradient lands in its column of dz (none with MEAN memory, delta off).
    float* dthird = g == 3 ? dz + 2 : nullptr;
    const Tensor& dqkv = memory_.Backward(dr, decay_ ? nullptr : dthird, decay_ ? dthird : nullptr, g);
    for (int64_t i = 0; i < rows * g; ++i) dz[i] *= s[i] * (1 - s[i]);  // through the sigmoid
    EnsureShape(dx_, dy.shape());
    Add(qkv_.Backward(ctx, dqkv), gates_.Backward(ctx, dgates_), dx_);
    AddInPlace(dx_, dx1_);
    return dx_;
  }

 private:
  Tensor Run(Context& ctx, const Tensor& x, Mode mode, int64_t pos, Tensor* carried) {
    const int64_t rows = x.numel() / d_, g = gates_count_;
    const Tensor& z = gates_.Forward(ctx, x, mode);
    EnsureShape(gate_values_, z.shape());
    float* s = gate_values_.f32();
    for (int64_t i = 0; i < rows * g; ++i) s[i] = static_cast<float>(Sigmoid(z.f32()[i]));
    // The memory's delta weight and decay: the third gate's column, or a constant.
    const PerPosition third{s + 2, g};
    const PerPosition alpha = decay_ || !delta_ ? PerPosition{delta_ ? &kOne : &kZero} : third;
    const Tensor& r = memory_.Forward(qkv_.Forward(ctx, x, mode), alpha, decay_ ? third : PerPosition{}, pos, carried);
    o_ = out_.Forward(ctx, r, mode);
    AddRowScaled(x, s, g, o_, x1_);
    EnsureShape(ffn_sum_, x.shape());
    Add(ffn1_.Forward(ctx, x1_, mode), ffn2_.Forward(ctx, x1_, mode), ffn_sum_);
    AddRowScaled(x1_, s + 1, g, ffn_sum_, y_);
    return y_;
  }

  int64_t d_;
  bool decay_, delta_;
  int64_t gates_count_;  // mixer residual, FFN residual, and the delta or decay gate
  Linear qkv_, gates_, out_;
  GeluMlp ffn1_, ffn2_;
  GatedMemory memory_;
  static constexpr float kOne = 1.0f, kZero = 0.0f;
  Tensor gate_values_, o_, x1_, ffn_sum_, y_, dgates_, dscaled_, dx1_, dx_;
};

}  // namespace

LayerPtr MakeGatedDeltaBlock(const LayerBuildContext& ctx, const DeltaBlockConfig& cfg) {
  return std::make_unique<GatedDeltaBlock>(ctx, cfg);
}

}  // namespace tinylm::delta_lm
