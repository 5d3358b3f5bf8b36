// The host side of plugins: finding, loading (Boost.DLL), ABI checking, and the registry of
// what plugins provide. Every object a plugin creates holds a reference to its library, and so
// does the registry; the library is released only when the last one goes.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "tinylm/plugins/plugin.h"

namespace boost::dll {
class shared_library;
}

namespace tinylm {

class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ComponentInfo {
  std::string kind;       // "layer", "tokenizer", "token weighting", "data mixer", "evaluator"
  std::string extension;  // "tinylm.plugins.relu2_mlp"
  std::string config_message;
  std::vector<std::string> example_configs;
};

struct PluginInfo {
  std::string name, version, description, path;
  uint64_t file_hash = 0;  // of the .so's bytes: a rebuilt plugin is a different plugin
  std::vector<ComponentInfo> components;
};

using LibraryRef = std::shared_ptr<boost::dll::shared_library>;

class PluginManager {
 public:
  static PluginManager& Global();

  // Directories searched, in order: $TINYLM_PLUGIN_PATH (colon-separated), then
  // DefaultPluginDirectory().
  std::vector<std::string> SearchPath() const;
  // <dir of libtinylm.so>/tinylm/plugins for an installed library (wherever it was installed);
  // the build's plugin directory for the library in the build tree. Never both.
  static std::string DefaultPluginDirectory();
  // Loads plugin `name` (file <name>.so on the search path) unless already loaded.
  const PluginInfo& Load(const std::string& name);
  // Loads a plugin from an explicit file (the checker tool; never from spec or data files).
  // The file is inspected first: a truncated or foreign file is refused with a PluginError
  // naming it instead of being handed to the dynamic loader.
  const PluginInfo& LoadFile(const std::string& path);
  // Every <name>.so on the search path, loaded; failures are returned as messages.
  std::vector<std::string> LoadAll(std::vector<std::string>* errors);
  std::vector<PluginInfo> Loaded() const;
  bool IsLoaded(const std::string& name) const;
  std::optional<PluginInfo> Find(const std::string& name) const;
  // The plugin on the search path that registers `extension` ("tinylm.plugins.x"), or "" (loads
  // every plugin on the search path to find out; for error hints).
  std::string ProviderOf(const std::string& extension);

  // Finds the component registered for an extension field (null if none).
  struct LayerEntry {
    LayerFactory make;
    ConfigCheck check;
    std::vector<std::string> example_configs;
    LibraryRef lib;
  };
  struct TokenizerEntry {
    TokenizerFactory make;
    TokenizerLoader load;
    std::string state_tag;
    ConfigCheck check;
    LibraryRef lib;
  };
  template <typename F>
  struct Entry {
    F make;
    ConfigCheck check;
    LibraryRef lib;
  };
  const LayerEntry* FindLayer(const std::string& extension) const;
  const TokenizerEntry* FindTokenizer(const std::string& extension) const;
  const TokenizerEntry* FindTokenizerByStateTag(const std::string& tag) const;
  const Entry<WeightingFactory>* FindWeighting(const std::string& extension) const;
  const Entry<MixerFactory>* FindMixer(const std::string& extension) const;
  const Entry<EvaluatorFactory>* FindEvaluator(const std::string& extension) const;

  // Objects created through these hold a reference to the plugin's library.
  LayerPtr MakeLayer(const LayerEntry& e, const ConfigMessage& cfg, const LayerBuildContext& ctx) const;
  std::unique_ptr<Tokenizer> MakeTokenizer(const TokenizerEntry& e, const ConfigMessage& cfg,
                                           const TokenizerBuildContext& ctx) const;
  std::unique_ptr<Tokenizer> LoadTokenizerState(const std::string& saved) const;
  std::unique_ptr<TokenWeighting> MakeWeighting(const Entry<WeightingFactory>& e, const ConfigMessage& cfg,
                                                const WeightingContext& ctx) const;
  std::unique_ptr<DataMixer> MakeMixer(const Entry<MixerFactory>& e, const ConfigMessage& cfg,
                                       const MixerContext& ctx) const;
  std::unique_ptr<Evaluator> MakeEvaluator(const Entry<EvaluatorFactory>& e, const ConfigMessage& cfg,
                                           const EvaluatorContext& ctx) const;

  // How many references the loaded library of plugin `name` has (registry + live objects);
  // 0 if not loaded. For tests and diagnostics.
  long LibraryUseCount(const std::string& name) const;

  struct State;

 private:
  PluginManager();
  std::unique_ptr<State> state_;
};

// The single extension set on `m` (a LayerSpec, TokenizerSpec, ...), or null if none; throws
// std::invalid_argument if several are set.
const google::protobuf::FieldDescriptor* SetExtension(const google::protobuf::Message& m);

}  // namespace tinylm
