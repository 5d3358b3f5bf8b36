// Plugins: loading and refusal, the registry, lifetime, typed configs in specs (with located
// errors), and a training run using one component of each kind.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <google/protobuf/text_format.h>

#include "temp_dir.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/layers/layer_check.h"
#include "tinylm/plugins/plugin_manager.h"
#include "tinylm/model/checkpoint.h"
#include "tinylm/training/trainer.h"

namespace tinylm::testing {
namespace {

namespace fs = std::filesystem;
const std::string kDir = TINYLM_TEST_PLUGIN_DIR;

// A LayerSpec from text; plugin extensions parse once their plugin is loaded.
proto::LayerSpec LayerFromText(const std::string& text) {
  proto::LayerSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  return spec;
}

class Plugins : public ::testing::Test {
 protected:
  void SetUp() override { setenv("TINYLM_PLUGIN_PATH", kDir.c_str(), 1); }
  std::string LoadError(const std::string& path) {
    try {
      PluginManager::Global().LoadFile(path);
    } catch (const PluginError& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(Plugins, LoadsAndRegistersEveryKind) {
  const PluginInfo& info = PluginManager::Global().Load("test_components");
  EXPECT_EQ(info.version, "0.1.0");
  std::vector<std::string> kinds;
  for (const auto& c : info.components) kinds.push_back(c.kind + " " + c.extension + " " + c.config_message);
  EXPECT_EQ(kinds, (std::vector<std::string>{"layer tinylm.test.scale tinylm.test.ScaleConfig",
                                             "token weighting tinylm.test.double_weight tinylm.test.DoubleWeightConfig",
                                             "data mixer tinylm.test.swap_rows tinylm.test.SwapRowsConfig",
                                             "evaluator tinylm.test.mean_logit tinylm.test.MeanLogitConfig",
                                             "tokenizer tinylm.test.test_bytes tinylm.test.TestBytesConfig"}));
  EXPECT_NE(PluginManager::Global().FindLayer("tinylm.test.scale"), nullptr);
  EXPECT_EQ(&PluginManager::Global().Load("test_components"), &info);  // loaded once
}

// A truncated plugin (interrupted copy or build) used to kill every tool with SIGBUS inside the
// dynamic loader. Each cut of a real plugin, and a header pointing past the end, is refused
// with a message naming the file; a directory of them does not stop the others from loading.
TEST_F(Plugins, TruncatedOrCorruptSharedObjectsAreRefusedBeforeLoading) {
  std::ifstream in(kDir + "/test_components.so", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 4096u);
  TempDir dir;
  std::vector<std::string> files;
  for (size_t n : {size_t{0}, size_t{10}, size_t{63}, size_t{64}, size_t{300}, size_t{4096}, bytes.size() / 4,
                   bytes.size() / 2, bytes.size() - 100, bytes.size() - 1}) {
    const std::string f = dir.Write("cut_" + std::to_string(n) + ".so", bytes.substr(0, n));
    EXPECT_EQ(LoadError(f).rfind(f + ": refused before loading: ", 0), 0u) << n << " bytes: " << LoadError(f);
    files.push_back(f);
  }
  std::string far = bytes;  // e_phoff (offset 32) far beyond the end
  const uint64_t huge = uint64_t{1} << 40;
  std::memcpy(&far[32], &huge, sizeof huge);
  const std::string f = dir.Write("far.so", far);
  EXPECT_EQ(LoadError(f), f + ": refused before loading: program headers end past the end of the file (truncated?)");

  setenv("TINYLM_PLUGIN_PATH", (dir.path() + ":" + kDir).c_str(), 1);
  std::vector<std::string> errors;
  const std::vector<std::string> names = PluginManager::Global().LoadAll(&errors);
  EXPECT_EQ(errors.size(), files.size() + 2);  // the cuts, far.so and bad_abi.so
  EXPECT_NE(std::find(names.begin(), names.end(), "test_components"), names.end());
}

// A plugin copied into a directory on TINYLM_PLUGIN_PATH while the build's copy is also on the
// path used to abort the process inside libprotobuf (its .proto files registered twice). The
// later copy is now refused before loading, renamed or not, and the first stays in use.
TEST_F(Plugins, ASecondCopyOfALoadedPluginIsRefusedBeforeLoading) {
  const PluginInfo& first = PluginManager::Global().Load("test_components");
  TempDir dir;
  fs::copy_file(first.path, dir.path() + "/test_components.so");
  fs::copy_file(first.path, dir.path() + "/renamed_copy.so");
  setenv("TINYLM_PLUGIN_PATH", (kDir + ":" + dir.path()).c_str(), 1);
  std::vector<std::string> errors;
  PluginManager::Global().LoadAll(&errors);
  for (const char* copy : {"/test_components.so", "/renamed_copy.so"}) {
    const std::string expected = dir.path() + copy + ": not loaded: another copy of plugin 'test_components' is already loaded from " +
                                 first.path + " (earlier on the search path); one process can hold one copy of a plugin";
    EXPECT_NE(std::find(errors.begin(), errors.end(), expected), errors.end()) << expected;
  }
  EXPECT_EQ(PluginManager::Global().Find("test_components")->path, first.path);
}

TEST_F(Plugins, MismatchedOrMalformedPluginsAreRefusedClearly) {
  EXPECT_EQ(LoadError(kDir + "/bad_abi.so"),
            kDir + "/bad_abi.so: built for plugin ABI 99, but this tinylm has plugin ABI " + std::to_string(kPluginAbiVersion) + ": rebuild the plugin against this tinylm");
  TempDir dir;
  const std::string junk = dir.Write("junk.so", "this is not a shared object");
  EXPECT_EQ(LoadError(junk), junk + ": refused before loading: too short to be a shared object (27 bytes; truncated?)");
  EXPECT_EQ(LoadError(dir.path() + "/missing.so"), dir.path() + "/missing.so: refused before loading: cannot open");
  // A real shared object that is not a plugin.
  const std::string libm = "/lib/x86_64-linux-gnu/libm.so.6";
  if (fs::exists(libm)) {
    EXPECT_EQ(LoadError(libm), libm + ": not a tinylm plugin (no tinylm_plugin_entry_v" +
                                   std::to_string(kPluginAbiVersion) + " entry point)");
  }
  try {
    PluginManager::Global().Load("no_such_plugin");
    ADD_FAILURE();
  } catch (const PluginError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("plugin 'no_such_plugin' not found (searched " + kDir, 0), 0u) << e.what();
  }
  EXPECT_THROW(PluginManager::Global().Load("../etc/evil"), PluginError);
}

TEST_F(Plugins, ObjectsKeepTheirLibraryReferenced) {
  PluginManager& pm = PluginManager::Global();
  pm.Load("test_components");
  const long base = pm.LibraryUseCount("test_components");
  EXPECT_GT(base, 1);  // the registry's entries hold references
  const proto::LayerSpec spec = LayerFromText("[tinylm.test.scale] {}");
  ParamStore store;
  LayerPtr layer;
  std::unique_ptr<DecodeState> state;
  {
    const auto* entry = pm.FindLayer("tinylm.test.scale");
    ASSERT_NE(entry, nullptr);
    layer = BuildLayer(spec, {&store, 8, 16, "s", "s", 0.02f});
    EXPECT_EQ(pm.LibraryUseCount("test_components"), base + 1);
    state = layer->NewDecodeState(1, 4);
    EXPECT_EQ(pm.LibraryUseCount("test_components"), base + 2);
  }
  store.Allocate(1);
  Context ctx(1);
  EXPECT_EQ(layer->Forward(ctx, TestInput({1, 2, 8}, 0, 1), Mode::kEval).numel(), 16);
  state.reset();
  layer.reset();
  EXPECT_EQ(pm.LibraryUseCount("test_components"), base);
}

// Spec fixtures: a tiny model using the plugin's layer; other components added per test.
std::string Spec(const std::string& layer_config, const std::string& extra = "") {
  return R"(name: "plugged"
plugins: "test_components"
seeds: [1]
model {
  d_model: 16
  context: 32
  block {
    count: 1
    layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 rope {} } } } }
    layer { )" + layer_config + R"( }
  }
}
data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { tokens: 1024 batch_size: 4 seq_len: 16 }
eval { interval_steps: 0 max_tokens: 256 sample_tokens: 8 }
)" + extra;
}

class PluginSpecs : public Plugins {
 protected:
  void SetUp() override {
    Plugins::SetUp();
    dir_.Write("train.txt", TinyStories(40));
    dir_.Write("val.txt", TinyStories(8, 1));
  }
  std::string Error(const std::string& text) {
    const std::string path = dir_.Write("spec.pbtxt", text);
    try {
      PrepareExperiment(LoadSpec(path), false, dir_.path());
    } catch (const SpecError& e) {
      return e.what();
    }
    return "";
  }
  std::string P() { return dir_.path() + "/spec.pbtxt"; }
  TempDir dir_;
};

TEST_F(PluginSpecs, PluginLayerIsShortToWriteAndTyped) {
  EXPECT_EQ(Error(Spec("[tinylm.test.scale] { init: 0.5 }")), "");
  EXPECT_EQ(Error(Spec("[tinylm.test.scale] { innit: 0.5 }")),
            P() + ":10:35: Message type \"tinylm.test.ScaleConfig\" has no field named \"innit\".");
  EXPECT_EQ(Error(Spec("[tinylm.test.scale] { init: \"big\" }")),
            P() + ":10:41: field 'init': Expected double, got: \"big\"");
  EXPECT_EQ(Error(Spec("[tinylm.test.scale] { init: inf }")),
            P() + ":10:35: model.block.layer[1].[tinylm.test.scale].init: must be finite");
  EXPECT_EQ(Error(Spec("[tinylm.test.nope] {}")),
            P() + ":10:13: Extension \"tinylm.test.nope\" is not defined or is not an extension of \"tinylm.proto.LayerSpec\".");
  EXPECT_EQ(Error(Spec("[tinylm.test.double_weight] {}")),
            P() + ":10:13: Extension \"tinylm.test.double_weight\" is not defined or is not an extension of \"tinylm.proto.LayerSpec\".");
  std::string missing = Spec("swiglu {}");
  missing.replace(missing.find("test_components"), 15, "not_installed");
  EXPECT_EQ(Error(missing).rfind(P() + ":2:1: plugins[0]: plugin 'not_installed' not found (searched " + kDir, 0), 0u)
      << Error(missing);
}

TEST_F(PluginSpecs, EveryKindTakesPartInATrainingRun) {
  std::string text = Spec("[tinylm.test.scale] { init: 0.5 }",
                          "tokenizer { [tinylm.test.test_bytes] { lowercase: true } }\n");
  text.replace(text.find("stages { "), 9,
               "stages { loss_weighting { [tinylm.test.double_weight] { factor: 3 } } mixer { [tinylm.test.swap_rows] {} } ");
  text.replace(text.find("eval { "), 7, "eval { evaluators { [tinylm.test.mean_logit] {} } ");
  const std::string path = dir_.Write("spec.pbtxt", text);
  const Experiment e = PrepareExperiment(LoadSpec(path), false, dir_.path());
  EXPECT_EQ(e.tokenizer->type(), "test_bytes");
  EXPECT_EQ(e.stages[0].weightings.size(), 1u);
  EXPECT_NE(e.stages[0].mixer, nullptr);
  EXPECT_NE(e.param_table.find("blocks.0.1     scale"), std::string::npos) << e.param_table;
  RunOptions o;
  o.seed = 1;
  o.dir = dir_.path() + "/run";
  o.threads = 1;
  const proto::RunSummary r = TrainRun(e, o);
  ASSERT_EQ(r.extra_metrics().count("test mean logit"), 1u);
  EXPECT_TRUE(std::isfinite(r.extra_metrics().at("test mean logit")));
  // The plugin tokenizer's state round-trips through the checkpoint.
  const auto h = ReadCheckpointHeader(o.dir + "/checkpoint.bin");
  EXPECT_EQ(h.tokenizer(), "testbytes 1");
  EXPECT_EQ(LoadTokenizer(h.tokenizer())->Encode("AB"), (std::vector<int32_t>{'a', 'b'}));
}

TEST_F(Plugins, CheckerHarnessPassesThePluginLayer) {
  PluginManager::Global().Load("test_components");
  const proto::LayerSpec spec = LayerFromText("[tinylm.test.scale] { init: 0.7 }");
  LayerCheckOptions opt;
  const LayerCheckReport rep =
      CheckLayerGeneric([&](ParamStore& s) { return BuildLayer(spec, {&s, 16, 32, "s", "s", 0.02f}); }, opt);
  EXPECT_TRUE(rep.ok()) << rep.Format("scale");
  EXPECT_EQ(rep.checks.size(), 11u);  // shape, finite, dy unchanged, input and 1 param gradient,
                                      // accumulation, repeat, 1 vs 2 threads, causality, decode, FLOPs
}

}  // namespace
}  // namespace tinylm::testing

namespace tinylm::testing {
namespace {

// A plugin layer in an ablation replaces the base's core layer type (and vice versa).
TEST(PluginMerge, ExtensionReplacesTheCoreLayerTypeAndBack) {
  setenv("TINYLM_PLUGIN_PATH", TINYLM_TEST_PLUGIN_DIR, 1);
  TempDir dir;
  dir.Write("base.pbtxt", "plugins: \"test_components\"\nmodel { block { layer { swiglu { hidden: 8 } } } }\n");
  const std::string v = dir.Write("v.pbtxt", "base: \"base.pbtxt\"\nmodel { block { layer { [tinylm.test.scale] {} } } }\n");
  const ResolvedSpec rs = LoadSpec(v);
  const proto::LayerSpec& l = rs.variant().model().block().layer(0);
  EXPECT_FALSE(l.has_swiglu());
  EXPECT_EQ(SetExtension(l)->full_name(), "tinylm.test.scale");
  dir.Write("w.pbtxt", "base: \"v.pbtxt\"\nmodel { block { layer { gelu_mlp {} } } }\n");
  const ResolvedSpec back = LoadSpec(dir.path() + "/w.pbtxt");
  EXPECT_TRUE(back.variant().model().block().layer(0).has_gelu_mlp());
  EXPECT_EQ(SetExtension(back.variant().model().block().layer(0)), nullptr);
}

}  // namespace
}  // namespace tinylm::testing

namespace tinylm::testing {
namespace {

// The generic hooks that let novelties replace parts of core layers: projections inside
// attention/MLPs (BitLinear), and the model's embedding and head (byte pooling).
TEST(Hooks, LinearProjectionEqualsTheDefault) {
  auto build = [](const std::string& text) {
    proto::LayerSpec spec;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec));
    return [spec](ParamStore& s) { return BuildLayer(spec, {&s, 16, 32, "a", "a", 0.02f}); };
  };
  Context ctx(2, 1);
  std::vector<Tensor> outs;
  for (const char* text : {"attention { heads: 2 rope {} }", "attention { heads: 2 rope {} projection { linear {} } }",
                           "swiglu { hidden: 24 }", "swiglu { hidden: 24 projection { linear {} } }"}) {
    ParamStore s;
    LayerPtr l = build(text)(s);
    s.Allocate(5);
    outs.push_back(l->Forward(ctx, TestInput({2, 5, 16}, 0, 1), Mode::kEval).Clone());
  }
  EXPECT_EQ(0, std::memcmp(outs[0].raw(), outs[1].raw(), outs[0].bytes()));
  EXPECT_EQ(0, std::memcmp(outs[2].raw(), outs[3].raw(), outs[2].bytes()));
  // And it passes the generic check.
  EXPECT_TRUE(CheckLayerGeneric(build("gelu_mlp { hidden: 24 projection { linear {} } }"), {}).ok());
}

TEST(Hooks, ProjectionErrorsNameThePath) {
  setenv("TINYLM_PLUGIN_PATH", TINYLM_TEST_PLUGIN_DIR, 1);
  PluginManager::Global().Load("test_components");
  proto::LayerSpec spec;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "attention { heads: 2 projection { [tinylm.test.scale] {} } }", &spec));
  ParamStore s;
  try {
    BuildLayer(spec, {&s, 16, 32, "a", "a", 0.02f}, "model.block.layer[0]");
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "model.block.layer[0].attention.projection.[tinylm.test.scale]: a scale cannot change the width");
  }
}

TEST(Hooks, HeadCanBeReplaced) {
  proto::ModelSpec m;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "d_model: 8 context: 16 tie_embeddings: false head { linear { bias: true } } "
      "block { count: 1 layer { swiglu { hidden: 8 } } }", &m));
  auto model = BuildModel(m, 11);
  EXPECT_EQ(model->NumParams(), 11 * 8 + 3 * 8 * 8 + 11 * 8 + 11);  // embed, swiglu, head + bias
  model->store().Allocate(1);
  Context ctx(1);
  EXPECT_EQ(model->Forward(ctx, TestInput({2, 3}, 11, 1), Mode::kEval).shape(), (Shape{2, 3, 11}));
  m.set_tie_embeddings(true);
  EXPECT_THROW(BuildModel(m, 11), std::invalid_argument);
}

}  // namespace
}  // namespace tinylm::testing
