// Delta block option C (seed_systems.md section 2, "MetaFormer / PoolFormer-style"): a
// parameter-free causal token mixer and a 4x FFN, three LayerNorms, three learned scalars:
//   h  = LN1(x)
//   C_t = mean(h_1 .. h_t)   [or C_t = lambda C_{t-1} + (1 - lambda) h_t, lambda = sigmoid(theta)]
//   m_t = C_t + alpha (h_t - h_{t-1})            (h_0 = 0)
//   x1 = x + gamma1 LN_mix(m);  y = x1 + gamma2 FFN(LN2(x1)),  FFN: d -> 4d -> d with biases
// Parameters: 3 * 2d + (4d^2 + 4d) + (4d^2 + d) + 3 = 8d^2 + 11d + 3.
// Why LN_mix on the mixer output: a running mean of t roughly independent unit-scale vectors
// shrinks like 1/sqrt(t), so without it the branch's scale would depend on the position; the
// norm restores it (and its affine weights give the otherwise weight-free mixer a per-channel
// scale). The delta is the token-to-token difference, as seed_systems.md words option C.
// Decode keeps C_{t-1} and h_{t-1}: O(d) per token for the mixer.
#include "block_math.h"
#include "delta_blocks.h"
#include "scalar_gated_block.h"

namespace tinylm::delta_lm {
namespace {

struct PoolState : DecodeState {
  Tensor memory, previous;  // C_{t-1} and h_{t-1}, [B, d]
  int64_t count = 0;
};

class PooledDeltaBlock : public ScalarGatedBlock {
 public:
  PooledDeltaBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg)
      : ScalarGatedBlock(ctx, cfg, 4 * ctx.d_model), mix_norm_(*ctx.store, ctx.name + ".mix_norm", d_, 1e-5f) {}

  std::string type() const override { return "delta_block"; }

  std::unique_ptr<DecodeState> NewDecodeState(int64_t batch, int64_t) const override {
    auto s = std::make_unique<PoolState>();
    s->memory = Tensor::Zeros({batch, d_});
    s->previous = Tensor::Zeros({batch, d_});
    return s;
  }

 protected:
  std::vector<Param*> MixParams() const override { return mix_norm_.Params(); }

  const Tensor& MixForward(Context& ctx, const Tensor& h, Mode mode, int64_t pos, DecodeState* state) override {
    auto* st = static_cast<PoolState*>(state);
    if (st && pos != st->count) throw std::logic_error("delta block step: positions must be contiguous");
    const int64_t b = h.dim(0), t = h.dim(1), d = d_;
    h_ = h;
    EnsureShape(mem_, {b, t, d});
    EnsureShape(mixed_, {b, t, d});
    const double a = alpha(), lam = decay() ? lambda() : 0.0;
    const float* ph = h.f32();
    float *pc = mem_.f32(), *pm = mixed_.f32();
#pragma omp parallel for schedule(static) if (b * d > 64)
    for (int64_t bc = 0; bc < b * d; ++bc) {
      const int64_t bi = bc / d, c = bc % d;
      double cprev = st ? st->memory.f32()[bi * d + c] : 0.0;
      double hprev = st ? st->previous.f32()[bi * d + c] : 0.0;
      for (int64_t ti = 0; ti < t; ++ti) {
        const int64_t i = (bi * t + ti) * d + c;
        const double n = static_cast<double>(pos + ti + 1);
        const double ct = decay() ? lam * cprev + (1 - lam) * ph[i] : ((n - 1) * cprev + ph[i]) / n;
        pc[i] = static_cast<float>(ct);
        pm[i] = static_cast<float>(ct + a * (ph[i] - hprev));
        cprev = ct;
        hprev = ph[i];
      }
      if (st) {
        st->memory.f32()[bi * d + c] = static_cast<float>(cprev);
        st->previous.f32()[bi * d + c] = static_cast<float>(hprev);
      }
    }
    if (st) st->count += t;
    return branch_ = mix_norm_.Forward(ctx, mixed_, mode);
  }

  // The running memory and delta (about 6 per channel and position) and the norm.
  double MixFlops() const override { return mix_norm_.ForwardFlops() + (mixed_.defined() ? 6.0 * mixed_.numel() : 0.0); }

  const Tensor& MixBackward(Context& ctx, const Tensor& dbranch) override {
    const Tensor& dm = mix_norm_.Backward(ctx, dbranch);
    const int64_t b = h_.dim(0), t = h_.dim(1), d = d_;
    EnsureShape(dh_, h_.shape());
    const double a = alpha(), lam = decay() ? lambda() : 0.0;
    const float *ph = h_.f32(), *pc = mem_.f32(), *pg = dm.f32();
    float* pdh = dh_.f32();
    double dalpha = 0, dlambda = 0;
#pragma omp parallel for schedule(static) reduction(+ : dalpha, dlambda)
    for (int64_t bc = 0; bc < b * d; ++bc) {
      const int64_t bi = bc / d, c = bc % d;
      double carry = 0;    // dL/dC_t through later positions
      double pending = 0;  // dL/dh_t through the next position's delta, -alpha g_{t+1}
      for (int64_t ti = t - 1; ti >= 0; --ti) {
        const int64_t i = (bi * t + ti) * d + c;
        const double g = pg[i], hprev = ti > 0 ? ph[i - d] : 0.0;
        const double dct = g + carry;
        double dh = a * g + pending;
        dalpha += g * (ph[i] - hprev);
        if (decay()) {
          const double cprev = ti > 0 ? pc[i - d] : 0.0;
          dh += (1 - lam) * dct;
          dlambda += dct * (cprev - ph[i]);
          carry = lam * dct;
        } else {
          const double n = static_cast<double>(ti + 1);
          dh += dct / n;
          carry = dct * (n - 1) / n;
        }
        pdh[i] = static_cast<float>(dh);
        pending = -a * g;
      }
    }
    AddScalarGradients(dalpha, dlambda);
    return dh_;
  }

 private:
  LayerNorm mix_norm_;
  Tensor h_, mem_, mixed_, branch_, dh_;
};

}  // namespace

LayerPtr MakePooledDeltaBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg) {
  return std::make_unique<PooledDeltaBlock>(ctx, cfg);
}

}  // namespace tinylm::delta_lm
