// Differentiable ops on tinylm tensors: a tape that records a forward pass as it runs and
// derives its backward and its incremental decode step (in the spirit of flashlight's autograd
// and ggml's graphs, over the same oneDNN kernels the hand-written layers use).
//
// A Var names the output of one recorded op. Writing a layer means composing ops (graph/ops.h)
// on Vars inside GraphLayer::Build (graph/graph_layer.h); the tape then gives:
//  - Backward: nodes in reverse order, each op adding into its inputs' gradients;
//  - Step: the same Build replayed on new positions, with ops that carry state along time
//    (cumulative sums, shifts, causal convolution, attention) keeping it per node;
//  - no allocation in steady state: node i of a replay reuses node i's op object and buffers.
#pragma once
#include <cstdint>
#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include "tinylm/tensors/context.h"
#include "tinylm/layers/layer.h"
#include "tinylm/tensors/params.h"
#include "tinylm/tensors/tensor.h"

namespace tinylm {

class Graph;
class Op;

// A value on the tape. Cheap to copy; valid while its graph records the same pass.
class Var {
 public:
  Var() = default;
  Var(Graph* g, int id) : g_(g), id_(id) {}
  bool defined() const { return g_ != nullptr; }
  Graph& graph() const { return *g_; }
  int id() const { return id_; }
  const Tensor& value() const;
  const Shape& shape() const;
  int64_t dim(int i) const;

 private:
  Graph* g_ = nullptr;
  int id_ = -1;
};

// Per-node state carried along time in decode (running sums, the last inputs, a KV cache).
struct OpState {
  virtual ~OpState() = default;
};

// Where an op writes the gradient of one input: `accumulate` false means the slot holds garbage
// and must be overwritten (the first contribution), true means add to it. `t` is undefined when
// the input needs no gradient.
struct GradSlot {
  Tensor* t = nullptr;
  bool accumulate = false;
  bool needed() const { return t != nullptr; }
};

enum class GraphPass { kTrain, kEval, kStep };

// A graph layer's decode state: one slot per node, filled by the ops that carry time.
struct GraphDecodeState : DecodeState {
  std::vector<std::unique_ptr<OpState>> states;
  int64_t batch = 0, max_len = 0;
  int64_t next = 0;  // the position the next Step must start at
};

// One recorded op application.
struct Node {
  std::unique_ptr<Op> op;          // reused across passes when the op type is unchanged
  std::vector<int> inputs;         // node ids
  Tensor value;                    // output (owned buffer, or a view for view ops / leaves)
  Tensor grad;                     // dL/dvalue (a param's grad view for parameter leaves)
  // What an op keeps for backward and its workspaces, by slot index. A fixed array, so that
  // references to one slot stay valid while an op takes the next.
  static constexpr int kScratchSlots = 16;
  std::array<Tensor, kScratchSlots> scratch;
  bool needs_grad = false;         // a parameter or the differentiable input is upstream
  bool has_grad = false;           // grad holds a contribution (params: always, they accumulate)
  bool owns_grad = true;           // false for parameter leaves (grad is the param's arena view)
};

// The arguments an op runs with: its node, the graph and the context.
class OpRun {
 public:
  OpRun(Graph& g, Node& n, int id, Context& ctx) : g_(g), n_(n), id_(id), ctx_(ctx) {}
  Context& ctx() const { return ctx_; }
  Graph& graph() const { return g_; }
  int num_inputs() const { return static_cast<int>(n_.inputs.size()); }
  const Tensor& in(int i) const;
  bool has_input(int i) const { return i < num_inputs() && n_.inputs[i] >= 0; }
  // The output buffer, made `shape` (reused when unchanged).
  Tensor& out(const Shape& shape) const;
  const Tensor& out() const { return n_.value; }
  // Sets the output to a view of existing bytes (reshape, slices of time-0 views).
  void set_out(const Tensor& t) const { n_.value = t; }
  // Scratch buffer `i`, made `shape` (reused when unchanged).
  Tensor& scratch(int i, const Shape& shape, DType dtype = DType::kF32) const;
  Tensor& scratch(int i) const { return n_.scratch[i]; }
  // Backward only: dL/dout, and where input i's gradient goes.
  const Tensor& dout() const { return n_.grad; }
  GradSlot din(int i) const;
  GraphPass pass() const;
  bool training() const { return pass() == GraphPass::kTrain; }
  // Step only: the first position of this call's rows, the longest sequence the decode state
  // was made for, and this node's state.
  int64_t position() const;
  int64_t max_len() const;
  // This node's decode state, made by `make` on the first step.
  template <typename S, typename... A>
  S& state(A&&... args) const;
  // A stable id for randomness: the graph's salt mixed with `name` (dropout streams).
  uint64_t stream_id(const std::string& name) const;

 private:
  std::unique_ptr<OpState>& state_slot() const;
  Graph& g_;
  Node& n_;
  int id_;
  Context& ctx_;
};

// An operation: forward, backward, optionally a stateful decode step, and a FLOP count. Ops hold
// only small configuration (axis, eps, ...); buffers live in the node, so op objects are
// recreated by value at no cost.
class Op {
 public:
  virtual ~Op() = default;
  virtual const char* name() const = 0;
  // Computes the output from the inputs (validating their shapes: throw std::invalid_argument).
  virtual void Forward(const OpRun& r) = 0;
  // Adds dL/dinputs given dL/dout, honouring each GradSlot's accumulate flag.
  virtual void Backward(const OpRun& r) = 0;
  // Decode: inputs hold positions [position, position + T) of a sequence whose earlier positions
  // went through Step with the same state. Position-wise ops need not override it.
  virtual void Step(const OpRun& r) { Forward(r); }
  // Floating-point operations of the last forward (backward is counted as twice that).
  virtual double Flops(const OpRun& r) const;
  // True when the op's output at position t depends on other positions (for docs/summaries).
  virtual bool carries_time() const { return false; }
};

// The tape. Record ops through graph/ops.h; Backward/Step are driven by GraphLayer.
class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Starts a pass: the next recorded op becomes node 0 again (buffers are kept).
  void Begin(Context& ctx, GraphPass pass, int64_t position = 0, GraphDecodeState* decode = nullptr);
  Context& ctx() const { return *ctx_; }
  GraphPass pass() const { return pass_; }
  int64_t position() const { return position_; }
  void set_salt(uint64_t salt) { salt_ = salt; }
  uint64_t salt() const { return salt_; }

  // Leaves: the layer input (differentiable or not) and parameters (gradients accumulate into
  // the parameter's grad arena, so shared and tied weights add up naturally).
  Var Input(const Tensor& x, bool requires_grad);
  Var Parameter(Param* p);
  // A constant (no gradient) of the given values; copied into a node buffer.
  Var Constant(const Tensor& t);

  // Records op `o` over `inputs` and runs its forward (or step). Used by graph/ops.h.
  template <typename O>
  Var Record(O o, std::initializer_list<Var> inputs) {
    return RecordNode(Reuse<O>(std::move(o)), inputs.begin(), inputs.size());
  }
  template <typename O>
  Var Record(O o, const std::vector<Var>& inputs) {
    return RecordNode(Reuse<O>(std::move(o)), inputs.data(), inputs.size());
  }

  // Backpropagates dL/dy from `y` through everything recorded in this pass. Returns dL/dx for
  // the differentiable Input (zeros when it got no gradient; undefined if there is none).
  Tensor Backward(Var y, const Tensor& dy);

  // FLOPs of the last pass (forward only).
  double Flops();
  int size() const { return cursor_; }
  const Node& node(int id) const { return *nodes_[id]; }
  Node& node(int id) { return *nodes_[id]; }
  // How many times node buffers were (re)allocated: steady state must keep this constant.
  static std::atomic<uint64_t>& allocations();

 private:
  friend class OpRun;
  template <typename O>
  Node& Reuse(O o) {
    Node& n = NextNode();
    if (n.op && typeid(*n.op) == typeid(O)) {
      *static_cast<O*>(n.op.get()) = std::move(o);
    } else {  // a different op than last pass at this position: start from fresh buffers
      n.op = std::make_unique<O>(std::move(o));
      n.scratch = {};
      n.value = Tensor();
      n.grad = Tensor();
    }
    return n;
  }
  Node& NextNode();
  Var RecordNode(Node& n, const Var* inputs, size_t count);

  std::vector<std::unique_ptr<Node>> nodes_;
  int cursor_ = 0;
  int input_id_ = -1;
  Context* ctx_ = nullptr;
  GraphPass pass_ = GraphPass::kEval;
  int64_t position_ = 0;
  GraphDecodeState* decode_ = nullptr;
  uint64_t salt_ = 0;
};

template <typename S, typename... A>
S& OpRun::state(A&&... args) const {
  std::unique_ptr<OpState>& slot = state_slot();
  if (!slot) slot = std::make_unique<S>(std::forward<A>(args)...);
  return *static_cast<S*>(slot.get());
}

}  // namespace tinylm
