#include "tinylm/data.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#ifndef TINYLM_SOURCE_DIR
#define TINYLM_SOURCE_DIR "."
#endif

namespace tinylm {

std::string ResolveDataDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("TINYLM_DATA_DIR"); env && *env) return env;
  return std::string(TINYLM_SOURCE_DIR) + "/../shared/data";
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open (set --data-dir or TINYLM_DATA_DIR?)");
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.empty()) throw std::runtime_error(path + ": file is empty");
  return s;
}

ByteWindowSampler::ByteWindowSampler(std::string bytes, int64_t seq, uint64_t seed)
    : bytes_(std::move(bytes)), seq_(seq), seed_(seed) {
  if (static_cast<int64_t>(bytes_.size()) < seq + 1)
    throw std::runtime_error("corpus of " + std::to_string(bytes_.size()) +
                             " bytes is shorter than one window of " + std::to_string(seq + 1));
}

void ByteWindowSampler::Fill(Batch& b, int64_t row, int64_t offset) const {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes_.data()) + offset;
  for (int64_t t = 0; t < seq_; ++t) {
    b.inputs.s32()[row * seq_ + t] = p[t];
    b.targets.s32()[row * seq_ + t] = p[t + 1];
  }
}

Batch ByteWindowSampler::Sample(int64_t batch, uint64_t k) const {
  Batch b{Tensor::Empty({batch, seq_}, DType::kS32), Tensor::Empty({batch, seq_}, DType::kS32), Tensor()};
  const uint64_t span = bytes_.size() - seq_;  // valid offsets: [0, size - seq - 1]
  for (int64_t r = 0; r < batch; ++r) Fill(b, r, CounterBits(seed_, k, r) % span);
  return b;
}

int64_t ByteWindowSampler::num_fixed_windows() const {
  return (static_cast<int64_t>(bytes_.size()) - 1) / seq_;
}

Batch ByteWindowSampler::Fixed(int64_t batch, int64_t first_window, int64_t n_windows) const {
  Batch b{Tensor::Empty({batch, seq_}, DType::kS32), Tensor::Empty({batch, seq_}, DType::kS32), Tensor()};
  for (int64_t r = 0; r < batch; ++r) Fill(b, r, ((first_window + r) % n_windows) * seq_);
  return b;
}

}  // namespace tinylm
