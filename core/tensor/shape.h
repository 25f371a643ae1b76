// shape.h — shapes, strides and broadcasting rules.
//
// A tensor of shape [d0, d1, ..., dk] stored row-major has contiguous strides
// s_i = d_{i+1} * ... * d_k. Broadcasting follows NumPy/PyTorch: align shapes
// on the right; a size-1 (or missing) dimension stretches to the other size.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace attnlab {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

int64_t numel(const Shape& shape);
Strides contiguous_strides(const Shape& shape);
std::string to_string(const Shape& shape);  // "[2,3,4]"

// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op);

// Shape both operands broadcast to; throws naming `op` and both shapes if incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace attnlab
