// Thin, cached wrappers over the oneDNN primitives the layers use for heavy math.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

#include "tinylm/tensors/context.h"
#include "tinylm/tensors/tensor.h"

namespace tinylm {

struct MatmulOptions {
  bool trans_a = false;      // use A's transpose (a strided view, no copy)
  bool trans_b = false;      // use B's transpose
  bool accumulate = false;   // C += result (oneDNN sum post-op) instead of C = result
  float alpha = 1.0f;        // result scale
  const Tensor* bias = nullptr;  // [N], added to every row
};

// C = alpha * op(A) . op(B) (+ C) (+ bias). A, B, C are contiguous 2-D [rows, cols] or 3-D
// [batch, rows, cols] tensors; op() transposes the last two dims via strides. oneDNN has no
// matmul backward, so backward products are matmuls on transposed views (same fast kernels).
void Matmul(Context& ctx, const Tensor& a, const Tensor& b, const Tensor& c,
            const MatmulOptions& opt = {});

// y [m, out] = x [m, in] . w^T (+ bias), w [out, in], for a few rows (m <= kFewRows): the
// decode step's projections. A oneDNN call costs several microseconds of set-up (descriptors,
// cache key, memory objects) around a matrix-vector product of one or two microseconds; this
// is a plain vectorised loop, single-threaded and deterministic.
constexpr int64_t kFewRows = 4;
// out[r] = <x, w[r]> for the rows of w [rows, n] (row-major): the kernel of the above.
void DotRows(const float* x, const float* w, int64_t rows, int64_t n, float* out);
void FewRowsTimesTransposed(const float* x, int64_t m, const float* w, int64_t out, int64_t in, const float* bias,
                            float* y);

// dst = bf16(src), round to nearest even (as oneDNN and PyTorch), NaN kept; a vectorised,
// threaded pass for mixed precision's copies of activations and weights.
void ConvertToBf16(const float* src, uint16_t* dst, int64_t n);
// Makes `slot` a bf16 tensor of src's shape holding bf16(src).
const Tensor& ToBf16(const Tensor& src, Tensor& slot);

// A float matrix operand given by pointer and strides, for products over blocks of larger
// tensors without copies: `batch` matrices of rows x cols, element (i, r, c) at
// data[i * batch_stride + r * row_stride + c]; `trans` uses its transpose.
struct MatrixView {
  float* data;
  int64_t batch, rows, cols, batch_stride, row_stride;
  bool trans = false;
  MatrixView T() const {
    MatrixView v = *this;
    v.trans = !trans;
    return v;
  }
};
// c = alpha * op(a) . op(b) (+ c), on strided views (trans_a/trans_b and bias of `opt` unused).
void Matmul(Context& ctx, const MatrixView& a, const MatrixView& b, const MatrixView& c, const MatmulOptions& opt = {});

// db[n] += sum_m dy[m, n], as a matmul with a ones row (oneDNN's reduction hits a slow kernel).
void AccumulateColumnSums(Context& ctx, const Tensor& dy2d, const Tensor& db);

// dst = f(src) and diff_src = f'(src) * diff_dst for a oneDNN eltwise algorithm.
void EltwiseForward(Context& ctx, dnnl::algorithm alg, float alpha, const Tensor& src,
                    const Tensor& dst);
void EltwiseBackward(Context& ctx, dnnl::algorithm alg, float alpha, const Tensor& src,
                     const Tensor& diff_dst, const Tensor& diff_src);

// Elementwise helpers (vectorised loops; memory-bound, not worth a primitive).
void Add(const Tensor& a, const Tensor& b, const Tensor& out);  // out = a + b
void AddInPlace(const Tensor& acc, const Tensor& x);            // acc += x

}  // namespace tinylm
