// The byte encoder (upstream ByteLevelEmbedder): ids [B, S*C] -> chunk vectors [B, S, d_model].
#include <stdexcept>

#include "byte_stack.h"
#include "tinylm/plugins/plugin.h"

namespace tinylm::byte_pooling {
namespace {

class ByteEncoder : public ByteStack {
 public:
  ByteEncoder(const LayerBuildContext& ctx, const plugins::BytePoolEncoderConfig& c)
      : ByteStack("byte_pool_encoder", ctx, c.heads(), c.norm_eps(), c.ffn_residual()),
        chunk_(ctx.tokenizer ? ctx.tokenizer->group_size() : 1),
        vocab_(ctx.vocab),
        masked_(c.pooling() == plugins::BytePoolEncoderConfig::MEAN_MASKED) {
    if (chunk_ < 2)
      throw std::invalid_argument("needs a tokenizer that groups bytes into chunks ([tinylm.plugins.byte_chunks])");
    if (c.block(c.block_size() - 1).out() != ctx.d_model)
      throw std::invalid_argument("block: the last block's out must be d_model (" + std::to_string(ctx.d_model) + ")");
    byte_embedding_ = Declare("byte_token_embedder.weight", {vocab_, c.byte_dim()}, Init::Normal(ctx.init_std), true);
    position_ = Declare("pos_encoder.pe.weight", {chunk_, c.byte_dim()}, Init::Normal(ctx.init_std), true);
    int64_t in = c.byte_dim();
    for (int i = 0; i < c.block_size(); ++i) {
      blocks_.push_back(DeclareBlock(i, in, c.block(i).out(), c.block(i).ffn(), ctx.init_std));
      in = c.block(i).out();
    }
    pad_ = ctx.tokenizer->SpecialId("<|pad|>");
  }

  Shape OutputShape(const Shape& in) const override { return {in[0], in[1] / chunk_, blocks_.back().out}; }

  // Positions are chunks: the state advances by the chunks fed, not by the ids.
  Tensor Step(Context& ctx, const Tensor& ids, int64_t pos, DecodeState* state) override {
    Tensor y = GraphLayer::Step(ctx, ids, pos, state);
    static_cast<GraphDecodeState*>(state)->next = pos + y.dim(1);
    return y;
  }

 protected:
  Var Build(Graph& g, Var ids) override {
    const int64_t b = ids.dim(0), len = ids.dim(1);
    if (len % chunk_ != 0)
      throw std::invalid_argument("byte_pool_encoder: " + std::to_string(len) + " ids are not whole chunks of " +
                                  std::to_string(chunk_));
    const int64_t n = b * (len / chunk_);
    Var x = fn::Reshape(fn::Gather(g.Parameter(byte_embedding_), ids), {n, chunk_, -1});
    x = x + g.Parameter(position_);
    for (const ByteBlockParams& p : blocks_) x = Block(x, p);
    // Mean over the slots of each chunk: all of them (upstream), or the non-padding ones as a
    // [N, 1, C] weight row times the chunk's [C, H] outputs.
    Var pooled;
    if (masked_) {
      Tensor w = Tensor::Empty({n, 1, chunk_});
      const int32_t* id = ids.value().s32();
      for (int64_t i = 0; i < n; ++i) {
        int64_t real = 0;
        for (int64_t k = 0; k < chunk_; ++k) real += id[i * chunk_ + k] != pad_;
        for (int64_t k = 0; k < chunk_; ++k)
          w.f32()[i * chunk_ + k] = id[i * chunk_ + k] != pad_ ? 1.0f / static_cast<float>(real) : 0.0f;
      }
      pooled = fn::Matmul(g.Constant(w), x);
    } else {
      pooled = fn::Mean(x, 1);
    }
    return fn::Reshape(pooled, {b, len / chunk_, -1});
  }

 private:
  int64_t chunk_, vocab_;
  bool masked_;
  int32_t pad_ = -1;
  Param* byte_embedding_ = nullptr;
  Param* position_ = nullptr;
  std::vector<ByteBlockParams> blocks_;
};

}  // namespace

LayerPtr MakeEncoder(const LayerBuildContext& ctx, const plugins::BytePoolEncoderConfig& c) {
  return std::make_unique<ByteEncoder>(ctx, c);
}

}  // namespace tinylm::byte_pooling
