// first_program.cpp — the README's first program: a tensor, a parameter,
// one forward pass and its backward, y = sum(relu(x·w + b)), x [4,3], w [3,2].
// Prints dy/dw [3, 2]. Build it like any program of your own (README: "A first
// program"); here CMake builds it into build/apps/first_program.
#include <iostream>

#include "core/core.h"
using namespace attnlab;

int main() {
    Generator rng(0);
    Tensor x = Tensor::randn({4, 3}, rng);
    Tensor w = Tensor::randn({3, 2}, rng).requires_grad_();
    Tensor b = Tensor::zeros({2}).requires_grad_();
    Tensor y = (x.matmul(w) + b).relu().sum();
    y.backward();                 // w.grad() now holds dy/dw
    std::cout << w.grad() << "\n";
}
