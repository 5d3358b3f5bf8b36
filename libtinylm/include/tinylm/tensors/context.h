// Context: everything a layer needs to run that is not its own parameters:
// the oneDNN engine and stream, the thread count, the RNG seed and step, the primitive cache.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <absl/container/flat_hash_map.h>

#include "tinylm/tensors/tensor.h"
#include "tinylm/tensors/tensor_pool.h"
#include <oneapi/dnnl/dnnl.hpp>

namespace tinylm {

// Creating a oneDNN primitive costs 0.1-1.6 ms; a lookup costs ~2 us. Every primitive is created
// once per (kind, shape, layout) key and reused for the life of the context.
class PrimitiveCache {
 public:
  // Returns the cached primitive for `key`, creating it with `make` on first use.
  template <typename P>
  P& Get(const std::string& key, const std::function<P()>& make) {
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      ++misses_;
      it = cache_.emplace(key, std::make_shared<Holder<P>>(make())).first;
    } else {
      ++hits_;
    }
    return static_cast<Holder<P>*>(it->second.get())->value;
  }
  size_t size() const { return cache_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct HolderBase {
    virtual ~HolderBase() = default;
  };
  template <typename P>
  struct Holder : HolderBase {
    explicit Holder(P v) : value(std::move(v)) {}
    P value;
  };
  absl::flat_hash_map<std::string, std::shared_ptr<HolderBase>> cache_;
  uint64_t hits_ = 0, misses_ = 0;
};

class Context {
 public:
  // threads <= 0 means all cores. oneDNN here uses the OpenMP runtime, so setting the OpenMP
  // team size governs both our loops and oneDNN's kernels: one pool, no oversubscription.
  explicit Context(int threads = 0, uint64_t seed = 0);

  const dnnl::engine& engine() const { return engine_; }
  dnnl::stream& stream() { return stream_; }
  int threads() const { return threads_; }
  PrimitiveCache& cache() { return cache_; }

  // Randomness (dropout masks) is keyed by (seed, layer id, step, element index), so a
  // forward pass is reproducible: repeating it within the same step gives the same mask.
  uint64_t seed() const { return seed_; }
  void set_seed(uint64_t s) { seed_ = s; }
  uint64_t step() const { return step_; }
  void set_step(uint64_t s) { step_ = s; }
  // Data-parallel training: this context trains shard `shard` of `shards` equal shares of each
  // batch's rows. A tensor whose outer dimension is the batch's rows (however flattened) then
  // holds elements [shard * n, (shard + 1) * n) of the whole batch's, so a mask element keyed
  // by DropoutCounter is the one a single process draws for the same element.
  void set_shard(int64_t shard) { shard_ = shard; }
  uint64_t DropoutCounter(int64_t local_numel) const { return static_cast<uint64_t>(shard_ * local_numel); }

  // Mixed precision (RuntimeSpec.precision BF16): the large projections multiply bf16 copies of
  // their inputs and weights with fp32 accumulation and output; master weights, optimizer,
  // norms, softmax and loss stay fp32. Off by default.
  bool bf16_matmuls() const { return bf16_matmuls_; }
  void set_bf16_matmuls(bool on) { bf16_matmuls_ = on; }

  // A read-only vector of n ones (at least), for column sums as matmuls. Grown on demand.
  Tensor Ones(int64_t n);

  // Scratch memory shared by every layer run on this context: `floats` floats in slot `slot`
  // (0..kWorkspaceSlots-1), valid until the next call for the same slot. For buffers that live
  // only inside one kernel call (attention's score blocks), so that they cost memory once per
  // process rather than once per layer. Grown on demand, never shrunk.
  static constexpr int kWorkspaceSlots = 4;
  Tensor Workspace(int slot, int64_t floats);

  // A tensor for a layer's output or gradient from this context's pool (tensor_pool.h): it
  // stays valid while any Tensor views it and is recycled when the last view is dropped. Keep a
  // reference only to what Backward needs; let the rest go.
  Tensor Pooled(const Shape& shape, DType dtype = DType::kF32) { return pool_.Acquire(shape, dtype); }
  TensorPool& pool() { return pool_; }

  // Runs a primitive on this context's stream and waits.
  void Execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args);

  // A one-thread context for work too small to share between threads (batch-1 decode), with
  // its own primitive cache (oneDNN primitives are built for the team size at creation), the
  // same seed and step. Use it inside an OmpThreadsScope(1). This context itself when it
  // already has one thread.
  Context& Serial();

 private:
  int threads_;
  uint64_t seed_;
  uint64_t step_ = 0;
  int64_t shard_ = 0;
  bool bf16_matmuls_ = false;
  dnnl::engine engine_;
  dnnl::stream stream_;
  PrimitiveCache cache_;
  Tensor ones_;
  Tensor workspace_[kWorkspaceSlots];
  TensorPool pool_;
  std::unique_ptr<Context> serial_;
};

// Sets the OpenMP team size (our loops and oneDNN's kernels) for a scope and restores it.
class OmpThreadsScope {
 public:
  explicit OmpThreadsScope(int threads);
  ~OmpThreadsScope();
  OmpThreadsScope(const OmpThreadsScope&) = delete;
  OmpThreadsScope& operator=(const OmpThreadsScope&) = delete;

 private:
  int previous_;
};

}  // namespace tinylm
