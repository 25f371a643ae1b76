// module.cpp — parameter registry, recursion over children, summary (see module.h).
#include "core/module/module.h"

#include <cstdio>
#include <sstream>

namespace attnlab::nn {

Tensor Module::register_parameter(const std::string& name, Tensor t) {
    check(t.defined(), "register_parameter: '", name, "' is undefined");
    for (auto& [n, p] : params_) check(n != name, "register_parameter: '", name, "' registered twice");
    t.requires_grad_(true);
    params_.emplace_back(name, t);
    return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
    for (auto& [n, b] : buffers_) check(n != name, "register_buffer: '", name, "' registered twice");
    buffers_.emplace_back(name, t);
    return t;
}

void Module::set_buffer(const std::string& name, const Tensor& t) {
    for (auto& [n, b] : buffers_)
        if (n == name) {
            b = t;
            return;
        }
    throw Error(cat("set_buffer: no buffer named '", name, "'"));
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
    check(m != nullptr, "register_module: '", name, "' is null");
    for (auto& [n, c] : children_) check(n != name, "register_module: '", name, "' registered twice");
    children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool buffers) const {
    for (const auto& [n, t] : buffers ? buffers_ : params_) out.emplace_back(prefix + n, t);
    for (const auto& [n, c] : children_) c->collect(prefix + n + ".", out, buffers);
}

static void collect_random_states(const Module& m, const std::string& path, NamedRandomStates& out) {
    RandomState own = m.random_state();
    if (!own.empty()) out.emplace_back(path, std::move(own));
    for (const auto& [n, c] : m.named_children()) collect_random_states(*c, path.empty() ? n : path + "." + n, out);
}

NamedRandomStates Module::named_random_states() const {
    NamedRandomStates out;
    collect_random_states(*this, "", out);
    return out;
}

void Module::set_random_state(const RandomState& state) {
    check(state.empty(), describe(), ": has no random state to restore, got ", state.size(), " values");
}

NamedTensors Module::named_parameters() const {
    NamedTensors out;
    collect("", out, false);
    return out;
}

NamedTensors Module::named_buffers() const {
    NamedTensors out;
    collect("", out, true);
    return out;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> out;
    for (auto& [n, t] : named_parameters()) out.push_back(t);
    return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_children() const {
    std::vector<std::pair<std::string, Module*>> out;
    for (const auto& [n, c] : children_) out.emplace_back(n, c.get());
    return out;
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
    for (Tensor& p : parameters()) p.zero_grad();
}

int64_t Module::num_parameters() const {
    int64_t n = 0;
    for (auto& [name, t] : named_parameters()) n += t.numel();
    return n;
}

std::string Module::summary() const {
    std::ostringstream os;
    char line[256];
    std::snprintf(line, sizeof line, "%-44s %-16s %12s\n", "parameter", "shape", "count");
    os << describe() << "\n" << line;
    for (auto& [name, t] : named_parameters()) {
        std::snprintf(line, sizeof line, "%-44s %-16s %12ld\n", name.c_str(), to_string(t.shape()).c_str(),
                      long(t.numel()));
        os << line;
    }
    std::snprintf(line, sizeof line, "%-44s %-16s %12ld\n", "total", "", long(num_parameters()));
    os << line;
    return os.str();
}

}  // namespace attnlab::nn
