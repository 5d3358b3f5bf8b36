// How much memory a spec needs before anything is trained, so that a run that cannot fit is
// refused with the figures instead of being killed by the kernel hours in (or taking the
// laptop down with it). Per run: parameters, their gradients and AdamW's two moments (the four
// arenas, exact from the model's layout), the activations and gradients of one training step
// (measured: one step of the real model at batch 1, the tensor pool's peak scaled by the
// batch size, the largest stage's), and per process the data held in memory. Runs side by
// side (`jobs`) each need their own; the process itself (libraries, prepared data) is counted
// once, as measured when the estimate is made.
#pragma once
#include <cstdint>
#include <string>

#include "tinylm/experiments/experiment.h"

namespace tinylm {

struct MemoryEstimate {
  int64_t arena_bytes = 0;       // values, gradients, Adam m and v
  int64_t activation_bytes = 0;  // one training step at the largest stage's batch
  int64_t overhead_bytes = 0;    // kernels' scratch and caches seen during the probe step
  int64_t runs_at_once = 1;
  int64_t process_bytes = 0;     // the process before any run: libraries, runtime, prepared data
  int64_t data_bytes = 0;        // of which token streams and examples in memory
                                 // (mapped caches are page cache: not counted)
  int64_t mapped_bytes = 0;      // mapped token caches (shared, evictable page cache)
  int64_t per_run() const { return arena_bytes + activation_bytes + overhead_bytes; }
  int64_t total() const { return process_bytes + per_run() * runs_at_once; }
  std::string Describe() const;  // one line per part, human units
};

// Values, gradients and AdamW's two moments: four fp32 arenas of `params` (ParamStore).
inline int64_t ArenaBytes(int64_t params) { return 4 * 4 * params; }

// Probes `e` (builds the model, one step at batch 1). `jobs`: runs at once.
MemoryEstimate EstimateMemory(const Experiment& e, int jobs);

// The machine's physical memory and what is available now (/proc/meminfo), in bytes.
int64_t MachineMemoryBytes();
int64_t AvailableMemoryBytes();

}  // namespace tinylm
