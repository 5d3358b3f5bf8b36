// The differentiable op library (namespace tinylm::fn, as torch.nn.functional). Every op records
// itself on its inputs' graph, runs its forward at once, and knows its backward; ops that carry
// state along time also know their incremental decode step. Activations are [B, T, ...] with
// time on axis 1; "last axis" ops work on rows of the last dimension. Shapes are checked, and a
// mismatch throws std::invalid_argument naming the op.
//
// Each op is checked by one shared harness (tests/graph_ops_test.cc): a naive double reference,
// finite differences, decode == forward, gradient accumulation, determinism at 1 and 2 threads.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tinylm/graph/graph.h"
#include "tinylm/layers/rope.h"

namespace tinylm::fn {

// ---- elementwise, with numpy broadcasting (e.g. [B,T,D] * [D], [B,T,D] + [1]) ---------------
Var Add(Var a, Var b);
Var Sub(Var a, Var b);
Var Mul(Var a, Var b);
Var Div(Var a, Var b);
Var Scale(Var x, float alpha);  // alpha * x
// x + a * z (torch.addcmul): x, z of one shape, a a scalar, a trailing block or that shape.
// A gated residual (x + gamma * branch) in one pass.
Var AddCMul(Var x, Var a, Var z);
Var Exp(Var x);
Var Log(Var x);
Var Tanh(Var x);
Var Sigmoid(Var x);
Var Silu(Var x);
Var GeluErf(Var x);
Var GeluTanh(Var x);
Var Relu(Var x);
Var Relu2(Var x);      // relu(x)^2 (Primer's squared ReLU)
Var Softplus(Var x);   // log(1 + exp(x))

// ---- rows of the last axis ---------------------------------------------------------------------
Var Softmax(Var x);
Var LogSoftmax(Var x);
// x / rms(x) * weight; weight may be undefined (parameter-free, as in BitLinear).
Var RmsNorm(Var x, Var weight, float eps = 1e-6f);
// (x - mean) / std * weight + bias (oneDNN layer_normalization). weight and bias: both or neither.
Var LayerNorm(Var x, Var weight, Var bias, float eps = 1e-5f);

// ---- reductions --------------------------------------------------------------------------------
Var Sum(Var x, int axis, bool keepdim = false);
Var Mean(Var x, int axis, bool keepdim = false);

// ---- products ----------------------------------------------------------------------------------
// op(a) . op(b) for 2-D or batched 3-D operands (oneDNN matmul; transposes are strided views).
Var Matmul(Var a, Var b, bool trans_a = false, bool trans_b = false);
// x [..., in] . weight^T [in, out] + bias [out] (bias may be undefined), as torch's F.linear.
Var Linear(Var x, Var weight, Var bias = Var());

// ---- along time (axis 1), causal; each keeps a decode state --------------------------------------
Var CumSum(Var x);               // y_t = sum_{s<=t} x_s
Var CumMean(Var x);              // y_t = (1/(t+1)) sum_{s<=t} x_s (t counted from 0)
Var Shift(Var x, int64_t k);     // y_t = x_{t-k}, zero for t < k (k >= 1)
// Depthwise causal convolution: y_t = sum_{j<K} w[j] * x_{t-j} (+ bias); x [B,T,C], w [K,C].
Var CausalConv1d(Var x, Var weight, Var bias = Var());
// Multi-head causal softmax attention: q, k, v [B,T,heads*hd] -> [B,T,heads*hd]
// (softmax(q k^T / sqrt(hd)) v per head; the core's attention kernels, a KV cache in decode).
Var CausalAttention(Var q, Var k, Var v, int64_t heads);
// Rotary embedding of each head of x [B,T,heads*hd] at positions t (+ the decode position).
// `rope` holds the tables (make it once, e.g. as a member of the layer).
Var Rope(Var x, const tinylm::Rope& rope, int64_t heads);

// ---- shapes ------------------------------------------------------------------------------------
Var Reshape(Var x, const Shape& shape);  // one dimension may be -1
Var Transpose(Var x, int axis0, int axis1);
Var Slice(Var x, int axis, int64_t begin, int64_t end);
std::vector<Var> Split(Var x, const std::vector<int64_t>& sizes, int axis = -1);
Var Concat(const std::vector<Var>& xs, int axis = -1);
// Rows of `table` [V, D] at int32 `ids` [...] -> [..., D] (an embedding lookup).
Var Gather(Var table, Var ids);

// ---- regularisation ------------------------------------------------------------------------------
// Inverted dropout in training passes, identity otherwise. The mask of element i is a function of
// (context seed, the layer's tag + "." + name, step, i): a hand-written Dropout named the same way
// draws the same mask.
Var Dropout(Var x, float p, const std::string& name = "dropout");

}  // namespace tinylm::fn

namespace tinylm {
inline Var operator+(Var a, Var b) { return fn::Add(a, b); }
inline Var operator-(Var a, Var b) { return fn::Sub(a, b); }
inline Var operator*(Var a, Var b) { return fn::Mul(a, b); }
inline Var operator/(Var a, Var b) { return fn::Div(a, b); }
inline Var operator*(Var a, float s) { return fn::Scale(a, s); }
inline Var operator*(float s, Var a) { return fn::Scale(a, s); }
inline Var operator-(Var a) { return fn::Scale(a, -1.0f); }
}  // namespace tinylm
