#include "tinylm/tensors/context.h"

#include <omp.h>

namespace tinylm {

Context::Context(int threads, uint64_t seed)
    : threads_(threads > 0 ? threads : omp_get_num_procs()),
      seed_(seed),
      engine_(dnnl::engine::kind::cpu, 0),
      stream_(engine_) {
  omp_set_num_threads(threads_);
}

Tensor Context::Ones(int64_t n) {
  if (!ones_.defined() || ones_.numel() < n) {
    ones_ = Tensor::Empty({n});
    ones_.Fill(1.0f);
  }
  return ones_.Slice0(0, n);
}

void Context::Execute(const dnnl::primitive& p,
                      const std::unordered_map<int, dnnl::memory>& args) {
  p.execute(stream_, args);
  stream_.wait();
}

}  // namespace tinylm
