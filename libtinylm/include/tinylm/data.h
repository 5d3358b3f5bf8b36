// Byte-level data for the core training loop: a corpus read from a file, and deterministic
// sampling of [B, T+1] windows (inputs = first T bytes, targets = the next T).
#pragma once
#include <string>

#include "tinylm/model.h"
#include "tinylm/rng.h"

namespace tinylm {

// The data directory: `flag` if non-empty, else $TINYLM_DATA_DIR, else ../shared/data beside
// the source checkout.
std::string ResolveDataDir(const std::string& flag);

// Whole file as bytes; throws std::runtime_error naming the path if unreadable or empty.
std::string ReadFileBytes(const std::string& path);

class ByteWindowSampler {
 public:
  // Windows of seq+1 bytes; the corpus must hold at least one.
  ByteWindowSampler(std::string bytes, int64_t seq, uint64_t seed);
  // A batch of `batch` windows at random offsets, drawn from a counter RNG: batch k is a pure
  // function of (seed, k), so a resumed run sees the same data order.
  Batch Sample(int64_t batch, uint64_t k) const;
  // The i-th of n evenly spaced fixed windows (for validation).
  Batch Fixed(int64_t batch, int64_t first_window, int64_t n_windows) const;
  int64_t num_fixed_windows() const;
  int64_t size() const { return static_cast<int64_t>(bytes_.size()); }

 private:
  void Fill(Batch& b, int64_t row, int64_t offset) const;
  std::string bytes_;
  int64_t seq_;
  uint64_t seed_;
};

}  // namespace tinylm
