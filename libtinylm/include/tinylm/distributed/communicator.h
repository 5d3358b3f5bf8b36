// The processes of one job: MPI's world when the program was started by mpirun (Open MPI), or
// this process alone. Everything distributed in tinylm (data-parallel training, sweeps spread
// over ranks) goes through this class, so the rest of the library neither includes mpi.h nor
// needs MPI at build time: built without MPI (TINYLM_MPI=OFF, or no libopenmpi-dev), or run
// without mpirun, the world is one process and every collective is the identity.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tinylm {

class Communicator {
 public:
  // The world. MPI is initialised on the first call when this process was launched by mpirun,
  // and finalised at exit.
  static Communicator& World();
  // Whether this build has MPI (a launch by mpirun is honoured only then).
  static bool Built();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return size_ > 1; }

  // In-place sums over all ranks, every rank receiving the result. Large arrays go in buckets
  // of kBucketFloats so no rank holds a second full-size buffer.
  void AllreduceSum(float* data, int64_t n);
  void AllreduceSum(double* data, int64_t n);
  // Logical or of a flag over all ranks (e.g. "asked to stop": every rank stops at the same step).
  bool AnyTrue(bool mine);
  // Root's bytes on every rank.
  std::string Broadcast(const std::string& bytes, int root = 0);
  // Root's n floats on every rank, in place (a model's arenas after rank 0 loaded a checkpoint).
  void Broadcast(float* data, int64_t n, int root = 0);
  // Root's flag on every rank (a decision only the root can make, e.g. after it evaluated).
  bool BroadcastFlag(bool flag, int root = 0);
  // Every rank's bytes on the root, in rank order (empty elsewhere).
  std::vector<std::string> Gather(const std::string& mine, int root = 0);
  void Barrier();
  // Ends every rank of the job with `code` (MPI_Abort): for an error on one rank that the others,
  // waiting in a collective, would otherwise wait for forever. Returns only without MPI.
  void Abort(int code);
  // Exit without MPI_Finalize: once a rank of the job has died (a sweep under mpirun
  // --enable-recovery goes on without it), Open MPI 4.1's finalize waits for it forever.
  void SkipFinalize();

  static constexpr int64_t kBucketFloats = 1 << 20;

 private:
  Communicator();
  int rank_ = 0, size_ = 1;
};

// True when the environment says this process was started by mpirun or another MPI launcher.
bool LaunchedByMpi();

}  // namespace tinylm
