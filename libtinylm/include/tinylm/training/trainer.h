// Training one (experiment, seed): stages in order, metrics as JSON lines, periodic
// evaluation and resumable checkpoints, final evaluation and samples, summary.json last
// (its presence marks a finished run).
#pragma once
#include <functional>
#include <string>

#include "results.pb.h"
#include "tinylm/distributed/communicator.h"
#include "tinylm/experiments/experiment.h"

namespace tinylm {

struct RunOptions {
  uint64_t seed = 1;
  std::string dir;        // run directory (created)
  bool resume = false;    // continue from dir/checkpoint.bin if present
  int threads = 0;        // 0: the spec's runtime.threads (0 there: all cores)
  std::string label;      // shown in the progress line
  bool tty = false;       // rewrite the progress line in place
  int64_t stop_after_steps = -1;  // stop (as if killed) after this many global steps; tests
  // Data-parallel: every rank of `data_parallel` calls TrainRun with the same arguments and they
  // train the run together (training/data_parallel.h), each on its share of every batch. Rank 0
  // reads the cache and checkpoint, evaluates, prints and writes everything; the others follow
  // its decisions and return its summary. "Stop" is agreed by all, so all stop at one step.
  // Null, or a world of one process: this process alone.
  Communicator* data_parallel = nullptr;
};

struct EvalResult {
  double loss = 0, bpb = 0, accuracy = 0;
  int64_t tokens = 0;
  // EmbeddingSpread (evaluation/embedding_spread.h) over the first evaluation batch.
  double embedding_spread = 0;
};

// Unweighted cross-entropy over non-overlapping windows of a token stream (at most max_tokens
// targets), bits per UTF-8 byte of the covered text, next-token accuracy and the embedding's
// spread.
EvalResult EvaluateStream(Context& ctx, LanguageModel& model, const Tokenizer& tok, const TokenStream& s,
                          int64_t batch, int64_t seq, int64_t max_tokens);
// Held-out response loss of chat examples (masked to assistant tokens).
EvalResult EvaluateChat(Context& ctx, LanguageModel& model, const Tokenizer& tok, const ChatExamples& ex,
                        int64_t batch, int64_t max_tokens);

// Runs (or resumes, or — when dir/summary.json exists — returns the finished) run.
proto::RunSummary TrainRun(const Experiment& e, const RunOptions& o);

// Reads dir/summary.json if the run there finished; returns false otherwise.
bool ReadFinishedRun(const std::string& dir, proto::RunSummary* out);


}  // namespace tinylm
