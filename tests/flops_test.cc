// FLOP accounting: exact for a matmul, and for a whole transformer the matmuls (counted by hand
// from the architecture) plus a small share for norms, softmax and activations.
#include <gtest/gtest.h>

#include "tinylm/layers/linear.h"
#include "tinylm/model/flops.h"

namespace tinylm::testing {
namespace {

TEST(Flops, LinearIsTwoMultiplyAddsPerWeightAndRow) {
  ParamStore s;
  Linear l(s, "l", 16, 24, /*bias=*/true);
  s.Allocate(1);
  Context ctx(1, 1);
  EXPECT_EQ(l.ForwardFlops(), 0.0) << "nothing run yet";
  l.Forward(ctx, Tensor::Zeros({3, 5, 16}), Mode::kEval);
  EXPECT_DOUBLE_EQ(l.ForwardFlops(), 15.0 * 24 * (2 * 16 + 1));
}

TEST(Flops, TransformerIsItsMatmulsPlusAttentionPlusLittle) {
  proto::TransformerConfig c;  // d 128, 5 blocks, 4 heads, SwiGLU 336, vocab 256, tied
  c.set_tie_embeddings(true);
  auto model = BuildTransformer(c);
  Context ctx(1, 1);
  const int64_t d = 128, f = 336, v = 256, layers = 5, heads = 4, hd = 32;
  for (int64_t t : {16, 256}) {
    const ModelFlops m = CountModelFlops(ctx, *model, 2, t);
    const double per_token_matmul = layers * (2.0 * d * 3 * d + 2.0 * d * d + 2.0 * d * 2 * f + 2.0 * f * d) + 2.0 * d * v;
    const double attention = layers * heads * (t * (t + 1) / 2.0) * 4.0 * hd / t;  // q.k and p.v, causal
    const double matmul = per_token_matmul + attention;
    EXPECT_GE(m.forward_per_token(), matmul) << "t " << t;
    EXPECT_LE(m.forward_per_token(), 1.06 * matmul) << "t " << t << ": elementwise work is a few percent";
    EXPECT_GT(m.training_per_token(), 3.0 * m.forward_per_token());
    EXPECT_LT(m.training_per_token(), 3.0 * m.forward_per_token() + 8.0 * v);
    EXPECT_DOUBLE_EQ(CountModelFlops(ctx, *model, 4, t).forward, 2 * m.forward) << "sequences are independent";
  }
}

}  // namespace
}  // namespace tinylm::testing
