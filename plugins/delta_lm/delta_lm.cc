// The delta LM block (seed_systems.md section 2, option A), a whole residual block:
//   h = LN1(x);  q, k, v = h W + b  (one fused d -> 3d matmul)
//   kv_t = k_t * v_t;  C_t = mean(kv_1..kv_t)  [or C_t = l C_{t-1} + (1 - l) kv_t, l = sigmoid(theta)]
//   D_t = kv_t - C_{t-1}  (C_0 = 0)
//   r_t = sigmoid(q_t) * (C_t + alpha D_t)
//   x = x + gamma1 (r W_o + b_o)
//   x = x + gamma2 FFN(LN2(x)),  FFN: d -> 2d (GELU) -> d, with biases
// Parameters: 2d + 3(d^2 + d) + (d^2 + d) + 2d + (2d^2 + 2d) + (2d^2 + d) + 3 = 8d^2 + 11d + 3.
// Decode keeps C_{t-1} and t per sequence, so a token costs O(d^2) (the matmuls), not O(t).
#include <cmath>

#include "delta_lm.pb.h"
#include "tinylm/layers/layernorm.h"
#include "tinylm/layers/linear.h"
#include "tinylm/layers/mlp.h"
#include "tinylm/ops.h"
#include "tinylm/plugin.h"
#include "tinylm/rng.h"

namespace {

using namespace tinylm;
using plugins::DeltaBlockConfig;

struct MemoryState : DecodeState {
  Tensor memory;  // C_{t-1}, [B, d]
  int64_t count = 0;
};

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

class DeltaBlock : public Layer {
 public:
  DeltaBlock(const LayerBuildContext& ctx, const DeltaBlockConfig& cfg)
      : d_(ctx.d_model),
        cfg_(cfg),
        ln1_(*ctx.store, ctx.name + ".ln1", d_, 1e-5f),
        qkv_(*ctx.store, ctx.name + ".qkv", d_, 3 * d_, true, ctx.init_std),
        out_(*ctx.store, ctx.name + ".out", d_, d_, true, ctx.init_std),
        ln2_(*ctx.store, ctx.name + ".ln2", d_, 1e-5f),
        ffn_(*ctx.store, ctx.name + ".ffn", d_, 2 * d_, GeluKind::kErf, true, ctx.init_std) {
    const bool decay = cfg.memory() == DeltaBlockConfig::DECAY;
    // The third scalar: alpha (mean memory, delta on) or theta (decay memory).
    if (decay) scalar_ = ctx.store->Declare(ctx.name + ".theta", {1}, Init::Constant(cfg.theta_init()), false);
    else if (cfg.delta()) scalar_ = ctx.store->Declare(ctx.name + ".alpha", {1}, Init::Constant(cfg.alpha_init()), false);
    gamma1_ = ctx.store->Declare(ctx.name + ".gamma1", {1}, Init::Constant(cfg.gamma_init()), false);
    gamma2_ = ctx.store->Declare(ctx.name + ".gamma2", {1}, Init::Constant(cfg.gamma_init()), false);
  }

  std::string type() const override { return "delta_block"; }

  std::vector<Param*> Params() const override {
    std::vector<Param*> p = ln1_.Params();
    for (const Layer* l : std::initializer_list<const Layer*>{&qkv_, &out_, &ln2_, &ffn_}) AppendUnique(p, l->Params());
    if (scalar_) p.push_back(scalar_);
    p.push_back(gamma1_);
    p.push_back(gamma2_);
    return p;
  }

  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override {
    const int64_t b = x.dim(0), t = x.dim(1);
    const Tensor qkv = qkv_.Forward(ctx, ln1_.Forward(ctx, x, mode), mode);
    Mix(qkv, b, t, nullptr, 0);
    return Finish(ctx, x, mode);
  }

  Tensor Backward(Context& ctx, const Tensor& dy) override {
    const int64_t b = x_.dim(0), t = x_.dim(1), d = d_;
    const float g1 = gamma1_->value.f32()[0], g2 = gamma2_->value.f32()[0];
    // x2 = x1 + g2 * f;  x1 = x + g1 * o.
    const Tensor dffn_in = Scaled(dy, g2, dscaled_);
    gamma2_->grad.f32()[0] += Dot(dy, ffn_out_);
    const Tensor dx1_branch = ln2_.Backward(ctx, ffn_.Backward(ctx, dffn_in));
    EnsureShape(dx1_, dy.shape());
    Add(dy, dx1_branch, dx1_);
    gamma1_->grad.f32()[0] += Dot(dx1_, o_);
    const Tensor dr = out_.Backward(ctx, Scaled(dx1_, g1, dscaled_));
    // r = s(q) * (C + a D), D_t = kv_t - C_{t-1}; C mean or decay of kv.
    const float* pq = qkv_out_.f32();
    const float* pc = mem_.f32();
    const float* pd = dr.f32();
    EnsureShape(dqkv_, qkv_out_.shape());
    float* pg = dqkv_.f32();
    const bool decay = cfg_.memory() == DeltaBlockConfig::DECAY;
    const double a = Alpha(), lam = decay ? Sigmoid(scalar_->value.f32()[0]) : 0.0;
    double dscalar = 0;
#pragma omp parallel for schedule(static) reduction(+ : dscalar)
    for (int64_t bc = 0; bc < b * d; ++bc) {
      const int64_t bi = bc / d, c = bc % d;
      // Walk backwards carrying dL/dC_t from later positions (through C_{t+1} and D_{t+1}).
      double carry = 0;  // dL/dC_t accumulated from positions > t
      for (int64_t ti = t - 1; ti >= 0; --ti) {
        const int64_t row = bi * t + ti;
        const float* qr = pq + row * 3 * d;
        const double q = qr[c], k = qr[d + c], v = qr[2 * d + c];
        const double kv = k * v;
        const double ct = pc[row * d + c];
        const double cprev = ti > 0 ? pc[(row - 1) * d + c] : 0.0;
        const double sq = Sigmoid(q);
        const double g = pd[row * d + c];
        const double mixed = ct + a * (kv - cprev);
        // dL/d(sq) and q
        pg[row * 3 * d + c] = static_cast<float>(g * mixed * sq * (1 - sq));
        if (!decay && scalar_) dscalar += g * sq * (kv - cprev);
        // Direct uses at t: dC_t from the read, dkv_t from the delta term.
        const double dct = g * sq + carry;
        double dkv = g * sq * a;
        double dcprev = -g * sq * a;  // to C_{t-1}
        // C_t's dependence on kv_t and C_{t-1}.
        if (decay) {
          dkv += dct * (1 - lam);
          dcprev += dct * lam;
          dscalar += dct * (cprev - kv) * lam * (1 - lam);  // dC/dtheta = (C_{t-1} - kv) l (1 - l)
        } else {
          const double n = static_cast<double>(ti + 1);  // C_t = ((n-1) C_{t-1} + kv_t) / n
          dkv += dct / n;
          dcprev += dct * (n - 1) / n;
        }
        pg[row * 3 * d + d + c] = static_cast<float>(dkv * v);
        pg[row * 3 * d + 2 * d + c] = static_cast<float>(dkv * k);
        carry = dcprev;
      }
    }
    if (scalar_) scalar_->grad.f32()[0] += static_cast<float>(dscalar);
    const Tensor dx0 = ln1_.Backward(ctx, qkv_.Backward(ctx, dqkv_));
    EnsureShape(dx_, dy.shape());
    Add(dx1_, dx0, dx_);
    return dx_;
  }

  std::unique_ptr<DecodeState> NewDecodeState(int64_t batch, int64_t) const override {
    auto s = std::make_unique<MemoryState>();
    s->memory = Tensor::Zeros({batch, d_});
    return s;
  }

  Tensor Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) override {
    auto* s = static_cast<MemoryState*>(state);
    if (pos != s->count) throw std::logic_error("delta block step: positions must be contiguous");
    const int64_t b = x.dim(0), t = x.dim(1);
    const Tensor qkv = qkv_.Forward(ctx, ln1_.Forward(ctx, x, Mode::kEval), Mode::kEval);
    Mix(qkv, b, t, &s->memory, pos);
    s->count += t;
    return Finish(ctx, x, Mode::kEval);
  }

 private:
  double Alpha() const {
    if (cfg_.memory() == DeltaBlockConfig::DECAY) return 1.0;
    return scalar_ ? scalar_->value.f32()[0] : 0.0;
  }

  // From qkv [B, T, 3d]: memory C [B, T, d] and read r = s(q) * (C + a D). `carried` holds
  // C_{pos-1} per sequence for decoding (updated to the last C), or null for a full sequence.
  void Mix(const Tensor& qkv, int64_t b, int64_t t, Tensor* carried, int64_t pos) {
    const int64_t d = d_;
    qkv_out_ = qkv;
    EnsureShape(mem_, {b, t, d});
    EnsureShape(read_, {b, t, d});
    const float* pq = qkv.f32();
    float *pc = mem_.f32(), *pr = read_.f32();
    const bool decay = cfg_.memory() == DeltaBlockConfig::DECAY;
    const double a = Alpha(), lam = decay ? Sigmoid(scalar_->value.f32()[0]) : 0.0;
#pragma omp parallel for schedule(static) if (b * d > 64)
    for (int64_t bc = 0; bc < b * d; ++bc) {
      const int64_t bi = bc / d, c = bc % d;
      double cprev = carried ? carried->f32()[bi * d + c] : 0.0;
      for (int64_t ti = 0; ti < t; ++ti) {
        const int64_t row = bi * t + ti;
        const float* qr = pq + row * 3 * d;
        const double kv = static_cast<double>(qr[d + c]) * qr[2 * d + c];
        const double n = static_cast<double>(pos + ti + 1);
        const double ct = decay ? lam * cprev + (1 - lam) * kv : ((n - 1) * cprev + kv) / n;
        pc[row * d + c] = static_cast<float>(ct);
        pr[row * d + c] = static_cast<float>(Sigmoid(qr[c]) * (ct + a * (kv - cprev)));
        cprev = ct;
      }
      if (carried) carried->f32()[bi * d + c] = static_cast<float>(cprev);
    }
  }

  // x1 = x + g1 * out(r);  y = x1 + g2 * ffn(ln2(x1)).
  Tensor Finish(Context& ctx, const Tensor& x, Mode mode) {
    const float g1 = gamma1_->value.f32()[0], g2 = gamma2_->value.f32()[0];
    o_ = out_.Forward(ctx, read_, mode);
    EnsureShape(x1_, x.shape());
    Axpy(x, g1, o_, x1_);
    ffn_out_ = ffn_.Forward(ctx, ln2_.Forward(ctx, x1_, mode), mode);
    EnsureShape(y_, x.shape());
    Axpy(x1_, g2, ffn_out_, y_);
    if (mode == Mode::kTrain) x_ = x;
    return y_;
  }

  static void Axpy(const Tensor& x, float a, const Tensor& y, Tensor& out) {
    const float *px = x.f32(), *py = y.f32();
    float* po = out.f32();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) po[i] = px[i] + a * py[i];
  }
  static Tensor Scaled(const Tensor& x, float a, Tensor& out) {
    EnsureShape(out, x.shape());
    for (int64_t i = 0, n = x.numel(); i < n; ++i) out.f32()[i] = a * x.f32()[i];
    return out;
  }
  static float Dot(const Tensor& a, const Tensor& b) {
    double s = 0;
    for (int64_t i = 0, n = a.numel(); i < n; ++i) s += static_cast<double>(a.f32()[i]) * b.f32()[i];
    return static_cast<float>(s);
  }

  int64_t d_;
  DeltaBlockConfig cfg_;
  LayerNorm ln1_;
  Linear qkv_, out_;
  LayerNorm ln2_;
  GeluMlp ffn_;
  Param* scalar_ = nullptr;  // alpha (mean memory) or theta (decay), or none (delta off)
  Param *gamma1_, *gamma2_;
  Tensor x_, qkv_out_, mem_, read_, o_, x1_, ffn_out_, y_, dx1_, dqkv_, dscaled_, dx_;
};

// Non-overlapping records in a seeded random order per epoch (Fisher-Yates on counter draws, so
// the order is a pure function of (seed, epoch) and resumed runs see the same records).
class RecordBatches : public DataMixer {
 public:
  RecordBatches(const TokenStream* stream, int64_t length)
      : stream_(stream), length_(length), records_(static_cast<int64_t>(stream->tokens.size()) / length) {
    if (records_ < 1) throw std::invalid_argument("the stream is shorter than one record");
  }
  void Mix(uint64_t seed, uint64_t step, Batch* b) const override {
    const int64_t rows = b->inputs.dim(0), t = b->inputs.dim(1);
    if (t + 1 != length_) throw std::invalid_argument("record length must be seq_len + 1");
    b->weights = Tensor();  // plain loss on every target
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t g = static_cast<int64_t>(step) * rows + r;
      const int32_t* p = stream_->tokens.data() + Order(seed, g / records_)[g % records_] * length_;
      for (int64_t i = 0; i < t; ++i) {
        b->inputs.s32()[r * t + i] = p[i];
        b->targets.s32()[r * t + i] = p[i + 1];
      }
    }
  }

 private:
  const std::vector<int64_t>& Order(uint64_t seed, int64_t epoch) const {
    if (order_seed_ != seed || order_epoch_ != epoch || order_.empty()) {
      order_.resize(records_);
      for (int64_t i = 0; i < records_; ++i) order_[i] = i;
      for (int64_t i = records_ - 1; i > 0; --i)
        std::swap(order_[i], order_[CounterBits(seed, 0x7265636f7264ULL + epoch, i) % (i + 1)]);
      order_seed_ = seed;
      order_epoch_ = epoch;
    }
    return order_;
  }
  const TokenStream* stream_;
  int64_t length_, records_;
  mutable std::vector<int64_t> order_;  // the current epoch's permutation (cache)
  mutable uint64_t order_seed_ = 0;
  mutable int64_t order_epoch_ = -1;
};

void Register(PluginRegistrar& r) {
  r.AddDataMixer(
      "tinylm.plugins.records",
      [](const ConfigMessage& c, const MixerContext& ctx) -> std::unique_ptr<DataMixer> {
        const int64_t length = static_cast<const plugins::RecordBatchesConfig&>(c).length();
        if (!ctx.pretrain) throw std::invalid_argument("records need a pretraining stream");
        if (length != ctx.seq_len + 1)
          throw std::invalid_argument("record length " + std::to_string(length) + " must be seq_len + 1 = " +
                                      std::to_string(ctx.seq_len + 1));
        return std::make_unique<RecordBatches>(ctx.pretrain, length);
      },
      [](const ConfigMessage& c) -> std::string {
        return static_cast<const plugins::RecordBatchesConfig&>(c).length() >= 2 ? "" : "length: must be at least 2";
      });
  r.AddLayer(
      "tinylm.plugins.delta_block",
      [](const ConfigMessage& c, const LayerBuildContext& ctx) -> LayerPtr {
        return std::make_unique<DeltaBlock>(ctx, static_cast<const DeltaBlockConfig&>(c));
      },
      nullptr, "memory: MEAN delta: true alpha_init: 0.7 gamma_init: 0.9");
}

}  // namespace

TINYLM_PLUGIN("delta_lm", "0.2.0", "byte-level delta LM: cumulative-memory + delta blocks, record batches", Register)
