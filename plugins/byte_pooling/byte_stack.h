// What the byte encoder and decoder share: STLM's ByteLevelTransformerBlock,
//   h = x + attn(rmsnorm(x));   y = ffn(rmsnorm(h))   [+ h where the option and widths allow]
// with bidirectional multi-head attention over the bytes of one chunk (no positions inside
// attention; the stacks add learned in-chunk positions first) and a GELU FFN that may change the
// width. Written as forward passes of differentiable ops: backward and decode are derived.
#pragma once
#include <string>
#include <vector>

#include "byte_pooling.pb.h"
#include "tinylm/graph/graph_layer.h"

namespace tinylm::byte_pooling {

struct ByteBlockParams {
  int64_t in = 0, out = 0;
  Param* attn_norm = nullptr;
  LinearParams c_attn, c_proj;  // in -> 3 in (q, k, v), in -> in
  Param* ffn_norm = nullptr;
  LinearParams linear_1, linear_2;  // in -> ffn, ffn -> out
};

// A graph layer made of byte blocks (parameter names follow upstream's module paths).
class ByteStack : public GraphLayer {
 protected:
  ByteStack(std::string type, const LayerBuildContext& ctx, int64_t heads, float eps,
            plugins::FfnResidual residual);
  // Declares block `index`: "<name>.transformer.<index>.{attn_norm,attn.c_attn,...}".
  ByteBlockParams DeclareBlock(int index, int64_t in, int64_t out, int64_t ffn, float init_std);
  // x [N, C, in] -> [N, C, out].
  Var Block(Var x, const ByteBlockParams& p) const;

 private:
  Var BidirectionalAttention(Var x, const ByteBlockParams& p) const;
  int64_t heads_;
  float eps_;
  plugins::FfnResidual residual_;
};

// Semantic checks of the configs (plugin ConfigCheck); "" when fine.
std::string CheckEncoder(const plugins::BytePoolEncoderConfig& c);
std::string CheckDecoder(const plugins::BytePoolDecoderConfig& c);

// The layers (the tokenizer in ctx must group ids: it gives the chunk size).
LayerPtr MakeEncoder(const LayerBuildContext& ctx, const plugins::BytePoolEncoderConfig& c);
LayerPtr MakeDecoder(const LayerBuildContext& ctx, const plugins::BytePoolDecoderConfig& c);

}  // namespace tinylm::byte_pooling
