// test_optim.cpp — SGD, Adam, AdamW against hand-computed steps; the flat
// parameter/gradient buffers; parameter groups; gradient clipping.
#include <cmath>
#include <limits>
#include <set>

#include "tests/support/helpers.h"
#include "nn/optim/adam.h"
#include "nn/optim/grad_clip.h"
#include "nn/optim/sgd.h"
#include "nn/models/vit.h"

using namespace attnlab;
using namespace attnlab::testing;

static nn::ViTConfig tiny_vit() {
    nn::ViTConfig c;
    c.image_size = 8, c.patch_size = 4, c.channels = 3, c.num_classes = 3;  // 4 patches + cls = 5 tokens
    c.dim = 16, c.depth = 2, c.heads = 2, c.mlp_ratio = 2.0, c.dropout = 0.0, c.drop_path = 0.0;
    return c;
}

// A parameter that requires grad, holding `values`.
static Tensor param(const std::vector<float>& values) {
    return Tensor::from_vector(values, {int64_t(values.size())}).requires_grad_();
}

// Writes `values` into p's gradient (the optimizer's preallocated view).
static void set_grad(const Tensor& p, const std::vector<float>& values) {
    copy_(p.grad(), Tensor::from_vector(values, p.shape()));
}

// ---- hand-computed steps ----------------------------------------------------------

TEST_CASE("SGD with momentum 0.9 matches three hand-computed steps", "[optim]") {
    Tensor p = param({1.0f, -2.0f, 0.5f});
    nn::SGD opt({{"p", p}}, {.lr = 0.1, .momentum = 0.9});
    // buf = 0.9·buf + g;  p -= 0.1·buf
    set_grad(p, {0.5f, -1.0f, 2.0f});
    opt.step();
    // buf = [0.5, -1, 2];  p = [1 - 0.05, -2 + 0.1, 0.5 - 0.2]
    require_close(p, {0.95f, -1.9f, 0.3f});
    set_grad(p, {1.0f, 0.5f, -1.0f});
    opt.step();
    // buf = [0.45 + 1, -0.9 + 0.5, 1.8 - 1] = [1.45, -0.4, 0.8];  p = [0.95 - 0.145, -1.9 + 0.04, 0.3 - 0.08]
    require_close(p, {0.805f, -1.86f, 0.22f});
    set_grad(p, {-0.5f, 2.0f, 0.25f});
    opt.step();
    // buf = [1.305 - 0.5, -0.36 + 2, 0.72 + 0.25] = [0.805, 1.64, 0.97];  p = [0.805 - 0.0805, -1.86 - 0.164, 0.22 - 0.097]
    require_close(p, {0.7245f, -2.024f, 0.123f});
    REQUIRE(opt.step_count() == 3);
}

TEST_CASE("SGD with Nesterov momentum and weight decay matches three hand-computed steps", "[optim]") {
    Tensor p = param({1.0f, -2.0f});
    nn::SGD opt({{"p", p}}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true});
    // d = g + 0.1·p;  buf = 0.9·buf + d;  d = d + 0.9·buf;  p -= 0.1·d
    set_grad(p, {0.5f, -1.0f});
    opt.step();
    // e0: d = 0.5 + 0.1 = 0.6;  buf = 0.6;  d = 0.6 + 0.54 = 1.14;  p = 1 - 0.114 = 0.886
    // e1: d = -1 - 0.2 = -1.2;  buf = -1.2; d = -1.2 - 1.08 = -2.28; p = -2 + 0.228 = -1.772
    require_close(p, {0.886f, -1.772f});
    set_grad(p, {1.0f, 0.5f});
    opt.step();
    // e0: d = 1 + 0.0886 = 1.0886;  buf = 0.54 + 1.0886 = 1.6286;  d = 1.0886 + 1.46574 = 2.55434;  p = 0.886 - 0.255434
    // e1: d = 0.5 - 0.1772 = 0.3228; buf = -1.08 + 0.3228 = -0.7572; d = 0.3228 - 0.68148 = -0.35868; p = -1.772 + 0.035868
    require_close(p, {0.630566f, -1.736132f});
    set_grad(p, {-0.5f, 2.0f});
    opt.step();
    // e0: d = -0.5 + 0.0630566 = -0.4369434; buf = 1.46574 - 0.4369434 = 1.0287966; d = -0.4369434 + 0.92591694
    //     = 0.48897354; p = 0.630566 - 0.048897354 = 0.581668646
    // e1: d = 2 - 0.1736132 = 1.8263868; buf = -0.68148 + 1.8263868 = 1.1449068; d = 1.8263868 + 1.03041612
    //     = 2.85680292; p = -1.736132 - 0.285680292 = -2.021812292
    require_close(p, {0.581668646f, -2.021812292f});
}

TEST_CASE("SGD without momentum takes plain gradient steps with L2 decay", "[optim]") {
    Tensor p = param({2.0f, -1.0f});
    nn::SGD opt({{"p", p}}, {.lr = 0.5, .weight_decay = 0.2});
    set_grad(p, {1.0f, 1.0f});
    opt.step();
    // p -= 0.5·(g + 0.2·p):  2 - 0.5·1.4 = 1.3;  -1 - 0.5·0.8 = -1.4
    require_close(p, {1.3f, -1.4f});
}

// Adam's scalar recurrence written out for the tests (β1 0.9, β2 0.999, ε 1e-8):
//   g' = g + wd·p (Adam) | p = p·(1 − lr·wd) (AdamW);  m = 0.9m + 0.1g';  v = 0.999v + 0.001g'²
//   p -= lr/(1 − 0.9^t) · m / (√v/√(1 − 0.999^t) + 1e-8)
struct ScalarAdam {
    double p, m = 0, v = 0;
    void step(double g, int t, double lr, double wd, bool decoupled) {
        if (decoupled) p *= 1 - lr * wd;
        else g += wd * p;
        m = 0.9 * m + 0.1 * g;
        v = 0.999 * v + 0.001 * g * g;
        p -= lr / (1 - std::pow(0.9, t)) * m / (std::sqrt(v) / std::sqrt(1 - std::pow(0.999, t)) + 1e-8);
    }
};

TEST_CASE("AdamW matches three hand-computed steps", "[optim]") {
    Tensor p = param({1.0f, -0.5f});
    nn::AdamW opt({{"p", p}}, {.lr = 0.1, .weight_decay = 0.1});
    REQUIRE(opt.type() == "AdamW");
    set_grad(p, {0.2f, -0.4f});
    opt.step();
    // Step 1: m̂ = g, v̂ = g², so the step is lr·g/|g| = ±0.1 after the decay p·(1 − 0.01):
    // [0.99 − 0.1, −0.495 + 0.1]
    require_close(p, {0.89f, -0.395f});
    // Step 2, element 0: p = 0.89·0.99 = 0.8811; m = 0.9·0.02 + 0.1·0.1 = 0.028;
    // v = 0.999·4e-5 + 0.001·0.01 = 4.996e-5; m̂ = 0.028/0.19; v̂ = 4.996e-5/0.001999;
    // p = 0.8811 − 0.1·m̂/(√v̂ + 1e-8) = 0.8811 − 0.1·0.1473684/0.1580910 = 0.787882
    set_grad(p, {0.1f, 0.3f});
    opt.step();
    ScalarAdam a{1.0}, b{-0.5};
    a.step(0.2, 1, 0.1, 0.1, true), b.step(-0.4, 1, 0.1, 0.1, true);
    a.step(0.1, 2, 0.1, 0.1, true), b.step(0.3, 2, 0.1, 0.1, true);
    REQUIRE(a.p == Approx(0.787882).epsilon(1e-5));
    require_close(p, {float(a.p), float(b.p)});
    set_grad(p, {-0.3f, 0.2f});
    opt.step();
    a.step(-0.3, 3, 0.1, 0.1, true), b.step(0.2, 3, 0.1, 0.1, true);
    require_close(p, {float(a.p), float(b.p)});
}

TEST_CASE("Adam with L2 weight decay matches three hand-computed steps", "[optim]") {
    Tensor p = param({1.0f, -0.5f});
    nn::Adam opt({{"p", p}}, {.lr = 0.1, .weight_decay = 0.1});
    set_grad(p, {0.2f, -0.4f});
    opt.step();
    // Step 1: g' = g + 0.1·p = [0.3, −0.45]; the step is lr·sign(g') = ±0.1 with no decay of p.
    require_close(p, {0.9f, -0.4f});
    ScalarAdam a{1.0}, b{-0.5};
    a.step(0.2, 1, 0.1, 0.1, false), b.step(-0.4, 1, 0.1, 0.1, false);
    set_grad(p, {0.1f, 0.3f});
    opt.step();
    a.step(0.1, 2, 0.1, 0.1, false), b.step(0.3, 2, 0.1, 0.1, false);
    require_close(p, {float(a.p), float(b.p)});
    set_grad(p, {-0.3f, 0.2f});
    opt.step();
    a.step(-0.3, 3, 0.1, 0.1, false), b.step(0.2, 3, 0.1, 0.1, false);
    require_close(p, {float(a.p), float(b.p)});
}

TEST_CASE("Adam and AdamW use PyTorch's defaults", "[optim]") {
    Tensor p = param({1.0f});
    nn::Adam adam({{"p", p}});
    REQUIRE(adam.lr() == 1e-3);
    REQUIRE(adam.beta1() == 0.9);
    REQUIRE(adam.beta2() == 0.999);
    REQUIRE(adam.eps() == 1e-8);
    REQUIRE(adam.groups()[0].weight_decay == 0.0);
    Tensor q = param({1.0f});
    nn::AdamW adamw({{"q", q}});
    REQUIRE(adamw.groups()[0].weight_decay == 0.01);
}

// ---- the flat buffers ---------------------------------------------------------

TEST_CASE("building an optimizer keeps parameter values and moves them into one flat buffer", "[optim]") {
    manual_seed(1);
    nn::VisionTransformer vit(tiny_vit());
    std::vector<std::vector<float>> before;
    for (auto& [n, p] : vit.named_parameters()) before.push_back(p.to_vector());
    nn::AdamW opt(nn::single_group(vit));
    REQUIRE(opt.numel() == vit.num_parameters());
    int64_t offset = 0;
    size_t i = 0;
    for (auto& [name, p] : vit.named_parameters()) {
        INFO(name);
        REQUIRE(p.to_vector() == before[i++]);
        REQUIRE(p.raw()->storage == opt.flat_params().raw()->storage);
        REQUIRE(p.offset() == offset);
        REQUIRE(p.is_contiguous());
        REQUIRE(p.grad().raw()->storage == opt.flat_grads().raw()->storage);
        REQUIRE(p.grad().offset() == offset);
        offset += p.numel();
    }
    REQUIRE(offset == opt.numel());
}

TEST_CASE("after building an optimizer, forward and backward still work and fill the flat gradient buffer",
          "[optim]") {
    manual_seed(2);
    nn::VisionTransformer a(tiny_vit());
    manual_seed(2);
    nn::VisionTransformer b(tiny_vit());  // the same weights, no optimizer
    nn::AdamW opt(nn::single_group(a));
    Generator g(3);
    Tensor x = Tensor::randn({4, 3, 8, 8}, g);
    Tensor y = Tensor::from_indices({0, 1, 2, 1}, {4});
    Tensor la = cross_entropy(a.forward(x), y), lb = cross_entropy(b.forward(x), y);
    REQUIRE(la.item() == lb.item());
    la.backward();
    lb.backward();
    auto pa = a.named_parameters(), pb = b.named_parameters();
    double sum_sq = 0;
    for (size_t i = 0; i < pa.size(); ++i) {
        INFO(pa[i].first);
        require_close(pa[i].second.grad(), pb[i].second.grad(), 1e-6f);
        for (float v : pb[i].second.grad().to_vector()) sum_sq += double(v) * v;
    }
    REQUIRE(nn::grad_norm(opt) == Approx(std::sqrt(sum_sq)).epsilon(1e-6));
}

TEST_CASE("zero_grad sets every gradient to zero and keeps the buffers", "[optim]") {
    nn::VisionTransformer vit(tiny_vit());
    nn::SGD opt(nn::single_group(vit), {.lr = 0.1});
    Generator g(4);
    cross_entropy(vit.forward(Tensor::randn({2, 3, 8, 8}, g)), Tensor::from_indices({0, 2}, {2})).backward();
    REQUIRE(nn::grad_norm(opt) > 0);
    opt.zero_grad();
    for (auto& [name, p] : vit.named_parameters()) {
        REQUIRE(max(abs(p.grad())).item() == 0.f);
        REQUIRE(p.grad().raw()->storage == opt.flat_grads().raw()->storage);
    }
}

TEST_CASE("step updates the model's own parameter tensors", "[optim]") {
    nn::VisionTransformer vit(tiny_vit());
    nn::SGD opt(nn::single_group(vit), {.lr = 0.5});
    Tensor head_before = vit.head->weight.clone();
    Generator g(5);
    cross_entropy(vit.forward(Tensor::randn({2, 3, 8, 8}, g)), Tensor::from_indices({0, 2}, {2})).backward();
    Tensor expected = head_before - 0.5f * vit.head->weight.grad();
    opt.step();
    require_close(vit.head->weight, expected);
    // The module's member, its registry entry and the flat buffer are one tensor.
    for (auto& [name, p] : vit.named_parameters())
        if (name == "head.weight") require_close(p, expected);
}

TEST_CASE("an optimizer rejects a parameter listed twice", "[optim][errors]") {
    Tensor p = param({1.0f});
    REQUIRE_THROWS_WITH(nn::SGD({{"a", p}, {"b", p}}), Catch::Contains("parameter 'b' appears twice"));
    Tensor q = param({1.0f});
    REQUIRE_THROWS_WITH(nn::SGD({{"a", p}, {"a", q}}), Catch::Contains("two parameters are named 'a'"));
}

TEST_CASE("replacing a parameter's storage after building the optimizer is reported by step", "[optim][errors]") {
    Tensor p = param({1.0f, 2.0f});
    nn::SGD opt({{"w", p}});
    p.raw()->storage = Tensor::zeros({2}).raw()->storage;
    REQUIRE_THROWS_WITH(opt.step(), Catch::Contains("parameter 'w' no longer lives in the optimizer's flat buffer"));
}

TEST_CASE("a gradient reset to undefined is re-attached to the flat buffer as zeros", "[optim]") {
    Tensor p = param({1.0f, 2.0f});
    nn::SGD opt({{"w", p}}, {.lr = 1.0});
    p.raw()->grad = Tensor();  // what a "set grads to None" zero_grad would do
    opt.step();
    require_close(p, {1.0f, 2.0f});
    REQUIRE(p.grad().raw()->storage == opt.flat_grads().raw()->storage);
}

TEST_CASE("a gradient created after the slot was dropped is seen by clipping and the step", "[optim]") {
    Tensor p = param({1.0f, 2.0f});
    nn::SGD opt({{"w", p}}, {.lr = 1.0});
    p.raw()->grad = Tensor();
    (p * Tensor::from_vector({3.f, 4.f}, {2})).sum().backward();  // autograd makes a new grad tensor
    REQUIRE(nn::clip_grad_norm(opt, 100.0) == Approx(5.0));
    opt.step();
    require_close(p, {1.0f - 3.0f, 2.0f - 4.0f});
}

// ---- groups and learning rates ---------------------------------------------------

TEST_CASE("parameter_groups_for_adamw excludes biases, norms, pos_embed and cls_token from decay", "[optim]") {
    nn::VisionTransformer vit(tiny_vit());
    auto groups = nn::parameter_groups_for_adamw(vit, 0.05);
    REQUIRE(groups.size() == 2);
    REQUIRE(groups[0].weight_decay == 0.05);
    REQUIRE(groups[1].weight_decay == 0.0);
    std::set<std::string> no_decay;
    for (auto& [n, p] : groups[1].params) no_decay.insert(n);
    for (const char* n : {"pos_embed.weight", "cls_token.token", "blocks.0.norm1.weight", "blocks.0.norm1.bias",
                          "blocks.1.attn.qkv.bias", "norm.weight", "head.bias", "patch_embed.proj.bias"})
        REQUIRE(no_decay.count(n) == 1);
    for (auto& [n, p] : groups[0].params) {
        INFO(n);
        REQUIRE(p.dim() >= 2);
        REQUIRE(no_decay.count(n) == 0);
    }
    REQUIRE(groups[0].params.size() + groups[1].params.size() == vit.named_parameters().size());
}

TEST_CASE("AdamW decays only the decay group", "[optim]") {
    nn::VisionTransformer vit(tiny_vit());
    nn::AdamW opt(nn::parameter_groups_for_adamw(vit, 0.5), {.lr = 0.1});
    Tensor w = vit.head->weight.clone(), b = vit.head->bias.clone(), pos = vit.pos_embed->weight.clone();
    opt.zero_grad();  // zero gradients: Adam's own step is 0, only the decay acts
    opt.step();
    require_close(vit.head->weight, w * (1.f - 0.1f * 0.5f), 1e-6f);
    require_close(vit.head->bias, b, 0.f);
    require_close(vit.pos_embed->weight, pos, 0.f);
}

TEST_CASE("set_lr sets every group's lr times its lr_scale", "[optim]") {
    Tensor a = param({1.0f}), b = param({1.0f});
    nn::ParamGroup ga, gb;
    ga.params = {{"a", a}};
    gb.params = {{"b", b}};
    gb.lr_scale = 0.1;
    nn::SGD opt({ga, gb}, {.lr = 1.0});
    REQUIRE(opt.lr(0) == 1.0);
    REQUIRE(opt.lr(1) == Approx(0.1));
    opt.set_lr(0.5);
    REQUIRE(opt.lr(0) == 0.5);
    REQUIRE(opt.lr(1) == Approx(0.05));
    set_grad(a, {1.0f});
    set_grad(b, {1.0f});
    opt.step();
    require_close(a, {0.5f});
    require_close(b, {0.95f});
}

// ---- clipping -------------------------------------------------------------------

TEST_CASE("clip_grad_norm scales the gradients to max_norm and returns the norm before", "[optim][clip]") {
    Tensor p = param({0.f, 0.f}), q = param({0.f});
    nn::SGD opt({{"p", p}, {"q", q}});
    set_grad(p, {3.0f, 4.0f});
    set_grad(q, {12.0f});  // norm = √(9 + 16 + 144) = 13
    double norm = nn::clip_grad_norm(opt, 1.0);
    REQUIRE(norm == Approx(13.0));
    REQUIRE(nn::grad_norm(opt) == Approx(1.0).margin(1e-5));
    require_close(p.grad(), {3.f / 13.f, 4.f / 13.f}, 1e-5f);
    require_close(q.grad(), {12.f / 13.f}, 1e-5f);
}

TEST_CASE("clip_grad_norm leaves gradients below max_norm untouched", "[optim][clip]") {
    Tensor p = param({0.f, 0.f});
    nn::SGD opt({{"p", p}});
    set_grad(p, {0.3f, 0.4f});
    REQUIRE(nn::clip_grad_norm(opt, 1.0) == Approx(0.5));
    require_close(p.grad(), {0.3f, 0.4f}, 0.f);
}

TEST_CASE("clip_grad_norm on a list of tensors matches the flat version", "[optim][clip]") {
    Tensor p = Tensor::zeros({2}).requires_grad_(), q = Tensor::zeros({1}).requires_grad_();
    p.set_grad(Tensor::from_vector({3.f, 4.f}, {2}));
    q.set_grad(Tensor::from_vector({12.f}, {1}));
    Tensor unused = Tensor::zeros({3}).requires_grad_();  // no gradient: skipped
    REQUIRE(nn::clip_grad_norm({p, q, unused}, 2.0) == Approx(13.0));
    REQUIRE(nn::grad_norm({p, q}) == Approx(2.0).margin(1e-5));
}

TEST_CASE("grads_are_finite detects NaN and Inf, and clipping leaves them alone", "[optim][clip]") {
    Tensor p = param({0.f, 0.f, 0.f});
    nn::SGD opt({{"p", p}});
    set_grad(p, {1.f, 2.f, 3.f});
    REQUIRE(nn::grads_are_finite(opt));
    set_grad(p, {1.f, std::numeric_limits<float>::quiet_NaN(), 3.f});
    REQUIRE_FALSE(nn::grads_are_finite(opt));
    REQUIRE(std::isnan(nn::clip_grad_norm(opt, 1.0)));
    REQUIRE(p.grad().to_vector()[0] == 1.f);
    set_grad(p, {1.f, std::numeric_limits<float>::infinity(), 3.f});
    REQUIRE_FALSE(nn::grads_are_finite(opt));
    REQUIRE_FALSE(nn::grads_are_finite(std::vector<Tensor>{p}));
}
