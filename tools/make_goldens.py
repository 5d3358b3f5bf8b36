#!/usr/bin/python3
"""PyTorch parity goldens (run with Debian's torch):

    /usr/bin/python3 tools/make_goldens.py            # writes tests/goldens/*.bin

The models are written here from their definitions, independently of the C++ code:
- transformer_1m: d_model 128, 5 layers, 4 heads, SwiGLU 336, RMSNorm (eps 1e-5), rotate-half
  RoPE (base 10000), tied embeddings, vocab 256 = 1,006,976 parameters; and with per-head QK
  RMSNorm (1,007,296);
- tmlm_haiku: d_model 160, 6 layers, 4 heads (head dim 40), QK-norm, SwiGLU hidden 128,
  RMSNorm eps 1e-6, tied embeddings, vocab 2,111 = 1,323,360 parameters
  (ablations/tmlm_haiku.pbtxt; the test builds its model from that file);
- micromixer_1m: MicroMixer-1 exactly as seed_systems.md section 5 defines it (H 224, C 576,
  3 layers, h 64, quirky embedding RoPE, LayerNorm, tied) = 967,584 parameters, dropout off;
- delta_lm_284k: the delta LM (seed_systems.md section 2, option A: running-mean memory, delta
  on), d 64, 8 blocks, tied = 284,184 parameters;
- tiny_tiny_stories: the 1M transformer shape with every attention and SwiGLU matrix a b1.58
  BitLinear as the official FAQ code writes it (parameter-free RMSNorm, per-token 8-bit absmax
  activations, per-matrix ternary absmean weights, straight-through via .detach()), no
  QK-norm, vocab 192 = 998,784 parameters.
Computation is float64, so the goldens carry no fp32 error of their own.

Parameters are initialised by a counter-based generator that the C++ test reproduces bit for
bit (tests/golden_test.cc: GoldenInit), so the files need not store them:
    u = (CounterBits(seed, fnv1a(name), i) >> 40) / 2^24,  value = scale * (2u - 1) (+1 for norms)
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_format  # noqa: E402

torch.set_num_threads(2)
torch.set_default_dtype(torch.float64)

MASK = (1 << 64) - 1
U = np.uint64


def mix64(z):
    z = (z ^ (z >> U(30))) * U(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> U(27))) * U(0x94D049BB133111EB)
    return z ^ (z >> U(31))


def mix64_int(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def fnv1a(s):
    h = 1469598103934665603
    for c in s.encode():
        h = ((h ^ c) * 1099511628211) & MASK
    return h


def counter_uniform(seed, stream, n):
    base = mix64_int(seed ^ ((stream * 0x9E3779B97F4A7C15) & MASK))
    with np.errstate(over="ignore"):
        ctr = np.arange(n, dtype=U) * U(0xD1B54A32D192ED03) + U(base)
        bits = mix64(ctr)
    return (bits >> U(40)).astype(np.float64) * (1.0 / 16777216.0)


def golden_init(name, shape, seed):
    """Must match GoldenInit in tests/golden_test.cc."""
    n = int(np.prod(shape))
    u = (2.0 * counter_uniform(seed, fnv1a(name), n) - 1.0).astype(np.float32)
    if name == "embed.weight":
        v = np.float32(0.1) * u
    elif len(shape) == 2:
        v = np.float32(1.0 / np.sqrt(shape[1])) * u
    elif name.endswith(".bias"):
        v = np.float32(0.1) * u
    else:  # norm weights
        v = np.float32(1.0) + np.float32(0.1) * u
    return torch.from_numpy(v.astype(np.float32).reshape(shape)).to(torch.float64)


class Cfg:
    def __init__(self, vocab=256, d=128, layers=5, heads=4, ffn=336, eps=1e-5, base=10000.0):
        self.vocab, self.d, self.layers, self.heads, self.ffn, self.eps, self.base = vocab, d, layers, heads, ffn, eps, base


def table_dtype(x):
    """Position tables in float64 for the goldens, float32 when tools/bench_systems.py runs
    these models in float32 or bfloat16 autocast."""
    return torch.promote_types(x.dtype, torch.float32)


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, base):  # x [B, H, T, hd], rotate-half
    hd = x.shape[-1]
    half = hd // 2
    dt = table_dtype(x)
    inv = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=dt) / hd))
    ang = torch.arange(x.shape[2], dtype=dt)[:, None] * inv[None, :]
    c, s = ang.cos(), ang.sin()
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


def param_shapes(cfg, qk_norm):
    hd = cfg.d // cfg.heads
    shapes = {"embed.weight": (cfg.vocab, cfg.d)}
    for i in range(cfg.layers):
        p = "blocks.%d." % i
        shapes[p + "0.norm.weight"] = (cfg.d,)
        shapes[p + "0.attention.qkv.weight"] = (3 * cfg.d, cfg.d)
        if qk_norm:
            shapes[p + "0.attention.q_norm.weight"] = (hd,)
            shapes[p + "0.attention.k_norm.weight"] = (hd,)
        shapes[p + "0.attention.proj.weight"] = (cfg.d, cfg.d)
        shapes[p + "1.norm.weight"] = (cfg.d,)
        shapes[p + "1.swiglu.gate_up.weight"] = (2 * cfg.ffn, cfg.d)
        shapes[p + "1.swiglu.down.weight"] = (cfg.d, cfg.ffn)
    shapes["final_norm.weight"] = (cfg.d,)
    return shapes


def forward(P, ids, cfg, qk_norm):
    B, T = ids.shape
    H, hd = cfg.heads, cfg.d // cfg.heads
    x = P["embed.weight"][ids]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for i in range(cfg.layers):
        p = "blocks.%d." % i
        h = rmsnorm(x, P[p + "0.norm.weight"], cfg.eps)
        qkv = h @ P[p + "0.attention.qkv.weight"].t()
        q, k, v = qkv.split(cfg.d, dim=-1)
        q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v))
        if qk_norm:
            q = rmsnorm(q, P[p + "0.attention.q_norm.weight"], cfg.eps)
            k = rmsnorm(k, P[p + "0.attention.k_norm.weight"], cfg.eps)
        q, k = rope(q, cfg.base), rope(k, cfg.base)
        att = (q @ k.transpose(-1, -2)) / np.sqrt(hd)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, cfg.d)
        x = x + o @ P[p + "0.attention.proj.weight"].t()
        h = rmsnorm(x, P[p + "1.norm.weight"], cfg.eps)
        gu = h @ P[p + "1.swiglu.gate_up.weight"].t()
        g, u = gu.split(cfg.ffn, dim=-1)
        x = x + (torch.nn.functional.silu(g) * u) @ P[p + "1.swiglu.down.weight"].t()
    x = rmsnorm(x, P["final_norm.weight"], cfg.eps)
    return x @ P["embed.weight"].t()


def act_quant(x):
    s = 127.0 / x.abs().max(dim=-1, keepdim=True).values.clamp(min=1e-5)
    return (x * s).round().clamp(-128, 127) / s


def weight_quant(w):
    s = 1.0 / w.abs().mean().clamp(min=1e-5)
    return (w * s).round().clamp(-1, 1) / s


def bitlinear(x, w, parts, eps=1e-5):
    """b1.58 BitLinear; `parts`: row counts of the separate matrices fused in w."""
    xn = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    xq = xn + (act_quant(xn) - xn).detach()
    wq = w + (torch.cat([weight_quant(m) for m in w.split(parts, 0)], 0) - w).detach()
    return xq @ wq.t()


def bitnet_forward(P, ids, cfg):
    B, T = ids.shape
    H, hd, d = cfg.heads, cfg.d // cfg.heads, cfg.d
    x = P["embed.weight"][ids]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for i in range(cfg.layers):
        p = "blocks.%d." % i
        h = rmsnorm(x, P[p + "0.norm.weight"], cfg.eps)
        q, k, v = bitlinear(h, P[p + "0.attention.qkv.weight"], [d, d, d]).split(d, dim=-1)
        q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v))
        q, k = rope(q, cfg.base), rope(k, cfg.base)
        att = ((q @ k.transpose(-1, -2)) / np.sqrt(hd)).masked_fill(mask, float("-inf")).softmax(-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + bitlinear(o, P[p + "0.attention.proj.weight"], [d])
        h = rmsnorm(x, P[p + "1.norm.weight"], cfg.eps)
        g, u = bitlinear(h, P[p + "1.swiglu.gate_up.weight"], [cfg.ffn, cfg.ffn]).split(cfg.ffn, dim=-1)
        x = x + bitlinear(torch.nn.functional.silu(g) * u, P[p + "1.swiglu.down.weight"], [d])
    x = rmsnorm(x, P["final_norm.weight"], cfg.eps)
    return x @ P["embed.weight"].t()


# Optimiser settings shared with tests/golden_test.cc.
LR, MIN_LR, WARMUP, STEPS = 1e-3, 1e-4, 3, 10
BETAS, EPS, WD, CLIP = (0.9, 0.95), 1e-8, 0.1, 1.0


def scheduled_lr(step):
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    prog = (step - WARMUP) / (STEPS - WARMUP)
    return MIN_LR + 0.5 * (LR - MIN_LR) * (1 + np.cos(np.pi * prog))


def micromixer_shapes(H=224, C=576, L=3, h=64, V=256):
    shapes = {"embed.weight": (V, H)}
    for i in range(L):
        p = "blocks.%d." % i
        shapes[p + "0.norm.weight"] = (H,)
        shapes[p + "0.norm.bias"] = (H,)
        shapes[p + "0.hypermixing.fc1.weight"] = (h, H)
        shapes[p + "0.hypermixing.fc1.bias"] = (h,)
        shapes[p + "0.hypermixing.fc2.weight"] = (2 * H, h)
        shapes[p + "0.hypermixing.fc2.bias"] = (2 * H,)
        shapes[p + "1.norm.weight"] = (H,)
        shapes[p + "1.norm.bias"] = (H,)
        shapes[p + "1.gelu_mlp.fc1.weight"] = (C, H)
        shapes[p + "1.gelu_mlp.fc1.bias"] = (C,)
        shapes[p + "1.gelu_mlp.fc2.weight"] = (H, C)
        shapes[p + "1.gelu_mlp.fc2.bias"] = (H,)
    shapes["final_norm.weight"] = (H,)
    shapes["final_norm.bias"] = (H,)
    return shapes


def micromixer_rope(x, base=10000.0):
    """MicroMixer's published convention: frequency table [f, f] over the width, partner interleaved."""
    T, H = x.shape[1], x.shape[2]
    dt = table_dtype(x)
    inv = base ** (-2.0 * torch.arange(H // 2, dtype=dt) / H)
    freqs = torch.cat([inv, inv])
    ang = torch.arange(T, dtype=dt)[:, None] * freqs[None, :]
    r = torch.empty_like(x)
    r[..., 0::2] = -x[..., 1::2]
    r[..., 1::2] = x[..., 0::2]
    return x * ang.cos() + r * ang.sin()


def micromixer_forward(P, ids, L=3):
    """MicroMixer-1 from seed_systems.md section 5 (dropout off for parity)."""
    ln = torch.nn.functional.layer_norm
    gelu = torch.nn.functional.gelu  # exact (erf)
    x = micromixer_rope(P["embed.weight"][ids])
    H = x.shape[-1]
    T = x.shape[1]
    for i in range(L):
        p = "blocks.%d." % i
        u = ln(x, (H,), P[p + "0.norm.weight"], P[p + "0.norm.bias"], 1e-5)
        mean = u.cumsum(1) / torch.arange(1, T + 1, dtype=table_dtype(u))[None, :, None]
        z = gelu(mean @ P[p + "0.hypermixing.fc1.weight"].t() + P[p + "0.hypermixing.fc1.bias"])
        z = z @ P[p + "0.hypermixing.fc2.weight"].t() + P[p + "0.hypermixing.fc2.bias"]
        x = x + u * z[..., :H] + z[..., H:]
        v = ln(x, (H,), P[p + "1.norm.weight"], P[p + "1.norm.bias"], 1e-5)
        hdn = gelu(v @ P[p + "1.gelu_mlp.fc1.weight"].t() + P[p + "1.gelu_mlp.fc1.bias"])
        x = x + hdn @ P[p + "1.gelu_mlp.fc2.weight"].t() + P[p + "1.gelu_mlp.fc2.bias"]
    x = ln(x, (H,), P["final_norm.weight"], P["final_norm.bias"], 1e-5)
    return x @ P["embed.weight"].t()


def delta_shapes(d=64, blocks=8, V=256):
    shapes = {"embed.weight": (V, d)}
    for i in range(blocks):
        p = "blocks.%d.0." % i
        shapes[p + "ln1.weight"] = (d,)
        shapes[p + "ln1.bias"] = (d,)
        shapes[p + "qkv.weight"] = (3 * d, d)
        shapes[p + "qkv.bias"] = (3 * d,)
        shapes[p + "out.weight"] = (d, d)
        shapes[p + "out.bias"] = (d,)
        shapes[p + "ln2.weight"] = (d,)
        shapes[p + "ln2.bias"] = (d,)
        shapes[p + "ffn.fc1.weight"] = (2 * d, d)
        shapes[p + "ffn.fc1.bias"] = (2 * d,)
        shapes[p + "ffn.fc2.weight"] = (d, 2 * d)
        shapes[p + "ffn.fc2.bias"] = (d,)
        shapes[p + "alpha"] = (1,)
        shapes[p + "gamma1"] = (1,)
        shapes[p + "gamma2"] = (1,)
    return shapes


def delta_forward(P, ids, blocks=8):
    """The delta LM block, seed_systems.md section 2 option A (running-mean memory, delta on)."""
    ln = torch.nn.functional.layer_norm
    gelu = torch.nn.functional.gelu
    x = P["embed.weight"][ids]
    d, T = x.shape[-1], x.shape[1]
    for i in range(blocks):
        p = "blocks.%d.0." % i
        h = ln(x, (d,), P[p + "ln1.weight"], P[p + "ln1.bias"], 1e-5)
        q, k, v = (h @ P[p + "qkv.weight"].t() + P[p + "qkv.bias"]).split(d, -1)
        kv = k * v
        C = kv.cumsum(1) / torch.arange(1, T + 1, dtype=table_dtype(kv))[None, :, None]
        Cprev = torch.cat([torch.zeros_like(C[:, :1]), C[:, :-1]], dim=1)
        r = torch.sigmoid(q) * (C + P[p + "alpha"] * (kv - Cprev))
        x = x + P[p + "gamma1"] * (r @ P[p + "out.weight"].t() + P[p + "out.bias"])
        f = gelu(ln(x, (d,), P[p + "ln2.weight"], P[p + "ln2.bias"], 1e-5) @ P[p + "ffn.fc1.weight"].t() + P[p + "ffn.fc1.bias"])
        x = x + P[p + "gamma2"] * (f @ P[p + "ffn.fc2.weight"].t() + P[p + "ffn.fc2.bias"])
    return x @ P["embed.weight"].t()


def make(path, qk_norm, cfg=None, seed=1234, B=2, T=32, shapes=None, forward_fn=None):
    cfg = cfg or Cfg()
    shapes = shapes or param_shapes(cfg, qk_norm)
    forward_fn = forward_fn or (lambda P, ids: forward(P, ids, cfg, qk_norm))
    P = {n: golden_init(n, s, seed).requires_grad_(True) for n, s in shapes.items()}
    count = sum(int(np.prod(s)) for s in shapes.values())
    print("%s: %d parameters" % (path, count))
    # Byte-level data: a fixed English text so targets look like real next-byte prediction.
    text = (b"Once upon a time, there was a little fox who loved to look at the stars. "
            b"One night, the fox saw a shooting star and made a wish to fly. ")
    data = np.frombuffer(text * 4, dtype=np.uint8).astype(np.int64)
    if cfg.vocab != 256:  # not bytes: spread the ids over the whole vocabulary, deterministically
        data = (data * 131 + np.arange(len(data)) * 17) % cfg.vocab
    ids = torch.from_numpy(np.stack([data[b * 37: b * 37 + T] for b in range(B)]))
    tgt = torch.from_numpy(np.stack([data[b * 37 + 1: b * 37 + T + 1] for b in range(B)]))
    logits = forward_fn(P, ids)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab), tgt.reshape(-1))
    loss.backward()
    out = {"inputs": ids.numpy(), "targets": tgt.numpy(),
           "logits": logits.detach().numpy(), "loss": np.array([loss.item()])}
    for n in shapes:
        out["grad/" + n] = P[n].grad.detach().clone().numpy()  # copy: later steps reuse .grad

    decay = [P[n] for n in shapes if len(shapes[n]) == 2]
    no_decay = [P[n] for n in shapes if len(shapes[n]) != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    losses = []
    for step in range(STEPS):
        for g in opt.param_groups:
            g["lr"] = scheduled_lr(step)
        opt.zero_grad()
        l = torch.nn.functional.cross_entropy(forward_fn(P, ids).reshape(-1, cfg.vocab), tgt.reshape(-1))
        l.backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), CLIP)
        opt.step()
        with torch.no_grad():
            losses.append(torch.nn.functional.cross_entropy(
                forward_fn(P, ids).reshape(-1, cfg.vocab), tgt.reshape(-1)).item())
    out["losses_after_step"] = np.array(losses)
    print("  loss %.6f, after 10 AdamW steps %.6f" % (loss.item(), losses[-1]))
    golden_format.write(path, out)


# ---- STLM byte pooling (ablations/stlm_byte_pool_1m.pbtxt), written after upstream's modules:
# models/experimental/byte_level/{layers,embedding_model,model_heads,byte_model_shell}.py and
# models/components/layers/{attention,transformer_blocks,feedforward}.py at 8d498b6.
BP = dict(C=12, V=258, bd=32, H=128, enc=[(64, 128), (64, 256), (64, 256), (128, 256)], dec_blocks=2,
          dec_ffn=128, byte_heads=4, L=4, heads=4, kv=2, ffn=352, eps=1e-6)
PAD, EOT = 256, 257


def byte_block_shapes(prefix, i, d_in, d_out, ffn):
    b = "%s.transformer.%d." % (prefix, i)
    return {b + "attn_norm.weight": (d_in,), b + "attn.c_attn.weight": (3 * d_in, d_in),
            b + "attn.c_proj.weight": (d_in, d_in), b + "ffn_norm.weight": (d_in,),
            b + "ffn.linear_1.weight": (ffn, d_in), b + "ffn.linear_2.weight": (d_out, ffn)}


def byte_pool_shapes(c=BP):
    s = {"embed.byte_token_embedder.weight": (c["V"], c["bd"]), "embed.pos_encoder.pe.weight": (c["C"], c["bd"])}
    d_in = c["bd"]
    for i, (out, ffn) in enumerate(c["enc"]):
        s.update(byte_block_shapes("embed", i, d_in, out, ffn))
        d_in = out
    H, hd = c["H"], c["H"] // c["heads"]
    for i in range(c["L"]):
        p = "blocks.%d." % i
        s[p + "0.norm.weight"] = (H,)
        s[p + "0.attention.qkv.weight"] = (H + 2 * c["kv"] * hd, H)
        s[p + "0.attention.proj.weight"] = (H, H)
        s[p + "1.norm.weight"] = (H,)
        s[p + "1.swiglu.gate_up.weight"] = (2 * c["ffn"], H)
        s[p + "1.swiglu.down.weight"] = (H, c["ffn"])
    s["head.projection.weight"] = (c["C"] * c["bd"], H)
    s["head.pos_encoder.pe.weight"] = (c["C"], c["bd"])
    for i in range(c["dec_blocks"]):
        s.update(byte_block_shapes("head", i, c["bd"], c["bd"], c["dec_ffn"]))
    s["head.lm_head.weight"] = (c["V"], c["bd"])
    return s


def sdpa(q, k, v, is_causal):
    """torch's scaled_dot_product_attention (not in Debian's torch 1.13), without dropout."""
    a = (q @ k.transpose(-2, -1)) / np.sqrt(q.shape[-1])
    if is_causal:
        T = q.shape[-2]
        a = a.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    return a.softmax(-1) @ v


def byte_level_block(P, b, x, heads, eps):
    """ByteLevelTransformerBlock: x = x + attn(attn_norm(x)); x = ffn(ffn_norm(x)) (no FFN residual)."""
    N, S, D = x.shape
    h = rmsnorm(x, P[b + "attn_norm.weight"], eps)
    q, k, v = (h @ P[b + "attn.c_attn.weight"].t()).split([D, D, D], dim=-1)
    q, k, v = (t.view(N, S, heads, D // heads).transpose(1, 2) for t in (q, k, v))
    y = sdpa(q, k, v, is_causal=False)
    x = x + y.transpose(1, 2).reshape(N, S, D) @ P[b + "attn.c_proj.weight"].t()
    f = rmsnorm(x, P[b + "ffn_norm.weight"], eps)
    return torch.nn.functional.gelu(f @ P[b + "ffn.linear_1.weight"].t()) @ P[b + "ffn.linear_2.weight"].t()


def byte_embedder(P, ids, c=BP):
    """ByteLevelEmbedder.forward: ids (B, S, C) -> mean over all C slots (padding included)."""
    B, S, C = ids.shape
    x = P["embed.byte_token_embedder.weight"][ids].view(B * S, C, -1)
    x = x + P["embed.pos_encoder.pe.weight"][torch.arange(C)].unsqueeze(0)  # LearnedPosEncoding
    for i in range(len(c["enc"])):
        x = byte_level_block(P, "embed.transformer.%d." % i, x, c["byte_heads"], c["eps"])
    return x.mean(dim=-2).view(B, S, -1)


def byte_decoder(P, x, c=BP):
    """ByteLevelDecoder.forward: project to C x bd, x = x + pos(x) (= 2x + P), blocks, lm head."""
    B, S, _ = x.shape
    x = (x @ P["head.projection.weight"].t()).view(B * S, c["C"], c["bd"])
    x = x + (x + P["head.pos_encoder.pe.weight"][torch.arange(c["C"])].unsqueeze(0))
    for i in range(c["dec_blocks"]):
        x = byte_level_block(P, "head.transformer.%d." % i, x, c["byte_heads"], c["eps"])
    return (x @ P["head.lm_head.weight"].t()).view(B, S, c["C"], c["V"])


def adjacent_rope(x, base=10000.0):
    """apply_rotary_emb: (x[2i], x[2i+1]) as a complex number times e^{i t theta_i}; x (B, S, h, hd)."""
    hd = x.shape[-1]
    inv = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=x.dtype)[: hd // 2] / hd))
    ang = torch.arange(x.shape[1], dtype=x.dtype)[:, None] * inv[None, :]
    c, s = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1).flatten(3)


def stlm_core(P, x, c=BP):
    """GenericTransformer: GQA attention (repeat_interleave), RoPE, SwiGLU; no final norm."""
    B, S, H = x.shape
    nh, nkv = c["heads"], c["kv"]
    hd, g = H // nh, nh // nkv
    for i in range(c["L"]):
        p = "blocks.%d." % i
        h = rmsnorm(x, P[p + "0.norm.weight"], c["eps"])
        q, k, v = (h @ P[p + "0.attention.qkv.weight"].t()).split([H, nkv * hd, nkv * hd], dim=-1)
        q, k = adjacent_rope(q.view(B, S, nh, hd)), adjacent_rope(k.view(B, S, nkv, hd))
        v = v.view(B, S, nkv, hd)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2).repeat_interleave(g, 1), v.transpose(1, 2).repeat_interleave(g, 1)
        y = sdpa(q, k, v, is_causal=True)
        x = x + y.transpose(1, 2).reshape(B, S, H) @ P[p + "0.attention.proj.weight"].t()
        h = rmsnorm(x, P[p + "1.norm.weight"], c["eps"])
        gate, up = (h @ P[p + "1.swiglu.gate_up.weight"].t()).split([c["ffn"], c["ffn"]], dim=-1)
        x = x + (torch.nn.functional.silu(gate) * up) @ P[p + "1.swiglu.down.weight"].t()
    return x


def byte_shell(P, X, c=BP):
    """ByteModelShell.forward: (logits, reconstruction loss with ignore_index 257)."""
    e = byte_embedder(P, X, c)
    rec = byte_decoder(P, e, c)
    aux = torch.nn.functional.cross_entropy(rec.reshape(-1, c["V"]), X.reshape(-1), ignore_index=EOT)
    return byte_decoder(P, stlm_core(P, e, c), c), aux


def gpt2_ascii_chunks(text, C=12):
    """GPT-2's pre-tokenizer pattern on ASCII text (re has no \\p{L}), cut into C-byte chunks."""
    import re
    pat = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\s A-Za-z0-9]+|\s+(?!\S)|\s+""")
    chunks = []
    for piece in pat.findall(text):
        b = piece.encode()
        for at in range(0, len(b), C):
            part = list(b[at:at + C])
            chunks.append(part + [PAD] * (C - len(part)))
    return chunks


def make_byte_pool(path, seed=1234, B=2, S=8, c=BP):
    shapes = byte_pool_shapes(c)
    P = {n: golden_init(n, s, seed).requires_grad_(True) for n, s in shapes.items()}
    print("%s: %d parameters" % (path, sum(int(np.prod(s)) for s in shapes.values())))
    stream = (gpt2_ascii_chunks("Once upon a time, a fox looked up.")
              + [[EOT] + [PAD] * (c["C"] - 1)]
              + gpt2_ascii_chunks("It saw an extraordinarily bright star and made a wish."))
    data = torch.tensor(stream)
    X = torch.stack([data[b * 5: b * 5 + S] for b in range(B)])
    Y = torch.stack([data[b * 5 + 1: b * 5 + S + 1] for b in range(B)])
    assert (X == EOT).any() and (Y == EOT).any()

    def losses():
        logits, aux = byte_shell(P, X, c)
        main = torch.nn.functional.cross_entropy(logits.reshape(-1, c["V"]), Y.reshape(-1), ignore_index=EOT)
        return logits, main, aux

    logits, main, aux = losses()
    (main + aux).backward()
    out = {"inputs": X.reshape(B, -1).numpy(), "targets": Y.reshape(B, -1).numpy(),
           "logits": logits.detach().reshape(B, S * c["C"], c["V"]).numpy(),
           "loss": np.array([main.item()]), "reconstruction_loss": np.array([aux.item()])}
    for n in shapes:
        out["grad/" + n] = P[n].grad.detach().clone().numpy()
    decay = [P[n] for n in shapes if len(shapes[n]) == 2]
    no_decay = [P[n] for n in shapes if len(shapes[n]) != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    after = []
    for step in range(STEPS):
        for g in opt.param_groups:
            g["lr"] = scheduled_lr(step)
        opt.zero_grad()
        _, m, a = losses()
        (m + a).backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), CLIP)
        opt.step()
        with torch.no_grad():
            after.append(losses()[1].item())
    out["losses_after_step"] = np.array(after)
    print("  loss %.6f, reconstruction %.6f, after 10 AdamW steps %.6f" % (main.item(), aux.item(), after[-1]))
    golden_format.write(path, out)


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    d = os.path.join(here, "..", "tests", "goldens")
    os.makedirs(d, exist_ok=True)
    make(os.path.join(d, "transformer_1m.bin"), qk_norm=False)
    make(os.path.join(d, "transformer_1m_qknorm.bin"), qk_norm=True)
    make(os.path.join(d, "tmlm_haiku.bin"), qk_norm=True, cfg=Cfg(vocab=2111, d=160, layers=6, heads=4, ffn=128, eps=1e-6))
    make(os.path.join(d, "micromixer_1m.bin"), qk_norm=False, shapes=micromixer_shapes(), forward_fn=micromixer_forward)
    make(os.path.join(d, "delta_lm_284k.bin"), qk_norm=False, shapes=delta_shapes(), forward_fn=delta_forward)
    tts = Cfg(vocab=192)
    make(os.path.join(d, "tiny_tiny_stories.bin"), qk_norm=False, cfg=tts,
         forward_fn=lambda P, ids: bitnet_forward(P, ids, tts))
    make_byte_pool(os.path.join(d, "stlm_byte_pool_1m.bin"))
