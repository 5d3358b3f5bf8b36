#!/usr/bin/python3
"""tinylm against PyTorch on every seed system, in one command and one run:

    /usr/bin/python3 tools/bench_systems.py [--build build] [--steps 8] [--only transformer_1m,delta_lm_1m]

For each seed-system spec it runs tinylm's spec benchmark of a training step (build/bench/
tinylm_spec_bench, the spec's own batch, sequence length and data) and then the same model in
PyTorch (the reference definitions of tools/make_goldens.py, which the parity goldens check
against tinylm, run in float32 and under bfloat16 autocast): AdamW, gradient clipping, random
byte or token ids. One process at a time, so the two never compete for the cores. Prints
tokens/s of each — tinylm in fp32 and in bf16 mixed precision (runtime.precision BF16) — and
the ratios fp32 to fp32 and bf16 to bf16 autocast.

PyTorch: Debian's python3-torch with torch.set_num_threads(2); fp32 needs libopenblas0-openmp.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import make_goldens as mg  # noqa: E402  (sets float64 as default dtype: undone below)

torch.set_default_dtype(torch.float32)
torch.set_num_threads(2)


def transformer(vocab, d, layers, heads, ffn, eps, qk_norm):
    cfg = mg.Cfg(vocab=vocab, d=d, layers=layers, heads=heads, ffn=ffn, eps=eps)
    return mg.param_shapes(cfg, qk_norm), (lambda P, ids: mg.forward(P, ids, cfg, qk_norm)), vocab


def bitnet(vocab):
    cfg = mg.Cfg(vocab=vocab)
    return mg.param_shapes(cfg, False), (lambda P, ids: mg.bitnet_forward(P, ids, cfg)), vocab


# spec name -> (parameter shapes, forward, vocabulary), as the spec files define the systems.
SYSTEMS = {
    "transformer_1m": lambda: transformer(256, 128, 5, 4, 336, 1e-6, True),
    "tmlm_haiku": lambda: transformer(2111, 160, 6, 4, 128, 1e-6, True),
    "micromixer_1m": lambda: (mg.micromixer_shapes(), mg.micromixer_forward, 256),
    "delta_lm_284k": lambda: (mg.delta_shapes(d=64), mg.delta_forward, 256),
    "delta_lm_1m": lambda: (mg.delta_shapes(d=128), mg.delta_forward, 256),
    "tiny_tiny_stories": lambda: bitnet(192),
}


def stage_shapes(build, spec):
    """(batch, seq) of the spec's first stage, from `ablate --dry-run`."""
    out = subprocess.run([os.path.join(build, "tools", "ablate"), spec, "--dry-run"], check=True,
                         capture_output=True, text=True).stdout
    m = re.search(r"stage \S+: \d+ steps x (\d+) x (\d+) tokens", out)
    return int(m.group(1)), int(m.group(2))


def tinylm_tokens_per_sec(build, spec, name, min_time, precision="FP32"):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([os.path.join(build, "bench", "tinylm_spec_bench"), spec, "--no-parts",
                        "--set=runtime.precision=" + precision,
                        "--benchmark_filter=^%s/train_step" % re.escape(name), "--benchmark_min_time=%g" % min_time,
                        "--benchmark_out=" + f.name, "--benchmark_out_format=json"],
                       check=True, capture_output=True, text=True)
        runs = json.load(open(f.name))["benchmarks"]
    return runs[0]["tokens/s"], runs[0].get("matmul_peak_%", float("nan"))


def torch_tokens_per_sec(system, batch, seq, steps, bf16):
    shapes, forward, vocab = SYSTEMS[system]()
    gen = torch.Generator().manual_seed(1)
    P = {}
    for n, s in shapes.items():
        if len(s) == 2:
            P[n] = (torch.randn(s, generator=gen) * 0.02).requires_grad_(True)
        else:  # norms, biases, scalar gates
            P[n] = (torch.ones(s) if n.endswith("norm.weight") or "gamma" in n else torch.zeros(s)).requires_grad_(True)
    decay = [P[n] for n in shapes if len(shapes[n]) == 2]
    rest = [P[n] for n in shapes if len(shapes[n]) != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=1e-3)
    ids = torch.randint(0, vocab, (batch, seq + 1), generator=gen)
    x, y = ids[:, :-1], ids[:, 1:]
    times = []
    for step in range(steps + 2):  # two warm-up steps
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = forward(P, x)
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, vocab), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), 1.0)
        opt.step()
        if step >= 2:
            times.append(time.perf_counter() - t0)
    times.sort()
    return batch * seq / times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--steps", type=int, default=8, help="timed PyTorch steps (median)")
    ap.add_argument("--min-time", type=float, default=3.0, help="tinylm benchmark time per spec (s)")
    ap.add_argument("--only", default="", help="comma-separated spec names")
    a = ap.parse_args()
    names = [n for n in SYSTEMS if not a.only or n in a.only.split(",")]
    print("torch %s, %d threads; tinylm: %s" % (torch.__version__, torch.get_num_threads(), a.build))
    header = "%-18s %9s %7s %11s %11s %11s %11s %8s %8s" % ("spec", "batch", "peak%", "tinylm fp32", "tinylm bf16",
                                                             "torch fp32", "torch bf16", "fp32/fp32", "bf16/bf16")
    print(header)
    for n in names:
        spec = os.path.join(ROOT, "ablations", n + ".pbtxt")
        batch, seq = stage_shapes(a.build, spec)
        ours, peak = tinylm_tokens_per_sec(a.build, spec, n, a.min_time)
        ours16, _ = tinylm_tokens_per_sec(a.build, spec, n, a.min_time, "BF16")
        fp32 = torch_tokens_per_sec(n, batch, seq, a.steps, False)
        bf16 = torch_tokens_per_sec(n, batch, seq, a.steps, True)
        print("%-18s %9s %6.1f%% %11.0f %11.0f %11.0f %11.0f %8.2fx %8.2fx" % (
            n, "%dx%d" % (batch, seq), peak, ours, ours16, fp32, bf16, ours / fp32, ours16 / bf16), flush=True)


if __name__ == "__main__":
    main()
