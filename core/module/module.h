// module.h — the base class of every layer: named parameters, buffers and
// child modules, train/eval mode, and a summary table.
//
// A module registers its tensors and sub-modules by name; names compose into
// PyTorch-style paths ("blocks.3.attn.qkv.weight") that checkpoints use.
// Parameters are leaf tensors that require grad; buffers are state that is
// saved but not trained (e.g. fixed random features). Random state that is not
// a tensor (a layer's own Generator, a redraw counter) is exposed through
// random_state()/set_random_state() so that training checkpoints resume it exactly. Because a Tensor is a
// handle, the member variable and the registered entry are the same tensor.
//
//   struct Affine : Module {
//       Tensor w, b;
//       Affine(int64_t n) { w = register_parameter("weight", Tensor::ones({n}));
//                           b = register_parameter("bias", Tensor::zeros({n})); }
//       Tensor forward(const Tensor& x) { return x * w + b; }
//   };
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor/tensor.h"

namespace attnlab::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
// A module's non-tensor random state as integers, e.g. {seed, offset, forwards since the last draw}.
using RandomState = std::vector<uint64_t>;
using NamedRandomStates = std::vector<std::pair<std::string, RandomState>>;

class Module {
public:
    virtual ~Module() = default;

    std::vector<Tensor> parameters() const;
    NamedTensors named_parameters() const;  // recursive, registration order
    NamedTensors named_buffers() const;
    std::vector<std::pair<std::string, Module*>> named_children() const;
    // Every module's non-empty random_state(), by module path ("blocks.0.attn.attention").
    NamedRandomStates named_random_states() const;

    // This module's own generator state and counters (not its children's); empty = none.
    virtual RandomState random_state() const { return {}; }
    // Restores what random_state() returned; throws if `state` has the wrong length.
    virtual void set_random_state(const RandomState& state);

    virtual void train(bool on = true);  // also switches every child
    void eval() { train(false); }
    bool is_training() const { return training_; }

    void zero_grad();
    int64_t num_parameters() const;
    // One line per parameter: name, shape, count; then the total.
    std::string summary() const;
    // Short type name shown by summary(), e.g. "Linear(192 -> 576)".
    virtual std::string describe() const { return "Module"; }

protected:
    Tensor register_parameter(const std::string& name, Tensor t);  // sets requires_grad
    Tensor register_buffer(const std::string& name, Tensor t);
    template <class M>
    std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
        add_child(name, m);
        return m;
    }
    // Replaces the tensor registered under `name` (e.g. a redrawn buffer).
    void set_buffer(const std::string& name, const Tensor& t);

private:
    void add_child(const std::string& name, std::shared_ptr<Module> m);
    void collect(const std::string& prefix, NamedTensors& out, bool buffers) const;

    NamedTensors params_, buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    bool training_ = true;
};

// A module with one input and one output (Linear, LayerNorm, the ViT, ...).
class UnaryModule : public Module {
public:
    virtual Tensor forward(const Tensor& x) = 0;
    Tensor operator()(const Tensor& x) { return forward(x); }
};

}  // namespace attnlab::nn
