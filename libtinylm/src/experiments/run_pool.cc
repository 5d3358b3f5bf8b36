#include "tinylm/experiments/run_pool.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "tinylm/tensors/thread_policy.h"

namespace tinylm {

std::vector<proto::RunSummary> TrainRuns(const std::vector<RunRequest>& requests, int jobs, const TrainRunFn& train) {
  std::vector<proto::RunSummary> out(requests.size());
  const int n = static_cast<int>(requests.size());
  const int workers = std::clamp(jobs, 1, std::max(1, n));
  if (workers == 1) {
    // On the calling thread: its OpenMP settings and stack are the ones the caller expects.
    for (int i = 0; i < n; ++i) out[i] = train(*requests[i].experiment, requests[i].seed, requests[i].label);
    return out;
  }
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&] {
    for (int i; !failed && (i = next++) < n;) {
      try {
        out[i] = train(*requests[i].experiment, requests[i].seed, requests[i].label);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) threads.emplace_back(work);
  for (std::thread& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
  return out;
}

int ThreadsPerJob(int jobs) { return std::max(1, DefaultThreads() / std::max(1, jobs)); }

}  // namespace tinylm
