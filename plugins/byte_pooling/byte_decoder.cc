// The byte decoder (upstream ByteLevelDecoder): chunk vectors [B, S, d_model] -> logits
// [B, S*C, vocab] for the C bytes of each position's next chunk, predicted in parallel.
#include <stdexcept>

#include "byte_stack.h"
#include "tinylm/plugins/plugin.h"

namespace tinylm::byte_pooling {
namespace {

class ByteDecoder : public ByteStack {
 public:
  ByteDecoder(const LayerBuildContext& ctx, const plugins::BytePoolDecoderConfig& c)
      : ByteStack("byte_pool_decoder", ctx, c.heads(), c.norm_eps(), c.ffn_residual()),
        chunk_(ctx.tokenizer ? ctx.tokenizer->group_size() : 1),
        dim_(c.byte_dim()),
        twice_(c.position() == plugins::BytePoolDecoderConfig::TWICE_X_PLUS_P) {
    if (chunk_ < 2)
      throw std::invalid_argument("needs a tokenizer that groups bytes into chunks ([tinylm.plugins.byte_chunks])");
    const int64_t in = ctx.in_dim ? ctx.in_dim : ctx.d_model;
    vocab_ = ctx.out_dim ? ctx.out_dim : ctx.vocab;
    projection_ = DeclareLinear("projection", in, chunk_ * dim_, false, ctx.init_std);
    position_ = Declare("pos_encoder.pe.weight", {chunk_, dim_}, Init::Normal(ctx.init_std), true);
    for (int i = 0; i < c.blocks(); ++i) blocks_.push_back(DeclareBlock(i, dim_, dim_, c.ffn(), ctx.init_std));
    lm_head_ = DeclareLinear("lm_head", dim_, vocab_, false, ctx.init_std);
  }

  Shape OutputShape(const Shape& in) const override { return {in[0], in[1] * chunk_, vocab_}; }

 protected:
  Var Build(Graph& g, Var x) override {
    const int64_t b = x.dim(0), s = x.dim(1);
    Var y = fn::Reshape(fn::Linear(x, projection_), {b * s, chunk_, dim_});
    const Var p = g.Parameter(position_);
    y = twice_ ? y + (y + p) : y + p;  // upstream: x + pos(x), and pos(x) is already x + P
    for (const ByteBlockParams& blk : blocks_) y = Block(y, blk);
    return fn::Reshape(fn::Linear(y, lm_head_), {b, s * chunk_, vocab_});
  }

 private:
  int64_t chunk_, dim_, vocab_ = 0;
  bool twice_;
  LinearParams projection_, lm_head_;
  Param* position_ = nullptr;
  std::vector<ByteBlockParams> blocks_;
};

}  // namespace

LayerPtr MakeDecoder(const LayerBuildContext& ctx, const plugins::BytePoolDecoderConfig& c) {
  return std::make_unique<ByteDecoder>(ctx, c);
}

}  // namespace tinylm::byte_pooling
