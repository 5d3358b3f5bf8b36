#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "tinylm/tensors/ops.h"
#include "tinylm/tensors/rng.h"
#include "tinylm/tensors/tensor.h"
#include "tinylm/tensors/vec_math.h"

namespace tinylm::testing {
namespace {

// The softmaxes and the loss call VecExp on whatever a diverged run produces: it must stay
// accurate on the normal range and map non-finite inputs without undefined behaviour.
TEST(VecExp, AccurateAndDefinedOnNonFiniteInputs) {
  for (float x = -87.0f; x <= 88.5f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    EXPECT_NEAR(VecExp(x), want, 4e-7 * want) << x;
  }
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(VecExp(-inf), 0.0f);
  EXPECT_EQ(VecExp(-100.0f), 0.0f);
  EXPECT_TRUE(std::isinf(VecExp(inf)));
  EXPECT_TRUE(std::isnan(VecExp(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(VecSigmoid(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(VecSigmoid(-inf), 0.0f);
  EXPECT_EQ(VecSigmoid(inf), 1.0f);
}

TEST(Tensor, AlignedAndZeroed) {
  for (int64_t n : {1, 3, 17, 1000}) {
    Tensor t = Tensor::Zeros({n, 3});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
    for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.f32()[i], 0.0f);
  }
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::Zeros({4, 3});
  Tensor row2 = t.Slice0(2, 1);
  row2.Fill(7.0f);
  EXPECT_EQ(t.f32()[6], 7.0f);
  EXPECT_EQ(t.f32()[5], 0.0f);
  Tensor flat = t.Reshape({12});
  EXPECT_EQ(flat.raw(), t.raw());
  EXPECT_THROW(t.Reshape({5}), std::invalid_argument);
  EXPECT_THROW(t.Slice0(3, 2), std::out_of_range);
}

TEST(Tensor, DnnlMemoryWrapsWithoutCopy) {
  Context ctx(1);
  Tensor t = Tensor::Zeros({2, 3, 5});
  dnnl::memory m = t.mem(ctx.engine());
  EXPECT_EQ(m.get_data_handle(), t.raw());
  EXPECT_EQ(t.md().get_size(), t.bytes());
}

TEST(Tensor, Bf16RoundTripAndRounding) {
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.0f)), 1.0f);
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(-2.5f)), -2.5f);
  // 1 + 2^-8 is exactly halfway between two bf16 values; ties go to even (1.0).
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.0f + 1.0f / 256)), 1.0f);
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);
  Tensor b = Tensor::Empty({3}, DType::kBF16);
  b.Fill(0.5f);
  EXPECT_EQ(Bf16ToFloat(b.bf16()[2]), 0.5f);
  EXPECT_EQ(b.bytes(), 6u);
}

// bf16 storage feeds oneDNN matmul directly (AMX/AVX512-BF16 kernels where available).
TEST(Tensor, Bf16MatmulMatchesF32) {
  Context ctx(2);
  const int64_t m = 33, k = 64, n = 17;
  Tensor a = Tensor::Empty({m, k}), b = Tensor::Empty({k, n});
  Tensor a16 = Tensor::Empty({m, k}, DType::kBF16), b16 = Tensor::Empty({k, n}, DType::kBF16);
  for (int64_t i = 0; i < a.numel(); ++i) {
    a16.bf16()[i] = FloatToBf16(CounterUniform(1, 1, i) - 0.5f);
    a.f32()[i] = Bf16ToFloat(a16.bf16()[i]);
  }
  for (int64_t i = 0; i < b.numel(); ++i) {
    b16.bf16()[i] = FloatToBf16(CounterUniform(1, 2, i) - 0.5f);
    b.f32()[i] = Bf16ToFloat(b16.bf16()[i]);
  }
  Tensor c = Tensor::Empty({m, n}), c16 = Tensor::Empty({m, n});
  Matmul(ctx, a, b, c);
  Matmul(ctx, a16, b16, c16);  // bf16 inputs, f32 output
  for (int64_t i = 0; i < c.numel(); ++i) EXPECT_NEAR(c16.f32()[i], c.f32()[i], 1e-4);
}

TEST(Matmul, TransposedViewsAndAccumulate) {
  Context ctx(2);
  const int64_t m = 5, k = 7, n = 3;
  Tensor a = Tensor::Empty({k, m}), b = Tensor::Empty({n, k}), c = Tensor::Empty({m, n});
  for (int64_t i = 0; i < a.numel(); ++i) a.f32()[i] = CounterUniform(2, 1, i);
  for (int64_t i = 0; i < b.numel(); ++i) b.f32()[i] = CounterUniform(2, 2, i);
  c.Fill(1.0f);
  MatmulOptions o;
  o.trans_a = o.trans_b = true;
  o.accumulate = true;
  o.alpha = 0.5f;
  Matmul(ctx, a, b, c, o);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t q = 0; q < k; ++q) s += a.f32()[q * m + i] * b.f32()[j * k + q];
      EXPECT_NEAR(c.f32()[i * n + j], 1.0 + 0.5 * s, 1e-5);
    }
  EXPECT_THROW(Matmul(ctx, a, b, c), std::invalid_argument);  // untransposed shapes mismatch
}

}  // namespace
}  // namespace tinylm::testing
