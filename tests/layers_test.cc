// Every core layer through the one harness, on several shapes including odd sizes.
#include <gtest/gtest.h>

#include "layer_harness.h"
#include "tinylm/layers/attention.h"
#include "tinylm/layers/compose.h"
#include "tinylm/layers/elementwise.h"
#include "tinylm/layers/embedding.h"
#include "tinylm/layers/layernorm.h"
#include "tinylm/layers/linear.h"
#include "tinylm/layers/mlp.h"
#include "tinylm/layers/rmsnorm.h"
#include "tinylm/layers/rope.h"
#include "tinylm/tensors/rng.h"

namespace tinylm::testing {
namespace {

const std::vector<Shape> kShapes = {{1, 1, 8}, {2, 5, 8}, {3, 7, 8}};

TEST(Layers, LinearWithBias) {
  for (int64_t in : {8, 13}) {
    for (int64_t out : {5, 16}) {
      CheckLayer({"linear_bias", [=](ParamStore& s) { return std::make_unique<Linear>(s, "l", in, out, true); },
                  {2, 3, in},
                  [=](const ref::Vec& x, const ref::Params& p) { return ref::Linear(x, in, p.at("l.weight"), p.at("l.bias")); }});
    }
  }
}

TEST(Layers, LinearNoBias) {
  CheckLayer({"linear", [](ParamStore& s) { return std::make_unique<Linear>(s, "l", 11, 7, false); },
              {3, 5, 11},
              [](const ref::Vec& x, const ref::Params& p) { return ref::Linear(x, 11, p.at("l.weight"), {}); }});
}

TEST(Layers, Embedding) {
  for (const Shape& s : std::vector<Shape>{{1, 1}, {2, 9}, {3, 4}}) {
    CheckLayer({"embedding", [](ParamStore& st) { return std::make_unique<Embedding>(st, "e", 13, 6); }, s,
                [](const ref::Vec& ids, const ref::Params& p) {
                  return ref::Embedding(std::vector<int32_t>(ids.begin(), ids.end()), p.at("e.weight"), 6);
                },
                13});
  }
}

TEST(Layers, EmbeddingWithTiedHead) {
  // Embedding -> tied output head: the gradient of the shared matrix sums both uses.
  CheckLayer({"tied_embedding_head",
              [](ParamStore& s) {
                auto seq = std::make_unique<Sequential>();
                auto e = std::make_unique<Embedding>(s, "e", 11, 6);
                Param* w = e->weight();
                seq->Add(std::move(e));
                seq->Add(std::make_unique<Linear>(s, "head", 6, 11, false, 0.02f, s.Share(w->name)));
                return seq;
              },
              {2, 5},
              [](const ref::Vec& ids, const ref::Params& p) {
                const ref::Vec h = ref::Embedding(std::vector<int32_t>(ids.begin(), ids.end()), p.at("e.weight"), 6);
                return ref::Linear(h, 6, p.at("e.weight"), {});
              },
              11});
}

TEST(Layers, RmsNorm) {
  for (int64_t d : {8, 17, 64}) {
    CheckLayer({"rmsnorm", [=](ParamStore& s) { return std::make_unique<RmsNorm>(s, "n", d, 1e-6f); },
                {3, 7, d},
                [=](const ref::Vec& x, const ref::Params& p) { return ref::RmsNorm(x, d, p.at("n.weight"), 1e-6); }});
  }
}

TEST(Layers, LayerNorm) {
  for (int64_t d : {8, 17, 64}) {
    CheckLayer({"layernorm", [=](ParamStore& s) { return std::make_unique<LayerNorm>(s, "n", d, 1e-5f); },
                {2, 5, d},
                [=](const ref::Vec& x, const ref::Params& p) {
                  return ref::LayerNorm(x, d, p.at("n.weight"), p.at("n.bias"), 1e-5);
                }});
  }
}

TEST(Layers, Rope) {
  struct C { RopeStyle style; float fraction; float base; int64_t hd; };
  for (const C& c : std::vector<C>{{RopeStyle::kRotateHalf, 1.0f, 10000.0f, 8},
                                   {RopeStyle::kInterleaved, 1.0f, 10000.0f, 8},
                                   {RopeStyle::kRotateHalf, 0.5f, 500.0f, 12},
                                   {RopeStyle::kInterleaved, 0.25f, 10000.0f, 16}}) {
    RopeOptions o{c.style, c.base, c.fraction};
    const int64_t heads = 2, hd = c.hd;
    CheckLayer({"rope", [=](ParamStore&) { return std::make_unique<RopeLayer>(heads, hd, o); },
                {2, 9, heads * hd},
                [=](const ref::Vec& x, const ref::Params&) {
                  return ref::Rope(x, 2, 9, heads, hd, c.style == RopeStyle::kInterleaved, c.base, c.fraction);
                }});
  }
}

struct AttnCase { int64_t b, t, d, heads, kv; bool qk_norm, rope, interleaved; float fraction; };

TEST(Layers, Attention) {
  for (const AttnCase& a : std::vector<AttnCase>{
           {1, 1, 8, 2, 2, false, true, false, 1.0f},     // single token
           {2, 7, 16, 4, 4, false, true, false, 1.0f},    // plain MHA + RoPE
           {2, 6, 16, 4, 4, true, true, false, 1.0f},     // QK-norm
           {3, 5, 24, 4, 2, true, true, true, 0.5f},      // GQA, interleaved, partial RoPE
           {2, 9, 12, 3, 1, false, false, false, 1.0f},   // multi-query, no RoPE, odd sizes
       }) {
    AttentionOptions o;
    o.heads = a.heads;
    o.kv_heads = a.kv;
    o.qk_norm = a.qk_norm;
    o.rope = a.rope;
    o.rope_options = {a.interleaved ? RopeStyle::kInterleaved : RopeStyle::kRotateHalf, 10000.0f, a.fraction};
    ref::AttentionShape rs{a.b, a.t, a.d, a.heads, a.kv, a.qk_norm, a.rope, a.interleaved, 10000.0, a.fraction, 1e-6};
    CheckLayer({"attention", [=](ParamStore& s) { return std::make_unique<Attention>(s, "a", a.d, o); },
                {a.b, a.t, a.d},
                [=](const ref::Vec& x, const ref::Params& p) { return ref::Attention(x, rs, p, "a"); }});
  }
}

TEST(Layers, SwiGlu) {
  for (const Shape& s : kShapes) {
    CheckLayer({"swiglu", [](ParamStore& st) { return std::make_unique<SwiGlu>(st, "m", 8, 13); }, s,
                [](const ref::Vec& x, const ref::Params& p) { return ref::SwiGlu(x, 8, 13, p, "m"); }});
  }
}

TEST(Layers, GeluMlp) {
  for (GeluKind k : {GeluKind::kErf, GeluKind::kTanh}) {
    CheckLayer({"gelu_mlp", [=](ParamStore& st) { return std::make_unique<GeluMlp>(st, "m", 8, 11, k); }, {2, 5, 8},
                [=](const ref::Vec& x, const ref::Params& p) { return ref::GeluMlp(x, 8, 11, k == GeluKind::kTanh, p, "m"); }});
  }
}

TEST(Layers, Activations) {
  struct C { std::function<LayerPtr()> make; std::function<double(double)> f; };
  for (const C& c : std::vector<C>{{Activation::Silu, ref::Silu},
                                   {Activation::GeluErf, [](double v) { return ref::Gelu(v, false); }},
                                   {Activation::GeluTanh, [](double v) { return ref::Gelu(v, true); }}}) {
    for (const Shape& s : kShapes) {
      CheckLayer({"activation", [&](ParamStore&) { return c.make(); }, s,
                  [&](const ref::Vec& x, const ref::Params&) {
                    ref::Vec y = x;
                    for (auto& v : y) v = c.f(v);
                    return y;
                  }});
    }
  }
}

TEST(Layers, Dropout) {
  const float p = 0.3f;
  for (const Shape& s : kShapes) {
    LayerCase c{"dropout", [=](ParamStore&) { return std::make_unique<Dropout>("drop", p); }, s, nullptr};
    // The reference draws the same counter-based mask from its definition: element i is kept
    // iff uniform(seed, hash(name) ^ step * golden, i) >= p. (Harness: seed 1, step 3.)
    c.ref = [=](const ref::Vec& x, const ref::Params&) {
      ref::Vec y = x;
      const uint64_t stream = HashString("drop") ^ (3 * 0x9e3779b97f4a7c15ULL);
      for (size_t i = 0; i < y.size(); ++i) y[i] = CounterUniform(1, stream, i) >= p ? x[i] / (1.0 - p) : 0.0;
      return y;
    };
    CheckLayer(c);
  }
}

TEST(Layers, DropoutKeepsExpectedShare) {
  Context ctx(2, 42);
  Dropout d("d", 0.25f);
  Tensor x = Tensor::Empty({1, 1000, 100});
  x.Fill(1.0f);
  const Tensor y = d.Forward(ctx, x, Mode::kTrain);
  int64_t kept = 0;
  for (int64_t i = 0; i < y.numel(); ++i) kept += y.f32()[i] != 0.0f;
  EXPECT_NEAR(kept / 100000.0, 0.75, 0.01);
  EXPECT_EQ(d.Forward(ctx, x, Mode::kEval).f32()[0], 1.0f);  // identity in eval
}

// The transformer pre-norm residual blocks, composed from the references of their parts.
TEST(Layers, PreNormResidualBlock) {
  const int64_t d = 16;
  AttentionOptions o;
  o.heads = 4;
  o.qk_norm = true;
  ref::AttentionShape rs{2, 6, d, 4, 4, true, true, false, 10000.0, 1.0, 1e-6};
  CheckLayer({"prenorm_attention_block",
              [=](ParamStore& s) {
                return MakePreNormResidual(std::make_unique<RmsNorm>(s, "n", d, 1e-6f),
                                           std::make_unique<Attention>(s, "a", d, o), 0.0f, "b");
              },
              {2, 6, d},
              [=](const ref::Vec& x, const ref::Params& p) {
                ref::Vec y = ref::Attention(ref::RmsNorm(x, d, p.at("n.weight"), 1e-6), rs, p, "a");
                for (size_t i = 0; i < y.size(); ++i) y[i] += x[i];
                return y;
              }});
  CheckLayer({"prenorm_mlp_block",
              [=](ParamStore& s) {
                return MakePreNormResidual(std::make_unique<LayerNorm>(s, "n", d, 1e-5f),
                                           std::make_unique<GeluMlp>(s, "m", d, 24), 0.0f, "b");
              },
              {3, 5, d},
              [=](const ref::Vec& x, const ref::Params& p) {
                ref::Vec y = ref::GeluMlp(ref::LayerNorm(x, d, p.at("n.weight"), p.at("n.bias"), 1e-5), d, 24, false, p, "m");
                for (size_t i = 0; i < y.size(); ++i) y[i] += x[i];
                return y;
              }});
}

TEST(Layers, RepeatWithSharedWeights) {
  const int64_t d = 8;
  auto block = [=](ParamStore& s, int) {
    return MakePreNormResidual(std::make_unique<RmsNorm>(s, "blk.n", d, 1e-6f),
                               std::make_unique<SwiGlu>(s, "blk.m", d, 12), 0.0f, "blk");
  };
  CheckLayer({"repeat3", [=](ParamStore& s) { return std::make_unique<Repeat>(s, 3, block); }, {2, 5, d},
              [=](const ref::Vec& x, const ref::Params& p) {
                ref::Vec h = x;
                for (int i = 0; i < 3; ++i) {
                  ref::Vec y = ref::SwiGlu(ref::RmsNorm(h, d, p.at("blk.n.weight"), 1e-6), d, 12, p, "blk.m");
                  for (size_t j = 0; j < y.size(); ++j) h[j] += y[j];
                }
                return h;
              }});
  ParamStore s;
  Repeat r(s, 4, block);
  EXPECT_EQ(s.params().size(), 3u);  // norm weight, gate_up, down: declared once
  EXPECT_EQ(r.Params().size(), 3u);
  EXPECT_TRUE(s.Find("blk.m.down.weight")->tied());
}

TEST(Params, DuplicateNameOutsideSharedScopeIsAnError) {
  ParamStore s;
  s.Declare("w", {2, 2}, Init::Normal(1), true);
  EXPECT_THROW(s.Declare("w", {2, 2}, Init::Normal(1), true), std::logic_error);
  ParamStore::SharedScope scope(s);
  EXPECT_THROW(s.Declare("w", {3, 2}, Init::Normal(1), true), std::logic_error);
  EXPECT_EQ(s.Declare("w", {2, 2}, Init::Normal(1), true), s.Find("w"));
}

}  // namespace
}  // namespace tinylm::testing
