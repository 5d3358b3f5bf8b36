// A language model = a ParamStore + a Sequential network mapping int32 ids [B, T] to logits
// [B, T, V], built from a ModelSpec (proto/tinylm.proto) by BuildModel.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tinylm.pb.h"
#include "tinylm/layers/compose.h"
#include "tinylm/model/loss.h"
#include "tinylm/training/optim.h"

namespace tinylm {

class LanguageModel {
 public:
  LanguageModel() : net_(std::make_unique<Sequential>()) {}
  ParamStore& store() { return store_; }
  const ParamStore& store() const { return store_; }
  Sequential& net() { return *net_; }
  const Sequential& net() const { return *net_; }
  int64_t vocab_size() const { return vocab_; }
  int64_t context() const { return context_; }
  void set_shape(int64_t vocab, int64_t context) { vocab_ = vocab, context_ = context; }

  // Exact number of trainable scalars (tied and shared parameters counted once).
  int64_t NumParams() const;

  // Top-level parts for summaries: display name, description, and the layer.
  struct Part {
    std::string name, description;
    const Layer* layer;
  };
  void AddPart(Part p) { parts_.push_back(std::move(p)); }
  const std::vector<Part>& parts() const { return parts_; }
  // "name  description  params" lines; parameters already counted by an earlier part (tied,
  // shared) are not counted again and are marked.
  std::string ParamTable() const;

  // The auxiliary reconstruction head (ModelSpec.reconstruction_weight): a second instance of
  // the head sharing its weights, applied in training to the embedding's output. Null if off.
  Layer* reconstruction_head() { return reconstruction_head_.get(); }
  float reconstruction_weight() const { return reconstruction_weight_; }
  void set_reconstruction(LayerPtr head, float weight) {
    reconstruction_head_ = std::move(head), reconstruction_weight_ = weight;
  }

  Tensor Forward(Context& ctx, const Tensor& ids, Mode mode) { return net_->Forward(ctx, ids, mode); }
  Tensor Backward(Context& ctx, const Tensor& dlogits) { return net_->Backward(ctx, dlogits); }

 private:
  ParamStore store_;
  std::unique_ptr<Sequential> net_;
  std::vector<Part> parts_;
  LayerPtr reconstruction_head_;
  float reconstruction_weight_ = 0.0f;
  int64_t vocab_ = 0, context_ = 0;
};

// Builds the network of `spec` for a vocabulary of `vocab` tokens. Parameters are declared, not
// allocated: call store().Allocate(seed). Throws std::invalid_argument naming the spec path of
// a bad setting (e.g. "model.block.layer[0].residual.mixer.attention.heads").
class Tokenizer;
std::unique_ptr<LanguageModel> BuildModel(const proto::ModelSpec& spec, int64_t vocab,
                                          const Tokenizer* tokenizer = nullptr);

struct LayerBuildContext;  // tinylm/plugins/plugin.h
// Builds one layer from its spec (core types and plugin types alike); errors name `path`.
LayerPtr BuildLayer(const proto::LayerSpec& spec, const LayerBuildContext& ctx, const std::string& path = "layer");

// The plain decoder-only transformer as a ModelSpec: count x [pre-norm attention residual,
// pre-norm MLP residual], final norm, tied or separate head.
proto::ModelSpec TransformerModelSpec(const proto::TransformerConfig& cfg);
std::unique_ptr<LanguageModel> BuildTransformer(const proto::TransformerConfig& cfg);

struct Batch {
  Tensor inputs;   // int32 [B, T]
  Tensor targets;  // int32 [B, T]
  Tensor weights;  // f32 [B, T] or undefined (all 1)
  // Weights of the inputs as targets of the reconstruction loss (the stage's ignore_targets
  // masked out); undefined: all 1.
  Tensor input_weights = Tensor();
  // > 0: the loss divides by this instead of the batch's own weight sum (and the reconstruction
  // loss by reconstruction_normalizer): a data-parallel shard divides by its whole batch's.
  double loss_normalizer = 0.0, reconstruction_normalizer = 0.0;
};

struct StepResult {
  double loss = 0.0, grad_norm = 0.0;
  double reconstruction_loss = 0.0;  // unweighted; 0 without a reconstruction head
  float lr = 0.0f;
  // False when the loss, the reconstruction loss or the gradient norm is not finite; TrainStep
  // then leaves the weights and Adam's moments as they were (training/divergence.h).
  bool finite = true;
};

// Zeroes the gradients and accumulates those of the batch's weighted cross-entropy (plus the
// reconstruction loss when the model has one); returns the losses (grad_norm and lr unset).
StepResult ForwardBackward(Context& ctx, LanguageModel& model, const Batch& batch);

// The update after the gradients are in place: clip, then AdamW unless anything is not finite
// (sets r->grad_norm, r->lr and r->finite). TrainStep and the data-parallel step share it.
void ApplyGradients(LanguageModel& model, AdamW& opt, float lr, double grad_clip, StepResult* r);

// One optimisation step: ForwardBackward, clip, AdamW — skipped when anything is not finite
// (r.finite false). ctx.step() should be set by the caller (it keys dropout masks).
StepResult TrainStep(Context& ctx, LanguageModel& model, AdamW& opt, const Batch& batch, float lr,
                     double grad_clip);

}  // namespace tinylm
