// Counter-based random numbers: every value is a pure function of (seed, stream, counter),
// so results never depend on thread scheduling or on how work is split between threads.
#pragma once
#include <cstdint>

namespace tinylm {

// SplitMix64 finaliser: a strong 64-bit mixing function (Steele et al. 2014).
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// 64 random bits for (seed, stream, counter). Two rounds of mixing decorrelate nearby keys.
inline uint64_t CounterBits(uint64_t seed, uint64_t stream, uint64_t counter) {
  return Mix64(Mix64(seed ^ (stream * 0x9e3779b97f4a7c15ULL)) + counter * 0xd1b54a32d192ed03ULL);
}

// Uniform in [0, 1) with 24 bits of precision (exactly representable as float).
inline float CounterUniform(uint64_t seed, uint64_t stream, uint64_t counter) {
  return static_cast<float>(CounterBits(seed, stream, counter) >> 40) * (1.0f / 16777216.0f);
}

// Standard normal via Box-Muller over two counter draws.
float CounterNormal(uint64_t seed, uint64_t stream, uint64_t counter);

// FNV-1a hash of a string: turns parameter names into RNG streams.
uint64_t HashString(const char* s, uint64_t h = 1469598103934665603ULL);

// A small stateful generator for sequential, single-threaded use (data order, sampling).
// Its whole state is (seed, stream, counter), so it checkpoints as three integers.
struct Rng {
  uint64_t seed = 0, stream = 0, counter = 0;
  uint64_t NextBits() { return CounterBits(seed, stream, counter++); }
  float NextUniform() { return CounterUniform(seed, stream, counter++); }
  // Uniform integer in [0, n) (n > 0); rejection-free multiply-shift is fine for n << 2^32.
  uint64_t NextBelow(uint64_t n) { return static_cast<uint64_t>((NextBits() >> 32) * n >> 32); }
};

}  // namespace tinylm
