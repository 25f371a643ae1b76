// pixel_generation.cpp — see pixel_generation.h.
#include "nn/pixel/pixel_generation.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <functional>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"

namespace attnlab::nn {

const char* generation_path_name(GenerationPath p) {
    switch (p) {
        case GenerationPath::Recurrent: return "recurrent";
        case GenerationPath::KVCache: return "kv-cache";
        case GenerationPath::Uncached: return "uncached";
    }
    return "?";
}

GenerationPath parse_generation_path(const std::string& name) {
    for (GenerationPath p : {GenerationPath::Recurrent, GenerationPath::KVCache, GenerationPath::Uncached})
        if (name == generation_path_name(p)) return p;
    throw Error(cat("unknown generation path '", name, "'; valid paths: recurrent, kv-cache, uncached"));
}

std::vector<GenerationPath> supported_paths(const PixelTransformer& model) {
    switch (model.step_kind()) {
        case StepKind::Recurrent: return {GenerationPath::Recurrent, GenerationPath::Uncached};
        case StepKind::KVCache: return {GenerationPath::KVCache, GenerationPath::Uncached};
        case StepKind::None: break;
    }
    return {GenerationPath::Uncached};
}

void check_path_supported(const PixelTransformer& model, GenerationPath path) {
    std::string valid;
    for (GenerationPath p : supported_paths(model)) {
        if (p == path) return;
        valid += (valid.empty() ? "" : ", ") + std::string(generation_path_name(p));
    }
    throw Error(cat("generation path '", generation_path_name(path), "' needs ",
                    path == GenerationPath::Recurrent ? "linear_elu" : "softmax", " attention; this model uses '",
                    model.config.attention, "', which supports: ", valid));
}

std::vector<int64_t> sample_rows(const Tensor& logits_in, float temperature, Generator& gen) {
    check(logits_in.defined() && logits_in.dim() == 2, "sample_rows: expected logits [B, K], got ",
          logits_in.defined() ? to_string(logits_in.shape()) : "undefined");
    check(temperature > 0, "sample_rows: temperature must be > 0, got ", temperature);
    Tensor logits = logits_in.contiguous();
    const int64_t B = logits.size(0), K = logits.size(1);
    std::vector<int64_t> out(static_cast<size_t>(B));
    std::vector<double> w(static_cast<size_t>(K));
    const float* p = logits.data();
    for (int64_t b = 0; b < B; ++b) {
        const float* row = p + b * K;
        float m = row[0];
        for (int64_t k = 1; k < K; ++k) m = std::max(m, row[k]);
        double total = 0;
        for (int64_t k = 0; k < K; ++k) total += (w[size_t(k)] = std::exp(double(row[k] - m) / temperature));
        double u = double(gen.uniform()) * total, acc = 0;
        int64_t pick = K - 1;
        for (int64_t k = 0; k < K; ++k)
            if ((acc += w[size_t(k)]) > u) {
                pick = k;
                break;
            }
        out[size_t(b)] = pick;
    }
    return out;
}

static void check_prefix(const PixelTransformer& model, int64_t B, const Tensor& prefix) {
    if (!prefix.defined()) return;
    check(prefix.dtype() == DType::Int64 && prefix.dim() == 2 && prefix.size(0) == B &&
              prefix.size(1) < model.config.seq_len(),
          "generate: prefix must be Int64 [", B, ", P] with P < ", model.config.seq_len(), ", got ",
          dtype_name(prefix.dtype()), " ", to_string(prefix.shape()));
}

namespace {

using EmitToken = std::function<void(int64_t t, const Tensor& logits)>;

// The reference path: the whole prefix of tokens through the model again for every token.
void generate_uncached(PixelTransformer& model, int64_t B, int64_t N, int64_t P, const Tensor& out,
                       const EmitToken& emit) {
    const int64_t* po = out.data_as<int64_t>();
    Tensor inputs = Tensor::full({B, N}, float(PixelTransformer::kStartToken)).to(DType::Int64);
    int64_t* pi = inputs.data_as<int64_t>();
    for (int64_t t = 0; t < N; ++t) {
        Tensor logits;
        if (t >= P) {  // the prefix needs no logits: nothing is cached between tokens anyway
            Tensor h = model.hidden(inputs.narrow(1, 0, t + 1).contiguous());    // [B, t+1, C]
            logits = model.head->forward(h.narrow(1, t, 1)).reshape({B, kPixelLevels});
        }
        emit(t, logits);
        if (t + 1 < N)
            for (int64_t b = 0; b < B; ++b) pi[b * N + t + 1] = po[b * N + t];
    }
}

// The fast path: one token per step, each layer's keys and values (or state) cached.
void generate_cached(PixelTransformer& model, int64_t B, int64_t N, const Tensor& out, const EmitToken& emit) {
    DecodingState st = model.begin_decoding(B);
    Tensor inputs = Tensor::full({B}, float(PixelTransformer::kStartToken)).to(DType::Int64);
    for (int64_t t = 0; t < N; ++t) {
        Tensor logits = model.step(st, inputs);  // the pixel at t, from the tokens < t
        emit(t, logits);
        inputs = out.narrow(1, t, 1).reshape({B}).contiguous();
    }
}

}  // namespace

Tensor generate(PixelTransformer& model, int64_t B, const GenerateOptions& o, const Tensor& prefix_in) {
    check(B > 0, "generate: number of images must be > 0, got ", B);
    check(o.temperature > 0, "generate: temperature must be > 0, got ", o.temperature);
    check_path_supported(model, o.path);
    check_prefix(model, B, prefix_in);
    const bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    const int64_t N = model.config.seq_len();
    const Tensor prefix = prefix_in.defined() ? prefix_in.contiguous() : Tensor();
    const int64_t P = prefix.defined() ? prefix.size(1) : 0;
    Generator gen(o.seed);
    Tensor out = Tensor::zeros({B, N}, DType::Int64);
    int64_t* po = out.data_as<int64_t>();
    auto emit = [&](int64_t t, const Tensor& logits) {  // token t from the prefix or from logits [B, 256]
        if (t < P) {
            for (int64_t b = 0; b < B; ++b) po[b * N + t] = prefix.data_as<int64_t>()[b * P + t];
        } else {
            std::vector<int64_t> x = sample_rows(logits, o.temperature, gen);
            for (int64_t b = 0; b < B; ++b) po[b * N + t] = x[size_t(b)];
        }
        if (o.on_token) o.on_token(t + 1, N);
    };
    if (o.path == GenerationPath::Uncached) generate_uncached(model, B, N, P, out, emit);
    else generate_cached(model, B, N, out, emit);
    model.train(was_training);
    return out;
}

Tensor path_logits(PixelTransformer& model, const Tensor& pixels, GenerationPath path) {
    check_path_supported(model, path);
    check(pixels.defined() && pixels.dtype() == DType::Int64 && pixels.dim() == 2 && pixels.size(1) >= 1 &&
              pixels.size(1) <= model.config.seq_len(),
          "path_logits: expected Int64 pixels [B, L] with 1 <= L <= ", model.config.seq_len());
    const bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    const int64_t B = pixels.size(0), L = pixels.size(1);
    Tensor inputs = PixelTransformer::shift_right(pixels);
    std::vector<Tensor> per_position;
    DecodingState st;
    if (path != GenerationPath::Uncached) st = model.begin_decoding(B);
    for (int64_t t = 0; t < L; ++t) {
        if (path == GenerationPath::Uncached) {
            Tensor h = model.hidden(inputs.narrow(1, 0, t + 1).contiguous());
            per_position.push_back(model.head->forward(h.narrow(1, t, 1)).reshape({B, kPixelLevels}));
        } else {
            per_position.push_back(model.step(st, inputs.narrow(1, t, 1).reshape({B}).contiguous()));
        }
    }
    model.train(was_training);
    return stack(per_position, 1);  // [B, L, 256]
}

double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

GenerationTiming time_generation(PixelTransformer& model, GenerationPath path, int64_t images, int64_t batch,
                                 uint64_t seed, const std::function<void(int64_t, int64_t)>& on_token) {
    check(images > 0 && batch > 0, "time_generation: images and batch must be > 0, got ", images, " and ", batch);
    check_path_supported(model, path);
    GenerationTiming timing;
    timing.path = path;
    timing.tokens_per_image = model.config.seq_len();
    const int64_t N = model.config.seq_len();
    auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = process_cpu_seconds();
    for (int64_t done = 0; done < images;) {
        const int64_t n = std::min(batch, images - done);
        GenerateOptions o;
        o.path = path;
        o.seed = seed + uint64_t(done);
        if (on_token) o.on_token = [&](int64_t t, int64_t) { on_token(done * N + t * n, images * N); };
        generate(model, n, o);
        done += n;
        timing.images = done;
    }
    timing.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    timing.cpu_seconds = process_cpu_seconds() - cpu0;
    return timing;
}

}  // namespace attnlab::nn
