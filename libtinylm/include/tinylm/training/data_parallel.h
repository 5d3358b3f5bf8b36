// Data-parallel training over the ranks of a Communicator: every rank draws the same global batch
// (a pure function of seed and step), trains on its share of the rows, and the gradients are
// summed with MPI_Allreduce before clipping and AdamW, which then run identically on every rank.
// Each shard's loss divides by the whole batch's weight (Batch::loss_normalizer), so the summed
// gradient is the whole batch's gradient: N ranks reproduce one process up to the order in
// which float sums are taken (the weight gradients' sums over rows are split by rank).
#pragma once
#include "tinylm/distributed/communicator.h"
#include "tinylm/model/model.h"
#include "tinylm/training/optim.h"

namespace tinylm {

// Rows [rank * B / size, (rank + 1) * B / size) of every tensor of `global`; throws
// std::invalid_argument when the ranks do not divide the batch's rows.
Batch ShardRows(const Batch& global, int rank, int size);

// TrainStep over the ranks: the same result on every rank (loss, gradient norm, updated
// weights); with one rank exactly TrainStep.
StepResult DataParallelTrainStep(Context& ctx, LanguageModel& model, AdamW& opt, const Batch& global, float lr,
                                 double grad_clip, Communicator& comm);

}  // namespace tinylm
