#include "tinylm/tensors/ops.h"

#include "tinylm/tensors/parallel.h"

#include <absl/strings/str_cat.h>

#include <algorithm>
#include <stdexcept>

namespace tinylm {
namespace {

using dnnl::memory;

// Logical (possibly transposed) descriptor over a contiguous 2-D/3-D tensor.
memory::desc MatDesc(const Tensor& t, bool trans) {
  const int r = t.rank();
  if (r != 2 && r != 3) throw std::invalid_argument("Matmul operand must be 2-D or 3-D, got " +
                                                    ShapeString(t.shape()));
  memory::dims dims(t.shape().begin(), t.shape().end());
  memory::dims strides(r);
  const int64_t rows = dims[r - 2], cols = dims[r - 1];
  if (r == 3) strides[0] = rows * cols;
  strides[r - 2] = cols;
  strides[r - 1] = 1;
  if (trans) {
    std::swap(dims[r - 2], dims[r - 1]);
    std::swap(strides[r - 2], strides[r - 1]);
  }
  return memory::desc(dims, ToDnnl(t.dtype()), strides);
}

std::string DescKey(const memory::desc& d) {
  std::string k;
  for (auto v : d.dims()) absl::StrAppend(&k, v, "x");
  const auto& st = d.data.format_desc.blocking.strides;
  for (int i = 0; i < d.data.ndims; ++i) absl::StrAppend(&k, "s", st[i]);
  absl::StrAppend(&k, "t", static_cast<int>(d.data_type()), ";");
  return k;
}

// Output scale alpha and, when accumulating, a sum post-op: dst = alpha * (a . b) + dst.
dnnl::primitive_attr MatmulAttr(const MatmulOptions& opt) {
  dnnl::primitive_attr attr;
  if (opt.alpha != 1.0f) attr.set_output_scales(0, {opt.alpha});
  if (opt.accumulate) {
    dnnl::post_ops po;
    po.append_sum(1.0f);
    attr.set_post_ops(po);
  }
  return attr;
}

}  // namespace

void Matmul(Context& ctx, const Tensor& a, const Tensor& b, const Tensor& c,
            const MatmulOptions& opt) {
  const memory::desc ad = MatDesc(a, opt.trans_a), bd = MatDesc(b, opt.trans_b),
                     cd = MatDesc(c, false);
  const int r = c.rank();
  if (ad.dims()[r - 1] != bd.dims()[r - 2] || ad.dims()[r - 2] != cd.dims()[r - 2] ||
      bd.dims()[r - 1] != cd.dims()[r - 1])
    throw std::invalid_argument("Matmul shape mismatch: " + ShapeString(a.shape()) +
                                (opt.trans_a ? "^T" : "") + " . " + ShapeString(b.shape()) +
                                (opt.trans_b ? "^T" : "") + " -> " + ShapeString(c.shape()));
  memory::dims bias_dims(r, 1);
  bias_dims[r - 1] = cd.dims()[r - 1];
  const memory::desc bias_plain =
      opt.bias ? memory::desc(bias_dims, ToDnnl(opt.bias->dtype()),
                              r == 2 ? memory::format_tag::ab : memory::format_tag::abc)
               : memory::desc();
  const std::string key = absl::StrCat("matmul:", DescKey(ad), DescKey(bd), DescKey(cd),
                                       opt.accumulate, ":", opt.alpha, ":", opt.bias != nullptr);
  auto& prim = ctx.cache().Get<dnnl::matmul>(key, [&] {
    auto d = opt.bias ? dnnl::matmul::desc(ad, bd, bias_plain, cd) : dnnl::matmul::desc(ad, bd, cd);
    return dnnl::matmul(dnnl::matmul::primitive_desc(d, MatmulAttr(opt), ctx.engine()));
  });
  const auto& eng = ctx.engine();
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, memory(ad, eng, a.raw())},
      {DNNL_ARG_WEIGHTS, memory(bd, eng, b.raw())},
      {DNNL_ARG_DST, memory(cd, eng, c.raw())}};
  if (opt.bias) args.emplace(DNNL_ARG_BIAS, memory(bias_plain, eng, opt.bias->raw()));
  ctx.Execute(prim, args);
}

namespace {
memory::desc ViewDesc(const MatrixView& v) {
  memory::dims dims{v.batch, v.rows, v.cols}, strides{v.batch_stride, v.row_stride, 1};
  if (v.trans) {
    std::swap(dims[1], dims[2]);
    std::swap(strides[1], strides[2]);
  }
  return memory::desc(dims, memory::data_type::f32, strides);
}
}  // namespace

void Matmul(Context& ctx, const MatrixView& a, const MatrixView& b, const MatrixView& c, const MatmulOptions& opt) {
  const memory::desc ad = ViewDesc(a), bd = ViewDesc(b), cd = ViewDesc(c);
  if (c.trans || ad.dims()[2] != bd.dims()[1] || ad.dims()[1] != cd.dims()[1] || bd.dims()[2] != cd.dims()[2] ||
      a.batch != c.batch || b.batch != c.batch)
    throw std::invalid_argument("Matmul (views) shape mismatch");
  const std::string key =
      absl::StrCat("matmulv:", DescKey(ad), DescKey(bd), DescKey(cd), opt.accumulate, ":", opt.alpha);
  auto& prim = ctx.cache().Get<dnnl::matmul>(key, [&] {
    return dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), MatmulAttr(opt), ctx.engine()));
  });
  const auto& eng = ctx.engine();
  ctx.Execute(prim, {{DNNL_ARG_SRC, memory(ad, eng, a.data)},
                     {DNNL_ARG_WEIGHTS, memory(bd, eng, b.data)},
                     {DNNL_ARG_DST, memory(cd, eng, c.data)}});
}

void DotRows(const float* x, const float* w, int64_t rows, int64_t n, float* out) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {  // four rows per pass: x loaded once, four independent sums
    const float *w0 = w + r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
    float d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f;
#pragma omp simd reduction(+ : d0, d1, d2, d3)
    for (int64_t c = 0; c < n; ++c) {
      d0 += x[c] * w0[c];
      d1 += x[c] * w1[c];
      d2 += x[c] * w2[c];
      d3 += x[c] * w3[c];
    }
    out[r] = d0, out[r + 1] = d1, out[r + 2] = d2, out[r + 3] = d3;
  }
  for (; r < rows; ++r) {
    const float* wr = w + r * n;
    float d = 0.0f;
#pragma omp simd reduction(+ : d)
    for (int64_t c = 0; c < n; ++c) d += x[c] * wr[c];
    out[r] = d;
  }
}

namespace {
// Elementwise passes: chunks of 16k elements, threaded from 4 chunks (64k elements) on.
constexpr int64_t kChunk = 16384, kMinChunks = 4;
}  // namespace

void ConvertToBf16(const float* src, uint16_t* dst, int64_t n) {
  const uint32_t* u = reinterpret_cast<const uint32_t*>(src);
  ParallelChunks(n, kChunk, kMinChunks, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      const uint32_t x = u[i];
      const uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
      dst[i] = static_cast<uint16_t>((x & 0x7fffffffu) > 0x7f800000u ? (x >> 16) | 0x40u : rounded);
    }
  });
}

const Tensor& ToBf16(const Tensor& src, Tensor& slot) {
  if (!slot.defined() || slot.shape() != src.shape() || slot.dtype() != DType::kBF16)
    slot = Tensor::Empty(src.shape(), DType::kBF16);
  ConvertToBf16(src.f32(), slot.bf16(), src.numel());
  return slot;
}

void FewRowsTimesTransposed(const float* x, int64_t m, const float* w, int64_t out, int64_t in, const float* bias,
                            float* y) {
  for (int64_t r = 0; r < m; ++r) {
    float* yr = y + r * out;
    DotRows(x + r * in, w, out, in, yr);
    if (bias)
      for (int64_t o = 0; o < out; ++o) yr[o] += bias[o];
  }
}

void AccumulateColumnSums(Context& ctx, const Tensor& dy2d, const Tensor& db) {
  const int64_t m = dy2d.dim(0), n = dy2d.dim(1);
  MatmulOptions o;
  o.accumulate = true;
  Matmul(ctx, ctx.Ones(m).Reshape({1, m}), dy2d, db.Reshape({1, n}), o);
}

void EltwiseForward(Context& ctx, dnnl::algorithm alg, float alpha, const Tensor& src,
                    const Tensor& dst) {
  const memory::desc md({src.numel()}, ToDnnl(src.dtype()), memory::format_tag::a);
  const std::string key = absl::StrCat("eltf:", static_cast<int>(alg), ":", alpha, ":", src.numel());
  auto& prim = ctx.cache().Get<dnnl::eltwise_forward>(key, [&] {
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_training, alg, md, alpha, 0.0f);
    return dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(d, ctx.engine()));
  });
  const auto& eng = ctx.engine();
  ctx.Execute(prim, {{DNNL_ARG_SRC, memory(md, eng, src.raw())},
                     {DNNL_ARG_DST, memory(md, eng, dst.raw())}});
}

void EltwiseBackward(Context& ctx, dnnl::algorithm alg, float alpha, const Tensor& src,
                     const Tensor& diff_dst, const Tensor& diff_src) {
  const memory::desc md({src.numel()}, ToDnnl(src.dtype()), memory::format_tag::a);
  const std::string key = absl::StrCat("eltb:", static_cast<int>(alg), ":", alpha, ":", src.numel());
  auto& prim = ctx.cache().Get<dnnl::eltwise_backward>(key, [&] {
    dnnl::eltwise_forward::desc fd(dnnl::prop_kind::forward_training, alg, md, alpha, 0.0f);
    dnnl::eltwise_forward::primitive_desc fpd(fd, ctx.engine());
    dnnl::eltwise_backward::desc d(alg, md, md, alpha, 0.0f);
    return dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(d, ctx.engine(), fpd));
  });
  const auto& eng = ctx.engine();
  ctx.Execute(prim, {{DNNL_ARG_SRC, memory(md, eng, src.raw())},
                     {DNNL_ARG_DIFF_DST, memory(md, eng, diff_dst.raw())},
                     {DNNL_ARG_DIFF_SRC, memory(md, eng, diff_src.raw())}});
}

void Add(const Tensor& a, const Tensor& b, const Tensor& out) {
  const float* pa = a.f32();
  const float* pb = b.f32();
  float* po = out.f32();
  ParallelChunks(out.numel(), kChunk, kMinChunks, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) po[i] = pa[i] + pb[i];
  });
}

void AddInPlace(const Tensor& acc, const Tensor& x) {
  float* pa = acc.f32();
  const float* px = x.f32();
  ParallelChunks(acc.numel(), kChunk, kMinChunks, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) pa[i] += px[i];
  });
}

}  // namespace tinylm
