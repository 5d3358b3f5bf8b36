#include "tinylm/distributed/communicator.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#ifdef TINYLM_WITH_MPI
#include <mpi.h>
#endif

namespace tinylm {

bool LaunchedByMpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

#ifdef TINYLM_WITH_MPI

namespace {

void Check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw std::runtime_error(std::string("MPI ") + what + ": " + std::string(text, len));
}

bool skip_finalize = false;

// Finalises MPI when the program ends (after main returns, before the runtime is torn down).
struct Finalizer {
  ~Finalizer() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && !skip_finalize) MPI_Finalize();
  }
};

// f(first, count) over [0, n) in buckets of kBucketFloats (MPI counts are ints, and no rank
// holds a second full-size buffer).
template <typename F>
void InBuckets(int64_t n, F f) {
  for (int64_t at = 0; at < n; at += Communicator::kBucketFloats)
    f(at, static_cast<int>(std::min<int64_t>(Communicator::kBucketFloats, n - at)));
}

template <typename T>
void Allreduce(T* data, int64_t n, MPI_Datatype type) {
  InBuckets(n, [&](int64_t at, int count) {
    Check(MPI_Allreduce(MPI_IN_PLACE, data + at, count, type, MPI_SUM, MPI_COMM_WORLD), "Allreduce");
  });
}

}  // namespace

bool Communicator::Built() { return true; }

Communicator::Communicator() {
  if (!LaunchedByMpi()) return;
  int provided = 0;
  // Only the main thread calls MPI; OpenMP teams inside a rank never do.
  Check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "Init");
  static Finalizer finalizer;
  // Errors come back as codes (thrown with their text), not as an abort without a message.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

void Communicator::AllreduceSum(float* data, int64_t n) {
  if (size_ > 1) Allreduce(data, n, MPI_FLOAT);
}

void Communicator::AllreduceSum(double* data, int64_t n) {
  if (size_ > 1) Allreduce(data, n, MPI_DOUBLE);
}

bool Communicator::AnyTrue(bool mine) {
  if (size_ == 1) return mine;
  int v = mine ? 1 : 0;
  Check(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD), "Allreduce");
  return v != 0;
}

std::string Communicator::Broadcast(const std::string& bytes, int root) {
  if (size_ == 1) return bytes;
  long long n = static_cast<long long>(bytes.size());
  Check(MPI_Bcast(&n, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD), "Bcast");
  std::string out = rank_ == root ? bytes : std::string(static_cast<size_t>(n), '\0');
  Check(MPI_Bcast(out.data(), static_cast<int>(n), MPI_BYTE, root, MPI_COMM_WORLD), "Bcast");
  return out;
}

void Communicator::Broadcast(float* data, int64_t n, int root) {
  if (size_ == 1) return;
  InBuckets(n, [&](int64_t at, int count) { Check(MPI_Bcast(data + at, count, MPI_FLOAT, root, MPI_COMM_WORLD), "Bcast"); });
}

bool Communicator::BroadcastFlag(bool flag, int root) {
  if (size_ == 1) return flag;
  int v = flag ? 1 : 0;
  Check(MPI_Bcast(&v, 1, MPI_INT, root, MPI_COMM_WORLD), "Bcast");
  return v != 0;
}

std::vector<std::string> Communicator::Gather(const std::string& mine, int root) {
  if (size_ == 1) return {mine};
  int n = static_cast<int>(mine.size());
  std::vector<int> sizes(size_), offsets(size_);
  Check(MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, root, MPI_COMM_WORLD), "Gather");
  std::string all;
  if (rank_ == root) {
    int total = 0;
    for (int r = 0; r < size_; ++r) offsets[r] = total, total += sizes[r];
    all.resize(static_cast<size_t>(total));
  }
  Check(MPI_Gatherv(mine.data(), n, MPI_BYTE, all.data(), sizes.data(), offsets.data(), MPI_BYTE, root, MPI_COMM_WORLD),
        "Gatherv");
  std::vector<std::string> out;
  if (rank_ == root)
    for (int r = 0; r < size_; ++r) out.push_back(all.substr(offsets[r], sizes[r]));
  return out;
}

void Communicator::Barrier() {
  if (size_ > 1) Check(MPI_Barrier(MPI_COMM_WORLD), "Barrier");
}

void Communicator::Abort(int code) {
  if (size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

void Communicator::SkipFinalize() { skip_finalize = true; }

#else  // built without MPI: one process

bool Communicator::Built() { return false; }
Communicator::Communicator() {}
void Communicator::AllreduceSum(float*, int64_t) {}
void Communicator::AllreduceSum(double*, int64_t) {}
bool Communicator::AnyTrue(bool mine) { return mine; }
std::string Communicator::Broadcast(const std::string& bytes, int) { return bytes; }
void Communicator::Broadcast(float*, int64_t, int) {}
bool Communicator::BroadcastFlag(bool flag, int) { return flag; }
std::vector<std::string> Communicator::Gather(const std::string& mine, int) { return {mine}; }
void Communicator::Barrier() {}
void Communicator::Abort(int) {}
void Communicator::SkipFinalize() {}

#endif

Communicator& Communicator::World() {
  static Communicator world;
  return world;
}

}  // namespace tinylm
