// optimizer.h — the base of every optimizer: parameter groups living in one
// flat buffer, zero_grad, learning-rate control, step counting, checkpoint state.
//
// Flat buffers (as in llm.c): at construction every parameter of every group
// is moved into ONE contiguous float buffer of P = Σ numel floats, in group
// order, and its gradient becomes a view into ONE flat gradient buffer of P
// floats. Each parameter's TensorImpl is re-pointed (storage, offset,
// contiguous strides) and its values are copied over, so the parameter stays
// the same tensor for the model: forward, backward (which accumulates into the
// preallocated grad view), named_parameters() and checkpoints all keep
// working. A group is then just a range [begin, end) of the flat buffers, and
// zero_grad, gradient clipping and the update are single flat loops
// (parallel_for above a threshold, `#pragma omp simd` inside) instead of one
// small loop or virtual call per tensor. Cost of a step: O(P) memory traffic.
//
// Consequences worth knowing:
//  * take views of a parameter after the optimizer exists, or at forward time
//    (modules do); a view taken before keeps pointing at the old memory;
//  * to load new values, copy_() into the parameter; replacing its storage is
//    detected and reported by step();
//  * a gradient that was dropped (left undefined) or replaced by another tensor
//    is copied back into its slot by sync_grads(), which step(), zero_grad()
//    and the clipping functions call first.
//
// Learning rate: each group has an lr_scale; set_lr(x) gives every group
// lr = x · lr_scale (a schedule drives set_lr once per step).
//
//   auto groups = nn::parameter_groups_for_adamw(model, 0.05);   // adam.h
//   nn::AdamW opt(groups, {.lr = 1e-3});
//   for (int64_t s = 0; s < steps; ++s) {
//       opt.set_lr(schedule.lr_at(opt.step_count()));
//       opt.zero_grad();
//       Tensor loss = cross_entropy(model.forward(x), y);
//       loss.backward();
//       nn::clip_grad_norm(opt, 1.0);                            // grad_clip.h
//       opt.step();
//   }
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/module/module.h"

namespace attnlab::nn {

// Element count above which the flat loops run on several threads.
inline constexpr int64_t kOptimizerParallelGrain = 1 << 15;

struct ParamGroup {
    NamedTensors params;        // (name, parameter); names are used by checkpoints
    double weight_decay = 0.0;  // per group, e.g. 0 for biases and norms
    double lr_scale = 1.0;      // this group's lr = optimizer lr × lr_scale
    // Set by the optimizer:
    double lr = 0.0;            // current learning rate of the group
    int64_t begin = 0, end = 0; // the group's range in the flat buffers
};

class Optimizer {
public:
    // `lr` is the initial learning rate (every group gets lr · lr_scale).
    Optimizer(std::string type, std::vector<ParamGroup> groups, double lr);
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    // One update of every parameter from its gradient; increments step_count().
    void step();
    // Sets every gradient to zero (one flat fill; the buffers stay in place).
    void zero_grad();
    void set_lr(double lr);              // every group: lr · lr_scale
    void set_group_lr(size_t group, double lr);  // one group, ignoring its lr_scale
    double lr(size_t group = 0) const;
    int64_t step_count() const { return step_count_; }

    const std::string& type() const { return type_; }  // "SGD", "Adam", "AdamW"
    const std::vector<ParamGroup>& groups() const { return groups_; }
    int64_t numel() const { return numel_; }  // P, parameters in all groups
    // The flat buffers as [P] tensors sharing memory with the parameters / gradients.
    Tensor flat_params() const { return params_; }
    Tensor flat_grads() const;
    // Puts every gradient back into its slot of the flat gradient buffer (a no-op
    // unless one was dropped or replaced); throws if a parameter left the buffer.
    void sync_grads() const;

    // ---- checkpoint state ------------------------------------------------
    // Per-parameter views of the optimizer's buffers, named "<buffer>.<param>",
    // e.g. "exp_avg.blocks.0.attn.qkv.weight" (PyTorch's state names).
    NamedTensors state_tensors() const;
    // {"type", "step", "hyperparameters", "groups": [{"lr", "lr_scale", "weight_decay", "params": [names]}]}
    nlohmann::json state_json() const;
    // Restores what state_tensors()/state_json() saved. Checks that the type,
    // groups, parameter names and shapes match; `source` names the file in errors.
    void load_state(const std::map<std::string, Tensor>& tensors, const nlohmann::json& state,
                    const std::string& source);

protected:
    // The fused update of one group over the flat index range [g.begin, g.end),
    // `step` = step_count() after this step (1 for the first step).
    virtual void update(const ParamGroup& g, int64_t step) = 0;
    // The optimizer's own flat [P] buffers by state name ({"exp_avg", m}, ...).
    virtual NamedTensors flat_state() const = 0;
    virtual nlohmann::json hyperparameters() const = 0;
    virtual void set_hyperparameters(const nlohmann::json& j) = 0;

    float* param_data() const { return params_.data(); }
    float* grad_data() const { return grads_.data(); }

private:
    void move_into_flat_buffers(double lr);
    struct Slot {  // where one parameter lives in the flat buffers
        std::string name;
        std::shared_ptr<TensorImpl> impl;
        int64_t offset;
    };
    std::string type_;
    std::vector<ParamGroup> groups_;
    std::vector<Slot> slots_;
    Tensor params_, grads_;  // [P] each
    int64_t numel_ = 0;
    int64_t step_count_ = 0;
};

// A single group holding all of `model`'s parameters.
std::vector<ParamGroup> single_group(const Module& model, double weight_decay = 0.0);
std::vector<ParamGroup> single_group(const NamedTensors& params, double weight_decay = 0.0);

}  // namespace attnlab::nn
