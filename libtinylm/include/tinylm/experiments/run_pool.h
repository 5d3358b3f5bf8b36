// Independent training runs (seeds x arms x learning rates) trained `jobs` at a time in one
// process, each on its own std::thread. Each run builds its own Context, which sizes the OpenMP
// team of the thread it runs on, so `jobs` runs of `cores / jobs` threads share the cores
// without oversubscribing them. Why in one process: the prepared data (token streams,
// tokenizer) is shared read-only instead of being prepared again per process.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "results.pb.h"
#include "tinylm/experiments/experiment.h"

namespace tinylm {

// Trains (or reads from the cache) one run of an arm: ablate's runner, with a log label.
using TrainRunFn = std::function<proto::RunSummary(const Experiment&, uint64_t seed, const std::string& label)>;

struct RunRequest {
  const Experiment* experiment = nullptr;
  uint64_t seed = 0;
  std::string label;
};

// Trains a list of requests, returning their summaries in request order: TrainRuns below, or the
// runs spread over the ranks of an MPI job (experiments/rank_sweep.h).
using TrainAllFn = std::function<std::vector<proto::RunSummary>(const std::vector<RunRequest>&)>;

// Trains every request through `train`, at most `jobs` at once, and returns the summaries in
// request order. When a run throws, the runs already started finish, no new one starts, and the
// first exception is rethrown. `train` must be safe to call from several threads (TrainRun is:
// a run shares only read-only state with the others).
std::vector<proto::RunSummary> TrainRuns(const std::vector<RunRequest>& requests, int jobs, const TrainRunFn& train);

// Threads per run when `jobs` runs share this machine's cores (at least 1).
int ThreadsPerJob(int jobs);

}  // namespace tinylm
