#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from the repository's own
specs: each spec of ablations/ (with its base after "#==base==") pointed at the fuzz targets'
small data files, so that fuzzing starts from inputs that reach every stage of validation.
Run from the repository root; the output is committed."""
import os, re, pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "corpus"


def localise(text):
    # Every data source onto the fuzz data: chat records for PROMPT_RESPONSE, stories otherwise.
    def source(m):
        body = m.group(2)
        if "PROMPT_RESPONSE" in body:
            return m.group(1) + '{ path: "chat.jsonl" format: PROMPT_RESPONSE }'
        return m.group(1) + '{ path: "%s" }' % ("val.txt" if m.group(1).startswith("validation") else "train.txt")
    text = re.sub(r'((?:train|validation) )\{([^{}]*path:[^{}]*)\}', source, text)
    return re.sub(r'base: "[^"]*"', 'base: "base.pbtxt"', text)


def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


specs = sorted((ROOT / "ablations").glob("*.pbtxt"))
for p in specs:
    text = p.read_text()
    m = re.search(r'^base: "([^"]*)"', text, re.M)
    seed = localise(text)
    if m:
        base = (ROOT / "ablations" / m.group(1)).read_text()
        # The base's own base (a chain of three) is dropped: the fuzz target has two files.
        base = re.sub(r'^base: "[^"]*"\n', "", base, flags=re.M)
        seed += "\n#==base==\n" + localise(base)
    write("spec", p.stem, seed)

# Overrides: one path=value per line.
for i, lines in enumerate([
        ["stages[0].tokens=2048", "model.d_model=32"],
        ["stages[1].optimizer.lr=1e-3", "eval.max_tokens=64", "seeds=1,2,3"],
        ["model.block.layer[0].residual.mixer.attention.heads=4", "runtime.threads=1"],
        ["stages[0].loss_weighting[0].[tinylm.plugins.word_boost].beta=2", "data.train[0].format=BLANK_LINES"],
        ["tokenizer.bytes.end_of_text_byte=10", "model.tie_embeddings=false"]]):
    write("override", "seed%d" % i, "\n".join(lines) + "\n")

# Data files: a format byte (format % 5, field/separator flags), then the file.
stories = "Once upon a time, Lily found a ball.\n<|endoftext|>\nBen had a red kite. He was happy.\n"
write("data", "text_eot", b"\x00" + stories.encode())
write("data", "blank_lines", b"\x01" + b"Once upon a time.\n\nBen had a kite.\n\n\nThe end.\n")
write("data", "json_array", b"\x02" + b'["Once upon a time.", "Ben had a kite \\u00e9 \\n"]')
write("data", "json_array_field", b"\x0a" + b'{"texts": ["Once upon a time.", "Ben had a kite."]}')
write("data", "jsonl", b"\x03" + b'{"text": "Once upon a time."}\n{"text": "Ben \\"had\\" a kite."}\n')
write("data", "prompt_response", b"\x04" + b'{"prompt": "Tell a story.", "response": "Ben had a kite."}\n')
write("data", "prompt_response_split", b"\x14" + b'{"text": "A fox.<|story|>The fox was kind."}\n')
write("data", "prompt_response_fable", b"\x24" + b'{"prompt": "A fox.", "fable": "The fox was kind."}\n')

# Tokenizers: a choice byte, training documents, "#==text==", text to encode.
for i in range(5):
    write("tokenizer", "tokenizer%d" % i, bytes([i]) + (stories * 4 + "\n\nThe cat sat on the mat.\n#==text==\n"
                                                       "Once upon a time, Mia found a cake. é 🙂 <|endoftext|>").encode())

# Tokenizer states and model files are made by the targets themselves from valid objects
# (model_file modes 1-5); a few raw starting points:
write("tokenizer_state", "bytes", "bytes -1\n<|endoftext|>\n<|user|>")
write("model_file", "raw", b"\x00TLMCKPT1")
for mode in range(1, 6):
    write("model_file", "mode%d" % mode, bytes([mode]) + b"\x10\x00\x41")

# Token cache files: valid ones at each width (the fuzzer reads the key from offset 16).
import struct


def token_cache(width, val, train, group=1):
    fmt = {1: "B", 2: "H", 4: "i"}[width]
    body, offsets = b"", []
    pos = 128
    for ids in (val, train):
        pad = (-pos) % 64
        body += b"\0" * pad
        pos += pad
        offsets.append(pos)
        chunk = struct.pack("<%d%s" % (len(ids), fmt), *ids)
        body += chunk
        pos += len(chunk)
    header = b"TLMTOKS1" + struct.pack("<IIQq", 1, width, 0x1234, group)
    header += struct.pack("<2q2q2q2qq", offsets[0], offsets[1], len(val), len(train), 5, 40, 1, 3, 0)
    return header + b"\0" * (128 - len(header)) + body


write("token_cache", "width1", token_cache(1, [1, 2, 0], list(range(200))))
write("token_cache", "width2", token_cache(2, [299, 0], [i % 300 for i in range(0, 3000, 7)]))
write("token_cache", "width4", token_cache(4, [5], [7] * 100))
write("token_cache", "grouped", token_cache(2, [1, 2, 3, 4], list(range(64)), group=4))

# Plugin configs: the extension's short name, then a body as the repository's specs write it.
for name, body in [
        ("hybrid", "vocab_size: 300"),
        ("sentencepiece", "vocab_size: 200 model_type: BPE"),
        ("byte_chunks", "chunk_bytes: 4"),
        ("byte_pool_encoder", "byte_dim: 8 heads: 2 pooling: MEAN_ALL_SLOTS block { out: 16 ffn: 16 } block { out: 16 ffn: 32 }"),
        ("byte_pool_decoder", "byte_dim: 8 heads: 2 blocks: 1 ffn: 16 position: TWICE_X_PLUS_P"),
        ("hypermixing", "hidden: 8 dropout: 0.1"),
        ("micromixer_rope", "quirky: true"),
        ("bitlinear", ""),
        ("delta_block", "memory: MEAN delta: true option: B glorot_init: true"),
        ("records", "length: 17"),
        ("word_boost", "beta: 1.0"),
        ("response_start", "gamma: 1.0 k: 16 decay: LINEAR"),
        ("pretrain_replay", "fraction: 0.5")]:
    write("plugin_config", name, name + "\n" + body + "\n")
