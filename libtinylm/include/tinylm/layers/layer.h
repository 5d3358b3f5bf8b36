// The Layer interface: one forward/backward pair per layer (as in llm.c), plus an incremental
// decode step for generation. Activations are [B, T, D] float tensors unless a layer says
// otherwise (Embedding takes [B, T] int32 token ids).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tinylm/tensors/context.h"
#include "tinylm/tensors/params.h"
#include "tinylm/tensors/tensor.h"

namespace tinylm {

enum class Mode { kTrain, kEval };

class PackedWriter;  // model/packed.h
class PackedReader;

// Per-layer state carried across decode steps (KV cache, running sums). Composite layers
// hold one child state per child.
struct DecodeState {
  virtual ~DecodeState() = default;
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string type() const = 0;

  // y = f(x). In kTrain mode the layer keeps what Backward needs, until that Backward (which
  // may drop it: one Backward per training Forward). Take the output from ctx.Pooled(); it
  // stays valid for as long as the caller holds it.
  virtual Tensor Forward(Context& ctx, const Tensor& x, Mode mode) = 0;

  // Given dL/dy for the last kTrain Forward, accumulates (+=) dL/dparams into the param grads
  // and returns dL/dx (an undefined tensor when x is not differentiable, e.g. token ids), best
  // from ctx.Pooled() too. dy may be read, never written: the caller may still need it.
  virtual Tensor Backward(Context& ctx, const Tensor& dy) = 0;

  // Parameters this layer uses (its own and its children's), each listed once.
  virtual std::vector<Param*> Params() const { return {}; }

  // Incremental decode: x holds the inputs at positions [pos, pos + x.dim(1)) of a sequence
  // whose earlier positions were already fed through Step with the same state. Must equal the
  // corresponding rows of a full Forward. Position-wise layers need no state.
  virtual std::unique_ptr<DecodeState> NewDecodeState(int64_t batch, int64_t max_len) const;
  virtual Tensor Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state);

  // Output shape for a given input shape (used by harnesses and model summaries).
  virtual Shape OutputShape(const Shape& in) const { return in; }

  // Floating-point operations of the last Forward (a multiply-add counts two; causal attention
  // counts only the unmasked half), for GFLOP/s figures and equal-compute comparisons. A
  // Backward is counted as twice its Forward (the usual "6N per token" training convention).
  // 0 before the first Forward. Every layer must report: tinylm-plugin-check fails a NaN.
  virtual double ForwardFlops() const { return kFlopsNotReported; }
  static constexpr double kFlopsNotReported = __builtin_nan("");

  // The layers this one is made of (for walks over a network: profiles, benchmarks, packing).
  virtual std::vector<const Layer*> Children() const { return {}; }

  // Packed inference (model/packed.h). A layer with a compact inference form of its own
  // (ternary codes, say) writes it and returns the parameters it covers, which the file then
  // does not store; ReadPacked finds that form again, makes the layer run from it (evaluation
  // and decode only) and returns the parameters it no longer needs. Default: no such form.
  virtual std::vector<Param*> WritePacked(PackedWriter&) const { return {}; }
  virtual std::vector<Param*> ReadPacked(const PackedReader&) { return {}; }
};

using LayerPtr = std::unique_ptr<Layer>;

// Makes a linear-like projection (in -> out features) named `name`; lets composite layers
// (attention, MLPs) use another projection type (e.g. BitLinear) without knowing it. A fused
// projection (attention's q/k/v, SwiGLU's gate/up) gives the sizes of its parts in `out_parts`
// (summing to `out`; empty: one matrix), so that a quantised projection can scale each part as
// the separate matrices it stands for.
using ProjectionFactory = std::function<LayerPtr(ParamStore& store, const std::string& name, int64_t in, int64_t out,
                                                 bool bias, const std::vector<int64_t>& out_parts)>;

// Makes `slot` a contiguous tensor of `shape`, reusing its buffer when the shape is unchanged,
// so steady-state training allocates nothing.
Tensor& EnsureShape(Tensor& slot, const Shape& shape, DType dtype = DType::kF32);

// Appends each of `more` to `out` unless already present (shared/tied params listed once).
void AppendUnique(std::vector<Param*>& out, const std::vector<Param*>& more);

}  // namespace tinylm
