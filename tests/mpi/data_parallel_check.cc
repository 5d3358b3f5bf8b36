// Data-parallel training against one process, run under mpirun (tests/CMakeLists.txt: mpirun
// -np 2 and -np 4). Every rank trains two copies of a small transformer from the same seed on
// the same global batches: one alone on the whole batch (TrainStep, the single-process result),
// one over the ranks on its share (DataParallelTrainStep). After each step the losses and
// gradient norms must agree to 1e-6 and, after the last step, every weight to 1e-5 (relative to
// the largest); the data-parallel weights must be bit-identical on every rank. Batches carry
// loss weights with zeros (prompt masking), so each shard's loss must divide by the whole
// batch's weight; the model has dropout, so each rank must draw the single process's masks for its
// rows (Context::set_shard). Exit status 0 when everything holds; each failure is printed.
#include <cmath>
#include <cstdio>
#include <string>

#include "tinylm/distributed/communicator.h"
#include "tinylm/model/checkpoint.h"
#include "tinylm/model/model.h"
#include "tinylm/tensors/rng.h"
#include "tinylm/training/data_parallel.h"
#include "tinylm/training/optim.h"

using namespace tinylm;

namespace {

int failures = 0;

void Expect(bool ok, int rank, const std::string& what) {
  if (ok) return;
  std::printf("rank %d: FAIL %s\n", rank, what.c_str());
  ++failures;
}

Batch DrawBatch(int64_t rows, int64_t seq, int64_t vocab, uint64_t step) {
  Batch b;
  b.inputs = Tensor::Empty({rows, seq}, DType::kS32);
  b.targets = Tensor::Empty({rows, seq}, DType::kS32);
  b.weights = Tensor::Empty({rows, seq});
  for (int64_t i = 0; i < rows * seq; ++i) {
    b.inputs.s32()[i] = static_cast<int32_t>(CounterUniform(7, step * 3, i) * vocab) % vocab;
    b.targets.s32()[i] = static_cast<int32_t>(CounterUniform(7, step * 3 + 1, i) * vocab) % vocab;
    // A quarter of the positions masked, the rest weighted 1 or 2 (uneven across shards).
    const double u = CounterUniform(7, step * 3 + 2, i);
    b.weights.f32()[i] = u < 0.25 ? 0.0f : u < 0.7 ? 1.0f : 2.0f;
  }
  return b;
}

double MaxRel(const float* a, const float* b, int64_t n) {
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < n; ++i) {
    diff = std::max(diff, static_cast<double>(std::fabs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
  }
  return diff / scale;
}

}  // namespace

int main() {
  Communicator& comm = Communicator::World();
  const int rank = comm.rank();
  proto::TransformerConfig cfg;
  cfg.set_vocab_size(64);
  cfg.set_d_model(32);
  cfg.set_layers(2);
  cfg.set_heads(2);
  cfg.set_ffn_hidden(48);
  cfg.set_context(16);
  cfg.set_qk_norm(true);
  cfg.set_dropout(0.2f);  // masks keyed by the global element: N ranks draw the single process's
  auto alone = BuildTransformer(cfg), together = BuildTransformer(cfg);
  alone->store().Allocate(11);
  together->store().Allocate(11);
  AdamW opt_alone({0.9f, 0.95f, 1e-8f, 0.1f}), opt_together({0.9f, 0.95f, 1e-8f, 0.1f});
  Context ctx(1, 11);  // one thread per rank: the ranks share this machine's cores
  const int64_t rows = 8, seq = 16;
  for (uint64_t step = 0; step < 5; ++step) {
    ctx.set_step(static_cast<int64_t>(step));
    const Batch batch = DrawBatch(rows, seq, cfg.vocab_size(), step);
    const StepResult a = TrainStep(ctx, *alone, opt_alone, batch, 3e-3f, 1.0);
    const StepResult t = DataParallelTrainStep(ctx, *together, opt_together, batch, 3e-3f, 1.0, comm);
    const double dl = std::fabs(a.loss - t.loss) / a.loss, dg = std::fabs(a.grad_norm - t.grad_norm) / a.grad_norm;
    if (rank == 0)
      std::printf("step %llu: loss %.9f alone, %.9f over %d ranks (rel %.2g); grad norm rel %.2g\n",
                  static_cast<unsigned long long>(step), a.loss, t.loss, comm.size(), dl, dg);
    Expect(dl <= 1e-6, rank, "loss at step " + std::to_string(step));
    Expect(dg <= 1e-6, rank, "gradient norm at step " + std::to_string(step));
  }
  const ParamStore& sa = alone->store();
  const ParamStore& st = together->store();
  const double dw = MaxRel(st.values().f32(), sa.values().f32(), sa.size());
  if (rank == 0) std::printf("weights after 5 steps: max rel %.2g\n", dw);
  Expect(dw <= 1e-5, rank, "weights after 5 steps");
  // The ranks' copies are one model: bit-identical everywhere.
  const std::string hash = Hex64(Fnv64(st.values().f32(), sa.size() * sizeof(float)));
  const std::vector<std::string> hashes = comm.Gather(hash);
  for (size_t r = 1; r < hashes.size(); ++r) Expect(hashes[r] == hashes[0], rank, "rank " + std::to_string(r) + "'s weights");
  const bool any_failed = comm.AnyTrue(failures > 0);
  if (rank == 0) std::printf("%s over %d ranks\n", any_failed ? "FAILED" : "ok", comm.size());
  return any_failed ? 1 : 0;
}
