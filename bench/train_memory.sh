#!/usr/bin/env bash
# Peak memory of one ViT training step per attention variant (issue 30's memory goal: no variant
# above softmax). For each variant: peak RSS of the process (MB) and the high-water mark of live
# tensor storage during the timed step (MB, bench_train's peak_tensor_mb; it excludes the
# allocator's cache and the program itself, so it isolates what the variant keeps). Memory does
# not depend on other jobs, so this may run beside them.
#
#   bench/train_memory.sh [BUILD_DIR] [PATCH] [BATCH]      (default: build 2 128 → 257 tokens)
# Prints a Markdown table; the variants are the registry's, in its order.
set -euo pipefail
build=${1:-build}
patch=${2:-2}
batch=${3:-128}
variants=$( ("$build/apps/vit_train" --attention '?' --epochs 1 2>&1 || true) | sed -n 's/.*valid variants: //p' | tr -d ',')
[ -n "$variants" ] || { echo "train_memory.sh: could not read the variant list from $build/apps/vit_train" >&2; exit 1; }
echo "| variant | tokens | peak RSS (MB) | vs softmax | peak tensors (MB) | vs softmax |"
echo "|---|---:|---:|---:|---:|---:|"
for v in $variants; do
  "$build/apps/bench_train" --mode train --attention "$v" --patch "$patch" --batch "$batch" --steps 1 --warmup 1 --threads 1
done | python3 -c '
import json, sys
rows = [json.loads(line) for line in sys.stdin if line.startswith("{")]
base_rss, base_ten = rows[0]["peak_rss_mb"], rows[0]["peak_tensor_mb"]
for r in rows:
    name, tokens, rss, ten = r["attention"], r["tokens"], r["peak_rss_mb"], r["peak_tensor_mb"]
    print(f"| {name} | {tokens} | {rss:.0f} | {100 * (rss / base_rss - 1):+.1f} % | {ten:.0f} | {100 * (ten / base_ten - 1):+.1f} % |")
'
