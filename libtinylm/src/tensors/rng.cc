#include "tinylm/tensors/rng.h"

#include <cmath>

namespace tinylm {

float CounterNormal(uint64_t seed, uint64_t stream, uint64_t counter) {
  // u1 in (0, 1] so log() is finite.
  const double u1 = (static_cast<double>(CounterBits(seed, stream, 2 * counter) >> 11) + 1.0) *
                    (1.0 / 9007199254740992.0);
  const double u2 = static_cast<double>(CounterBits(seed, stream, 2 * counter + 1) >> 11) *
                    (1.0 / 9007199254740992.0);
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
}

uint64_t HashString(const char* s, uint64_t h) {
  for (; *s; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 1099511628211ULL;
  return h;
}

}  // namespace tinylm
