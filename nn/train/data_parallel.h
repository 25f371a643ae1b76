// data_parallel.h — what the Trainer asks of data-parallel training, with no MPI
// in sight: nn/distributed/ implements it over MPI, and a single-process run has
// none (every call site checks for nullptr).
//
// Each of P processes holds the same model and trains on its slice of every
// global batch (the DataLoader's shard). One step then reads
//   loss_r = mean CE over the slice;  share_r = slice size / global batch size
//   g = Σ_r share_r · ∇loss_r         (= ∇ of the global mean loss; one allreduce)
// and every process applies the same AdamW step to the same weights.
#pragma once
#include <cstdint>
#include <vector>

namespace attnlab::nn {

class DataParallel {
public:
    virtual ~DataParallel() = default;
    virtual int rank() const = 0;  // 0 .. size()-1; rank 0 writes logs and checkpoints
    virtual int size() const = 0;  // P

    // Around loss.backward(): gradients are scaled by `share` and summed over
    // the processes as they become ready; after end_backward() every gradient
    // holds the sum, on every process.
    virtual void begin_backward(double share) = 0;
    virtual void end_backward() = 0;

    // Element-wise sum over the processes, in place (losses, counts, flags).
    virtual void sum(std::vector<double>& values) = 0;
    // Throws when the processes' weights are not bit-identical (a cheap hash).
    virtual void check_same_weights() = 0;
};

}  // namespace attnlab::nn
