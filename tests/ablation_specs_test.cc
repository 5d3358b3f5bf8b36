// Every spec in ablations/ loads (syntax, base chains, plugin configs and their checks) and,
// where the vocabulary is known without training a tokenizer, builds in both arms. The
// specs that reproduce a published system keep its exact parameter count.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "tinylm/data/tokenizer.h"
#include "tinylm/model/model.h"
#include "tinylm/plugins/plugin_manager.h"
#include "tinylm/experiments/spec.h"

namespace tinylm::testing {
namespace {

// Vocabulary of the spec's tokenizer when the spec fixes it: bytes (256 + specials) or a
// SentencePiece vocab_size; 0 for tokenizers whose size depends on the data (hybrid).
int64_t KnownVocab(const proto::ExperimentSpec& spec) {
  const proto::TokenizerSpec& t = spec.tokenizer();
  if (t.has_bytes() || t.ByteSizeLong() == 0) return 256 + t.bytes().special_size();
  const auto* ext = SetExtension(t);
  if (ext && ext->full_name() == "tinylm.plugins.sentencepiece") {
    const auto& cfg = t.GetReflection()->GetMessage(t, ext);
    return cfg.GetReflection()->GetInt32(cfg, cfg.GetDescriptor()->FindFieldByName("vocab_size"));
  }
  if (ext && ext->full_name() == "tinylm.plugins.byte_chunks") return 258;
  return 0;
}

// The byte-pooling chunk tokenizer of the spec (its layers need its chunk size), or null.
std::unique_ptr<Tokenizer> ChunkTokenizerOf(const proto::ExperimentSpec& spec) {
  const proto::TokenizerSpec& t = spec.tokenizer();
  const auto* ext = t.ByteSizeLong() ? SetExtension(t) : nullptr;
  if (!ext || ext->full_name() != "tinylm.plugins.byte_chunks") return nullptr;
  const auto& cfg = t.GetReflection()->GetMessage(t, ext);
  const int chunk = cfg.GetReflection()->GetInt32(cfg, cfg.GetDescriptor()->FindFieldByName("chunk_bytes"));
  return LoadTokenizer("byte_chunks " + std::to_string(chunk) + " 0");
}

TEST(AblationSpecs, EveryFileLoadsBuildsAndKeepsItsCount) {
  // Variant parameter counts of the seed-system reproductions (seed_systems.md).
  const std::map<std::string, int64_t> exact = {
      {"transformer_1m", 1007296},        {"micromixer_1m", 967584},         {"micromixer_100k", 136908},
      {"micromixer_300k", 331680},       {"micromixer_500k", 557328},       {"hypermixing_vs_attention", 967686},
      {"delta_lm_284k", 284184},         {"delta_lm_1m", 1092632},          {"delta_option_b", 284184},
      {"delta_option_b_glorot", 284184}, {"delta_option_c", 284184},        {"delta_option_c_glorot", 284184},
      {"delta_vs_attention", 284160},    {"delta_option_c_vs_attention", 284160}, {"transformer_1m_bitlinear", 1007296},
      {"tiny_tiny_stories", 998784},     {"micromixer_bitlinear", 965184},  {"tts_spm_vs_byte", 1006976},
      {"tts_bitlinear_off", 998784},     {"tts_act_quant_off", 998784},
      // Super Tiny Language Models at ~1M (docs/results/stlm.md): byte pooling and its variants,
      // the token-level baseline matched to it.
      {"stlm_byte_pool_1m", 1010112},    {"stlm_mean_masked", 1010112},     {"stlm_no_aux", 1010112},
      {"stlm_ffn_sharing", 999872},      {"stlm_token_1m", 1010816},        {"stlm_untied", 1141888}};
  int files = 0;
  std::map<std::string, bool> seen;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(TINYLM_SOURCE_DIR) + "/ablations")) {
    if (entry.path().extension() != ".pbtxt") continue;
    ++files;
    const std::string name = entry.path().stem().string();
    SCOPED_TRACE(name);
    ResolvedSpec rs;
    ASSERT_NO_THROW(rs = LoadSpec(entry.path().string()));
    std::vector<const proto::ExperimentSpec*> arms = {&rs.variant()};
    if (rs.has_baseline()) arms.push_back(&rs.baseline());
    for (const proto::ExperimentSpec* arm : arms) {
      const int64_t vocab = KnownVocab(*arm);
      if (vocab == 0) continue;
      std::unique_ptr<LanguageModel> model;
      const std::unique_ptr<Tokenizer> chunks = ChunkTokenizerOf(*arm);
      ASSERT_NO_THROW(model = BuildModel(arm->model(), vocab, chunks.get()));
      if (arm == &rs.variant() && exact.count(name)) {
        EXPECT_EQ(model->NumParams(), exact.at(name));
        seen[name] = true;
      }
    }
  }
  EXPECT_GE(files, static_cast<int>(exact.size()));
  EXPECT_EQ(seen.size(), exact.size()) << "a spec with an exact count is missing or its vocabulary is not fixed";
}

}  // namespace
}  // namespace tinylm::testing
