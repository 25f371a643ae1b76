#!/usr/bin/python3
"""study_speed.py — the attention study's speed columns, measured on one machine.

The study (apps/attention_study) trains each variant for hours, so a full
study may be run in pieces on different machines: its accuracies stay
comparable, its times do not. This benchmark measures every variant's
training and inference throughput and peak memory (RSS) of one of the study's
ViTs in one run on one machine, with build/apps/bench_train on synthetic
CIFAR-shaped data (registry defaults for each variant):
  --tokens 65   the standard study: dim 128, depth 6, heads 4, MLP 256, patch 4 (65 tokens);
                training at batch 128, inference at batch 256;
  --tokens 1025 the long-sequence study: pixel tokens, dim 64, depth 2, heads 2 (D = 32),
                MLP 128, patch 1 (1024 + 1 tokens); training at batch 64, inference at batch 64.
Training = forward + backward + AdamW, inference = forward only. Variants are
run round-robin, each run in a fresh process after warm-up steps; the median
over rounds is reported with its ratio to softmax, under each OpenBLAS core setting.
Next to each training speed: the step's analytic FLOPs (linear layers + the
variant's attention, attention/cost.h, counted the same way for every variant)
and the GFLOP/s achieved, so that algorithmic cost (GFLOP per step) and
implementation effort (GFLOP/s) can be told apart.

    /usr/bin/python3 bench/study_speed.py --build build     # results/study_speed.{md,json}
    /usr/bin/python3 bench/study_speed.py --tokens 1025     # results/study_speed_1025.{md,json}
    /usr/bin/python3 bench/study_speed.py --variants softmax,linear --rounds 1 --coretypes ''   # quick look
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


# tokens -> (bench_train model flags, train batch, inference batch, description)
CONFIGS = {
    65: (["--dim", "128", "--depth", "6", "--heads", "4", "--mlp", "256", "--patch", "4"], 128, 256,
         "the study's ViT (dim 128, depth 6, heads 4, MLP 256, patch 4: 65 tokens)"),
    1025: (["--dim", "64", "--depth", "2", "--heads", "2", "--mlp", "128", "--patch", "1"], 64, 64,
           "the long-sequence ViT (pixel tokens: dim 64, depth 2, heads 2 so D = 32, MLP 128, patch 1: 1025 tokens)"),
}


def run_bench(build, variant, mode, batch, steps, warmup, threads, coretype, model_flags):
    env = dict(os.environ)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    else:
        env.pop("OPENBLAS_CORETYPE", None)
    cmd = [os.path.join(build, "apps", "bench_train"), "--mode", mode, "--attention", variant, "--batch", str(batch),
           "--steps", str(steps), "--warmup", str(warmup), "--threads", str(threads)] + model_flags
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"study_speed: {' '.join(cmd)} failed ({out.returncode}):\n{out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="attnlab build directory (with apps/bench_train)")
    ap.add_argument("--variants", default="", help="comma-separated variants (default: every registered one)")
    ap.add_argument("--coretypes", default="Haswell,", help="comma-separated OPENBLAS_CORETYPE values; empty = unset")
    ap.add_argument("--rounds", type=int, default=3, help="round-robin runs per variant (median reported)")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="results")
    ap.add_argument("--tokens", type=int, default=65, choices=sorted(CONFIGS), help="which study's model")
    a = ap.parse_args()
    bench = os.path.join(a.build, "apps", "bench_train")
    if not os.path.exists(bench):
        sys.exit(f"study_speed: {bench} not found; run `make build` first (or pass --build DIR)")
    if a.rounds < 1 or a.steps < 1 or a.warmup < 0:
        sys.exit("study_speed: --rounds and --steps must be >= 1, --warmup >= 0")
    if a.variants:
        variants = [v for v in a.variants.split(",") if v]
    else:  # the registry's order, from its error for an unknown name ("...; valid variants: a, b, c")
        probe = subprocess.run([bench, "--attention", "?"], capture_output=True, text=True)
        if "valid variants: " not in probe.stderr:
            sys.exit(f"study_speed: could not read the variant list from {bench}:\n{probe.stderr.strip()}")
        listed = probe.stderr.split("valid variants: ", 1)[1].splitlines()[0]
        variants = [v.strip() for v in listed.split(",") if v.strip()]
    if "softmax" not in variants:
        variants.insert(0, "softmax")  # the reference of the ratios
    coretypes = a.coretypes.split(",")
    started = time.time()
    model_flags, train_batch, infer_batch, description = CONFIGS[a.tokens]
    results = {}  # (coretype, variant, mode) -> [images/s]
    rss = {}      # (coretype, variant, mode) -> [peak RSS MB]
    flop = {}     # (coretype, variant) -> (training step GFLOP, of which attention), analytic
    blas = {}
    for coretype in coretypes:
        for r in range(a.rounds):
            for v in variants:
                for mode, batch in (("train", train_batch), ("infer", infer_batch)):
                    j = run_bench(a.build, v, mode, batch, a.steps, a.warmup, a.threads, coretype, model_flags)
                    results.setdefault((coretype, v, mode), []).append(j["images_per_sec"])
                    rss.setdefault((coretype, v, mode), []).append(j["peak_rss_mb"])
                    blas[coretype] = j["blas"]
                    if mode == "train":
                        flop[(coretype, v)] = (j["step_gflop"], j["attention_gflop"])
                print(f"  [{coretype or 'unset'} round {r + 1}/{a.rounds}] {v}: train "
                      f"{results[(coretype, v, 'train')][-1]:.0f} img/s, infer {results[(coretype, v, 'infer')][-1]:.0f} img/s",
                      flush=True)
    wall = time.time() - started
    machine = f"{cpu_model()}, {a.threads} threads"
    lines = ["# Attention study: speed of every variant on one machine", "",
             "Produced by:", "", "```", " ".join(["/usr/bin/python3", "bench/study_speed.py"] + sys.argv[1:]), "```", "",
             f"Machine: {machine}. Model: {description}, registry defaults per variant, synthetic data; "
             f"train = forward + backward + AdamW at batch {train_batch}, infer = forward at batch {infer_batch}; "
             f"median of {a.rounds} round-robin runs of {a.steps} steps after {a.warmup} warm-up steps; peak memory is "
             f"the training process's peak RSS (max over rounds); {wall / 60:.1f} min in all.", "",
             "GFLOP per training step is counted analytically, the same way for every variant: the linear layers "
             "plus the variant's attention (attention/cost.h: 2 per multiply-add of the products its algorithm "
             "needs, backward twice the forward; exp and normalizations not counted), so it is the algorithm's cost. "
             "Achieved GFLOP/s = that count / measured step time: it shows the implementation. Every variant runs "
             "its attention as one fused op with a hand-written backward (softmax a FlashAttention-style kernel, "
             "the others the fast paths of issue 30); the rest of the step (the linear layers, LayerNorm, GELU, "
             "AdamW) is the same code for all. A variant with few attention FLOPs and low GFLOP/s spends its step "
             "outside the products the cost counts.", ""]
    rows = []
    for coretype in coretypes:
        label = f"OPENBLAS_CORETYPE={coretype}" if coretype else "OPENBLAS_CORETYPE unset"
        lines += [f"## {label} (OpenBLAS {blas[coretype]})", "",
                  "| variant | train img/s | × softmax | GFLOP per step (attention) | achieved GFLOP/s | "
                  "infer img/s | × softmax | peak train RSS (MB) |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        ref_t = statistics.median(results[(coretype, "softmax", "train")])
        ref_i = statistics.median(results[(coretype, "softmax", "infer")])
        for v in variants:
            t = statistics.median(results[(coretype, v, "train")])
            i = statistics.median(results[(coretype, v, "infer")])
            mem = max(rss[(coretype, v, "train")])
            step_gflop, attn_gflop = flop[(coretype, v)]
            gflops = step_gflop * t / train_batch
            lines.append(f"| {v} | {t:.0f} | {t / ref_t:.2f} | {step_gflop:.1f} ({attn_gflop:.2f}) | {gflops:.1f} | "
                         f"{i:.0f} | {i / ref_i:.2f} | {mem:.0f} |")
            rows.append({"coretype": coretype, "blas": blas[coretype], "variant": v, "train_images_per_sec": t,
                         "peak_train_rss_mb": mem, "tokens": a.tokens,
                         "train_ratio_to_softmax": t / ref_t, "train_step_gflop": step_gflop,
                         "train_attention_gflop": attn_gflop, "train_gflops": gflops, "infer_images_per_sec": i, "infer_ratio_to_softmax": i / ref_i,
                         "train_runs": results[(coretype, v, "train")], "infer_runs": results[(coretype, v, "infer")]})
        lines.append("")
    os.makedirs(a.out, exist_ok=True)
    stem = "study_speed" if a.tokens == 65 else f"study_speed_{a.tokens}"
    with open(os.path.join(a.out, stem + ".md"), "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(a.out, stem + ".json"), "w") as f:
        json.dump({"machine": machine, "rounds": a.rounds, "steps": a.steps, "warmup": a.warmup,
                   "wall_seconds": wall, "rows": rows}, f, indent=2)
    print("\n".join(lines))
    print(f"wrote {a.out}/{stem}.md and {stem}.json")


if __name__ == "__main__":
    main()
