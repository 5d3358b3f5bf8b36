// Checkpoints: the parameter values and AdamW moments (one contiguous copy of each arena), the
// step, data position and RNG state (a run's batches and dropout masks are pure functions of
// seed and step, so the step *is* the data position and RNG state), the resolved spec and the
// tokenizer. Written atomically (temporary file, fsync, rename, fsync of the directory) with a
// checksum verified on load: a crash leaves either the old or the new checkpoint, never a torn
// one.
#pragma once
#include <string>

#include "results.pb.h"
#include "tinylm/tensors/params.h"

namespace tinylm {

// Writes header + store arenas (values, Adam m, Adam v) to `path` atomically.
void SaveCheckpoint(const std::string& path, proto::CheckpointHeader header, const ParamStore& store);

// Reads and verifies (magic, version, length, checksum) the header only.
proto::CheckpointHeader ReadCheckpointHeader(const std::string& path);

// Reads, verifies, checks that the parameter layout matches `store` (names, shapes, offsets)
// and loads the arenas into it. Throws std::runtime_error naming the file and the problem.
proto::CheckpointHeader LoadCheckpoint(const std::string& path, ParamStore* store);

// 64-bit FNV-1a over bytes (checksums, cache keys).
uint64_t Fnv64(const void* data, size_t n, uint64_t h = 1469598103934665603ULL);
std::string Hex64(uint64_t v);

}  // namespace tinylm
