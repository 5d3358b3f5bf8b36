// Plugin configs as a user writes them into a spec: the body of one in-tree plugin extension
// (`[tinylm.plugins.hypermixing] { <body> }`), parsed against the plugin's own message, then
// everything the plugin validates when its component is built (PrepareExperiment), and for
// models small enough, one real training step at batch 1 through the plugin's code (the
// --dry-run memory probe). Input: the extension's short name on the first line (anything else
// picks one by the first byte), then the config body.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/experiments/memory_estimate.h"
#include "tinylm/experiments/spec.h"

namespace {

// Each extension in the smallest spec that uses it; "@" is where the fuzzed body goes.
struct Slot {
  std::string name, spec;
};

constexpr char kData[] = R"(
data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { tokens: 256 batch_size: 2 seq_len: 16 }
eval { max_tokens: 64 }
)";
constexpr char kSft[] = R"(
data { train { path: "train.txt" } validation { path: "val.txt" } }
tokenizer { bytes { special: ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"] } }
stages { tokens: 256 batch_size: 2 seq_len: 16 }
stages { name: "sft" kind: SFT tokens: 128 batch_size: 2 seq_len: 32
         data { train { path: "chat.jsonl" format: PROMPT_RESPONSE } validation_fraction: 0.25 }
)";
constexpr char kModel[] = R"(
model { d_model: 16 context: 32 final_norm { rmsnorm {} } block { count: 1
  layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 rope {} } } } }
  layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } } } }
)";
constexpr char kByteModel[] = R"(
model { d_model: 16 context: 32 tie_embeddings: false reconstruction_weight: 1
  embedding { [tinylm.plugins.byte_pool_encoder] { byte_dim: 8 heads: 2 block { out: 16 ffn: 16 } } }
  block { count: 1 layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } } }
  head { [tinylm.plugins.byte_pool_decoder] { byte_dim: 8 heads: 2 blocks: 1 ffn: 16 } } }
)";

std::string Replace(std::string text, std::string_view what, std::string_view with) {
  if (const size_t at = text.find(what); at != std::string::npos) text.replace(at, what.size(), with);
  return text;
}

const std::vector<Slot>& Slots() {
  static const std::vector<Slot> slots = [] {
    const std::string model = kModel, data = kData, sft = kSft;
    auto spec = [](std::string plugins, std::string body) {
      return "name: \"fuzz\"\nseeds: [1]\nplugins: [" + plugins + "]\n" + body;
    };
    const std::string mixer_model = Replace(model, "attention { heads: 2 rope {} }", "[tinylm.plugins.hypermixing] { @ }");
    const std::string byte_tokenizer = "tokenizer { [tinylm.plugins.byte_chunks] { chunk_bytes: 4 } }\n";
    return std::vector<Slot>{
        {"hybrid", spec("\"hybrid_tokenizer\"", model + data + "tokenizer { [tinylm.plugins.hybrid] { @ } }")},
        {"sentencepiece", spec("\"sentencepiece_tokenizer\"", model + data + "tokenizer { [tinylm.plugins.sentencepiece] { @ } }")},
        {"byte_chunks", spec("\"byte_pooling\"", kByteModel + data + "tokenizer { [tinylm.plugins.byte_chunks] { @ } }")},
        {"byte_pool_encoder", spec("\"byte_pooling\"", Replace(kByteModel, "byte_dim: 8 heads: 2 block { out: 16 ffn: 16 }", "@") + data + byte_tokenizer)},
        {"byte_pool_decoder", spec("\"byte_pooling\"", Replace(kByteModel, "byte_dim: 8 heads: 2 blocks: 1 ffn: 16", "@") + data + byte_tokenizer)},
        {"hypermixing", spec("\"micromixer\"", mixer_model + data)},
        {"micromixer_rope", spec("\"micromixer\"", Replace(model, "context: 32", "context: 32 embedding_post { [tinylm.plugins.micromixer_rope] { @ } }") + data)},
        {"bitlinear", spec("\"bitnet\"", Replace(model, "swiglu { hidden: 24 }", "swiglu { hidden: 24 projection { [tinylm.plugins.bitlinear] { @ } } }") + data)},
        {"delta_block", spec("\"delta_lm\"", "model { d_model: 16 context: 32 block { count: 2 layer { [tinylm.plugins.delta_block] { @ } } } }" + data)},
        {"records", spec("\"delta_lm\"", model + Replace(data, "seq_len: 16", "seq_len: 16 mixer { [tinylm.plugins.records] { @ } }"))},
        {"word_boost", spec("\"word_boost\"", model + Replace(data, "seq_len: 16", "seq_len: 16 loss_weighting { [tinylm.plugins.word_boost] { @ } }"))},
        {"response_start", spec("\"response_start\"", model + sft + "loss_weighting { [tinylm.plugins.response_start] { @ } } }")},
        {"pretrain_replay", spec("\"pretrain_replay\"", model + sft + "mixer { [tinylm.plugins.pretrain_replay] { @ } } }")},
    };
  }();
  return slots;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tinylm;
  if (size == 0) return 0;
  const auto [name, body] = fuzz::SplitAt({reinterpret_cast<const char*>(data), size}, "\n");
  const std::vector<Slot>& slots = Slots();
  const Slot* slot = &slots[data[0] % slots.size()];
  for (const Slot& s : slots)
    if (name == s.name) slot = &s;
  const std::string path = fuzz::WriteScratch("specs/spec.pbtxt", Replace(slot->spec, "@", body));
  try {
    const ResolvedSpec rs = LoadSpec(path);
    const Experiment e = PrepareExperiment(rs, false, fuzz::DataDir());
    // One training step through the plugin's forward and backward, while it is cheap.
    if (e.params <= 200000) EstimateMemory(e, 1);
  } catch (const std::exception& err) {
    // Refused with a message: the expected answer to a bad config. (To see why a seed input is
    // refused: TINYLM_FUZZ_VERBOSE=1.)
    if (std::getenv("TINYLM_FUZZ_VERBOSE")) std::fprintf(stderr, "%s\n", err.what());
  }
  return 0;
}
