#!/usr/bin/python3
"""dropin_swaps.py — is an efficient attention a drop-in replacement for softmax in a trained model?

The Performer paper suggests FAVOR+ can replace softmax attention in an already
trained Transformer. This script tests that on the shipped softmax ViT
(models/vit-cifar10): each row swaps the model's attention at inference only,
with no retraining (`vit_train --eval-only --attention NAME --attention-opt k=v`),
and evaluates it on the whole CIFAR-10 test set. Variants with random draws
(features, hashes, random blocks) are evaluated with --draws seeds (mean and
spread reported). Inference images/s come from the same evaluation runs, so
they are only comparable when the cores are idle (--threads as given).

    /usr/bin/python3 bench/dropin_swaps.py --build build      # results/dropin_swaps.{md,json}
    /usr/bin/python3 bench/dropin_swaps.py --quick            # 1,000 test images, a few rows
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

from study_speed import cpu_model  # the same machine description as the speed tables

# (variant, options, random draws?) — the swaps asked for by the study.
SWAPS = (
    [("softmax", [], False)]
    + [("performer", [f"features={m}", f"orthogonal={o}"], True)
       for o in ("true", "false") for m in (16, 32, 64, 128, 256, 512)]
    + [("rfa", [f"features={m}"], True) for m in (64, 256)]
    + [("nystrom", [f"landmarks={m}"], False) for m in (4, 8, 16, 32, 64)]
    + [("reformer", [f"buckets={b}", f"n_hashes={h}"], True) for b, h in ((4, 2), (8, 1), (8, 2), (8, 4), (16, 2))]
    + [("longformer", [f"window={w}"], False) for w in (8, 16, 32)]
    + [("bigbird", [], True), ("sparse_strided", [], False), ("sparse_fixed", [], False), ("linear_elu", [], False)]
)


def evaluate(args, variant, options, seed):
    cmd = [os.path.join(args.build, "apps", "vit_train"), "--eval-only", "--checkpoint", args.checkpoint,
           "--attention", variant, "--seed", str(seed), "--threads", str(args.threads)]
    for o in options:
        cmd += ["--attention-opt", o]
    if args.data:
        cmd += ["--data", args.data]
    if args.eval_subset:
        cmd += ["--eval-subset", str(args.eval_subset)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"dropin_swaps: {' '.join(cmd)} failed ({out.returncode}):\n{out.stderr.strip()}")
    m = re.search(r"test: (\d+) images .*loss ([0-9.naninf]+), accuracy ([0-9.]+)% \((\d+) images/s\)", out.stdout)
    if not m:
        sys.exit(f"dropin_swaps: unexpected output of {' '.join(cmd)}:\n{out.stdout}")
    return {"images": int(m.group(1)), "loss": float(m.group(2)), "accuracy": float(m.group(3)),
            "images_per_sec": float(m.group(4))}


def spread(values):
    return statistics.stdev(values) if len(values) > 1 else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--checkpoint", default="models/vit-cifar10")
    ap.add_argument("--data", default="", help="CIFAR-10 binary directory (default: the apps' own search)")
    ap.add_argument("--draws", type=int, default=3, help="seeds for variants with random draws")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-subset", type=int, default=0, help="first N test images only (0 = all 10,000)")
    ap.add_argument("--quick", action="store_true", help="1,000 test images, 1 draw, every 4th swap")
    ap.add_argument("--out", default="results/dropin_swaps")
    args = ap.parse_args()
    swaps = SWAPS
    if args.quick:
        args.eval_subset, args.draws, swaps = args.eval_subset or 1000, 1, SWAPS[::4]

    rows, started = [], time.time()
    for variant, options, random_draws in swaps:
        runs = [evaluate(args, variant, options, seed) for seed in range(args.draws if random_draws else 1)]
        accs = [r["accuracy"] for r in runs]
        row = {"variant": variant, "options": ",".join(options), "draws": len(runs),
               "accuracy_mean": statistics.mean(accs), "accuracy_std": spread(accs),
               "loss_mean": statistics.mean(r["loss"] for r in runs),
               "images_per_sec": statistics.median(r["images_per_sec"] for r in runs), "images": runs[0]["images"]}
        rows.append(row)
        print(f"{variant:15s} {row['options']:28s} {row['accuracy_mean']:6.2f} ± {row['accuracy_std']:.2f} %  "
              f"{row['images_per_sec']:6.0f} img/s", flush=True)

    base = rows[0]
    command = "/usr/bin/python3 bench/dropin_swaps.py " + " ".join(sys.argv[1:])
    machine = f"{cpu_model()}, {args.threads} threads, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}"
    lines = [
        "# Drop-in attention swaps on the shipped softmax ViT (no retraining)", "",
        f"Produced by `{command}` in {time.time() - started:.0f} s on {machine}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}. Model: `{args.checkpoint}`; {base['images']} images of the "
        "JPEG-rebuilt CIFAR-10 test set. Random variants: mean ± std over their draws (seeds 0…). "
        "Inference images/s are medians of the evaluation runs at batch 256 and are only meaningful when the cores "
        "were idle.", "",
        "| variant | options | draws | test accuracy (%) | Δ vs softmax (points) | test loss | inference img/s | × softmax |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['options'] or 'defaults'} | {r['draws']} | "
                     f"{r['accuracy_mean']:.2f} ± {r['accuracy_std']:.2f} | {r['accuracy_mean'] - base['accuracy_mean']:+.2f} | "
                     f"{r['loss_mean']:.4f} | {r['images_per_sec']:.0f} | {r['images_per_sec'] / base['images_per_sec']:.2f} |")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(args.out + ".json", "w") as f:
        json.dump({"command": command, "machine": machine, "rows": rows}, f, indent=1)
    print(f"wrote {args.out}.md and {args.out}.json")


if __name__ == "__main__":
    main()
