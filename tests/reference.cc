#include "reference.h"

#include <cmath>

namespace tinylm::ref {

Vec Linear(const Vec& x, int64_t in, const Vec& w, const Vec& b) {
  const int64_t rows = x.size() / in, out = w.size() / in;
  Vec y(rows * out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b.empty() ? 0.0 : b[o];
      for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

Vec Embedding(const std::vector<int32_t>& ids, const Vec& w, int64_t dim) {
  Vec y(ids.size() * dim);
  for (size_t i = 0; i < ids.size(); ++i)
    for (int64_t j = 0; j < dim; ++j) y[i * dim + j] = w[ids[i] * dim + j];
  return y;
}

Vec RmsNorm(const Vec& x, int64_t dim, const Vec& w, double eps) {
  Vec y(x.size());
  for (size_t r = 0; r < x.size() / dim; ++r) {
    double ss = 0;
    for (int64_t j = 0; j < dim; ++j) ss += x[r * dim + j] * x[r * dim + j];
    const double inv = 1.0 / std::sqrt(ss / dim + eps);
    for (int64_t j = 0; j < dim; ++j) y[r * dim + j] = x[r * dim + j] * inv * w[j];
  }
  return y;
}

Vec LayerNorm(const Vec& x, int64_t dim, const Vec& w, const Vec& b, double eps) {
  Vec y(x.size());
  for (size_t r = 0; r < x.size() / dim; ++r) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < dim; ++j) mean += x[r * dim + j];
    mean /= dim;
    for (int64_t j = 0; j < dim; ++j) var += (x[r * dim + j] - mean) * (x[r * dim + j] - mean);
    var /= dim;
    for (int64_t j = 0; j < dim; ++j)
      y[r * dim + j] = (x[r * dim + j] - mean) / std::sqrt(var + eps) * w[j] + b[j];
  }
  return y;
}

Vec Rope(const Vec& x, int64_t b, int64_t t, int64_t heads, int64_t hd, bool interleaved,
         double base, double fraction, int64_t pos0) {
  const int64_t rot = static_cast<int64_t>(std::floor(fraction * hd)) / 2 * 2, half = rot / 2;
  Vec y = x;
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t ti = 0; ti < t; ++ti)
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t o = ((bi * t + ti) * heads + h) * hd;
        for (int64_t i = 0; i < half; ++i) {
          const double a = (pos0 + ti) * std::pow(base, -2.0 * i / rot);
          const int64_t i1 = interleaved ? o + 2 * i : o + i;
          const int64_t i2 = interleaved ? o + 2 * i + 1 : o + i + half;
          y[i1] = x[i1] * std::cos(a) - x[i2] * std::sin(a);
          y[i2] = x[i2] * std::cos(a) + x[i1] * std::sin(a);
        }
      }
  return y;
}

Vec Attention(const Vec& x, const AttentionShape& s, const Params& p, const std::string& name) {
  const int64_t hd = s.d / s.heads, g = s.heads / s.kv_heads;
  const int64_t row = (s.heads + 2 * s.kv_heads) * hd;
  const Vec qkv = Linear(x, s.d, p.at(name + ".qkv.weight"), {});
  // Gather q [B,T,H*hd], k, v [B,T,Hkv*hd].
  Vec q(s.b * s.t * s.heads * hd), k(s.b * s.t * s.kv_heads * hd), v(k.size());
  for (int64_t r = 0; r < s.b * s.t; ++r) {
    for (int64_t j = 0; j < s.heads * hd; ++j) q[r * s.heads * hd + j] = qkv[r * row + j];
    for (int64_t j = 0; j < s.kv_heads * hd; ++j) {
      k[r * s.kv_heads * hd + j] = qkv[r * row + s.heads * hd + j];
      v[r * s.kv_heads * hd + j] = qkv[r * row + (s.heads + s.kv_heads) * hd + j];
    }
  }
  if (s.qk_norm) {
    q = RmsNorm(q, hd, p.at(name + ".q_norm.weight"), s.eps);
    k = RmsNorm(k, hd, p.at(name + ".k_norm.weight"), s.eps);
  }
  if (s.rope) {
    q = Rope(q, s.b, s.t, s.heads, hd, s.interleaved, s.base, s.fraction);
    k = Rope(k, s.b, s.t, s.kv_heads, hd, s.interleaved, s.base, s.fraction);
  }
  Vec o(s.b * s.t * s.heads * hd, 0.0);
  for (int64_t bi = 0; bi < s.b; ++bi)
    for (int64_t h = 0; h < s.heads; ++h) {
      const int64_t kh = h / g;
      for (int64_t i = 0; i < s.t; ++i) {
        Vec w(i + 1);
        double mx = -1e300;
        for (int64_t j = 0; j <= i; ++j) {
          double dot = 0;
          for (int64_t c = 0; c < hd; ++c)
            dot += q[((bi * s.t + i) * s.heads + h) * hd + c] *
                   k[((bi * s.t + j) * s.kv_heads + kh) * hd + c];
          w[j] = dot / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, w[j]);
        }
        double sum = 0;
        for (auto& wj : w) sum += (wj = std::exp(wj - mx));
        for (int64_t j = 0; j <= i; ++j)
          for (int64_t c = 0; c < hd; ++c)
            o[((bi * s.t + i) * s.heads + h) * hd + c] +=
                w[j] / sum * v[((bi * s.t + j) * s.kv_heads + kh) * hd + c];
      }
    }
  return Linear(o, s.heads * hd, p.at(name + ".proj.weight"), {});
}

double Silu(double x) { return x / (1.0 + std::exp(-x)); }

double Gelu(double x, bool tanh_approx) {
  if (tanh_approx)
    return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
}

Vec SwiGlu(const Vec& x, int64_t dim, int64_t hidden, const Params& p, const std::string& name) {
  const Vec gu = Linear(x, dim, p.at(name + ".gate_up.weight"), {});
  const int64_t rows = x.size() / dim;
  Vec h(rows * hidden);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < hidden; ++j)
      h[r * hidden + j] = Silu(gu[r * 2 * hidden + j]) * gu[r * 2 * hidden + hidden + j];
  return Linear(h, hidden, p.at(name + ".down.weight"), {});
}

Vec GeluMlp(const Vec& x, int64_t dim, int64_t hidden, bool tanh_approx, const Params& p,
            const std::string& name) {
  Vec h = Linear(x, dim, p.at(name + ".fc1.weight"), p.at(name + ".fc1.bias"));
  for (auto& v : h) v = Gelu(v, tanh_approx);
  return Linear(h, hidden, p.at(name + ".fc2.weight"), p.at(name + ".fc2.bias"));
}

double CrossEntropy(const Vec& z, int64_t v, const std::vector<int32_t>& y, const Vec& w) {
  double num = 0, den = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    double mx = -1e300, s = 0;
    for (int64_t j = 0; j < v; ++j) mx = std::max(mx, z[i * v + j]);
    for (int64_t j = 0; j < v; ++j) s += std::exp(z[i * v + j] - mx);
    const double ce = mx + std::log(s) - z[i * v + y[i]];
    const double wi = w.empty() ? 1.0 : w[i];
    num += wi * ce;
    den += wi;
  }
  return den > 0 ? num / den : 0.0;
}

}  // namespace tinylm::ref
