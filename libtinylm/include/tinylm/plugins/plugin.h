// The plugin API: everything a plugin author includes.
//
// A plugin is a shared object that exports one versioned entry point (TINYLM_PLUGIN below)
// and registers components, each configured by its own protobuf message, declared as an
// extension of the spec message it plugs into:
//
//   // plugins/relu2/relu2.proto
//   syntax = "proto2";
//   package tinylm.plugins;
//   import "tinylm.proto";
//   message Relu2MlpConfig { optional int32 hidden = 1 [default = 512]; }
//   extend tinylm.proto.LayerSpec { optional Relu2MlpConfig relu2_mlp = 1207; }
//
// and in a spec:  layer { residual { mixer { [tinylm.plugins.relu2_mlp] { hidden: 384 } } } }
//
// Kinds: layers (LayerSpec), tokenizers (TokenizerSpec), token weightings (LossWeightingSpec),
// data mixers (DataMixerSpec), evaluators (EvaluatorSpec).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/dll/alias.hpp>
#include <google/protobuf/message.h>

#include "tinylm/data/data.h"
#include "tinylm/layers/layer.h"
#include "tinylm/model/model.h"
#include "tinylm/data/tokenizer.h"

// Bumped whenever anything a plugin compiles against changes layout or meaning (this header,
// Layer, Tokenizer, Tensor, ParamStore, Context). Host and plugin must agree exactly.
#ifndef TINYLM_PLUGIN_ABI  // (overridable only to test the ABI check)
// 8: TokenStream ids in a TokenArray (1, 2 or 4 bytes wide, maybe mapped).
#define TINYLM_PLUGIN_ABI 8
#endif

namespace tinylm {

constexpr int kPluginAbiVersion = TINYLM_PLUGIN_ABI;
using ConfigMessage = google::protobuf::Message;

// ---- layers ---------------------------------------------------------------------------------
struct LayerBuildContext {
  ParamStore* store;
  int64_t d_model;
  int64_t context;
  std::string name;  // parameter-name prefix (shared blocks reuse it)
  std::string tag;   // unique per application (use for dropout streams)
  float init_std;
  // As a projection inside another layer (AttentionConfig.projection, ...): its input and
  // output widths. 0 elsewhere (the layer maps d_model to d_model).
  int64_t in_dim = 0, out_dim = 0;
  // The experiment's tokenizer and vocabulary (embedding and head replacements need them).
  const Tokenizer* tokenizer = nullptr;
  int64_t vocab = 0;
  // As a fused projection (q/k/v, gate/up): the sizes of its parts, summing to out_dim; empty
  // when the projection is one matrix. (Added in plugin ABI 2.)
  std::vector<int64_t> out_parts = {};
};
using LayerFactory = std::function<LayerPtr(const ConfigMessage& config, const LayerBuildContext& ctx)>;

// ---- tokenizers -----------------------------------------------------------------------------
struct TokenizerBuildContext {
  const std::vector<Document>* corpus;  // training documents of the first stage (to train on)
  uint64_t seed;
};
using TokenizerFactory = std::function<std::unique_ptr<Tokenizer>(const ConfigMessage&, const TokenizerBuildContext&)>;
// Rebuilds a tokenizer from its Save() output, which must start with "<state_tag> ".
using TokenizerLoader = std::function<std::unique_ptr<Tokenizer>(const std::string& saved)>;

// ---- token weightings -----------------------------------------------------------------------
// Multiplies the per-target loss weights of a batch in place (weights [B, T], already holding
// the stage's mask: 0 for positions that must not be trained on).
class TokenWeighting {
 public:
  virtual ~TokenWeighting() = default;
  virtual void Apply(const Batch& batch, Tensor& weights) const = 0;
};
struct WeightingContext {
  const Tokenizer* tokenizer;
  bool sft;  // instruction-tuning stage
};
using WeightingFactory = std::function<std::unique_ptr<TokenWeighting>(const ConfigMessage&, const WeightingContext&)>;

// ---- data mixers ----------------------------------------------------------------------------
// Rewrites rows of a stage's batch, e.g. replacing a share of them with pretraining windows.
// Must be a pure function of (seed, step) and the batch, so resumed runs stay bit-exact. Runs
// trained side by side (ablate --jobs) call Mix (like every component's const methods) from
// several threads at once: a cache it keeps needs a lock.
class DataMixer {
 public:
  virtual ~DataMixer() = default;
  virtual void Mix(uint64_t seed, uint64_t step, Batch* batch) const = 0;
};
struct MixerContext {
  const TokenStream* pretrain;  // the first pretraining stage's training stream (or null)
  int64_t seq_len;
};
using MixerFactory = std::function<std::unique_ptr<DataMixer>(const ConfigMessage&, const MixerContext&)>;

// ---- evaluators -----------------------------------------------------------------------------
// Runs after training; returns named metrics (higher/lower is in the name's hands) that join the
// comparison table.
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual std::vector<std::pair<std::string, double>> Evaluate(Context& ctx, LanguageModel& model,
                                                               const Tokenizer& tok) = 0;
};
struct EvaluatorContext {
  std::string data_dir;
  uint64_t seed;
};
using EvaluatorFactory = std::function<std::unique_ptr<Evaluator>(const ConfigMessage&, const EvaluatorContext&)>;

// Semantic checks of a config beyond what the parser checks. Return "" when fine, otherwise
// "field: reason" (the field relative to the config message) or just a reason.
using ConfigCheck = std::function<std::string(const ConfigMessage&)>;

// What a plugin registers with. `extension` is the full name of the extension field that
// carries the component's config (e.g. "tinylm.plugins.relu2_mlp"); it is also the type name.
class PluginRegistrar {
 public:
  virtual ~PluginRegistrar() = default;
  // `example_configs`: config texts tinylm-plugin-check builds and checks the layer with, one
  // per interesting variant (none: the defaults). (Several since plugin ABI 3.)
  virtual void AddLayer(const std::string& extension, LayerFactory make, ConfigCheck check = nullptr,
                        std::vector<std::string> example_configs = {}) = 0;
  virtual void AddTokenizer(const std::string& extension, TokenizerFactory make, const std::string& state_tag,
                            TokenizerLoader load, ConfigCheck check = nullptr) = 0;
  virtual void AddTokenWeighting(const std::string& extension, WeightingFactory make, ConfigCheck check = nullptr) = 0;
  virtual void AddDataMixer(const std::string& extension, MixerFactory make, ConfigCheck check = nullptr) = 0;
  virtual void AddEvaluator(const std::string& extension, EvaluatorFactory make, ConfigCheck check = nullptr) = 0;
};

// Registers layer type T, constructed as T(const LayerBuildContext&, const Config&), under the
// extension `extension` whose config message is Config:
//   AddLayerType<ShiftConv, plugins::ShiftConvConfig>(r, "tinylm.plugins.shift_conv");
// `check` receives the config as Config.
template <typename T, typename Config>
void AddLayerType(PluginRegistrar& r, const std::string& extension,
                  std::function<std::string(const Config&)> check = nullptr,
                  std::vector<std::string> example_configs = {}) {
  ConfigCheck generic;
  if (check) generic = [check](const ConfigMessage& c) { return check(static_cast<const Config&>(c)); };
  r.AddLayer(
      extension,
      [](const ConfigMessage& c, const LayerBuildContext& ctx) -> LayerPtr {
        return std::make_unique<T>(ctx, static_cast<const Config&>(c));
      },
      std::move(generic), std::move(example_configs));
}

// Filled in by the plugin's entry point.
struct PluginManifest {
  int abi = 0;
  const char* name = "";
  const char* version = "";
  const char* description = "";
};

// The entry point: fills `manifest`; if host_abi matches, registers components. Returns null on
// success or an error message (static storage).
using PluginEntryFn = const char*(int host_abi, PluginRegistrar* registrar, PluginManifest* manifest);

namespace plugin_detail {
// `plugin_abi` is the TINYLM_PLUGIN_ABI the plugin was compiled with.
const char* RunEntry(int host_abi, int plugin_abi, PluginRegistrar* r, PluginManifest* m, const char* name,
                     const char* version, const char* description, void (*register_fn)(PluginRegistrar&));
}  // namespace plugin_detail

}  // namespace tinylm

#define TINYLM_PLUGIN_CAT2(a, b) a##b
#define TINYLM_PLUGIN_CAT(a, b) TINYLM_PLUGIN_CAT2(a, b)
// The exported symbol: tinylm_plugin_entry_v<ABI>.
#define TINYLM_PLUGIN_ENTRY_SYMBOL TINYLM_PLUGIN_CAT(tinylm_plugin_entry_v, TINYLM_PLUGIN_ABI)
#define TINYLM_PLUGIN_STR2(x) #x
#define TINYLM_PLUGIN_STR(x) TINYLM_PLUGIN_STR2(x)

// Declares the plugin: TINYLM_PLUGIN("relu2", "1.0.0", "squared-ReLU MLP", Register);
// where `void Register(tinylm::PluginRegistrar& r)` registers the components.
#define TINYLM_PLUGIN(NAME, VERSION, DESCRIPTION, REGISTER_FN)                                         \
  namespace tinylm_plugin_entry_ns {                                                                   \
  const char* Entry(int host_abi, ::tinylm::PluginRegistrar* r, ::tinylm::PluginManifest* m) {         \
    return ::tinylm::plugin_detail::RunEntry(host_abi, TINYLM_PLUGIN_ABI, r, m, NAME, VERSION,           \
                                             DESCRIPTION, &REGISTER_FN);                               \
  }                                                                                                    \
  }                                                                                                    \
  BOOST_DLL_ALIAS(tinylm_plugin_entry_ns::Entry, TINYLM_PLUGIN_ENTRY_SYMBOL)
