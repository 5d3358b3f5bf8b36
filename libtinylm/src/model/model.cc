#include "tinylm/model/model.h"

#include <google/protobuf/text_format.h>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "tinylm/layers/attention.h"
#include "tinylm/layers/elementwise.h"
#include "tinylm/layers/embedding.h"
#include "tinylm/layers/layernorm.h"
#include "tinylm/layers/linear.h"
#include "tinylm/layers/mlp.h"
#include "tinylm/layers/rmsnorm.h"
#include "tinylm/layers/rope.h"
#include "tinylm/plugins/plugin_manager.h"
#include "tinylm/data/tokenizer.h"

namespace tinylm {

int64_t LanguageModel::NumParams() const {
  int64_t n = 0;
  for (const auto& p : store_.params()) n += p->numel();
  return n;
}

std::string LanguageModel::ParamTable() const {
  std::string out;
  std::set<const Param*> seen;
  // Descriptions (a plugin layer's includes its config) set the column width, at least 44.
  int width = 44;
  for (const Part& part : parts_) width = std::max<int>(width, part.description.size());
  for (const Part& part : parts_) {
    int64_t n = 0;
    bool reused = false;
    for (Param* p : part.layer->Params()) {
      if (seen.insert(p).second) n += p->numel();
      else reused = true;
    }
    absl::StrAppendFormat(&out, "  %-14s %-*s %10d%s\n", part.name, width, part.description, n,
                          reused ? "  (+ shared/tied weights counted above)" : "");
  }
  absl::StrAppendFormat(&out, "  %-14s %-*s %10d\n", "total", width, "", NumParams());
  return out;
}

namespace {

// Builds layers with a spec path for every error.
class Builder {
 public:
  Builder(ParamStore& store, const proto::ModelSpec& spec, const Tokenizer* tokenizer = nullptr, int64_t vocab = 0)
      : store_(store), spec_(spec), tokenizer_(tokenizer), vocab_(vocab) {}

  // Builds `l` as a projection in -> out (attention's q/k/v and output, MLP matrices, heads).
  LayerPtr WithDims(const proto::LayerSpec& l, const std::string& name, const std::string& path, int64_t in,
                    int64_t out, bool bias, const std::vector<int64_t>& out_parts = {}) {
    const int64_t saved_in = in_dim_, saved_out = out_dim_;
    const bool saved_bias = proj_bias_;
    std::vector<int64_t> saved_parts = std::move(out_parts_);
    in_dim_ = in, out_dim_ = out, proj_bias_ = bias, out_parts_ = out_parts;
    LayerPtr layer = Layer(l, name, name, path);
    in_dim_ = saved_in, out_dim_ = saved_out, proj_bias_ = saved_bias, out_parts_ = std::move(saved_parts);
    return layer;
  }

  // The projection factory for a `projection` field (null when absent: Linear).
  ProjectionFactory Projection(bool has, const proto::LayerSpec* proj, const std::string& path) {
    if (!has) return nullptr;
    return [this, proj, path](ParamStore&, const std::string& name, int64_t in, int64_t out, bool bias,
                              const std::vector<int64_t>& out_parts) {
      return WithDims(*proj, name, path, in, out, bias, out_parts);
    };
  }

  [[noreturn]] void Fail(const std::string& path, const std::string& why) const {
    throw std::invalid_argument(path + ": " + why);
  }

  LayerPtr Norm(const proto::NormSpec& n, const std::string& name, const std::string& path) {
    switch (n.kind_case()) {
      case proto::NormSpec::kRmsnorm:
        return std::make_unique<RmsNorm>(store_, name, spec_.d_model(), n.rmsnorm().eps());
      case proto::NormSpec::kLayernorm:
        return std::make_unique<LayerNorm>(store_, name, spec_.d_model(), n.layernorm().eps());
      default:
        Fail(path, "norm needs rmsnorm {} or layernorm {}");
    }
  }

  static std::string Describe(const proto::LayerSpec& l) {
    switch (l.kind_case()) {
      case proto::LayerSpec::kResidual: {
        std::string d = "residual(";
        if (l.residual().has_norm())
          d += l.residual().norm().has_rmsnorm() ? "rmsnorm, " : "layernorm, ";
        return d + Describe(l.residual().mixer()) + ")";
      }
      case proto::LayerSpec::kAttention: {
        const auto& a = l.attention();
        return absl::StrCat("attention ", a.heads(), "h", a.kv_heads() ? absl::StrCat("/", a.kv_heads(), "kv") : "",
                            a.qk_norm() ? " qk-norm" : "", a.has_rope() ? " rope" : "");
      }
      case proto::LayerSpec::kSwiglu: return absl::StrCat("swiglu ", l.swiglu().hidden());
      case proto::LayerSpec::kGeluMlp: return absl::StrCat("gelu_mlp ", l.gelu_mlp().hidden());
      case proto::LayerSpec::KIND_NOT_SET: {
        // A plugin layer: its name and the config fields the spec sets, on one line.
        const auto* ext = SetExtension(l);
        if (!ext) return "(empty)";
        std::string cfg;
        google::protobuf::TextFormat::Printer p;
        p.SetSingleLineMode(true);
        p.PrintToString(l.GetReflection()->GetMessage(l, ext), &cfg);
        while (!cfg.empty() && cfg.back() == ' ') cfg.pop_back();
        return cfg.empty() ? ext->name() : ext->name() + " {" + cfg + "}";
      }
      default: return proto::LayerSpec::descriptor()->FindFieldByNumber(l.kind_case())->name();
    }
  }

  LayerPtr Layer(const proto::LayerSpec& l, const std::string& name, const std::string& tag,
                 const std::string& path) {
    if (l.kind_case() != proto::LayerSpec::KIND_NOT_SET) {
      const google::protobuf::FieldDescriptor* ext = nullptr;
      try {
        ext = SetExtension(l);
      } catch (const std::invalid_argument&) {
      }
      if (ext) Fail(path, "sets both " + TypeName(l) + " and [" + ext->full_name() + "]: one layer type per layer");
    }
    const int64_t d = spec_.d_model();
    const float std_ = spec_.init_std();
    switch (l.kind_case()) {
      case proto::LayerSpec::kResidual:
        return ResidualBranch(l.residual(), name, name, tag, path);
      case proto::LayerSpec::kAttention: {
        const auto& a = l.attention();
        if (a.heads() <= 0 || d % a.heads() != 0)
          Fail(path + ".attention.heads", absl::StrCat("d_model ", d, " is not divisible by ", a.heads(), " heads"));
        if (a.kv_heads() < 0 || (a.kv_heads() > 0 && a.heads() % a.kv_heads() != 0))
          Fail(path + ".attention.kv_heads", absl::StrCat(a.heads(), " heads are not divisible by ", a.kv_heads()));
        AttentionOptions o;
        o.heads = a.heads();
        o.kv_heads = a.kv_heads();
        o.qk_norm = a.qk_norm();
        o.qk_norm_eps = a.qk_norm_eps();
        o.rope = a.has_rope();
        if (o.rope) {
          o.rope_options = RopeOf(a.rope(), path + ".attention.rope");
          if (static_cast<int64_t>(a.rope().fraction() * (d / a.heads())) < 2)
            Fail(path + ".attention.rope.fraction", "rotates fewer than 2 dimensions per head");
        }
        o.bias = a.bias();
        o.init_std = std_;
        o.projection = Projection(a.has_projection(), &a.projection(), path + ".attention.projection");
        return std::make_unique<Attention>(store_, name, d, o);
      }
      case proto::LayerSpec::kSwiglu:
        if (l.swiglu().hidden() <= 0) Fail(path + ".swiglu.hidden", "must be positive");
        return std::make_unique<SwiGlu>(store_, name, d, l.swiglu().hidden(), l.swiglu().bias(), std_,
                                        Projection(l.swiglu().has_projection(), &l.swiglu().projection(),
                                                   path + ".swiglu.projection"));
      case proto::LayerSpec::kGeluMlp:
        if (l.gelu_mlp().hidden() <= 0) Fail(path + ".gelu_mlp.hidden", "must be positive");
        if (l.gelu_mlp().dropout() < 0 || l.gelu_mlp().dropout() >= 1) Fail(path + ".gelu_mlp.dropout", "must be in [0, 1)");
        return std::make_unique<GeluMlp>(store_, name, d, l.gelu_mlp().hidden(),
                                         l.gelu_mlp().tanh() ? GeluKind::kTanh : GeluKind::kErf,
                                         l.gelu_mlp().bias(), std_,
                                         Projection(l.gelu_mlp().has_projection(), &l.gelu_mlp().projection(),
                                                    path + ".gelu_mlp.projection"),
                                         l.gelu_mlp().dropout());
      case proto::LayerSpec::kLinear: {
        // As a projection it maps in_dim -> out_dim; elsewhere d_model -> d_model.
        const int64_t in = in_dim_ ? in_dim_ : d;
        const int64_t out = l.linear().out() ? l.linear().out() : (out_dim_ ? out_dim_ : d);
        if (!out_dim_ && out != d) Fail(path + ".linear.out", "layers inside the model must keep d_model (a head is separate)");
        return std::make_unique<Linear>(store_, name, in, out, l.linear().bias() || (in_dim_ && proj_bias_), std_);
      }
      case proto::LayerSpec::kNorm:
        return Norm(l.norm(), name, path + ".norm");
      case proto::LayerSpec::kRope: {
        const auto& r = l.rope();
        if (r.heads() <= 0 || d % r.heads() != 0)
          Fail(path + ".rope.heads", absl::StrCat("d_model ", d, " is not divisible by ", r.heads()));
        return std::make_unique<RopeLayer>(r.heads(), d / r.heads(), RopeOf(r, path + ".rope"));
      }
      case proto::LayerSpec::kActivation:
        switch (l.activation().kind()) {
          case proto::ActivationConfig::GELU_ERF: return Activation::GeluErf();
          case proto::ActivationConfig::GELU_TANH: return Activation::GeluTanh();
          default: return Activation::Silu();
        }
      case proto::LayerSpec::kDropout:
        if (l.dropout().p() < 0 || l.dropout().p() >= 1) Fail(path + ".dropout.p", "must be in [0, 1)");
        return std::make_unique<Dropout>(tag + ".dropout", l.dropout().p());
      default:
        return PluginLayer(l, name, tag, path);
    }
  }

  // x + dropout(mixer(norm(x))). The norm's parameters are named after `name`, the mixer's after
  // `mixer_owner`: another block's name when the mixer's weights are shared (FFN sharing), in
  // which case the mixer is built inside a SharedScope and reuses them.
  LayerPtr ResidualBranch(const proto::ResidualSpec& r, const std::string& name, const std::string& mixer_owner,
                          const std::string& tag, const std::string& path) {
    if (!r.has_mixer()) Fail(path + ".residual.mixer", "a residual branch needs a mixer layer");
    auto branch = std::make_unique<Sequential>();
    if (r.has_norm()) branch->Add(Norm(r.norm(), name + ".norm", path + ".residual.norm"));
    const std::string mixer_type = TypeName(r.mixer());
    {
      std::unique_ptr<ParamStore::SharedScope> shared;
      if (mixer_owner != name) shared = std::make_unique<ParamStore::SharedScope>(store_);
      branch->Add(Layer(r.mixer(), mixer_owner + "." + mixer_type, tag + "." + mixer_type, path + ".residual.mixer"));
    }
    if (r.dropout() > 0.0f) branch->Add(std::make_unique<Dropout>(tag + ".dropout", r.dropout()));
    return std::make_unique<Residual>(std::move(branch));
  }

  // An MLP branch for FFN sharing: a residual whose mixer is swiglu or gelu_mlp.
  static bool IsFfnBranch(const proto::LayerSpec& l) {
    return l.has_residual() && (l.residual().mixer().has_swiglu() || l.residual().mixer().has_gelu_mlp());
  }

  // The type name of a layer spec: the oneof member's or the plugin extension's name.
  static std::string TypeName(const proto::LayerSpec& l) {
    if (const auto* f = proto::LayerSpec::descriptor()->FindFieldByNumber(l.kind_case())) return f->name();
    try {
      if (const auto* ext = SetExtension(l)) return ext->name();
    } catch (const std::invalid_argument&) {
    }
    return "layer";
  }

  // A layer type provided by a plugin: the LayerSpec carries exactly one extension.
  LayerPtr PluginLayer(const proto::LayerSpec& l, const std::string& name, const std::string& tag,
                       const std::string& path) {
    const google::protobuf::FieldDescriptor* ext = nullptr;
    try {
      ext = SetExtension(l);
    } catch (const std::invalid_argument& e) {
      Fail(path, e.what());
    }
    if (!ext) Fail(path, "empty layer: set one layer type");
    const std::string ext_path = path + ".[" + ext->full_name() + "]";
    const auto* entry = PluginManager::Global().FindLayer(ext->full_name());
    if (!entry) Fail(ext_path, "[" + ext->full_name() + "] is a " + ext->containing_type()->name() + " extension, but no loaded plugin registered it as a layer");
    const auto& cfg = l.GetReflection()->GetMessage(l, ext);
    if (entry->check) {
      const std::string err = entry->check(cfg);
      if (!err.empty()) {
        const size_t colon = err.find(": ");
        const bool has_field = colon != std::string::npos && err.find_first_of(" .[") > colon;
        Fail(has_field ? ext_path + "." + err.substr(0, colon) : ext_path, has_field ? err.substr(colon + 2) : err);
      }
    }
    LayerBuildContext bc{&store_, spec_.d_model(), spec_.context(), name, tag, spec_.init_std(),
                         in_dim_, out_dim_, tokenizer_, vocab_, out_parts_};
    try {
      return PluginManager::Global().MakeLayer(*entry, cfg, bc);
    } catch (const std::invalid_argument& e) {
      Fail(ext_path, e.what());
    }
  }

  RopeOptions RopeOf(const proto::RopeConfig& r, const std::string& path) const {
    if (r.fraction() <= 0 || r.fraction() > 1) Fail(path + ".fraction", "must be in (0, 1]");
    if (r.base() <= 1) Fail(path + ".base", "must be greater than 1");
    return {r.style() == proto::RopeConfig::INTERLEAVED ? RopeStyle::kInterleaved : RopeStyle::kRotateHalf,
            r.base(), r.fraction()};
  }

 private:
  ParamStore& store_;
  const proto::ModelSpec& spec_;
  const Tokenizer* tokenizer_;
  int64_t vocab_;
  int64_t in_dim_ = 0, out_dim_ = 0;  // set while building a projection
  std::vector<int64_t> out_parts_;     // the projection's fused parts (empty: one)
  bool proj_bias_ = false;
};

}  // namespace

std::unique_ptr<LanguageModel> BuildModel(const proto::ModelSpec& spec, int64_t vocab, const Tokenizer* tokenizer) {
  if (spec.d_model() <= 0) throw std::invalid_argument("model.d_model: must be positive");
  if (spec.context() <= 0) throw std::invalid_argument("model.context: must be positive");
  if (vocab <= 0) throw std::invalid_argument("tokenizer: empty vocabulary");
  auto m = std::make_unique<LanguageModel>();
  m->set_shape(vocab, spec.context());
  ParamStore& s = m->store();
  Builder b(s, spec, tokenizer, vocab);
  if (spec.tie_embeddings() && (spec.has_embedding() || spec.has_head()))
    throw std::invalid_argument(std::string(spec.has_embedding() ? "model.embedding" : "model.head") +
                                ": a replaced embedding or head cannot be tied; set model.tie_embeddings: false");
  auto add = [&](const std::string& name, const std::string& desc, LayerPtr l) {
    m->AddPart({name, desc, l.get()});
    m->net().Add(std::move(l));
  };
  std::string embed_weight;
  if (spec.has_embedding()) {
    add("embed", Builder::Describe(spec.embedding()), b.Layer(spec.embedding(), "embed", "embed", "model.embedding"));
  } else {
    auto embed = std::make_unique<Embedding>(s, "embed", vocab, spec.d_model(), spec.init_std());
    embed_weight = embed->weight()->name;
    add("embed", absl::StrCat("embedding ", vocab, " x ", spec.d_model()), std::move(embed));
  }
  if (spec.embedding_dropout() > 0)
    add("embed.drop", "dropout", std::make_unique<Dropout>("embed.dropout", spec.embedding_dropout()));
  for (int j = 0; j < spec.embedding_post_size(); ++j) {
    const std::string path = absl::StrCat("model.embedding_post[", j, "]");
    add(absl::StrCat("embed.post", j), Builder::Describe(spec.embedding_post(j)),
        b.Layer(spec.embedding_post(j), absl::StrCat("embed_post.", j), absl::StrCat("embed_post.", j), path));
  }
  const proto::BlockSpec& blk = spec.block();
  if (blk.count() < 0) throw std::invalid_argument("model.block.count: must not be negative");
  if (blk.unique() < 0 || blk.unique() > blk.count())
    throw std::invalid_argument("model.block.unique: must be between 0 and count");
  const int unique = blk.unique() > 0 ? blk.unique() : blk.count();
  for (int i = 0; i < blk.count(); ++i) {
    // Application i uses the weights of block i % unique (weight sharing when unique < count).
    std::unique_ptr<ParamStore::SharedScope> shared;
    if (i >= unique) shared = std::make_unique<ParamStore::SharedScope>(s);
    for (int j = 0; j < blk.layer_size(); ++j) {
      const std::string path = absl::StrCat("model.block.layer[", j, "]");
      const std::string name = absl::StrCat("blocks.", i % unique, ".", j), tag = absl::StrCat("layer.", i, ".", j);
      const bool share_ffn = blk.share_ffn() && Builder::IsFfnBranch(blk.layer(j));
      add(absl::StrCat("blocks.", i, ".", j), Builder::Describe(blk.layer(j)) + (share_ffn && i > 0 ? " (FFN of block 0)" : ""),
          share_ffn ? b.ResidualBranch(blk.layer(j).residual(), name, absl::StrCat("blocks.0.", j), tag, path)
                    : b.Layer(blk.layer(j), name, tag, path));
    }
  }
  if (blk.share_ffn() && std::none_of(blk.layer().begin(), blk.layer().end(), Builder::IsFfnBranch))
    throw std::invalid_argument("model.block.share_ffn: the block has no MLP branch (a residual with swiglu or gelu_mlp)");
  if (spec.has_final_norm())
    add("final_norm", spec.final_norm().has_rmsnorm() ? "rmsnorm" : "layernorm",
        b.Norm(spec.final_norm(), "final_norm", "model.final_norm"));
  auto make_head = [&]() -> LayerPtr {
    if (spec.has_head()) return b.WithDims(spec.head(), "head", "model.head", spec.d_model(), vocab, false);
    if (spec.tie_embeddings())
      return std::make_unique<Linear>(s, "head", spec.d_model(), vocab, false, spec.init_std(), s.Share(embed_weight));
    return std::make_unique<Linear>(s, "head", spec.d_model(), vocab, false, spec.init_std());
  };
  add("head",
      spec.has_head()          ? Builder::Describe(spec.head())
      : spec.tie_embeddings() ? std::string("linear (tied to embed)")
                               : absl::StrCat("linear ", spec.d_model(), " -> ", vocab),
      make_head());
  if (!(spec.reconstruction_weight() >= 0 && std::isfinite(spec.reconstruction_weight())))
    throw std::invalid_argument("model.reconstruction_weight: must be a finite number >= 0");
  if (spec.reconstruction_weight() > 0) {
    ParamStore::SharedScope shared(s);  // the same parameter names: the head's weights
    m->set_reconstruction(make_head(), spec.reconstruction_weight());
  }
  return m;
}

LayerPtr BuildLayer(const proto::LayerSpec& spec, const LayerBuildContext& ctx, const std::string& path) {
  proto::ModelSpec m;
  m.set_d_model(ctx.d_model);
  m.set_context(ctx.context);
  m.set_init_std(ctx.init_std);
  Builder b(*ctx.store, m, ctx.tokenizer, ctx.vocab);
  if (ctx.in_dim || ctx.out_dim)
    return b.WithDims(spec, ctx.name, path, ctx.in_dim ? ctx.in_dim : ctx.d_model,
                      ctx.out_dim ? ctx.out_dim : ctx.d_model, false, ctx.out_parts);
  return b.Layer(spec, ctx.name, ctx.tag, path);
}

proto::ModelSpec TransformerModelSpec(const proto::TransformerConfig& c) {
  proto::ModelSpec m;
  m.set_d_model(c.d_model());
  m.set_context(c.context());
  m.set_tie_embeddings(c.tie_embeddings());
  m.set_init_std(c.init_std());
  m.set_embedding_dropout(c.dropout());
  auto norm = [&](proto::NormSpec* n) {
    if (c.norm() == "rmsnorm") n->mutable_rmsnorm()->set_eps(c.norm_eps());
    else if (c.norm() == "layernorm") n->mutable_layernorm()->set_eps(c.norm_eps());
    else throw std::invalid_argument("unknown norm '" + c.norm() + "' (rmsnorm, layernorm)");
  };
  proto::BlockSpec* b = m.mutable_block();
  b->set_count(c.layers());
  b->set_unique(c.unique_layers());
  proto::ResidualSpec* attn = b->add_layer()->mutable_residual();
  norm(attn->mutable_norm());
  attn->set_dropout(c.dropout());
  proto::AttentionConfig* a = attn->mutable_mixer()->mutable_attention();
  a->set_heads(c.heads());
  a->set_kv_heads(c.kv_heads());
  a->set_qk_norm(c.qk_norm());
  a->set_qk_norm_eps(c.norm_eps());
  a->mutable_rope()->set_style(c.rope_style());
  a->mutable_rope()->set_base(c.rope_base());
  a->mutable_rope()->set_fraction(c.rope_fraction());
  proto::ResidualSpec* mlp = b->add_layer()->mutable_residual();
  norm(mlp->mutable_norm());
  mlp->set_dropout(c.dropout());
  if (c.mlp() == "swiglu") {
    mlp->mutable_mixer()->mutable_swiglu()->set_hidden(c.ffn_hidden());
  } else if (c.mlp() == "gelu_erf" || c.mlp() == "gelu_tanh") {
    mlp->mutable_mixer()->mutable_gelu_mlp()->set_hidden(c.ffn_hidden());
    mlp->mutable_mixer()->mutable_gelu_mlp()->set_tanh(c.mlp() == "gelu_tanh");
  } else {
    throw std::invalid_argument("unknown mlp '" + c.mlp() + "' (swiglu, gelu_erf, gelu_tanh)");
  }
  norm(m.mutable_final_norm());
  return m;
}

std::unique_ptr<LanguageModel> BuildTransformer(const proto::TransformerConfig& cfg) {
  return BuildModel(TransformerModelSpec(cfg), cfg.vocab_size());
}

namespace {

// Forward and backward with the reconstruction loss: the embedding's output feeds both the rest
// of the network and the reconstruction head, and their gradients meet at the embedding.
void ForwardBackwardWithReconstruction(Context& ctx, LanguageModel& model, const Batch& batch, StepResult* r) {
  const auto& layers = model.net().layers();
  Layer& head = *model.reconstruction_head();
  Tensor h = layers[0]->Forward(ctx, batch.inputs, Mode::kTrain);
  // The reconstruction branch first, so its logits are released before the main pass.
  Tensor d_embedding;
  {
    Tensor aux_logits = head.Forward(ctx, h, Mode::kTrain);
    Tensor d_aux = ctx.Pooled(aux_logits.shape());
    r->reconstruction_loss = CrossEntropy(aux_logits, batch.inputs, batch.input_weights, d_aux,
                                          batch.reconstruction_normalizer).loss;
    aux_logits = Tensor();
    const float w = model.reconstruction_weight();
    for (int64_t i = 0; i < d_aux.numel(); ++i) d_aux.f32()[i] *= w;
    d_embedding = head.Backward(ctx, d_aux);
  }
  Tensor logits = std::move(h);
  for (size_t i = 1; i < layers.size(); ++i) logits = layers[i]->Forward(ctx, logits, Mode::kTrain);
  Tensor dlogits = ctx.Pooled(logits.shape());
  r->loss = CrossEntropy(logits, batch.targets, batch.weights, dlogits, batch.loss_normalizer).loss;
  logits = Tensor();
  Tensor dh = dlogits;
  for (size_t i = layers.size() - 1; i >= 1; --i) dh = layers[i]->Backward(ctx, dh);
  Tensor sum = ctx.Pooled(dh.shape());
  for (int64_t i = 0; i < sum.numel(); ++i) sum.f32()[i] = dh.f32()[i] + d_embedding.f32()[i];
  layers[0]->Backward(ctx, sum);
}

}  // namespace

StepResult ForwardBackward(Context& ctx, LanguageModel& model, const Batch& batch) {
  model.store().ZeroGrads();
  StepResult r;
  if (model.reconstruction_head()) {
    ForwardBackwardWithReconstruction(ctx, model, batch, &r);
  } else {
    Tensor logits = model.Forward(ctx, batch.inputs, Mode::kTrain);
    Tensor dlogits = ctx.Pooled(logits.shape());
    r.loss = CrossEntropy(logits, batch.targets, batch.weights, dlogits, batch.loss_normalizer).loss;
    logits = Tensor();  // its buffer can take a gradient in backward
    model.Backward(ctx, dlogits);
  }
  return r;
}

StepResult TrainStep(Context& ctx, LanguageModel& model, AdamW& opt, const Batch& batch, float lr,
                     double grad_clip) {
  StepResult r = ForwardBackward(ctx, model, batch);
  ApplyGradients(model, opt, lr, grad_clip, &r);
  return r;
}

void ApplyGradients(LanguageModel& model, AdamW& opt, float lr, double grad_clip, StepResult* r) {
  r->grad_norm = ClipGradNorm(model.store(), grad_clip);
  r->lr = lr;
  r->finite = std::isfinite(r->loss) && std::isfinite(r->reconstruction_loss) && std::isfinite(r->grad_norm);
  if (r->finite) opt.Step(model.store(), lr);
}

}  // namespace tinylm
