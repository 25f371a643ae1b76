#!/usr/bin/python3
"""study_verdicts.py — "What the study shows": a verdict on each claim of the
original attention study, computed from the measured results, never typed in.

Each claim is marked confirmed, refuted, or not distinguishable from seed noise:

1. "Linformer shows the best accuracy among softmax, linear, Linformer, RFA and
   Nyström with similar hyper-parameters."  Per-seed final test accuracies come
   from OUT/seed<s>/runs/<variant>/study_row.json. For every rival X, the paired
   difference Linformer − X over the seeds both finished (same seed: same data
   order) gets a 95 % t-interval, mean ± t(0.975, n−1)·std/√n.
   Confirmed when every interval lies above 0; refuted when some rival's lies
   below 0 (that rival is better beyond seed noise); otherwise not
   distinguishable from seed noise.
2. "Linear attention has the lowest computational complexity."  From
   bench_attention's CSV (forward + backward, B=1, H=4, D=32): is linear's
   kernel the fastest at every N (a tie is within 10 % of the fastest), and
   does it need the fewest analytic FLOPs at the largest N?  Confirmed when
   both hold, confirmed in measured time only when the first does, refuted when
   neither does.
3. "FAVOR+ is a drop-in replacement for softmax in a trained model."  From
   bench/dropin_swaps.py's JSON: the best performer setting swapped into the
   trained softmax model at inference. Confirmed when its mean accuracy is
   within 1 point of softmax's; refuted when even its mean + 2·std is more than
   1 point below; otherwise not distinguishable from the draws' noise.

    /usr/bin/python3 bench/study_verdicts.py       # writes results/study_verdicts.md
"""
import argparse
import csv
import glob
import json
import math
import os
import sys

T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]  # t(0.975, df), df = 1..10
RIVALS = ["softmax", "linear", "rfa", "nystrom"]
TIE = 1.10           # "fastest": within 10 % of the fastest kernel
DROPIN_POINTS = 1.0  # "drop-in": within 1 accuracy point of softmax


def t_interval(diffs):
    """Mean, std and 95 % t-interval of paired differences (None when fewer than 2)."""
    n = len(diffs)
    mean = sum(diffs) / n
    if n < 2:
        return mean, None, None
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = T975[min(n - 1, len(T975)) - 1] * std / math.sqrt(n)
    return mean, std, (mean - half, mean + half)


def read_seed_accuracies(study_dir):
    """{variant: {seed: final test accuracy in %}} over every finished run."""
    acc = {}
    for path in glob.glob(os.path.join(study_dir, "seed*", "runs", "*", "study_row.json")):
        with open(path) as f:
            j = json.load(f)
        row = j["row"]
        if row.get("status") == "finished":
            seed = j["budget"]["train"]["seed"]
            acc.setdefault(row["variant"], {})[seed] = 100 * row["final_acc"]
    return acc


def fmt_interval(ci):
    return f"[{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "(one seed: no interval)"


def verdict_linformer(acc, source):
    if "linformer" not in acc:
        return "not measured", [f"No finished Linformer run in `{source}`."]
    lines = ["| Linformer − rival | seeds | per-seed differences (points) | mean ± std | 95 % interval | beyond noise |",
             "|---|---:|---|---:|---:|---|"]
    better_all, worse_any, max_seeds = True, [], 0
    for rival in RIVALS:
        seeds = sorted(set(acc["linformer"]) & set(acc.get(rival, {})))
        if not seeds:
            better_all = False
            lines.append(f"| {rival} | 0 | – | – | – | not measured |")
            continue
        max_seeds = max(max_seeds, len(seeds))
        diffs = [acc["linformer"][s] - acc[rival][s] for s in seeds]
        mean, std, ci = t_interval(diffs)
        above, below = ci is not None and ci[0] > 0, ci is not None and ci[1] < 0
        better_all &= above
        if below:
            worse_any.append(rival)
        spread = f" ± {std:.2f}" if std is not None else ""
        call = ("unknown (one seed)" if ci is None else
                "**yes, Linformer better**" if above else ("**yes, Linformer worse**" if below else "no"))
        lines.append(f"| {rival} | {len(seeds)} | {', '.join(f'{d:+.2f}' for d in diffs)} | "
                     f"{mean:+.2f}{spread} | {fmt_interval(ci)} | {call} |")
    if max_seeds < 2:
        verdict = "one seed only: no estimate of seed noise yet"
    elif better_all:
        verdict = "confirmed"
    elif worse_any:
        verdict = "refuted (" + ", ".join(worse_any) + " more accurate beyond seed noise)"
    else:
        verdict = "not distinguishable from seed noise"
    means = {v: sum(acc[v].values()) / len(acc[v]) for v in ["linformer"] + RIVALS if v in acc}
    ranking = ", ".join(f"{v} {m:.2f} % ({len(acc[v])} seed{'s' if len(acc[v]) > 1 else ''})" for v, m in sorted(means.items(), key=lambda kv: -kv[1]))
    return verdict, [f"Mean final test accuracy (rebuilt CIFAR-10 test set, 10,000 images): {ranking}.", ""] + lines


def read_bench(path):
    """{N: {variant: (seconds, gflop)}} from bench_attention's CSV (skipped rows left out)."""
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["skipped"] == "0":
                rows.setdefault(int(r["N"]), {})[r["variant"]] = (float(r["seconds"]), float(r["gflop"]))
    return rows


def verdict_linear(bench, source):
    ns = sorted(bench)
    fastest_everywhere, lines = True, ["| N | fastest kernel (ms) | linear (ms) | linear / fastest | "
                                       "fewest GFLOP | linear GFLOP |", "|---:|---|---:|---:|---|---:|"]
    for n in ns:
        row = bench[n]
        if "linear" not in row:
            fastest_everywhere = False
            continue
        fast = min(row, key=lambda v: row[v][0])
        cheap = min(row, key=lambda v: row[v][1])
        ratio = row["linear"][0] / row[fast][0]
        fastest_everywhere &= ratio <= TIE
        lines.append(f"| {n} | {fast} ({1e3 * row[fast][0]:.3g}) | {1e3 * row['linear'][0]:.3g} | {ratio:.2f} | "
                     f"{cheap} ({row[cheap][1]:.3g}) | {row['linear'][1]:.3g} |")
    top = bench[ns[-1]]
    fewest_flops = min(top, key=lambda v: top[v][1]) == "linear"
    if fastest_everywhere and fewest_flops:
        verdict = "confirmed"
    elif fastest_everywhere:
        verdict = "confirmed in measured time, not in FLOPs"
    else:
        verdict = "refuted in measured time" + ("" if fewest_flops else " and in FLOPs")
    note = (f"Kernel times from `{source}` (forward + backward, B=1, H=4, D=32; a tie is within "
            f"{100 * (TIE - 1):.0f} % of the fastest). Linear attention shares the O(N·D²) class with "
            "linear_elu, efficient and taylor; sparse windows are O(N·w·D), which is fewer FLOPs when w < D.")
    return verdict, [note, ""] + lines


def end_to_end_lines(speed_path):
    """Training images/s of every variant at the speed file's token count, fastest first."""
    if not os.path.isfile(speed_path):
        return [f"(No end-to-end measurement: `{speed_path}` is missing.)"]
    with open(speed_path) as f:
        j = json.load(f)
    rows = [r for r in j["rows"] if r["coretype"] == j["rows"][0]["coretype"]]
    rows.sort(key=lambda r: -r["train_images_per_sec"])
    ranked = ", ".join(f"{r['variant']} {r['train_images_per_sec']:.0f} ({r['train_ratio_to_softmax']:.2f}×)"
                       for r in rows)
    return [f"End to end, training images/s at {rows[0]['tokens']} tokens (× softmax), from `{speed_path}` "
            f"({j.get('machine', 'unknown machine')}, idle cores): {ranked}."]


def verdict_favor(dropin, source):
    rows = dropin["rows"]
    soft = next((r for r in rows if r["variant"] == "softmax"), None)
    perf = [r for r in rows if r["variant"] == "performer"]
    if soft is None or not perf:
        return "not measured", [f"`{source}` lacks the softmax or performer rows."]
    best = max(perf, key=lambda r: r["accuracy_mean"])
    gap = soft["accuracy_mean"] - best["accuracy_mean"]
    if gap <= DROPIN_POINTS:
        verdict = "confirmed"
    elif best["accuracy_mean"] + 2 * best["accuracy_std"] < soft["accuracy_mean"] - DROPIN_POINTS:
        verdict = "refuted"
    else:
        verdict = "not distinguishable from the random features' noise"
    lines = [f"Swapped into the trained softmax model at inference only (`{dropin['command']}`, "
             f"{dropin['machine']}); a drop-in replacement is within {DROPIN_POINTS:g} point of softmax.", "",
             "| attention | random-feature draws | test accuracy (%) | inference img/s |", "|---|---:|---:|---:|",
             f"| softmax (trained) | – | {soft['accuracy_mean']:.2f} | {soft['images_per_sec']:.0f} |"]
    for r in sorted(perf, key=lambda r: -r["accuracy_mean"]):
        lines.append(f"| performer {r['options']} | {r['draws']} | {r['accuracy_mean']:.2f} ± {r['accuracy_std']:.2f} | "
                     f"{r['images_per_sec']:.0f} |")
    lines += ["", f"Best performer setting: {best['options']}, {gap:.2f} points below softmax."]
    return verdict, lines


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--study", default="results", help="study directory holding seed<s>/runs/")
    p.add_argument("--long", default="results/long1024", help="the 1024-token study's directory, if run")
    p.add_argument("--bench", default="results/attention/attention_bench.csv", help="bench_attention's CSV")
    p.add_argument("--speed", default="results/study_speed_1025.json", help="bench/study_speed.py's JSON")
    p.add_argument("--dropin", default="results/dropin_swaps.json", help="bench/dropin_swaps.py's JSON")
    p.add_argument("--out", default="results/study_verdicts.md")
    a = p.parse_args()
    for path in (a.bench, a.dropin):
        if not os.path.isfile(path):
            sys.exit(f"error: {path}: no such file (expected the output of the tool named in --help)")
    with open(a.dropin) as f:
        dropin = json.load(f)
    linear_verdict, linear_body = verdict_linear(read_bench(a.bench), a.bench)
    linformer_verdict, linformer_body = verdict_linformer(read_seed_accuracies(a.study), a.study)
    long_acc = read_seed_accuracies(a.long) if os.path.isdir(a.long) else {}
    if long_acc:
        long_verdict, long_body = verdict_linformer(long_acc, a.long)
        linformer_body += ["", f"At 1024 pixel tokens (`{a.long}`): **{long_verdict}**.", ""] + long_body
    claims = [
        ("Linformer shows the best accuracy among softmax, linear, Linformer, RFA and Nyström",
         (linformer_verdict, linformer_body)),
        ("Linear attention has the lowest computational complexity",
         (linear_verdict, linear_body + [""] + end_to_end_lines(a.speed))),
        ("FAVOR+ is a drop-in replacement for softmax in a trained model", verdict_favor(dropin, a.dropin)),
    ]
    out = ["# What the study shows", "",
           "Verdicts on the original study's claims, computed from the committed results by:", "", "```",
           " ".join(["/usr/bin/python3 bench/study_verdicts.py"] + sys.argv[1:]), "```", "",
           "The rules behind each verdict are in the script's header. Accuracy: rebuilt CIFAR-10 test set."]
    for i, (claim, (verdict, body)) in enumerate(claims, 1):
        out += ["", f"## {i}. \"{claim}\": **{verdict}**", ""] + body
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
