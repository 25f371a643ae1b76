// core.h — everything of attnlab's core in one include: tensors, ops, autograd,
// random numbers, threads, BLAS and gradient checking.
#pragma once
#include "core/autograd/autograd.h"
#include "core/kernels/blas.h"
#include "core/autograd/gradcheck.h"
#include "core/ops/ops.h"
#include "core/kernels/parallel.h"
#include "core/util/rng.h"
#include "core/tensor/tensor.h"
