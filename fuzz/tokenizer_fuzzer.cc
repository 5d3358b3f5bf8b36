// Each tokenizer trained on arbitrary documents, then encoding and decoding arbitrary text,
// decoding arbitrary ids, and its saved state loaded back. Input: one byte choosing the
// tokenizer, the training documents (separated by blank lines), "\n#==text==\n", the text to
// encode. Invariants checked (a violation is a bug, reported as a crash): ids in range, and a
// reloaded tokenizer encodes exactly like the original.
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "tinylm/data/data.h"
#include "tinylm/data/tokenizer.h"
#include "tinylm/experiments/spec.h"
#include "tinylm/plugins/plugin_manager.h"

namespace {

// The tokenizer configurations fuzzed, as spec text (its plugin is loaded when parsed).
constexpr const char* kTokenizers[] = {
    R"(tokenizer { bytes { special: ["<|endoftext|>", "<|user|>"] end_of_text_byte: -1 } })",
    R"(plugins: ["hybrid_tokenizer"] tokenizer { [tinylm.plugins.hybrid] { vocab_size: 300 } })",
    R"(plugins: ["sentencepiece_tokenizer"] tokenizer { [tinylm.plugins.sentencepiece] { vocab_size: 64 } })",
    R"(plugins: ["sentencepiece_tokenizer"] tokenizer { [tinylm.plugins.sentencepiece] { vocab_size: 64 model_type: BPE } })",
    R"(plugins: ["byte_pooling"] tokenizer { [tinylm.plugins.byte_chunks] { } })",
};
constexpr int kCount = sizeof(kTokenizers) / sizeof(kTokenizers[0]);

std::unique_ptr<tinylm::Tokenizer> Make(int which, const std::vector<tinylm::Document>& corpus) {
  using namespace tinylm;
  const SpecFile f = ParseSpecText(kTokenizers[which], "fuzz tokenizer");
  const proto::TokenizerSpec& t = f.message.tokenizer();
  if (t.has_bytes())
    return std::make_unique<ByteTokenizer>(std::vector<std::string>(t.bytes().special().begin(), t.bytes().special().end()),
                                           t.bytes().end_of_text_byte());
  const auto* ext = SetExtension(t);
  const auto* entry = PluginManager::Global().FindTokenizer(ext->full_name());
  return PluginManager::Global().MakeTokenizer(*entry, t.GetReflection()->GetMessage(t, ext), {&corpus, 0});
}

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tinylm;
  if (size < 1) return 0;
  const int which = data[0] % kCount;
  const auto [corpus_bytes, text] = fuzz::SplitAt({reinterpret_cast<const char*>(data) + 1, size - 1}, "\n#==text==\n");
  std::vector<Document> corpus;
  std::string_view rest = corpus_bytes;
  while (!rest.empty()) {
    const auto [doc, after] = fuzz::SplitAt(rest, "\n\n");
    corpus.push_back({"", std::string(doc)});
    rest = after;
  }
  std::unique_ptr<Tokenizer> tok;
  try {
    tok = Make(which, corpus);
  } catch (const std::exception&) {
    return 0;  // e.g. too little text to train on: refused with a message
  }
  try {
    const int64_t vocab = tok->vocab_size();
    const std::vector<int32_t> ids = tok->Encode(text);
    for (int32_t id : ids) Check(id >= 0 && id < vocab);
    tok->Decode(ids);
    for (int32_t id : ids) tok->TokenBytes(id), tok->TokenChars(id);
    // Arbitrary ids, some out of range: decoded or refused, never read out of bounds.
    std::vector<int32_t> arbitrary;
    for (size_t i = 0; i + 1 < text.size(); i += 2)
      arbitrary.push_back(static_cast<int32_t>(static_cast<uint8_t>(text[i]) | static_cast<uint8_t>(text[i + 1]) << 8) - 4);
    tok->Decode(arbitrary);
    const std::unique_ptr<Tokenizer> again = LoadTokenizer(tok->Save());
    Check(again->vocab_size() == vocab);
    Check(again->Encode(text) == ids);
  } catch (const std::exception&) {
  }
  return 0;
}
