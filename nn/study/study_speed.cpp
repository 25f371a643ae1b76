// study_speed.cpp — see study_speed.h.
#include "nn/study/study_speed.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/util/error.h"
#include "core/util/file_kind.h"
#include "nn/io/atomic_file.h"

namespace attnlab::nn {

namespace fs = std::filesystem;

namespace {

// A number field of a row, with the file named when it is missing or not a number.
double number(const nlohmann::json& row, const char* key, const std::string& path, bool required) {
    auto it = row.find(key);
    if (it == row.end() && !required) return 0;
    check(it != row.end() && it->is_number(), "speed table '", path, "': a row has no number '", key,
          "' (expected the JSON written by bench/study_speed.py)");
    return it->get<double>();
}

}  // namespace

SpeedTable read_speed_table(const std::string& path) {
    const std::string text = read_text_file(path);
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    check(!j.is_discarded() && j.is_object() && j.contains("rows") && j["rows"].is_array() && !j["rows"].empty(),
          "speed table '", path, "': not the JSON written by bench/study_speed.py (expected an object with a non-empty \"rows\" array)");
    SpeedTable t;
    t.path = path;
    const nlohmann::json& first = j["rows"][0];
    const std::string coretype = first.value("coretype", std::string());
    t.machine = j.value("machine", std::string("an unnamed machine")) + ", OpenBLAS " + first.value("blas", std::string("?"));
    t.tokens = int64_t(number(first, "tokens", path, true));
    for (const nlohmann::json& row : j["rows"]) {
        check(row.is_object() && row.contains("variant") && row["variant"].is_string(), "speed table '", path,
              "': a row without a \"variant\" name");
        if (row.value("coretype", std::string()) != coretype) continue;  // the first setting's rows only
        MeasuredSpeed s;
        s.train_images_per_sec = number(row, "train_images_per_sec", path, true);
        s.infer_images_per_sec = number(row, "infer_images_per_sec", path, true);
        s.train_gflops = number(row, "train_gflops", path, false);
        s.peak_train_rss_mb = number(row, "peak_train_rss_mb", path, false);
        check(s.train_images_per_sec > 0 && s.infer_images_per_sec > 0, "speed table '", path, "': variant '",
              row["variant"].get<std::string>(), "' has a non-positive images/s");
        t.variants[row["variant"].get<std::string>()] = s;
    }
    return t;
}

std::optional<std::string> find_speed_table(const std::string& out_dir, int64_t tokens) {
    fs::path out = fs::path(out_dir).lexically_normal();
    if (!out.has_filename()) out = out.parent_path();  // "results/" -> "results"
    const std::string names[] = {"study_speed.json", "study_speed_" + std::to_string(tokens) + ".json"};
    for (const fs::path& dir : {out, out.parent_path()}) {
        if (dir.empty()) continue;
        for (const std::string& name : names) {
            const std::string path = (dir / name).string();
            if (!is_regular_file(path)) continue;
            try {
                if (read_speed_table(path).tokens == tokens) return path;
            } catch (const Error& e) {  // not a usable speed table: say so, and look on
                std::fprintf(stderr, "warning: %s\n", e.what());
            }
        }
    }
    return std::nullopt;
}

}  // namespace attnlab::nn
