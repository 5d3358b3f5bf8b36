// tinylm-train: a short byte-level training run of the core transformer on real data, with
// periodic validation (loss, bits per byte, accuracy) and a live progress line. It is the
// README's main job until `ablate` (issue 3) takes over.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "tinylm/data.h"
#include "tinylm/model.h"

namespace po = boost::program_options;
using namespace tinylm;

namespace {

struct EvalResult {
  double loss = 0, accuracy = 0;
};

EvalResult Evaluate(Context& ctx, LanguageModel& m, const ByteWindowSampler& val, int64_t batch,
                    int64_t windows) {
  double ce = 0;
  int64_t count = 0, correct = 0;
  for (int64_t w = 0; w < windows; w += batch) {
    const Batch b = val.Fixed(batch, w, windows);
    const LossResult r = CrossEntropy(m.Forward(ctx, b.inputs, Mode::kEval), b.targets, Tensor(), Tensor());
    ce += r.ce_sum;
    count += r.count;
    correct += r.correct;
  }
  return {ce / count, static_cast<double>(correct) / count};
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description opts("tinylm-train: train the core byte-level transformer");
  int64_t steps, batch, seq, eval_every, val_windows;
  int threads, layers, d_model, heads, ffn;
  uint64_t seed;
  float lr, min_lr;
  bool qk_norm;
  std::string data_dir, train_file, val_file;
  opts.add_options()("help,h", "show this help")
      ("data-dir", po::value(&data_dir)->default_value(""), "data directory (default: $TINYLM_DATA_DIR or ../shared/data)")
      ("train", po::value(&train_file)->default_value("tinystories/ts_v2_train_head.txt"), "training text, relative to the data dir")
      ("val", po::value(&val_file)->default_value("tinystories/ts_v1_valid_head.txt"), "validation text, relative to the data dir")
      ("steps", po::value(&steps)->default_value(300), "optimiser steps")
      ("batch", po::value(&batch)->default_value(32), "sequences per batch")
      ("seq", po::value(&seq)->default_value(256), "sequence length")
      ("lr", po::value(&lr)->default_value(2e-3f), "peak learning rate")
      ("min-lr", po::value(&min_lr)->default_value(2e-4f), "final learning rate")
      ("layers", po::value(&layers)->default_value(5), "transformer blocks")
      ("d-model", po::value(&d_model)->default_value(128), "width")
      ("heads", po::value(&heads)->default_value(4), "attention heads")
      ("ffn", po::value(&ffn)->default_value(336), "SwiGLU hidden width")
      ("qk-norm", po::value(&qk_norm)->default_value(true), "per-head QK RMSNorm")
      ("eval-every", po::value(&eval_every)->default_value(100), "validate every N steps")
      ("val-windows", po::value(&val_windows)->default_value(256), "validation windows of seq bytes")
      ("threads", po::value(&threads)->default_value(0), "threads (0 = all cores)")
      ("seed", po::value(&seed)->default_value(1), "seed for init, data order and dropout");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "tinylm-train: " << e.what() << "\n" << opts;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  try {
    if (steps <= 0 || batch <= 0 || seq <= 0) throw std::invalid_argument("--steps, --batch and --seq must be positive");
    const std::string dir = ResolveDataDir(data_dir);
    ByteWindowSampler train(ReadFileBytes(dir + "/" + train_file), seq, seed);
    ByteWindowSampler val(ReadFileBytes(dir + "/" + val_file), seq, seed);
    val_windows = std::min(val_windows, val.num_fixed_windows());

    proto::TransformerConfig cfg;
    cfg.set_vocab_size(256);
    cfg.set_d_model(d_model);
    cfg.set_layers(layers);
    cfg.set_heads(heads);
    cfg.set_ffn_hidden(ffn);
    cfg.set_context(seq);
    cfg.set_qk_norm(qk_norm);
    cfg.set_tie_embeddings(true);
    auto model = BuildTransformer(cfg);
    model->store().Allocate(seed);
    Context ctx(threads, seed);
    std::printf("model: %lld parameters (d_model %d, %d layers, %d heads, SwiGLU %d, qk_norm %s)\n",
                static_cast<long long>(model->NumParams()), d_model, layers, heads, ffn, qk_norm ? "on" : "off");
    std::printf("data: train %s (%lld bytes), validation %s (%lld windows of %lld)\n", train_file.c_str(),
                static_cast<long long>(train.size()), val_file.c_str(), static_cast<long long>(val_windows),
                static_cast<long long>(seq));
    std::printf("run: %lld steps x %lld x %lld tokens, %d threads\n", static_cast<long long>(steps),
                static_cast<long long>(batch), static_cast<long long>(seq), ctx.threads());

    AdamW opt({0.9f, 0.95f, 1e-8f, 0.1f});
    const ScheduleOptions sched{lr, min_lr, std::max<int64_t>(1, steps / 20), steps};
    const bool tty = isatty(fileno(stdout));
    const auto start = std::chrono::steady_clock::now();
    double smooth = 0;
    for (int64_t s = 0; s < steps; ++s) {
      ctx.set_step(s);
      const StepResult r = TrainStep(ctx, *model, opt, train.Sample(batch, s), ScheduledLr(sched, s), 1.0);
      smooth = s == 0 ? r.loss : 0.95 * smooth + 0.05 * r.loss;
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double tps = (s + 1) * batch * seq / secs;
      const double eta = (steps - s - 1) * batch * seq / tps;
      if (tty || (s + 1) % 25 == 0 || s + 1 == steps) {
        std::printf("%sstep %5lld/%lld  tokens %9lld  loss %.4f  lr %.2e  %7.0f tok/s  ETA %4.0fs%s",
                    tty ? "\r" : "", static_cast<long long>(s + 1), static_cast<long long>(steps),
                    static_cast<long long>((s + 1) * batch * seq), smooth, r.lr, tps, eta, tty ? "" : "\n");
        std::fflush(stdout);
      }
      if ((s + 1) % eval_every == 0 || s + 1 == steps) {
        const EvalResult e = Evaluate(ctx, *model, val, batch, val_windows);
        std::printf("%sval   %5lld: loss %.4f  bits/byte %.4f  accuracy %.4f\n", tty ? "\n" : "",
                    static_cast<long long>(s + 1), e.loss, e.loss / std::log(2.0), e.accuracy);
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "tinylm-train: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
