// The generic layer check (tinylm-plugin-check's) catches the bugs plugin authors make: a
// gradient assigned instead of accumulated, and an output that looks ahead in time.
#include <gtest/gtest.h>

#include "tinylm/layers/layer_check.h"

namespace tinylm::testing {
namespace {

// y = x * w (per channel). `assign` reproduces the classic bug: grad = ... instead of +=.
class ChannelScale : public Layer {
 public:
  ChannelScale(ParamStore& s, int64_t d, bool assign) : assign_(assign) {
    w_ = s.Declare("scale.w", {d}, Init::Constant(1.0f), false);
  }
  std::string type() const override { return "channel_scale"; }
  Tensor Forward(Context&, const Tensor& x, Mode) override {
    x_ = x;
    EnsureShape(y_, x.shape());
    const int64_t d = w_->numel();
    for (int64_t i = 0; i < x.numel(); ++i) y_.f32()[i] = x.f32()[i] * w_->value.f32()[i % d];
    return y_;
  }
  Tensor Backward(Context&, const Tensor& dy) override {
    const int64_t d = w_->numel();
    EnsureShape(dx_, dy.shape());
    std::vector<float> dw(d, 0.0f);
    for (int64_t i = 0; i < dy.numel(); ++i) {
      dx_.f32()[i] = dy.f32()[i] * w_->value.f32()[i % d];
      dw[i % d] += dy.f32()[i] * x_.f32()[i];
    }
    for (int64_t j = 0; j < d; ++j) w_->grad.f32()[j] = (assign_ ? 0.0f : w_->grad.f32()[j]) + dw[j];
    return dx_;
  }
  std::vector<Param*> Params() const override { return {w_}; }
  double ForwardFlops() const override { return y_.defined() ? static_cast<double>(y_.numel()) : 0.0; }

 private:
  bool assign_;
  Param* w_;
  Tensor x_, y_, dx_;
};

// y_t = x_t + x_{t+1}: not causal.
class LookAhead : public Layer {
 public:
  std::string type() const override { return "look_ahead"; }
  Tensor Forward(Context&, const Tensor& x, Mode) override {
    EnsureShape(y_, x.shape());
    const int64_t b = x.dim(0), t = x.dim(1), d = x.dim(2);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t ti = (i / d) % t;
      y_.f32()[i] = x.f32()[i] + (ti + 1 < t ? x.f32()[i + d] : 0.0f);
    }
    (void)b;
    return y_;
  }
  Tensor Backward(Context&, const Tensor& dy) override {
    EnsureShape(dx_, dy.shape());
    const int64_t t = dy.dim(1), d = dy.dim(2);
    for (int64_t i = 0; i < dy.numel(); ++i) {
      const int64_t ti = (i / d) % t;
      dx_.f32()[i] = dy.f32()[i] + (ti > 0 ? dy.f32()[i - d] : 0.0f);
    }
    return dx_;
  }
  double ForwardFlops() const override { return y_.defined() ? static_cast<double>(y_.numel()) : 0.0; }

 private:
  Tensor y_, dx_;
};

const CheckOutcome* Find(const LayerCheckReport& rep, const std::string& prefix) {
  for (const auto& c : rep.checks)
    if (c.name.rfind(prefix, 0) == 0) return &c;
  return nullptr;
}

TEST(LayerCheck, CatchesAssignedGradients) {
  LayerCheckOptions opt;
  opt.check_decode = false;
  for (bool assign : {false, true}) {
    const LayerCheckReport rep =
        CheckLayerGeneric([&](ParamStore& s) { return std::make_unique<ChannelScale>(s, 16, assign); }, opt);
    const CheckOutcome* c = Find(rep, "parameter gradients accumulate");
    ASSERT_NE(c, nullptr) << rep.Format("scale");
    EXPECT_EQ(c->ok, !assign) << rep.Format("scale");
    EXPECT_TRUE(Find(rep, "gradient of scale.w")->ok) << "finite differences alone cannot see it";
  }
}

TEST(LayerCheck, CatchesLookingAhead) {
  LayerCheckOptions opt;
  opt.check_decode = false;
  const LayerCheckReport rep = CheckLayerGeneric([](ParamStore&) { return std::make_unique<LookAhead>(); }, opt);
  const CheckOutcome* c = Find(rep, "causal");
  ASSERT_NE(c, nullptr) << rep.Format("look_ahead");
  EXPECT_FALSE(c->ok);
  EXPECT_TRUE(Find(rep, "input gradient")->ok);
}

}  // namespace
}  // namespace tinylm::testing
