// MicroMixer-1 as a plugin: HyperMixing and its embedding RoPE.
#include <cmath>
#include <cstring>
#include <vector>

#include "graph_hypermixing.h"
#include "micromixer.pb.h"
#include "tinylm/layers/elementwise.h"
#include "tinylm/layers/linear.h"
#include "tinylm/plugins/plugin.h"
#include "tinylm/tensors/parallel.h"

namespace {

using namespace tinylm;

// ---- HyperMixing -----------------------------------------------------------------------------
// p_t = (1/t) sum_{s<=t} u_s;  [scale; shift] = fc2(gelu(fc1 p));  m = dropout(u * scale + shift).
// Cost O(T H); decode keeps a running sum and count, so each new token costs O(H h).
struct RunningMean : DecodeState {
  Tensor sum;  // [B, H]
  int64_t count = 0;
};

class HyperMixing : public Layer {
 public:
  HyperMixing(const LayerBuildContext& ctx, const plugins::HyperMixingConfig& cfg)
      : h_(ctx.d_model),
        fc1_(*ctx.store, ctx.name + ".fc1", ctx.d_model, cfg.hidden(), true, ctx.init_std),
        fc2_(*ctx.store, ctx.name + ".fc2", cfg.hidden(), 2 * ctx.d_model, true, ctx.init_std),
        gelu_("gelu_erf", dnnl::algorithm::eltwise_gelu_erf),
        dropout_(ctx.tag + ".dropout", cfg.dropout()) {}

  std::string type() const override { return "hypermixing"; }

  Tensor Forward(Context& ctx, const Tensor& u, Mode mode) override {
    const int64_t b = u.dim(0), t = u.dim(1), h = h_;
    EnsureShape(mean_, u.shape());
    const float* pu = u.f32();
    float* pm = mean_.f32();
    // Running means per sequence, time-major: each step one vectorised pass over a row's
    // channels (contiguous), sequences in parallel; sums in double.
    ParallelFor(b, 2, [&](int64_t bi) {
      std::vector<double> sum(h, 0.0);
      double* s = sum.data();
      for (int64_t ti = 0; ti < t; ++ti) {
        const float* ur = pu + (bi * t + ti) * h;
        float* mr = pm + (bi * t + ti) * h;
        const double inv = 1.0 / static_cast<double>(ti + 1);
#pragma omp simd
        for (int64_t c = 0; c < h; ++c) {
          s[c] += ur[c];
          mr[c] = static_cast<float>(s[c] * inv);
        }
      }
    });
    Modulate(ctx, u, mean_, mode);
    if (mode == Mode::kTrain) u_ = u;
    return dropout_.Forward(ctx, out_, mode);
  }

  Tensor Backward(Context& ctx, const Tensor& dy) override {
    const Tensor dm = dropout_.Backward(ctx, dy);
    const int64_t b = u_.dim(0), t = u_.dim(1), h = h_;
    // m = u * scale + shift: d(scale) = dm * u, d(shift) = dm, du (direct) = dm * scale.
    EnsureShape(dz_, z_.shape());
    EnsureShape(du_, u_.shape());
    const float *pdm = dm.f32(), *pu = u_.f32(), *pz = z_.f32();
    float *pdz = dz_.f32(), *pdu = du_.f32();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < b * t; ++r)
      for (int64_t c = 0; c < h; ++c) {
        pdz[r * 2 * h + c] = pdm[r * h + c] * pu[r * h + c];
        pdz[r * 2 * h + h + c] = pdm[r * h + c];
        pdu[r * h + c] = pdm[r * h + c] * pz[r * 2 * h + c];
      }
    const Tensor dg = fc2_.Backward(ctx, dz_);
    const Tensor da = gelu_.Backward(ctx, dg);
    const Tensor dp = fc1_.Backward(ctx, da);
    // p_t = (1/t) sum_{s<=t} u_s  =>  du_s += sum_{t>=s} dp_t / t  (a reverse cumulative sum).
    const float* pdp = dp.f32();
    ParallelFor(b, 2, [&](int64_t bi) {  // time-major, as the forward
      std::vector<double> accv(h, 0.0);
      double* acc = accv.data();
      for (int64_t ti = t - 1; ti >= 0; --ti) {
        const float* dr = pdp + (bi * t + ti) * h;
        float* ur = pdu + (bi * t + ti) * h;
        const double inv = 1.0 / static_cast<double>(ti + 1);
#pragma omp simd
        for (int64_t c = 0; c < h; ++c) {
          acc[c] += dr[c] * inv;
          ur[c] += static_cast<float>(acc[c]);
        }
      }
    });
    return du_;
  }

  std::vector<Param*> Params() const override {
    std::vector<Param*> p = fc1_.Params();
    AppendUnique(p, fc2_.Params());
    return p;
  }
  // The two projections and the gelu, plus the running mean and the modulation (2 each).
  double ForwardFlops() const override {
    return fc1_.ForwardFlops() + fc2_.ForwardFlops() + gelu_.ForwardFlops() + dropout_.ForwardFlops() +
           (out_.defined() ? 4.0 * out_.numel() : 0.0);
  }
  std::vector<const Layer*> Children() const override { return {&fc1_, &fc2_, &gelu_, &dropout_}; }

  std::unique_ptr<DecodeState> NewDecodeState(int64_t batch, int64_t) const override {
    auto s = std::make_unique<RunningMean>();
    s->sum = Tensor::Zeros({batch, h_});
    return s;
  }

  Tensor Step(Context& ctx, const Tensor& u, int64_t pos, DecodeState* state) override {
    auto* s = static_cast<RunningMean*>(state);
    if (pos != s->count) throw std::logic_error("hypermixing step: positions must be contiguous");
    const int64_t b = u.dim(0), t = u.dim(1), h = h_;
    EnsureShape(mean_, u.shape());
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t ti = 0; ti < t; ++ti)
        for (int64_t c = 0; c < h; ++c) {
          float& sum = s->sum.f32()[bi * h + c];
          sum += u.f32()[(bi * t + ti) * h + c];
          mean_.f32()[(bi * t + ti) * h + c] = sum / static_cast<float>(pos + ti + 1);
        }
    s->count += t;
    Modulate(ctx, u, mean_, Mode::kEval);
    return out_;
  }

 private:
  // out = u * scale + shift from the running means.
  void Modulate(Context& ctx, const Tensor& u, const Tensor& mean, Mode mode) {
    const Tensor a = fc1_.Forward(ctx, mean, mode);
    z_ = fc2_.Forward(ctx, gelu_.Forward(ctx, a, mode), mode);
    EnsureShape(out_, u.shape());
    const int64_t rows = u.numel() / h_, h = h_;
    const float *pu = u.f32(), *pz = z_.f32();
    float* po = out_.f32();
#pragma omp parallel for schedule(static) if (rows > 64)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < h; ++c) po[r * h + c] = pu[r * h + c] * pz[r * 2 * h + c] + pz[r * 2 * h + h + c];
  }

  int64_t h_;
  Linear fc1_, fc2_;
  Activation gelu_;
  Dropout dropout_;
  Tensor u_, mean_, z_, out_, dz_, du_;
};

// ---- RoPE over the embeddings ------------------------------------------------------------------
// out_j = x_j cos(theta_j) + r_j sin(theta_j), r_{2k} = -x_{2k+1}, r_{2k+1} = x_{2k}.
// quirky: theta_j = t * f[j mod d/2] (MicroMixer's concatenated table); else theta_{2k} =
// theta_{2k+1} = t * f[k] (a rotation). f[i] = base^(-2i/d).
class EmbeddingRope : public Layer {
 public:
  EmbeddingRope(int64_t d, const plugins::MicroMixerRopeConfig& cfg) : d_(d), quirky_(cfg.quirky()), base_(cfg.base()) {
    if (d % 2) throw std::invalid_argument("d_model must be even");
  }
  std::string type() const override { return quirky_ ? "micromixer_rope" : "rope (interleaved)"; }
  Tensor Forward(Context&, const Tensor& x, Mode) override { return Apply(x, 0, false, y_); }
  Tensor Backward(Context&, const Tensor& dy) override { return Apply(dy, 0, true, dx_); }
  Tensor Step(Context&, const Tensor& x, int64_t pos, DecodeState*) override { return Apply(x, pos, false, y_); }
  double ForwardFlops() const override { return y_.defined() ? 3.0 * y_.numel() : 0.0; }

 private:
  // cos/sin of every (position, channel) angle, computed once in double and grown on demand.
  void EnsureTable(int64_t positions) {
    if (positions <= table_positions_) return;
    cos_.resize(positions * d_);
    sin_.resize(positions * d_);
    for (int64_t t = table_positions_; t < positions; ++t)
      for (int64_t j = 0; j < d_; ++j) {
        const int64_t i = quirky_ ? j % (d_ / 2) : j / 2;
        const double a = static_cast<double>(t) * std::pow(static_cast<double>(base_), -2.0 * i / d_);
        cos_[t * d_ + j] = static_cast<float>(std::cos(a));
        sin_[t * d_ + j] = static_cast<float>(std::sin(a));
      }
    table_positions_ = positions;
  }
  Tensor Apply(const Tensor& x, int64_t pos0, bool transpose, Tensor& out) {
    const int64_t b = x.dim(0), t = x.dim(1), d = d_;
    EnsureTable(pos0 + t);
    EnsureShape(out, x.shape());
    const float* px = x.f32();
    float* po = out.f32();
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t ti = 0; ti < t; ++ti) {
        const float* v = px + (bi * t + ti) * d;
        float* o = po + (bi * t + ti) * d;
        const float* cs = cos_.data() + (pos0 + ti) * d;
        const float* sn = sin_.data() + (pos0 + ti) * d;
        for (int64_t k = 0; k < d / 2; ++k) {
          const float c0 = cs[2 * k], s0 = sn[2 * k], c1 = cs[2 * k + 1], s1 = sn[2 * k + 1];
          const float x0 = v[2 * k], x1 = v[2 * k + 1];
          if (!transpose) {  // o0 = x0 c0 - x1 s0 ; o1 = x1 c1 + x0 s1
            o[2 * k] = x0 * c0 - x1 * s0;
            o[2 * k + 1] = x1 * c1 + x0 * s1;
          } else {  // the transpose of that 2x2 map
            o[2 * k] = x0 * c0 + x1 * s1;
            o[2 * k + 1] = -x0 * s0 + x1 * c1;
          }
        }
      }
    return out;
  }
  int64_t d_;
  bool quirky_;
  float base_;
  std::vector<float> cos_, sin_;
  int64_t table_positions_ = 0;
  Tensor y_, dx_;
};

void Register(PluginRegistrar& r) {
  r.AddLayer(
      "tinylm.plugins.hypermixing",
      [](const ConfigMessage& c, const LayerBuildContext& ctx) -> LayerPtr {
        const auto& cfg = static_cast<const plugins::HyperMixingConfig&>(c);
        if (cfg.graph()) return micromixer::MakeGraphHyperMixing(ctx, cfg);
        return std::make_unique<HyperMixing>(ctx, cfg);
      },
      [](const ConfigMessage& c) -> std::string {
        const auto& cfg = static_cast<const plugins::HyperMixingConfig&>(c);
        if (cfg.hidden() <= 0) return "hidden: must be positive";
        if (cfg.dropout() < 0 || cfg.dropout() >= 1) return "dropout: must be in [0, 1)";
        return "";
      },
      {"hidden: 8 dropout: 0.1", "hidden: 8 dropout: 0.1 graph: true", "hidden: 3"});
  r.AddLayer(
      "tinylm.plugins.micromixer_rope",
      [](const ConfigMessage& c, const LayerBuildContext& ctx) -> LayerPtr {
        return std::make_unique<EmbeddingRope>(ctx.d_model, static_cast<const plugins::MicroMixerRopeConfig&>(c));
      },
      [](const ConfigMessage& c) -> std::string {
        return static_cast<const plugins::MicroMixerRopeConfig&>(c).base() > 1 ? "" : "base: must be greater than 1";
      },
      {"quirky: true", "quirky: false"});
}

}  // namespace

TINYLM_PLUGIN("micromixer", "1.0.0", "MicroMixer-1: HyperMixing token mixer and embedding RoPE", Register)
