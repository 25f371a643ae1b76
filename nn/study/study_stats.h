// study_stats.h — the statistics of a study trained with several seeds.
//
// A seed fixes the initialization of the layers every variant shares, the
// data order, the augmentation and the dropout draws. Two variants trained
// with the same seed therefore see the same data in the same order, and their
// difference on that seed is a *paired* sample: the part of the seed-to-seed
// variation both runs share cancels in it.
//
//   mean  m = Σ xᵢ / n
//   std   s = sqrt(Σ (xᵢ − m)² / (n − 1))          (sample std; 0 for n < 2)
//   paired differences dₛ = acc_variant(s) − acc_baseline(s), over the seeds both have
//   95 % confidence interval of the mean difference: m_d ± t(0.975, n−1) · s_d / √n
//
// A difference "exceeds seed noise" when that interval excludes 0 (a two-sided
// paired t-test at the 5 % level). With 3 seeds t(0.975, 2) = 4.30, so only
// differences that are large against their own seed-to-seed spread qualify.
// Cost: O(n) per variant.
#pragma once
#include <cstdint>
#include <map>
#include <vector>

namespace attnlab::nn {

struct SampleStats {
    int64_t n = 0;
    double mean = 0, std = 0;  // std: sample standard deviation (n − 1), 0 when n < 2
};

SampleStats sample_stats(const std::vector<double>& x);

// Two-sided 95 % quantile of Student's t with dof degrees of freedom (dof ≥ 1).
double student_t_975(int64_t dof);

struct PairedDifference {
    std::vector<uint64_t> seeds;  // the seeds both variants finished
    SampleStats diff;             // of variant − baseline over those seeds
    double ci95 = 0;              // half-width of the 95 % interval (0 when fewer than 2 seeds)
    bool exceeds_noise = false;   // the interval excludes 0 (needs at least 2 seeds)
};

// variant and baseline: accuracy per seed.
PairedDifference paired_difference(const std::map<uint64_t, double>& variant,
                                   const std::map<uint64_t, double>& baseline);

}  // namespace attnlab::nn
