// ring_cost_model.h — what data-parallel training costs on a network, on paper.
//
// Ring allreduce of G bytes over P machines (reduce-scatter, then all-gather:
// each machine sends 2(P-1) messages of G/P bytes):
//   T_allreduce(P) = 2 (P-1)/P · G / bandwidth + 2 (P-1) · latency
// One step of a machine: T_compute (forward + backward of its batch slice, and
// the optimizer step) plus the part of T_allreduce not hidden behind backward:
//   efficiency(P) = T_compute / (T_compute + max(0, T_allreduce - hidden))
// hidden = 0 is the synchronous case; hidden = T_backward the best overlap.
#pragma once
#include <algorithm>
#include <cstdint>

namespace attnlab::distributed {

struct Network {
    double gbit_per_s = 25;       // link bandwidth
    double latency_s = 30e-6;     // per message (TCP over Ethernet: tens of µs)
};

inline double ring_allreduce_seconds(double bytes, int64_t P, const Network& net) {
    if (P <= 1) return 0;
    const double bytes_per_s = net.gbit_per_s * 1e9 / 8;
    return 2.0 * double(P - 1) / double(P) * bytes / bytes_per_s + 2.0 * double(P - 1) * net.latency_s;
}

// compute_s: one machine's step without communication; hidden_s: allreduce time that can hide behind backward.
inline double scaling_efficiency(double compute_s, double hidden_s, double bytes, int64_t P, const Network& net) {
    const double exposed = std::max(0.0, ring_allreduce_seconds(bytes, P, net) - hidden_s);
    return compute_s / (compute_s + exposed);
}

}  // namespace attnlab::distributed
