#include "tinylm/tensors/context.h"

#include <omp.h>

#include <stdexcept>
#include <string>

#include "tinylm/tensors/thread_policy.h"

namespace tinylm {

Context::Context(int threads, uint64_t seed)
    : threads_(threads > 0 ? threads : DefaultThreads()),
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

Tensor Context::Workspace(int slot, int64_t floats) {
  if (slot < 0 || slot >= kWorkspaceSlots) throw std::out_of_range("Context::Workspace: no slot " + std::to_string(slot));
  Tensor& w = workspace_[slot];
  if (!w.defined() || w.numel() < floats) w = Tensor::Empty({std::max<int64_t>(floats, 1)});
  return w.Slice0(0, floats);
}

Context& Context::Serial() {
  if (threads_ == 1) return *this;
  if (!serial_) {
    OmpThreadsScope keep(omp_get_max_threads());  // Context(1) sets the team size to 1: undo it
    serial_ = std::make_unique<Context>(1, seed_);
  }
  serial_->set_seed(seed_);
  serial_->set_step(step_);
  serial_->set_shard(shard_);
  serial_->set_bf16_matmuls(bf16_matmuls_);
  return *serial_;
}

OmpThreadsScope::OmpThreadsScope(int threads) : previous_(omp_get_max_threads()) { omp_set_num_threads(threads); }
OmpThreadsScope::~OmpThreadsScope() { omp_set_num_threads(previous_); }

void Context::Execute(const dnnl::primitive& p,
                      const std::unordered_map<int, dnnl::memory>& args) {
  p.execute(stream_, args);
  stream_.wait();
}

}  // namespace tinylm
