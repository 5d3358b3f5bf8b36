// The speed comparison's statistics (exact Mann-Whitney U) and a comparison of two real arms.
#include <gtest/gtest.h>

#include "temp_dir.h"
#include "tinylm/experiments/speed.h"

namespace tinylm::testing {
namespace {

TEST(MannWhitney, ExactTwoSidedPValues) {
  // Completely separated samples: U = 0 is 1 of C(n+m, n) arrangements, doubled (two-sided).
  EXPECT_NEAR(MannWhitneyP({1, 2, 3}, {4, 5, 6}), 2.0 / 20, 1e-12);
  EXPECT_NEAR(MannWhitneyP({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5}), 2.0 / 252, 1e-12);
  // U = 1 with n = m = 3: arrangements with U <= 1 are 2 of 20.
  EXPECT_NEAR(MannWhitneyP({1, 2, 4}, {3, 5, 6}), 4.0 / 20, 1e-12);
  // Interleaved samples: no evidence.
  EXPECT_DOUBLE_EQ(MannWhitneyP({1, 3, 5, 7}, {2, 4, 6, 8}), MannWhitneyP({2, 4, 6, 8}, {1, 3, 5, 7}));
  EXPECT_GT(MannWhitneyP({1, 3, 5, 7}, {2, 4, 6, 8}), 0.5);
  EXPECT_EQ(MannWhitneyP({}, {1, 2}), 1.0);
}

TEST(MannWhitney, NormalApproximationAgreesWithExactForLargerSamples) {
  // 12 vs 12 with a shift: exact, then the same with a tie (forces the approximation).
  std::vector<double> a, b;
  for (int i = 0; i < 12; ++i) a.push_back(i), b.push_back(i + 4.5);
  const double exact = MannWhitneyP(a, b);
  a[11] = b[6];  // a tie (10.5): U moves by only one half
  const double approx = MannWhitneyP(a, b);
  EXPECT_LT(exact, 0.05);
  EXPECT_NEAR(approx, exact, 0.25 * exact) << "exact " << exact;
}

constexpr char kBase[] = R"(name: "speed_base"
seeds: [1]
model {
  d_model: 16
  context: 32
  block {
    count: 1
    layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 rope {} } } } }
    layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } }
  }
  final_norm { rmsnorm {} }
}
data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { tokens: 1024 batch_size: 4 seq_len: 16 }
)";

TEST(SpeedComparison, TimesBothArmsAndFindsAFourTimesWiderModelSlower) {
  TempDir dir;
  dir.Write("train.txt", TinyStories(60));
  dir.Write("val.txt", TinyStories(10, 1));
  dir.Write("base.pbtxt", kBase);
  const std::string variant = dir.Write("wide.pbtxt", "base: \"base.pbtxt\"\nname: \"wide\"\nmodel { d_model: 256 }\n");
  const ResolvedSpec rs = LoadSpec(variant);
  const Experiment b = PrepareExperiment(rs, true, dir.path()), v = PrepareExperiment(rs, false, dir.path());
  Context ctx(1, 1);
  const SpeedComparison c = CompareSpeed(ctx, b, v, /*rounds=*/6, /*steps=*/2, /*gen_tokens=*/8);
  ASSERT_EQ(c.figures.size(), 3u);
  for (const SpeedFigure& f : c.figures) {
    ASSERT_EQ(f.baseline.size(), 6u) << f.name;
    ASSERT_EQ(f.variant.size(), 6u) << f.name;
  }
  // 16x the matmul work per token: the training step is much slower, unmistakably.
  EXPECT_LT(c.figures[0].ratio(), 0.5);
  EXPECT_LT(c.figures[0].p(), 0.05);
  const std::string table = SpeedTable(c);
  EXPECT_NE(table.find("| training step |"), std::string::npos) << table;
  EXPECT_NE(table.find("slower"), std::string::npos) << table;
}

}  // namespace
}  // namespace tinylm::testing
