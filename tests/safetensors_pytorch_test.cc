// Every seed system leaves tinylm for PyTorch and comes back. A real checkpoint (ablate trains
// the system's own spec from ablations/ briefly, on generated text laid out like
// ../shared/data) is exported with tinylm-export --safetensors; tools/reference_models.py loads
// it into the system's PyTorch reference implementation — the file's names and shapes must be
// the reference's parameters one to one — and its logits must match tinylm's. Then PyTorch
// changes the weights and writes a plain safetensors file (no tinylm metadata), tinylm imports
// it with --like, and the imported checkpoint's logits must match PyTorch's for those weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "ablate_cli.h"
#include "golden_file.h"
#include "tinylm/data/tokenizer.h"
#include "tinylm/model/packed.h"

namespace tinylm::testing {
namespace {

namespace fs = std::filesystem;

// Stories of made-up words (syllables from a fixed generator), so trainable tokenizers find
// thousands of distinct words and pieces.
std::vector<std::string> Stories(int n, uint64_t seed) {
  static const char* syllables[] = {"ka", "lo", "mi", "ten", "ru", "sa", "bel", "do", "fi", "gar", "nu", "po", "qua", "vis", "wen", "zo"};
  std::vector<std::string> out;
  uint64_t state = seed;
  auto next = [&] { return (state = state * 6364136223846793005ULL + 1442695040888963407ULL) >> 33; };
  for (int d = 0; d < n; ++d) {
    std::string text = "Once upon a time, ";
    for (int w = 0; w < 80; ++w) {
      const int syl = 1 + static_cast<int>(next() % 3);
      for (int k = 0; k < syl; ++k) text += syllables[next() % 16];
      text += w % 12 == 11 ? ". " : " ";
    }
    out.push_back(text + "The end.");
  }
  return out;
}

std::string Join(const std::vector<std::string>& docs, const std::string& sep) {
  std::string s;
  for (const auto& d : docs) s += d + sep;
  return s;
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

// The files the seed systems' specs read, under their names in ../shared/data.
void WriteSeedSystemData(TempDir& dir) {
  dir.Write("data/tinystories/ts_v2_train_head.txt", Join(Stories(120, 1), "\n<|endoftext|>\n"));
  dir.Write("data/tinystories/ts_v1_train_head.txt", Join(Stories(120, 2), "\n\n"));
  std::string json = "{\"texts\": [";
  for (const auto& s : Stories(60, 3)) json += (json.back() == '[' ? "" : ", ") + Quoted(s);
  dir.Write("data/tinystories/ts_sample3000.json", json + "]}\n");
  dir.Write("data/tinystories/ts_v1_valid_head.txt", Join(Stories(40, 4), "\n\n"));
  std::string text_format, fables;
  const std::vector<std::string> stories = Stories(60, 5);
  for (size_t i = 0; i < stories.size(); ++i) {
    text_format += "{\"text\": " + Quoted("Write a fable number " + std::to_string(i) + ".<|story|>" + stories[i]) + "}\n";
    fables += "{\"prompt\": " + Quoted("Tell fable " + std::to_string(i)) + ", \"fable\": " + Quoted(stories[i]) + "}\n";
  }
  dir.Write("data/instruct/tf1_en_test500_textformat.jsonl", text_format);
  dir.Write("data/instruct/tf1_en_sample120.jsonl", fables);
  dir.Write("data/blimp/agreement.jsonl",
            "{\"sentence_good\": \"The cats sleep.\", \"sentence_bad\": \"The cats sleeps.\", \"field\": \"morphology\", "
            "\"linguistics_term\": \"agreement\", \"UID\": \"agreement\"}\n");
}

// The q-quantile of |a - b| / max |b|: most logits must agree tightly even where a few may not.
double RelErrQuantile(const Tensor& a, const Tensor& b, double q) {
  double scale = 0;
  for (int64_t i = 0; i < b.numel(); ++i) scale = std::max(scale, static_cast<double>(std::fabs(b.f32()[i])));
  std::vector<double> e(static_cast<size_t>(b.numel()));
  for (int64_t i = 0; i < b.numel(); ++i) e[i] = std::fabs(static_cast<double>(a.f32()[i]) - b.f32()[i]) / scale;
  std::sort(e.begin(), e.end());
  return e[static_cast<size_t>(q * static_cast<double>(e.size() - 1))];
}

struct Logits {
  Tensor ids, values;
};

// The model's logits on two rows of encoded text: 32 positions, or 8 groups for a grouped
// tokenizer (byte pooling: 12 ids per position).
Logits TinylmLogits(const std::string& model_file) {
  const PackedModelFile m = LoadModelFile(model_file);
  const int64_t group = m.tokenizer->group_size(), T = group > 1 ? 8 * group : 32;
  const std::vector<int32_t> ids = m.tokenizer->Encode(Join(Stories(4, 9), "\n"));
  Logits out;
  out.ids = Tensor::Empty({2, T}, DType::kS32);
  for (int64_t i = 0; i < 2 * T; ++i) out.ids.s32()[i] = ids.at(static_cast<size_t>(i % T + (i / T) * 5 * group));
  Context ctx(2, 0);
  out.values = m.model->Forward(ctx, out.ids, Mode::kEval);
  return out;
}

std::string IdsArgument(const Tensor& ids) {
  std::string s;
  for (int64_t i = 0; i < ids.numel(); ++i) s += (i == 0 ? "" : i % ids.shape()[1] == 0 ? "/" : ",") + std::to_string(ids.s32()[i]);
  return s;
}

// PyTorch's logits for `safetensors` on the same ids, and how far the reference itself moves
// when run in float32 instead of float64 (relative to its largest logit).
struct Reference {
  Tensor logits;
  double fp32_spread = 0;
};
Reference ReferenceLogits(const std::string& system, const std::string& safetensors, const Tensor& ids, const std::string& out) {
  const Result r = RunCommand("/usr/bin/python3 " TINYLM_SOURCE_DIR "/tools/reference_models.py logits " + system + " " +
                              safetensors + " " + IdsArgument(ids) + " " + out);
  EXPECT_EQ(r.code, 0) << r.out;
  auto g = ReadGolden(out);
  return {g.at("logits"), g.at("fp32_spread").f32()[0]};
}

// tinylm (fp32) against the float64 reference: within `tolerance`, or — where the reference is
// itself that sensitive to precision (BitNet's rounding boundaries) — within 4x the distance
// between the reference in float32 and in float64. Every logit but the worst 1% within 1e-5 on
// the same terms.
constexpr double kTypicalTolerance = 1e-5;

void ExpectParity(const Tensor& ours, const Reference& ref, double tolerance, const char* what) {
  ASSERT_EQ(ours.shape(), ref.logits.shape()) << what;
  const double max_err = MaxRelErr(ours.f32(), ref.logits.f32(), ref.logits.numel());
  const double typical = RelErrQuantile(ours, ref.logits, 0.99);
  EXPECT_LE(max_err, std::max(tolerance, 4 * ref.fp32_spread)) << what;
  EXPECT_LE(typical, std::max(kTypicalTolerance, 4 * ref.fp32_spread)) << what << ", 99th percentile";
  std::printf("%s: max %.2g, 99%% %.2g against PyTorch (the reference in float32: %.2g)\n", what, max_err, typical,
              ref.fp32_spread);
}

struct System {
  const char* name;
  double tolerance;  // max |tinylm - PyTorch| / max |PyTorch| over the logits
};


class SeedSystemsInPyTorch : public ::testing::TestWithParam<System> {};

TEST_P(SeedSystemsInPyTorch, ExportLoadsInTheReferenceAndImportComesBack) {
  const System sys = GetParam();
  TempDir dir;
  WriteSeedSystemData(dir);
  const std::string d = dir.path();
  const Result trained = RunCommand(std::string(TINYLM_ABLATE_BIN) + " " TINYLM_SOURCE_DIR "/ablations/" + sys.name +
                                    ".pbtxt --tokens 2048 --seeds 1 --speed-rounds 0 --threads 2 --data-dir " + d +
                                    "/data --out " + d + "/out");
  ASSERT_EQ(trained.code, 0) << trained.out;
  std::vector<std::string> checkpoints;
  for (const auto& run : fs::directory_iterator(d + "/out/runs"))
    if (fs::exists(run.path() / "checkpoint.bin")) checkpoints.push_back((run.path() / "checkpoint.bin").string());
  ASSERT_EQ(checkpoints.size(), 1u);
  const std::string checkpoint = checkpoints[0];

  // Out: tinylm's logits = the PyTorch reference's on the exported weights.
  const Result exported = RunCommand(std::string(TINYLM_EXPORT_BIN) + " --safetensors " + checkpoint + " " + d + "/m.safetensors");
  ASSERT_EQ(exported.code, 0) << exported.out;
  const Logits ours = TinylmLogits(checkpoint);
  ExpectParity(ours.values, ReferenceLogits(sys.name, d + "/m.safetensors", ours.ids, d + "/ref.bin"), sys.tolerance,
               "exported logits");

  // Back: the export imports to the same model, bit for bit.
  const Result back = RunCommand(std::string(TINYLM_EXPORT_BIN) + " --import-safetensors " + d + "/m.safetensors " + d + "/back.bin");
  ASSERT_EQ(back.code, 0) << back.out;
  const Logits again = TinylmLogits(d + "/back.bin");
  EXPECT_EQ(MaxRelErr(again.values.f32(), ours.values.f32(), ours.values.numel()), 0.0) << "round trip";

  // Weights changed in PyTorch, written without tinylm metadata, imported with --like.
  const Result perturbed = RunCommand("/usr/bin/python3 " TINYLM_SOURCE_DIR "/tools/reference_models.py perturb " +
                                      std::string(sys.name) + " " + d + "/m.safetensors " + d + "/p.safetensors");
  ASSERT_EQ(perturbed.code, 0) << perturbed.out;
  const Result bare = RunCommand(std::string(TINYLM_EXPORT_BIN) + " --import-safetensors " + d + "/p.safetensors " + d + "/p.bin");
  EXPECT_EQ(bare.code, 1);
  EXPECT_NE(bare.out.find("no tinylm spec and tokenizer in its metadata"), std::string::npos) << bare.out;
  const Result imported = RunCommand(std::string(TINYLM_EXPORT_BIN) + " --import-safetensors " + d + "/p.safetensors " + d +
                                     "/p.bin --like " + checkpoint);
  ASSERT_EQ(imported.code, 0) << imported.out;
  const Logits changed = TinylmLogits(d + "/p.bin");
  EXPECT_GT(MaxRelErr(changed.values.f32(), ours.values.f32(), ours.values.numel()), 1e-3) << "the weights did change";
  ExpectParity(changed.values, ReferenceLogits(sys.name, d + "/p.safetensors", changed.ids, d + "/ref_p.bin"), sys.tolerance,
               "imported logits");
}

INSTANTIATE_TEST_SUITE_P(, SeedSystemsInPyTorch,
                         ::testing::Values(System{"tmlm_haiku", 1e-5}, System{"micromixer_1m", 1e-5},
                                           System{"delta_lm_284k", 1e-5}, System{"tiny_tiny_stories", 1e-5},
                                           System{"stlm_byte_pool_1m", 1e-5}),
                         [](const auto& info) { return std::string(info.param.name); });

// Import refuses weights that do not fit the model, naming the tensor.
TEST(SafetensorsImport, WeightsThatDoNotFitTheModelAreRefused) {
  // (Covered per system above for the good path; here the refusals, on the smallest system.)
  TempDir dir;
  WriteSeedSystemData(dir);
  const std::string d = dir.path();
  ASSERT_EQ(RunCommand(std::string(TINYLM_ABLATE_BIN) + " " TINYLM_SOURCE_DIR "/ablations/delta_lm_284k.pbtxt --tokens 1024 "
                       "--seeds 1 --speed-rounds 0 --threads 2 --data-dir " + d + "/data --out " + d + "/out").code, 0);
  std::string checkpoint;
  for (const auto& run : fs::directory_iterator(d + "/out/runs"))
    if (fs::exists(run.path() / "checkpoint.bin")) checkpoint = (run.path() / "checkpoint.bin").string();
  ASSERT_EQ(RunCommand(std::string(TINYLM_EXPORT_BIN) + " --safetensors " + checkpoint + " " + d + "/m.safetensors").code, 0);
  // Python edits of the export: a tensor dropped, one added, one reshaped, one made int64.
  const std::string edit = "/usr/bin/python3 -c \"import sys; sys.path.insert(0, '" TINYLM_SOURCE_DIR "/tools'); import safetensors_io as s, torch; "
                           "t, m = s.read('" + d + "/m.safetensors'); ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"del t['blocks.3.0.alpha']", "no tensor 'blocks.3.0.alpha' (the model's [1])"},
      {"t['head.extra'] = torch.zeros(2)", "tensor 'head.extra' is not a parameter of the model"},
      {"t['blocks.0.0.qkv.weight'] = t['blocks.0.0.qkv.weight'].reshape(64, 192)",
       "tensor 'blocks.0.0.qkv.weight' has shape [64,192], the model's is [192,64]"},
      {"t['blocks.0.0.gamma1'] = torch.ones(1, dtype=torch.int64)", "tensor 'blocks.0.0.gamma1' is I64; weights must be F32, F16 or BF16"},
  };
  for (const auto& [change, error] : cases) {
    const Result made = RunCommand(edit + change + "; s.write('" + d + "/bad.safetensors', t, m)\"");
    ASSERT_EQ(made.code, 0) << made.out;
    const Result r = RunCommand(std::string(TINYLM_EXPORT_BIN) + " --import-safetensors " + d + "/bad.safetensors " + d + "/bad.bin");
    EXPECT_EQ(r.code, 1) << change;
    EXPECT_NE(r.out.find(error), std::string::npos) << change << "\n" << r.out;
    EXPECT_FALSE(fs::exists(d + "/bad.bin")) << "nothing written for a refused import";
  }
  const Result missing = RunCommand(std::string(TINYLM_EXPORT_BIN) + " --import-safetensors " + d + "/none.safetensors " + d + "/x.bin");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("none.safetensors: cannot open"), std::string::npos) << missing.out;
}

}  // namespace
}  // namespace tinylm::testing
