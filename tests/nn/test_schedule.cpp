// test_schedule.cpp — learning-rate schedules at known steps.
#include <cmath>
#include <numbers>

#include "tests/support/helpers.h"
#include "nn/optim/lr_schedule.h"

using namespace attnlab;
using nn::LrSchedule;

TEST_CASE("cosine schedule: linear warmup, then cosine from base_lr down to min_lr", "[schedule]") {
    // base 1.0, warmup 10, total 110, min 0.1: the cosine spans steps 10..110.
    LrSchedule s = LrSchedule::cosine(1.0, 10, 110, 0.1);
    REQUIRE(s.lr_at(0) == Approx(0.1));    // (0 + 1) / 10
    REQUIRE(s.lr_at(4) == Approx(0.5));    // (4 + 1) / 10
    REQUIRE(s.lr_at(9) == Approx(1.0));    // end of warmup reaches base_lr
    REQUIRE(s.lr_at(10) == Approx(1.0));   // cosine at progress 0
    REQUIRE(s.lr_at(60) == Approx(0.55));  // progress ½: 0.1 + 0.9·½·(1 + cos(π/2))
    REQUIRE(s.lr_at(35) == Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi / 4))));
    REQUIRE(s.lr_at(110) == Approx(0.1));  // the end
    REQUIRE(s.lr_at(500) == Approx(0.1));  // stays at min_lr afterwards
}

TEST_CASE("cosine schedule without warmup starts at base_lr", "[schedule]") {
    LrSchedule s = LrSchedule::cosine(2.0, 0, 100);
    REQUIRE(s.lr_at(0) == Approx(2.0));
    REQUIRE(s.lr_at(50) == Approx(1.0));
    REQUIRE(s.lr_at(100) == Approx(0.0).margin(1e-12));
}

TEST_CASE("step decay multiplies by gamma every step_size steps after warmup", "[schedule]") {
    LrSchedule s = LrSchedule::step_decay(1.0, 0.5, 30, 5);
    REQUIRE(s.lr_at(0) == Approx(0.2));   // warmup (0 + 1) / 5
    REQUIRE(s.lr_at(5) == Approx(1.0));
    REQUIRE(s.lr_at(34) == Approx(1.0));  // 29 steps after warmup
    REQUIRE(s.lr_at(35) == Approx(0.5));
    REQUIRE(s.lr_at(65) == Approx(0.25));
    REQUIRE(s.lr_at(95) == Approx(0.125));
}

TEST_CASE("constant schedule with warmup ramps up, then stays", "[schedule]") {
    LrSchedule s = LrSchedule::constant(0.01, 4);
    REQUIRE(s.lr_at(0) == Approx(0.0025));
    REQUIRE(s.lr_at(3) == Approx(0.01));
    REQUIRE(s.lr_at(1000000) == Approx(0.01));
    REQUIRE(LrSchedule::constant(0.3).lr_at(0) == Approx(0.3));
}

TEST_CASE("a schedule round-trips through JSON", "[schedule]") {
    for (const LrSchedule& s : {LrSchedule::cosine(5e-4, 500, 20000, 1e-5), LrSchedule::step_decay(0.1, 0.1, 30, 2),
                                LrSchedule::constant(0.01, 3)}) {
        LrSchedule t = LrSchedule::from_json(s.to_json());
        REQUIRE(t.to_json() == s.to_json());
        for (int64_t step : {0, 1, 2, 499, 500, 10000, 20000, 30000}) REQUIRE(t.lr_at(step) == s.lr_at(step));
    }
}

TEST_CASE("schedules reject invalid settings with the field named", "[schedule][errors]") {
    REQUIRE_THROWS_WITH(LrSchedule::cosine(1e-3, 100, 50), Catch::Contains("total_steps 50 must be >= warmup_steps 100"));
    REQUIRE_THROWS_WITH(LrSchedule::cosine(1e-3, 0, 50, 1.0), Catch::Contains("min_lr must be in [0, 0.001], got 1"));
    REQUIRE_THROWS_WITH(LrSchedule::step_decay(1e-3, 0.1, 0), Catch::Contains("step_size must be > 0, got 0"));
    REQUIRE_THROWS_WITH(LrSchedule::from_json({{"kind", "linear"}, {"base_lr", 1.0}}),
                        Catch::Contains("kind must be 'constant', 'cosine' or 'step', got 'linear'"));
    REQUIRE_THROWS_WITH(LrSchedule::constant(1.0).lr_at(-1), Catch::Contains("step must be >= 0, got -1"));
}
