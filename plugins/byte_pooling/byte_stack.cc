#include "byte_stack.h"

#include <cmath>

namespace tinylm::byte_pooling {

ByteStack::ByteStack(std::string type, const LayerBuildContext& ctx, int64_t heads, float eps,
                     plugins::FfnResidual residual)
    : GraphLayer(std::move(type), ctx), heads_(heads), eps_(eps), residual_(residual) {}

ByteBlockParams ByteStack::DeclareBlock(int index, int64_t in, int64_t out, int64_t ffn, float init_std) {
  const std::string b = "transformer." + std::to_string(index) + ".";
  ByteBlockParams p;
  p.in = in, p.out = out;
  p.attn_norm = Declare(b + "attn_norm.weight", {in}, Init::Constant(1.0f), false);
  p.c_attn = DeclareLinear(b + "attn.c_attn", in, 3 * in, false, init_std);
  p.c_proj = DeclareLinear(b + "attn.c_proj", in, in, false, init_std);
  p.ffn_norm = Declare(b + "ffn_norm.weight", {in}, Init::Constant(1.0f), false);
  p.linear_1 = DeclareLinear(b + "ffn.linear_1", in, ffn, false, init_std);
  p.linear_2 = DeclareLinear(b + "ffn.linear_2", ffn, out, false, init_std);
  return p;
}

// softmax(q k^T / sqrt(hd)) v per head over the C bytes of each chunk, no mask (upstream's SDPA
// with is_causal=False); heads become part of the batch of the products.
Var ByteStack::BidirectionalAttention(Var x, const ByteBlockParams& p) const {
  const int64_t n = x.dim(0), c = x.dim(1), d = p.in, hd = d / heads_;
  const std::vector<Var> qkv = fn::Split(fn::Linear(x, p.c_attn), {d, d, d});
  auto heads = [&](Var t) { return fn::Reshape(fn::Transpose(fn::Reshape(t, {n, c, heads_, hd}), 1, 2), {n * heads_, c, hd}); };
  const Var scores = fn::Scale(fn::Matmul(heads(qkv[0]), heads(qkv[1]), false, true), 1.0f / std::sqrt(static_cast<float>(hd)));
  const Var o = fn::Matmul(fn::Softmax(scores), heads(qkv[2]));
  return fn::Linear(fn::Reshape(fn::Transpose(fn::Reshape(o, {n, heads_, c, hd}), 1, 2), {n, c, d}), p.c_proj);
}

Var ByteStack::Block(Var x, const ByteBlockParams& p) const {
  Graph& g = x.graph();
  const Var h = x + BidirectionalAttention(fn::RmsNorm(x, g.Parameter(p.attn_norm), eps_), p);
  const Var y = fn::Linear(fn::GeluErf(fn::Linear(fn::RmsNorm(h, g.Parameter(p.ffn_norm), eps_), p.linear_1)), p.linear_2);
  const bool residual = residual_ == plugins::FFN_RESIDUAL_WHEN_WIDTH_KEPT && p.in == p.out;
  return residual ? h + y : y;
}

namespace {

std::string CheckBlock(int64_t in, int64_t out, int64_t ffn, int64_t heads, const std::string& where) {
  if (out <= 0) return where + "out: must be positive";
  if (ffn <= 0) return where + "ffn: must be positive";
  if (in % heads != 0) return where + "input width " + std::to_string(in) + " is not divisible by " + std::to_string(heads) + " heads";
  return "";
}

}  // namespace

std::string CheckEncoder(const plugins::BytePoolEncoderConfig& c) {
  if (c.byte_dim() <= 0) return "byte_dim: must be positive";
  if (c.heads() <= 0) return "heads: must be positive";
  if (c.block_size() == 0) return "block: at least one block";
  if (!(c.norm_eps() > 0)) return "norm_eps: must be positive";
  int64_t in = c.byte_dim();
  for (int i = 0; i < c.block_size(); ++i) {
    const std::string err = CheckBlock(in, c.block(i).out(), c.block(i).ffn(), c.heads(), "");
    if (!err.empty()) return "block: block " + std::to_string(i) + ": " + err;
    in = c.block(i).out();
  }
  return "";
}

std::string CheckDecoder(const plugins::BytePoolDecoderConfig& c) {
  if (c.byte_dim() <= 0) return "byte_dim: must be positive";
  if (c.heads() <= 0 || c.byte_dim() % c.heads() != 0) return "heads: must divide byte_dim";
  if (c.blocks() < 0) return "blocks: must not be negative";
  if (c.ffn() <= 0) return "ffn: must be positive";
  if (!(c.norm_eps() > 0)) return "norm_eps: must be positive";
  return "";
}

}  // namespace tinylm::byte_pooling
