// The post's data option as a data mixer: the token stream cut into non-overlapping records,
// each visited once per epoch in a seeded random order.
#include <stdexcept>

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
      const int32_t* p = stream_->tokens.data() + Order(seed, g / records_)[g % records_] * length_;
      for (int64_t i = 0; i < t; ++i) {
        b->inputs.s32()[r * t + i] = p[i];
        b->targets.s32()[r * t + i] = p[i + 1];
      }
    }
  }

 private:
  const std::vector<int64_t>& Order(uint64_t seed, int64_t epoch) const {
    if (order_seed_ != seed || order_epoch_ != epoch || order_.empty()) {
      order_.resize(records_);
      for (int64_t i = 0; i < records_; ++i) order_[i] = i;
      for (int64_t i = records_ - 1; i > 0; --i)
        std::swap(order_[i], order_[CounterBits(seed, 0x7265636f7264ULL + epoch, i) % (i + 1)]);
      order_seed_ = seed;
      order_epoch_ = epoch;
    }
    return order_;
  }
  const TokenStream* stream_;
  int64_t length_, records_;
  mutable std::vector<int64_t> order_;  // the current epoch's permutation (cache)
  mutable uint64_t order_seed_ = 0;
  mutable int64_t order_epoch_ = -1;
};

}  // namespace

std::unique_ptr<DataMixer> MakeRecordBatches(const TokenStream* stream, int64_t length) {
  return std::make_unique<RecordBatches>(stream, length);
}

}  // namespace tinylm::delta_lm
