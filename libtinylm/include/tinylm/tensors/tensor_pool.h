// TensorPool: buffers for layer outputs and gradients, recycled by reference count.
//
// A layer asks the pool for its output (or its dL/dx) instead of keeping a buffer of its own.
// The buffer stays in use for exactly as long as some Tensor views it: the layer that needs it
// for backward keeps a reference, everyone else drops theirs, and when the last view goes the
// buffer is free for the next request of the same size. So a training step holds what backward
// really needs plus a few gradients in flight, not one output and one gradient buffer per layer,
// and an evaluation forward holds only the activations between two layers. Buffers are never
// freed: a repeated step finds every size it needs already there and allocates nothing.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "tinylm/tensors/tensor.h"

namespace tinylm {

class TensorPool {
 public:
  // A contiguous tensor of `shape` with unspecified contents, in a buffer nobody else views.
  Tensor Acquire(const Shape& shape, DType dtype = DType::kF32);

  size_t buffers() const;       // buffers owned (free or in use)
  size_t bytes() const;         // their total size
  size_t bytes_in_use() const;  // the part some Tensor still views
  uint64_t allocations() const { return allocations_; }
  // The most bytes in use just after any Acquire since ResetPeak(): what a pass needed at once
  // (tests and memory figures). Off until the first ResetPeak(), since it scans every buffer
  // on each Acquire (a few percent of batch-1 decoding).
  size_t peak_bytes_in_use() const { return peak_in_use_; }
  void ResetPeak() {
    track_peak_ = true;
    peak_in_use_ = bytes_in_use();
  }

 private:
  // Exact sizes: a step asks for the same few sizes in the same order every time, so buckets of
  // equal byte counts never fragment and never hand a 12 MB buffer to a 4 MB request.
  std::map<size_t, std::vector<std::shared_ptr<Buffer>>> by_bytes_;
  uint64_t allocations_ = 0;
  size_t peak_in_use_ = 0;
  bool track_peak_ = false;
};

}  // namespace tinylm
