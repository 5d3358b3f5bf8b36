// Delta block option A (seed_systems.md section 2, the proposed primary):
//   h = LN1(x);  q, k, v = h W + b  (one fused d -> 3d matmul)
//   r = GatedMemory(q, k, v) with alpha or lambda = sigmoid(theta) broadcast to every position
//   x1 = x + gamma1 (r W_o + b_o);  y = x1 + gamma2 FFN(LN2(x1)),  FFN: d -> 2d -> d
// Parameters: 2d + 3(d^2 + d) + (d^2 + d) + 2d + (2d^2 + 2d) + (2d^2 + d) + 3 = 8d^2 + 11d + 3.
// Decode keeps C_{t-1} per sequence, so a token costs the block's matmuls, not O(t).
#include <algorithm>

#include "delta_blocks.h"
#include "gated_memory.h"
#include "scalar_gated_block.h"
#include "tinylm/layers/linear.h"

namespace tinylm::delta_lm {
namespace {

struct MemoryState : DecodeState {
  Tensor memory;  // C_{t-1}, [B, d]
  int64_t count = 0;
};

class MemoryDeltaBlock : public ScalarGatedBlock {
 public:
  MemoryDeltaBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg)
      : ScalarGatedBlock(ctx, cfg, 2 * ctx.d_model),
        qkv_(*ctx.store, ctx.name + ".qkv", d_, 3 * d_, true, DenseInitStd(ctx, cfg, d_, d_)),
        out_(*ctx.store, ctx.name + ".out", d_, d_, true, DenseInitStd(ctx, cfg, d_, d_)),
        memory_(d_) {}

  std::string type() const override { return "delta_block"; }

  std::unique_ptr<DecodeState> NewDecodeState(int64_t batch, int64_t) const override {
    auto s = std::make_unique<MemoryState>();
    s->memory = Tensor::Zeros({batch, d_});
    return s;
  }

 protected:
  std::vector<Param*> MixParams() const override {
    std::vector<Param*> p = qkv_.Params();
    AppendUnique(p, out_.Params());
    return p;
  }

  const Tensor& MixForward(Context& ctx, const Tensor& h, Mode mode, int64_t pos, DecodeState* state) override {
    auto* s = static_cast<MemoryState*>(state);
    if (s && pos != s->count) throw std::logic_error("delta block step: positions must be contiguous");
    rows_ = h.dim(0) * h.dim(1);
    alpha_ = static_cast<float>(alpha());  // the same for every position (stride 0)
    lambda_ = decay() ? static_cast<float>(lambda()) : 0.0f;
    const Tensor& r = memory_.Forward(qkv_.Forward(ctx, h, mode), {&alpha_}, {decay() ? &lambda_ : nullptr}, pos,
                                      s ? &s->memory : nullptr);
    if (s) s->count += h.dim(1);
    out_y_ = out_.Forward(ctx, r, mode);
    return out_y_;
  }

  // The projections, plus the memory's update and read (about 8 per channel and position).
  double MixFlops() const override { return qkv_.ForwardFlops() + out_.ForwardFlops() + 8.0 * rows_ * d_; }

  const Tensor& MixBackward(Context& ctx, const Tensor& dbranch) override {
    dalpha_.resize(rows_);
    dlambda_.resize(rows_);
    const Tensor& dqkv = memory_.Backward(out_.Backward(ctx, dbranch), dalpha_.data(), dlambda_.data(), 1);
    double da = 0, dl = 0;
    for (int64_t r = 0; r < rows_; ++r) {
      da += dalpha_[r];
      if (decay()) dl += dlambda_[r];
    }
    AddScalarGradients(da, dl);
    return qkv_dx_ = qkv_.Backward(ctx, dqkv);
  }

 private:
  Linear qkv_, out_;
  GatedMemory memory_;
  int64_t rows_ = 0;                     // positions of the last forward
  float alpha_ = 0, lambda_ = 0;          // the memory's delta weight and decay, all positions
  std::vector<float> dalpha_, dlambda_;   // their gradients per position
  Tensor out_y_, qkv_dx_;
};

}  // namespace

LayerPtr MakeMemoryDeltaBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg) {
  return std::make_unique<MemoryDeltaBlock>(ctx, cfg);
}

}  // namespace tinylm::delta_lm
