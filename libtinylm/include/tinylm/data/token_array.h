// Token ids stored 1, 2 or 4 bytes wide (the narrowest that holds the vocabulary), either in
// memory or in a mapped token-cache file. A 2.2 GB corpus under a byte tokenizer is 2.2 G ids:
// 8.9 GB as int32, 4.4 GB as uint16 -- and when mapped, page cache rather than a private copy
// per arm. Readers copy the ids they need (a window, a batch) widened to int32.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tinylm {

class TokenArray {
 public:
  TokenArray() = default;
  // In memory, 4 bytes wide (tests, small streams, plugins building their own).
  TokenArray(std::vector<int32_t> ids);  // NOLINT: implicit, a vector of ids is a token array
  // A view of `size` ids of `width` bytes at `data`, kept alive by `owner` (a mapping). Ids
  // read are checked to be below `bound` (the vocabulary: a damaged cache file must not index
  // outside the embedding); `source` names the file in that error.
  static TokenArray View(std::shared_ptr<const void> owner, const void* data, int64_t size, int width,
                         int64_t bound, std::string source);
  // The narrowest width (1, 2 or 4 bytes) holding ids 0 .. vocab_size-1.
  static int WidthFor(int64_t vocab_size) { return vocab_size <= 256 ? 1 : vocab_size <= 65536 ? 2 : 4; }

  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int width() const { return width_; }
  bool mapped() const { return mapped_; }  // a view of a token cache (not memory of its own)
  int32_t operator[](int64_t i) const {
    switch (width_) {
      case 1: return static_cast<const uint8_t*>(data_)[i];
      case 2: return static_cast<const uint16_t*>(data_)[i];
      default: return static_cast<const int32_t*>(data_)[i];
    }
  }
  // ids [offset, offset + n) into out; throws std::out_of_range beyond the end, and
  // std::runtime_error for an id at or above the view's bound.
  void Read(int64_t offset, int64_t n, int32_t* out) const;
  std::vector<int32_t> ToVector() const;

 private:
  std::shared_ptr<const void> owner_;
  const void* data_ = nullptr;
  int64_t size_ = 0;
  int width_ = 4;
  int64_t bound_ = 0;  // 0: unchecked (arrays built in memory)
  bool mapped_ = false;
  std::string source_;
};

}  // namespace tinylm
