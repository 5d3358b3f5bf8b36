#include "tinylm/experiments/memory_estimate.h"

#include <absl/strings/str_format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "tinylm/training/optim.h"

namespace tinylm {
namespace {

std::string Size(int64_t bytes) {
  if (bytes >= (int64_t{1} << 30)) return absl::StrFormat("%.2f GiB", bytes / 1073741824.0);
  return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
}

// A field of /proc/meminfo or /proc/self/status in bytes (their values are in kB); 0 if absent.
int64_t ProcField(const char* file, const std::string& field) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  return 0;
}

}  // namespace

int64_t MachineMemoryBytes() { return ProcField("/proc/meminfo", "MemTotal"); }
int64_t AvailableMemoryBytes() { return ProcField("/proc/meminfo", "MemAvailable"); }

std::string MemoryEstimate::Describe() const {
  std::string s = absl::StrFormat("  parameters, gradients, Adam moments  %s per run\n", Size(arena_bytes));
  absl::StrAppend(&s, absl::StrFormat("  activations of one training step     %s per run\n", Size(activation_bytes)));
  absl::StrAppend(&s, absl::StrFormat("  kernels' scratch and caches          %s per run\n", Size(overhead_bytes)));
  if (runs_at_once > 1) absl::StrAppend(&s, absl::StrFormat("  runs at once (jobs)                  %d\n", runs_at_once));
  absl::StrAppend(&s, absl::StrFormat("  this process before training         %s (data in memory: %s)\n", Size(process_bytes),
                                      Size(data_bytes)));
  absl::StrAppend(&s, absl::StrFormat("  total                                %s", Size(total())));
  if (mapped_bytes > 0)
    absl::StrAppend(&s, absl::StrFormat(" (plus %s of mapped token cache: page cache, shared)", Size(mapped_bytes)));
  return s;
}

MemoryEstimate EstimateMemory(const Experiment& e, int jobs) {
  MemoryEstimate m;
  m.runs_at_once = std::max(1, jobs);
  auto model = e.BuildModel();
  // Four fp32 arenas of the parameters' layout (ParamStore::Allocate), checked before
  // allocating them: a model too large for the machine is not allocated to find out.
  m.arena_bytes = ArenaBytes(model->NumParams());
  for (const PreparedStage& st : e.stages) {
    for (const auto* s : {st.train.get(), st.val.get()})
      if (s) (s->tokens.mapped() ? m.mapped_bytes : m.data_bytes) += s->tokens.size() * s->tokens.width();
    if (st.chat_train) m.data_bytes += st.chat_train->size() * (st.spec.seq_len() + 1) * 8;
    if (st.chat_val) m.data_bytes += st.chat_val->size() * (st.spec.seq_len() + 1) * 8;
  }
  m.process_bytes = ProcField("/proc/self/status", "VmRSS");
  if (m.arena_bytes > MachineMemoryBytes()) return m;  // refused on the arenas alone

  // One step at batch 1 of the stage with the most tokens per row; the pool's peak is what
  // a step holds at once, and it grows with the batch.
  size_t probe = 0;
  for (size_t i = 1; i < e.stages.size(); ++i)
    if (e.stages[i].spec.seq_len() > e.stages[probe].spec.seq_len()) probe = i;
  PreparedStage st = e.stages[probe];
  const int64_t batch = st.spec.batch_size();
  st.spec.set_batch_size(1);
  const int64_t rss_before = ProcField("/proc/self/status", "VmRSS");
  Context ctx(e.spec.runtime().threads(), 1);
  model->store().Allocate(1);
  AdamW opt;
  Batch b;
  Tensor ones;
  DrawTrainingBatch(st, static_cast<int>(probe), 1, 0, &b, &ones);
  ctx.pool().ResetPeak();
  TrainStep(ctx, *model, opt, b, 0.0f, 0.0);
  const int64_t pool_peak = static_cast<int64_t>(ctx.pool().peak_bytes_in_use());
  m.activation_bytes = pool_peak * batch;
  const int64_t grown = ProcField("/proc/self/status", "VmRSS") - rss_before;
  m.overhead_bytes = std::max<int64_t>(0, grown - m.arena_bytes - static_cast<int64_t>(ctx.pool().bytes()));
  return m;
}

}  // namespace tinylm
