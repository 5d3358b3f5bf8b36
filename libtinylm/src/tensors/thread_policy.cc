#include "tinylm/tensors/thread_policy.h"

#include <unistd.h>

#include <cstdlib>

namespace tinylm {

void ApplyThreadWaitPolicy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;  // chosen already
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  // The variable is set before exec: the new image finds it and returns above (no loop).
  execv("/proc/self/exe", argv);
  // exec failed (no /proc, e.g. in some sandboxes): carry on with the runtime's default.
}

}  // namespace tinylm
