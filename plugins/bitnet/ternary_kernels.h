// Packed BitNet inference: ternary weights stored two bits each, in the file and in memory, and
// the int8 x ternary product that runs from them. Activations quantised to int8 per row (as in
// training) are offset to unsigned a = q + 128 and weights to w' = w + 1 in {0, 1, 2}, so AVX-512
// VNNI's vpdpbusd (u8 x s8 -> s32, 64 products per instruction) multiplies them directly:
//   sum q w = sum a w' - sum a - 128 sum w.
// In memory each weight row is blocks of 64 elements in 16 bytes, element 16k + b of a block in
// bits 2k..2k+1 of byte b: one 16-byte load broadcast to the four 128-bit lanes, a per-lane
// shift (0, 2, 4, 6) and a mask give the 64 weights in order. A quarter of int8's bytes, so a
// 1M-parameter model's matrices (0.24 MB) stay in L2. Without VNNI a plain loop computes the
// same integers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tinylm::bitnet {

constexpr int64_t kTernaryAlign = 64;
inline int64_t PaddedWidth(int64_t n) { return (n + kTernaryAlign - 1) / kTernaryAlign * kTernaryAlign; }

// 2-bit codes, four per byte (element i in bits 2(i%4)..+1 of byte i/4): 0 -> 0, 1 -> +1, 2 -> -1.
std::string PackTernary(const int8_t* t, int64_t n);
// Unpacks n codes; returns false if a code is 3 (not a ternary value) or `packed` is short.
bool UnpackTernary(const std::string& packed, int64_t n, int8_t* t);

// Ternary weights ready for the product (layout above), each row's sum of w.
struct TernaryMatrix {
  int64_t out = 0, in = 0, in_padded = 0;
  std::vector<uint8_t> bits;  // [out, in_padded / 4]
  std::vector<int32_t> row_sums;
  std::vector<float> scales;  // per output row: the magnitude of its part's ternary weights
  int8_t at(int64_t o, int64_t c) const;  // w[o, c] in {-1, 0, 1}
};
TernaryMatrix MakeTernaryMatrix(const int8_t* t, int64_t out, int64_t in, std::vector<float> row_scales);

// y[r, o] = (sum_c q[r, c] t[o, c]) * scales[o] / act_scale[r], with acts[r, c] = q[r, c] + 128
// (unsigned, rows of in_padded bytes, padding 128). Rows run on the OpenMP team when there are
// enough of them.
void TernaryMatmul(const uint8_t* acts, const float* act_scale, int64_t rows, const TernaryMatrix& m, float* y);

// Whether this CPU runs the VNNI kernel (else the portable loop; TINYLM_TERNARY_KERNEL=portable
// forces the loop).
bool TernaryMatmulUsesVnni();

}  // namespace tinylm::bitnet
