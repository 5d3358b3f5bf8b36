#include "tinylm/model.h"

#include <stdexcept>

#include "tinylm/layers/attention.h"
#include "tinylm/layers/elementwise.h"
#include "tinylm/layers/embedding.h"
#include "tinylm/layers/layernorm.h"
#include "tinylm/layers/linear.h"
#include "tinylm/layers/mlp.h"
#include "tinylm/layers/rmsnorm.h"

namespace tinylm {

int64_t LanguageModel::NumParams() const {
  int64_t n = 0;
  for (const auto& p : store_.params()) n += p->numel();
  return n;
}

proto::TransformerConfig WithDefaults(proto::TransformerConfig c) {
  if (c.vocab_size() == 0) c.set_vocab_size(256);
  if (c.d_model() == 0) c.set_d_model(128);
  if (c.layers() == 0) c.set_layers(5);
  if (c.heads() == 0) c.set_heads(4);
  if (c.kv_heads() == 0) c.set_kv_heads(c.heads());
  if (c.ffn_hidden() == 0) c.set_ffn_hidden(336);
  if (c.context() == 0) c.set_context(256);
  if (c.mlp().empty()) c.set_mlp("swiglu");
  if (c.norm().empty()) c.set_norm("rmsnorm");
  if (c.norm_eps() == 0.0f) c.set_norm_eps(1e-5f);
  if (c.rope_base() == 0.0f) c.set_rope_base(10000.0f);
  if (c.rope_fraction() == 0.0f) c.set_rope_fraction(1.0f);
  if (c.init_std() == 0.0f) c.set_init_std(0.02f);
  return c;
}

namespace {

LayerPtr MakeNorm(const proto::TransformerConfig& c, ParamStore& s, const std::string& name) {
  if (c.norm() == "rmsnorm") return std::make_unique<RmsNorm>(s, name, c.d_model(), c.norm_eps());
  if (c.norm() == "layernorm") return std::make_unique<LayerNorm>(s, name, c.d_model(), c.norm_eps());
  throw std::invalid_argument("unknown norm '" + c.norm() + "' (rmsnorm, layernorm)");
}

LayerPtr MakeMlp(const proto::TransformerConfig& c, ParamStore& s, const std::string& name) {
  if (c.mlp() == "swiglu")
    return std::make_unique<SwiGlu>(s, name, c.d_model(), c.ffn_hidden(), false, c.init_std());
  if (c.mlp() == "gelu_erf" || c.mlp() == "gelu_tanh")
    return std::make_unique<GeluMlp>(s, name, c.d_model(), c.ffn_hidden(),
                                     c.mlp() == "gelu_erf" ? GeluKind::kErf : GeluKind::kTanh, true,
                                     c.init_std());
  throw std::invalid_argument("unknown mlp '" + c.mlp() + "' (swiglu, gelu_erf, gelu_tanh)");
}

// `name` prefixes the parameters (shared blocks repeat it); `tag` names this application's
// dropout layers so that every block draws its own masks.
LayerPtr MakeBlock(const proto::TransformerConfig& c, ParamStore& s, const std::string& name,
                   const std::string& tag) {
  AttentionOptions a;
  a.heads = c.heads();
  a.kv_heads = c.kv_heads();
  a.qk_norm = c.qk_norm();
  a.qk_norm_eps = c.norm_eps();
  a.rope_options.style =
      c.rope_style() == proto::INTERLEAVED ? RopeStyle::kInterleaved : RopeStyle::kRotateHalf;
  a.rope_options.base = c.rope_base();
  a.rope_options.fraction = c.rope_fraction();
  a.init_std = c.init_std();
  auto block = std::make_unique<Sequential>();
  block->Add(MakePreNormResidual(MakeNorm(c, s, name + ".attn_norm"),
                                 std::make_unique<Attention>(s, name + ".attn", c.d_model(), a),
                                 c.dropout(), tag + ".attn"));
  block->Add(MakePreNormResidual(MakeNorm(c, s, name + ".mlp_norm"), MakeMlp(c, s, name + ".mlp"),
                                 c.dropout(), tag + ".mlp"));
  return block;
}

}  // namespace

std::unique_ptr<LanguageModel> BuildTransformer(const proto::TransformerConfig& config) {
  const proto::TransformerConfig c = WithDefaults(config);
  auto m = std::make_unique<LanguageModel>();
  m->set_shape(c.vocab_size(), c.context());
  ParamStore& s = m->store();
  auto embed = std::make_unique<Embedding>(s, "embed", c.vocab_size(), c.d_model(), c.init_std());
  Param* embed_weight = embed->weight();
  m->net().Add(std::move(embed));
  if (c.dropout() > 0.0f) m->net().Add(std::make_unique<Dropout>("embed.dropout", c.dropout()));
  const int unique = c.unique_layers() > 0 ? c.unique_layers() : c.layers();
  if (unique > c.layers()) throw std::invalid_argument("unique_layers exceeds layers");
  for (int i = 0; i < c.layers(); ++i) {
    // Layer i reuses the weights of block i % unique (cyclic sharing).
    const std::string name = "blocks." + std::to_string(i % unique);
    const std::string tag = "layer." + std::to_string(i);
    if (i < unique) {
      m->net().Add(MakeBlock(c, s, name, tag));
    } else {
      ParamStore::SharedScope shared(s);
      m->net().Add(MakeBlock(c, s, name, tag));
    }
  }
  m->net().Add(MakeNorm(c, s, "final_norm"));
  if (c.tie_embeddings()) {
    m->net().Add(std::make_unique<Linear>(s, "head", c.d_model(), c.vocab_size(), false,
                                          c.init_std(), s.Share(embed_weight->name)));
  } else {
    m->net().Add(std::make_unique<Linear>(s, "head", c.d_model(), c.vocab_size(), false,
                                          c.init_std()));
  }
  return m;
}

StepResult TrainStep(Context& ctx, LanguageModel& model, AdamW& opt, const Batch& batch, float lr,
                     double grad_clip) {
  model.store().ZeroGrads();
  const Tensor logits = model.Forward(ctx, batch.inputs, Mode::kTrain);
  Tensor& dlogits = EnsureShape(model.dlogits_workspace(), logits.shape());
  StepResult r;
  r.loss = CrossEntropy(logits, batch.targets, batch.weights, dlogits).loss;
  model.Backward(ctx, dlogits);
  r.grad_norm = ClipGradNorm(model.store(), grad_clip);
  r.lr = lr;
  opt.Step(model.store(), lr);
  return r;
}

}  // namespace tinylm
