#!/usr/bin/python3
"""study_pareto.py — the attention study's accuracy against its cost, and which
variants are Pareto-optimal (no other variant is at least as accurate and at
least as cheap, and strictly better in one of the two).

Accuracy (mean ± std over seeds of the final test accuracy) comes from the
study's aggregate CSV (apps/attention_study writes OUT/study_seeds.csv); cost
comes from bench/study_speed.py's JSON, measured on one machine: training
images/s (higher is cheaper) and the training process's peak RSS (lower is
cheaper). Writes a Markdown table and two plots with gnuplot:

    /usr/bin/python3 bench/study_pareto.py --label '65 tokens'   # 65 tokens: results/study_pareto.{md,*.png}
    /usr/bin/python3 bench/study_pareto.py --study results/long1024 --speed results/study_speed_1025.json \\
        --out results/long1024/study_pareto --label '1025 tokens'  # 1025 tokens
"""
import argparse
import csv
import json
import math
import os
import shlex
import subprocess
import sys


def read_accuracy(study_dir):
    rows = {}
    path = os.path.join(study_dir, "study_seeds.csv")
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["final_acc_mean"]:
                rows[r["variant"]] = (100 * float(r["final_acc_mean"]),
                                      100 * float(r["final_acc_std"] or 0), int(r["seeds_done"]))
    return rows


def read_speed(path, coretype):
    with open(path) as f:
        j = json.load(f)
    rows = [r for r in j["rows"] if coretype is None or r["coretype"] == coretype]
    if not rows:
        sys.exit(f"error: {path} has no rows for OPENBLAS_CORETYPE '{coretype}'")
    speed = {r["variant"]: (r["train_images_per_sec"], r.get("peak_train_rss_mb")) for r in rows}
    coretype = rows[0]["coretype"] or "unset"
    return speed, j.get("machine", "unknown machine"), f"{coretype} ({rows[0].get('blas', '?')})"


def pareto(points):
    """points: {name: (acc, cost)} with higher acc and lower cost better -> set of optimal names."""
    best = set()
    for n, (a, c) in points.items():
        dominated = any(a2 >= a and c2 <= c and (a2 > a or c2 < c) for m, (a2, c2) in points.items() if m != n)
        if not dominated:
            best.add(n)
    return best


# Label placement, in pixels of the 900 x 600 plot: the plotting area, and a 9-point label's size.
AREA_W, AREA_H = 780, 440
CHAR_W, LABEL_H = 6.5, 12
SPOTS = [(8, 8, "left"), (8, -10, "left"), (-8, 8, "right"), (-8, -10, "right"),
         (8, 22, "left"), (8, -24, "left"), (-8, 22, "right"), (-8, -24, "right")]


def axis_ranges(units):
    """units: {name: (x, acc, std)} with x in plot units -> (x0, x1), (y0, y1): the points, their error bars
    and room to label them."""
    xs = [x for x, _, _ in units.values()]
    lo = min(a - s for _, a, s in units.values())
    hi = max(a + s for _, a, s in units.values())
    xspan = (max(xs) - min(xs)) or 1.0
    yspan = (hi - lo) or 1.0
    return (min(xs) - 0.12 * xspan, max(xs) + 0.25 * xspan), (lo - 0.08 * yspan, hi + 0.12 * yspan)


def overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def label_box(px, py, width, spot):
    dx, dy, align = spot
    x0 = px + dx if align == "left" else px + dx - width
    return (x0, py + dy - LABEL_H / 2, x0 + width, py + dy + LABEL_H / 2)


def place_labels(units, order, xr, yr):
    """Each name at the first spot beside its point that overlaps no point and no label placed before it
    (else the spot that overlaps least) -> {name: (x, y, 'left'|'right')} in plot units."""
    sx, sy = AREA_W / (xr[1] - xr[0]), AREA_H / (yr[1] - yr[0])
    pixels = {n: ((x - xr[0]) * sx, (a - yr[0]) * sy) for n, (x, a, _) in units.items()}
    boxes = [(px - 4, py - 4, px + 4, py + 4) for px, py in pixels.values()]
    placed = {}
    for n in order:
        px, py = pixels[n]

        def clashes(spot):
            b = label_box(px, py, CHAR_W * len(n), spot)
            outside = b[0] < 0 or b[2] > AREA_W or b[1] < 0 or b[3] > AREA_H
            return outside + sum(overlap(b, o) for o in boxes)

        spot = min(SPOTS, key=clashes)  # min keeps the first of equals: the preferred spots come first
        boxes.append(label_box(px, py, CHAR_W * len(n), spot))
        placed[n] = (xr[0] + (px + spot[0]) / sx, yr[0] + (py + spot[1]) / sy, spot[2])
    return placed


def log_axis_ticks(lo, hi):
    """At least 3 round values in [lo, hi]: the 1-2-5 series, or multiples of a round step on a narrow axis."""
    steps = [m * 10 ** e for e in range(-1, 6) for m in (1, 2, 5)]
    ticks = [t for t in steps if lo <= t <= hi]
    for step in reversed(steps):
        if len(ticks) >= 3:
            break
        ticks = [k * step for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)]
    return ticks


def plot(out_png, title, xlabel, data, optimal, logx):
    """data: {name: (cost, acc, std)}; the optimal names in red; each name beside its point without overlaps."""
    to_units, from_units = (math.log10, lambda t: 10 ** t) if logx else (float, float)
    units = {n: (to_units(x), acc, std) for n, (x, acc, std) in data.items()}
    xr, yr = axis_ranges(units)
    order = sorted(data, key=lambda n: (n not in optimal, -data[n][1]))
    labels = place_labels(units, order, xr, yr)
    dat = out_png[:-4] + ".dat"
    with open(dat, "w") as f:
        for n, (x, acc, std) in sorted(data.items(), key=lambda kv: kv[1][0]):
            lx, ly, align = labels[n]
            f.write(f"{x} {acc} {std} {n} {1 if n in optimal else 0} {from_units(lx)} {ly} {1 if align == 'right' else 0}\n")
    x0, x1 = from_units(xr[0]), from_units(xr[1])
    xtics = f"set xtics ({', '.join(f'{t:g}' for t in log_axis_ticks(x0, x1))})" if logx else ""
    script = f"""set terminal pngcairo size 900,600 noenhanced
set output '{out_png}'
set title '{title}'
set xlabel '{xlabel}'
set ylabel 'final test accuracy (%), mean ± std over seeds'
set grid
{'set logscale x' if logx else ''}
set xrange [{x0}:{x1}]
{xtics}
set yrange [{yr[0]}:{yr[1]}]
set key outside bottom center horizontal
plot '{dat}' using 1:2:3 with yerrorbars pt 7 lc rgb '#888888' title 'variant', \\
     '' using 1:($5==1 ? $2 : 1/0) with points pt 7 ps 1.6 lc rgb '#cc2222' title 'Pareto-optimal', \\
     '' using 6:($8==0 ? $7 : 1/0):4 with labels left font ',9' notitle, \\
     '' using 6:($8==1 ? $7 : 1/0):4 with labels right font ',9' notitle
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--study", default="results", help="directory holding study_seeds.csv")
    p.add_argument("--speed", default="results/study_speed.json", help="bench/study_speed.py's JSON")
    p.add_argument("--coretype", default=None, help="OPENBLAS_CORETYPE rows to use (default: the first)")
    p.add_argument("--out", default="results/study_pareto", help="output stem (.md and -speed.png, -memory.png)")
    p.add_argument("--label", default="", help="the setting, shown in the plot titles (e.g. '1025 tokens')")
    a = p.parse_args()

    acc = read_accuracy(a.study)
    speed, machine, coretype = read_speed(a.speed, a.coretype)
    names = [n for n in acc if n in speed]
    untrained = sorted(set(speed) - set(acc))
    unmeasured = sorted(set(acc) - set(speed))
    fast = pareto({n: (acc[n][0], -speed[n][0]) for n in names})
    has_mem = all(speed[n][1] is not None for n in names)
    small = pareto({n: (acc[n][0], speed[n][1]) for n in names}) if has_mem else set()

    lines = ["# Attention study: accuracy against cost", "",
             f"Accuracy: `{a.study}/study_seeds.csv` (final test accuracy, mean ± std over the seeds done). "
             f"Cost: `{a.speed}` ({machine}, OPENBLAS_CORETYPE={coretype}). A variant is Pareto-optimal when no "
             "other is at least as accurate and at least as cheap, and strictly better in one.", "",
             "Produced by:", "", "```", "/usr/bin/python3 bench/study_pareto.py " + shlex.join(sys.argv[1:]), "```", "",
             "| variant | seeds | accuracy (%) | train img/s | peak train RSS (MB) | optimal: speed | optimal: memory |",
             "|---|---:|---:|---:|---:|:---:|:---:|"]
    for n in sorted(names, key=lambda n: -acc[n][0]):
        m, s, k = acc[n]
        mem = f"{speed[n][1]:.0f}" if speed[n][1] is not None else "–"
        spread = f" ± {s:.2f}" if k > 1 else " (1 seed)"
        lines.append(f"| {n} | {k} | {m:.2f}{spread} | {speed[n][0]:.0f} | {mem} | "
                     f"{'**yes**' if n in fast else ''} | {'**yes**' if n in small else ''} |")
    if untrained:
        lines += ["", f"Not trained yet ({len(names)} of {len(speed)} variants shown): " + ", ".join(untrained) + "."]
    if unmeasured:
        lines += ["", "No speed row (left out): " + ", ".join(unmeasured) + "."]
    if not has_mem:
        lines += ["", "The speed JSON has no peak RSS (an older bench/study_speed.py): no memory front."]
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    progress = f"{len(names)} of {len(speed)} variants trained" if untrained else ""
    setting = ", ".join(x for x in (a.label, progress) if x)
    suffix = f" ({setting})" if setting else ""
    plot(a.out + "-speed.png", "Accuracy vs training speed" + suffix, "training images/s (higher is cheaper)",
         {n: (speed[n][0], acc[n][0], acc[n][1]) for n in names}, fast, logx=True)
    if has_mem:
        plot(a.out + "-memory.png", "Accuracy vs peak training memory" + suffix, "peak training RSS, MB (lower is cheaper)",
             {n: (speed[n][1], acc[n][0], acc[n][1]) for n in names}, small, logx=False)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
