#include "tinylm/training/trainer.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tinylm/evaluation/embedding_spread.h"
#include "tinylm/data/file_writes.h"
#include "tinylm/model/checkpoint.h"
#include "tinylm/training/data_parallel.h"
#include "tinylm/training/interrupt.h"
#include "tinylm/model/generate.h"
#include "tinylm/training/divergence.h"
#include "tinylm/training/metrics_csv.h"

namespace tinylm {

namespace fs = std::filesystem;

bool ReadFinishedRun(const std::string& dir, proto::RunSummary* out) {
  std::ifstream f(dir + "/summary.json");
  if (!f) return false;
  std::stringstream ss;
  ss << f.rdbuf();
  return google::protobuf::util::JsonStringToMessage(ss.str(), out).ok();
}

namespace {

double Log2Ratio(double nats_sum, int64_t bytes) { return bytes > 0 ? nats_sum / std::log(2.0) / bytes : 0.0; }

// Accumulates the unweighted cross-entropy of the rows of `b` whose weight is non-zero.
struct EvalAccumulator {
  double ce = 0;
  int64_t count = 0, correct = 0, bytes = 0;
  double spread = -1;
  void Add(Context& ctx, LanguageModel& model, const Tokenizer& tok, const Batch& b) {
    // First: Forward below reuses the pooled buffer the embedding's output lives in.
    if (spread < 0) spread = EmbeddingSpread(ctx, model, b.inputs);
    const Tensor logits = model.Forward(ctx, b.inputs, Mode::kEval);
    // Unweighted: a 0/1 mask only (weights > 0 count with weight 1).
    Tensor mask = Tensor::Empty(b.targets.shape());
    for (int64_t i = 0; i < mask.numel(); ++i) {
      const bool on = !b.weights.defined() || b.weights.f32()[i] > 0.0f;
      mask.f32()[i] = on ? 1.0f : 0.0f;
      if (on) bytes += tok.TokenBytes(b.targets.s32()[i]);
    }
    const LossResult r = CrossEntropy(logits, b.targets, mask, Tensor());
    ce += r.ce_sum;
    count += r.count;
    correct += r.correct;
  }
  EvalResult Result() const {
    EvalResult e;
    e.tokens = count;
    e.loss = count ? ce / count : 0;
    e.bpb = Log2Ratio(ce, bytes);
    e.accuracy = count ? static_cast<double>(correct) / count : 0;
    e.embedding_spread = std::max(spread, 0.0);
    return e;
  }
};

}  // namespace

EvalResult EvaluateStream(Context& ctx, LanguageModel& model, const Tokenizer& tok, const TokenStream& s,
                          int64_t batch, int64_t seq, int64_t max_tokens) {
  const int64_t g = s.group;  // targets are one position (g ids) ahead
  const int64_t windows = std::min((static_cast<int64_t>(s.tokens.size()) - g) / seq, std::max<int64_t>(1, max_tokens / seq));
  EvalAccumulator acc;
  Batch b{Tensor::Empty({batch, seq}, DType::kS32), Tensor::Empty({batch, seq}, DType::kS32), Tensor::Empty({batch, seq})};
  // Same [batch, seq] shape as training (same cached primitives); rows past the end are
  // copies with weight 0.
  std::vector<int32_t> p(seq + g);
  for (int64_t w0 = 0; w0 < windows; w0 += batch) {
    for (int64_t r = 0; r < batch; ++r) {
      const int64_t w = std::min(w0 + r, windows - 1);
      s.tokens.Read(w * seq, seq + g, p.data());
      for (int64_t t = 0; t < seq; ++t) {
        b.inputs.s32()[r * seq + t] = p[t];
        b.targets.s32()[r * seq + t] = p[t + g];
        b.weights.f32()[r * seq + t] = w0 + r < windows ? 1.0f : 0.0f;
      }
    }
    acc.Add(ctx, model, tok, b);
  }
  return acc.Result();
}

EvalResult EvaluateChat(Context& ctx, LanguageModel& model, const Tokenizer& tok, const ChatExamples& ex,
                        int64_t batch, int64_t max_tokens) {
  EvalAccumulator acc;
  Batch b;
  ex.Sample(0, 0, 0, batch, &b);  // allocates the [batch, seq] tensors once; rows are refilled below
  for (int64_t e0 = 0; e0 < ex.size() && acc.count < max_tokens; e0 += batch) {
    for (int64_t r = 0; r < batch; ++r) {
      ex.Fill(std::min(e0 + r, ex.size() - 1), r, &b);
      if (e0 + r >= ex.size())
        for (int64_t t = 0; t < b.weights.dim(1); ++t) b.weights.f32()[r * b.weights.dim(1) + t] = 0.0f;
    }
    acc.Add(ctx, model, tok, b);
  }
  return acc.Result();
}

namespace {

// Metrics are written with 17 significant digits: a double read back from metrics.jsonl (a
// resumed run reloads its curves from it) is the double that was written, so a resumed run's
// curves equal an uninterrupted run's exactly.
std::string Json(double v) { return std::isfinite(v) ? absl::StrFormat("%.17g", v) : "null"; }

// Keeps the complete lines of metrics.jsonl up to step `upto` (a resume's checkpoint): a line
// cut short by a kill or a full disk, and anything after the checkpoint, goes.
void TruncateMetrics(const std::string& path, int64_t upto) {
  if (!fs::exists(path)) return;
  std::string kept;
  ForEachCompleteLine(ReadFileIfExists(path), [&](std::string_view line) {
    const size_t at = line.find("\"step\":");
    if (at == std::string_view::npos) return;
    const std::string_view number = line.substr(at + 7, line.find_first_of(",}", at + 7) - (at + 7));
    int64_t step = 0;
    if (!absl::SimpleAtoi(absl::string_view(number.data(), number.size()), &step) || step > upto) return;
    kept.append(line).append("\n");
  });
  WriteFileAtomic(path, kept);
}

std::vector<std::string> DefaultPrompts() { return {"Once upon a time", "The little dog", "One day, Lily"}; }

class Run {
 public:
  Run(const Experiment& e, const RunOptions& o)
      : e_(e),
        o_(o),
        ctx_(o.threads > 0 ? o.threads : e.spec.runtime().threads(), o.seed),
        comm_(o.data_parallel && o.data_parallel->distributed() ? o.data_parallel : nullptr),
        writer_(!comm_ || comm_->rank() == 0) {
    ctx_.set_bf16_matmuls(e.spec.runtime().precision() == proto::RuntimeSpec::BF16);
  }

  proto::RunSummary Go() {
    if (writer_) {
      fs::create_directories(o_.dir);
      fs::remove(o_.dir + "/summary.json");  // a stale summary must not mark this run finished
    }
    model_ = e_.BuildModel();
    model_->store().Allocate(o_.seed);
    const std::string ckpt = o_.dir + "/checkpoint.bin";
    const std::string metrics = o_.dir + "/metrics.jsonl";
    int start_stage = 0;
    int64_t start_step = 0;
    if (Agreed(o_.resume && writer_ && fs::exists(ckpt))) {
      const proto::CheckpointHeader h = LoadCheckpointOnEveryRank(ckpt);
      start_stage = h.stage();
      start_step = h.stage_step();
      global_step_ = h.global_step();
      tokens_ = h.tokens();
      wall_before_ = h.wall_seconds();
      adam_steps_ = h.adam_steps();
      if (writer_) TruncateMetrics(metrics, global_step_);
      summary_curves_from_metrics_ = true;
    }
    if (writer_) {
      metrics_ = std::make_unique<AppendOnlyFile>(metrics, /*truncate=*/!summary_curves_from_metrics_);
      if (summary_curves_from_metrics_) ReloadCurves(metrics);
    }
    start_ = std::chrono::steady_clock::now();
    for (int s = start_stage; s < static_cast<int>(e_.stages.size()); ++s) {
      switch (TrainStage(s, s == start_stage ? start_step : 0)) {
        case StageEnd::kStopped: return proto::RunSummary();
        case StageEnd::kInterrupted:
          throw RunInterrupted(absl::StrCat(o_.label.empty() ? "run" : o_.label, " interrupted at step ", global_step_,
                                            "; checkpoint ", o_.dir, "/checkpoint.bin"));
        case StageEnd::kDiverged: return FinishDiverged();
        case StageEnd::kDone: break;
      }
    }
    return Finish();
  }

 private:
  // Rank 0's decision, on every rank (this process's own without data parallelism).
  bool Agreed(bool rank0_decides) { return comm_ ? comm_->BroadcastFlag(rank0_decides) : rank0_decides; }

  // Rank 0 reads and verifies the checkpoint; every rank receives its header and arenas (the
  // ranks need not share a filesystem, and a checkpoint holds no per-rank state, so any rank
  // count that divides the batch resumes it).
  proto::CheckpointHeader LoadCheckpointOnEveryRank(const std::string& ckpt) {
    proto::CheckpointHeader h;
    if (writer_) {
      h = LoadCheckpoint(ckpt, &model_->store());
      // The run key covers spec, seed, code version and data: resuming anything else would
      // silently mix two experiments.
      if (h.run_key() != e_.CacheKey(o_.seed))
        throw std::runtime_error(ckpt + ": written by a different spec, seed, code version or data; remove it or "
                                        "drop --resume");
    }
    if (!comm_) return h;
    (void)h.ParseFromString(comm_->Broadcast(writer_ ? h.SerializeAsString() : std::string()));
    ParamStore& store = model_->store();
    for (const Tensor* arena : {&store.values(), &store.adam_m(), &store.adam_v()})
      comm_->Broadcast(const_cast<float*>(arena->f32()), store.size());
    store.Touch();
    return h;
  }

  void Log(const std::string& line) {
    if (metrics_) metrics_->Append(line);
  }

  double Elapsed() const {
    return wall_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  void ReloadCurves(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      google::protobuf::Value v;
      if (!google::protobuf::util::JsonStringToMessage(line, &v).ok()) continue;
      const auto& f = v.struct_value().fields();
      if (f.count("skipped")) {  // a skipped non-finite step: counted, not a curve point
        summary_.set_skipped_steps(summary_.skipped_steps() + 1);
        continue;
      }
      if (!f.count("stage") || !f.count("step") || !f.count("tokens")) continue;
      proto::CurvePoint p;
      p.set_stage(f.at("stage").string_value());
      p.set_step(static_cast<int64_t>(f.at("step").number_value()));
      p.set_tokens(static_cast<int64_t>(f.at("tokens").number_value()));
      if (f.count("val_loss")) {
        p.set_loss(f.at("val_loss").number_value());
        *summary_.add_val_curve() = p;
      } else if (f.count("loss")) {
        p.set_loss(f.at("loss").number_value());
        *summary_.add_train_curve() = p;
      }
    }
  }

  EvalResult Evaluate(const PreparedStage& st) {
    const int64_t max_tokens = e_.spec.eval().max_tokens();
    if (st.chat_val) return EvaluateChat(ctx_, *model_, *e_.tokenizer, *st.chat_val, st.spec.batch_size(), max_tokens);
    return EvaluateStream(ctx_, *model_, *e_.tokenizer, *st.val, st.spec.batch_size(), st.spec.seq_len(), max_tokens);
  }

  // Evaluates; false (and the run marked diverged) when the validation loss is not finite or
  // has exploded (training/divergence.h).
  bool LogEval(const PreparedStage& st) {
    // Rank 0 evaluates; the others wait for its verdict (go on, or diverged).
    return Agreed(writer_ && EvaluateAndLog(st));
  }

  bool EvaluateAndLog(const PreparedStage& st) {
    const EvalResult r = Evaluate(st);
    if (!std::isfinite(r.loss) || r.loss > ExplodedLossThreshold(model_->vocab_size())) {
      MarkDiverged(st, global_step_, absl::StrFormat("validation loss %s nats per token (a uniform guess: %.2f)",
                                                     std::isfinite(r.loss) ? absl::StrFormat("%.4g", r.loss) : "null", std::log(static_cast<double>(model_->vocab_size()))), {});
      return false;
    }
    Log(absl::StrCat("{\"stage\":\"", st.spec.name(), "\",\"step\":", global_step_, ",\"tokens\":", tokens_,
                             ",\"val_loss\":", Json(r.loss), ",\"val_bpb\":", Json(r.bpb),
                             ",\"val_accuracy\":", Json(r.accuracy), ",\"embedding_spread\":", Json(r.embedding_spread),
                             "}\n"));
    proto::CurvePoint* p = summary_.add_val_curve();
    p->set_stage(st.spec.name());
    p->set_step(global_step_);
    p->set_tokens(tokens_);
    p->set_loss(r.loss);
    last_eval_ = r;
    return true;
  }

  // Records where and why the run diverged (summary, metrics.jsonl, progress output).
  void MarkDiverged(const PreparedStage& st, int64_t step, const std::string& reason, const NonFiniteSite& site) {
    proto::Divergence* d = summary_.mutable_divergence();
    d->set_stage(st.spec.name());
    d->set_step(step);
    d->set_layer(site.layer);
    d->set_reason(site.where.empty() ? reason : reason + ", first in the " + site.where);
    Log(absl::StrCat("{\"stage\":\"", st.spec.name(), "\",\"step\":", step, ",\"diverged\":true}\n"));
    if (!writer_) return;
    std::printf("%s %s diverged at step %lld: %s%s\n", o_.label.c_str(), st.spec.name().c_str(), static_cast<long long>(step),
                d->reason().c_str(), site.layer.empty() ? "" : (" of " + site.layer).c_str());
    std::fflush(stdout);
  }

  void Progress(const PreparedStage& st, int64_t step, double loss, double tps, bool force) {
    if (!writer_) return;
    const double remaining = (total_steps_left_ * st.spec.batch_size() * st.spec.seq_len()) / std::max(tps, 1.0);
    const std::string line = absl::StrFormat("%s %s step %d/%d  tokens %d  loss %.4f  %.0f tok/s  ETA %.0fs",
                                             o_.label, st.spec.name(), step, st.steps, tokens_, loss, tps, remaining);
    if (o_.tty) {
      std::printf("\r%-100s", line.c_str());
      std::fflush(stdout);
    } else if (force) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }
  }

  enum class StageEnd { kDone, kStopped, kInterrupted, kDiverged };

  // A step that is not finite, or whose loss exploded: skipped (SKIP_STEP, up to
  // max_skipped_steps in a row) or the end of the run. Returns true when training goes on.
  bool HandleBadStep(const PreparedStage& st, const Batch& batch, const StepResult& r) {
    const auto& sp = st.spec;
    const int64_t step = global_step_ + 1;
    if (r.finite) {  // finite but exploded: skipping would not bring it back
      MarkDiverged(st, step, absl::StrFormat("training loss %.4g nats per token (a uniform guess: %.2f)", r.loss,
                                             std::log(static_cast<double>(model_->vocab_size()))), {});
      return false;
    }
    if (sp.on_nonfinite() == proto::StageSpec::SKIP_STEP && skipped_in_row_ < sp.max_skipped_steps()) {
      ++skipped_in_row_;
      summary_.set_skipped_steps(summary_.skipped_steps() + 1);
      Log(absl::StrCat("{\"stage\":\"", sp.name(), "\",\"step\":", step, ",\"skipped\":true}\n"));
      return true;
    }
    const std::string why = skipped_in_row_ > 0 ? absl::StrCat(skipped_in_row_ + 1, " non-finite steps in a row")
                                                : std::string("non-finite loss or gradient");
    MarkDiverged(st, step, why, writer_ ? LocateNonFinite(ctx_, *model_, batch) : NonFiniteSite{});
    return false;
  }

  StageEnd TrainStage(int s, int64_t first_step) {
    const PreparedStage& st = e_.stages[s];
    const auto& sp = st.spec;
    const auto& o = sp.optimizer();
    AdamW opt({o.beta1(), o.beta2(), o.eps(), o.weight_decay()});
    opt.set_steps(first_step > 0 ? adam_steps_ : 0);
    if (first_step == 0) {
      // A fresh optimizer per stage: moments restart (instruction tuning starts clean).
      model_->store().adam_m().SetZero();
      model_->store().adam_v().SetZero();
    }
    const ScheduleOptions sched{o.lr(), o.lr() * sp.schedule().min_lr_ratio(),
                                static_cast<int64_t>(std::floor(sp.schedule().warmup_fraction() * st.steps)), st.steps};
    Batch batch;
    const auto& ev = e_.spec.eval();
    const int64_t per_step = static_cast<int64_t>(sp.batch_size()) * sp.seq_len();
    const auto stage_start = std::chrono::steady_clock::now();
    double smooth = NAN;  // set by the first finite step
    const double exploded = ExplodedLossThreshold(model_->vocab_size());
    auto last_print = stage_start;
    for (int64_t step = first_step; step < st.steps; ++step) {
      if (o_.stop_after_steps >= 0 && global_step_ >= o_.stop_after_steps) return StageEnd::kStopped;
      if (comm_ ? comm_->AnyTrue(InterruptSignal() != 0) : InterruptSignal() != 0) {
        // Asked to stop: a checkpoint at this step boundary, from which --resume continues
        // exactly as if nothing had happened.
        Checkpoint(s, step, step > 0 ? opt.steps() : 0);
        return StageEnd::kInterrupted;
      }
      ctx_.set_step(global_step_);
      DrawTrainingBatch(st, static_cast<int>(s), o_.seed, step, &batch, &ones_weights_);
      const auto t0 = std::chrono::steady_clock::now();
      const float lr = ScheduledLr(sched, step);
      const StepResult r = comm_ ? DataParallelTrainStep(ctx_, *model_, opt, batch, lr, o.grad_clip(), *comm_)
                                 : TrainStep(ctx_, *model_, opt, batch, lr, o.grad_clip());
      train_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!r.finite || r.loss > exploded) {
        if (!HandleBadStep(st, batch, r)) return StageEnd::kDiverged;
      } else {
        skipped_in_row_ = 0;
      }
      ++global_step_;
      tokens_ += per_step;
      trained_tokens_ += per_step;
      if (r.finite) smooth = !std::isfinite(smooth) ? r.loss : 0.9 * smooth + 0.1 * r.loss;
      const double stage_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - stage_start).count();
      const double tps = (step + 1 - first_step) * per_step / std::max(stage_secs, 1e-9);
      if (r.finite && (global_step_ % ev.log_interval_steps() == 0 || step + 1 == st.steps)) {
        Log(absl::StrCat("{\"stage\":\"", sp.name(), "\",\"step\":", global_step_, ",\"tokens\":", tokens_,
                                 ",\"loss\":", Json(r.loss),
                                 model_->reconstruction_head() ? absl::StrCat(",\"reconstruction_loss\":", Json(r.reconstruction_loss)) : "",
                                 ",\"lr\":", Json(r.lr), ",\"grad_norm\":", Json(r.grad_norm),
                                 ",\"tokens_per_sec\":", Json(tps), "}\n"));
        proto::CurvePoint* p = summary_.add_train_curve();
        p->set_stage(sp.name());
        p->set_step(global_step_);
        p->set_tokens(tokens_);
        p->set_loss(r.loss);
      }
      total_steps_left_ = st.steps - step - 1;
      for (size_t k = s + 1; k < e_.stages.size(); ++k) total_steps_left_ += e_.stages[k].steps;
      const auto now = std::chrono::steady_clock::now();
      const bool periodic = std::chrono::duration<double>(now - last_print).count() > (o_.tty ? 0.2 : 15.0);
      if (periodic || step + 1 == st.steps) {
        Progress(st, step + 1, smooth, tps, true);
        last_print = now;
      }
      if (ev.interval_steps() > 0 && (step + 1) % ev.interval_steps() == 0 && step + 1 < st.steps && !LogEval(st))
        return StageEnd::kDiverged;
      const int64_t ck = ev.checkpoint_interval_steps();
      if (ck > 0 && (step + 1) % ck == 0 && step + 1 < st.steps) Checkpoint(s, step + 1, opt.steps());
    }
    if (!LogEval(st)) return StageEnd::kDiverged;
    if (o_.tty && writer_) std::printf("\n");
    // Stage boundary checkpoint: a resume starts the next stage.
    Checkpoint(s + 1, 0, 0);
    return StageEnd::kDone;
  }

  void Checkpoint(int stage, int64_t stage_step, int64_t adam_steps) {
    if (!writer_) return;  // every rank holds the same weights and moments
    proto::CheckpointHeader h;
    h.set_spec_text(e_.spec_text);
    h.set_run_key(e_.CacheKey(o_.seed));
    h.set_seed(o_.seed);
    h.set_stage(stage);
    h.set_stage_step(stage_step);
    h.set_global_step(global_step_);
    h.set_tokens(tokens_);
    h.set_wall_seconds(Elapsed());
    h.set_adam_steps(adam_steps);
    h.set_tokenizer(e_.tokenizer->Save());
    h.set_code_version(CodeVersion());
    SaveCheckpoint(o_.dir + "/checkpoint.bin", h, model_->store());
  }

  void SetIdentity(proto::RunSummary& r) {
    r.set_experiment(e_.spec.name());
    r.set_role(e_.role);
    r.set_seed(o_.seed);
    r.set_params(e_.params);
    r.set_tokens(tokens_);
    r.set_wall_seconds(Elapsed());
    r.set_spec_hash(e_.CacheKey(o_.seed));
    r.set_code_version(CodeVersion());
    if (comm_) r.set_data_parallel_ranks(comm_->size());
  }

  void WriteSummary(const proto::RunSummary& r) {
    // metrics.csv once the run is over (finished or diverged): converting the whole log at every
    // checkpoint would make a long run's bookkeeping quadratic.
    WriteFileAtomic(o_.dir + "/metrics.csv", MetricsCsv(ReadFileIfExists(o_.dir + "/metrics.jsonl")));
    WriteFileAtomic(o_.dir + "/spec.pbtxt", e_.spec_text);
    std::string json;
    google::protobuf::util::JsonPrintOptions jo;
    jo.add_whitespace = true;
    jo.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(r, &json, jo);
    WriteFileAtomic(o_.dir + "/summary.json", json);  // last: marks the run finished
  }

  // A diverged run is a finished result: its summary names the step and layer, no final
  // evaluation, samples or checkpoint are written (the last periodic checkpoint is the last good
  // state), and a rerun reads the same result from the cache.
  proto::RunSummary FinishDiverged() {
    if (!writer_) return proto::RunSummary();  // rank 0's summary reaches every rank (TrainRun)
    SetIdentity(summary_);
    WriteSummary(summary_);
    return summary_;
  }

  proto::RunSummary Finish() {
    if (!writer_) return proto::RunSummary();  // rank 0's summary reaches every rank (TrainRun)
    proto::RunSummary& r = summary_;
    SetIdentity(r);
    // Training throughput: optimiser steps only (evaluation and sampling excluded). After a
    // resume it covers the resumed part.
    r.set_train_tokens_per_sec(trained_tokens_ / std::max(train_seconds_, 1e-9));
    r.set_val_loss(last_eval_.loss);
    r.set_val_bpb(last_eval_.bpb);
    r.set_val_accuracy(last_eval_.accuracy);
    r.set_embedding_spread(last_eval_.embedding_spread);
    // Forgetting: the first pretraining stage's validation text after all stages.
    r.set_pretrain_val_bpb(last_eval_.bpb);
    for (size_t s = 0; s + 1 < e_.stages.size(); ++s)
      if (!e_.stages[s].chat_val) {
        const PreparedStage& st = e_.stages[s];
        r.set_pretrain_val_bpb(EvaluateStream(ctx_, *model_, *e_.tokenizer, *st.val, st.spec.batch_size(),
                                              st.spec.seq_len(), e_.spec.eval().max_tokens()).bpb);
        break;
      }
    // Samples from fixed prompts.
    const auto& ev = e_.spec.eval();
    std::vector<std::string> prompts(ev.sample_prompts().begin(), ev.sample_prompts().end());
    if (prompts.empty()) prompts = DefaultPrompts();
    SamplingOptions so;
    so.temperature = ev.temperature();
    so.top_k = ev.top_k();
    so.top_p = ev.top_p();
    so.max_tokens = ev.sample_tokens();
    double rep = 0;
    std::string samples_txt;
    for (size_t i = 0; i < prompts.size(); ++i) {
      so.seed = o_.seed * 1000 + i;
      const std::string text = e_.tokenizer->Decode(Generate(ctx_, *model_, *e_.tokenizer, e_.tokenizer->Encode(prompts[i]), so));
      proto::GeneratedSample* g = r.add_samples();
      g->set_prompt(prompts[i]);
      g->set_text(text);
      g->set_repetition(RepetitionShare(text));
      rep += g->repetition();
      absl::StrAppend(&samples_txt, "### ", prompts[i], "\n", prompts[i], text, "\n\n(repetition ",
                      absl::StrFormat("%.3f", g->repetition()), ")\n\n");
    }
    r.set_repetition(prompts.empty() ? 0 : rep / prompts.size());
    for (const auto& ev_plugin : e_.evaluators)
      for (const auto& [name, value] : ev_plugin->Evaluate(ctx_, *model_, *e_.tokenizer)) (*r.mutable_extra_metrics())[name] = value;
    if (e_.blimp_pairs) RunBlimp(&r);
    WriteFileAtomic(o_.dir + "/samples.md", samples_txt);
    WriteSummary(r);
    return r;
  }

  // BLiMP accuracy overall and per field into the summary's metrics; the per-phenomenon table
  // into blimp.md.
  void RunBlimp(proto::RunSummary* r) {
    const BlimpResult b = EvaluateBlimp(ctx_, *model_, *e_.tokenizer, *e_.blimp_pairs, e_.spec.eval().blimp().batch());
    (*r->mutable_extra_metrics())["blimp_accuracy"] = b.overall.accuracy();
    for (const BlimpScore& f : b.fields) (*r->mutable_extra_metrics())["blimp_accuracy_" + f.name] = f.accuracy();
    std::string md = absl::StrFormat("# BLiMP, seed %d\n\n%d pairs, %.0f pairs/s\n\n| | accuracy | 95%% interval | pairs |\n|---|---|---|---|\n",
                                     o_.seed, b.overall.total, b.pairs_per_second);
    auto row = [&](const BlimpScore& s) {
      absl::StrAppendFormat(&md, "| %s | %.4f | [%.4f, %.4f] | %d |\n", s.name, s.accuracy(), s.ci_low(), s.ci_high(), s.total);
    };
    row(b.overall);
    for (const BlimpScore& f : b.fields) row(f);
    for (const BlimpScore& ph : b.phenomena) row(ph);
    WriteFileAtomic(o_.dir + "/blimp.md", md);
  }

  const Experiment& e_;
  const RunOptions& o_;
  Context ctx_;
  Communicator* comm_;  // data-parallel over its ranks; null: alone
  bool writer_;         // rank 0, or alone: evaluates, prints, writes
  std::unique_ptr<LanguageModel> model_;
  std::unique_ptr<AppendOnlyFile> metrics_;  // metrics.jsonl (rank 0 only)
  proto::RunSummary summary_;
  EvalResult last_eval_;
  int64_t global_step_ = 0, tokens_ = 0, adam_steps_ = 0, total_steps_left_ = 0;
  double wall_before_ = 0, train_seconds_ = 0;
  int64_t trained_tokens_ = 0;  // in this process (not before a resume)
  int32_t skipped_in_row_ = 0;  // non-finite steps skipped since the last good one
  Tensor ones_weights_;         // weights buffer for stages whose batches carry none
  bool summary_curves_from_metrics_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

proto::RunSummary TrainRun(const Experiment& e, const RunOptions& o) {
  Communicator* comm = o.data_parallel && o.data_parallel->distributed() ? o.data_parallel : nullptr;
  const bool writer = !comm || comm->rank() == 0;
  proto::RunSummary done;
  const bool finished = writer && ReadFinishedRun(o.dir, &done) && done.spec_hash() == e.CacheKey(o.seed);
  if (!comm) return finished ? done : Run(e, o).Go();
  // Rank 0's summary (cached, or trained by all) on every rank: the ranks go on to the same
  // decisions (learning-rate choice, sequential seeds).
  proto::RunSummary r = comm->BroadcastFlag(finished) ? done : Run(e, o).Go();
  (void)r.ParseFromString(comm->Broadcast(writer ? r.SerializeAsString() : std::string()));
  return r;
}

}  // namespace tinylm
