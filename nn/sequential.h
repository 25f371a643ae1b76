// sequential.h — a chain of unary modules applied in order; children are named "0", "1", ...
#pragma once
#include "nn/module.h"

namespace attnlab::nn {

class Sequential : public UnaryModule {
public:
    Sequential() = default;
    template <class M>
    std::shared_ptr<M> add(std::shared_ptr<M> m) {
        layers_.push_back(register_module(std::to_string(layers_.size()), m));
        return m;
    }
    Tensor forward(const Tensor& x) override {
        Tensor h = x;
        for (auto& layer : layers_) h = layer->forward(h);
        return h;
    }
    size_t size() const { return layers_.size(); }
    UnaryModule& operator[](size_t i) { return *layers_.at(i); }
    std::string describe() const override { return cat("Sequential(", layers_.size(), " layers)"); }

private:
    std::vector<std::shared_ptr<UnaryModule>> layers_;
};

}  // namespace attnlab::nn
