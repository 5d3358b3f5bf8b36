#include "golden_file.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "tinylm/tensors/rng.h"

namespace tinylm::testing {

std::map<std::string, Tensor> ReadGolden(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open golden file");
  auto read = [&](void* p, size_t n) {
    if (!f.read(static_cast<char*>(p), n)) throw std::runtime_error(path + ": truncated");
  };
  char magic[4];
  read(magic, 4);
  if (std::memcmp(magic, "TLMG", 4) != 0) throw std::runtime_error(path + ": not a golden file");
  uint32_t version, count;
  read(&version, 4);
  read(&count, 4);
  if (version != 1) throw std::runtime_error(path + ": unsupported version");
  std::map<std::string, Tensor> out;
  for (uint32_t e = 0; e < count; ++e) {
    uint32_t len, ndim;
    read(&len, 4);
    std::string name(len, '\0');
    read(name.data(), len);
    uint8_t code;
    read(&code, 1);
    read(&ndim, 4);
    Shape shape(ndim);
    read(shape.data(), 8 * ndim);
    Tensor t = Tensor::Empty(shape, code == 0 ? DType::kF32 : DType::kS32);
    read(t.raw(), t.bytes());
    out[name] = t;
  }
  return out;
}

void GoldenInit(ParamStore& store, uint64_t seed) {
  store.Touch();  // direct writes: derived copies (bf16, ternary weights) must be remade
  for (const auto& p : store.params()) {
    float* v = p->value.f32();
    const uint64_t stream = HashString(p->name.c_str());
    for (int64_t i = 0; i < p->numel(); ++i) {
      const float u = 2.0f * CounterUniform(seed, stream, i) - 1.0f;
      const bool bias = p->name.size() > 5 && p->name.compare(p->name.size() - 5, 5, ".bias") == 0;
      if (p->name == "embed.weight") v[i] = 0.1f * u;
      else if (p->shape.size() == 2) v[i] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p->shape[1]))) * u;
      else if (bias) v[i] = 0.1f * u;
      else v[i] = 1.0f + 0.1f * u;
    }
  }
}

double MaxRelErr(const float* a, const float* b, int64_t n) {
  double err = 0, scale = 1e-12;
  for (int64_t i = 0; i < n; ++i) {
    err = std::max(err, static_cast<double>(std::fabs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
  }
  return err / scale;
}

}  // namespace tinylm::testing
