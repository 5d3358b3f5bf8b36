// Naive double-precision reference implementations of every core layer: plain loops, no
// oneDNN, written from the math rather than from the fast code. Tests compare against them
// and take finite differences of them.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tinylm::ref {

using Vec = std::vector<double>;
using Params = std::map<std::string, Vec>;

// x: [rows, in], w: [out, in], b: [out] or empty. Returns [rows, out].
Vec Linear(const Vec& x, int64_t in, const Vec& w, const Vec& b);
Vec Embedding(const std::vector<int32_t>& ids, const Vec& w, int64_t dim);
Vec RmsNorm(const Vec& x, int64_t dim, const Vec& w, double eps);
Vec LayerNorm(const Vec& x, int64_t dim, const Vec& w, const Vec& b, double eps);
// x: [B, T, H*hd]; rotate each head. interleaved: pairs (2i, 2i+1); else (i, i + r/2).
Vec Rope(const Vec& x, int64_t b, int64_t t, int64_t heads, int64_t hd, bool interleaved,
         double base, double fraction, int64_t pos0 = 0);
struct AttentionShape {
  int64_t b, t, d, heads, kv_heads;
  bool qk_norm, rope, interleaved;
  double base = 10000, fraction = 1, eps = 1e-6;
};
// Params: <name>.qkv.weight, [<name>.q_norm.weight, <name>.k_norm.weight], <name>.proj.weight.
Vec Attention(const Vec& x, const AttentionShape& s, const Params& p, const std::string& name);
Vec SwiGlu(const Vec& x, int64_t dim, int64_t hidden, const Params& p, const std::string& name);
Vec GeluMlp(const Vec& x, int64_t dim, int64_t hidden, bool tanh_approx, const Params& p,
            const std::string& name);
double Gelu(double x, bool tanh_approx);
double Silu(double x);
// Mean (or weighted mean) cross-entropy of logits [n, v].
double CrossEntropy(const Vec& logits, int64_t v, const std::vector<int32_t>& y, const Vec& w);

}  // namespace tinylm::ref
