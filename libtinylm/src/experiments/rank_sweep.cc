#include "tinylm/experiments/rank_sweep.h"

#include <unistd.h>

#include <absl/strings/str_format.h>
#include <absl/time/clock.h>
#include <absl/time/time.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "tinylm/training/interrupt.h"

namespace tinylm {

namespace fs = std::filesystem;

namespace {

bool ReadResult(const std::string& path, proto::RunSummary* out) {
  if (!fs::exists(path)) return false;
  // Written by rename (WriteFileAtomic): a file that exists is complete.
  return out->ParseFromString(ReadFileIfExists(path));
}

proto::RunSummary LostRun(const RunRequest& q, const std::string& why) {
  proto::RunSummary r;
  r.set_experiment(q.experiment->spec.name());
  r.set_role(q.experiment->role);
  r.set_seed(q.seed);
  r.set_lost(why);
  return r;
}

}  // namespace

RankSweep::RankSweep(Communicator& comm, const std::string& output_dir) : comm_(comm) {
  // A directory of its own per job: result files of an earlier job are never mistaken for this
  // one's.
  const std::string job = comm_.Broadcast(
      absl::StrFormat("%s-%d", absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::UTCTimeZone()), getpid()));
  dir_ = (fs::path(output_dir) / ".ranks" / job).string();
  fs::create_directories(dir_);
  alive_ = std::make_unique<FileLock>(AlivePath(comm_.rank()));
  comm_.Barrier();  // from here on, a free lock means its rank is gone
}

RankSweep::~RankSweep() {
  if (!dead_.empty()) comm_.SkipFinalize();  // finalize would wait for the dead
}

std::string RankSweep::ResultPath(int index) const { return absl::StrFormat("%s/%d-%d.result", dir_, phase_, index); }
std::string RankSweep::AlivePath(int rank) const { return absl::StrFormat("%s/rank%d.alive", dir_, rank); }

bool RankSweep::Leads() const {
  for (int r = 0; r < comm_.size(); ++r)
    if (!dead_.count(r)) return r == comm_.rank();
  return false;
}

proto::RunSummary RankSweep::AwaitResult(int index, int owner, const RunRequest& request) {
  const std::string path = ResultPath(index);
  const std::string& label = request.label;
  proto::RunSummary r;
  for (;;) {
    if (ReadResult(path, &r)) break;
    if (LockIsFree(AlivePath(owner))) {
      // Gone: what it wrote before it went is all there will be.
      if (ReadResult(path, &r)) break;
      dead_.insert(owner);
      r = LostRun(request, absl::StrFormat("rank %d stopped before finishing it", owner));
      break;
    }
    if (InterruptSignal() != 0) throw RunInterrupted(label + ": stopped while waiting for rank " + std::to_string(owner));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (r.has_lost())
    std::printf("%s lost: %s\n", label.c_str(), r.lost().c_str());
  else
    std::printf("%s finished on rank %d%s\n", label.c_str(), owner,
                r.has_divergence() ? " (diverged)" : absl::StrFormat(": val loss %.4f", r.val_loss()).c_str());
  std::fflush(stdout);
  return r;
}

std::vector<proto::RunSummary> RankSweep::TrainAll(const std::vector<RunRequest>& requests, int jobs,
                                                   const TrainRunFn& train) {
  ++phase_;
  // Owners from the ranks every rank agrees are alive (dead_ is the same on all: a rank is
  // added only when a result of it is missing for good, which every rank then finds).
  std::vector<int> live;
  for (int r = 0; r < comm_.size(); ++r)
    if (!dead_.count(r)) live.push_back(r);
  auto owner = [&](size_t i) { return live[i % live.size()]; };
  std::vector<RunRequest> mine;
  std::map<std::pair<const Experiment*, uint64_t>, int> index_of;
  for (size_t i = 0; i < requests.size(); ++i)
    if (owner(i) == comm_.rank()) {
      mine.push_back(requests[i]);
      index_of[{requests[i].experiment, requests[i].seed}] = static_cast<int>(i);
    }
  // Each of this rank's results is published the moment its run ends: a rank that dies later
  // loses only what it had not finished.
  const TrainRunFn publish = [&](const Experiment& e, uint64_t seed, const std::string& label) {
    const int index = index_of.at({&e, seed});
    proto::RunSummary r;
    try {
      r = train(e, seed, label);
    } catch (const RunInterrupted&) {
      throw;
    } catch (const std::exception& ex) {
      r = LostRun(requests[index], absl::StrFormat("failed on rank %d: %s", comm_.rank(), ex.what()));
      std::printf("%s failed on rank %d: %s\n", label.c_str(), comm_.rank(), ex.what());
      std::fflush(stdout);
    }
    WriteFileAtomic(ResultPath(index), r.SerializeAsString());
    return r;
  };
  const std::vector<proto::RunSummary> trained = TrainRuns(mine, jobs, publish);
  std::vector<proto::RunSummary> out(requests.size());
  for (size_t k = 0; k < mine.size(); ++k) out[index_of.at({mine[k].experiment, mine[k].seed})] = trained[k];
  for (size_t i = 0; i < requests.size(); ++i) {
    if (owner(i) == comm_.rank()) continue;
    out[i] = AwaitResult(static_cast<int>(i), owner(i), requests[i]);
  }
  return out;
}

}  // namespace tinylm
