// A language model = a ParamStore + a Sequential network mapping int32 ids [B, T] to logits
// [B, T, V]. BuildTransformer composes the core layers from a TransformerConfig.
#pragma once
#include <memory>

#include "tinylm.pb.h"
#include "tinylm/layers/compose.h"
#include "tinylm/loss.h"
#include "tinylm/optim.h"

namespace tinylm {

class LanguageModel {
 public:
  LanguageModel() : net_(std::make_unique<Sequential>()) {}
  ParamStore& store() { return store_; }
  Sequential& net() { return *net_; }
  int64_t vocab_size() const { return vocab_; }
  int64_t context() const { return context_; }
  void set_shape(int64_t vocab, int64_t context) { vocab_ = vocab, context_ = context; }

  // Exact number of trainable scalars (tied parameters counted once).
  int64_t NumParams() const;

  Tensor Forward(Context& ctx, const Tensor& ids, Mode mode) { return net_->Forward(ctx, ids, mode); }
  Tensor Backward(Context& ctx, const Tensor& dlogits) { return net_->Backward(ctx, dlogits); }

  // Buffer for dL/dlogits, reused across training steps.
  Tensor& dlogits_workspace() { return dlogits_; }

 private:
  ParamStore store_;
  std::unique_ptr<Sequential> net_;
  int64_t vocab_ = 0, context_ = 0;
  Tensor dlogits_;
};

// Fills zero/empty fields of a TransformerConfig with the defaults documented in the proto.
proto::TransformerConfig WithDefaults(proto::TransformerConfig cfg);

// Embedding -> N x [pre-norm attention block, pre-norm MLP block] -> final norm -> head.
// Parameters are declared but not allocated; call store().Allocate(seed).
std::unique_ptr<LanguageModel> BuildTransformer(const proto::TransformerConfig& cfg);

struct Batch {
  Tensor inputs;   // int32 [B, T]
  Tensor targets;  // int32 [B, T]
  Tensor weights;  // f32 [B, T] or undefined (all 1)
};

struct StepResult {
  double loss = 0.0, grad_norm = 0.0;
  float lr = 0.0f;
};

// One optimisation step: zero grads, forward, weighted cross-entropy, backward, clip,
// AdamW. ctx.step() should be set by the caller (it keys dropout masks).
StepResult TrainStep(Context& ctx, LanguageModel& model, AdamW& opt, const Batch& batch, float lr,
                     double grad_clip);

}  // namespace tinylm
