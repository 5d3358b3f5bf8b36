// Independent runs (seeds x arms x learning rates) spread over the ranks of an MPI job:
// `mpirun -np N ablate SPEC`. Every rank prepares the same ablation and asks for the same runs;
// request i is trained by the i-th live rank round robin, on that rank's cores (`jobs` at a time,
// as without MPI), and every rank collects every result, so all ranks take the same decisions
// (learning-rate choice, sequential seeds) and the lowest live rank writes the report.
//
// Why results travel through files and not MPI messages: a rank that dies (killed, out of
// memory, its node lost) must lose only its own runs. Open MPI 4.1 keeps the other ranks going
// when started with --enable-recovery, but a collective or a receive involving a dead rank
// waits forever. So each finished run's summary is written to <output_dir>/.ranks/<job>/ (the
// runs write their directories under <output_dir> anyway, which a cluster's ranks must share),
// and each rank holds a lock there for its whole life: when a result is missing and its rank's
// lock is free, that rank is gone and the run is lost (RunSummary.lost) — reported, left out of
// the comparison, trained by the next `--resume` from its last checkpoint. Later requests skip
// dead ranks. MPI itself is used once, at the start, while every rank is alive: to agree on
// the job's directory and to know that every rank holds its lock.
#pragma once
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "results.pb.h"
#include "tinylm/data/file_writes.h"
#include "tinylm/distributed/communicator.h"
#include "tinylm/experiments/run_pool.h"

namespace tinylm {

class RankSweep {
 public:
  // Collective: every rank of `comm` constructs it (with the same output directory).
  RankSweep(Communicator& comm, const std::string& output_dir);
  ~RankSweep();

  // Every rank calls it with the same requests; every rank gets every summary, in request order.
  // A run whose rank stopped before finishing it, or in which training threw, comes back with
  // `lost` set (why, and on which rank) instead of throwing. RunInterrupted (asked to stop)
  // still ends this rank.
  std::vector<proto::RunSummary> TrainAll(const std::vector<RunRequest>& requests, int jobs, const TrainRunFn& train);

  // Whether this rank writes the report: the lowest rank still alive.
  bool Leads() const;

 private:
  std::string ResultPath(int index) const;
  std::string AlivePath(int rank) const;
  // Request `index`'s summary from `owner`'s result file, or a lost run once `owner` is gone.
  proto::RunSummary AwaitResult(int index, int owner, const RunRequest& request);

  Communicator& comm_;
  std::string dir_;                 // <output_dir>/.ranks/<job>
  std::unique_ptr<FileLock> alive_;  // held for this process's life
  int phase_ = 0;                    // TrainAll calls so far: result files are per phase
  std::set<int> dead_;               // ranks found gone, agreed by all (see TrainAll)
};

}  // namespace tinylm
