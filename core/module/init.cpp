// init.cpp — fills parameters in place through contiguous temporaries (see init.h).
#include "core/module/init.h"

#include "core/ops/ops.h"

namespace attnlab::nn::init {

void trunc_normal_(const Tensor& t, float std, Generator& gen) { copy_(t, Tensor::trunc_normal(t.shape(), gen, std)); }
void uniform_(const Tensor& t, float low, float high, Generator& gen) { copy_(t, Tensor::rand(t.shape(), gen, low, high)); }
void normal_(const Tensor& t, float mean, float std, Generator& gen) { copy_(t, Tensor::randn(t.shape(), gen, mean, std)); }
void zeros_(const Tensor& t) { fill_(t, 0.f); }
void ones_(const Tensor& t) { fill_(t, 1.f); }

}  // namespace attnlab::nn::init
