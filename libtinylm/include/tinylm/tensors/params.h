// Parameters live in one flat arena (values), with gradients and AdamW moments in parallel
// arenas of the same layout: the optimizer, clipping, checkpoints and (later) all-reduce are
// each one loop over one buffer.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tinylm/tensors/tensor.h"

namespace tinylm {

struct Init {
  enum class Kind { kNormal, kUniform, kConstant } kind = Kind::kNormal;
  float a = 0.02f;  // normal: std; uniform: half-width; constant: the value
  static Init Normal(float std) { return {Kind::kNormal, std}; }
  static Init Uniform(float half_width) { return {Kind::kUniform, half_width}; }
  static Init Constant(float v) { return {Kind::kConstant, v}; }
};

struct Param {
  std::string name;
  Shape shape;
  Init init;
  bool decay = true;  // AdamW weight decay applies (matrices) or not (norms, biases)
  int uses = 1;       // > 1 when tied / shared by several layers
  int64_t offset = 0; // element offset into the arenas
  Tensor value;       // views into the arenas, valid after ParamStore::Allocate
  Tensor grad;
  // The store's value version (ParamStore::Touch), for copies derived from the values (bf16
  // weights): a copy made at version v is current while *version == v.
  const uint64_t* version = nullptr;
  int64_t numel() const { return NumElements(shape); }
  bool tied() const { return uses > 1; }
};

class ParamStore {
 public:
  // Declares a parameter. A second declaration of the same name is an error unless made inside
  // a SharedScope (weight sharing across repeated blocks) with the same shape.
  Param* Declare(const std::string& name, const Shape& shape, Init init, bool decay);
  // Returns an existing parameter for reuse (tied output head); counts the extra use.
  Param* Share(const std::string& name);
  Param* Find(const std::string& name) const;

  // Allocates the four arenas and initialises values deterministically from `seed`:
  // element i of parameter p is a function of (seed, hash(p.name), i) only.
  void Allocate(uint64_t seed);
  // Inference only (packed models): the value arena alone, its contents unspecified and its pages
  // untouched until written, so parameters a layer runs without (it has a packed form) cost no
  // resident memory. No gradients, no Adam moments: such a store cannot train.
  void AllocateValuesOnly();
  // Re-initialises all values from `seed` (keeps layout).
  void Initialize(uint64_t seed);
  bool allocated() const { return values_.defined(); }

  // "The values changed": bumps the version that derived copies of the weights (bf16 copies for
  // mixed precision, quantised weights) are keyed on. AdamW, checkpoint loading, Allocate and
  // Initialize call it; anything else that writes values must too.
  void Touch() { ++*version_; }
  uint64_t version() const { return *version_; }

  const std::vector<std::unique_ptr<Param>>& params() const { return params_; }
  int64_t size() const { return total_; }
  const Tensor& values() const { return values_; }
  const Tensor& grads() const { return grads_; }
  const Tensor& adam_m() const { return m_; }
  const Tensor& adam_v() const { return v_; }
  void ZeroGrads() const { grads_.SetZero(); }

  // RAII: while alive, re-declaring an existing name returns it (shared weights).
  class SharedScope {
   public:
    explicit SharedScope(ParamStore& s) : store_(s), prev_(s.sharing_) { s.sharing_ = true; }
    ~SharedScope() { store_.sharing_ = prev_; }

   private:
    ParamStore& store_;
    bool prev_;
  };

 private:
  std::vector<std::unique_ptr<Param>> params_;
  int64_t total_ = 0;
  bool sharing_ = false;
  Tensor values_, grads_, m_, v_;
  std::unique_ptr<uint64_t> version_ = std::make_unique<uint64_t>(0);  // on the heap: stable if the store moves
};

}  // namespace tinylm
