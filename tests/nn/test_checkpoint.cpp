// test_checkpoint.cpp — the safetensors format (round trip, a hand-built file,
// every rejected corruption, fuzzing) and checkpoint directories (bitwise
// reload, config mismatch, interrupted saves, weights-only model directories).
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/support/helpers.h"
#include "nn/optim/adam.h"
#include "nn/io/atomic_file.h"
#include "nn/io/checkpoint.h"
#include "nn/io/safetensors.h"
#include "nn/optim/sgd.h"

using namespace attnlab;
using namespace attnlab::testing;
namespace fs = std::filesystem;
using nlohmann::json;

// A fresh directory under /tmp, removed at the end of the test.
struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& name) {
        path = fs::temp_directory_path() / ("attnlab-test-" + name + "-" + std::to_string(::getpid()));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string operator/(const std::string& f) const { return (path / f).string(); }
};

static nn::ViTConfig tiny_vit(int64_t dim = 16) {
    nn::ViTConfig c;
    c.image_size = 8, c.patch_size = 4, c.channels = 3, c.num_classes = 3;
    c.dim = dim, c.depth = 2, c.heads = 2, c.mlp_ratio = 2.0, c.dropout = 0.0, c.drop_path = 0.0;
    return c;
}

static bool bitwise_equal(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
    Tensor ca = a.contiguous(), cb = b.contiguous();
    size_t n = size_t(ca.numel()) * dtype_size(ca.dtype());
    auto bytes = [](const Tensor& t) {
        return static_cast<const char*>(t.raw()->storage->data) + t.offset() * int64_t(dtype_size(t.dtype()));
    };
    return n == 0 || std::memcmp(bytes(ca), bytes(cb), n) == 0;
}

static std::string u64_le(uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[size_t(i)] = char((v >> (8 * i)) & 0xff);
    return s;
}

// A safetensors byte string from a header JSON text and a data section, built by hand.
static std::string st_bytes(const std::string& header, const std::string& data) {
    return u64_le(header.size()) + header + data;
}

static std::string f32_bytes(const std::vector<float>& v) {
    std::string s(v.size() * 4, '\0');
    std::memcpy(s.data(), v.data(), s.size());
    return s;
}

// ---- safetensors ------------------------------------------------------------------

TEST_CASE("safetensors round-trips tensors with names, shapes, dtypes, values and metadata", "[safetensors]") {
    TempDir dir("st-roundtrip");
    Generator g(0);
    Tensor w = Tensor::randn({2, 3}, g);
    Tensor wt = Tensor::randn({3, 4}, g).transpose(0, 1);  // non-contiguous view
    Tensor ids = Tensor::from_indices({5, -1, 1LL << 40, 0}, {4});
    Tensor mask = Tensor::from_bools({true, false, true}, {3});
    Tensor scalar = Tensor::scalar(2.5f);
    Tensor empty = Tensor::zeros({0, 5});
    nn::save_safetensors(dir / "t.safetensors",
                         {{"w", w}, {"wt", wt}, {"ids", ids}, {"mask", mask}, {"s", scalar}, {"empty", empty}},
                         {{"format", "pt"}, {"note", "héllo"}});
    nn::SafeTensors st = nn::load_safetensors(dir / "t.safetensors");
    REQUIRE(st.tensors.size() == 6);
    REQUIRE(bitwise_equal(st.at("w"), w));
    REQUIRE(bitwise_equal(st.at("wt"), wt));
    REQUIRE(st.at("ids").dtype() == DType::Int64);
    REQUIRE(st.at("ids").to_indices() == std::vector<int64_t>{5, -1, 1LL << 40, 0});
    REQUIRE(st.at("mask").dtype() == DType::Bool);
    REQUIRE(st.at("mask").to_vector() == std::vector<float>{1, 0, 1});
    REQUIRE(st.at("s").shape() == Shape{});
    REQUIRE(st.at("s").item() == 2.5f);
    REQUIRE(st.at("empty").shape() == Shape{0, 5});
    REQUIRE(st.metadata == nn::Metadata{{"format", "pt"}, {"note", "héllo"}});
    REQUIRE(nn::read_safetensors_metadata(dir / "t.safetensors") == st.metadata);
    REQUIRE_THROWS_WITH(st.at("nope"), Catch::Contains("no tensor named 'nope'; the file holds: empty, ids, mask, s, w, wt"));
}

TEST_CASE("a hand-built safetensors byte string parses", "[safetensors]") {
    // Two tensors, deliberately not in name order inside the data section, and metadata.
    std::string header =
        R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
        R"("a":{"dtype":"I64","shape":[1,1],"data_offsets":[8,16]},"__metadata__":{"format":"pt"}})";
    std::string data = f32_bytes({1.0f, -2.0f}) + u64_le(7);
    // 1.0f is 0x3F800000: little endian bytes 00 00 80 3F.
    REQUIRE(data.substr(0, 4) == std::string("\x00\x00\x80\x3F", 4));
    nn::SafeTensors st = nn::safetensors_from_bytes(st_bytes(header, data), "hand-built");
    REQUIRE(st.at("b").shape() == Shape{2});
    REQUIRE(st.at("b").to_vector() == std::vector<float>{1.0f, -2.0f});
    REQUIRE(st.at("a").to_indices() == std::vector<int64_t>{7});
    REQUIRE(st.metadata.at("format") == "pt");
}

TEST_CASE("written safetensors have the documented layout", "[safetensors]") {
    Tensor b = Tensor::from_vector({1.f, 2.f}, {2}), a = Tensor::from_vector({3.f}, {1, 1});
    std::string bytes = nn::safetensors_to_bytes({{"b", b}, {"a", a}}, {{"k", "v"}});
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | uint64_t(uint8_t(bytes[size_t(i)]));
    REQUIRE(n % 8 == 0);  // header padded with spaces so the data starts 8-byte aligned
    REQUIRE(bytes.size() == 8 + n + 12);
    json header = json::parse(bytes.substr(8, n));
    REQUIRE(header["a"] == json{{"dtype", "F32"}, {"shape", {1, 1}}, {"data_offsets", {0, 4}}});  // name order
    REQUIRE(header["b"] == json{{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {4, 12}}});
    REQUIRE(header["__metadata__"] == json{{"k", "v"}});
    REQUIRE(bytes.substr(8 + n) == f32_bytes({3.f, 1.f, 2.f}));
    // The file version writes the same bytes.
    TempDir dir("st-layout");
    nn::save_safetensors(dir / "x.safetensors", {{"b", b}, {"a", a}}, {{"k", "v"}});
    REQUIRE(nn::read_text_file(dir / "x.safetensors") == bytes);
}

// The error message from parsing `bytes` ("" if it parses).
static std::string parse_error(const std::string& bytes) {
    try {
        nn::safetensors_from_bytes(bytes, "bad.safetensors");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

static const std::string kEntry = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

TEST_CASE("safetensors rejects a file shorter than the 8-byte length", "[safetensors][errors]") {
    REQUIRE_THAT(parse_error("abc"), Catch::Contains("safetensors 'bad.safetensors': file is 3 bytes, shorter than the 8-byte header length"));
}

TEST_CASE("safetensors rejects a header length beyond the file or the 100 MB limit", "[safetensors][errors]") {
    std::string good = st_bytes("{" + kEntry + "}", f32_bytes({1, 2}));
    std::string bad = u64_le(1000) + good.substr(8);
    REQUIRE_THAT(parse_error(bad), Catch::Contains("header length 1000 exceeds the file size " + std::to_string(good.size())));
    bad = u64_le(uint64_t(1) << 62) + good.substr(8);
    REQUIRE_THAT(parse_error(bad), Catch::Contains("is larger than the 100000000-byte limit"));
}

TEST_CASE("safetensors rejects a header that is not valid JSON", "[safetensors][errors]") {
    REQUIRE_THAT(parse_error(st_bytes(R"({"w":{"dtype":"F32",)", "")), Catch::Contains("header is not valid JSON"));
    REQUIRE_THAT(parse_error(st_bytes("[1, 2]  ", "")), Catch::Contains("header does not start with '{'"));
    REQUIRE_THAT(parse_error(st_bytes("{" + kEntry + "," + kEntry + "}", f32_bytes({1, 2}))),
                 Catch::Contains("header names 'w' twice"));
}

TEST_CASE("safetensors rejects entries with a missing field or an unsupported dtype", "[safetensors][errors]") {
    REQUIRE_THAT(parse_error(st_bytes(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", f32_bytes({1, 2}))),
                 Catch::Contains("tensor 'w': missing \"shape\""));
    REQUIRE_THAT(parse_error(st_bytes(R"({"w":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", f32_bytes({1, 2}))),
                 Catch::Contains("tensor 'w': unsupported dtype \"F16\" (attnlab reads F32, I64, BOOL)"));
    REQUIRE_THAT(parse_error(st_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32_bytes({1, 2}))),
                 Catch::Contains("every size in shape must be a non-negative integer, got -2"));
    REQUIRE_THAT(parse_error(st_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"n":1}})",
                                      f32_bytes({1, 2}))),
                 Catch::Contains("__metadata__ value of 'n' must be a string, got 1"));
}

TEST_CASE("safetensors rejects offsets outside the data section", "[safetensors][errors]") {
    REQUIRE_THAT(parse_error(st_bytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", f32_bytes({1, 2}))),
                 Catch::Contains("tensor 'w': data_offsets [0, 16] lie outside the data section of 8 bytes"));
    REQUIRE_THAT(parse_error(st_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", f32_bytes({1, 2}))),
                 Catch::Contains("data_offsets [8, 0] end before they begin"));
}

TEST_CASE("safetensors rejects offsets that do not match the shape's byte size", "[safetensors][errors]") {
    REQUIRE_THAT(parse_error(st_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32_bytes({1, 2}))),
                 Catch::Contains("tensor 'w': data_offsets [0, 8] hold 8 bytes, but dtype F32 shape [3] needs 12"));
    REQUIRE_THAT(parse_error(st_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})",
                                      f32_bytes({1, 2}))),
                 Catch::Contains("is too large"));
}

TEST_CASE("safetensors rejects overlapping tensors and gaps between them", "[safetensors][errors]") {
    std::string overlap = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
    REQUIRE_THAT(parse_error(st_bytes(overlap, f32_bytes({1, 2, 3}))),
                 Catch::Contains("tensors 'a' and 'b' overlap (data_offsets [0, 8] and [4, 12])"));
    std::string gap = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
    REQUIRE_THAT(parse_error(st_bytes(gap, f32_bytes({1, 2, 3}))),
                 Catch::Contains("bytes [4, 8) of the data section belong to no tensor (a gap before 'b')"));
}

TEST_CASE("safetensors rejects trailing bytes after the last tensor", "[safetensors][errors]") {
    std::string header = "{" + kEntry + "}";
    REQUIRE_THAT(parse_error(st_bytes(header, f32_bytes({1, 2}) + "junk")),
                 Catch::Contains("the tensors end at byte 8 of the data section, but the file holds 12 data bytes"));
}

TEST_CASE("safetensors rejects BOOL bytes other than 0 and 1", "[safetensors][errors]") {
    std::string header = R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})";
    REQUIRE_THAT(parse_error(st_bytes(header, std::string("\x01\x07", 2))),
                 Catch::Contains("BOOL tensor 'm' holds byte 7 at element 1; expected 0 or 1"));
}

TEST_CASE("load_safetensors names the file it cannot read", "[safetensors][errors]") {
    TempDir dir("st-missing");
    REQUIRE_THROWS_WITH(nn::load_safetensors(dir / "none.safetensors"),
                        Catch::Contains("safetensors '" + (dir / "none.safetensors") + "': cannot open"));
    std::ofstream(dir / "short.safetensors") << "12345";
    REQUIRE_THROWS_WITH(nn::load_safetensors(dir / "short.safetensors"),
                        Catch::Contains("safetensors '" + (dir / "short.safetensors") + "': file is 5 bytes"));
    // A data section cut short: the header promises more than the file holds.
    Tensor w = Tensor::ones({16});
    nn::save_safetensors(dir / "cut.safetensors", {{"w", w}});
    fs::resize_file(dir / "cut.safetensors", fs::file_size(dir / "cut.safetensors") - 4);
    REQUIRE_THROWS_WITH(nn::load_safetensors(dir / "cut.safetensors"),
                        Catch::Contains("tensor 'w': data_offsets [0, 64] lie outside the data section of 60 bytes"));
}

TEST_CASE("random truncations and byte flips of a safetensors file load cleanly or throw Error", "[safetensors][fuzz]") {
    Generator g(7);
    std::string valid = nn::safetensors_to_bytes(
        {{"a", Tensor::randn({3, 2}, g)}, {"b", Tensor::from_indices({1, 2}, {2})},
         {"c", Tensor::from_bools({true, false}, {2})}, {"d", Tensor::zeros({0})}},
        {{"format", "pt"}});
    Generator r(8);
    int loaded = 0, rejected = 0;
    for (int trial = 0; trial < 400; ++trial) {
        std::string bytes = valid;
        int kind = int(r.randint(3));
        if (kind == 0) {
            bytes.resize(size_t(r.randint(int64_t(bytes.size()))));
        } else {
            int flips = 1 + int(r.randint(4));
            for (int f = 0; f < flips; ++f) {
                // Bias towards the length prefix and the header, where the structure lives.
                size_t limit = r.randint(2) ? std::min<size_t>(bytes.size(), 8 + 200) : bytes.size();
                size_t at = size_t(r.randint(int64_t(limit)));
                bytes[at] = kind == 1 ? char(bytes[at] ^ (1 << r.randint(8))) : char(r.randint(256));
            }
        }
        try {
            nn::SafeTensors st = nn::safetensors_from_bytes(bytes, "fuzz");
            ++loaded;
        } catch (const Error&) {
            ++rejected;
        }
    }
    INFO(loaded << " loaded, " << rejected << " rejected");
    REQUIRE(loaded + rejected == 400);
    REQUIRE(rejected > 100);
}

// ---- checkpoints ---------------------------------------------------------------------

TEST_CASE("a checkpoint reloaded into a fresh model gives bitwise identical outputs", "[checkpoint]") {
    TempDir dir("ckpt-bitwise");
    manual_seed(10);
    nn::VisionTransformer a(tiny_vit());
    nn::save_checkpoint(dir / "run", a, nn::vit_config_json(tiny_vit()));
    manual_seed(11);  // different initial weights
    nn::VisionTransformer b(tiny_vit());
    Generator g(12);
    Tensor x = Tensor::randn({4, 3, 8, 8}, g);
    a.eval(), b.eval();
    REQUIRE_FALSE(bitwise_equal(a.forward(x), b.forward(x)));
    nn::load_model_weights(dir / "run", b);
    REQUIRE(bitwise_equal(a.forward(x), b.forward(x)));
    REQUIRE(fs::exists(dir / "run/model.safetensors"));
    REQUIRE(fs::exists(dir / "run/config.json"));
    REQUIRE_FALSE(fs::exists(dir / "run/training_state.safetensors"));
    // The weights file uses the model's own (PyTorch-style) names.
    nn::SafeTensors st = nn::load_safetensors(dir / "run/model.safetensors");
    REQUIRE(st.contains("blocks.1.attn.qkv.weight"));
    REQUIRE(st.metadata.at("format") == "pt");
    REQUIRE(st.tensors.size() == a.named_parameters().size() + a.named_buffers().size());
}

TEST_CASE("loading weights into a model of another config names the tensors and both shapes",
          "[checkpoint][errors]") {
    TempDir dir("ckpt-mismatch");
    nn::VisionTransformer a(tiny_vit(16));
    nn::save_checkpoint(dir / "run", a, nn::vit_config_json(tiny_vit(16)));
    nn::VisionTransformer b(tiny_vit(32));
    REQUIRE_THROWS_WITH(nn::load_model_weights(dir / "run", b),
                        Catch::Contains("does not match the model") &&
                            Catch::Contains("blocks.0.attn.qkv.weight: checkpoint float32 [48,16] vs model float32 [96,32]"));
    nn::ViTConfig mean_pool = tiny_vit(16);
    mean_pool.pooling = "mean";  // no class token, one token fewer
    nn::VisionTransformer c(mean_pool);
    REQUIRE_THROWS_WITH(nn::load_model_weights(dir / "run", c),
                        Catch::Contains("pos_embed.weight: checkpoint float32 [1,5,16] vs model float32 [1,4,16]") &&
                            Catch::Contains("unexpected in checkpoint (1): cls_token.token"));
}

TEST_CASE("config.json holds the ViT config and the app's extra object", "[checkpoint]") {
    TempDir dir("ckpt-config");
    nn::ViTConfig cfg = tiny_vit();
    nn::VisionTransformer vit(cfg);
    json extra = {{"classes", {"cat", "dog", "ship"}}, {"mean", {0.49, 0.48, 0.45}}};
    nn::save_checkpoint(dir / "run", vit, nn::vit_config_json(cfg, extra));
    json j = nn::read_config(dir / "run");
    REQUIRE(j.at("extra") == extra);
    REQUIRE(nn::read_vit_config(dir / "run").to_json() == cfg.to_json());
}

TEST_CASE("a weights-only model directory loads for evaluation without training state", "[checkpoint]") {
    TempDir dir("ckpt-eval");
    nn::VisionTransformer a(tiny_vit());
    nn::save_checkpoint(dir / "model", a, nn::vit_config_json(tiny_vit()));
    REQUIRE_FALSE(nn::has_training_state(dir / "model"));
    auto vit = nn::load_vit(dir / "model");
    REQUIRE_FALSE(vit->is_training());
    a.eval();
    Generator g(1);
    Tensor x = Tensor::randn({2, 3, 8, 8}, g);
    REQUIRE(bitwise_equal(a.forward(x), vit->forward(x)));
    nn::AdamW opt(nn::single_group(*vit));
    REQUIRE_THROWS_WITH(nn::load_training_state(dir / "model", opt),
                        Catch::Contains("training_state.safetensors' does not exist (a weights-only model directory"));
}

TEST_CASE("training state restores optimizer buffers, step, learning rates, RNG and progress", "[checkpoint]") {
    TempDir dir("ckpt-state");
    manual_seed(3);
    nn::VisionTransformer a(tiny_vit());
    nn::AdamW opt_a(nn::parameter_groups_for_adamw(a, 0.05), {.lr = 0.01});
    Generator g(4);
    for (int s = 0; s < 2; ++s) {
        opt_a.zero_grad();
        cross_entropy(a.forward(Tensor::randn({2, 3, 8, 8}, g)), Tensor::from_indices({0, 1}, {2})).backward();
        opt_a.step();
    }
    opt_a.set_lr(0.003);
    default_generator().set_state(99, 1234);
    nn::save_checkpoint(dir / "run", a, nn::vit_config_json(tiny_vit()), &opt_a,
                        {.epoch = 5, .step = 2, .extra = {{"best_acc", 0.75}}});
    REQUIRE(default_generator().offset() == 1234);  // saving draws no random numbers

    nn::VisionTransformer b(tiny_vit());
    nn::AdamW opt_b(nn::parameter_groups_for_adamw(b, 0.05), {.lr = 0.01});
    nn::load_model_weights(dir / "run", b);
    nn::TrainState st = nn::load_training_state(dir / "run", opt_b);
    REQUIRE(st.epoch == 5);
    REQUIRE(st.step == 2);
    REQUIRE(st.extra.at("best_acc") == 0.75);
    REQUIRE(opt_b.step_count() == 2);
    REQUIRE(opt_b.lr(0) == 0.003);
    REQUIRE(default_generator().seed() == 99);
    REQUIRE(default_generator().offset() == 1234);
    auto sa = opt_a.state_tensors(), sb = opt_b.state_tensors();
    REQUIRE(sa.size() == 2 * a.named_parameters().size());
    REQUIRE(sa[0].first.rfind("exp_avg.", 0) == 0);
    for (size_t i = 0; i < sa.size(); ++i) {
        INFO(sa[i].first);
        REQUIRE(sa[i].first == sb[i].first);
        REQUIRE(bitwise_equal(sa[i].second, sb[i].second));
    }
}

TEST_CASE("training state of one optimizer type does not load into another", "[checkpoint][errors]") {
    TempDir dir("ckpt-type");
    nn::VisionTransformer a(tiny_vit());
    nn::AdamW adamw(nn::single_group(a));
    nn::save_checkpoint(dir / "run", a, nn::vit_config_json(tiny_vit()), &adamw);
    nn::SGD sgd(nn::single_group(a), {.momentum = 0.9});
    REQUIRE_THROWS_WITH(nn::load_training_state(dir / "run", sgd), Catch::Contains("saved by AdamW, cannot load into SGD"));
}

TEST_CASE("a stale DIR.new from an interrupted save is ignored by loading and removed by the next save",
          "[checkpoint]") {
    TempDir dir("ckpt-stale-new");
    manual_seed(1);
    nn::VisionTransformer a(tiny_vit());
    nn::save_checkpoint(dir / "run", a, nn::vit_config_json(tiny_vit()));
    // A save that died while writing DIR.new: a partial weights file.
    fs::create_directory(dir / "run.new");
    std::ofstream(dir / "run.new/model.safetensors") << "partial";
    manual_seed(2);
    nn::VisionTransformer b(tiny_vit());
    nn::load_model_weights(dir / "run", b);
    REQUIRE(bitwise_equal(b.head->weight, a.head->weight));
    nn::save_checkpoint(dir / "run", b, nn::vit_config_json(tiny_vit()));
    REQUIRE_FALSE(fs::exists(dir / "run.new"));
    REQUIRE_FALSE(fs::exists(dir / "run.old"));
}

TEST_CASE("a save interrupted between its two renames leaves DIR.old, which loading uses", "[checkpoint]") {
    TempDir dir("ckpt-only-old");
    manual_seed(1);
    nn::VisionTransformer a(tiny_vit());
    nn::save_checkpoint(dir / "run", a, nn::vit_config_json(tiny_vit()));
    // The crash window: DIR was renamed to DIR.old, DIR.new not yet renamed to DIR.
    fs::rename(dir / "run", dir / "run.old");
    fs::create_directory(dir / "run.new");
    REQUIRE(nn::resolve_checkpoint_dir(dir / "run") == dir / "run.old");
    manual_seed(2);
    nn::VisionTransformer b(tiny_vit());
    nn::load_model_weights(dir / "run", b);
    REQUIRE(bitwise_equal(b.head->weight, a.head->weight));
    REQUIRE(nn::read_vit_config(dir / "run").to_json() == tiny_vit().to_json());
    // The next save completes the set and removes the leftovers.
    nn::save_checkpoint(dir / "run", b, nn::vit_config_json(tiny_vit()));
    REQUIRE(fs::is_directory(dir / "run"));
    REQUIRE_FALSE(fs::exists(dir / "run.old"));
    REQUIRE_FALSE(fs::exists(dir / "run.new"));
}

TEST_CASE("save_checkpoint refuses to replace a directory that holds other files", "[checkpoint][errors]") {
    TempDir dir("ckpt-refuse");
    fs::create_directory(dir / "results");
    std::ofstream(dir / "results/notes.txt") << "keep me";
    nn::VisionTransformer a(tiny_vit());
    REQUIRE_THROWS_WITH(nn::save_checkpoint(dir / "results", a, nn::vit_config_json(tiny_vit())),
                        Catch::Contains("holds 'notes.txt', which is not part of a checkpoint"));
    REQUIRE(fs::exists(dir / "results/notes.txt"));
}

TEST_CASE("loading from a directory that does not exist says so", "[checkpoint][errors]") {
    TempDir dir("ckpt-none");
    nn::VisionTransformer a(tiny_vit());
    REQUIRE_THROWS_WITH(nn::load_model_weights(dir / "nothing", a), Catch::Contains("no checkpoint at '"));
}
