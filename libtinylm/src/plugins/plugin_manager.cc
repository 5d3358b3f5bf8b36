#include "tinylm/plugins/plugin_manager.h"

#include <dlfcn.h>

#include <boost/dll/library_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>

#include "shared_object_check.h"

#ifndef TINYLM_BUILD_PLUGIN_DIR
#define TINYLM_BUILD_PLUGIN_DIR ""
#endif
#ifndef TINYLM_BUILD_LIBRARY_DIR
#define TINYLM_BUILD_LIBRARY_DIR ""
#endif
#ifndef TINYLM_INSTALL_PLUGIN_DIR
#define TINYLM_INSTALL_PLUGIN_DIR ""
#endif

namespace tinylm {

namespace fs = std::filesystem;
using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;

namespace plugin_detail {
const char* RunEntry(int host_abi, int plugin_abi, PluginRegistrar* r, PluginManifest* m, const char* name,
                     const char* version, const char* description, void (*register_fn)(PluginRegistrar&)) {
  m->abi = plugin_abi;
  m->name = name;
  m->version = version;
  m->description = description;
  if (host_abi != plugin_abi) return "plugin ABI version mismatch";
  static thread_local std::string error;
  try {
    register_fn(*r);
  } catch (const std::exception& e) {
    error = e.what();
    return error.c_str();
  }
  return nullptr;
}
}  // namespace plugin_detail

const FieldDescriptor* SetExtension(const google::protobuf::Message& m) {
  std::vector<const FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  const FieldDescriptor* found = nullptr;
  for (const FieldDescriptor* f : fields) {
    if (!f->is_extension()) continue;
    if (found) throw std::invalid_argument("several plugin types set: [" + found->full_name() + "] and [" + f->full_name() + "]");
    found = f;
  }
  return found;
}

namespace {

// ---- holders: forward to the plugin's object, keep its library referenced ----

struct PluginDecodeState : DecodeState {
  LibraryRef lib;
  std::unique_ptr<DecodeState> inner;
};

class PluginLayer : public Layer {
 public:
  PluginLayer(LibraryRef lib, LayerPtr inner) : lib_(std::move(lib)), inner_(std::move(inner)) {}
  std::string type() const override { return inner_->type(); }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override { return inner_->Forward(ctx, x, mode); }
  Tensor Backward(Context& ctx, const Tensor& dy) override { return inner_->Backward(ctx, dy); }
  std::vector<Param*> Params() const override { return inner_->Params(); }
  Shape OutputShape(const Shape& in) const override { return inner_->OutputShape(in); }
  double ForwardFlops() const override { return inner_->ForwardFlops(); }
  std::vector<const Layer*> Children() const override { return inner_->Children(); }
  std::vector<Param*> WritePacked(PackedWriter& w) const override { return inner_->WritePacked(w); }
  std::vector<Param*> ReadPacked(const PackedReader& r) override { return inner_->ReadPacked(r); }
  std::unique_ptr<DecodeState> NewDecodeState(int64_t batch, int64_t max_len) const override {
    auto s = std::make_unique<PluginDecodeState>();
    s->lib = lib_;
    s->inner = inner_->NewDecodeState(batch, max_len);
    return s;
  }
  Tensor Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) override {
    return inner_->Step(ctx, x, pos, state ? static_cast<PluginDecodeState*>(state)->inner.get() : nullptr);
  }

 private:
  LibraryRef lib_;  // declared first: released after the object it keeps alive
  LayerPtr inner_;
};

class PluginTokenizer : public Tokenizer {
 public:
  PluginTokenizer(LibraryRef lib, std::unique_ptr<Tokenizer> inner) : lib_(std::move(lib)), inner_(std::move(inner)) {}
  std::string type() const override { return inner_->type(); }
  int64_t vocab_size() const override { return inner_->vocab_size(); }
  std::vector<int32_t> Encode(std::string_view text) const override { return inner_->Encode(text); }
  std::string Decode(const std::vector<int32_t>& ids) const override { return inner_->Decode(ids); }
  int64_t TokenBytes(int32_t id) const override { return inner_->TokenBytes(id); }
  int64_t TokenChars(int32_t id) const override { return inner_->TokenChars(id); }
  int32_t SpecialId(const std::string& name) const override { return inner_->SpecialId(name); }
  int64_t group_size() const override { return inner_->group_size(); }
  std::string Save() const override { return inner_->Save(); }

 private:
  LibraryRef lib_;
  std::unique_ptr<Tokenizer> inner_;
};

class PluginWeighting : public TokenWeighting {
 public:
  PluginWeighting(LibraryRef lib, std::unique_ptr<TokenWeighting> inner) : lib_(std::move(lib)), inner_(std::move(inner)) {}
  void Apply(const Batch& b, Tensor& w) const override { inner_->Apply(b, w); }

 private:
  LibraryRef lib_;
  std::unique_ptr<TokenWeighting> inner_;
};

class PluginMixer : public DataMixer {
 public:
  PluginMixer(LibraryRef lib, std::unique_ptr<DataMixer> inner) : lib_(std::move(lib)), inner_(std::move(inner)) {}
  void Mix(uint64_t seed, uint64_t step, Batch* b) const override { inner_->Mix(seed, step, b); }

 private:
  LibraryRef lib_;
  std::unique_ptr<DataMixer> inner_;
};

class PluginEvaluator : public Evaluator {
 public:
  PluginEvaluator(LibraryRef lib, std::unique_ptr<Evaluator> inner) : lib_(std::move(lib)), inner_(std::move(inner)) {}
  std::vector<std::pair<std::string, double>> Evaluate(Context& c, LanguageModel& m, const Tokenizer& t) override {
    return inner_->Evaluate(c, m, t);
  }

 private:
  LibraryRef lib_;
  std::unique_ptr<Evaluator> inner_;
};

}  // namespace

struct PluginManager::State {
  mutable std::mutex mu;
  std::map<std::string, PluginInfo> plugins;  // by name
  std::map<std::string, LibraryRef> libs;     // by name
  std::map<std::string, LayerEntry> layers;
  std::map<std::string, TokenizerEntry> tokenizers;
  std::map<std::string, Entry<WeightingFactory>> weightings;
  std::map<std::string, Entry<MixerFactory>> mixers;
  std::map<std::string, Entry<EvaluatorFactory>> evaluators;
};

namespace {

// Buffers one plugin's registrations; they are committed only if the whole entry succeeds.
class Registrar : public PluginRegistrar {
 public:
  Registrar(PluginManager::State* state, LibraryRef lib) : state_(state), lib_(std::move(lib)) {}

  void AddLayer(const std::string& ext, LayerFactory make, ConfigCheck check, std::vector<std::string> examples) override {
    Check(ext, "tinylm.proto.LayerSpec", "layer", examples);
    layers_[ext] = {std::move(make), std::move(check), std::move(examples), lib_};
  }
  void AddTokenizer(const std::string& ext, TokenizerFactory make, const std::string& tag, TokenizerLoader load,
                    ConfigCheck check) override {
    Check(ext, "tinylm.proto.TokenizerSpec", "tokenizer", {});
    if (tag.empty() || tag.find(' ') != std::string::npos) throw PluginError("tokenizer state tag must be one word");
    tokenizers_[ext] = {std::move(make), std::move(load), tag, std::move(check), lib_};
  }
  void AddTokenWeighting(const std::string& ext, WeightingFactory make, ConfigCheck check) override {
    Check(ext, "tinylm.proto.LossWeightingSpec", "token weighting", {});
    weightings_[ext] = {std::move(make), std::move(check), lib_};
  }
  void AddDataMixer(const std::string& ext, MixerFactory make, ConfigCheck check) override {
    Check(ext, "tinylm.proto.DataMixerSpec", "data mixer", {});
    mixers_[ext] = {std::move(make), std::move(check), lib_};
  }
  void AddEvaluator(const std::string& ext, EvaluatorFactory make, ConfigCheck check) override {
    Check(ext, "tinylm.proto.EvaluatorSpec", "evaluator", {});
    evaluators_[ext] = {std::move(make), std::move(check), lib_};
  }

  void Commit(PluginInfo* info) {
    auto clash = [&](const auto& mine, const auto& theirs) {
      for (const auto& [k, v] : mine)
        if (theirs.count(k)) throw PluginError("registers [" + k + "], which another plugin already registered");
    };
    clash(layers_, state_->layers);
    clash(tokenizers_, state_->tokenizers);
    clash(weightings_, state_->weightings);
    clash(mixers_, state_->mixers);
    clash(evaluators_, state_->evaluators);
    state_->layers.insert(layers_.begin(), layers_.end());
    state_->tokenizers.insert(tokenizers_.begin(), tokenizers_.end());
    state_->weightings.insert(weightings_.begin(), weightings_.end());
    state_->mixers.insert(mixers_.begin(), mixers_.end());
    state_->evaluators.insert(evaluators_.begin(), evaluators_.end());
    info->components = std::move(components_);
  }

 private:
  // The extension must exist (the plugin's generated code registered it) and extend `target`.
  void Check(const std::string& ext, const std::string& target, const std::string& kind,
             const std::vector<std::string>& examples) {
    const FieldDescriptor* f = DescriptorPool::generated_pool()->FindExtensionByName(ext);
    if (!f) throw PluginError("registers " + kind + " [" + ext + "], but no such protobuf extension is compiled in");
    if (f->containing_type()->full_name() != target)
      throw PluginError("[" + ext + "] extends " + f->containing_type()->full_name() + ", a " + kind + " must extend " + target);
    if (f->type() != FieldDescriptor::TYPE_MESSAGE) throw PluginError("[" + ext + "] must be a message extension");
    components_.push_back({kind, ext, f->message_type()->full_name(), examples});
  }

  PluginManager::State* state_;
  LibraryRef lib_;
  std::vector<ComponentInfo> components_;
  std::map<std::string, PluginManager::LayerEntry> layers_;
  std::map<std::string, PluginManager::TokenizerEntry> tokenizers_;
  std::map<std::string, PluginManager::Entry<WeightingFactory>> weightings_;
  std::map<std::string, PluginManager::Entry<MixerFactory>> mixers_;
  std::map<std::string, PluginManager::Entry<EvaluatorFactory>> evaluators_;
};

const char* kEntrySymbol = TINYLM_PLUGIN_STR(TINYLM_PLUGIN_ENTRY_SYMBOL);

}  // namespace

PluginManager::PluginManager() : state_(std::make_unique<State>()) {}

PluginManager& PluginManager::Global() {
  // Never destroyed: plugin code must stay valid for static destructors that run late.
  static PluginManager* m = new PluginManager();
  return *m;
}

namespace {

// The directory of the libtinylm.so this code runs from (empty if the loader cannot say).
fs::path LibraryDirectory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&LibraryDirectory), &info) == 0 || !info.dli_fname) return {};
  std::error_code ec;
  const fs::path lib = fs::weakly_canonical(fs::path(info.dli_fname), ec);
  return ec ? fs::path() : lib.parent_path();
}

bool SameDirectory(const fs::path& a, const std::string& b) {
  std::error_code ec;
  return !b.empty() && fs::equivalent(a, b, ec);
}

}  // namespace

std::string PluginManager::DefaultPluginDirectory() {
  // Where the library actually lives decides: the build tree's library uses the build's plugin
  // directory; an installed one (any prefix, moved or not) uses <libdir>/tinylm/plugins.
  const fs::path lib_dir = LibraryDirectory();
  if (lib_dir.empty()) return TINYLM_INSTALL_PLUGIN_DIR;
  if (SameDirectory(lib_dir, TINYLM_BUILD_LIBRARY_DIR)) return TINYLM_BUILD_PLUGIN_DIR;
  return (lib_dir / "tinylm" / "plugins").string();
}

std::vector<std::string> PluginManager::SearchPath() const {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("TINYLM_PLUGIN_PATH"); env && *env)
    for (absl::string_view d : absl::StrSplit(env, ':', absl::SkipEmpty())) dirs.emplace_back(d);
  if (std::string d = DefaultPluginDirectory(); !d.empty()) dirs.push_back(std::move(d));
  return dirs;
}

const PluginInfo& PluginManager::Load(const std::string& name) {
  {
    std::lock_guard<std::mutex> g(state_->mu);
    auto it = state_->plugins.find(name);
    if (it != state_->plugins.end()) return it->second;
  }
  if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos)
    throw PluginError("plugin '" + name + "': a plugin is named, not a path");
  std::string searched;
  for (const std::string& d : SearchPath()) {
    const fs::path p = fs::path(d) / (name + ".so");
    if (fs::exists(p)) {
      const PluginInfo& info = LoadFile(p.string());
      if (info.name != name)
        throw PluginError(p.string() + ": file is named '" + name + "' but declares plugin '" + info.name + "'");
      return info;
    }
    searched += (searched.empty() ? "" : ", ") + d;
  }
  throw PluginError("plugin '" + name + "' not found (searched " + (searched.empty() ? "nothing" : searched) +
                    "; set TINYLM_PLUGIN_PATH to add directories)");
}

const PluginInfo& PluginManager::LoadFile(const std::string& path) {
  const std::string abs = fs::absolute(path).lexically_normal().string();
  {
    std::lock_guard<std::mutex> g(state_->mu);
    for (auto& [n, info] : state_->plugins)
      if (info.path == abs) return info;
  }
  const plugin_detail::SharedObjectFile file = plugin_detail::InspectSharedObject(abs);
  if (!file.problem.empty()) throw PluginError(abs + ": refused before loading: " + file.problem);
  {
    // A second copy of a loaded plugin (the same file, or one named alike, elsewhere on the
    // search path) must not reach dlopen: its generated protobuf code would register the same
    // .proto files again, and libprotobuf aborts the process on that ("File already exists in
    // database"). The first copy on the search path wins.
    const std::string stem = fs::path(abs).stem().string();
    std::lock_guard<std::mutex> g(state_->mu);
    for (const auto& [n, info] : state_->plugins)
      if (info.file_hash == file.content_hash || n == stem)
        throw PluginError(abs + ": not loaded: another copy of plugin '" + n + "' is already loaded from " + info.path +
                          " (earlier on the search path); one process can hold one copy of a plugin");
  }
  LibraryRef lib;
  try {
    // RTLD_NODELETE: libprotobuf cannot unregister the descriptors a plugin's generated code adds
    // to the global pool, so the code stays mapped even after the last reference is gone.
    const auto mode = static_cast<boost::dll::load_mode::type>(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    lib = std::make_shared<boost::dll::shared_library>(abs, mode);
  } catch (const std::exception& e) {
    throw PluginError(abs + ": cannot load as a shared library: " + e.what());
  }
  if (!lib->has(kEntrySymbol)) {
    std::string other;
    try {
      boost::dll::library_info info(abs);
      for (const std::string& s : info.symbols())
        if (s.rfind("tinylm_plugin_entry_v", 0) == 0) other = s.substr(21);
    } catch (...) {
    }
    if (!other.empty())
      throw PluginError(abs + ": built for plugin ABI " + other + ", but this tinylm has plugin ABI " +
                        std::to_string(kPluginAbiVersion) + ": rebuild the plugin against this tinylm");
    throw PluginError(abs + ": not a tinylm plugin (no " + std::string(kEntrySymbol) + " entry point)");
  }
  PluginEntryFn& entry = lib->get_alias<PluginEntryFn>(kEntrySymbol);
  Registrar registrar(state_.get(), lib);
  PluginManifest manifest;
  const char* err = entry(kPluginAbiVersion, &registrar, &manifest);
  if (manifest.abi != kPluginAbiVersion)
    throw PluginError(abs + ": built for plugin ABI " + std::to_string(manifest.abi) + ", but this tinylm has " +
                      std::to_string(kPluginAbiVersion) + ": rebuild the plugin against this tinylm");
  if (err) throw PluginError(abs + ": plugin '" + manifest.name + "' failed to register: " + err);
  std::lock_guard<std::mutex> g(state_->mu);
  if (state_->plugins.count(manifest.name))
    throw PluginError(abs + ": a plugin named '" + std::string(manifest.name) + "' is already loaded from " +
                      state_->plugins[manifest.name].path);
  PluginInfo info{manifest.name, manifest.version, manifest.description, abs, file.content_hash, {}};
  try {
    registrar.Commit(&info);
  } catch (const PluginError& e) {
    throw PluginError(abs + ": plugin '" + info.name + "' " + e.what());
  }
  state_->libs[info.name] = lib;
  return state_->plugins[info.name] = std::move(info);
}

std::vector<std::string> PluginManager::LoadAll(std::vector<std::string>* errors) {
  std::vector<std::string> names;
  for (const std::string& d : SearchPath()) {
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(d, ec)) {
      if (f.path().extension() != ".so") continue;
      try {
        names.push_back(LoadFile(f.path().string()).name);
      } catch (const std::exception& e) {
        if (errors) errors->push_back(e.what());
      }
    }
  }
  return names;
}

std::vector<PluginInfo> PluginManager::Loaded() const {
  std::lock_guard<std::mutex> g(state_->mu);
  std::vector<PluginInfo> out;
  for (const auto& [n, info] : state_->plugins) out.push_back(info);
  return out;
}

bool PluginManager::IsLoaded(const std::string& name) const {
  std::lock_guard<std::mutex> g(state_->mu);
  return state_->plugins.count(name) > 0;
}

std::optional<PluginInfo> PluginManager::Find(const std::string& name) const {
  std::lock_guard<std::mutex> g(state_->mu);
  auto it = state_->plugins.find(name);
  if (it == state_->plugins.end()) return std::nullopt;
  return it->second;
}

std::string PluginManager::ProviderOf(const std::string& extension) {
  LoadAll(nullptr);
  std::lock_guard<std::mutex> g(state_->mu);
  for (const auto& [name, info] : state_->plugins)
    for (const ComponentInfo& c : info.components)
      if (c.extension == extension) return name;
  return "";
}

template <typename M>
static const typename M::mapped_type* FindIn(const M& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? nullptr : &it->second;
}

const PluginManager::LayerEntry* PluginManager::FindLayer(const std::string& e) const { return FindIn(state_->layers, e); }
const PluginManager::TokenizerEntry* PluginManager::FindTokenizer(const std::string& e) const {
  return FindIn(state_->tokenizers, e);
}
const PluginManager::TokenizerEntry* PluginManager::FindTokenizerByStateTag(const std::string& tag) const {
  for (const auto& [k, v] : state_->tokenizers)
    if (v.state_tag == tag) return &v;
  return nullptr;
}
const PluginManager::Entry<WeightingFactory>* PluginManager::FindWeighting(const std::string& e) const {
  return FindIn(state_->weightings, e);
}
const PluginManager::Entry<MixerFactory>* PluginManager::FindMixer(const std::string& e) const {
  return FindIn(state_->mixers, e);
}
const PluginManager::Entry<EvaluatorFactory>* PluginManager::FindEvaluator(const std::string& e) const {
  return FindIn(state_->evaluators, e);
}

long PluginManager::LibraryUseCount(const std::string& name) const {
  std::lock_guard<std::mutex> g(state_->mu);
  auto it = state_->libs.find(name);
  return it == state_->libs.end() ? 0 : it->second.use_count();
}

LayerPtr PluginManager::MakeLayer(const LayerEntry& e, const ConfigMessage& cfg, const LayerBuildContext& ctx) const {
  return std::make_unique<PluginLayer>(e.lib, e.make(cfg, ctx));
}
std::unique_ptr<Tokenizer> PluginManager::MakeTokenizer(const TokenizerEntry& e, const ConfigMessage& cfg,
                                                        const TokenizerBuildContext& ctx) const {
  return std::make_unique<PluginTokenizer>(e.lib, e.make(cfg, ctx));
}
std::unique_ptr<Tokenizer> PluginManager::LoadTokenizerState(const std::string& saved) const {
  const std::string tag = saved.substr(0, saved.find_first_of(" \n"));
  const TokenizerEntry* e = FindTokenizerByStateTag(tag);
  if (!e) return nullptr;
  return std::make_unique<PluginTokenizer>(e->lib, e->load(saved));
}
std::unique_ptr<TokenWeighting> PluginManager::MakeWeighting(const Entry<WeightingFactory>& e, const ConfigMessage& cfg,
                                                             const WeightingContext& ctx) const {
  return std::make_unique<PluginWeighting>(e.lib, e.make(cfg, ctx));
}
std::unique_ptr<DataMixer> PluginManager::MakeMixer(const Entry<MixerFactory>& e, const ConfigMessage& cfg,
                                                    const MixerContext& ctx) const {
  return std::make_unique<PluginMixer>(e.lib, e.make(cfg, ctx));
}
std::unique_ptr<Evaluator> PluginManager::MakeEvaluator(const Entry<EvaluatorFactory>& e, const ConfigMessage& cfg,
                                                        const EvaluatorContext& ctx) const {
  return std::make_unique<PluginEvaluator>(e.lib, e.make(cfg, ctx));
}

}  // namespace tinylm
