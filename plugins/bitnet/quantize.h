// The b1.58 quantisers, as the official "Training Tips, Code and FAQ" code writes them, in fp32
// with round-half-to-even (torch.round), so PyTorch references agree bit for bit.
#pragma once

#include <cstdint>

namespace tinylm::bitnet {

// W_q = clamp(round(W / g), -1, 1) * g with g = max(mean|W|, 1e-5), over the whole tensor.
// Returns g.
float QuantizeWeightsTernary(const float* w, int64_t n, float* out);

// Per row of `cols`: s = qmax / max(max|x|, 1e-5), x_q = clamp(round(x s), -qmax - 1, qmax) / s,
// qmax = 2^(bits-1) - 1.
void QuantizeActivationRows(const float* x, int64_t rows, int64_t cols, int bits, float* out);

// The same quantiser for packed inference: the integers q + 128 as bytes (rows of `stride`
// bytes, the padding set to 128, i.e. zero) and each row's s. bits <= 8.
void QuantizeActivationRowsToBytes(const float* x, int64_t rows, int64_t cols, int bits, int64_t stride,
                                   uint8_t* out, float* scales);

}  // namespace tinylm::bitnet
