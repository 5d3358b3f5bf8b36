#include "golden_file.h"

#include <cstring>
#include <fstream>
#include <stdexcept>

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

}  // namespace tinylm::testing
