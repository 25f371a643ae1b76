// mpi_data_parallel.cpp — bucketed, overlapped gradient allreduce (see mpi_data_parallel.h).
#include "nn/distributed/mpi_data_parallel.h"

#include <algorithm>
#include <cstring>

#include "core/autograd/autograd.h"
#include "core/util/error.h"
#include "core/tensor/tensor.h"

namespace attnlab::distributed {

MpiDataParallel::MpiDataParallel(const nn::Module& model, double bucket_bytes, Overlap overlap)
    : overlap_(overlap), params_(model.named_parameters()) {
    check(bucket_bytes > 0, "MpiDataParallel: bucket_bytes must be > 0, got ", bucket_bytes);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    const int64_t bucket_floats = std::max<int64_t>(1, int64_t(bucket_bytes / sizeof(float)));
    for (auto it = params_.rbegin(); it != params_.rend(); ++it) {  // backward finishes the last layers first
        const Tensor& p = it->second;
        if (buckets_.empty() || int64_t(buckets_.back().buffer.size()) >= bucket_floats) buckets_.emplace_back();
        Bucket& b = buckets_.back();
        b.params.push_back(p);
        b.buffer.resize(b.buffer.size() + size_t(p.numel()));
        bucket_of_[p.raw()] = buckets_.size() - 1;
    }
}

MpiDataParallel::~MpiDataParallel() {
    set_grad_ready_hook(nullptr);
    for (Bucket& b : buckets_)
        if (b.request != MPI_REQUEST_NULL) MPI_Wait(&b.request, MPI_STATUS_IGNORE);
}

std::vector<int64_t> MpiDataParallel::bucket_floats() const {
    std::vector<int64_t> out;
    for (const Bucket& b : buckets_) out.push_back(int64_t(b.buffer.size()));
    return out;
}

void MpiDataParallel::begin_backward(double share) {
    share_ = share;
    backward_start_ = MPI_Wtime();
    for (Bucket& b : buckets_) b.pending = int64_t(b.params.size()), b.started = false;
    if (overlap_ == Overlap::On) set_grad_ready_hook([this](TensorImpl& leaf) { on_grad_ready(leaf); });
}

void MpiDataParallel::on_grad_ready(TensorImpl& leaf) {
    auto it = bucket_of_.find(&leaf);
    if (it == bucket_of_.end()) return;  // not a model parameter
    Bucket& b = buckets_[it->second];
    if (--b.pending == 0) start(b);
    for (Bucket& other : buckets_) {  // let MPI move started reductions along (no progress thread)
        int done = 0;
        if (other.request != MPI_REQUEST_NULL) MPI_Test(&other.request, &done, MPI_STATUS_IGNORE);
    }
}

void MpiDataParallel::pack(Bucket& b) const {
    const float share = float(share_);
    float* out = b.buffer.data();
    for (const Tensor& p : b.params) {
        const int64_t n = p.numel();
        if (p.grad().defined()) {
            Tensor g = p.grad().contiguous();
            const float* src = g.data();
            for (int64_t i = 0; i < n; ++i) out[i] = share * src[i];
        } else {
            std::memset(out, 0, size_t(n) * sizeof(float));  // not used this step: contributes 0
        }
        out += n;
    }
}

void MpiDataParallel::unpack(Bucket& b) const {
    const float* in = b.buffer.data();
    for (const Tensor& p : b.params) {
        const int64_t n = p.numel();
        Tensor& grad = p.raw()->grad;
        if (!grad.defined() || !grad.is_contiguous()) grad = Tensor::empty(p.shape());  // the optimizer re-attaches it
        std::memcpy(grad.data(), in, size_t(n) * sizeof(float));
        in += n;
    }
}

void MpiDataParallel::start(Bucket& b) {
    pack(b);
    b.started = true;
    MPI_Iallreduce(MPI_IN_PLACE, b.buffer.data(), int(b.buffer.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &b.request);
}

void MpiDataParallel::end_backward() {
    set_grad_ready_hook(nullptr);
    const double wait_start = MPI_Wtime();
    for (Bucket& b : buckets_) {
        if (overlap_ == Overlap::Off) {
            pack(b);
            MPI_Allreduce(MPI_IN_PLACE, b.buffer.data(), int(b.buffer.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        } else {
            if (!b.started) start(b);  // parameters that got no gradient in this graph
            MPI_Wait(&b.request, MPI_STATUS_IGNORE);
        }
        unpack(b);
    }
    const double end = MPI_Wtime();
    stats_.steps += 1;
    stats_.wait_seconds += end - wait_start;
    stats_.backward_seconds += end - backward_start_;
}

void MpiDataParallel::sum(std::vector<double>& values) {
    MPI_Allreduce(MPI_IN_PLACE, values.data(), int(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

// FNV-1a over every parameter's bytes; all equal <=> max(h) = h and max(~h) = ~h everywhere.
void MpiDataParallel::check_same_weights() {
    uint64_t h = 1469598103934665603ull;
    for (const auto& [name, p] : params_) {
        Tensor c = p.contiguous();
        const unsigned char* bytes = reinterpret_cast<const unsigned char*>(c.data());
        for (size_t i = 0, n = size_t(c.numel()) * sizeof(float); i < n; ++i) h = (h ^ bytes[i]) * 1099511628211ull;
    }
    uint64_t mine[2] = {h, ~h}, most[2] = {0, 0};
    MPI_Allreduce(mine, most, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    check(most[0] == mine[0] && most[1] == mine[1], "data-parallel training: the weights of rank ", rank_,
          " differ from another rank's (hash ", h, "); the processes no longer train the same model");
}

}  // namespace attnlab::distributed
