// The post's data option as a data mixer: the token stream cut into non-overlapping records,
// each visited once per epoch in a seeded random order.
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "delta_blocks.h"
#include "tinylm/tensors/rng.h"

namespace tinylm::delta_lm {
namespace {

// Non-overlapping records in a seeded random order per epoch (Fisher-Yates on counter draws, so
// the order is a pure function of (seed, epoch) and resumed runs see the same records).
class RecordBatches : public DataMixer {
 public:
  RecordBatches(const TokenStream* stream, int64_t length)
      : stream_(stream), length_(length), records_(static_cast<int64_t>(stream->tokens.size()) / length) {
    if (records_ < 1) throw std::invalid_argument("the stream is shorter than one record");
  }
  void Mix(uint64_t seed, uint64_t step, Batch* b) const override {
    const int64_t rows = b->inputs.dim(0), t = b->inputs.dim(1);
    if (t + 1 != length_) throw std::invalid_argument("record length must be seq_len + 1");
    b->weights = Tensor();  // plain loss on every target
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t g = static_cast<int64_t>(step) * rows + r;
      const int64_t at = (*Order(seed, g / records_))[g % records_] * length_;
      stream_->tokens.Read(at, t, b->inputs.s32() + r * t);
      stream_->tokens.Read(at + 1, t, b->targets.s32() + r * t);
    }
  }

 private:
  using Permutation = std::shared_ptr<const std::vector<int64_t>>;
  // The permutation of (seed, epoch), cached: runs trained side by side call Mix from several
  // threads with their own seeds, so the cache holds a few permutations under a lock.
  Permutation Order(uint64_t seed, int64_t epoch) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Cached& c : cache_)
      if (c.seed == seed && c.epoch == epoch) return c.order;
    auto order = std::make_shared<std::vector<int64_t>>(records_);
    for (int64_t i = 0; i < records_; ++i) (*order)[i] = i;
    for (int64_t i = records_ - 1; i > 0; --i)
      std::swap((*order)[i], (*order)[CounterBits(seed, 0x7265636f7264ULL + epoch, i) % (i + 1)]);
    if (cache_.size() >= 8) cache_.erase(cache_.begin());
    cache_.push_back({seed, epoch, order});
    return order;
  }
  struct Cached {
    uint64_t seed;
    int64_t epoch;
    Permutation order;
  };
  const TokenStream* stream_;
  int64_t length_, records_;
  mutable std::mutex mu_;
  mutable std::vector<Cached> cache_;  // most recent last
};

}  // namespace

std::unique_ptr<DataMixer> MakeRecordBatches(const TokenStream* stream, int64_t length) {
  return std::make_unique<RecordBatches>(stream, length);
}

}  // namespace tinylm::delta_lm
