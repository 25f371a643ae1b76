// vit_predict — classify images with a trained ViT checkpoint; prints the top-5 classes.
//
//   vit_predict cat.png dog.jpg                                  # the shipped model in models/vit-cifar10
//   vit_predict --checkpoint runs/vit-cifar10 photo.jpg          # a run directory (uses best/)
//   vit_predict --cifar data/cifar-10-batches-bin/test_batch.bin --records 0-9
//   vit_predict --folder my_photos/     # my_photos/<class>/*.jpg: accuracy per class
//   vit_predict --attention nystrom --attention-opt landmarks=16 cat.png   # the same weights, another attention
//
// Image files (PNG/JPEG/BMP) are resized to the model's input size; CIFAR
// records are read from a binary batch file and shown with their true label;
// a labelled folder (one subfolder per class, named like the model's classes)
// is scored as a whole.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>

#include "core/core.h"
#include "datasets/formats/cifar.h"
#include "datasets/dataset_source.h"
#include "datasets/formats/image_folder.h"
#include "datasets/formats/image_io.h"
#include "nn/io/classifier.h"
#include "nn/train/trainer.h"

using namespace attnlab;

// A record index: digits only, in [0, n).
static int64_t parse_record(const std::string& text, const std::string& part, int64_t n) {
    check(!text.empty() && text.find_first_not_of("0123456789") == std::string::npos, "--records: '", part,
          "' is not a record number or a range like 0-9");
    check(text.size() <= 18 && std::stoll(text) < n, "--records: record ", text, " is outside [0, ", n - 1,
          "] (the file holds ", n, " records)");
    int64_t i = std::stoll(text);
    return i;
}

// "3", "0-9", "1,5,7-8" -> indices
static std::vector<int64_t> parse_records(const std::string& spec, int64_t n) {
    check(!spec.empty(), "--records: empty; give record numbers like 3, 0-9 or 1,5,7-8");
    std::vector<int64_t> out;
    size_t pos = 0;
    while (true) {
        size_t comma = spec.find(',', pos);
        std::string part = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        size_t dash = part.find('-');
        int64_t a = parse_record(part.substr(0, dash), part, n);
        int64_t b = dash == std::string::npos ? a : parse_record(part.substr(dash + 1), part, n);
        check(b >= a, "--records: range '", part, "' is empty (its end is before its start)");
        for (int64_t i = a; i <= b; ++i) out.push_back(i);
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

// Top-1 accuracy and loss over root/<class>/<image>, overall and per class. The
// folders' classes are matched to the model's by name (a folder may hold a subset).
static void score_folder(const nn::Classifier& clf, const std::string& root) {
    const nn::ViTConfig& cfg = clf.model->config;
    datasets::ImageDataset ds = datasets::load_image_folder(root, cfg.channels, cfg.image_size, cfg.image_size);
    const int64_t folder_classes = ds.num_classes();
    datasets::relabel_by_name(ds, clf.class_names, cat("--folder ", root));
    nn::EvalResult all = nn::evaluate(*clf.model, ds, clf.normalization);
    std::printf("%s: %ld images in %ld classes: accuracy %.2f%%, loss %.4f\n", root.c_str(), long(all.images),
                long(folder_classes), 100 * all.accuracy, all.loss);
    for (int64_t c = 0; c < ds.num_classes(); ++c) {
        std::vector<int64_t> members;
        for (int64_t i = 0; i < ds.size(); ++i)
            if (ds.labels[size_t(i)] == c) members.push_back(i);
        if (members.empty()) continue;
        nn::EvalResult r = nn::evaluate(*clf.model, ds.select(members), clf.normalization);
        std::printf("  %-12s %4ld images  accuracy %6.2f%%\n", clf.class_names[size_t(c)].c_str(), long(r.images),
                    100 * r.accuracy);
    }
}

// The top-k classes of one image (values in [0, 1], [C, H, W]), with its true class if known.
static void show_topk(const nn::Classifier& clf, int64_t k, const std::string& what, const Tensor& image01,
                      const std::string& truth) {
    Tensor batch = nn::normalize_images(image01.unsqueeze(0), clf.normalization);
    auto top = nn::predict_topk(*clf.model, batch, k)[0];
    for (auto& [cls, p] : top)
        check(std::isfinite(p), what, ": the model's output is not finite (", p, "): the weights in ", clf.dir,
              " hold NaN/Inf or its config.json normalization is broken");
    std::printf("%s%s\n", what.c_str(), truth.empty() ? "" : ("  (true: " + truth + ")").c_str());
    for (auto& [cls, p] : top) std::printf("  %5.1f%%  %s\n", 100.0 * p, clf.class_names[size_t(cls)].c_str());
}

// --cifar FILE --records SPEC: a 100- or 20-class model reads CIFAR-100 records (fine or coarse labels).
static void classify_cifar_records(const nn::Classifier& clf, int64_t k, const std::string& cifar_file,
                                   const std::string& records) {
    const nn::ViTConfig& cfg = clf.model->config;
    const size_t K = clf.class_names.size();
    datasets::ImageDataset ds = K == 100 ? datasets::load_cifar100_file(cifar_file, datasets::Cifar100Labels::Fine)
                          : K == 20  ? datasets::load_cifar100_file(cifar_file, datasets::Cifar100Labels::Coarse)
                                     : datasets::load_cifar10_file(cifar_file);
    check(ds.channels == cfg.channels && ds.height == cfg.image_size, "--cifar: images are ", ds.channels, "x",
          ds.height, "x", ds.width, ", the model expects ", cfg.channels, "x", cfg.image_size, "x", cfg.image_size);
    for (int64_t i : parse_records(records, ds.size())) {
        std::vector<float> px(size_t(ds.image_bytes()));
        const uint8_t* src = ds.image(i);
        for (size_t j = 0; j < px.size(); ++j) px[j] = float(src[j]) / 255.f;
        Tensor img = Tensor::from_vector(px, {ds.channels, ds.height, ds.width});
        show_topk(clf, k, cat(cifar_file, " record ", i), img, clf.class_names[size_t(ds.labels[size_t(i)])]);
    }
}

int main(int argc, char** argv) {
    CLI::App app{"vit_predict: top-5 classes of images (or CIFAR records) from a trained ViT checkpoint"};
    app.option_defaults()->always_capture_default();
    std::string checkpoint = "models/vit-cifar10", cifar_file, records = "0-9", folder;
    std::vector<std::string> images;
    int64_t k = 5;
    std::string attention;
    std::vector<std::string> attention_opts;
    app.add_option("images", images, "image files (PNG, JPEG, BMP)")->check(CLI::ExistingFile);
    app.add_option("--checkpoint", checkpoint, "checkpoint or run directory");
    app.add_option("--cifar", cifar_file, "a CIFAR-10 (or, for a 100/20-class model, CIFAR-100) binary file to take records from")->check(CLI::ExistingFile);
    app.add_option("--records", records, "records of --cifar: 3, 0-9, 1,5,7-8");
    app.add_option("--folder", folder, "a labelled folder DIR/<class>/<images>: accuracy overall and per class")
        ->check(CLI::ExistingDirectory);
    app.add_option("--top", k, "how many classes to show")->check(CLI::Range(1, 1000));
    app.add_option("--attention", attention, "swap the model's attention for this variant (inference only, no retraining)");
    app.add_option("--attention-opt", attention_opts, "option name=value of the (swapped) attention (repeatable)");
    int threads = 0;
    app.add_option("--threads", threads, "threads (0 = all cores)")->check(CLI::Range(0, 256));
    CLI11_PARSE(app, argc, argv);
    try {
        if (threads > 0) set_num_threads(threads);
        check(!images.empty() || !cifar_file.empty() || !folder.empty(),
              "nothing to classify: give image files, --cifar FILE or --folder DIR");
        const bool swapping = !attention.empty() || !attention_opts.empty();
        nn::AttentionSwap swap;
        if (swapping) swap = nn::parse_attention_swap(checkpoint, attention, attention_opts);
        manual_seed(0);  // a swapped-in variant's random features draw from it
        nn::Classifier clf = nn::load_classifier(checkpoint, swapping ? &swap : nullptr);
        const nn::ViTConfig& cfg = clf.model->config;
        std::printf("%s (%s)\n", clf.model->describe().c_str(), clf.dir.c_str());
        for (const std::string& path : images)
            show_topk(clf, k, path, datasets::load_image(path, cfg.channels, cfg.image_size, cfg.image_size), "");
        if (!cifar_file.empty()) classify_cifar_records(clf, k, cifar_file, records);
        if (!folder.empty()) score_folder(clf, folder);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
