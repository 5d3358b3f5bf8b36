// Branch-free float exp() that GCC vectorises inside `#pragma omp simd` loops (given
// -fno-trapping-math, see CMakeLists.txt). glibc only exposes its vector expf under -ffast-math,
// whose other effects (no infinities, reassociation) we do not want. Classic Cephes range
// reduction + degree-6 polynomial: ~2 ulp max relative error; exp(x) = 0 below -87.34 (where
// float exp underflows anyway), so exp(-inf) = 0; inf above 88.72; NaN stays NaN.
#pragma once
#include <cstdint>

namespace tinylm {

inline float VecExp(float x_in) {
  // Clamp to the range where 2^n is a normal float; below it the result is 0. Written as
  // comparisons that send NaN to the lower bound: std::min/max would pass NaN through to the
  // float->int conversion below, which is undefined behaviour (diverged runs reach here).
  const float x = x_in > -87.33654f ? (x_in < 88.72283f ? x_in : 88.72283f) : -87.33654f;
  // n = round(x / ln2); r = x - n ln2 with ln2 split in two for exactness.
  const float fn = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // Scale by 2^n through the exponent bits. n is in [-126, 128] after the clamp, and 2^128 is
  // not a float: for n = 128 use 2^127 and double the result (exp(88.4..88.72) is finite).
  const bool top = fn > 127.0f;
  const int32_t bits = (static_cast<int32_t>(top ? 127.0f : fn) + 127) << 23;
  const float scale = __builtin_bit_cast(float, bits);
  const float scaled = top ? (p * 2.0f) * scale : p * scale;
  const float result = x_in < -87.33654f ? 0.0f
                       : x_in > 88.72283f ? __builtin_inff()  // overflows, as std::exp does
                                          : scaled;
  return x_in != x_in ? x_in : result;  // NaN in, NaN out
}

inline float VecSigmoid(float x) { return 1.0f / (1.0f + VecExp(-x)); }

}  // namespace tinylm
