// mpi_data_parallel.h — nn::DataParallel over MPI: gradients averaged in buckets
// with non-blocking allreduce, started during backward (as PyTorch DDP does).
//
// Buckets: the parameters in reverse registration order (about the order in
// which backward finishes them), cut into groups of about bucket_bytes. When
// autograd reports the last gradient of a bucket ready (core/autograd/autograd.h:
// set_grad_ready_hook), the bucket is packed as share · g into its buffer and
// MPI_Iallreduce(SUM) starts on it while backward goes on with earlier layers.
// end_backward() starts any bucket not yet started, waits for all and unpacks.
// Overlap::Off is the readable reference: after backward, one blocking
// MPI_Allreduce per bucket.
//
// Cost of one step (ring allreduce of G gradient bytes over P processes):
//   2 (P-1)/P · G / bandwidth + 2 (P-1) · latency   per step, partly hidden behind backward
// plus one pack and one unpack pass over the G bytes.
#pragma once
#include <mpi.h>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "nn/train/data_parallel.h"
#include "core/module/module.h"

namespace attnlab::distributed {

enum class Overlap { Off, On };

// Time spent in the gradient allreduce, summed over steps (for benchmarks).
struct AllreduceStats {
    int64_t steps = 0;
    double wait_seconds = 0;      // end_backward: waiting for (or, with Overlap::Off, doing) the allreduces
    double backward_seconds = 0;  // begin_backward .. end_backward, the wait included
};

class MpiDataParallel : public nn::DataParallel {
public:
    // `model`'s parameters must already be in their final place (after the optimizer is built).
    MpiDataParallel(const nn::Module& model, double bucket_bytes = 1 << 20, Overlap overlap = Overlap::On);
    ~MpiDataParallel() override;

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    void begin_backward(double share) override;
    void end_backward() override;
    void sum(std::vector<double>& values) override;
    void check_same_weights() override;

    size_t bucket_count() const { return buckets_.size(); }
    std::vector<int64_t> bucket_floats() const;  // floats per bucket
    const AllreduceStats& stats() const { return stats_; }
    void reset_stats() { stats_ = {}; }

private:
    struct Bucket {
        std::vector<Tensor> params;
        std::vector<float> buffer;  // Σ numel of params
        int64_t pending = 0;        // gradients not ready yet in this backward
        bool started = false;
        MPI_Request request = MPI_REQUEST_NULL;
    };
    void on_grad_ready(TensorImpl& leaf);
    void start(Bucket& b);
    void pack(Bucket& b) const;
    void unpack(Bucket& b) const;

    int rank_ = 0, size_ = 1;
    Overlap overlap_;
    nn::NamedTensors params_;
    std::vector<Bucket> buckets_;
    std::unordered_map<TensorImpl*, size_t> bucket_of_;
    double share_ = 1;
    double backward_start_ = 0;
    AllreduceStats stats_;
};

}  // namespace attnlab::distributed
