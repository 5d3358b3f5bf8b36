// BLiMP: loading the minimal pairs (errors name file, line and field), sentence scoring in
// batches against prefix-by-prefix log-probabilities, ties counted wrong, grouping and the
// Wilson interval.
#include <gtest/gtest.h>

#include <cmath>

#include "temp_dir.h"
#include "small_models.h"
#include "tinylm/data/tokenizer.h"
#include "tinylm/evaluation/blimp.h"
#include "tinylm/model/model.h"

namespace tinylm::testing {
namespace {

std::unique_ptr<LanguageModel> SmallByteModel() { return SmallTransformer(256, 32, 2, 4, 48, 64, 5); }

// log p(text) after the end-of-text byte, one forward per prefix: the naive reference.
double PrefixByPrefix(Context& ctx, LanguageModel& m, const Tokenizer& tok, const std::string& text) {
  std::vector<int32_t> s{tok.SpecialId("<|endoftext|>")};
  for (int32_t id : tok.Encode(text)) s.push_back(id);
  double total = 0;
  for (size_t j = 1; j < s.size(); ++j) {
    Tensor ids = Tensor::Empty({1, static_cast<int64_t>(j)}, DType::kS32);
    for (size_t k = 0; k < j; ++k) ids.s32()[k] = s[k];
    const Tensor logits = m.Forward(ctx, ids, Mode::kEval);
    const float* l = logits.f32() + (j - 1) * 256;
    double sum = 0;
    for (int v = 0; v < 256; ++v) sum += std::exp(static_cast<double>(l[v]));
    total += l[s[j]] - std::log(sum);
  }
  return total;
}

TEST(Blimp, BatchedScoresEqualPrefixByPrefixLogProbabilities) {
  auto m = SmallByteModel();
  ByteTokenizer tok({}, 0);
  Context ctx(2, 1);
  const std::vector<std::string> texts = {"The cat sat.", "A dog ran far away.", "Hi", "The cats sat.",
                                          "Who did she see?"};
  const std::vector<double> batched = SentenceLogProbs(ctx, *m, tok, texts, 3);
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_NEAR(batched[i], PrefixByPrefix(ctx, *m, tok, texts[i]), 2e-4) << texts[i];
  EXPECT_THROW(SentenceLogProbs(ctx, *m, tok, {std::string(80, 'a')}), std::runtime_error);
}

TEST(Blimp, CountsStrictWinsPerPhenomenonFieldAndOverall) {
  auto m = SmallByteModel();
  ByteTokenizer tok({}, 0);
  Context ctx(2, 1);
  const std::vector<BlimpPair> pairs = {
      {"The cat sat.", "The cat sat.", "syntax", "t", "a"},  // a tie: wrong
      {"The cat sat.", "Cat the sat.", "syntax", "t", "a"},
      {"Dogs run.", "Dogs runs.", "morphology", "u", "b"},
      {"Dogs runs.", "Dogs run.", "morphology", "u", "b"}};  // the same pair both ways: one is right
  const std::vector<double> lp = SentenceLogProbs(ctx, *m, tok, {"The cat sat.", "Cat the sat.", "Dogs run.", "Dogs runs."});
  const BlimpResult r = EvaluateBlimp(ctx, *m, tok, pairs, 2);
  ASSERT_EQ(r.phenomena.size(), 2u);
  ASSERT_EQ(r.fields.size(), 2u);
  EXPECT_EQ(r.phenomena[0].name, "a");
  EXPECT_EQ(r.phenomena[0].correct, lp[0] > lp[1] ? 1 : 0);
  EXPECT_EQ(r.phenomena[1].correct, 1);
  EXPECT_EQ(r.fields[0].name, "morphology");
  EXPECT_EQ(r.overall.total, 4);
  EXPECT_EQ(r.overall.correct, r.phenomena[0].correct + r.phenomena[1].correct);
  EXPECT_GT(r.pairs_per_second, 0.0);
}

TEST(Blimp, WilsonInterval) {
  const BlimpScore half{"x", 5, 10};
  EXPECT_NEAR(half.ci_low(), 0.2366, 1e-4);
  EXPECT_NEAR(half.ci_high(), 0.7634, 1e-4);
  const BlimpScore all{"y", 1000, 1000};
  EXPECT_NEAR(all.ci_low(), 0.99617, 1e-4);
  EXPECT_EQ(all.ci_high(), 1.0);
}

TEST(Blimp, LoadsPairsAndNamesTheBadLine) {
  TempDir dir;
  const char* good =
      R"({"sentence_good": "Who should Derek hug?", "sentence_bad": "Who should Derek hug him?", "field": "syntax", "linguistics_term": "island_effects", "UID": "adjunct_island", "pairID": "0"})";
  dir.Write("a.jsonl", std::string(good) + "\n\n" + good + "\n");
  std::vector<BlimpPair> p = LoadBlimp(dir.path());
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].bad, "Who should Derek hug him?");
  EXPECT_EQ(p[0].phenomenon, "adjunct_island");
  EXPECT_EQ(p[0].term, "island_effects");
  dir.Write("b.jsonl", std::string(good) + "\n" + R"({"sentence_good": "x", "field": "syntax"})" + "\n");
  try {
    LoadBlimp(dir.path());
    ADD_FAILURE() << "accepted a pair without sentence_bad";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("b.jsonl:2: field sentence_bad"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LoadBlimp(dir.path() + "/nothing"), std::runtime_error);
}

}  // namespace
}  // namespace tinylm::testing
