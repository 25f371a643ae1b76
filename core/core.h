// core.h — everything of attnlab's core in one include: tensors, ops, autograd,
// random numbers, threads, BLAS and gradient checking.
#pragma once
#include "core/autograd.h"
#include "core/blas.h"
#include "core/gradcheck.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/tensor.h"
