// autograd.cpp — recording ops and the reverse pass (see autograd.h).
#include "core/autograd/autograd.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/ops/ops.h"
#include "core/util/profiler.h"

namespace attnlab {

static thread_local bool g_grad_enabled = true;
static GradReadyHook g_grad_ready_hook;

void set_grad_ready_hook(GradReadyHook hook) { g_grad_ready_hook = std::move(hook); }

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool on) { g_grad_enabled = on; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
    if (!g_grad_enabled) return false;
    for (const Tensor& t : inputs)
        if (t.defined() && t.requires_grad()) return true;
    return false;
}

Tensor record(const char* name, Tensor output, const std::vector<Tensor>& inputs, BackwardFn backward) {
    if (!any_requires_grad(inputs)) return output;
    auto node = std::make_shared<Node>();
    node->name = name;
    for (const Tensor& t : inputs) {
        Edge e;
        if (t.defined()) {
            e.shape = t.shape();
            e.strides = t.strides();
            if (t.raw()->grad_fn) e.node = t.raw()->grad_fn;
            else if (t.raw()->requires_grad) e.leaf = t.impl();
        }
        node->edges.push_back(std::move(e));
    }
    node->backward = std::move(backward);
    output.raw()->grad_fn = std::move(node);
    output.raw()->requires_grad = true;
    return output;
}

// True when no other handle shares `t`'s data, whatever its layout;
// use_count 2 = the caller's handle + the temporary made by impl().
static bool owns_storage_exclusively(const Tensor& t) {
    return t.impl().use_count() == 2 && t.raw()->storage.use_count() == 1 && !t.raw()->grad_fn;
}

// ... and it is contiguous (a fresh gradient that can be taken over as is).
static bool owns_exclusively(const Tensor& t) { return owns_storage_exclusively(t) && t.is_contiguous(); }

// Adds g into leaf->grad. The first time, the gradient buffer is taken over
// when nothing else can see it (a fresh contiguous tensor), else copied.
static void accumulate_leaf(TensorImpl& leaf, const Tensor& g, bool may_take = true) {
    if (leaf.grad.defined()) {
        add_(leaf.grad, g);
        return;
    }
    leaf.grad = may_take && owns_exclusively(g) && g.offset() == 0 ? g : g.clone();
}

// Zeros of `shape` laid out like a tensor with `strides` when those strides
// are a permutation of a dense layout (a permuted view), else row-major. A
// gradient built in place for a permuted view then reaches the un-permuted
// tensor it came from as a contiguous block, with no copy.
static Tensor zeros_in_layout(const Shape& shape, const Strides& strides) {
    const size_t nd = shape.size();
    std::vector<size_t> order(nd);
    for (size_t i = 0; i < nd; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return strides[a] > strides[b]; });
    int64_t expect = 1;
    for (size_t i = nd; i-- > 0;) {
        const size_t d = order[i];
        if (shape[d] != 1 && strides[d] != expect) return Tensor::zeros(shape);
        expect *= shape[d];
    }
    Shape dense(nd);
    std::vector<int64_t> inverse(nd);
    for (size_t i = 0; i < nd; ++i) dense[i] = shape[order[i]], inverse[order[i]] = int64_t(i);
    return permute(Tensor::zeros(dense), inverse);
}

// Nodes reachable from root, ordered so each Node comes before the Nodes it feeds
// gradient into (reverse post-order of an iterative depth-first search).
static std::vector<Node*> topo_sort(Node* root) {
    std::vector<Node*> post;
    std::unordered_set<Node*> seen{root};
    std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
    while (!stack.empty()) {
        auto& [node, next_edge] = stack.back();
        if (next_edge < node->edges.size()) {
            Node* child = node->edges[next_edge++].node.get();
            if (child && seen.insert(child).second) stack.push_back({child, 0});
        } else {
            post.push_back(node);
            stack.pop_back();
        }
    }
    return {post.rbegin(), post.rend()};
}

// For the grad-ready hook: how many edges of the graph still have to deliver
// into each leaf. A leaf whose count drops to zero has its final gradient.
struct PendingLeaves {
    std::unordered_map<TensorImpl*, int64_t> count;
    explicit PendingLeaves(const std::vector<Node*>& order) {
        if (!g_grad_ready_hook) return;
        for (Node* node : order)
            for (const Edge& e : node->edges)
                if (e.leaf) ++count[e.leaf.get()];
    }
    void edges_done(const Node& node) {
        if (!g_grad_ready_hook) return;
        for (const Edge& e : node.edges)
            if (e.leaf && --count[e.leaf.get()] == 0) g_grad_ready_hook(*e.leaf);
    }
};

using PendingGrads = std::unordered_map<Node*, Tensor>;  // the gradient summed so far for each node

// A view's node (grad_region set): its gradient is added in place into the view's region of
// its one input's gradient, which starts as zeros in the input's layout.
static void backward_into_region(Node& node, const Tensor& g, PendingGrads& grads, bool retain_graph) {
    profiler::Scope scope(profiler::enabled() ? node.name + " backward" : std::string());
    const Edge& edge = node.edges[0];
    Tensor& slot = grads[edge.node.get()];
    if (!slot.defined()) slot = zeros_in_layout(edge.shape, edge.strides);
    else if (!owns_storage_exclusively(slot)) slot = slot.clone();
    add_(node.grad_region(slot), g);
    if (!retain_graph) node.backward = nullptr, node.grad_region = nullptr;
}

// Each input's gradient goes to its leaf's .grad or is summed into its node's pending gradient.
static void deliver(const Node& node, const std::vector<Tensor>& input_grads, PendingGrads& grads) {
    check(input_grads.size() == node.edges.size(), "backward of ", node.name, " returned ", input_grads.size(),
          " gradients for ", node.edges.size(), " inputs");
    for (size_t i = 0; i < input_grads.size(); ++i) {
        const Edge& edge = node.edges[i];
        const Tensor& gi = input_grads[i];
        if (!gi.defined() || (!edge.node && !edge.leaf)) continue;
        if (gi.shape() != edge.shape)  // (an if, not check(): this runs for every edge of every step)
            throw Error(cat("backward of ", node.name, ": gradient ", to_string(gi.shape()), " for input ", i,
                            " of shape ", to_string(edge.shape)));
        if (edge.leaf) {
            accumulate_leaf(*edge.leaf, gi);
        } else {
            Tensor& slot = grads[edge.node.get()];
            if (!slot.defined()) slot = gi;
            else if (owns_exclusively(slot)) add_(slot, gi);  // no other handle: add in place
            else slot = add(slot, gi);
        }
    }
}

void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph) {
    check(root.defined(), "backward: undefined tensor");
    check(root.requires_grad(), "backward: tensor does not require grad and has no grad_fn");
    check(grad_output.shape() == root.shape(), "backward: grad_output shape ", to_string(grad_output.shape()),
          " does not match output shape ", to_string(root.shape()));
    NoGradGuard no_grad;  // gradients themselves are not recorded
    if (!root.raw()->grad_fn) {
        accumulate_leaf(*root.raw(), grad_output, false);  // the caller keeps grad_output
        return;
    }
    PendingGrads grads;
    grads[root.raw()->grad_fn.get()] = grad_output;
    const std::vector<Node*> order = topo_sort(root.raw()->grad_fn.get());
    PendingLeaves pending(order);
    for (Node* node : order) {  // every node after all the nodes that feed it a gradient
        auto it = grads.find(node);
        if (it == grads.end()) {  // no gradient reached it
            pending.edges_done(*node);
            continue;
        }
        Tensor g = std::move(it->second);
        grads.erase(it);
        check(bool(node->backward), "backward: the graph through '", node->name,
              "' was already freed by an earlier backward(); pass retain_graph=true to the first call");
        if (node->grad_region && node->edges.size() == 1 && node->edges[0].node) {
            backward_into_region(*node, g, grads, retain_graph);
            continue;  // (its one edge is a Node, never a leaf)
        }
        std::vector<Tensor> input_grads;
        {
            profiler::Scope scope(profiler::enabled() ? node->name + " backward" : std::string());
            input_grads = node->backward(g);
        }
        if (!retain_graph) node->backward = nullptr;
        deliver(*node, input_grads, grads);
        pending.edges_done(*node);
    }
}

}  // namespace attnlab
