// autograd.h — reverse-mode automatic differentiation on a dynamic graph.
//
// Every differentiable op computes its output, then calls record(): if grad
// mode is on and some input requires grad, a Node is attached to the output
// holding (a) edges to the inputs' own Nodes (or to leaf tensors) and (b) the
// op's backward function, which maps dL/d(output) to dL/d(input) for each input.
//
// backward() sorts the Nodes reachable from the output topologically and runs
// their backward functions in reverse order, summing gradients that reach a
// Node along several paths and accumulating leaf gradients into .grad():
//
//   order = topo_sort(root)            // every Node after all Nodes that use it
//   grad[root] = 1
//   for node in order: for (edge, g) in zip(node.edges, node.backward(grad[node])):
//       grad[edge] += g
//
// Only what a backward function captures is kept alive (as in PyTorch), and the
// graph is freed after backward unless retain_graph is set.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor/tensor.h"

namespace attnlab {

// Maps the gradient of the op's output to one gradient per input, in the order
// the inputs were given to record(). An undefined Tensor means "no gradient".
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Edge {
    std::shared_ptr<Node> node;        // the input was produced by this op ...
    std::shared_ptr<TensorImpl> leaf;  // ... or is a leaf that requires grad
    Shape shape;                       // the input's shape, to check gradients
    Strides strides;                   // and its layout, for gradients built up in place (grad_region)
};

struct Node {
    std::string name;
    std::vector<Edge> edges;
    BackwardFn backward;  // reset to nullptr once run without retain_graph
    // Optional, for ops whose output is a view of their one input (slice): maps a
    // tensor shaped like the input to the matching view. The engine then adds the
    // output's gradient straight into that view of the input's gradient, instead
    // of calling backward for a zero-filled full-size copy (q, k, v slices of one
    // qkv projection thus share one gradient buffer).
    std::function<Tensor(const Tensor& like_input)> grad_region;
};

// Grad mode: when off (inside NoGradGuard), record() attaches nothing.
bool grad_enabled();
void set_grad_enabled(bool on);

struct NoGradGuard {
    NoGradGuard() : previous_(grad_enabled()) { set_grad_enabled(false); }
    ~NoGradGuard() { set_grad_enabled(previous_); }
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

// True when grad mode is on and any of the inputs requires grad.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attaches a Node named `name` to `output` when any_requires_grad(inputs);
// returns `output` either way. Call it right after computing the forward.
Tensor record(const char* name, Tensor output, const std::vector<Tensor>& inputs, BackwardFn backward);

// The engine behind Tensor::backward.
void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph);

// Optional: called during backward() once a leaf's gradient is complete (every
// path from the root to it has been processed), so data-parallel training
// (nn/distributed/) can start averaging it while backward goes on. Leaves
// outside the root's graph are not reported. nullptr: no hook (the default).
using GradReadyHook = std::function<void(TensorImpl& leaf)>;
void set_grad_ready_hook(GradReadyHook hook);

}  // namespace attnlab
