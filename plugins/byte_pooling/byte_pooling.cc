// Byte pooling (Super Tiny Language Models) as a plugin: the chunk tokenizer, the byte encoder
// (model.embedding) and the byte decoder (model.head).
#include "byte_stack.h"
#include "chunk_tokenizer.h"
#include "tinylm/plugins/plugin.h"

namespace {

using namespace tinylm;
using namespace tinylm::byte_pooling;

void Register(PluginRegistrar& r) {
  r.AddTokenizer(
      "tinylm.plugins.byte_chunks",
      [](const ConfigMessage& c, const TokenizerBuildContext&) -> std::unique_ptr<Tokenizer> {
        const auto& cfg = static_cast<const plugins::ByteChunksConfig&>(c);
        return std::make_unique<ChunkTokenizer>(cfg.chunk_bytes(), cfg.truncate());
      },
      "byte_chunks",
      [](const std::string& saved) -> std::unique_ptr<Tokenizer> {
        auto t = ChunkTokenizer::Load(saved);
        if (!t) throw std::runtime_error("malformed byte_chunks tokenizer state '" + saved.substr(0, 40) + "'");
        return t;
      },
      [](const ConfigMessage& c) -> std::string {
        const int n = static_cast<const plugins::ByteChunksConfig&>(c).chunk_bytes();
        return n >= 2 && n <= 4096 ? "" : "chunk_bytes: must be in [2, 4096]";
      });
  // Both layers need the model around them (the chunk tokenizer, ids in, logits out), so they are
  // checked inside models by tests/byte_pooling_test.cc rather than by tinylm-plugin-check.
  r.AddLayer(
      "tinylm.plugins.byte_pool_encoder",
      [](const ConfigMessage& c, const LayerBuildContext& ctx) {
        return MakeEncoder(ctx, static_cast<const plugins::BytePoolEncoderConfig&>(c));
      },
      [](const ConfigMessage& c) { return CheckEncoder(static_cast<const plugins::BytePoolEncoderConfig&>(c)); });
  r.AddLayer(
      "tinylm.plugins.byte_pool_decoder",
      [](const ConfigMessage& c, const LayerBuildContext& ctx) {
        return MakeDecoder(ctx, static_cast<const plugins::BytePoolDecoderConfig&>(c));
      },
      [](const ConfigMessage& c) { return CheckDecoder(static_cast<const plugins::BytePoolDecoderConfig&>(c)); });
}

}  // namespace

TINYLM_PLUGIN("byte_pooling", "1.0.0",
              "Super Tiny Language Models' byte pooling: chunk tokenizer, byte encoder and byte decoder", Register)
