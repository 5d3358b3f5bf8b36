#include "tinylm/experiment.h"

#include <absl/strings/str_cat.h>

#include <cmath>
#include <cstring>

#include "tinylm/checkpoint.h"

#ifndef TINYLM_CODE_VERSION
#define TINYLM_CODE_VERSION "unknown"
#endif

namespace tinylm {

const char* CodeVersion() { return TINYLM_CODE_VERSION; }

std::unique_ptr<LanguageModel> Experiment::BuildModel() const {
  return tinylm::BuildModel(spec.model(), tokenizer->vocab_size());
}

std::string Experiment::CacheKey(uint64_t seed) const {
  uint64_t h = Fnv64(run_text.data(), run_text.size());
  h = Fnv64(&seed, sizeof seed, h);
  h = Fnv64(CodeVersion(), std::strlen(CodeVersion()), h);
  h = Fnv64(&data_hash, sizeof data_hash, h);
  return Hex64(h);
}

namespace {

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
    e.seeds.assign(s.seeds().begin(), s.seeds().end());
    for (int i = 0; i < s.plugins_size(); ++i)
      Fail(absl::StrCat("plugins[", i, "]"), "plugin '" + s.plugins(i) + "' not found (no plugin is installed on the search path)");

    // Tokenizer.
    if (!s.has_tokenizer() || s.tokenizer().kind_case() == proto::TokenizerSpec::KIND_NOT_SET)
      s.mutable_tokenizer()->mutable_bytes()->set_end_of_text_byte(0);
    if (s.tokenizer().has_plugin())
      Fail("tokenizer.plugin.type", "no tokenizer type '" + s.tokenizer().plugin().type() + "' is registered");
    const auto& bt = s.tokenizer().bytes();
    if (bt.end_of_text_byte() < -1 || bt.end_of_text_byte() > 255)
      Fail("tokenizer.bytes.end_of_text_byte", "must be a byte value 0..255, or -1 for none");
    e.tokenizer = std::make_shared<ByteTokenizer>(std::vector<std::string>(bt.special().begin(), bt.special().end()),
                                                  bt.end_of_text_byte());

    // Model (built once here to validate it and count parameters).
    std::unique_ptr<LanguageModel> model;
    try {
      model = tinylm::BuildModel(s.model(), e.tokenizer->vocab_size());
    } catch (const std::invalid_argument& err) {
      const std::string msg = err.what();
      const size_t colon = msg.find(": ");
      Fail(colon == std::string::npos ? "model" : msg.substr(0, colon),
           colon == std::string::npos ? msg : msg.substr(colon + 2));
    }
    e.params = model->NumParams();
    e.param_table = model->ParamTable();

    // Evaluation and runtime settings.
    const auto& ev = s.eval();
    if (ev.interval_steps() < 0) Fail("eval.interval_steps", "must not be negative");
    if (ev.max_tokens() <= 0) Fail("eval.max_tokens", "must be positive");
    if (ev.log_interval_steps() <= 0) Fail("eval.log_interval_steps", "must be positive");
    if (ev.temperature() < 0) Fail("eval.temperature", "must not be negative");
    if (ev.top_p() <= 0 || ev.top_p() > 1) Fail("eval.top_p", "must be in (0, 1]");
    for (int i = 0; i < ev.metrics_size(); ++i)
      Fail(absl::StrCat("eval.metrics[", i, "]"), "no evaluator '" + ev.metrics(i) + "' is registered (missing plugin?)");
    if (s.runtime().threads() < 0) Fail("runtime.threads", "must not be negative");

    // Stages.
    if (s.stages_size() == 0) s.add_stages();
    for (int i = 0; i < s.stages_size(); ++i) e.stages.push_back(Stage(s, i, &e));
    e.spec_text = SpecToText(s);
    proto::ExperimentSpec run = s;
    for (const char* f : {"name", "description", "base", "seeds", "output_dir", "replace"})
      run.GetReflection()->ClearField(&run, run.GetDescriptor()->FindFieldByName(f));
    e.run_text = SpecToText(run);
    return e;
  }

 private:
  PreparedStage Stage(const proto::ExperimentSpec& s, int i, Experiment* e) {
    const std::string p = absl::StrCat("stages[", i, "]");
    PreparedStage st;
    st.spec = s.stages(i);
    const auto& sp = st.spec;
    if (sp.tokens() <= 0) Fail(p + ".tokens", absl::StrCat("token budget must be positive, got ", sp.tokens()));
    if (sp.batch_size() <= 0) Fail(p + ".batch_size", "must be positive");
    if (sp.seq_len() <= 0) Fail(p + ".seq_len", "must be positive");
    if (sp.seq_len() > s.model().context())
      Fail(p + ".seq_len", absl::StrCat("sequence length ", sp.seq_len(), " is longer than the model's context ",
                                        s.model().context(), " (model.context)"));
    const auto& o = sp.optimizer();
    if (!(o.lr() > 0)) Fail(p + ".optimizer.lr", "must be positive");
    if (o.beta1() < 0 || o.beta1() >= 1) Fail(p + ".optimizer.beta1", "must be in [0, 1)");
    if (o.beta2() < 0 || o.beta2() >= 1) Fail(p + ".optimizer.beta2", "must be in [0, 1)");
    if (o.weight_decay() < 0) Fail(p + ".optimizer.weight_decay", "must not be negative");
    if (o.grad_clip() < 0) Fail(p + ".optimizer.grad_clip", "must not be negative");
    const auto& sc = sp.schedule();
    if (sc.warmup_fraction() < 0 || sc.warmup_fraction() >= 1) Fail(p + ".schedule.warmup_fraction", "must be in [0, 1)");
    if (sc.min_lr_ratio() < 0 || sc.min_lr_ratio() > 1) Fail(p + ".schedule.min_lr_ratio", "must be in [0, 1]");
    for (int k = 0; k < sp.loss_weighting_size(); ++k)
      Fail(absl::StrCat(p, ".loss_weighting[", k, "].type"),
           "no loss weighting type '" + sp.loss_weighting(k).type() + "' is registered");
    const int64_t per_step = static_cast<int64_t>(sp.batch_size()) * sp.seq_len();
    st.steps = (sp.tokens() + per_step - 1) / per_step;

    // Data.
    st.data_path = sp.has_data() ? p + ".data" : "data";
    const proto::DataSpec& d = sp.has_data() ? sp.data() : s.data();
    if (d.train_size() == 0) Fail(st.data_path + ".train", "no training data sources");
    const bool sft = sp.kind() == proto::StageSpec::SFT;
    std::vector<Document> train = Load(d.train(), st.data_path + ".train", sft, e);
    std::vector<Document> val;
    if (d.validation_size() > 0) {
      val = Load(d.validation(), st.data_path + ".validation", sft, e);
    } else {
      const float f = d.validation_fraction();
      if (!(f > 0 && f < 1)) Fail(st.data_path + ".validation_fraction", "must be in (0, 1) when no validation source is given");
      const size_t n_val = std::max<size_t>(1, static_cast<size_t>(std::llround(train.size() * f)));
      if (n_val >= train.size()) Fail(st.data_path + ".validation_fraction", "leaves no training documents");
      val.assign(train.end() - n_val, train.end());
      train.resize(train.size() - n_val);
    }
    if (d.drop_validation_overlap()) st.dropped_overlap = DropOverlap(&train, val);
    if (train.empty()) Fail(st.data_path + ".train", "no training documents left after removing validation overlap");
    st.train_documents = static_cast<int64_t>(train.size());
    st.val_documents = static_cast<int64_t>(val.size());
    const Tokenizer& tok = *e->tokenizer;
    try {
      if (sft) {
        st.chat_train = std::make_shared<ChatExamples>(train, tok, sp.seq_len());
        st.chat_val = std::make_shared<ChatExamples>(val, tok, sp.seq_len());
      } else {
        st.train = Tokenize(train, tok);
        st.val = Tokenize(val, tok);
        WindowSampler(&st.train, sp.seq_len());
        WindowSampler(&st.val, sp.seq_len());
      }
    } catch (const std::runtime_error& err) {
      Fail(st.data_path, err.what());
    }
    return st;
  }

  std::vector<Document> Load(const google::protobuf::RepeatedPtrField<proto::DataSource>& sources,
                             const std::string& path, bool sft, Experiment* e) {
    std::vector<Document> all;
    for (int j = 0; j < sources.size(); ++j) {
      const std::string sp = absl::StrCat(path, "[", j, "]");
      const proto::DataSource& src = sources.Get(j);
      if (!src.has_path() || src.path().empty()) Fail(sp + ".path", "missing file path");
      if (sft && src.format() != proto::DataSource::PROMPT_RESPONSE)
        Fail(sp + ".format", "an sft stage needs PROMPT_RESPONSE records");
      std::vector<Document> docs;
      try {
        docs = LoadDocuments(src, data_dir_);
        const std::string bytes = ReadFileBytes(data_dir_ + "/" + src.path());
        e->data_hash = Fnv64(bytes.data(), bytes.size(), e->data_hash ? e->data_hash : 1469598103934665603ULL);
      } catch (const std::runtime_error& err) {
        Fail(sp + ".path", err.what());
      }
      if (docs.empty()) Fail(sp + ".path", "no documents in '" + src.path() + "' (empty corpus)");
      all.insert(all.end(), std::make_move_iterator(docs.begin()), std::make_move_iterator(docs.end()));
    }
    return all;
  }

  const ResolvedSpec& rs_;
  bool baseline_;
  std::string data_dir_;
};

}  // namespace

Experiment PrepareExperiment(const ResolvedSpec& rs, bool baseline, const std::string& data_dir) {
  return Preparer(rs, baseline, data_dir).Run();
}

}  // namespace tinylm
