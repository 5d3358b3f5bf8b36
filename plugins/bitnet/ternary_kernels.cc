#include "ternary_kernels.h"

#include <immintrin.h>

#include <cstdlib>
#include <string_view>

#include "tinylm/tensors/parallel.h"

namespace tinylm::bitnet {

std::string PackTernary(const int8_t* t, int64_t n) {
  std::string out((n + 3) / 4, '\0');
  for (int64_t i = 0; i < n; ++i) {
    const unsigned code = t[i] == 0 ? 0u : (t[i] > 0 ? 1u : 2u);
    out[i / 4] = static_cast<char>(static_cast<unsigned char>(out[i / 4]) | (code << (2 * (i % 4))));
  }
  return out;
}

bool UnpackTernary(const std::string& packed, int64_t n, int8_t* t) {
  if (static_cast<int64_t>(packed.size()) < (n + 3) / 4) return false;
  for (int64_t i = 0; i < n; ++i) {
    const unsigned code = (static_cast<unsigned char>(packed[i / 4]) >> (2 * (i % 4))) & 3u;
    if (code == 3) return false;
    t[i] = code == 0 ? 0 : (code == 1 ? 1 : -1);
  }
  return true;
}

TernaryMatrix MakeTernaryMatrix(const int8_t* t, int64_t out, int64_t in, std::vector<float> row_scales) {
  TernaryMatrix m;
  m.out = out, m.in = in, m.in_padded = PaddedWidth(in);
  const int64_t row_bytes = m.in_padded / 4;
  m.bits.assign(out * row_bytes, 0);
  m.row_sums.assign(out, 0);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t c = 0; c < m.in_padded; ++c) {
      const int w = c < in ? t[o * in + c] : 0;
      m.row_sums[o] += w;
      const int64_t block = c / 64, k = (c % 64) / 16, b = c % 16;
      m.bits[o * row_bytes + block * 16 + b] |= static_cast<uint8_t>((w + 1) << (2 * k));
    }
  m.scales = std::move(row_scales);
  return m;
}

int8_t TernaryMatrix::at(int64_t o, int64_t c) const {
  const int64_t block = c / 64, k = (c % 64) / 16, b = c % 16;
  return static_cast<int8_t>(((bits[o * (in_padded / 4) + block * 16 + b] >> (2 * k)) & 3) - 1);
}

namespace {

// GCC 12's AVX-512 extract/broadcast intrinsics start from an undefined vector and trip
// -Wmaybe-uninitialized where they are inlined; the values are fully defined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// The sums of four accumulators' 16 lanes each, as one vector [sum s0, sum s1, sum s2, sum s3].
__attribute__((target("avx512f,avx2"))) inline __m128i SumLanes4(__m512i s0, __m512i s1, __m512i s2, __m512i s3) {
  auto halve = [](__m512i v) { return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)); };
  const __m256i a = _mm256_hadd_epi32(halve(s0), halve(s1));  // per 128-bit lane: s0 s0 s1 s1
  const __m256i b = _mm256_hadd_epi32(halve(s2), halve(s3));
  const __m256i c = _mm256_hadd_epi32(a, b);                  // per lane: s0 s1 s2 s3
  return _mm_add_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
}

// The 64 weights w' of one block, in order (see the layout in the header).
__attribute__((target("avx512f,avx512bw"))) inline __m512i Unpack64(const uint8_t* p) {
  const __m512i x = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m512i shifts = _mm512_set_epi64(0x0006000600060006, 0x0006000600060006, 0x0004000400040004,
                                          0x0004000400040004, 0x0002000200020002, 0x0002000200020002, 0, 0);
  return _mm512_and_si512(_mm512_srlv_epi16(x, shifts), _mm512_set1_epi8(3));
}

// One activation row (sum of its bytes `a_sum`) against every weight row, four at a time.
__attribute__((target("avx512f,avx512bw,avx512vnni,avx2"))) void RowVnni(const uint8_t* a, int32_t a_sum,
                                                                      const TernaryMatrix& m, float inv_act_scale,
                                                                      float* y) {
  const int64_t blocks = m.in_padded / 64, row_bytes = m.in_padded / 4;
  auto finish = [&](int64_t o, int32_t dot) {
    y[o] = static_cast<float>(dot - a_sum - 128 * m.row_sums[o]) * m.scales[o] * inv_act_scale;
  };
  int64_t o = 0;
  for (; o + 4 <= m.out; o += 4) {
    const uint8_t* w = m.bits.data() + o * row_bytes;
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t j = 0; j < blocks; ++j) {
      const __m512i av = _mm512_loadu_si512(a + 64 * j);
      s0 = _mm512_dpbusd_epi32(s0, av, Unpack64(w + 16 * j));
      s1 = _mm512_dpbusd_epi32(s1, av, Unpack64(w + row_bytes + 16 * j));
      s2 = _mm512_dpbusd_epi32(s2, av, Unpack64(w + 2 * row_bytes + 16 * j));
      s3 = _mm512_dpbusd_epi32(s3, av, Unpack64(w + 3 * row_bytes + 16 * j));
    }
    alignas(16) int32_t d[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(d), SumLanes4(s0, s1, s2, s3));
    for (int j = 0; j < 4; ++j) finish(o + j, d[j]);
  }
  for (; o < m.out; ++o) {
    const uint8_t* w = m.bits.data() + o * row_bytes;
    __m512i s = _mm512_setzero_si512();
    for (int64_t j = 0; j < blocks; ++j) s = _mm512_dpbusd_epi32(s, _mm512_loadu_si512(a + 64 * j), Unpack64(w + 16 * j));
    finish(o, _mm512_reduce_add_epi32(s));
  }
}

#pragma GCC diagnostic pop

void RowPortable(const uint8_t* a, const TernaryMatrix& m, float inv_act_scale, float* y) {
  for (int64_t o = 0; o < m.out; ++o) {
    int32_t s = 0;
    for (int64_t c = 0; c < m.in; ++c) s += (static_cast<int32_t>(a[c]) - 128) * m.at(o, c);
    y[o] = static_cast<float>(s) * m.scales[o] * inv_act_scale;
  }
}

}  // namespace

bool TernaryMatmulUsesVnni() {
  // TINYLM_TERNARY_KERNEL=portable forces the plain loop (CI runs the packed tests both ways).
  static const bool vnni = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
                           std::string_view(std::getenv("TINYLM_TERNARY_KERNEL") ? std::getenv("TINYLM_TERNARY_KERNEL") : "") != "portable";
  return vnni;
}

void TernaryMatmul(const uint8_t* acts, const float* act_scale, int64_t rows, const TernaryMatrix& m, float* y) {
  const bool vnni = TernaryMatmulUsesVnni();
  ParallelFor(rows, 8, [&](int64_t r) {
    const float inv = 1.0f / act_scale[r];
    const uint8_t* a = acts + r * m.in_padded;
    if (vnni) {
      int32_t a_sum = 0;
      for (int64_t c = 0; c < m.in_padded; ++c) a_sum += a[c];
      RowVnni(a, a_sum, m, inv, y + r * m.out);
    } else {
      RowPortable(a, m, inv, y + r * m.out);
    }
  });
}

}  // namespace tinylm::bitnet
