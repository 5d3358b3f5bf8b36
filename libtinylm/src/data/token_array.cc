#include "tinylm/data/token_array.h"

#include <absl/strings/str_cat.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace tinylm {

TokenArray::TokenArray(std::vector<int32_t> ids) {
  auto owned = std::make_shared<std::vector<int32_t>>(std::move(ids));
  data_ = owned->data();
  size_ = static_cast<int64_t>(owned->size());
  width_ = 4;
  owner_ = std::move(owned);
}

TokenArray TokenArray::View(std::shared_ptr<const void> owner, const void* data, int64_t size, int width,
                            int64_t bound, std::string source) {
  if (width != 1 && width != 2 && width != 4) throw std::invalid_argument(absl::StrCat("token width ", width));
  TokenArray a;
  a.owner_ = std::move(owner);
  a.data_ = data;
  a.size_ = size;
  a.width_ = width;
  a.bound_ = bound;
  a.mapped_ = true;
  a.source_ = std::move(source);
  return a;
}

void TokenArray::Read(int64_t offset, int64_t n, int32_t* out) const {
  if (offset < 0 || n < 0 || offset > size_ - n)
    throw std::out_of_range(absl::StrCat("tokens [", offset, ", ", offset + n, ") of ", size_));
  switch (width_) {
    case 1: {
      const uint8_t* p = static_cast<const uint8_t*>(data_) + offset;
      for (int64_t i = 0; i < n; ++i) out[i] = p[i];
      break;
    }
    case 2: {
      const uint16_t* p = static_cast<const uint16_t*>(data_) + offset;
      for (int64_t i = 0; i < n; ++i) out[i] = p[i];
      break;
    }
    default:
      std::memcpy(out, static_cast<const int32_t*>(data_) + offset, n * sizeof(int32_t));
  }
  if (bound_ > 0) {
    int32_t worst = 0;  // one pass, vectorised; the error path finds the culprit
    for (int64_t i = 0; i < n; ++i) worst = std::max(worst, out[i] < 0 ? INT32_MAX : out[i]);
    if (worst >= bound_)
      for (int64_t i = 0; i < n; ++i)
        if (out[i] < 0 || out[i] >= bound_)
          throw std::runtime_error(absl::StrCat(source_, ": token id ", out[i], " at position ", offset + i,
                                                " is outside the vocabulary of ", bound_, " (damaged token cache: delete it)"));
  }
}

std::vector<int32_t> TokenArray::ToVector() const {
  std::vector<int32_t> v(size_);
  Read(0, size_, v.data());
  return v;
}

}  // namespace tinylm
