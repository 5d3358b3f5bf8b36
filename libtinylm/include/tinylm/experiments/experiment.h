// An experiment prepared for training: the resolved spec validated end to end (tokenizer,
// data read and tokenized, model built), so that every error surfaces before any training.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tinylm/data/data.h"
#include "tinylm/evaluation/blimp.h"
#include "tinylm/model/model.h"
#include "tinylm/plugins/plugin.h"
#include "tinylm/experiments/spec.h"
#include "tinylm/data/tokenizer.h"

namespace tinylm {

struct PreparedStage {
  proto::StageSpec spec;  // effective settings (defaults filled in)
  int64_t steps = 0;
  std::string data_path;  // spec path of its DataSpec ("data" or "stages[i].data")
  // PRETRAIN: token streams. SFT: chat examples. Immutable once prepared and shared by every
  // copy of the experiment (sweeps, equal-FLOPs budgets, per-job thread counts), so that the
  // pointers plugins keep into them (a replay mixer's stream) stay valid whichever copy lives.
  std::shared_ptr<const TokenStream> train = std::make_shared<const TokenStream>(),
                                     val = std::make_shared<const TokenStream>();
  std::shared_ptr<ChatExamples> chat_train, chat_val;
  int64_t train_documents = 0, val_documents = 0, dropped_overlap = 0;
  std::vector<std::shared_ptr<TokenWeighting>> weightings;  // applied in order to each batch
  std::shared_ptr<DataMixer> mixer;                         // or null
  std::vector<int32_t> ignore_ids;  // spec.ignore_targets as token ids (weight 0 as targets)
};

struct Experiment {
  proto::ExperimentSpec spec;
  std::string spec_text;  // canonical text of `spec`
  // What determines one seed's results: spec_text without name, description, seeds, output
  // directory and base bookkeeping. Cache keys hash it; resume checks it.
  std::string run_text;
  std::string role;       // "baseline", "variant" or "single"
  std::shared_ptr<Tokenizer> tokenizer;
  std::vector<PreparedStage> stages;
  std::vector<uint64_t> seeds;
  uint64_t data_hash = 0;  // of every data file's bytes
  int64_t params = 0;
  std::string param_table;
  std::vector<std::shared_ptr<Evaluator>> evaluators;  // run after training
  // BLiMP pairs when eval.blimp is set (loaded and checked before training), else null.
  std::shared_ptr<const std::vector<BlimpPair>> blimp_pairs;

  std::unique_ptr<LanguageModel> BuildModel() const;
  // Identifies a run's results: spec text, seed, code version and data contents.
  std::string CacheKey(uint64_t seed) const;
};

// The training batch of stage `st` (index `stage` in its experiment) at `step` of the run with
// `seed`: drawn from the stage's data, its weightings applied, then its mixer. A pure function
// of (seed, stage, step), so a resumed run sees the same data. `ones` is a reusable buffer for
// the weights of streams that carry none. Used by the trainer and the speed probes alike.
void DrawTrainingBatch(const PreparedStage& st, int stage, uint64_t seed, int64_t step, Batch* batch, Tensor* ones);

// A copy of `e` that trains with other stage settings: `change(i, stage)` edits stage i's spec
// (a learning rate, a token budget; not its data), steps follow the token budget, and the spec
// texts and cache key follow the change. Used by learning-rate sweeps and equal-FLOPs budgets,
// so they need not prepare the data again.
Experiment WithStageSettings(const Experiment& e, const std::function<void(int, proto::StageSpec*)>& change);

// A copy of `e` whose runs use `threads` threads (runtime.threads): the thread count enters the
// spec texts and so the cache key, since results are bit-exact only for a given count.
Experiment WithThreads(const Experiment& e, int threads);

// The code version baked in at build time (git describe, or the project version).
const char* CodeVersion();

// The plugins a spec names, by content (name, version, file hash): a plugin rebuilt with other
// code makes other runs (Experiment::CacheKey), tokenizers and token streams (the token cache).
std::string PluginIdentity(const proto::ExperimentSpec& spec);

// Validates and prepares the variant (or, with baseline = true, the baseline) of `rs`.
// Throws SpecError "file:line:col: field.path: reason" on any problem.
Experiment PrepareExperiment(const ResolvedSpec& rs, bool baseline, const std::string& data_dir);

}  // namespace tinylm
