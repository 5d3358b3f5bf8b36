#!/usr/bin/python3
"""PyTorch reference speed for the same training step tinylm benchmarks
(bench/layers_bench.cc BM_TrainStep_Transformer1M): the 1,006,976-parameter byte transformer
(d 128, 5 layers, 4 heads, SwiGLU 336, RMSNorm, RoPE, tied), batch 32 x 256, AdamW, clip 1.0.

    /usr/bin/python3 tools/bench_torch.py [--qk-norm] [--steps 10] [--bf16]
    /usr/bin/python3 tools/bench_torch.py --generate

Uses torch.set_num_threads(2), fp32 (or bf16 autocast). Prints tokens/s. --generate times
naive batch-1 generation instead (bench BM_Generate_Transformer1M): a one-token prompt, then
255 sampled tokens, each a full forward of the sequence so far (no KV cache), in no_grad.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.w, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Block(nn.Module):
    def __init__(self, d, heads, ffn, qk_norm):
        super().__init__()
        self.h, self.hd = heads, d // heads
        self.n1, self.n2 = RMSNorm(d), RMSNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d, bias=False)
        self.gate_up = nn.Linear(d, 2 * ffn, bias=False)
        self.down = nn.Linear(ffn, d, bias=False)
        self.qn = RMSNorm(self.hd) if qk_norm else None
        self.kn = RMSNorm(self.hd) if qk_norm else None
        self.ffn = ffn

    def forward(self, x, cos, sin, mask):
        B, T, D = x.shape
        q, k, v = self.qkv(self.n1(x)).split(D, -1)
        q, k, v = (t.view(B, T, self.h, self.hd).transpose(1, 2) for t in (q, k, v))
        if self.qn is not None:
            q, k = self.qn(q), self.kn(k)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        att = (q @ k.transpose(-1, -2)) * self.hd ** -0.5
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(B, T, D))
        g, u = self.gate_up(self.n2(x)).split(self.ffn, -1)
        return x + self.down(F.silu(g) * u)


class Model(nn.Module):
    def __init__(self, qk_norm, V=256, d=128, L=5, H=4, ffn=336, T=256):
        super().__init__()
        self.emb = nn.Embedding(V, d)
        self.blocks = nn.ModuleList(Block(d, H, ffn, qk_norm) for _ in range(L))
        self.norm = RMSNorm(d)
        hd = d // H
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.arange(T).float()[:, None] * inv[None, :]
        self.register_buffer("cos", ang.cos())
        self.register_buffer("sin", ang.sin())
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), 1))

    def forward(self, ids):
        T = ids.shape[1]
        x = self.emb(ids)
        for b in self.blocks:
            x = b(x, self.cos[:T], self.sin[:T], self.mask[:T, :T])
        return self.norm(x) @ self.emb.weight.t()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qk-norm", action="store_true")
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--generate", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(0)
    m = Model(a.qk_norm)
    n = sum(p.numel() for p in m.parameters())
    if a.generate:
        return generate(m, n)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    ids = torch.randint(0, 256, (32, 256))

    def step():
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
            loss = F.cross_entropy(m(ids).float().view(-1, 256), ids.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()

    step()  # warm-up
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = (time.perf_counter() - t) / a.steps
    print("torch %s %s: %d params, %.1f ms/step, %.0f tokens/s"
          % (torch.__version__, "bf16" if a.bf16 else "fp32", n, dt * 1e3, 32 * 256 / dt))


def generate(m, n):
    m.eval()
    with torch.no_grad():
        ids = torch.tensor([[ord("T")]])
        t = time.perf_counter()
        while ids.shape[1] < 256:
            probs = (m(ids)[:, -1] / 0.8).softmax(-1)
            ids = torch.cat([ids, torch.multinomial(probs, 1)], dim=1)
        dt = time.perf_counter() - t
    print("torch %s fp32 naive generation: %d params, %.0f tokens/s" % (torch.__version__, n, 255 / dt))


if __name__ == "__main__":
    main()
