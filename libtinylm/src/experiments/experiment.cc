#include "tinylm/experiments/experiment.h"

#include <absl/strings/str_cat.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <google/protobuf/text_format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tinylm/experiments/stage_data.h"
#include "tinylm/data/file_writes.h"
#include "tinylm/data/token_cache.h"
#include "tinylm/experiments/sequential.h"
#include "tinylm/model/checkpoint.h"
#include "tinylm/plugins/plugin_manager.h"

#ifndef TINYLM_CODE_VERSION
#define TINYLM_CODE_VERSION "unknown"
#endif

namespace tinylm {

const char* CodeVersion() { return TINYLM_CODE_VERSION; }

void DrawTrainingBatch(const PreparedStage& st, int stage, uint64_t seed, int64_t step, Batch* batch, Tensor* ones) {
  const uint64_t stream = 1000 + static_cast<uint64_t>(stage);
  if (st.chat_train) {
    st.chat_train->Sample(seed, stream, step, st.spec.batch_size(), batch);
  } else {
    WindowSampler sampler(st.train.get(), st.spec.seq_len());
    sampler.set_batch_size(st.spec.batch_size());
    sampler.Sample(seed, stream, step, batch);
  }
  // Weightings first, then the mixer: rows a mixer brings in (pretrain replay) keep the plain,
  // unweighted loss.
  if (!st.weightings.empty() || !st.ignore_ids.empty()) {
    if (!batch->weights.defined()) {  // streams carry no mask: start from ones
      batch->weights = EnsureShape(*ones, batch->targets.shape());
      batch->weights.Fill(1.0f);
    }
    for (const auto& w : st.weightings) w->Apply(*batch, batch->weights);
  }
  batch->input_weights = Tensor();
  if (!st.ignore_ids.empty()) {
    EnsureShape(batch->input_weights, batch->inputs.shape());
    const auto ignored = [&](int32_t id) {
      return std::find(st.ignore_ids.begin(), st.ignore_ids.end(), id) != st.ignore_ids.end();
    };
    for (int64_t i = 0; i < batch->targets.numel(); ++i) {
      if (ignored(batch->targets.s32()[i])) batch->weights.f32()[i] = 0.0f;
      batch->input_weights.f32()[i] = ignored(batch->inputs.s32()[i]) ? 0.0f : 1.0f;
    }
  }
  if (st.mixer) st.mixer->Mix(seed * 7919 + static_cast<uint64_t>(stage), step, batch);
}

std::unique_ptr<LanguageModel> Experiment::BuildModel() const {
  return tinylm::BuildModel(spec.model(), tokenizer->vocab_size(), tokenizer.get());
}

// The plugins a spec names, by content: a plugin rebuilt with other code makes other runs,
// other tokenizers and other token streams.
std::string PluginIdentity(const proto::ExperimentSpec& spec) {
  std::string id;
  for (const std::string& name : spec.plugins()) {
    const auto info = PluginManager::Global().Find(name);
    absl::StrAppend(&id, info ? absl::StrCat(info->name, " ", info->version, " ", Hex64(info->file_hash)) : name, "\n");
  }
  return id;
}

std::string Experiment::CacheKey(uint64_t seed) const {
  uint64_t h = Fnv64(run_text.data(), run_text.size());
  h = Fnv64(&seed, sizeof seed, h);
  h = Fnv64(CodeVersion(), std::strlen(CodeVersion()), h);
  h = Fnv64(&data_hash, sizeof data_hash, h);
  const std::string plugins = PluginIdentity(spec);
  h = Fnv64(plugins.data(), plugins.size(), h);
  return Hex64(h);
}

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// What determines one seed's results: the spec without its comparison fields.
std::string RunText(const proto::ExperimentSpec& s) {
  proto::ExperimentSpec run = s;
  for (int i = 0; i < run.GetDescriptor()->field_count(); ++i)
    if (const FieldDescriptor* f = run.GetDescriptor()->field(i); IsComparisonField(f->name()))
      run.GetReflection()->ClearField(&run, f);
  return SpecToText(run);
}

class Preparer {
 public:
  Preparer(const ResolvedSpec& rs, bool baseline, std::string data_dir)
      : rs_(rs), baseline_(baseline), data_dir_(std::move(data_dir)) {}

  [[noreturn]] void Fail(const std::string& path, const std::string& reason) const {
    throw rs_.ErrorAt(path, reason, baseline_);
  }

  Experiment Run() {
    Experiment e;
    e.spec = baseline_ ? rs_.baseline() : rs_.variant();
    e.role = rs_.has_baseline() ? (baseline_ ? "baseline" : "variant") : "single";
    proto::ExperimentSpec& s = e.spec;
    if (s.seeds_size() == 0) {
      s.add_seeds(1);
      s.add_seeds(2);
    }
    for (int i = 0; i < s.seeds_size(); ++i)
      for (int j = 0; j < i; ++j)
        if (s.seeds(j) == s.seeds(i))  // counted twice, a seed would pose as evidence it is not
          Fail("seeds", absl::StrCat("seed ", s.seeds(i), " is listed twice (seeds[", j, "] and seeds[", i,
                                     "]); each seed is one independent run"));
    e.seeds.assign(s.seeds().begin(), s.seeds().end());
    for (int i = 0; i < s.plugins_size(); ++i)  // LoadSpec loaded them; a --set may have added one
      if (!PluginManager::Global().IsLoaded(s.plugins(i)))
        Fail(absl::StrCat("plugins[", i, "]"), "plugin '" + s.plugins(i) + "' is not loaded (list plugins in the spec file)");

    const auto& ev = s.eval();
    if (ev.interval_steps() < 0) Fail("eval.interval_steps", "must not be negative");
    if (ev.max_tokens() <= 0) Fail("eval.max_tokens", "must be positive");
    if (ev.log_interval_steps() <= 0) Fail("eval.log_interval_steps", "must be positive");
    if (ev.temperature() < 0) Fail("eval.temperature", "must not be negative");
    if (ev.top_p() <= 0 || ev.top_p() > 1) Fail("eval.top_p", "must be in (0, 1]");
    if (s.runtime().threads() < 0) Fail("runtime.threads", "must not be negative");
    if (s.jobs() < 1 || s.jobs() > 256) Fail("jobs", "must be between 1 and 256");
    if (!baseline_) CheckComparisonOptions(s);

    // Stage settings and documents first: a trained tokenizer learns from them.
    if (s.stages_size() == 0) s.add_stages();
    cache_dir_ = TokenCacheDir(s.output_dir());
    plugin_identity_ = PluginIdentity(s);
    std::vector<std::unique_ptr<StageDocuments>> docs;
    for (int i = 0; i < s.stages_size(); ++i) {
      e.stages.push_back(StageSettings(s, i));
      docs.push_back(OpenStageDocuments(s, e.stages.back(), &e));
    }
    e.tokenizer = MakeTokenizer(&s, docs[0].get());
    for (int i = 0; i < s.stages_size(); ++i) CheckStageAgainstTokenizer(s, i, *e.tokenizer, &e.stages[i]);

    std::unique_ptr<LanguageModel> model;
    try {
      model = tinylm::BuildModel(s.model(), e.tokenizer->vocab_size(), e.tokenizer.get());
    } catch (const std::invalid_argument& err) {
      const std::string msg = err.what();
      const size_t colon = msg.find(": ");
      Fail(colon == std::string::npos ? "model" : msg.substr(0, colon),
           colon == std::string::npos ? msg : msg.substr(colon + 2));
    }
    e.params = model->NumParams();
    e.param_table = model->ParamTable();

    const TokenStream* pretrain = nullptr;
    for (int i = 0; i < s.stages_size(); ++i) {
      Tokenize(&e.stages[i], docs[i].get(), *e.tokenizer);
      if (!pretrain && !e.stages[i].chat_train) pretrain = e.stages[i].train.get();
      StagePlugins(s, i, &e.stages[i], *e.tokenizer, pretrain);
    }
    for (int i = 0; i < ev.evaluators_size(); ++i) {
      const std::string path = absl::StrCat("eval.evaluators[", i, "]");
      const Message& spec = ev.evaluators(i);
      const auto [ext, cfg] = Extension(spec, path);
      const auto* entry = PluginManager::Global().FindEvaluator(ext->full_name());
      if (!entry) Fail(path, NotRegistered(ext, "evaluator"));
      CheckConfig(entry->check, *cfg, path + ".[" + ext->full_name() + "]");
      e.evaluators.push_back(PluginManager::Global().MakeEvaluator(*entry, *cfg, {data_dir_, e.seeds[0]}));
    }

    if (ev.has_blimp()) {
      const auto& bl = ev.blimp();
      if (bl.pairs_per_phenomenon() < 0) Fail("eval.blimp.pairs_per_phenomenon", "must not be negative");
      if (bl.batch() <= 0) Fail("eval.blimp.batch", "must be positive");
      try {
        e.blimp_pairs = std::make_shared<const std::vector<BlimpPair>>(
            FirstPairsOfEachPhenomenon(LoadBlimp(data_dir_ + "/" + bl.path()), bl.pairs_per_phenomenon()));
      } catch (const std::runtime_error& err) {
        Fail("eval.blimp.path", err.what());
      }
    }

    e.spec_text = SpecToText(s);
    e.run_text = RunText(s);
    return e;
  }

 private:
  std::pair<const FieldDescriptor*, const Message*> Extension(const Message& m, const std::string& path) const {
    const FieldDescriptor* ext = nullptr;
    try {
      ext = SetExtension(m);
    } catch (const std::invalid_argument& err) {
      Fail(path, err.what());
    }
    if (!ext) Fail(path, "empty: set one plugin component, e.g. [tinylm.plugins.name] { ... }");
    return {ext, &m.GetReflection()->GetMessage(m, ext)};
  }

  // Sequential seeds, learning-rate sweeps and equal-FLOPs budgets shape a comparison.
  void CheckComparisonOptions(const proto::ExperimentSpec& s) const {
    if (s.has_sequential()) CheckSequential(s);
    if (s.has_lr_sweep()) {
      const proto::LrSweepSpec& q = s.lr_sweep();
      if (!rs_.has_baseline()) Fail("lr_sweep", "needs a comparison: set `base`");
      if (!(q.min_lr() > 0) || !std::isfinite(q.min_lr())) Fail("lr_sweep.min_lr", "must be positive");
      if (!(q.max_lr() >= q.min_lr()) || !std::isfinite(q.max_lr())) Fail("lr_sweep.max_lr", "must be at least min_lr");
      if (q.points() < 2 || q.points() > 20) Fail("lr_sweep.points", "must be between 2 and 20");
      for (uint64_t seed : s.seeds())
        if (seed == q.seed()) Fail("lr_sweep.seed", absl::StrCat("seed ", seed, " is one of the comparison's seeds; the sweep needs its own"));
      // Sequential seeds are numbered after the largest listed one.
      const uint64_t largest = *std::max_element(s.seeds().begin(), s.seeds().end());
      const uint64_t last_added = s.has_sequential() ? largest + s.sequential().max_seeds() : largest;
      if (q.seed() > largest && q.seed() <= last_added)
        Fail("lr_sweep.seed", absl::StrCat("seed ", q.seed(), " may be added by the sequential seeds; the sweep needs its own"));
    }
    if (s.equal_flops() && !rs_.has_baseline()) Fail("equal_flops", "needs a comparison: set `base`");
  }

  void CheckSequential(const proto::ExperimentSpec& s) const {
    const proto::SequentialSpec& q = s.sequential();
    if (!rs_.has_baseline()) Fail("sequential", "needs a comparison: set `base` (seeds of one experiment decide nothing)");
    if (s.seeds_size() < 2) Fail("seeds", "sequential seeds start from at least 2 listed seeds (the first look)");
    if (q.max_seeds() < s.seeds_size() || q.max_seeds() > kMaxSequentialSeeds)
      Fail("sequential.max_seeds", absl::StrCat("must be between the ", s.seeds_size(), " listed seeds and ", kMaxSequentialSeeds));
    if (q.metric().empty()) Fail("sequential.metric", "must name a table row, e.g. \"val bits/byte\"");
    if (!(q.resolution() >= 0)) Fail("sequential.resolution", "must not be negative");
    if (!(q.alpha() > 0 && q.alpha() < 1)) Fail("sequential.alpha", "must be in (0, 1)");
    if (!(q.spending_power() > 0) || !std::isfinite(q.spending_power())) Fail("sequential.spending_power", "must be positive");
  }

  static std::string NotRegistered(const FieldDescriptor* ext, const std::string& kind) {
    return "[" + ext->full_name() + "] is not registered as a " + kind + " by any loaded plugin";
  }

  // A plugin's own semantic check; "field: reason" errors point at that field.
  void CheckConfig(const ConfigCheck& check, const Message& cfg, const std::string& path) const {
    if (!check) return;
    const std::string err = check(cfg);
    if (err.empty()) return;
    const size_t colon = err.find(": ");
    if (colon != std::string::npos && cfg.GetDescriptor()->FindFieldByName(err.substr(0, colon)))
      Fail(path + "." + err.substr(0, colon), err.substr(colon + 2));
    Fail(path, err);
  }

  std::shared_ptr<Tokenizer> MakeTokenizer(proto::ExperimentSpec* s, StageDocuments* first_stage) {
    proto::TokenizerSpec* t = s->mutable_tokenizer();
    const FieldDescriptor* ext = nullptr;
    try {
      ext = SetExtension(*t);
    } catch (const std::invalid_argument& err) {
      Fail("tokenizer", err.what());
    }
    if (ext) {
      if (t->has_bytes()) Fail("tokenizer.bytes", "set either bytes or a plugin tokenizer, not both");
      const std::string path = "tokenizer.[" + ext->full_name() + "]";
      const auto* entry = PluginManager::Global().FindTokenizer(ext->full_name());
      if (!entry) Fail(path, NotRegistered(ext, "tokenizer"));
      const Message& cfg = t->GetReflection()->GetMessage(*t, ext);
      CheckConfig(entry->check, cfg, path);
      return PluginTokenizer(*entry, cfg, path, first_stage);
    }
    if (!t->has_bytes()) t->mutable_bytes()->set_end_of_text_byte(0);
    const auto& bt = t->bytes();
    if (bt.end_of_text_byte() < -1 || bt.end_of_text_byte() > 255)
      Fail("tokenizer.bytes.end_of_text_byte", "must be a byte value 0..255, or -1 for none");
    return std::make_shared<ByteTokenizer>(std::vector<std::string>(bt.special().begin(), bt.special().end()),
                                           bt.end_of_text_byte());
  }

  PreparedStage StageSettings(const proto::ExperimentSpec& s, int i) {
    const std::string p = absl::StrCat("stages[", i, "]");
    PreparedStage st;
    st.spec = s.stages(i);
    const auto& sp = st.spec;
    if (sp.tokens() <= 0) Fail(p + ".tokens", absl::StrCat("token budget must be positive, got ", sp.tokens()));
    if (sp.batch_size() <= 0) Fail(p + ".batch_size", "must be positive");
    if (sp.seq_len() <= 0) Fail(p + ".seq_len", "must be positive");
    const auto& o = sp.optimizer();
    if (!(o.lr() > 0)) Fail(p + ".optimizer.lr", "must be positive");
    if (o.beta1() < 0 || o.beta1() >= 1) Fail(p + ".optimizer.beta1", "must be in [0, 1)");
    if (o.beta2() < 0 || o.beta2() >= 1) Fail(p + ".optimizer.beta2", "must be in [0, 1)");
    if (o.weight_decay() < 0) Fail(p + ".optimizer.weight_decay", "must not be negative");
    if (o.grad_clip() < 0) Fail(p + ".optimizer.grad_clip", "must not be negative");
    if (sp.max_skipped_steps() < 0) Fail(p + ".max_skipped_steps", "must not be negative");
    const auto& sc = sp.schedule();
    if (sc.warmup_fraction() < 0 || sc.warmup_fraction() >= 1) Fail(p + ".schedule.warmup_fraction", "must be in [0, 1)");
    if (sc.min_lr_ratio() < 0 || sc.min_lr_ratio() > 1) Fail(p + ".schedule.min_lr_ratio", "must be in [0, 1]");
    const int64_t per_step = static_cast<int64_t>(sp.batch_size()) * sp.seq_len();
    st.steps = (sp.tokens() + per_step - 1) / per_step;
    st.data_path = sp.has_data() ? p + ".data" : "data";
    return st;
  }

  // Settings that depend on the tokenizer: positions per sequence (a grouped tokenizer packs
  // group_size ids into one), special tokens named by ignore_targets.
  void CheckStageAgainstTokenizer(const proto::ExperimentSpec& s, int i, const Tokenizer& tok, PreparedStage* st) {
    const std::string p = absl::StrCat("stages[", i, "]");
    const auto& sp = s.stages(i);
    const int64_t g = tok.group_size();
    if (sp.seq_len() % g != 0)
      Fail(p + ".seq_len", absl::StrCat("must be a multiple of the tokenizer's ", g, " ids per position"));
    if (sp.seq_len() / g > s.model().context())
      Fail(p + ".seq_len", absl::StrCat("sequence length ", sp.seq_len(), g > 1 ? absl::StrCat(" (", sp.seq_len() / g, " positions)") : "",
                                        " is longer than the model's context ", s.model().context(), " (model.context)"));
    if (g > 1 && sp.kind() == proto::StageSpec::SFT)
      Fail(p + ".kind", "instruction tuning needs a tokenizer with one id per position");
    for (int k = 0; k < sp.ignore_targets_size(); ++k) {
      const int32_t id = tok.SpecialId(sp.ignore_targets(k));
      if (id < 0)
        Fail(absl::StrCat(p, ".ignore_targets[", k, "]"),
             "the " + tok.type() + " tokenizer has no special token '" + sp.ignore_targets(k) + "'");
      st->ignore_ids.push_back(id);
    }
  }

  std::unique_ptr<StageDocuments> OpenStageDocuments(const proto::ExperimentSpec& s, const PreparedStage& st, Experiment* e) {
    const proto::DataSpec& d = st.spec.has_data() ? st.spec.data() : s.data();
    try {
      auto docs = std::make_unique<StageDocuments>(d, st.data_path, data_dir_, st.spec.kind() == proto::StageSpec::SFT);
      for (uint64_t h : docs->file_hashes()) e->data_hash = Fnv64(&h, sizeof h, e->data_hash ? e->data_hash : 1469598103934665603ULL);
      return docs;
    } catch (const StageDataError& err) {
      Fail(err.path, err.what());
    }
  }

  // A plugin tokenizer learns from a bounded sample of the first stage's training documents.
  // What it learned is cached by its configuration and those documents' key: preparing the
  // same data again (the other arm, a later ablation) loads it instead of training again.
  std::shared_ptr<Tokenizer> PluginTokenizer(const PluginManager::TokenizerEntry& entry, const Message& cfg,
                                             const std::string& path, StageDocuments* docs) {
    std::string cfg_text;
    google::protobuf::TextFormat::PrintToString(cfg, &cfg_text);
    const uint64_t key = ContentHash(absl::StrCat("tokenizer v1 ", cfg.GetDescriptor()->full_name(), "\n", cfg_text, "\n",
                                                  Hex64(docs->key()), " ", kTokenizerSampleBytes, "\n", plugin_identity_));
    const std::filesystem::path cached = std::filesystem::path(cache_dir_) / (Hex64(key) + ".tokenizer");
    try {
      if (std::ifstream in(cached, std::ios::binary); in) {
        std::ostringstream saved;
        saved << in.rdbuf();
        return LoadTokenizer(saved.str());
      }
    } catch (const std::exception&) {
      // A damaged cached tokenizer is trained again (and replaced) below.
    }
    std::shared_ptr<Tokenizer> tok;
    try {
      const std::vector<Document> sample = TokenizerSample(docs, kTokenizerSampleBytes);
      tok = PluginManager::Global().MakeTokenizer(entry, cfg, {&sample, 0});
    } catch (const StageDataError& err) {
      Fail(err.path, err.what());
    } catch (const std::exception& err) {
      Fail(path, err.what());
    }
    std::error_code ec;
    std::filesystem::create_directories(cache_dir_, ec);
    try {
      WriteFileAtomic(cached.string(), tok->Save());
    } catch (const std::runtime_error&) {  // a cache: failing to write it costs only time
    }
    return tok;
  }

  void Tokenize(PreparedStage* st, StageDocuments* docs, const Tokenizer& tok) {
    try {
      if (st->spec.kind() == proto::StageSpec::SFT) {
        // Instruction data is small: its examples are built in memory.
        std::vector<Document> train, val;
        docs->ForEachValidation([&](Document&& d) { return val.push_back(std::move(d)), true; });
        docs->ForEachTraining([&](Document&& d) { return train.push_back(std::move(d)), true; });
        st->train_documents = static_cast<int64_t>(train.size());
        st->val_documents = static_cast<int64_t>(val.size());
        st->dropped_overlap = docs->dropped_overlap();
        st->chat_train = std::make_shared<ChatExamples>(train, tok, st->spec.seq_len());
        st->chat_val = std::make_shared<ChatExamples>(val, tok, st->spec.seq_len());
        if (st->chat_train->response_tokens() == 0 || st->chat_val->response_tokens() == 0)
          throw std::runtime_error("no response token fits in seq_len " + std::to_string(st->spec.seq_len()));
      } else {
        CachedStreams c = StageStreams(docs, tok, plugin_identity_, cache_dir_, /*progress=*/true);
        st->train_documents = c.train_documents;
        st->val_documents = c.val_documents;
        st->dropped_overlap = c.dropped_overlap;
        st->train = std::make_shared<const TokenStream>(std::move(c.train));
        st->val = std::make_shared<const TokenStream>(std::move(c.val));
        WindowSampler(st->train.get(), st->spec.seq_len());
        WindowSampler(st->val.get(), st->spec.seq_len());
      }
    } catch (const StageDataError& err) {
      Fail(err.path, err.what());
    } catch (const std::runtime_error& err) {
      Fail(st->data_path, err.what());
    }
  }

  void StagePlugins(const proto::ExperimentSpec& s, int i, PreparedStage* st, const Tokenizer& tok,
                    const TokenStream* pretrain) {
    const std::string p = absl::StrCat("stages[", i, "]");
    const auto& sp = s.stages(i);
    for (int k = 0; k < sp.loss_weighting_size(); ++k) {
      const std::string path = absl::StrCat(p, ".loss_weighting[", k, "]");
      const auto [ext, cfg] = Extension(sp.loss_weighting(k), path);
      const auto* entry = PluginManager::Global().FindWeighting(ext->full_name());
      if (!entry) Fail(path, NotRegistered(ext, "token weighting"));
      CheckConfig(entry->check, *cfg, path + ".[" + ext->full_name() + "]");
      st->weightings.push_back(PluginManager::Global().MakeWeighting(
          *entry, *cfg, {&tok, sp.kind() == proto::StageSpec::SFT}));
    }
    if (sp.has_mixer()) {
      const std::string path = p + ".mixer";
      const auto [ext, cfg] = Extension(sp.mixer(), path);
      const auto* entry = PluginManager::Global().FindMixer(ext->full_name());
      if (!entry) Fail(path, NotRegistered(ext, "data mixer"));
      CheckConfig(entry->check, *cfg, path + ".[" + ext->full_name() + "]");
      try {
        st->mixer = PluginManager::Global().MakeMixer(*entry, *cfg, {pretrain, sp.seq_len()});
      } catch (const std::exception& err) {
        Fail(path, err.what());
      }
    }
  }

  const ResolvedSpec& rs_;
  bool baseline_;
  std::string data_dir_, cache_dir_;
  std::string plugin_identity_;  // of the spec's plugins: their tokenizers' cached output is theirs
};

}  // namespace

Experiment WithStageSettings(const Experiment& e, const std::function<void(int, proto::StageSpec*)>& change) {
  Experiment out = e;
  for (int i = 0; i < out.spec.stages_size(); ++i) {
    // The spec and the stage's effective settings hold the same values: the same edit on each.
    change(i, out.spec.mutable_stages(i));
    PreparedStage& st = out.stages[i];
    change(i, &st.spec);
    const int64_t per_step = static_cast<int64_t>(st.spec.batch_size()) * st.spec.seq_len();
    st.steps = (st.spec.tokens() + per_step - 1) / per_step;
  }
  out.spec_text = SpecToText(out.spec);
  out.run_text = RunText(out.spec);
  return out;
}

Experiment WithThreads(const Experiment& e, int threads) {
  Experiment out = e;
  out.spec.mutable_runtime()->set_threads(threads);
  out.spec_text = SpecToText(out.spec);
  out.run_text = RunText(out.spec);
  return out;
}

Experiment PrepareExperiment(const ResolvedSpec& rs, bool baseline, const std::string& data_dir) {
  return Preparer(rs, baseline, data_dir).Run();
}

}  // namespace tinylm
