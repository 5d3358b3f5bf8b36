#include "tinylm/graph/graph.h"

#include <stdexcept>

#include "tinylm/tensors/ops.h"
#include "tinylm/tensors/rng.h"

namespace tinylm {
namespace {

// A leaf: the layer input, a parameter or a constant. Nothing to compute or propagate.
struct LeafOp final : Op {
  const char* name() const override { return "leaf"; }
  void Forward(const OpRun&) override {}
  void Backward(const OpRun&) override {}
  double Flops(const OpRun&) const override { return 0; }
};

// EnsureShape that counts real allocations (the steady-state test watches the count).
Tensor& Ensure(Tensor& t, const Shape& shape, DType dtype) {
  if (!t.defined() || t.dtype() != dtype || t.numel() != NumElements(shape)) ++Graph::allocations();
  return EnsureShape(t, shape, dtype);
}

}  // namespace

const Tensor& Var::value() const { return g_->node(id_).value; }
const Shape& Var::shape() const { return value().shape(); }
int64_t Var::dim(int i) const { return value().dim(i); }

// ---- OpRun ------------------------------------------------------------------------------------
const Tensor& OpRun::in(int i) const { return g_.node(n_.inputs[i]).value; }

Tensor& OpRun::out(const Shape& shape) const { return Ensure(n_.value, shape, DType::kF32); }

Tensor& OpRun::scratch(int i, const Shape& shape, DType dtype) const {
  if (i < 0 || i >= Node::kScratchSlots) throw std::logic_error(std::string(n_.op->name()) + ": scratch slot out of range");
  return Ensure(n_.scratch[i], shape, dtype);
}

GradSlot OpRun::din(int i) const {
  if (!has_input(i)) return {};
  Node& in = g_.node(n_.inputs[i]);
  if (!in.needs_grad) return {};
  if (in.owns_grad) Ensure(in.grad, in.value.shape(), DType::kF32);
  GradSlot s{&in.grad, in.has_grad};
  in.has_grad = true;
  return s;
}

GraphPass OpRun::pass() const { return g_.pass_; }
int64_t OpRun::position() const { return g_.position_; }
int64_t OpRun::max_len() const { return g_.decode_ ? g_.decode_->max_len : 0; }

std::unique_ptr<OpState>& OpRun::state_slot() const {
  if (!g_.decode_) throw std::logic_error(std::string(n_.op->name()) + ": decode state outside Step");
  auto& states = g_.decode_->states;
  if (static_cast<int>(states.size()) <= id_) states.resize(id_ + 1);
  return states[id_];
}

uint64_t OpRun::stream_id(const std::string& name) const {
  // FNV-1a continued from the salt: equals HashString(tag + "." + name), the stream a
  // hand-written layer named tag + "." + name uses, so graph and hand-written layers agree.
  return HashString(("." + name).c_str(), g_.salt_);
}

double Op::Flops(const OpRun& r) const { return static_cast<double>(r.out().numel()); }

// ---- Graph ------------------------------------------------------------------------------------
std::atomic<uint64_t>& Graph::allocations() {
  static std::atomic<uint64_t> count{0};  // atomic: runs may train side by side (ablate --jobs)
  return count;
}

void Graph::Begin(Context& ctx, GraphPass pass, int64_t position, GraphDecodeState* decode) {
  ctx_ = &ctx;
  pass_ = pass;
  position_ = position;
  decode_ = decode;
  cursor_ = 0;
  input_id_ = -1;
}

Node& Graph::NextNode() {
  if (cursor_ == static_cast<int>(nodes_.size())) nodes_.push_back(std::make_unique<Node>());
  return *nodes_[cursor_];
}

Var Graph::Input(const Tensor& x, bool requires_grad) {
  Node& n = Reuse(LeafOp{});
  n.inputs.clear();
  n.value = x;
  n.needs_grad = requires_grad && pass_ == GraphPass::kTrain;
  n.has_grad = false;
  n.owns_grad = true;
  if (requires_grad) input_id_ = cursor_;
  return Var(this, cursor_++);
}

Var Graph::Parameter(Param* p) {
  if (!p || !p->value.defined()) throw std::logic_error("graph: parameter used before ParamStore::Allocate");
  Node& n = Reuse(LeafOp{});
  n.inputs.clear();
  n.value = p->value;
  n.grad = p->grad;
  n.needs_grad = pass_ == GraphPass::kTrain;
  n.has_grad = true;  // parameter gradients always accumulate
  n.owns_grad = false;
  return Var(this, cursor_++);
}

Var Graph::Constant(const Tensor& t) {
  Node& n = Reuse(LeafOp{});
  n.inputs.clear();
  Ensure(n.value, t.shape(), t.dtype()).CopyFrom(t);
  n.needs_grad = false;
  n.has_grad = false;
  n.owns_grad = true;
  return Var(this, cursor_++);
}

Var Graph::RecordNode(Node& n, const Var* inputs, size_t count) {
  if (!ctx_) throw std::logic_error("graph: ops recorded outside a pass (Begin not called)");
  n.inputs.clear();
  n.needs_grad = false;
  for (size_t i = 0; i < count; ++i) {
    const Var& v = inputs[i];
    if (!v.defined()) {  // an absent optional input (e.g. no bias)
      n.inputs.push_back(-1);
      continue;
    }
    if (&v.graph() != this || v.id() >= cursor_)
      throw std::invalid_argument(std::string(n.op->name()) + ": input from another graph or pass");
    n.inputs.push_back(v.id());
    n.needs_grad = n.needs_grad || nodes_[v.id()]->needs_grad;
  }
  n.has_grad = false;
  n.owns_grad = true;
  OpRun r(*this, n, cursor_, *ctx_);
  try {
    if (pass_ == GraphPass::kStep) n.op->Step(r);
    else n.op->Forward(r);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(n.op->name()) + ": " + e.what());
  }
  return Var(this, cursor_++);
}

Tensor Graph::Backward(Var y, const Tensor& dy) {
  if (pass_ != GraphPass::kTrain) throw std::logic_error("graph: Backward after a pass that was not training");
  if (&y.graph() != this) throw std::invalid_argument("graph: Backward of a Var from another graph");
  for (int id = 0; id < cursor_; ++id)
    if (nodes_[id]->owns_grad) nodes_[id]->has_grad = false;
  Node& out = *nodes_[y.id()];
  if (dy.shape() != out.value.shape())
    throw std::invalid_argument("graph: gradient " + ShapeString(dy.shape()) + " for output " +
                                ShapeString(out.value.shape()));
  if (out.needs_grad) {
    if (out.owns_grad) {
      Ensure(out.grad, dy.shape(), DType::kF32).CopyFrom(dy);
    } else {
      AddInPlace(out.grad, dy);
    }
    out.has_grad = true;
    for (int id = y.id(); id >= 0; --id) {
      Node& n = *nodes_[id];
      if (!n.needs_grad || !n.has_grad || n.inputs.empty() || !n.owns_grad) continue;
      OpRun r(*this, n, id, *ctx_);
      n.op->Backward(r);
    }
  }
  if (input_id_ < 0) return Tensor();
  Node& in = *nodes_[input_id_];
  if (!in.has_grad) Ensure(in.grad, in.value.shape(), DType::kF32).SetZero();
  return in.grad;
}

double Graph::Flops() {
  double f = 0;
  for (int id = 0; id < cursor_; ++id) {
    Node& n = *nodes_[id];
    OpRun r(*this, n, id, *ctx_);
    f += n.op->Flops(r);
  }
  return f;
}

}  // namespace tinylm
