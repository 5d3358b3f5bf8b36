#include "tinylm/layers/layer_check.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "tinylm/tensors/rng.h"

namespace tinylm {

bool LayerCheckReport::ok() const {
  for (const auto& c : checks)
    if (!c.ok) return false;
  return true;
}

std::string LayerCheckReport::Format(const std::string& title) const {
  std::string s = absl::StrCat(title, ": ", ok() ? "PASS" : "FAIL", "\n");
  for (const auto& c : checks) absl::StrAppend(&s, "  [", c.ok ? "ok" : "FAIL", "] ", c.name, c.detail.empty() ? "" : ": ", c.detail, "\n");
  if (forward_ms > 0) absl::StrAppendFormat(&s, "  timing (median): forward %.3f ms, backward %.3f ms\n", forward_ms, backward_ms);
  return s;
}

void SetTestValues(ParamStore& store, uint64_t seed) {
  store.Touch();
  for (const auto& p : store.params()) {
    float* v = p->value.f32();
    const uint64_t stream = HashString(p->name.c_str()) + 99;
    for (int64_t i = 0; i < p->numel(); ++i) {
      const float u = 2.0f * CounterUniform(seed, stream, i) - 1.0f;
      v[i] = p->shape.size() >= 2 ? u * 1.5f / std::sqrt(static_cast<float>(p->shape.back())) : v[i] + 0.3f * u;
    }
  }
}

Tensor TestInput(const Shape& shape, int vocab, uint64_t seed) {
  Tensor x = Tensor::Empty(shape, vocab > 0 ? DType::kS32 : DType::kF32);
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (vocab > 0) x.s32()[i] = static_cast<int32_t>(CounterBits(seed, 5, i) % vocab);
    else x.f32()[i] = 2.0f * CounterUniform(seed, 5, i) - 1.0f;
  }
  return x;
}

Tensor SliceTime(const Tensor& x, int64_t t0, int64_t t1) {
  Shape s = x.shape();
  const int64_t b = s[0], t = s[1], inner = x.numel() / (b * t);
  s[1] = t1 - t0;
  Tensor out = Tensor::Empty(s, x.dtype());
  const size_t es = DTypeSize(x.dtype());
  for (int64_t bi = 0; bi < b; ++bi)
    std::memcpy(static_cast<char*>(out.raw()) + bi * (t1 - t0) * inner * es,
                static_cast<char*>(x.raw()) + (bi * t + t0) * inner * es, (t1 - t0) * inner * es);
  return out;
}

std::vector<int64_t> ProbeIndices(int64_t n, int64_t max_count, uint64_t salt) {
  std::vector<int64_t> idx;
  if (n <= max_count) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < max_count; ++i) idx.push_back(static_cast<int64_t>(CounterBits(7, salt, i) % n));
  }
  return idx;
}

namespace {

CheckOutcome CompareGradients(const std::string& what, const std::vector<double>& a, const std::vector<double>& fd,
                              double tol) {
  double err = 0, scale = 1e-4;
  for (size_t i = 0; i < fd.size(); ++i) {
    err = std::max(err, std::fabs(a[i] - fd[i]));
    scale = std::max(scale, std::fabs(fd[i]));
  }
  return {what, err / scale <= tol,
          absl::StrFormat("max error %.3g at gradient scale %.3g (relative %.2g, limit %.2g)", err, scale, err / scale, tol)};
}

}  // namespace

LayerCheckReport CheckLayerGeneric(const LayerMaker& make, const LayerCheckOptions& opt) {
  LayerCheckReport rep;
  auto add = [&](CheckOutcome c) { rep.checks.push_back(std::move(c)); };
  Context ctx(opt.threads, opt.seed);
  ctx.set_step(3);
  ParamStore store;
  LayerPtr layer;
  try {
    layer = make(store);
    store.Allocate(opt.seed);
  } catch (const std::exception& e) {
    add({"construct", false, e.what()});
    return rep;
  }
  if (opt.set_test_values) SetTestValues(store, opt.seed);
  const bool ids = opt.vocab > 0;
  const Tensor x = TestInput(opt.input, opt.vocab, opt.seed);

  Tensor y;
  try {
    y = layer->Forward(ctx, x, Mode::kTrain).Clone();
  } catch (const std::exception& e) {
    add({"forward", false, e.what()});
    return rep;
  }
  const Shape want = layer->OutputShape(opt.input);
  add({"output shape", y.shape() == want, ShapeString(y.shape()) + (y.shape() == want ? "" : " but OutputShape says " + ShapeString(want))});
  bool finite = true;
  for (int64_t i = 0; i < y.numel(); ++i) finite = finite && std::isfinite(y.f32()[i]);
  add({"finite output", finite, ""});

  // Backward of L = sum(r * y) against central differences of the layer itself.
  const Tensor r = TestInput(y.shape(), 0, opt.seed + 1);
  store.ZeroGrads();
  const Tensor r_before = r.Clone();
  const Tensor dx_t = layer->Backward(ctx, r);
  const Tensor dx = dx_t.defined() ? dx_t.Clone() : Tensor();
  // A composite passes one dy to several children (a residual: the branch and the skip), so
  // a Backward that writes into dy corrupts its neighbours' gradients.
  add({"Backward leaves dy unchanged", std::memcmp(r.raw(), r_before.raw(), r.bytes()) == 0, ""});
  const Tensor grads = store.grads().defined() ? store.grads().Clone() : Tensor();
  auto loss = [&](const Tensor& xin) {
    const Tensor yy = layer->Forward(ctx, xin, Mode::kTrain);
    double l = 0;
    for (int64_t i = 0; i < yy.numel(); ++i) l += static_cast<double>(r.f32()[i]) * yy.f32()[i];
    return l;
  };
  const float h = 1e-2f;
  if (!ids) {
    if (!dx.defined() || dx.shape() != x.shape()) {
      add({"input gradient", false, "Backward returned " + (dx.defined() ? ShapeString(dx.shape()) : "nothing") +
                                        " for input " + ShapeString(x.shape())});
    } else {
      std::vector<double> a, fd;
      for (int64_t i : ProbeIndices(x.numel(), opt.fd_probes, 2)) {
        Tensor xp = x.Clone(), xm = x.Clone();
        xp.f32()[i] += h;
        xm.f32()[i] -= h;
        fd.push_back((loss(xp) - loss(xm)) / (2.0 * h));
        a.push_back(dx.f32()[i]);
      }
      add(CompareGradients("input gradient", a, fd, opt.fd_tolerance));
    }
  }
  for (const auto& p : store.params()) {
    std::vector<double> a, fd;
    for (int64_t i : ProbeIndices(p->numel(), opt.fd_probes, HashString(p->name.c_str()) + 1)) {
      float& v = p->value.f32()[i];
      const float saved = v;
      v = saved + h;
      store.Touch();  // a direct write: copies derived from the values (bf16, ternary) are stale
      const double lp = loss(x);
      v = saved - h;
      store.Touch();
      const double lm = loss(x);
      v = saved;
      store.Touch();
      fd.push_back((lp - lm) / (2.0 * h));
      a.push_back(grads.f32()[p->offset + i]);
    }
    add(CompareGradients("gradient of " + p->name, a, fd, opt.fd_tolerance));
  }

  // Gradient accumulation: parameter gradients must be added to what the arena held, so tied and
  // shared weights (and several uses within a layer) add up. Pre-fill with known values.
  if (grads.defined() && store.size() > 0) {
    layer->Forward(ctx, x, Mode::kTrain);
    Tensor prefill = Tensor::Empty(grads.shape());
    for (int64_t i = 0; i < prefill.numel(); ++i) prefill.f32()[i] = 0.25f + 0.5f * CounterUniform(opt.seed, 31, i);
    store.grads().CopyFrom(prefill);
    layer->Backward(ctx, r);
    double err = 0, scale = 1e-6;
    std::string worst;
    for (const auto& p : store.params())
      for (int64_t i = 0; i < p->numel(); ++i) {
        const int64_t k = p->offset + i;
        const double want = static_cast<double>(prefill.f32()[k]) + grads.f32()[k];
        const double e = std::fabs(store.grads().f32()[k] - want);
        scale = std::max(scale, std::fabs(want));
        if (e > err) {
          err = e;
          worst = p->name;
        }
      }
    add({"parameter gradients accumulate (+=)", err / scale <= 1e-5,
         err / scale <= 1e-5 ? "" : absl::StrFormat("%s: gradient after a pre-filled arena differs by %.3g "
                                                    "(does Backward assign instead of add?)", worst, err)});
  }

  // Determinism: a repeat is bit-identical, and 1 thread gives what opt.threads gives.
  auto run = [&](Tensor& y_out, Tensor& g_out, Tensor& dx_out) {
    y_out = layer->Forward(ctx, x, Mode::kTrain).Clone();
    store.ZeroGrads();
    const Tensor d = layer->Backward(ctx, r);
    g_out = store.grads().defined() ? store.grads().Clone() : Tensor();
    dx_out = d.defined() ? d.Clone() : Tensor();
  };
  auto max_rel = [](const Tensor& a, const Tensor& b) {
    if (!a.defined() || !b.defined()) return a.defined() == b.defined() ? 0.0 : 1.0;
    double e = 0, sc = 1e-30;
    for (int64_t i = 0; i < a.numel(); ++i) {
      e = std::max(e, static_cast<double>(std::fabs(a.f32()[i] - b.f32()[i])));
      sc = std::max(sc, static_cast<double>(std::fabs(a.f32()[i])));
    }
    return e / sc;
  };
  {
    Tensor y1, g1, d1, y2, g2, d2;
    run(y1, g1, d1);
    run(y2, g2, d2);
    bool same = std::memcmp(y1.raw(), y2.raw(), y1.bytes()) == 0;
    if (g1.defined()) same = same && std::memcmp(g1.raw(), g2.raw(), g1.bytes()) == 0;
    if (d1.defined()) same = same && std::memcmp(d1.raw(), d2.raw(), d1.bytes()) == 0;
    add({"bit-identical repeat", same, ""});
    if (opt.threads > 1) {
      Tensor y3, g3, d3;
      {
        Context one(1, opt.seed);  // sets the OpenMP team to 1 thread
        one.set_step(ctx.step());
        y3 = layer->Forward(one, x, Mode::kTrain).Clone();
        store.ZeroGrads();
        const Tensor d = layer->Backward(one, r);
        g3 = store.grads().defined() ? store.grads().Clone() : Tensor();
        d3 = d.defined() ? d.Clone() : Tensor();
      }
      Context restore(opt.threads, opt.seed);  // and back to the team the check runs with
      const double e = std::max({max_rel(y1, y3), max_rel(g1, g3), max_rel(d1, d3)});
      add({absl::StrCat("1 thread == ", opt.threads, " threads"), e <= opt.thread_tolerance,
           absl::StrFormat("max relative difference %.2g (limit %.2g)", e, opt.thread_tolerance)});
    }
  }

  // Causality: changing the input at position t0 leaves outputs before t0 untouched.
  if (opt.check_causality && opt.input.size() >= 2 && opt.input[1] >= 2 && y.rank() >= 2 &&
      y.dim(0) == opt.input[0] && y.dim(1) == opt.input[1]) {
    const int64_t b = opt.input[0], t = opt.input[1], t0 = t / 2;
    const Tensor base = layer->Forward(ctx, x, Mode::kEval).Clone();
    Tensor xc = x.Clone();
    const int64_t inner_in = x.numel() / (b * t);
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t ti = t0; ti < t; ++ti)
        for (int64_t j = 0; j < inner_in; ++j) {
          const int64_t i = (bi * t + ti) * inner_in + j;
          if (ids) xc.s32()[i] = (xc.s32()[i] + 1) % opt.vocab;
          else xc.f32()[i] += 0.5f;
        }
    const Tensor changed = layer->Forward(ctx, xc, Mode::kEval);
    const int64_t inner = base.numel() / (b * t);
    int64_t leaks = 0;
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t ti = 0; ti < t0; ++ti)
        for (int64_t j = 0; j < inner; ++j) {
          const int64_t i = (bi * t + ti) * inner + j;
          leaks += base.f32()[i] != changed.f32()[i];
        }
    add({"causal (inputs at t do not change outputs before t)", leaks == 0,
         leaks == 0 ? "" : absl::StrFormat("%d outputs before position %d changed", leaks, t0)});
  }

  // Decode: a prefix, then one position at a time, equals the full forward in eval mode.
  if (opt.check_decode && opt.input.size() >= 2) {
    const Tensor full = layer->Forward(ctx, x, Mode::kEval).Clone();
    const int64_t b = opt.input[0], t = opt.input[1];
    auto state = layer->NewDecodeState(b, t);
    const int64_t first = std::max<int64_t>(1, t - 3);
    std::vector<Tensor> pieces{layer->Step(ctx, SliceTime(x, 0, first), 0, state.get()).Clone()};
    for (int64_t pos = first; pos < t; ++pos)
      pieces.push_back(layer->Step(ctx, SliceTime(x, pos, pos + 1), pos, state.get()).Clone());
    double err = 0, scale = 1e-6;
    // Along the output's time axis (a layer may emit several rows per input position).
    const int64_t tf = full.dim(1), inner = full.numel() / (b * tf);
    for (int64_t i = 0; i < full.numel(); ++i) scale = std::max(scale, static_cast<double>(std::fabs(full.f32()[i])));
    for (int64_t bi = 0; bi < b; ++bi) {
      int64_t t0 = 0;
      for (const Tensor& piece : pieces) {
        const int64_t tl = piece.dim(1);
        for (int64_t ti = 0; ti < tl; ++ti)
          for (int64_t j = 0; j < inner; ++j)
            err = std::max(err, static_cast<double>(std::fabs(piece.f32()[(bi * tl + ti) * inner + j] -
                                                              full.f32()[(bi * tf + t0 + ti) * inner + j])));
        t0 += tl;
      }
    }
    add({"decode step == full forward", err / scale <= opt.decode_tolerance,
         absl::StrFormat("max relative difference %.2g (limit %.2g)", err / scale, opt.decode_tolerance)});
  }

  // FLOP count: reported, and (as sequences are independent) exactly doubled by a doubled batch.
  if (!opt.input.empty()) {
    layer->Forward(ctx, x, Mode::kTrain);
    const double f1 = layer->ForwardFlops();
    const bool reported = std::isfinite(f1) && f1 >= 0;
    std::string detail = reported ? absl::StrFormat("%.0f FLOPs at batch %d", f1, opt.input[0])
                                  : "not reported: override Layer::ForwardFlops";
    bool ok = reported;
    if (reported && opt.check_flop_scaling) {
      Shape doubled = opt.input;
      doubled[0] *= 2;
      layer->Forward(ctx, TestInput(doubled, opt.vocab, opt.seed), Mode::kTrain);
      const double f2 = layer->ForwardFlops();
      ok = std::fabs(f2 - 2 * f1) <= 1e-9 * std::max(1.0, f2);
      detail += absl::StrFormat(", %.0f at batch %d (must double)", f2, doubled[0]);
    }
    add({"FLOP count (ForwardFlops)", ok, detail});
  }

  // Timing at a larger shape.
  if (opt.timing_iterations > 0) {
    const Tensor xt = TestInput(opt.timing_input, opt.vocab, opt.seed);
    const Tensor yt = layer->Forward(ctx, xt, Mode::kTrain);
    const Tensor rt = TestInput(yt.shape(), 0, opt.seed + 2);
    layer->Backward(ctx, rt);  // warm caches
    std::vector<double> fwd, bwd;
    for (int i = 0; i < opt.timing_iterations; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      layer->Forward(ctx, xt, Mode::kTrain);
      auto t1 = std::chrono::steady_clock::now();
      layer->Backward(ctx, rt);
      auto t2 = std::chrono::steady_clock::now();
      fwd.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      bwd.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    }
    auto median = [](std::vector<double>& v) {
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      return v[v.size() / 2];
    };
    rep.forward_ms = median(fwd);
    rep.backward_ms = median(bwd);
  }
  return rep;
}

}  // namespace tinylm
