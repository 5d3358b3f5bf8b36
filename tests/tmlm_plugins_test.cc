// TinyMemoryLM's plugins: hybrid tokenizer, word boosting, response-start weighting, replay.
#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "temp_dir.h"
#include "tinylm/model/checkpoint.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/plugins/plugin_manager.h"
#include "tinylm/tensors/rng.h"
#include "tinylm/training/trainer.h"

namespace tinylm::testing {
namespace {

// Builds a plugin component from its spec text, e.g. "[tinylm.plugins.hybrid] { vocab_size: 300 }".
template <typename SpecMsg>
struct Component {
  SpecMsg spec;
  const google::protobuf::Message* config = nullptr;
  std::string extension;
  explicit Component(const std::string& text) {
    PluginManager::Global().LoadAll(nullptr);
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
    const auto* ext = SetExtension(spec);
    extension = ext->full_name();
    config = &spec.GetReflection()->GetMessage(spec, ext);
  }
};

std::unique_ptr<Tokenizer> Hybrid(const std::string& cfg, const std::vector<Document>& corpus) {
  Component<proto::TokenizerSpec> c("[tinylm.plugins.hybrid] { " + cfg + " }");
  const auto* e = PluginManager::Global().FindTokenizer(c.extension);
  return PluginManager::Global().MakeTokenizer(*e, *c.config, {&corpus, 0});
}

std::vector<Document> Corpus() {
  return {{"", TinyStories(200)}, {"", "The caf\xc3\xa9 was closed \xe2\x80\x94 Lily didn't mind."}};
}

TEST(HybridTokenizer, VocabularyIsBytesSpecialsCharsAndFrequentWords) {
  // 256 bytes + 4 specials + 2 multi-byte characters = 262; the rest are words.
  auto tok = Hybrid("vocab_size: 280", Corpus());
  EXPECT_EQ(tok->vocab_size(), 280);
  // The vocabulary is "up to" the target: a small corpus has fewer words than slots.
  EXPECT_LT(Hybrid("vocab_size: 2111", Corpus())->vocab_size(), 2111);
  const int32_t eot = tok->SpecialId("<|endoftext|>");
  EXPECT_EQ(eot, 256);
  EXPECT_EQ(tok->SpecialId("<|assistant|>"), 258);
  EXPECT_EQ(tok->TokenBytes(eot), 0);
  // Frequent words are single tokens, with and without the leading space.
  EXPECT_EQ(tok->Encode(" upon").size(), 1u);
  EXPECT_EQ(tok->Encode("Once").size(), 1u);
  const std::vector<int32_t> ids = tok->Encode(" the");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(tok->TokenChars(ids[0]), 4);
  EXPECT_EQ(tok->TokenBytes(ids[0]), 4);
  // Unknown words fall back to characters; multi-byte characters seen in training are one token.
  EXPECT_EQ(tok->Encode(" zebra").size(), 6u);
  EXPECT_EQ(tok->Encode("\xc3\xa9").size(), 1u);
  EXPECT_EQ(tok->TokenChars(tok->Encode("\xc3\xa9")[0]), 1);
  EXPECT_EQ(tok->Encode("\xc3\xb1").size(), 2u);  // unseen character: its bytes
  EXPECT_THROW(Hybrid("vocab_size: 261", Corpus()), std::invalid_argument);  // no room for the chars
}

TEST(HybridTokenizer, AnyInputRoundTrips) {
  auto tok = Hybrid("vocab_size: 400", Corpus());
  Rng rng{42, 0, 0};
  const std::vector<std::string> alphabet = {"a", "b", "Lily", " ", "  ", "'", "don't", "\n", ".", "\xc3\xa9",
                                             "\xe2\x80\x94", "\xf0\x9f\x98\x80", "<|end|>", "Z", "9"};
  for (int trial = 0; trial < 400; ++trial) {
    std::string text;
    const int n = static_cast<int>(rng.NextBelow(40));
    for (int i = 0; i < n; ++i) {
      if (trial % 2) text += static_cast<char>(rng.NextBelow(256));  // random bytes, often invalid UTF-8
      else text += alphabet[rng.NextBelow(alphabet.size())];
    }
    ASSERT_EQ(tok->Decode(tok->Encode(text)), text) << "trial " << trial;
  }
}

TEST(HybridTokenizer, TrainingIsDeterministicAndStateRoundTrips) {
  auto a = Hybrid("vocab_size: 285", Corpus());
  auto b = Hybrid("vocab_size: 285", Corpus());
  EXPECT_EQ(a->Save(), b->Save());
  auto back = LoadTokenizer(a->Save());
  EXPECT_EQ(back->vocab_size(), 285);
  const std::string text = TinyStories(5, 2) + " caf\xc3\xa9";
  EXPECT_EQ(back->Encode(text), a->Encode(text));
  for (int32_t id = 0; id < 285; ++id) EXPECT_EQ(back->TokenChars(id), a->TokenChars(id));
  // Compresses: fewer tokens than bytes on story text.
  EXPECT_LT(a->Encode(text).size() * 2, text.size());
}

Batch MakeBatch(const std::vector<int32_t>& targets, int64_t rows) {
  const int64_t t = static_cast<int64_t>(targets.size()) / rows;
  Batch b{Tensor::Empty({rows, t}, DType::kS32), Tensor::Empty({rows, t}, DType::kS32), Tensor::Empty({rows, t})};
  for (size_t i = 0; i < targets.size(); ++i) b.targets.s32()[i] = b.inputs.s32()[i] = targets[i];
  b.weights.Fill(1.0f);
  return b;
}

TEST(WordBoost, MultiCharacterTargetsWeighOnePlusBeta) {
  auto tok = Hybrid("vocab_size: 280", Corpus());
  Component<proto::LossWeightingSpec> c("[tinylm.plugins.word_boost] { beta: 1.5 }");
  auto w = PluginManager::Global().MakeWeighting(*PluginManager::Global().FindWeighting(c.extension), *c.config,
                                                  {tok.get(), false});
  std::vector<int32_t> y = tok->Encode(" upon .");  // word, space byte, '.' byte
  ASSERT_EQ(y.size(), 3u);
  Batch b = MakeBatch(y, 1);
  b.weights.f32()[2] = 0.0f;  // masked stays masked
  w->Apply(b, b.weights);
  EXPECT_FLOAT_EQ(b.weights.f32()[0], 2.5f);
  EXPECT_FLOAT_EQ(b.weights.f32()[1], 1.0f);
  EXPECT_FLOAT_EQ(b.weights.f32()[2], 0.0f);
}

TEST(ResponseStart, BoostsTheFirstKResponseTokens) {
  for (const char* decay : {"LINEAR", "STEP"}) {
    Component<proto::LossWeightingSpec> c(std::string("[tinylm.plugins.response_start] { gamma: 1 k: 2 decay: ") + decay + " }");
    auto w = PluginManager::Global().MakeWeighting(*PluginManager::Global().FindWeighting(c.extension), *c.config,
                                                    {nullptr, true});
    Batch b = MakeBatch(std::vector<int32_t>(16, 1), 2);
    const float mask[16] = {0, 0, 1, 1, 1, 0, 1, 1, /*row 2*/ 1, 1, 1, 1, 0, 0, 0, 0};
    std::memcpy(b.weights.f32(), mask, sizeof mask);
    w->Apply(b, b.weights);
    const bool linear = std::string(decay) == "LINEAR";
    const std::vector<float> want = linear ? std::vector<float>{0, 0, 2, 1.5f, 1, 0, 2, 1.5f, 2, 1.5f, 1, 1, 0, 0, 0, 0}
                                           : std::vector<float>{0, 0, 2, 2, 1, 0, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0};
    for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(b.weights.f32()[i], want[i]) << decay << " " << i;
    EXPECT_THROW(PluginManager::Global().MakeWeighting(*PluginManager::Global().FindWeighting(c.extension), *c.config,
                                                       {nullptr, false}),
                 std::invalid_argument);  // pretraining stage: refused
  }
}

TEST(PretrainReplay, LastRowsBecomePretrainingWindowsWithWeightOne) {
  TokenStream s;
  std::vector<int32_t> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(1000 + i);
  s.tokens = std::move(ids);
  Component<proto::DataMixerSpec> c("[tinylm.plugins.pretrain_replay] { fraction: 0.25 }");
  auto m = PluginManager::Global().MakeMixer(*PluginManager::Global().FindMixer(c.extension), *c.config, {&s, 8});
  Batch b = MakeBatch(std::vector<int32_t>(32, 7), 4);
  b.weights.Fill(0.0f);
  m->Mix(3, 5, &b);
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 8; ++i) EXPECT_EQ(b.inputs.s32()[r * 8 + i], 7);  // untouched
  for (int i = 0; i < 8; ++i) {
    EXPECT_GE(b.inputs.s32()[24 + i], 1000);
    EXPECT_EQ(b.targets.s32()[24 + i], b.inputs.s32()[24 + i] + 1);  // next token of the stream
    EXPECT_EQ(b.weights.f32()[24 + i], 1.0f);
  }
  Batch again = MakeBatch(std::vector<int32_t>(32, 7), 4);
  m->Mix(3, 5, &again);
  EXPECT_EQ(0, std::memcmp(b.inputs.raw(), again.inputs.raw(), b.inputs.bytes()));  // pure function of (seed, step)
}

// The whole TinyMemoryLM pipeline at toy size: hybrid tokens, pretrain with word boosting, then
// SFT with response-start weighting and replay; resumed mid-SFT it continues bit-exactly.
TEST(TmlmPipeline, TwoStagesWithEveryNoveltyResumeBitExactly) {
  TempDir dir;
  dir.Write("train.txt", TinyStories(80));
  dir.Write("val.txt", TinyStories(12, 1));
  std::string pairs;
  for (int i = 0; i < 30; ++i)
    pairs += "{\"text\": \"Write a fable about fox " + std::to_string(i) + ".<|story|>Fox " + std::to_string(i) +
             " was kind to the little bird and they played all day.\"}\n";
  dir.Write("pairs.jsonl", pairs);
  const std::string spec = dir.Write("spec.pbtxt", R"(name: "toy_tmlm"
seeds: [1]
plugins: ["hybrid_tokenizer", "word_boost", "response_start", "pretrain_replay"]
tokenizer { [tinylm.plugins.hybrid] { vocab_size: 280 } }
model {
  d_model: 16
  context: 64
  block { count: 1
    layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 qk_norm: true rope {} } } } }
    layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 16 } } } } }
  final_norm { rmsnorm {} }
}
data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { tokens: 1024 batch_size: 4 seq_len: 16 loss_weighting { [tinylm.plugins.word_boost] { beta: 1 } } }
stages {
  name: "sft" kind: SFT tokens: 2048 batch_size: 4 seq_len: 64
  data { train { path: "pairs.jsonl" format: PROMPT_RESPONSE field: "text" separator: "<|story|>" } validation_fraction: 0.2 }
  loss_weighting { [tinylm.plugins.word_boost] { beta: 1 } }
  loss_weighting { [tinylm.plugins.response_start] { gamma: 1 k: 4 } }
  mixer { [tinylm.plugins.pretrain_replay] { fraction: 0.25 } }
}
eval { interval_steps: 0 max_tokens: 256 sample_tokens: 8 log_interval_steps: 1 checkpoint_interval_steps: 3 }
)");
  const Experiment e = PrepareExperiment(LoadSpec(spec), false, dir.path());
  EXPECT_EQ(e.tokenizer->vocab_size(), 280);
  EXPECT_EQ(e.stages[1].train_documents, 24);
  RunOptions o;
  o.seed = 1;
  o.threads = 2;
  o.dir = dir.path() + "/full";
  const proto::RunSummary full = TrainRun(e, o);
  EXPECT_GT(full.val_loss(), 0);
  EXPECT_NE(full.pretrain_val_bpb(), full.val_bpb());
  RunOptions k = o;
  k.dir = dir.path() + "/killed";
  k.stop_after_steps = 16 + 5;  // 16 pretraining steps, then killed in SFT after its checkpoint at SFT step 3
  TrainRun(e, k);
  ASSERT_FALSE(std::filesystem::exists(k.dir + "/summary.json"));  // really stopped
  const auto h = ReadCheckpointHeader(k.dir + "/checkpoint.bin");
  EXPECT_EQ(h.stage(), 1);
  EXPECT_EQ(h.stage_step(), 3);
  k.stop_after_steps = -1;
  k.resume = true;
  const proto::RunSummary resumed = TrainRun(e, k);
  EXPECT_EQ(full.val_loss(), resumed.val_loss());
  EXPECT_EQ(full.pretrain_val_bpb(), resumed.pretrain_val_bpb());
}

}  // namespace
}  // namespace tinylm::testing
