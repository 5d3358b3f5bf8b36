#include "tinylm/graph/graph_layer.h"

#include <stdexcept>

#include "tinylm/plugins/plugin.h"
#include "tinylm/tensors/rng.h"

namespace tinylm {

Var fn::Linear(Var x, const LinearParams& p) {
  Graph& g = x.graph();
  return fn::Linear(x, g.Parameter(p.weight), p.bias ? g.Parameter(p.bias) : Var());
}

GraphLayer::GraphLayer(std::string type, ParamStore& store, std::string name, std::string tag)
    : type_(std::move(type)), name_(std::move(name)), store_(&store),
      salt_(HashString(tag.empty() ? name_.c_str() : tag.c_str())) {}

GraphLayer::GraphLayer(std::string type, const LayerBuildContext& ctx)
    : GraphLayer(std::move(type), *ctx.store, ctx.name, ctx.tag) {}

Param* GraphLayer::Declare(const std::string& suffix, const Shape& shape, Init init, bool decay) {
  Param* p = store_->Declare(name_ + "." + suffix, shape, init, decay);
  Use(p);
  return p;
}

LinearParams GraphLayer::DeclareLinear(const std::string& suffix, int64_t in, int64_t out, bool bias,
                                       float init_std) {
  LinearParams l;
  l.weight = Declare(suffix + ".weight", {out, in}, Init::Normal(init_std), true);
  if (bias) l.bias = Declare(suffix + ".bias", {out}, Init::Constant(0.0f), false);
  return l;
}

void GraphLayer::Use(Param* p) { AppendUnique(params_, {p}); }

Tensor GraphLayer::Forward(Context& ctx, const Tensor& x, Mode mode) {
  const bool train = mode == Mode::kTrain;
  tape_.set_salt(salt_);
  tape_.Begin(ctx, train ? GraphPass::kTrain : GraphPass::kEval);
  out_ = Build(tape_, tape_.Input(x, x.dtype() == DType::kF32));
  last_tape_ = &tape_;
  return out_.value();
}

Tensor GraphLayer::Backward(Context&, const Tensor& dy) {
  if (!out_.defined()) throw std::logic_error(type_ + ": Backward before a training Forward");
  return tape_.Backward(out_, dy);
}

std::unique_ptr<DecodeState> GraphLayer::NewDecodeState(int64_t batch, int64_t max_len) const {
  auto s = std::make_unique<GraphDecodeState>();
  s->batch = batch;
  s->max_len = max_len;
  return s;
}

Tensor GraphLayer::Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) {
  auto* s = dynamic_cast<GraphDecodeState*>(state);
  if (!s) throw std::logic_error(type_ + ": Step needs the state from NewDecodeState");
  if (pos != s->next)
    throw std::logic_error(type_ + ": decode positions must be contiguous (expected " + std::to_string(s->next) +
                           ", got " + std::to_string(pos) + ")");
  step_tape_.set_salt(salt_);
  step_tape_.Begin(ctx, GraphPass::kStep, pos, s);
  const Var y = Build(step_tape_, step_tape_.Input(x, false));
  s->next = pos + x.dim(1);
  last_tape_ = &step_tape_;
  return y.value();
}

}  // namespace tinylm
