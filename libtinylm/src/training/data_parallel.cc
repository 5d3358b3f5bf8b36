#include "tinylm/training/data_parallel.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace tinylm {

namespace {

Tensor Rows(const Tensor& t, int64_t first, int64_t count) {
  if (!t.defined()) return Tensor();
  const int64_t rows = t.dim(0), per_row = t.numel() / rows, bytes = per_row * static_cast<int64_t>(DTypeSize(t.dtype()));
  Shape shape = t.shape();
  shape[0] = count;
  Tensor out = Tensor::Empty(shape, t.dtype());
  std::memcpy(out.raw(), static_cast<const char*>(t.raw()) + first * bytes, static_cast<size_t>(count * bytes));
  return out;
}

// The weight sum CrossEntropy would take over the whole batch, summed in the same order.
double WeightSum(const Tensor& weights, int64_t n) {
  if (!weights.defined()) return static_cast<double>(n);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += weights.f32()[i];
  return s;
}

}  // namespace

Batch ShardRows(const Batch& global, int rank, int size) {
  const int64_t rows = global.inputs.dim(0);
  if (rows % size != 0)
    throw std::invalid_argument("data parallel: " + std::to_string(size) + " ranks do not divide the batch's " +
                                std::to_string(rows) + " rows");
  const int64_t share = rows / size, first = rank * share;
  Batch b;
  b.inputs = Rows(global.inputs, first, share);
  b.targets = Rows(global.targets, first, share);
  b.weights = Rows(global.weights, first, share);
  b.input_weights = Rows(global.input_weights, first, share);
  return b;
}

StepResult DataParallelTrainStep(Context& ctx, LanguageModel& model, AdamW& opt, const Batch& global, float lr,
                                 double grad_clip, Communicator& comm) {
  if (!comm.distributed()) return TrainStep(ctx, model, opt, global, lr, grad_clip);
  Batch local = ShardRows(global, comm.rank(), comm.size());
  local.loss_normalizer = WeightSum(global.weights, global.targets.numel());
  local.reconstruction_normalizer = WeightSum(global.input_weights, global.inputs.numel());
  ctx.set_shard(comm.rank());  // dropout masks: this shard's slice of the whole batch's
  StepResult r = ForwardBackward(ctx, model, local);
  ctx.set_shard(0);
  ParamStore& store = model.store();
  comm.AllreduceSum(store.grads().f32(), store.size());
  double losses[2] = {r.loss, r.reconstruction_loss};
  comm.AllreduceSum(losses, 2);
  r.loss = losses[0];
  r.reconstruction_loss = losses[1];
  ApplyGradients(model, opt, lr, grad_clip, &r);
  return r;
}

}  // namespace tinylm
