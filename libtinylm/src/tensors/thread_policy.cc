#include "tinylm/tensors/thread_policy.h"

#include <unistd.h>

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace tinylm {

void ApplyThreadWaitPolicy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;  // chosen already
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  // The variable is set before exec: the new image finds it and returns above (no loop).
  execv("/proc/self/exe", argv);
  // exec failed (no /proc, e.g. in some sandboxes): carry on with the runtime's default.
}

int DefaultThreads() {
  const int usable = omp_get_num_procs();
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (!local || usable < static_cast<int>(std::thread::hardware_concurrency())) return usable;  // alone, or bound
  return std::max(1, usable / std::max(1, std::atoi(local)));
}

}  // namespace tinylm
