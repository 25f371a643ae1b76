// test_examples.cpp — the programs of apps/examples/ run as a learner runs
// them: the README's first program prints its gradient, and the Fashion-MNIST
// MLP trains on tiny IDX files (a stripe's row is the class) with a falling
// loss, or names the files it could not find and how to get them.
#include <regex>
#include <string>
#include <vector>

#include "tests/support/helpers.h"
#include "tests/support/idx_files.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

using namespace attnlab::testing;

namespace {

// The numbers printed after `label` on each line that has it, in order.
std::vector<double> numbers_after(const std::string& text, const std::string& label) {
    std::vector<double> out;
    std::regex number(label + " ([-0-9.eE+na]+)");
    for (std::sregex_iterator it(text.begin(), text.end(), number), end; it != end; ++it)
        out.push_back(std::stod((*it)[1].str()));
    return out;
}

}  // namespace

TEST_CASE("first_program runs the README's program and prints dy/dw", "[apps][examples]") {
    RunResult r = run_command(app_path("first_program"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE_THAT(r.output, Catch::Contains("Tensor[3,2] float32"));  // dy/dw has the shape of w
}

TEST_CASE("fashion_mnist_mlp trains on tiny IDX files, the training loss falls and test accuracy beats chance",
          "[apps][examples]") {
    TempDir dir;
    write_tiny_mnist(dir.file("data"), "train", 640, 28, 1, ".gz");  // 10 steps of 64
    write_tiny_mnist(dir.file("data"), "t10k", 200, 28, 2, ".gz");
    RunResult r =
        run_command(app_path("fashion_mnist_mlp") + " --data " + dir.file("data") + " --epochs 2 --max-steps 8", 120);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    std::vector<double> loss = numbers_after(r.output, "train loss");
    std::vector<double> accuracy = numbers_after(r.output, "test accuracy");
    REQUIRE(loss.size() == 2);
    REQUIRE(accuracy.size() == 2);
    REQUIRE(loss[1] < loss[0]);
    REQUIRE(accuracy[1] > 0.2);  // chance: 0.1
}

TEST_CASE("fashion_mnist_mlp names the missing files and how to get them", "[apps][examples][errors]") {
    TempDir dir;
    RunResult r = run_command(app_path("fashion_mnist_mlp") + " --data " + dir.file("nowhere"));
    INFO(r.output);
    REQUIRE(r.exit_code == 1);
    REQUIRE_THAT(r.output, Catch::Contains("error: ") && Catch::Contains("train-images-idx3-ubyte.gz") &&
                               Catch::Contains("apt-get install dataset-fashion-mnist"));
    RunResult bad = run_command(app_path("fashion_mnist_mlp") + " --epoch 2");
    REQUIRE(bad.exit_code == 1);
    REQUIRE_THAT(bad.output, Catch::Contains("unknown option '--epoch'"));
}
