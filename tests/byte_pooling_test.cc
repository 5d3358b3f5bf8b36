// Byte pooling (plugins/byte_pooling, STLM's byte-level model): the pre-tokenizer and chunk
// tokenizer, grouped streams in the data pipeline, the byte encoder and decoder through the
// shared layer harness (naive double references), the PyTorch golden of the whole ~1M model
// written after upstream's modules, chunk-by-chunk decode, and a spec's training end to end.
#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include <cmath>

#include "golden_file.h"
#include "layer_harness.h"
#include "temp_dir.h"
#include "tinylm/data/data.h"
#include "tinylm/experiments/spec.h"
#include "tinylm/layers/layer_check.h"
#include "tinylm/evaluation/blimp.h"
#include "tinylm/model/generate.h"
#include "tinylm/model/packed.h"
#include "tinylm/training/trainer.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/plugins/plugin_manager.h"

namespace tinylm::testing {
namespace {

std::unique_ptr<Tokenizer> Chunks(int c, bool truncate = false) {
  PluginManager::Global().Load("byte_pooling");
  return LoadTokenizer("byte_chunks " + std::to_string(c) + (truncate ? " 1" : " 0"));
}

// The whole byte-pooling model (spec file, fp32) against tools/make_goldens.py's float64 torch
// model (upstream's ByteLevelEmbedder, GenericTransformer, ByteLevelDecoder, ByteModelShell):
// logits, next-chunk loss (end-of-text targets ignored), reconstruction loss, every gradient of
// their sum, and the loss after each of 10 AdamW steps on it.
TEST(BytePooling, MatchesThePyTorchGoldenOfUpstreamsModules) {
  const ResolvedSpec rs = LoadSpec(std::string(TINYLM_SOURCE_DIR) + "/ablations/stlm_byte_pool_1m.pbtxt");
  auto tok = Chunks(12);
  auto model = BuildModel(rs.variant().model(), tok->vocab_size(), tok.get());
  model->store().Allocate(0);
  GoldenInit(model->store(), 1234);
  EXPECT_EQ(model->NumParams(), 1010112);
  auto g = ReadGolden(std::string(TINYLM_GOLDEN_DIR) + "/stlm_byte_pool_1m.bin");
  Batch batch{g.at("inputs"), g.at("targets"), Tensor::Empty(g.at("targets").shape())};
  batch.input_weights = Tensor::Empty(batch.inputs.shape());
  int ignored = 0;
  for (int64_t i = 0; i < batch.targets.numel(); ++i) {
    batch.weights.f32()[i] = batch.targets.s32()[i] == 257 ? 0.0f : 1.0f;
    batch.input_weights.f32()[i] = batch.inputs.s32()[i] == 257 ? 0.0f : 1.0f;
    ignored += batch.targets.s32()[i] == 257;
  }
  ASSERT_GT(ignored, 0);
  Context ctx(2, 0);
  const Tensor logits = model->Forward(ctx, batch.inputs, Mode::kEval);
  EXPECT_LE(MaxRelErr(logits.f32(), g.at("logits").f32(), logits.numel()), 1e-5) << "logits";
  const StepResult r = ForwardBackward(ctx, *model, batch);
  EXPECT_NEAR(r.loss, g.at("loss").f32()[0], 1e-6 * r.loss);
  EXPECT_NEAR(r.reconstruction_loss, g.at("reconstruction_loss").f32()[0], 1e-6 * r.reconstruction_loss);
  int checked = 0;
  for (const auto& p : model->store().params()) {
    const Tensor& want = g.at("grad/" + p->name);
    ASSERT_EQ(want.shape(), p->shape) << p->name;
    EXPECT_LE(MaxRelErr(p->grad.f32(), want.f32(), p->numel()), 2e-5) << "gradient of " << p->name;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(model->store().params().size()));
  EXPECT_EQ(checked, 2 + 4 * 6 + 4 * 6 + 2 + 2 * 6 + 1);
  AdamW opt({0.9f, 0.95f, 1e-8f, 0.1f});
  const ScheduleOptions sched{1e-3f, 1e-4f, 3, 10};
  for (int step = 0; step < 10; ++step) {
    ctx.set_step(step);
    TrainStep(ctx, *model, opt, batch, ScheduledLr(sched, step), 1.0);
    const double l = CrossEntropy(model->Forward(ctx, batch.inputs, Mode::kEval), batch.targets, batch.weights, Tensor()).loss;
    EXPECT_NEAR(l, g.at("losses_after_step").f32()[step], 1e-5 * l) << "loss after step " << step + 1;
  }
}

}  // namespace
}  // namespace tinylm::testing

namespace tinylm::testing {
namespace {


std::vector<std::string> Pieces(const Tokenizer& tok, const std::string& text) {
  // Decodes chunk by chunk (a long pre-token spans several chunks).
  const std::vector<int32_t> ids = tok.Encode(text);
  std::vector<std::string> out;
  const int64_t g = tok.group_size();
  for (size_t at = 0; at < ids.size(); at += g)
    out.push_back(tok.Decode(std::vector<int32_t>(ids.begin() + at, ids.begin() + at + g)));
  return out;
}

TEST(BytePooling, ChunksFollowGpt2sPreTokenizer) {
  auto tok = Chunks(12);
  using V = std::vector<std::string>;
  EXPECT_EQ(Pieces(*tok, "Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(Pieces(*tok, "I'm here, they'll see."), (V{"I", "'m", " here", ",", " they", "'ll", " see", "."}));
  EXPECT_EQ(Pieces(*tok, "  two  spaces"), (V{" ", " two", " ", " spaces"}));
  EXPECT_EQ(Pieces(*tok, "a\n\nb"), (V{"a", "\n", "\n", "b"}));
  EXPECT_EQ(Pieces(*tok, "in 2024!\"  "), (V{"in", " 2024", "!\"", "  "}));
  EXPECT_EQ(Pieces(*tok, "caf\xc3\xa9 \xe2\x80\x9cok\xe2\x80\x9d"), (V{"caf\xc3\xa9", " \xe2\x80\x9c", "ok", "\xe2\x80\x9d"}));
  // Longer than 12 bytes: continued in the next chunk, or cut with truncate.
  EXPECT_EQ(Pieces(*tok, " extraordinarily"), (V{" extraordina", "rily"}));
  EXPECT_EQ(Pieces(*Chunks(12, true), " extraordinarily"), (V{" extraordina"}));
}

TEST(BytePooling, EncodingIsLosslessPaddedAndCountsRealBytes) {
  auto tok = Chunks(5);
  std::string text;
  for (uint64_t i = 0; i < 4000; ++i) text.push_back(static_cast<char>(CounterBits(7, 1, i) % 4 == 0 ? ' ' : CounterBits(7, 2, i) % 256));
  const std::vector<int32_t> ids = tok->Encode(text);
  ASSERT_EQ(ids.size() % 5, 0u);
  EXPECT_EQ(tok->Decode(ids), text);
  int64_t bytes = 0;
  for (size_t i = 0; i < ids.size(); i += 5) {
    EXPECT_NE(ids[i], 256) << "a chunk starts with a byte";
    for (size_t k = 1; k < 5; ++k)
      if (ids[i + k - 1] == 256) EXPECT_EQ(ids[i + k], 256) << "padding only at the end of a chunk";
  }
  for (int32_t id : ids) bytes += tok->TokenBytes(id);
  EXPECT_EQ(bytes, static_cast<int64_t>(text.size()));
  EXPECT_EQ(tok->SpecialId("<|pad|>"), 256);
  EXPECT_EQ(tok->SpecialId("<|endoftext|>"), 257);
  EXPECT_EQ(SpecialGroup(*tok, "<|endoftext|>"), (std::vector<int32_t>{257, 256, 256, 256, 256}));
  EXPECT_EQ(LoadTokenizer(tok->Save())->Save(), tok->Save());
}

// A grouped stream: documents are whole chunks with an end-of-text chunk after each; windows
// start at chunk boundaries and targets are the next chunk; evaluation divides by text bytes.
TEST(BytePooling, StreamsWindowsAndTargetsMoveByWholeChunks) {
  auto tok = Chunks(4);
  const std::vector<Document> docs = {{"", "One day, a cat sat."}, {"", "Then it slept all afternoon."}};
  const TokenStream s = Tokenize(docs, *tok);
  EXPECT_EQ(s.group, 4);
  ASSERT_EQ(s.tokens.size() % 4, 0);
  const std::vector<int32_t> ids = s.tokens.ToVector();
  EXPECT_EQ(s.text_bytes, 19 + 28);
  WindowSampler sampler(&s, 8);
  sampler.set_batch_size(16);
  Batch b;
  sampler.Sample(1, 2, 3, &b);
  for (int64_t r = 0; r < 16; ++r) {
    const int32_t* in = b.inputs.s32() + r * 8;
    const auto at = std::search(ids.begin(), ids.end(), in, in + 8);
    ASSERT_NE(at, ids.end());
    EXPECT_EQ((at - ids.begin()) % 4, 0) << "window starts inside a chunk";
    for (int64_t t = 0; t < 8; ++t) EXPECT_EQ(b.targets.s32()[r * 8 + t], at[t + 4]);
  }
  EXPECT_THROW(WindowSampler(&s, 6), std::runtime_error);  // not whole chunks
}

// ---- the layers through the shared harness ---------------------------------------------------

// STLM's ByteLevelTransformerBlock in double: x [n, c, in] -> [n, c, out].
ref::Vec ByteBlockRef(const ref::Vec& x, int64_t n, int64_t c, int64_t in, int64_t out, int64_t heads, double eps,
                      bool residual, const ref::Params& p, const std::string& b) {
  const ref::Vec h0 = ref::RmsNorm(x, in, p.at(b + "attn_norm.weight"), eps);
  const ref::Vec qkv = ref::Linear(h0, in, p.at(b + "attn.c_attn.weight"), {});
  const int64_t hd = in / heads;
  ref::Vec o(n * c * in, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t s = 0; s < c; ++s) {
        std::vector<double> w(c);
        double mx = -1e300, sum = 0;
        for (int64_t t = 0; t < c; ++t) {
          double dot = 0;
          for (int64_t e = 0; e < hd; ++e)
            dot += qkv[(i * c + s) * 3 * in + h * hd + e] * qkv[(i * c + t) * 3 * in + in + h * hd + e];
          w[t] = dot / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, w[t]);
        }
        for (double& v : w) sum += (v = std::exp(v - mx));
        for (int64_t t = 0; t < c; ++t)
          for (int64_t e = 0; e < hd; ++e)
            o[(i * c + s) * in + h * hd + e] += w[t] / sum * qkv[(i * c + t) * 3 * in + 2 * in + h * hd + e];
      }
  ref::Vec h = ref::Linear(o, in, p.at(b + "attn.c_proj.weight"), {});
  for (size_t k = 0; k < h.size(); ++k) h[k] += x[k];
  ref::Vec f = ref::Linear(ref::RmsNorm(h, in, p.at(b + "ffn_norm.weight"), eps), in, p.at(b + "ffn.linear_1.weight"), {});
  for (double& v : f) v = ref::Gelu(v, false);
  ref::Vec y = ref::Linear(f, f.size() / (n * c), p.at(b + "ffn.linear_2.weight"), {});
  if (residual && in == out)
    for (size_t k = 0; k < y.size(); ++k) y[k] += h[k];
  return y;
}

struct Dims {
  int64_t chunk = 4, byte_dim = 8, heads = 2, d_model = 8;
};

LayerBuildContext ContextFor(ParamStore& s, const Tokenizer* tok, const Dims& d) {
  return {&s, d.d_model, 64, "m", "m", 0.02f, 0, 0, tok, tok->vocab_size()};
}

LayerPtr BuildPluginLayer(ParamStore& s, const std::string& text, const Tokenizer* tok, const Dims& d) {
  proto::LayerSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  return BuildLayer(spec, ContextFor(s, tok, d));
}

// Encoder: {out 12 ffn 16} {out 12 ffn 8} {out 8 ffn 8}: a width change, one kept, back to d_model.
ref::Vec EncoderRef(const ref::Vec& ids, const ref::Params& p, int64_t b, int64_t s, const Dims& d, bool masked,
                    bool residual) {
  const int64_t n = b * s, c = d.chunk;
  ref::Vec x(n * c * d.byte_dim);
  for (int64_t r = 0; r < n * c; ++r)
    for (int64_t e = 0; e < d.byte_dim; ++e)
      x[r * d.byte_dim + e] = p.at("m.byte_token_embedder.weight")[static_cast<int64_t>(ids[r]) * d.byte_dim + e] +
                              p.at("m.pos_encoder.pe.weight")[(r % c) * d.byte_dim + e];
  x = ByteBlockRef(x, n, c, d.byte_dim, 12, d.heads, 1e-6, residual, p, "m.transformer.0.");
  x = ByteBlockRef(x, n, c, 12, 12, d.heads, 1e-6, residual, p, "m.transformer.1.");
  x = ByteBlockRef(x, n, c, 12, 8, d.heads, 1e-6, residual, p, "m.transformer.2.");
  ref::Vec y(n * 8, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t real = 0;
    for (int64_t k = 0; k < c; ++k) real += !masked || ids[i * c + k] != 256;
    for (int64_t k = 0; k < c; ++k)
      if (!masked || ids[i * c + k] != 256)
        for (int64_t e = 0; e < 8; ++e) y[i * 8 + e] += x[(i * c + k) * 8 + e] / real;
  }
  return y;
}

TEST(BytePooling, EncoderMatchesItsReference) {
  auto tok = Chunks(4);
  const Dims d;
  // Upstream's form, and both options at once.
  for (const auto& [pooling, residual] : std::vector<std::pair<const char*, const char*>>{
           {"MEAN_ALL_SLOTS", "FFN_RESIDUAL_NEVER"}, {"MEAN_MASKED", "FFN_RESIDUAL_WHEN_WIDTH_KEPT"}}) {
      const std::string text = std::string("[tinylm.plugins.byte_pool_encoder] { byte_dim: 8 heads: 2 pooling: ") + pooling +
                               " ffn_residual: " + residual + " block { out: 12 ffn: 16 } block { out: 12 ffn: 8 } block { out: 8 ffn: 8 } }";
      const bool masked = std::string(pooling) == "MEAN_MASKED", res = std::string(residual) != "FFN_RESIDUAL_NEVER";
      LayerCase c{text, [&](ParamStore& s) { return BuildPluginLayer(s, text, tok.get(), d); }, {2, 3 * d.chunk},
                  [&](const ref::Vec& ids, const ref::Params& p) { return EncoderRef(ids, p, 2, 3, d, masked, res); }};
      c.vocab = 258;
      c.check_decode = false;     // positions are chunks of ids: decode is checked at model level
      c.check_causality = false;  // output chunk t/C depends on ids up to the end of its chunk
      CheckLayer(c);
    }
}

// Masked pooling ignores padding: a chunk's vector depends only on its real bytes' outputs.
TEST(BytePooling, MaskedPoolingAveragesOnlyRealBytes) {
  auto tok = Chunks(4);
  const Dims d;
  const std::string text = "[tinylm.plugins.byte_pool_encoder] { byte_dim: 8 heads: 2 pooling: MEAN_MASKED "
                           "block { out: 12 ffn: 16 } block { out: 12 ffn: 8 } block { out: 8 ffn: 8 } }";
  ParamStore s;
  LayerPtr enc = BuildPluginLayer(s, text, tok.get(), d);
  s.Allocate(3);
  SetTestValues(s, 3);
  Tensor ids = Tensor::Empty({1, 8}, DType::kS32);
  const int32_t v[8] = {'a', 'b', 256, 256, 257, 256, 256, 256};
  std::copy(v, v + 8, ids.s32());
  ref::Params p;
  for (const auto& q : s.params()) p[q->name] = ref::Vec(q->value.f32(), q->value.f32() + q->numel());
  Context ctx(1, 1);
  const Tensor y = enc->Forward(ctx, ids, Mode::kEval);
  const ref::Vec want = EncoderRef(ref::Vec(v, v + 8), p, 1, 2, d, true, false);
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_NEAR(y.f32()[i], want[i], 1e-5);
}

ref::Vec DecoderRef(const ref::Vec& x, const ref::Params& p, int64_t b, int64_t s, const Dims& d, bool twice) {
  const int64_t n = b * s, c = d.chunk, bd = d.byte_dim;
  ref::Vec y = ref::Linear(x, d.d_model, p.at("m.projection.weight"), {});
  for (int64_t r = 0; r < n * c; ++r)
    for (int64_t e = 0; e < bd; ++e) {
      double& v = y[r * bd + e];
      v = (twice ? 2 * v : v) + p.at("m.pos_encoder.pe.weight")[(r % c) * bd + e];
    }
  for (int i = 0; i < 2; ++i) y = ByteBlockRef(y, n, c, bd, bd, d.heads, 1e-6, false, p, "m.transformer." + std::to_string(i) + ".");
  return ref::Linear(y, bd, p.at("m.lm_head.weight"), {});
}

TEST(BytePooling, DecoderMatchesItsReference) {
  auto tok = Chunks(4);
  const Dims d;
  for (const char* position : {"TWICE_X_PLUS_P", "X_PLUS_P"}) {
    const std::string text = std::string("[tinylm.plugins.byte_pool_decoder] { byte_dim: 8 heads: 2 blocks: 2 ffn: 12 position: ") +
                             position + " }";
    const bool twice = std::string(position) == "TWICE_X_PLUS_P";
    LayerCase c{text, [&](ParamStore& s) { return BuildPluginLayer(s, text, tok.get(), d); }, {2, 3, d.d_model},
                [&](const ref::Vec& x, const ref::Params& p) { return DecoderRef(x, p, 2, 3, d, twice); }};
    CheckLayer(c);
  }
}

}  // namespace
}  // namespace tinylm::testing

namespace tinylm::testing {
namespace {

// A small byte-pooling model (chunks of 4, d_model 16) with a reconstruction head.
constexpr char kSmallModel[] = R"(
  d_model: 16 context: 32 tie_embeddings: false reconstruction_weight: 1
  embedding { [tinylm.plugins.byte_pool_encoder] { byte_dim: 8 heads: 2 block { out: 16 ffn: 16 } } }
  block { count: 2
    layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 rope { style: INTERLEAVED } } } } }
    layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } } }
  head { [tinylm.plugins.byte_pool_decoder] { byte_dim: 8 heads: 2 blocks: 1 ffn: 16 } }
)";

std::unique_ptr<LanguageModel> SmallModel(const Tokenizer& tok) {
  proto::ModelSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kSmallModel, &spec));
  auto m = BuildModel(spec, tok.vocab_size(), &tok);
  m->store().Allocate(9);
  SetTestValues(m->store(), 9);
  return m;
}

// Chunk-by-chunk decode (encoder state advancing by chunks, the core's KV cache, the decoder per
// position) equals the full forward, and generation emits whole chunks.
TEST(BytePooling, DecodeChunkByChunkEqualsTheFullForward) {
  auto tok = Chunks(4);
  auto m = SmallModel(*tok);
  Context ctx(1, 1);
  const std::vector<int32_t> ids = tok->Encode("Once upon a time, a small dog ran home.");
  const int64_t n = static_cast<int64_t>(ids.size()) / 4;
  ASSERT_GE(n, 6);
  Tensor all = Tensor::Empty({1, n * 4}, DType::kS32);
  std::copy(ids.begin(), ids.end(), all.s32());
  const Tensor full = m->Forward(ctx, all, Mode::kEval).Clone();
  auto state = m->net().NewDecodeState(1, m->context());
  double err = 0;
  for (int64_t pos = 0; pos < n;) {
    const int64_t len = pos == 0 ? 3 : 1;  // a prompt of 3 chunks, then one at a time
    Tensor x = Tensor::Empty({1, len * 4}, DType::kS32);
    std::copy(ids.begin() + pos * 4, ids.begin() + (pos + len) * 4, x.s32());
    const Tensor y = m->net().Step(ctx, x, pos, state.get());
    ASSERT_EQ(y.dim(1), len * 4);
    for (int64_t i = 0; i < y.numel(); ++i)
      err = std::max(err, static_cast<double>(std::fabs(y.f32()[i] - full.f32()[pos * 4 * 258 + i])));
    pos += len;
  }
  EXPECT_LE(err, 1e-4);
  SamplingOptions o;
  o.max_tokens = 5;
  o.stop_at_end_of_text = false;
  const std::vector<int32_t> out = Generate(ctx, *m, *tok, tok->Encode("Once upon"), o);
  ASSERT_EQ(out.size(), 20u) << "five whole chunks";
  for (size_t i = 0; i < out.size(); i += 4) EXPECT_LT(out[i], 256) << "a generated chunk starts with a byte";
}

// BLiMP's batched sentence scores with a grouped tokenizer: the sum over every id of the chunks
// after the end-of-text chunk, equal to one forward's cross-entropy over the same targets.
TEST(BytePooling, SentenceLogProbsScoreWholeChunks) {
  auto tok = Chunks(4);
  auto m = SmallModel(*tok);
  Context ctx(2, 1);
  const std::vector<std::string> texts = {"The cat sat.", "Who did she see?", "Hi", "A dog ran far away."};
  const std::vector<double> batched = SentenceLogProbs(ctx, *m, *tok, texts, 3);
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<int32_t> s = SpecialGroup(*tok, "<|endoftext|>");
    for (int32_t id : tok->Encode(texts[i])) s.push_back(id);
    const int64_t len = static_cast<int64_t>(s.size()) - 4;
    Tensor in = Tensor::Empty({1, len}, DType::kS32), target = Tensor::Empty({1, len}, DType::kS32);
    std::copy(s.begin(), s.end() - 4, in.s32());
    std::copy(s.begin() + 4, s.end(), target.s32());
    const LossResult r = CrossEntropy(m->Forward(ctx, in, Mode::kEval), target, Tensor(), Tensor());
    EXPECT_NEAR(batched[i], -r.ce_sum, 2e-4 * r.ce_sum) << texts[i];
  }
}

// A whole byte-pooling spec trains, ignores end-of-text targets, logs the reconstruction loss,
// samples chunk by chunk and scores BLiMP from the spec's eval.
TEST(BytePooling, SpecTrainsWithReconstructionAndScoresBlimp) {
  TempDir dir;
  dir.Write("train.txt", TinyStories(40));
  dir.Write("val.txt", TinyStories(8, 1));
  dir.Write("blimp/a.jsonl",
            "{\"sentence_good\": \"The cat sat.\", \"sentence_bad\": \"The cat sit.\", \"field\": \"morphology\", "
            "\"linguistics_term\": \"agreement\", \"UID\": \"a\"}\n"
            "{\"sentence_good\": \"Dogs bark.\", \"sentence_bad\": \"Dogs barks.\", \"field\": \"morphology\", "
            "\"linguistics_term\": \"agreement\", \"UID\": \"a\"}\n");
  dir.Write("blimp/b.jsonl",
            "{\"sentence_good\": \"Who ran?\", \"sentence_bad\": \"Who ran it ran?\", \"field\": \"syntax\", "
            "\"linguistics_term\": \"island\", \"UID\": \"b\"}\n");
  const std::string spec = std::string("name: \"bp\" seeds: [1] plugins: [\"byte_pooling\"]\n") +
                           "tokenizer { [tinylm.plugins.byte_chunks] { chunk_bytes: 4 } }\nmodel {" + kSmallModel + "}\n" +
                           "data { train { path: \"train.txt\" } validation { path: \"val.txt\" } }\n"
                           "stages { tokens: 4096 batch_size: 4 seq_len: 64 ignore_targets: \"<|endoftext|>\" }\n"
                           "eval { interval_steps: 0 max_tokens: 2048 sample_tokens: 6 blimp { pairs_per_phenomenon: 1 batch: 2 } }\n";
  const Experiment e = PrepareExperiment(LoadSpec(dir.Write("bp.pbtxt", spec)), false, dir.path());
  ASSERT_EQ(e.blimp_pairs->size(), 2u) << "the first pair of each phenomenon";
  Batch b;
  Tensor ones;
  DrawTrainingBatch(e.stages[0], 0, 1, 0, &b, &ones);
  for (int64_t i = 0; i < b.targets.numel(); ++i) {
    EXPECT_EQ(b.weights.f32()[i], b.targets.s32()[i] == 257 ? 0.0f : 1.0f);
    EXPECT_EQ(b.input_weights.f32()[i], b.inputs.s32()[i] == 257 ? 0.0f : 1.0f);
  }
  RunOptions o;
  o.seed = 1;
  o.dir = dir.path() + "/run";
  o.threads = 2;
  const proto::RunSummary r = TrainRun(e, o);
  EXPECT_TRUE(std::isfinite(r.val_bpb()) && r.val_bpb() > 0);
  ASSERT_EQ(r.extra_metrics().count("blimp_accuracy"), 1u);
  EXPECT_EQ(r.extra_metrics().count("blimp_accuracy_morphology"), 1u);
  EXPECT_NE(dir.Read("run/blimp.md").find("| overall |"), std::string::npos);
  EXPECT_NE(dir.Read("run/metrics.jsonl").find("\"reconstruction_loss\":"), std::string::npos);
  // The encoder's spread is watched at every evaluation and summarized (the collapse of
  // docs/results/stlm.md shows up there).
  EXPECT_NE(dir.Read("run/metrics.jsonl").find("\"embedding_spread\":"), std::string::npos);
  EXPECT_TRUE(r.has_embedding_spread());
  EXPECT_GT(r.embedding_spread(), 0.0);
  EXPECT_EQ(r.samples(0).text().find('\0'), std::string::npos);

  // tinylm-blimp's path: the checkpoint alone rebuilds the grouped tokenizer and the model (the
  // plugin layers need the tokenizer's chunk size) and scores as the run did.
  PackedModelFile file = LoadModelFile(dir.path() + "/run/checkpoint.bin");
  ASSERT_EQ(file.tokenizer->group_size(), 4);
  Context ctx(1, 1);
  const BlimpResult again = EvaluateBlimp(ctx, *file.model, *file.tokenizer, *e.blimp_pairs, 2);
  EXPECT_DOUBLE_EQ(again.overall.accuracy(), r.extra_metrics().at("blimp_accuracy"));
}

}  // namespace
}  // namespace tinylm::testing
