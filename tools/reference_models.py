#!/usr/bin/python3
"""The PyTorch reference implementations of the seed systems (written in tools/make_goldens.py
from their definitions, independently of the C++ code), loaded from a tinylm safetensors export:
the file's tensor names and shapes must be exactly the reference's parameters, one to one.

    reference_models.py logits SYSTEM MODEL.safetensors IDS OUT
        IDS: token ids, rows separated by '/', ids by ','. Writes the reference's logits
        (float64 weights from the file's F32) to OUT as a golden file (tools/golden_format.py),
        with fp32_spread: max |logits in float32 - in float64| / max |logits|, the largest over the
        float32 run and float32 runs with the weights moved by 2 ulps.
    reference_models.py perturb SYSTEM IN.safetensors OUT.safetensors
        Writes the weights changed in PyTorch (each scaled by 1 + 0.05 sin(index)), as F32
        without tinylm metadata: weights that come from elsewhere, for tinylm's import.

SYSTEM: transformer_1m, tmlm_haiku, micromixer_1m, delta_lm_284k, tiny_tiny_stories,
stlm_byte_pool_1m. Vocabulary sizes are read from the file (they follow the trained tokenizer).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_format  # noqa: E402
import make_goldens as ref  # noqa: E402  (float64 by default, 2 threads)
import safetensors_io  # noqa: E402


def transformer(V, **cfg):
    c = ref.Cfg(vocab=V, **{k: v for k, v in cfg.items() if k != "qk_norm"})
    qk = cfg.get("qk_norm", False)
    return ref.param_shapes(c, qk), lambda P, ids: ref.forward(P, ids, c, qk)


def tiny_tiny_stories(V):
    c = ref.Cfg(vocab=V)
    return ref.param_shapes(c, False), lambda P, ids: ref.bitnet_forward(P, ids, c)


def stlm_byte_pool(V):
    c = dict(ref.BP, V=V)

    def forward(P, ids):  # tinylm's rows are S chunks of C bytes, flattened
        B = ids.shape[0]
        logits, _ = ref.byte_shell(P, ids.view(B, -1, c["C"]), c)
        return logits.reshape(B, -1, c["V"])
    return ref.byte_pool_shapes(c), forward


SYSTEMS = {
    "transformer_1m": lambda V: transformer(V),
    "tmlm_haiku": lambda V: transformer(V, d=160, layers=6, heads=4, ffn=128, eps=1e-6, qk_norm=True),
    "micromixer_1m": lambda V: (ref.micromixer_shapes(V=V), ref.micromixer_forward),
    "delta_lm_284k": lambda V: (ref.delta_shapes(V=V), ref.delta_forward),
    "tiny_tiny_stories": tiny_tiny_stories,
    "stlm_byte_pool_1m": stlm_byte_pool,
}


def vocab_of(tensors):
    for name in ("embed.weight", "embed.byte_token_embedder.weight"):
        if name in tensors:
            return tensors[name].shape[0]
    raise SystemExit("no embedding in the file")


def load(system, path):
    """The reference model of `system` with the file's weights: (P, forward)."""
    tensors, _ = safetensors_io.read(path)
    shapes, forward = SYSTEMS[system](vocab_of(tensors))
    missing = sorted(set(shapes) - set(tensors))
    extra = sorted(set(tensors) - set(shapes))
    wrong = sorted(n for n in shapes if n in tensors and tuple(tensors[n].shape) != tuple(shapes[n]))
    if missing or extra or wrong:
        raise SystemExit("%s is not %s's parameters one to one: missing %s, not in the reference %s, shapes differ %s"
                         % (path, system, missing, extra, wrong))
    return {n: t.to(torch.float64) for n, t in tensors.items()}, forward


def main(argv):
    arity = {"logits": 5, "perturb": 4}
    if not argv or arity.get(argv[0]) != len(argv) or argv[1] not in SYSTEMS:
        raise SystemExit(__doc__)
    command, system, path, out = argv[0], argv[1], argv[2], argv[-1]
    P, forward = load(system, path)
    if command == "logits":
        ids = torch.tensor([[int(x) for x in row.split(",")] for row in argv[3].split("/")], dtype=torch.int64)
        with torch.no_grad():
            logits = forward(P, ids)
            # How far the reference itself moves at float32's precision: run in float32, and in
            # float32 with every weight moved by 2 ulps (random sign; three draws), as a different
            # but equally valid float32 summation order moves values. Where ternary or 8-bit
            # rounding boundaries are near (BitNet), a decision flips and an fp32 implementation
            # cannot be closer than that; elsewhere this stays near 1e-7.
            torch.set_default_dtype(torch.float32)
            spread = 0.0
            for draw in range(4):
                P32 = {n: t.to(torch.float32) for n, t in P.items()}
                if draw > 0:
                    g = torch.Generator().manual_seed(draw)
                    P32 = {n: t * (1 + 2.0 ** -22 * (torch.randint(0, 2, t.shape, generator=g) * 2 - 1))
                           for n, t in P32.items()}
                fp32 = forward(P32, ids).to(torch.float64)
                spread = max(spread, ((fp32 - logits).abs().max() / logits.abs().max()).item())
            torch.set_default_dtype(torch.float64)
        golden_format.write(out, {"logits": logits.numpy(), "fp32_spread": np.array([spread])})
        print("%s: %s logits %s from %d tensors; the reference in float32 differs by %.2g" %
              (out, system, tuple(logits.shape), len(P), spread))
    else:
        changed = {}
        for n, t in P.items():
            scale = 1 + 0.05 * torch.sin(torch.arange(t.numel(), dtype=torch.float64)).reshape(t.shape)
            changed[n] = (t * scale).to(torch.float32)
        safetensors_io.write(out, changed, {"format": "pt"})
        print("%s: %d tensors changed in PyTorch" % (out, len(changed)))


if __name__ == "__main__":
    main(sys.argv[1:])
