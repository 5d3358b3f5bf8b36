// A tokenizer's saved state as stored in checkpoints and packed model files, read back by
// LoadTokenizer (the byte tokenizer or the plugin whose state tag it starts with), then used.
// Input: the saved state.
#include <cstdint>
#include <exception>
#include <string>

#include "fuzz_support.h"
#include "tinylm/data/tokenizer.h"
#include "tinylm/plugins/plugin_manager.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tinylm;
  static const bool loaded = [] {
    for (const char* p : {"hybrid_tokenizer", "sentencepiece_tokenizer", "byte_pooling"}) PluginManager::Global().Load(p);
    return true;
  }();
  (void)loaded;
  try {
    const std::unique_ptr<Tokenizer> tok = LoadTokenizer(std::string(reinterpret_cast<const char*>(data), size));
    const int64_t vocab = tok->vocab_size();
    const std::vector<int32_t> ids = tok->Encode("Once upon a time, Lily found a ball. <|endoftext|> é 🙂");
    for (int32_t id : ids)
      if (id < 0 || id >= vocab) __builtin_trap();
    tok->Decode(ids);
    std::vector<int32_t> all;
    for (int32_t id = -2; id < vocab + 2 && id < 4096; ++id) all.push_back(id);
    tok->Decode(all);
    for (int32_t id = 0; id < vocab && id < 4096; ++id) tok->TokenBytes(id), tok->TokenChars(id);
    tok->Save();
  } catch (const std::exception&) {
  }
  return 0;
}
