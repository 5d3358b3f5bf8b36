// Specs: every bad-spec case gets file:line:column, the field and the reason; merging,
// overrides and diffs behave as documented.
#include <gtest/gtest.h>

#include "temp_dir.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/experiments/spec.h"

namespace tinylm::testing {
namespace {

// A valid, tiny experiment (data in the temp dir) that each case breaks in one way.
constexpr char kGood[] = R"(name: "tiny"
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
data {
  train { path: "train.txt" }
  validation { path: "val.txt" }
}
stages { tokens: 4096 batch_size: 4 seq_len: 16 }
)";

class SpecErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("train.txt", TinyStories(40));
    dir_.Write("val.txt", TinyStories(8, 1));
    dir_.Write("empty.txt", "\n<|endoftext|>\n\n");
  }
  // Loads and prepares `text` (as spec.pbtxt); returns the error message or "".
  std::string Error(const std::string& text, const std::vector<Override>& o = {}) {
    const std::string path = dir_.Write("spec.pbtxt", text);
    try {
      const ResolvedSpec rs = LoadSpec(path, o);
      PrepareExperiment(rs, false, dir_.path());
      if (rs.has_baseline()) PrepareExperiment(rs, true, dir_.path());
    } catch (const SpecError& e) {
      return e.what();
    }
    return "";
  }
  std::string Spec(const std::string& from, const std::string& to) {
    std::string s = kGood;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  }
  std::string P(const std::string& name) { return dir_.path() + "/" + name; }
  TempDir dir_;
};

TEST_F(SpecErrors, GoodSpecIsValid) { EXPECT_EQ(Error(kGood), ""); }

TEST_F(SpecErrors, SyntaxError) {
  EXPECT_EQ(Error(Spec("d_model: 16", "d_model 16 {")),
            P("spec.pbtxt") + ":4:11: Expected \":\", found \"16\".");
}

TEST_F(SpecErrors, UnknownField) {
  const std::string e = Error(Spec("  context: 32", "  contxt: 32"));
  EXPECT_EQ(e, P("spec.pbtxt") + ":5:3: Message type \"tinylm.proto.ModelSpec\" has no field named \"contxt\".");
}

TEST_F(SpecErrors, WrongType) {
  const std::string e = Error(Spec("d_model: 16", "d_model: \"wide\""));
  EXPECT_EQ(e, P("spec.pbtxt") + ":4:12: field 'd_model': Expected integer, got: \"wide\"");
}

TEST_F(SpecErrors, MissingBaseFile) {
  const std::string e = Error("base: \"nowhere.pbtxt\"\nname: \"x\"\n");
  EXPECT_EQ(e, P("spec.pbtxt") + ":1:1: base: base file '" + P("nowhere.pbtxt") + "' cannot be opened");
}

TEST_F(SpecErrors, BaseCycle) {
  dir_.Write("a.pbtxt", "base: \"b.pbtxt\"\n");
  dir_.Write("b.pbtxt", "# b\nbase: \"a.pbtxt\"\n");
  const std::string e = Error("base: \"a.pbtxt\"\n");
  EXPECT_EQ(e, P("b.pbtxt") + ":2:1: base: base cycle: " + P("a.pbtxt") + " -> " + P("b.pbtxt") + " -> " + P("a.pbtxt") +
                   " (in base " + P("b.pbtxt") + " of " + P("a.pbtxt") + ":1:1, in base " + P("a.pbtxt") + " of " +
                   P("spec.pbtxt") + ":1:1)");
}

TEST_F(SpecErrors, MissingDataFile) {
  const std::string e = Error(Spec("path: \"train.txt\"", "path: \"missing.txt\""));
  EXPECT_EQ(e.rfind(P("spec.pbtxt") + ":14:11: data.train[0].path: " + P("missing.txt") + ": cannot open", 0), 0u) << e;
}

TEST_F(SpecErrors, EmptyCorpus) {
  const std::string e = Error(Spec("path: \"train.txt\"", "path: \"empty.txt\""));
  EXPECT_EQ(e, P("spec.pbtxt") + ":14:11: data.train[0].path: no documents in 'empty.txt' (empty corpus)");
}

TEST_F(SpecErrors, ZeroAndNegativeBudget) {
  EXPECT_EQ(Error(Spec("tokens: 4096", "tokens: 0")),
            P("spec.pbtxt") + ":17:10: stages[0].tokens: token budget must be positive, got 0");
  EXPECT_EQ(Error(Spec("tokens: 4096", "tokens: -5")),
            P("spec.pbtxt") + ":17:10: stages[0].tokens: token budget must be positive, got -5");
}

// A seed listed twice (easy with a repeated field: a second `seeds: [...]` line appends) would
// count one run as two independent ones, and two jobs would train it into one directory at once.
TEST_F(SpecErrors, RepeatedSeed) {
  EXPECT_EQ(Error(Spec("seeds: [1]", "seeds: [1, 2]\nseeds: [2, 3]")),
            P("spec.pbtxt") + ":2:1: seeds: seed 2 is listed twice (seeds[1] and seeds[2]); each seed is one independent run");
}

TEST_F(SpecErrors, NegativeSkipLimit) {
  EXPECT_EQ(Error(Spec("tokens: 4096", "tokens: 4096 max_skipped_steps: -1")),
            P("spec.pbtxt") + ":17:23: stages[0].max_skipped_steps: must not be negative");
}

TEST_F(SpecErrors, SequenceLongerThanContext) {
  EXPECT_EQ(Error(Spec("seq_len: 16", "seq_len: 64")),
            P("spec.pbtxt") + ":17:37: stages[0].seq_len: sequence length 64 is longer than the model's context 32 "
                              "(model.context)");
}

TEST_F(SpecErrors, StlmOptions) {
  EXPECT_EQ(Error(Spec("seq_len: 16 }", "seq_len: 16 ignore_targets: \"<|pad|>\" }")),
            P("spec.pbtxt") + ":17:49: stages[0].ignore_targets[0]: the bytes tokenizer has no special token '<|pad|>'");
  EXPECT_EQ(Error(Spec("count: 1", "count: 1 share_ffn: true")), "");
  const std::string no_mlp = Spec("    layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } }\n", "");
  EXPECT_NE(Error(std::string(no_mlp).replace(no_mlp.find("count: 1"), 8, "count: 1 share_ffn: true"))
                .find("model.block.share_ffn: the block has no MLP branch"),
            std::string::npos);
  EXPECT_NE(Error(Spec("seq_len: 16 }", "seq_len: 16 }\neval { blimp { path: \"no_such_dir\" } }")).find(
                "eval.blimp.path: " + P("no_such_dir") + ": not a directory (BLiMP data)"),
            std::string::npos);
  EXPECT_NE(Error(Spec("d_model: 16", "d_model: 16 reconstruction_weight: -1")).find("model.reconstruction_weight: must be"),
            std::string::npos);
}

TEST_F(SpecErrors, UnknownLayerType) {
  // Core layer types are fields: an unknown one is a parse error at its position.
  const std::string e = Error(Spec("swiglu { hidden: 24 }", "swishglu { hidden: 24 }"));
  EXPECT_EQ(e, P("spec.pbtxt") + ":9:52: Message type \"tinylm.proto.LayerSpec\" has no field named \"swishglu\".");
}

TEST_F(SpecErrors, UnknownPluginLayerAndPlugin) {
  // A plugin layer type nobody registered is an unknown extension, reported where it is used.
  const std::string e = Error(Spec("swiglu { hidden: 24 }", "[tinylm.plugins.hyper] {}"));
  EXPECT_EQ(e, P("spec.pbtxt") + ":9:52: Extension \"tinylm.plugins.hyper\" is not defined or is not an extension of "
                                 "\"tinylm.proto.LayerSpec\".");
  const std::string missing = Error(std::string(kGood) + "plugins: \"nonexistent\"\n");
  EXPECT_EQ(missing.rfind(P("spec.pbtxt") + ":18:1: plugins[0]: plugin 'nonexistent' not found (searched ", 0), 0u)
      << missing;
}

TEST_F(SpecErrors, BadModelSettingPointsAtTheField) {
  EXPECT_EQ(Error(Spec("heads: 2", "heads: 3")),
            P("spec.pbtxt") + ":8:64: model.block.layer[0].residual.mixer.attention.heads: d_model 16 is not divisible by 3 heads");
}

TEST_F(SpecErrors, ErrorsInTheBaseNameTheBaseFile) {
  dir_.Write("base.pbtxt", Spec("tokens: 4096", "tokens: 0"));
  const std::string e = Error("base: \"base.pbtxt\"\nmodel { d_model: 32 }\n");
  EXPECT_EQ(e, P("base.pbtxt") + ":17:10: stages[0].tokens: token budget must be positive, got 0 (in base " +
                   P("base.pbtxt") + " of " + P("spec.pbtxt") + ":1:1)");
}

// An error deep in a chain of bases names the whole chain, not only the file it is in: the
// same base may be reached from many ablations.
TEST_F(SpecErrors, ErrorsInABaseChainNameTheChain) {
  dir_.Write("mid.pbtxt", "# the middle\nbase: \"deep.pbtxt\"\n");
  dir_.Write("deep.pbtxt", "name: \"deep\"\nmodel { d_modle: 16 }\n");
  EXPECT_EQ(Error("\nbase: \"mid.pbtxt\"\n"),
            P("deep.pbtxt") + ":2:9: Message type \"tinylm.proto.ModelSpec\" has no field named \"d_modle\". (in base " + P("deep.pbtxt") + " of " +
                P("mid.pbtxt") + ":2:1, in base " + P("mid.pbtxt") + " of " + P("spec.pbtxt") + ":2:1)");
  dir_.Write("deep.pbtxt", "base: \"gone.pbtxt\"\n");
  EXPECT_EQ(Error("base: \"mid.pbtxt\"\n"), P("deep.pbtxt") + ":1:1: base: base file '" + P("gone.pbtxt") +
                                                  "' cannot be opened (in base " + P("deep.pbtxt") + " of " + P("mid.pbtxt") +
                                                  ":2:1, in base " + P("mid.pbtxt") + " of " + P("spec.pbtxt") + ":1:1)");
}

TEST_F(SpecErrors, OverridesAreTypeChecked) {
  EXPECT_EQ(Error(kGood, {{"stages[0].tokens", "lots"}}), "--set stages[0].tokens=lots: 'lots' is not a value of type int64");
  EXPECT_EQ(Error(kGood, {{"model.depth", "3"}}), "--set model.depth=3: no field 'depth' in ModelSpec");
  EXPECT_EQ(Error(kGood, {{"stages[3].tokens", "1"}}), "--set stages[3].tokens=1: index 3 of 'stages' beyond its 1 elements");
  EXPECT_EQ(Error(kGood, {{"stages[0].tokens", "0"}}), "--set stages[0].tokens=0: stages[0].tokens: token budget must be positive, got 0");
  EXPECT_EQ(Error(kGood, {{"model.d_model", "32"}}), "");
}

TEST(Spec, MergeIsElementWiseForRepeatedMessages) {
  TempDir dir;
  dir.Write("base.pbtxt", kGood);
  const std::string v = dir.Write("v.pbtxt", R"(base: "base.pbtxt"
model { block { layer { residual { mixer { attention { qk_norm: true } } } } } }
seeds: [7, 8]
)");
  const ResolvedSpec rs = LoadSpec(v);
  ASSERT_TRUE(rs.has_baseline());
  const auto& layers = rs.variant().model().block().layer();
  ASSERT_EQ(layers.size(), 2);
  EXPECT_TRUE(layers[0].residual().mixer().attention().qk_norm());
  EXPECT_EQ(layers[0].residual().mixer().attention().heads(), 2);  // kept from the base
  EXPECT_TRUE(layers[0].residual().has_norm());
  EXPECT_EQ(layers[1].residual().mixer().swiglu().hidden(), 24);
  EXPECT_EQ(rs.variant().seeds_size(), 2);  // repeated scalars replace
  EXPECT_EQ(rs.variant().name(), "v");      // name defaults to the file stem
  EXPECT_EQ(rs.baseline().name(), "tiny");
  // Seeds schedule the comparison (both arms run them): not a change between the arms.
  EXPECT_EQ(DiffSpecs(rs.baseline(), rs.variant()),
            (std::vector<std::string>{"model.block.layer[0].residual.mixer.attention.qk_norm: false -> true"}));
}

TEST(Spec, ReplaceAndOneofSwitch) {
  TempDir dir;
  dir.Write("base.pbtxt", kGood);
  const std::string v = dir.Write("v.pbtxt", R"(base: "base.pbtxt"
replace: "model.block.layer"
model { block { layer { residual { norm { layernorm {} } mixer { gelu_mlp { hidden: 32 } } } } } }
)");
  const ResolvedSpec rs = LoadSpec(v);
  ASSERT_EQ(rs.variant().model().block().layer_size(), 1);
  EXPECT_TRUE(rs.variant().model().block().layer(0).residual().norm().has_layernorm());
  const std::string w = dir.Write("w.pbtxt", R"(base: "base.pbtxt"
model { block { layer {} layer { residual { mixer { gelu_mlp { hidden: 32 } } } } } }
)");
  const ResolvedSpec rw = LoadSpec(w);
  const auto& mixer = rw.variant().model().block().layer(1).residual().mixer();
  EXPECT_TRUE(mixer.has_gelu_mlp());  // the oneof switched from swiglu
  EXPECT_FALSE(mixer.has_swiglu());
}

TEST(Spec, FieldPaths) {
  const FieldPath p = ParseFieldPath("stages[2].data.train[0].path");
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].index, 2);
  EXPECT_EQ(p[2].field, "train");
  EXPECT_EQ(FieldPathString(p), "stages[2].data.train[0].path");
  EXPECT_THROW(ParseFieldPath("a[x]"), std::invalid_argument);
  EXPECT_THROW(ParseFieldPath("a..b"), std::invalid_argument);
}

}  // namespace
}  // namespace tinylm::testing
