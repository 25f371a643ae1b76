// fashion_mnist_mlp.cpp — a whole training loop in plain sight: a two-layer
// perceptron on Fashion-MNIST (28×28 grey images, 10 classes).
//   logits = fc2(relu(fc1(flatten(x)))),  784 -> 128 -> 10,  loss = cross-entropy
// AdamW, batch 64; after each epoch the mean training loss and the test
// accuracy. Cost per image: 2·(784·128 + 128·10) ≈ 0.2 Mflop forward, 2× that backward.
//   fashion_mnist_mlp [--data DIR] [--epochs E] [--max-steps S]
// DIR holds {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (Debian:
// apt-get install dataset-fashion-mnist); --max-steps S stops each epoch after S steps.
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/core.h"
#include "datasets/dataloader.h"
#include "datasets/formats/idx.h"
#include "nn/layers/linear.h"
#include "nn/optim/adam.h"
using namespace attnlab;

struct Mlp : nn::UnaryModule {
    std::shared_ptr<nn::Linear> fc1 = register_module("fc1", std::make_shared<nn::Linear>(28 * 28, 128));
    std::shared_ptr<nn::Linear> fc2 = register_module("fc2", std::make_shared<nn::Linear>(128, 10));
    Tensor forward(const Tensor& x) override { return fc2->forward(fc1->forward(x.flatten(1)).relu()); }
};

double accuracy(Mlp& model, const datasets::ImageDataset& test) {
    NoGradGuard no_grad;
    datasets::DataLoader loader(test, {.batch_size = 256, .shuffle = false});
    loader.start_epoch(0);
    int64_t correct = 0;
    for (datasets::Batch b; loader.next(b);) {
        std::vector<int64_t> guess = argmax(model.forward(b.images), 1).to_indices(), truth = b.labels.to_indices();
        for (size_t i = 0; i < guess.size(); ++i) correct += guess[i] == truth[i];
    }
    return double(correct) / double(test.size());
}

void train(const std::string& dir, int64_t epochs, int64_t max_steps) {
    datasets::ImageDataset train_set = datasets::load_fashion_mnist(datasets::Split::Train, dir);
    datasets::ImageDataset test_set = datasets::load_fashion_mnist(datasets::Split::Test, dir);
    Mlp model;
    nn::AdamW opt(model.named_parameters(), {.lr = 1e-3});
    datasets::DataLoader loader(train_set, {.batch_size = 64, .shuffle = true, .seed = 0});
    for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
        loader.start_epoch(epoch - 1);
        double loss_sum = 0;
        int64_t steps = 0;
        for (datasets::Batch b; (max_steps == 0 || steps < max_steps) && loader.next(b); ++steps) {
            opt.zero_grad();
            Tensor loss = cross_entropy(model.forward(b.images), b.labels);
            loss.backward();
            opt.step();
            loss_sum += loss.item();
        }
        std::printf("epoch %ld: train loss %.4f, test accuracy %.4f\n", long(epoch), loss_sum / double(steps),
                    accuracy(model, test_set));
    }
}

int main(int argc, char** argv) {
    std::string dir = datasets::kFashionMnistDir;
    int64_t epochs = 3, max_steps = 0;  // 0: whole epochs
    try {
        for (int i = 1; i < argc; i += 2) {
            std::string flag = argv[i], value = i + 1 < argc ? argv[i + 1] : "";
            if (flag == "--data") dir = value;
            else if (flag == "--epochs") epochs = std::stoll(value);
            else if (flag == "--max-steps") max_steps = std::stoll(value);
            else throw std::invalid_argument("unknown option '" + flag + "'; expected --data, --epochs or --max-steps");
        }
        train(dir, epochs, max_steps);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
