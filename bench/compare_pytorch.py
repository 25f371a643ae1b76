#!/usr/bin/python3
"""compare_pytorch.py — attnlab against PyTorch on the same CPU, side by side.

Trains the same ViT (same shapes, pre-norm blocks, exact GELU, AdamW,
cross-entropy, batch 128, synthetic CIFAR-shaped data) for a fixed number of
steps in both frameworks, alternating runs, each in a fresh process after
warm-up steps, and prints images/s, GFLOP/s, peak RSS and the ratio (of the
medians, with the range of the per-round ratios: how much the machine's
drift moves it) for the
configurations of issue 6, under both OpenBLAS core settings
(OPENBLAS_CORETYPE=Haswell: AVX2 kernels; unset: OpenBLAS picks AVX-512).
PyTorch gets its best setup: 2 threads, the OpenMP build of OpenBLAS and
glibc malloc tunables that avoid page faults on large temporaries.

    make bench-compare                 # or: /usr/bin/python3 bench/compare_pytorch.py --build build
    /usr/bin/python3 bench/compare_pytorch.py --configs A --rounds 1 --steps 5    # quick look
    /usr/bin/python3 bench/compare_pytorch.py --gemm own,openblas   # attnlab once per GEMM backend

--gemm runs attnlab once per named GEMM backend (ATTNLAB_GEMM=own: its own
kernel, the default on AVX-512 builds when OpenBLAS runs its AVX2 kernels;
=openblas: OpenBLAS's sgemm, the default otherwise), each alternating with
the same PyTorch runs, one result row per backend.

Model FLOPs are counted analytically, identically for both: forward = sum of
2*rows*in*out over linear layers + 4*B*H*T^2*D per block for QK^T and PV;
a training step is 3x forward. Results go to results/compare_pytorch.{md,json}.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

CONFIGS = {  # name: (dim, depth, heads, mlp, patch)
    "A": (128, 6, 4, 256, 4),
    "B": (192, 9, 3, 384, 4),
    "D": (128, 6, 4, 256, 2),
}
OPENMP_BLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=17179869184"


def ensure_torch():
    try:
        import torch  # noqa: F401
        return
    except ImportError:
        pass
    print("python3-torch is missing: installing it with apt-get", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "python3-torch"], check=True, env=env)


# ---------------------------------------------------------------- PyTorch worker
def torch_worker(args):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self, dim, heads, mlp):
            super().__init__()
            self.heads = heads
            self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
            self.fc1, self.fc2 = nn.Linear(dim, mlp), nn.Linear(mlp, dim)

        def forward(self, x):
            B, T, C = x.shape
            H, D = self.heads, C // self.heads
            q, k, v = self.qkv(self.norm1(x)).reshape(B, T, 3, H, D).permute(2, 0, 3, 1, 4)
            a = ((q @ k.transpose(-2, -1)) * D ** -0.5).softmax(-1)
            x = x + self.proj((a @ v).transpose(1, 2).reshape(B, T, C))
            return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))

    class ViT(nn.Module):
        def __init__(self, dim, depth, heads, mlp, patch):
            super().__init__()
            self.patch = patch
            n = (32 // patch) ** 2
            self.embed = nn.Linear(patch * patch * 3, dim)
            self.cls = nn.Parameter(torch.zeros(1, 1, dim))
            self.pos = nn.Parameter(torch.zeros(1, n + 1, dim))
            self.blocks = nn.Sequential(*[Block(dim, heads, mlp) for _ in range(depth)])
            self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, 10)

        def forward(self, img):
            B, p = img.shape[0], self.patch
            x = img.reshape(B, 3, 32 // p, p, 32 // p, p).permute(0, 2, 4, 3, 5, 1).reshape(B, -1, p * p * 3)
            x = torch.cat([self.cls.expand(B, -1, -1), self.embed(x)], 1) + self.pos
            return self.head(self.norm(self.blocks(x))[:, 0])

    if args.mode == "attention":
        B, H, N, D = args.batch, args.heads, args.seq, args.head_dim
        q, k, v = (torch.randn(B, H, N, D, requires_grad=True) for _ in range(3))
        g = torch.randn(B, H, N, D)
        times = []
        for i in range(args.warmup + args.steps):
            q.grad = k.grad = v.grad = None
            t0 = time.perf_counter()
            out = ((q @ k.transpose(-2, -1)) * D ** -0.5).softmax(-1) @ v
            out.backward(g)
            if i >= args.warmup:
                times.append(time.perf_counter() - t0)
        sec = statistics.median(times)
        flops = 12.0 * B * H * N * N * D
        print(json.dumps({"framework": "pytorch", "mode": "attention", "seconds": sec, "gflops": flops / sec / 1e9,
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return

    model = ViT(args.dim, args.depth, args.heads, args.mlp, args.patch)
    images = torch.randn(args.batch, 3, 32, 32)
    labels = torch.arange(args.batch) % 10
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    if args.mode == "infer":
        model.eval()
    times = []
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        if args.mode == "train":
            loss = F.cross_entropy(model(images), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            with torch.no_grad():
                model(images)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    T = (32 // args.patch) ** 2 + 1
    flops = model_flops(args.dim, args.depth, args.heads, args.mlp, args.patch, args.batch, T) * (3 if args.mode == "train" else 1)
    print(json.dumps({"framework": "pytorch", "mode": args.mode, "images_per_sec": args.batch / step, "step_ms": 1e3 * step,
                      "gflops": flops / step / 1e9,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def model_flops(dim, depth, heads, mlp, patch, batch, T):
    n = (32 // patch) ** 2
    linear = 2 * batch * n * patch * patch * 3 * dim + 2 * batch * 10 * dim
    linear += depth * 2 * batch * T * (3 * dim * dim + dim * dim + 2 * dim * mlp)
    attention = depth * 4 * batch * heads * T * T * (dim // heads)
    return linear + attention


# ---------------------------------------------------------------- orchestration
def report_row(coretype, config, mode, gemm, ours, theirs):
    """Medians of one job's runs, the ratio, and its printed line."""
    key = "seconds" if config == "attention" else "images_per_sec"
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    row = {"coretype": coretype or "unset", "config": config, "mode": mode, "gemm": gemm or "default",
           "attnlab": {k: med(ours, k) for k in ours[0] if isinstance(ours[0][k], (int, float))},
           "pytorch": {k: med(theirs, k) for k in theirs[0] if isinstance(theirs[0][k], (int, float))}}
    a, p = row["attnlab"][key], row["pytorch"][key]
    row["speedup"] = p / a if config == "attention" else a / p
    # Round i's two runs ran back to back: their ratio shows how far the machine's drift moves the result.
    row["round_speedups"] = [t[key] / o[key] if config == "attention" else o[key] / t[key] for o, t in zip(ours, theirs)]
    spread = f" (rounds {min(row['round_speedups']):.2f}-{max(row['round_speedups']):.2f})"
    tag = f" [{gemm} GEMM]" if gemm else ""
    if config == "attention":
        print(f"attention N={mode:>6} fwd+bwd{tag}  attnlab {a:8.3f} s {row['attnlab']['peak_rss_mb']:8.0f} MB | "
              f"pytorch {p:8.3f} s {row['pytorch']['peak_rss_mb']:8.0f} MB | speedup {row['speedup']:.2f}x{spread}", flush=True)
    else:
        ceilings = [(name, row["attnlab"].get(key, 0)) for name, key in
                    (("sgemm", "sgemm_gflops"), ("split sgemm", "split_sgemm_gflops"))]
        parts = [f"{100 * row['attnlab']['gflops'] / v:.0f}% of {name} {v:.0f}" for name, v in ceilings if v]
        frac = f" ({', '.join(parts)})" if parts else ""
        print(f"config {config} {mode:5}{tag}  attnlab {a:7.1f} img/s {row['attnlab']['gflops']:6.1f} GFLOP/s{frac} "
              f"{row['attnlab']['peak_rss_mb']:6.0f} MB | pytorch {p:7.1f} img/s {row['pytorch']['gflops']:6.1f} GFLOP/s "
              f"{row['pytorch']['peak_rss_mb']:6.0f} MB | ratio {row['speedup']:.2f}x{spread}", flush=True)
    return row


def run_json(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def environment(coretype, torch_side, threads, gemm=""):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.pop("ATTNLAB_GEMM", None)
    if gemm:
        env["ATTNLAB_GEMM"] = gemm
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    else:
        env.pop("OPENBLAS_CORETYPE", None)
    if torch_side:
        env["LD_LIBRARY_PATH"] = OPENMP_BLAS + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        env["GLIBC_TUNABLES"] = MALLOC_TUNABLES
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="attnlab build directory (with apps/bench_train)")
    ap.add_argument("--configs", default="A,B,D")
    ap.add_argument("--modes", default="train,infer")
    ap.add_argument("--coretypes", default="Haswell,", help="comma-separated OPENBLAS_CORETYPE values; empty = unset")
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs per framework (median reported)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--attention", default="4096", help="sequence lengths for the attention-alone test; empty = skip")
    ap.add_argument("--gemm", default="", help="comma-separated attnlab GEMM backends (own, openblas), one row each; "
                    "empty = the build's default")
    ap.add_argument("--out", default="results")
    ap.add_argument("--worker", choices=["torch"], help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="train", help=argparse.SUPPRESS)
    for name in ["dim", "depth", "heads", "mlp", "patch", "seq", "head_dim"]:
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=128, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "torch":
        return torch_worker(args)

    gemms = args.gemm.split(",")
    for g in gemms:
        if g not in ("", "own", "openblas"):
            sys.exit(f"--gemm: unknown backend '{g}' (expected own, openblas or empty for the build's default)")
    ensure_torch()
    bench = os.path.join(args.build, "apps", "bench_train")
    if not os.path.exists(bench):
        sys.exit(f"{bench} not found: run `make build` first")
    me = os.path.abspath(__file__)
    results = []
    for coretype in args.coretypes.split(","):
        label = f"OPENBLAS_CORETYPE={coretype}" if coretype else "OPENBLAS_CORETYPE unset (AVX-512)"
        print(f"\n== {label}, {args.threads} threads", flush=True)
        jobs = [(c, m) for c in args.configs.split(",") if c for m in args.modes.split(",") if m]
        jobs += [("attention", str(n)) for n in args.attention.split(",") if n]
        for config, mode in jobs:
            if config == "attention":
                shape = ["--batch", "8", "--heads", "4", "--seq", mode, "--head-dim", "32"]
                ours_cmd = [bench, "--mode", "attention", "--steps", "2", "--warmup", "1"] + shape
                torch_cmd = [sys.executable, me, "--worker", "torch", "--mode", "attention", "--steps", "2", "--warmup", "1",
                             "--threads", str(args.threads)] + shape
            else:
                dim, depth, heads, mlp, patch = CONFIGS[config]
                shape = ["--dim", str(dim), "--depth", str(depth), "--heads", str(heads), "--mlp", str(mlp), "--patch", str(patch)]
                common = ["--steps", str(args.steps), "--warmup", str(args.warmup)] + shape
                ours_cmd = [bench, "--mode", mode, "--sgemm"] + common
                torch_cmd = [sys.executable, me, "--worker", "torch", "--mode", mode, "--threads", str(args.threads)] + common
            ours, theirs = {g: [] for g in gemms}, []
            for _ in range(args.rounds):  # alternate, so drifts in machine load hit both sides
                for g in gemms:
                    ours[g].append(run_json(ours_cmd, environment(coretype, False, args.threads, g)))
                theirs.append(run_json(torch_cmd, environment(coretype, True, args.threads)))
            for g in gemms:
                results.append(report_row(coretype, config, mode, g, ours[g], theirs))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "compare_pytorch.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(args.out, "compare_pytorch.md"), "w") as f:
        f.write("| OpenBLAS core | config | mode | attnlab | PyTorch | ratio (per-round range) | attnlab GFLOP/s (% of sgemm, % of split sgemm) "
                "| peak RSS attnlab / PyTorch (MB) |\n")
        f.write("|---|---|---|---:|---:|---:|---:|---:|\n")
        for r in results:
            a, p = r["attnlab"], r["pytorch"]
            rs = r["round_speedups"]
            ratio = f"{r['speedup']:.2f}x ({min(rs):.2f}-{max(rs):.2f})"
            gemm = f" ({r['gemm']} GEMM)" if r["gemm"] != "default" else ""
            if r["config"] == "attention":
                f.write(f"| {r['coretype']} | attention N={r['mode']}{gemm} | fwd+bwd | {a['seconds']:.3f} s | {p['seconds']:.3f} s | "
                        f"{ratio} | {a['gflops']:.0f} | {a['peak_rss_mb']:.0f} / {p['peak_rss_mb']:.0f} |\n")
            else:
                sg, ss = a.get("sgemm_gflops", 0), a.get("split_sgemm_gflops", 0)
                split = f", {100 * a['gflops'] / ss:.0f}%" if ss else ""
                f.write(f"| {r['coretype']} | {r['config']}{gemm} | {r['mode']} | {a['images_per_sec']:.0f} img/s | "
                        f"{p['images_per_sec']:.0f} img/s | {ratio} | {a['gflops']:.0f} ({100 * a['gflops'] / sg:.0f}%{split}) | "
                        f"{a['peak_rss_mb']:.0f} / {p['peak_rss_mb']:.0f} |\n" if sg else
                        f"| {r['coretype']} | {r['config']}{gemm} | {r['mode']} | {a['images_per_sec']:.0f} img/s | "
                        f"{p['images_per_sec']:.0f} img/s | {ratio} | {a['gflops']:.0f} | "
                        f"{a['peak_rss_mb']:.0f} / {p['peak_rss_mb']:.0f} |\n")
    print(f"\nwrote {args.out}/compare_pytorch.md and .json")


if __name__ == "__main__":
    main()
