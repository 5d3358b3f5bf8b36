#include "tinylm/tensors/tensor_pool.h"

#include <algorithm>

namespace tinylm {

Tensor TensorPool::Acquire(const Shape& shape, DType dtype) {
  const size_t bytes = static_cast<size_t>(NumElements(shape)) * DTypeSize(dtype);
  auto& bucket = by_bytes_[bytes];
  Tensor t;
  for (auto& buf : bucket)
    if (buf.use_count() == 1) {  // only the pool holds it: no Tensor views it any more
      t = Tensor::View(buf, 0, shape, dtype);
      break;
    }
  if (!t.defined()) {
    bucket.push_back(std::make_shared<Buffer>(bytes));
    ++allocations_;
    t = Tensor::View(bucket.back(), 0, shape, dtype);
  }
  if (track_peak_) peak_in_use_ = std::max(peak_in_use_, bytes_in_use());
  return t;
}

size_t TensorPool::buffers() const {
  size_t n = 0;
  for (const auto& [bytes, bucket] : by_bytes_) n += bucket.size();
  return n;
}

size_t TensorPool::bytes() const {
  size_t n = 0;
  for (const auto& [bytes, bucket] : by_bytes_) n += bytes * bucket.size();
  return n;
}

size_t TensorPool::bytes_in_use() const {
  size_t n = 0;
  for (const auto& [bytes, bucket] : by_bytes_)
    for (const auto& buf : bucket) n += buf.use_count() > 1 ? bytes : 0;
  return n;
}

}  // namespace tinylm
