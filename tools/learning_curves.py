#!/usr/bin/env python3
"""Learning curves at equal tokens, as a Markdown table, from ablate's output.

    tools/learning_curves.py OUT_DIR ABLATION [ABLATION ...]

OUT_DIR is ablate's --out folder; each ABLATION is the name of a comparison in it (its
summary.json names the runs). Prints validation bits per byte (mean over seeds) at every
evaluation point, a row per experiment: the baseline of the first ablation, then each
ablation's variant.
"""
import json
import os
import sys
from collections import defaultdict


def run_curve(out_dir, spec_hash):
    """{tokens: val_bpb} of one run, from its metrics.jsonl."""
    curve = {}
    with open(os.path.join(out_dir, "runs", spec_hash, "metrics.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            if "val_bpb" in row:
                curve[row["tokens"]] = row["val_bpb"]
    return curve


def mean_curve(out_dir, runs):
    sums, counts = defaultdict(float), defaultdict(int)
    for r in runs:
        for tokens, bpb in run_curve(out_dir, r["spec_hash"]).items():
            sums[tokens] += bpb
            counts[tokens] += 1
    # Only points every seed reached, so a column never mixes seeds.
    return {t: sums[t] / counts[t] for t in sums if counts[t] == len(runs)}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out_dir, names = sys.argv[1], sys.argv[2:]
    columns = []
    for i, name in enumerate(names):
        with open(os.path.join(out_dir, name, "summary.json")) as f:
            summary = json.load(f)
        if i == 0:
            columns.append((summary["baseline"][0]["experiment"], mean_curve(out_dir, summary["baseline"])))
        columns.append((summary["variant"][0]["experiment"], mean_curve(out_dir, summary["variant"])))
    points = sorted(set().union(*(c for _, c in columns)))
    print("| experiment | " + " | ".join("%s tokens" % format(t, ",") for t in points) + " |")
    print("|---|" + "---:|" * len(points))
    for name, curve in columns:
        cells = ["%.3f" % curve[t] if t in curve else "" for t in points]
        print("| %s | %s |" % (name, " | ".join(cells)))

if __name__ == "__main__":
    main()
