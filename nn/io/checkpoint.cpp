// checkpoint.cpp — see checkpoint.h.
#include "nn/io/checkpoint.h"

#include <filesystem>
#include <set>

#include "core/autograd/autograd.h"
#include "core/util/file_kind.h"
#include "core/ops/ops.h"
#include "core/util/rng.h"
#include "nn/io/atomic_file.h"

namespace attnlab::nn {

namespace fs = std::filesystem;

static constexpr const char* kStateKey = "attnlab_training_state";

// "runs/vit/" -> "runs/vit"; refuses paths without a final name ("", ".", "/").
static fs::path normalize(const std::string& dir) {
    fs::path p(dir);
    while (!p.empty() && p.filename().empty() && p != p.root_path()) p = p.parent_path();
    check(!p.empty() && p.filename() != "." && p.filename() != "..", "checkpoint: '", dir,
          "' is not a usable checkpoint directory name");
    return p;
}

static fs::path with_suffix(const fs::path& p, const char* suffix) { return fs::path(p.string() + suffix); }

// Throws unless `dir` holds only checkpoint files (or leftovers of our atomic writes),
// so that a mistyped path never makes save_checkpoint delete someone's data.
static void require_checkpoint_like(const fs::path& dir) {
    check(fs::is_directory(dir), "save_checkpoint: '", dir.string(), "' exists and is not a directory");
    for (const auto& entry : fs::directory_iterator(dir)) {
        std::string name = entry.path().filename().string();
        bool ours = false;
        for (const char* known : {kModelFile, kConfigFile, kTrainingStateFile})
            ours |= name == known || name.rfind(std::string(known) + ".tmp-", 0) == 0;
        check(ours && entry.is_regular_file(), "save_checkpoint: '", dir.string(), "' holds '", name,
              "', which is not part of a checkpoint; refusing to replace or remove it");
    }
}

// Removes `p` if it exists, after require_checkpoint_like; true when there was one to remove.
static bool remove_checkpoint_copy(const fs::path& p) {
    if (!fs::exists(p)) return false;
    require_checkpoint_like(p);
    fs::remove_all(p);
    return true;
}

static std::string json_text(const nlohmann::json& j) { return j.dump(2) + "\n"; }

static NamedTensors model_tensors(const Module& model) {
    NamedTensors all = model.named_parameters();
    for (auto& nb : model.named_buffers()) all.push_back(nb);
    return all;
}

void save_weights(const std::string& path, const Module& model) {
    save_safetensors(path, model_tensors(model), {{"format", "pt"}});
}

// The training state file's metadata: optimizer settings, RNG positions, epoch and step.
static nlohmann::json training_state_meta(const Module& model, const Optimizer& optimizer, const TrainState& state) {
    const Generator& g = default_generator();
    nlohmann::json module_rng = nlohmann::json::object();
    for (const auto& [name, rng_state] : model.named_random_states()) module_rng[name] = rng_state;
    return {{"format_version", 1},
            {"optimizer", optimizer.state_json()},
            {"rng", {{"seed", g.seed()}, {"offset", g.offset()}}},
            {"module_rng", module_rng},
            {"epoch", state.epoch},
            {"step", state.step},
            {"extra", state.extra.is_null() ? nlohmann::json::object() : state.extra}};
}

// Step 1: the whole checkpoint into DIR.new, synced to disk. A DIR.new left by an
// interrupted save is removed first.
static void write_fresh_copy(const fs::path& fresh, const Module& model, const nlohmann::json& config,
                             const Optimizer* optimizer, const TrainState& state) {
    remove_checkpoint_copy(fresh);
    fs::create_directory(fresh);
    save_weights((fresh / kModelFile).string(), model);
    write_file_atomic((fresh / kConfigFile).string(), json_text(config));
    if (optimizer)
        save_safetensors((fresh / kTrainingStateFile).string(), optimizer->state_tensors(),
                         {{kStateKey, training_state_meta(model, *optimizer, state).dump()}});
    fsync_directory(fresh.string());
}

// Step 2, the swap: DIR -> DIR.old, DIR.new -> DIR, remove DIR.old. At every moment either
// DIR or DIR.old is a complete checkpoint (the loaders fall back to DIR.old: resolve_checkpoint_dir).
static void swap_into_place(const fs::path& dir, const fs::path& fresh, const fs::path& old,
                            const fs::path& parent) {
    if (fs::exists(dir)) {
        require_checkpoint_like(dir);
        remove_checkpoint_copy(old);
        fs::rename(dir, old);
    }
    fs::rename(fresh, dir);
    fsync_directory(parent.string());
    if (remove_checkpoint_copy(old)) fsync_directory(parent.string());
}

void save_checkpoint(const std::string& dir_in, const Module& model, const nlohmann::json& config,
                     const Optimizer* optimizer, const TrainState& state) {
    check(config.is_object(), "save_checkpoint: config must be a JSON object, got ", config.type_name());
    check(state.extra.is_object() || state.extra.is_null(), "save_checkpoint: TrainState::extra must be a JSON object");
    fs::path dir = normalize(dir_in), fresh = with_suffix(dir, ".new"), old = with_suffix(dir, ".old");
    fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
    try {
        fs::create_directories(parent);
        write_fresh_copy(fresh, model, config, optimizer, state);
        swap_into_place(dir, fresh, old, parent);
    } catch (const fs::filesystem_error& e) {
        throw Error(cat("save_checkpoint '", dir.string(), "': ", e.what()));
    }
}

std::string recover_interrupted_save(const std::string& dir_in) {
    fs::path dir = normalize(dir_in), fresh = with_suffix(dir, ".new"), old = with_suffix(dir, ".old");
    fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
    try {
        std::string action;
        if (!fs::exists(dir) && fs::is_directory(old) && fs::is_directory(fresh)) {
            // Killed between the two renames: DIR.new was complete (it is fsynced before DIR moves away).
            require_checkpoint_like(fresh);
            fs::rename(fresh, dir);
            action = cat("finished the interrupted save of ", dir.string());
        } else if (!fs::exists(dir) && fs::is_directory(old)) {
            require_checkpoint_like(old);  // DIR.new is gone: the previous checkpoint is the one to keep
            fs::rename(old, dir);
            action = cat("restored ", dir.string(), " from ", old.string());
        }
        if (remove_checkpoint_copy(fresh) && action.empty())  // killed while DIR.new was written: roll back to DIR
            action = cat("removed the incomplete ", fresh.string());
        if (fs::is_directory(dir) && remove_checkpoint_copy(old) && action.empty())  // killed before DIR.old was removed
            action = cat("removed the stale ", old.string());
        if (!action.empty()) fsync_directory(parent.string());
        return action;
    } catch (const fs::filesystem_error& e) {
        throw Error(cat("checkpoint '", dir.string(), "': cannot repair an interrupted save: ", e.what()));
    }
}

void remove_checkpoint(const std::string& dir_in) {
    fs::path dir = normalize(dir_in);
    for (const fs::path& p : {dir, with_suffix(dir, ".new"), with_suffix(dir, ".old")}) {
        if (!fs::exists(fs::symlink_status(p))) continue;
        require_checkpoint_like(p);
        fs::remove_all(p);
    }
}

std::string resolve_checkpoint_dir(const std::string& dir_in) {
    fs::path dir = normalize(dir_in), old = with_suffix(dir, ".old");
    if (fs::is_directory(dir)) return dir.string();
    if (fs::is_directory(old)) return old.string();  // a save was interrupted between its two renames
    throw Error(cat("checkpoint: no checkpoint at '", dir.string(), "' (neither it nor '", old.string(),
                    "' is a directory)"));
}

// "a, b, c ... (and 7 more)"
static std::string join_some(const std::vector<std::string>& items, size_t limit = 10) {
    std::string out;
    for (size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + items[i];
    if (items.size() > limit) out += cat(" ... (and ", items.size() - limit, " more)");
    return out;
}

void load_weights(Module& model, const SafeTensors& st, const std::set<std::string>& may_be_missing) {
    NamedTensors expected = model_tensors(model);
    std::vector<std::string> missing, unexpected, mismatched;
    std::set<std::string> names;
    for (const auto& [name, t] : expected) {
        names.insert(name);
        auto it = st.tensors.find(name);
        if (it == st.tensors.end()) {
            if (!may_be_missing.count(name)) missing.push_back(name);
            continue;
        }
        const Tensor& saved = it->second;
        if (saved.shape() != t.shape() || saved.dtype() != t.dtype())
            mismatched.push_back(cat(name, ": checkpoint ", dtype_name(saved.dtype()), " ", to_string(saved.shape()),
                                     " vs model ", dtype_name(t.dtype()), " ", to_string(t.shape())));
    }
    for (const auto& [name, t] : st.tensors)
        if (!names.count(name)) unexpected.push_back(name);
    if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
        std::string msg = cat("load_model_weights: '", st.source, "' does not match the model");
        if (!mismatched.empty()) msg += cat("; shape mismatch (", mismatched.size(), "): ", join_some(mismatched));
        if (!missing.empty()) msg += cat("; missing in checkpoint (", missing.size(), "): ", join_some(missing));
        if (!unexpected.empty()) msg += cat("; unexpected in checkpoint (", unexpected.size(), "): ", join_some(unexpected));
        throw Error(msg + " (was it saved with a different config?)");
    }
    NoGradGuard no_grad;
    for (const auto& [name, t] : expected)
        if (st.tensors.count(name)) copy_(t, st.tensors.at(name));
}

void load_model_weights(const std::string& dir, Module& model, const std::set<std::string>& may_be_missing) {
    fs::path file = fs::path(resolve_checkpoint_dir(dir)) / kModelFile;
    check(fs::exists(file), "load_model_weights: '", file.string(), "' does not exist");
    load_weights(model, load_safetensors(file.string()), may_be_missing);
}

bool has_training_state(const std::string& dir) {
    try {
        return fs::exists(fs::path(resolve_checkpoint_dir(dir)) / kTrainingStateFile);
    } catch (const Error&) {
        return false;
    }
}

// Restores every module's own random state saved as "module_rng" (absent in older checkpoints);
// `used` collects the paths found, so that unknown ones can be reported.
static void restore_module_rng(const nlohmann::json& saved, Module& m, const std::string& path, std::set<std::string>& used) {
    if (saved.contains(path)) {
        m.set_random_state(saved.at(path).get<RandomState>());
        used.insert(path);
    }
    for (const auto& [name, child] : m.named_children())
        restore_module_rng(saved, *child, path.empty() ? name : path + "." + name, used);
}

TrainState load_training_state(const std::string& dir, Optimizer& optimizer, bool restore_rng, Module* model) {
    fs::path file = fs::path(resolve_checkpoint_dir(dir)) / kTrainingStateFile;
    check(fs::exists(file), "load_training_state: '", file.string(),
          "' does not exist (a weights-only model directory cannot resume training)");
    SafeTensors st = load_safetensors(file.string());
    auto it = st.metadata.find(kStateKey);
    check(it != st.metadata.end(), "load_training_state: '", file.string(), "' has no \"", kStateKey,
          "\" entry in its metadata");
    TrainState out;
    try {
        nlohmann::json meta = nlohmann::json::parse(it->second);
        optimizer.load_state(st.tensors, meta.at("optimizer"), file.string());
        out.epoch = meta.at("epoch").get<int64_t>();
        out.step = meta.at("step").get<int64_t>();
        out.extra = meta.value("extra", nlohmann::json::object());
        if (restore_rng) {
            const nlohmann::json& rng = meta.at("rng");
            default_generator().set_state(rng.at("seed").get<uint64_t>(), rng.at("offset").get<uint64_t>());
        }
        if (model && meta.contains("module_rng")) {
            std::set<std::string> used;
            restore_module_rng(meta.at("module_rng"), *model, "", used);
            for (const auto& item : meta.at("module_rng").items())
                check(used.count(item.key()), "load_training_state: '", file.string(), "' holds random state for module '",
                      item.key(), "', which this model does not have (was it saved with another config?)");
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(cat("load_training_state: '", file.string(), "': malformed training state JSON: ", e.what()));
    }
    return out;
}

TrainState read_train_state(const std::string& dir) {
    fs::path file = fs::path(resolve_checkpoint_dir(dir)) / kTrainingStateFile;
    SafeTensors st = load_safetensors(file.string());
    auto it = st.metadata.find(kStateKey);
    check(it != st.metadata.end(), "read_train_state: '", file.string(), "' has no \"", kStateKey, "\" metadata");
    nlohmann::json meta = nlohmann::json::parse(it->second, nullptr, false);
    check(meta.is_object() && meta.contains("epoch") && meta["epoch"].is_number_integer(), "read_train_state: '",
          file.string(), "': malformed training state JSON");
    TrainState out;
    out.epoch = meta["epoch"].get<int64_t>();
    out.step = meta.value("step", int64_t(0));
    out.extra = meta.value("extra", nlohmann::json::object());
    return out;
}

nlohmann::json read_config(const std::string& dir) {
    fs::path file = fs::path(resolve_checkpoint_dir(dir)) / kConfigFile;
    std::string text = read_text_file(file.string());
    try {
        nlohmann::json j = nlohmann::json::parse(text);
        check(j.is_object(), "read_config: '", file.string(), "' must hold a JSON object");
        return j;
    } catch (const nlohmann::json::exception& e) {
        throw Error(cat("read_config: '", file.string(), "' is not valid JSON: ", printable(e.what())));
    }
}

nlohmann::json vit_config_json(const ViTConfig& cfg, const nlohmann::json& extra) {
    nlohmann::json j = cfg.to_json();
    j["extra"] = extra;
    return j;
}

ViTConfig read_vit_config(const std::string& dir) {
    nlohmann::json j = read_config(dir);
    try {
        return ViTConfig::from_json(j);
    } catch (const Error& e) {
        throw Error(cat("read_vit_config '", dir, "': ", e.what()));
    }
}

std::shared_ptr<VisionTransformer> load_vit(const std::string& dir, const AttentionSwap* swap) {
    ViTConfig cfg = read_vit_config(dir);
    if (swap) {
        cfg.attention = swap->variant, cfg.attention_options = swap->options;
        cfg.validate();
    }
    auto vit = std::make_shared<VisionTransformer>(cfg);
    // A swapped-in variant's buffers (random features, rotations) are drawn from its
    // own seed, not read: a softmax checkpoint has none. Its parameters must be there.
    std::set<std::string> drawn_buffers;
    if (swap)
        for (const auto& [name, t] : vit->named_buffers()) drawn_buffers.insert(name);
    try {
        load_model_weights(dir, *vit, drawn_buffers);
    } catch (const Error& e) {
        if (!swap) throw;
        throw Error(cat("attention swap to ", swap->variant, ": the checkpoint in '", dir, "' does not fit the swapped model (",
                        e.what(), "); only variants without weights of their own can replace a trained model's attention"));
    }
    vit->eval();
    return vit;
}

// What a fresh run would overwrite in its run directory.
static const char* const kRunOutputs[] = {"last", "best", "last.new", "last.old", "best.new", "best.old",
                                          "metrics.csv", "metrics.jsonl", "summary.json"};

void prepare_run_directory(const std::string& run_dir, bool resume, bool overwrite) {
    const fs::path run(run_dir);
    check(!fs::exists(run) || fs::is_directory(run), "run directory '", run.string(),
          "' exists and is not a directory; choose another --checkpoint");
    // A model directory (a checkpoint itself, like models/vit-cifar10) is never trained into.
    check(!fs::exists(run / kModelFile), "'", run.string(), "' is a model checkpoint (it holds ", kModelFile,
          "), not a run directory: choose another --checkpoint (a run keeps its checkpoints in last/ and best/)");
    fs::create_directories(run);
    for (const char* which : {"last", "best"}) {
        std::string repaired = recover_interrupted_save((run / which).string());
        if (!repaired.empty()) std::printf("%s (a previous session was killed while saving)\n", repaired.c_str());
    }
    if (resume) return;
    std::string found;
    bool has_checkpoint = false;
    for (const char* name : kRunOutputs)
        if (fs::exists(fs::symlink_status(run / name))) {
            found += cat(found.empty() ? "" : ", ", name, fs::is_directory(run / name) ? "/" : "");
            has_checkpoint |= std::string(name).find('.') == std::string::npos;  // last/ or best/
        }
    if (found.empty()) return;
    if (!overwrite) {
        if (has_checkpoint)
            throw Error(cat("run directory '", run.string(), "' already holds a run (", found,
                            "): continue it with --resume, choose another --checkpoint directory, or start it "
                            "again from scratch with --overwrite (deletes them)"));
        throw Error(cat("'", run.string(), "' already holds ", found, ", which a new run would overwrite: choose another "
                        "--checkpoint directory, or pass --overwrite to replace them"));
    }
    for (const char* which : {"last", "best"}) remove_checkpoint((run / which).string());
    for (const char* file : {"metrics.csv", "metrics.jsonl", "summary.json"}) {
        check(!fs::is_directory(run / file), "--overwrite: '", (run / file).string(), "' is a directory; not removing it");
        fs::remove(run / file);
    }
    std::printf("--overwrite: removed %s from %s\n", found.c_str(), run.string().c_str());
}

}  // namespace attnlab::nn
