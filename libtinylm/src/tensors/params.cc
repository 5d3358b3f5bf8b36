#include "tinylm/tensors/params.h"

#include <stdexcept>

#include "tinylm/tensors/rng.h"

namespace tinylm {

Param* ParamStore::Find(const std::string& name) const {
  for (const auto& p : params_)
    if (p->name == name) return p.get();
  return nullptr;
}

Param* ParamStore::Declare(const std::string& name, const Shape& shape, Init init, bool decay) {
  if (Param* existing = Find(name)) {
    if (!sharing_) throw std::logic_error("parameter '" + name + "' declared twice");
    if (existing->shape != shape)
      throw std::logic_error("shared parameter '" + name + "' redeclared with shape " +
                             ShapeString(shape) + ", was " + ShapeString(existing->shape));
    existing->uses++;
    return existing;
  }
  if (allocated()) throw std::logic_error("parameter '" + name + "' declared after Allocate");
  auto p = std::make_unique<Param>();
  p->name = name;
  p->shape = shape;
  p->init = init;
  p->decay = decay;
  // Keep every parameter 64-byte aligned inside the arena (16 floats).
  p->offset = total_;
  total_ += (p->numel() + 15) / 16 * 16;
  params_.push_back(std::move(p));
  return params_.back().get();
}

Param* ParamStore::Share(const std::string& name) {
  Param* p = Find(name);
  if (!p) throw std::logic_error("cannot share unknown parameter '" + name + "'");
  p->uses++;
  return p;
}

void ParamStore::Allocate(uint64_t seed) {
  auto arena = [&] {
    auto buf = std::make_shared<Buffer>(total_ * sizeof(float));
    Tensor t = Tensor::View(buf, 0, {total_});
    t.SetZero();
    return t;
  };
  values_ = arena();
  grads_ = arena();
  m_ = arena();
  v_ = arena();
  for (auto& p : params_) {
    p->value = values_.Slice0(p->offset, p->numel()).Reshape(p->shape);
    p->grad = grads_.Slice0(p->offset, p->numel()).Reshape(p->shape);
    p->version = version_.get();
  }
  Initialize(seed);
}

void ParamStore::AllocateValuesOnly() {
  values_ = Tensor::View(std::make_shared<Buffer>(total_ * sizeof(float)), 0, {total_});
  grads_ = m_ = v_ = Tensor();
  for (auto& p : params_) {
    p->value = values_.Slice0(p->offset, p->numel()).Reshape(p->shape);
    p->grad = Tensor();
    p->version = version_.get();
  }
  Touch();
}

void ParamStore::Initialize(uint64_t seed) {
  Touch();
  for (auto& p : params_) {
    float* v = p->value.f32();
    const uint64_t stream = HashString(p->name.c_str());
    const int64_t n = p->numel();
    switch (p->init.kind) {
      case Init::Kind::kNormal:
        for (int64_t i = 0; i < n; ++i) v[i] = p->init.a * CounterNormal(seed, stream, i);
        break;
      case Init::Kind::kUniform:
        for (int64_t i = 0; i < n; ++i)
          v[i] = p->init.a * (2.0f * CounterUniform(seed, stream, i) - 1.0f);
        break;
      case Init::Kind::kConstant:
        for (int64_t i = 0; i < n; ++i) v[i] = p->init.a;
        break;
    }
  }
}

}  // namespace tinylm
