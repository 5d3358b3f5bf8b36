// Channel mixers.
//   SwiGLU:   y = W_down( silu(x W_gate^T) * (x W_up^T) ), gate and up fused in one [2F, D] matmul
//             (rows 0..F-1 gate, F..2F-1 up).
//   GeluMlp:  y = fc2( dropout(gelu(fc1 x)) ), with biases; gelu exact (erf) or tanh approximation.
#pragma once
#include <memory>

#include "tinylm/layers/layer.h"
#include "tinylm/layers/elementwise.h"
#include "tinylm/layers/linear.h"

namespace tinylm {

class SwiGlu : public Layer {
 public:
  SwiGlu(ParamStore& store, const std::string& name, int64_t dim, int64_t hidden, bool bias = false,
         float init_std = 0.02f, ProjectionFactory projection = nullptr);
  std::string type() const override { return "swiglu"; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  std::vector<Param*> Params() const override;
  double ForwardFlops() const override;
  std::vector<const Layer*> Children() const override { return {gate_up_.get(), down_.get()}; }

 private:
  int64_t hidden_;
  LayerPtr gate_up_, down_;
  Tensor gu_;               // gate and up projections, kept for backward (training only)
  int64_t h_elements_ = 0;  // of the last Forward, for its FLOP count
};

enum class GeluKind { kErf, kTanh };

class GeluMlp : public Layer {
 public:
  GeluMlp(ParamStore& store, const std::string& name, int64_t dim, int64_t hidden,
          GeluKind kind = GeluKind::kErf, bool bias = true, float init_std = 0.02f,
          ProjectionFactory projection = nullptr, float hidden_dropout = 0.0f);
  std::string type() const override { return "gelu_mlp"; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  std::vector<Param*> Params() const override;
  double ForwardFlops() const override;
  std::vector<const Layer*> Children() const override;

 private:
  dnnl::algorithm alg_;
  LayerPtr fc1_, fc2_;
  std::unique_ptr<Layer> dropout_;  // on the hidden activations, or null
  Tensor pre_;                // fc1's output, kept for backward (training only)
  int64_t act_elements_ = 0;  // of the last Forward, for its FLOP count
};

}  // namespace tinylm
