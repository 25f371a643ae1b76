// optimizer.cpp — flat parameter/gradient buffers, groups, checkpoint state (see optimizer.h).
#include "nn/optim/optimizer.h"

#include <cmath>
#include <cstring>
#include <set>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/kernels/parallel.h"

namespace attnlab::nn {

// Every group's settings and parameters valid, each parameter in one group under a unique
// name; returns P, the number of parameter elements in all groups.
static int64_t check_groups(const std::string& type, const std::vector<ParamGroup>& groups) {
    std::set<TensorImpl*> seen;
    std::map<std::string, size_t> names;
    int64_t numel = 0;
    for (size_t gi = 0; gi < groups.size(); ++gi) {
        const ParamGroup& g = groups[gi];
        check(g.weight_decay >= 0 && std::isfinite(g.weight_decay), type, ": group ", gi,
              " weight_decay must be finite and >= 0, got ", g.weight_decay);
        check(g.lr_scale >= 0 && std::isfinite(g.lr_scale), type, ": group ", gi,
              " lr_scale must be finite and >= 0, got ", g.lr_scale);
        for (const auto& [name, p] : g.params) {
            check(p.defined(), type, ": parameter '", name, "' is undefined");
            check(p.dtype() == DType::Float32, type, ": parameter '", name, "' is ", dtype_name(p.dtype()),
                  ", expected float32");
            check(p.requires_grad() && p.is_leaf(), type, ": parameter '", name,
                  "' must be a leaf tensor that requires grad");
            check(seen.insert(p.raw()).second, type, ": parameter '", name,
                  "' appears twice (each parameter may belong to one group only)");
            check(names.emplace(name, gi).second, type, ": two parameters are named '", name,
                  "'; names must be unique because checkpoints use them");
            numel += p.numel();
        }
    }
    check(numel > 0, type, ": got no parameters to optimize");
    return numel;
}

Optimizer::Optimizer(std::string type, std::vector<ParamGroup> groups, double lr)
    : type_(std::move(type)), groups_(std::move(groups)) {
    check(std::isfinite(lr) && lr >= 0, type_, ": learning rate must be finite and >= 0, got ", lr);
    numel_ = check_groups(type_, groups_);
    move_into_flat_buffers(lr);
}

// Every parameter's values (and gradient, if any) move into params_ / grads_, one slot after
// another in group order; the parameter becomes a view of its slot.
void Optimizer::move_into_flat_buffers(double lr) {
    params_ = Tensor::empty({numel_});
    grads_ = Tensor::zeros({numel_});
    int64_t offset = 0;
    for (ParamGroup& g : groups_) {
        g.lr = lr * g.lr_scale;
        g.begin = offset;
        for (auto& [name, p] : g.params) {
            Shape shape = p.shape();
            Strides strides = contiguous_strides(shape);
            Tensor value_slot = make_view(params_, shape, strides, offset);
            Tensor grad_slot = make_view(grads_, shape, strides, offset);
            copy_(value_slot, p);
            if (p.grad().defined()) copy_(grad_slot, p.grad());
            TensorImpl& impl = *p.raw();
            impl.storage = params_.raw()->storage;
            impl.offset = offset;
            impl.strides = strides;
            impl.grad = grad_slot;
            slots_.push_back({name, p.impl(), offset});
            offset += p.numel();
        }
        g.end = offset;
    }
}

Tensor Optimizer::flat_grads() const { return grads_; }

void Optimizer::sync_grads() const {
    for (const Slot& s : slots_) {
        TensorImpl& impl = *s.impl;
        check(impl.storage == params_.raw()->storage && impl.offset == s.offset, type_, ": parameter '", s.name,
              "' no longer lives in the optimizer's flat buffer (its storage was replaced after the optimizer was "
              "built); load new values with copy_() instead");
        const Tensor& g = impl.grad;
        bool attached = g.defined() && g.raw()->storage == grads_.raw()->storage && g.offset() == s.offset &&
                        g.is_contiguous() && g.shape() == impl.shape;
        if (attached) continue;
        Tensor slot = make_view(grads_, impl.shape, contiguous_strides(impl.shape), s.offset);
        if (g.defined()) copy_(slot, g);
        else fill_(slot, 0.f);
        impl.grad = slot;
    }
}

void Optimizer::step() {
    NoGradGuard no_grad;
    sync_grads();
    ++step_count_;
    for (const ParamGroup& g : groups_)
        if (g.end > g.begin) update(g, step_count_);
}

void Optimizer::zero_grad() {
    sync_grads();
    float* g = grads_.data();
    parallel_for(0, numel_, kOptimizerParallelGrain,
                 [&](int64_t b, int64_t e) { std::memset(g + b, 0, size_t(e - b) * sizeof(float)); });
}

void Optimizer::set_lr(double lr) {
    check(std::isfinite(lr) && lr >= 0, type_, ": learning rate must be finite and >= 0, got ", lr);
    for (ParamGroup& g : groups_) g.lr = lr * g.lr_scale;
}

void Optimizer::set_group_lr(size_t group, double lr) {
    check(group < groups_.size(), type_, ": group ", group, " does not exist (", groups_.size(), " groups)");
    check(std::isfinite(lr) && lr >= 0, type_, ": learning rate must be finite and >= 0, got ", lr);
    groups_[group].lr = lr;
}

double Optimizer::lr(size_t group) const {
    check(group < groups_.size(), type_, ": group ", group, " does not exist (", groups_.size(), " groups)");
    return groups_[group].lr;
}

// ---- checkpoint state -------------------------------------------------------

NamedTensors Optimizer::state_tensors() const {
    NamedTensors out;
    for (const auto& [buffer_name, buffer] : flat_state())
        for (const Slot& s : slots_)
            out.emplace_back(buffer_name + "." + s.name,
                             make_view(buffer, s.impl->shape, contiguous_strides(s.impl->shape), s.offset));
    return out;
}

nlohmann::json Optimizer::state_json() const {
    nlohmann::json groups = nlohmann::json::array();
    for (const ParamGroup& g : groups_) {
        nlohmann::json names = nlohmann::json::array();
        for (const auto& [name, p] : g.params) names.push_back(name);
        groups.push_back({{"lr", g.lr}, {"lr_scale", g.lr_scale}, {"weight_decay", g.weight_decay}, {"params", names}});
    }
    return {{"type", type_}, {"step", step_count_}, {"hyperparameters", hyperparameters()}, {"groups", groups}};
}

// "first difference at position i: saved 'a', optimizer 'b'" for two unequal name lists.
static std::string first_difference(const std::vector<std::string>& saved, const std::vector<std::string>& mine) {
    for (size_t i = 0; i < std::max(saved.size(), mine.size()); ++i)
        if (i >= saved.size() || i >= mine.size() || saved[i] != mine[i])
            return cat("first difference at position ", i, ": saved '", i < saved.size() ? saved[i] : "(none)",
                       "', optimizer '", i < mine.size() ? mine[i] : "(none)", "'");
    return "";
}

void Optimizer::load_state(const std::map<std::string, Tensor>& tensors, const nlohmann::json& state,
                           const std::string& source) {
    std::string where = cat(source, ": optimizer state: ");
    try {
        std::string saved_type = state.at("type").get<std::string>();
        check(saved_type == type_, where, "saved by ", saved_type, ", cannot load into ", type_);
        const nlohmann::json& groups = state.at("groups");
        check(groups.is_array() && groups.size() == groups_.size(), where, "has ", groups.size(),
              " parameter groups, the optimizer has ", groups_.size());
        for (size_t gi = 0; gi < groups_.size(); ++gi) {
            std::vector<std::string> saved = groups[gi].at("params").get<std::vector<std::string>>();
            std::vector<std::string> mine;
            for (const auto& [name, p] : groups_[gi].params) mine.push_back(name);
            if (saved != mine)
                throw Error(cat(where, "group ", gi, " holds ", saved.size(), " parameters, the optimizer's holds ",
                                mine.size(), "; ", first_difference(saved, mine)));
        }
        // Check every state tensor before changing anything.
        NamedTensors mine = state_tensors();
        for (const auto& [name, t] : mine) {
            auto it = tensors.find(name);
            check(it != tensors.end(), where, "tensor '", name, "' is missing");
            check(it->second.dtype() == DType::Float32 && it->second.shape() == t.shape(), where, "tensor '", name,
                  "' is ", dtype_name(it->second.dtype()), " ", to_string(it->second.shape()), ", expected float32 ",
                  to_string(t.shape()));
        }
        set_hyperparameters(state.at("hyperparameters"));
        for (size_t gi = 0; gi < groups_.size(); ++gi) {
            groups_[gi].lr = groups[gi].at("lr").get<double>();
            groups_[gi].lr_scale = groups[gi].at("lr_scale").get<double>();
            groups_[gi].weight_decay = groups[gi].at("weight_decay").get<double>();
        }
        step_count_ = state.at("step").get<int64_t>();
        for (const auto& [name, t] : mine) copy_(t, tensors.at(name));
    } catch (const nlohmann::json::exception& e) {
        throw Error(cat(where, "malformed JSON: ", e.what()));
    }
}

std::vector<ParamGroup> single_group(const NamedTensors& params, double weight_decay) {
    ParamGroup g;
    g.params = params;
    g.weight_decay = weight_decay;
    return {g};
}

std::vector<ParamGroup> single_group(const Module& model, double weight_decay) {
    return single_group(model.named_parameters(), weight_decay);
}

}  // namespace attnlab::nn
