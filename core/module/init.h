// init.h — in-place parameter initializers (no autograd recording).
//
// trunc_normal_: N(0, std²) cut at ±2·std, the ViT/DeiT choice for weights,
// position embeddings and the class token. uniform_(-1/√fan_in, 1/√fan_in) is
// PyTorch's default for Linear.
#pragma once
#include "core/util/rng.h"
#include "core/tensor/tensor.h"

namespace attnlab::nn::init {

void trunc_normal_(const Tensor& t, float std = 0.02f, Generator& gen = default_generator());
void uniform_(const Tensor& t, float low, float high, Generator& gen = default_generator());
void normal_(const Tensor& t, float mean, float std, Generator& gen = default_generator());
void zeros_(const Tensor& t);
void ones_(const Tensor& t);

}  // namespace attnlab::nn::init
