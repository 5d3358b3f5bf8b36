// Embedding: int32 token ids [B, T] -> rows of a [vocab, d] table. Its weight can be shared
// with the output head (a Linear built with shared_weight = weight()).
#pragma once
#include "tinylm/layers/layer.h"

namespace tinylm {

class Embedding : public Layer {
 public:
  Embedding(ParamStore& store, const std::string& name, int64_t vocab, int64_t dim,
            float init_std = 0.02f);
  std::string type() const override { return "embedding"; }
  Tensor Forward(Context& ctx, const Tensor& ids, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;  // returns undefined (ids)
  std::vector<Param*> Params() const override { return {weight_}; }
  Shape OutputShape(const Shape& in) const override;
  Param* weight() const { return weight_; }
  double ForwardFlops() const override { return 0.0; }  // a gather

 private:
  int64_t vocab_, dim_;
  Param* weight_;
  Tensor ids_;  // training ids, for backward
};

}  // namespace tinylm
