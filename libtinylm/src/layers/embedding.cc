#include "tinylm/layers/embedding.h"

#include <cstring>
#include <stdexcept>

#include "tinylm/tensors/parallel.h"

namespace tinylm {

Embedding::Embedding(ParamStore& store, const std::string& name, int64_t vocab, int64_t dim,
                     float init_std)
    : vocab_(vocab), dim_(dim) {
  weight_ = store.Declare(name + ".weight", {vocab, dim}, Init::Normal(init_std), true);
}

Shape Embedding::OutputShape(const Shape& in) const {
  Shape s = in;
  s.push_back(dim_);
  return s;
}

Tensor Embedding::Forward(Context& ctx, const Tensor& ids, Mode mode) {
  const int32_t* id = ids.s32();
  const int64_t n = ids.numel();
  for (int64_t i = 0; i < n; ++i)
    if (id[i] < 0 || id[i] >= vocab_)
      throw std::out_of_range("embedding: token id " + std::to_string(id[i]) +
                              " outside vocabulary of " + std::to_string(vocab_));
  Tensor out = ctx.Pooled(OutputShape(ids.shape()));
  const float* w = weight_->value.f32();
  float* y = out.f32();
  ParallelFor(n, 1025, [&](int64_t i) { std::memcpy(y + i * dim_, w + id[i] * dim_, dim_ * sizeof(float)); });
  ids_ = mode == Mode::kTrain ? ids : Tensor();
  return out;
}

Tensor Embedding::Backward(Context&, const Tensor& dy) {
  // Scatter-add in token order: deterministic whatever the thread count, and cheap
  // (N x d adds) next to the matmuls.
  const int32_t* id = ids_.s32();
  const float* g = dy.f32();
  float* gw = weight_->grad.f32();
  for (int64_t i = 0, n = ids_.numel(); i < n; ++i) {
    float* row = gw + id[i] * dim_;
    const float* gi = g + i * dim_;
#pragma omp simd
    for (int64_t j = 0; j < dim_; ++j) row[j] += gi[j];
  }
  return Tensor();
}

}  // namespace tinylm
