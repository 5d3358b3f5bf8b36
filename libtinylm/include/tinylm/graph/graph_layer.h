// GraphLayer: a layer defined by its forward pass alone. Subclasses declare parameters in their
// constructor and compose ops (graph/ops.h) in Build; Backward, decode (NewDecodeState/Step) and
// buffer reuse come from the tape:
//
//   class GatedConv : public GraphLayer {
//    public:
//     GatedConv(ParamStore& s, const std::string& name, int64_t d, int64_t k)
//         : GraphLayer("gated_conv", s, name), gate_(DeclareLinear("gate", d, d, false, 0.02f)),
//           w_(Declare("conv", {k, d}, Init::Normal(0.2f), true)) {}
//     Var Build(Graph& g, Var x) override {
//       return fn::Silu(fn::Linear(x, gate_)) * fn::CausalConv1d(x, g.Parameter(w_));
//     }
//    private:
//     LinearParams gate_;
//     Param* w_;
//   };
#pragma once
#include <string>
#include <vector>

#include "tinylm/graph/graph.h"
#include "tinylm/graph/ops.h"
#include "tinylm/layers/layer.h"

namespace tinylm {

struct LayerBuildContext;  // tinylm/plugins/plugin.h

// The parameters of a linear map x W^T + b (W [out, in]); bias may be null.
struct LinearParams {
  Param* weight = nullptr;
  Param* bias = nullptr;
};

namespace fn {
// F.linear with a layer's declared parameters.
Var Linear(Var x, const LinearParams& p);
}  // namespace fn

class GraphLayer : public Layer {
 public:
  // `name` prefixes parameter names; `tag` (default: name) seeds dropout streams, as a
  // hand-written layer's dropout named tag + ".dropout" does.
  GraphLayer(std::string type, ParamStore& store, std::string name, std::string tag = "");
  // In a plugin: the store, name and tag the host gives the layer.
  GraphLayer(std::string type, const LayerBuildContext& ctx);

  std::string type() const override { return type_; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  std::vector<Param*> Params() const override { return params_; }
  std::unique_ptr<DecodeState> NewDecodeState(int64_t batch, int64_t max_len) const override;
  Tensor Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) override;

  // FLOPs of the last Forward or Step (from every op's count).
  double ForwardFlops() const override { return last_tape_ ? last_tape_->Flops() : 0.0; }
  // The training tape (for inspection: sizes, allocation counts).
  const Graph& tape() const { return tape_; }

 protected:
  // The layer's forward: y = f(x). x is [B, T, ...] floats, or [B, T] int32 ids (no gradient).
  virtual Var Build(Graph& g, Var x) = 0;

  // Declares parameter "<name>.<suffix>" and lists it in Params().
  Param* Declare(const std::string& suffix, const Shape& shape, Init init, bool decay);
  // Declares "<name>.<suffix>.weight" [out, in] ~ N(0, init_std) (decayed) and, if bias,
  // "<name>.<suffix>.bias" [out] = 0 (not decayed), as the Linear layer does.
  LinearParams DeclareLinear(const std::string& suffix, int64_t in, int64_t out, bool bias, float init_std);
  // Lists parameters declared elsewhere (shared or tied) in Params().
  void Use(Param* p);
  const std::string& name() const { return name_; }
  ParamStore& store() const { return *store_; }

 private:
  std::string type_, name_;
  ParamStore* store_;
  uint64_t salt_;
  std::vector<Param*> params_;
  Graph tape_, step_tape_;  // Step never disturbs what Forward saved for Backward
  Graph* last_tape_ = nullptr;
  Var out_;
};

}  // namespace tinylm
