// Token cache files (data/token_cache.h): whatever bytes sit under a cache name are either
// refused with an error naming the file, or map to streams whose every read is in bounds and
// whose every id is below the vocabulary. The key the reader expects is taken from the
// header's own key field, so inputs get past the key check to the layout checks behind it.
#include <cstring>

#include "fuzz_support.h"
#include "tinylm/data/token_cache.h"

using namespace tinylm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  uint64_t key = 0;
  if (size >= 24) std::memcpy(&key, data + 16, 8);
  const std::string path = fuzz::WriteScratch("cache/x.tokens", in);
  try {
    const auto c = ReadTokenCache(path, key, 300);
    if (!c) return 0;
    int32_t window[64];
    for (const TokenStream* s : {&c->train, &c->val}) {
      const int64_t n = s->tokens.size();
      // The first, last and a middle window, as training and evaluation read them.
      for (int64_t at : {int64_t{0}, n / 2, n - 64}) {
        if (at < 0) continue;
        const int64_t len = std::min<int64_t>(64, n - at);
        s->tokens.Read(at, len, window);
        for (int64_t i = 0; i < len; ++i)
          if (window[i] < 0 || window[i] >= 300) __builtin_trap();  // Read must have refused it
      }
    }
  } catch (const std::exception&) {
    // Refused: the expected answer to a damaged file.
  }
  return 0;
}
