#!/usr/bin/env bash
# Data-parallel benchmarks (issue 29): images/s of 1 process x 2 threads against
# 2 MPI ranks x 1 thread, the gradient allreduce time and the part of it hidden
# behind backward over shared memory and over TCP on loopback, and the ring-
# allreduce projection to P = 2..64 machines (CSV + gnuplot PNG).
#
#   bench/data_parallel.sh [BUILD_DIR] [OUT_DIR] [STEPS]
# Run it on idle cores: timings taken beside other jobs are contended.
set -euo pipefail
build=${1:-build}
out=${2:-results}
steps=${3:-20}
bench=$build/apps/bench_data_parallel
mpirun=(mpirun --allow-run-as-root --oversubscribe -np 2 --bind-to core)
log=$out/data_parallel.jsonl
: > "$log"
for cfg in A B; do
  "$bench" --config "$cfg" --threads 2 --batch 128 --steps "$steps" | tee -a "$log"
  for btl in vader,self tcp,self; do
    "${mpirun[@]}" --mca btl "$btl" "$bench" --config "$cfg" --threads 1 --batch 128 --steps "$steps" \
      | sed "s/^{/{\"btl\":\"$btl\",/" | tee -a "$log"
  done
done
"$bench" --project --threads 2 --steps "$steps" --out "$out"
