// study_stats.cpp — see study_stats.h.
#include "nn/study/study_stats.h"

#include <cmath>

#include "core/util/error.h"

namespace attnlab::nn {

SampleStats sample_stats(const std::vector<double>& x) {
    SampleStats s;
    s.n = int64_t(x.size());
    if (x.empty()) return s;
    for (double v : x) s.mean += v;
    s.mean /= double(s.n);
    if (s.n < 2) return s;
    double squares = 0;
    for (double v : x) squares += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(squares / double(s.n - 1));
    return s;
}

double student_t_975(int64_t dof) {
    check(dof >= 1, "student_t_975: degrees of freedom must be at least 1, got ", dof);
    // Exact to 3 decimals for dof 1…30; beyond, the normal quantile plus the
    // first two terms of the Cornish-Fisher expansion in 1/dof (error < 0.001).
    static const double table[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                     2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                     2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    if (dof <= 30) return table[dof - 1];
    const double z = 1.959964;
    const double n = double(dof), z3 = z * z * z, z5 = z3 * z * z;
    return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n);
}

PairedDifference paired_difference(const std::map<uint64_t, double>& variant,
                                   const std::map<uint64_t, double>& baseline) {
    PairedDifference p;
    std::vector<double> d;
    for (const auto& [seed, acc] : variant) {
        auto it = baseline.find(seed);
        if (it == baseline.end()) continue;
        p.seeds.push_back(seed);
        d.push_back(acc - it->second);
    }
    p.diff = sample_stats(d);
    if (p.diff.n >= 2) {
        p.ci95 = student_t_975(p.diff.n - 1) * p.diff.std / std::sqrt(double(p.diff.n));
        p.exceeds_noise = std::fabs(p.diff.mean) > p.ci95;
    }
    return p;
}

}  // namespace attnlab::nn
