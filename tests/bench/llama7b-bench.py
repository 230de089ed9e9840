#!/usr/bin/env python3
# Helper of tests/bench/llama7b-bench.sh (see there). Subcommands:
#   make-model DIR TOKDIR  a random Llama in Llama-2-7B's shapes (hidden 4096, intermediate 11008,
#                          32 layers, 32 heads, no GQA, untied lm_head) as bf16 safetensors in
#                          3 shards + model.safetensors.index.json, as the hub shards it; the
#                          tokenizer files of TOKDIR copied (vocab_size is that tokenizer's,
#                          49152 for SmolLM2's, not Llama-2's 32000). Values: N(0, 0.02) for
#                          matrices (windows of one random pool, so writing is disk-bound), 1 for
#                          norms. Written tensor by tensor (memory: the 256 MB pool).
#   make-pack FILE V       .pack (pack(5)) with 2 blocks of T = 512 random tokens below V, one
#                          segment each, every token but the first trained
# Uses numpy and xxhash from /work/venv-ref.
import json
import os
import shutil
import struct
import sys

import numpy as np

H, I, L, NH = 4096, 11008, 32, 32
SHARD_BYTES = 5 * 10**9


def tensors(V):
    yield "model.embed_tokens.weight", (V, H)
    for l in range(L):
        p = f"model.layers.{l}."
        yield p + "input_layernorm.weight", (H,)
        for m in "qkvo":
            yield p + f"self_attn.{m}_proj.weight", (H, H)
        yield p + "post_attention_layernorm.weight", (H,)
        yield p + "mlp.gate_proj.weight", (I, H)
        yield p + "mlp.up_proj.weight", (I, H)
        yield p + "mlp.down_proj.weight", (H, I)
    yield "model.norm.weight", (H,)
    yield "lm_head.weight", (V, H)


def write_shard(path, items, pool, rng):
    hdr, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in items:
        n = int(np.prod(shape)) * 2
        hdr[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    ones = np.full(H, 0x3F80, "<u2")  # bf16 1.0
    if os.path.exists(path) and os.path.getsize(path) == 8 + len(h) + off:
        return  # written by an earlier run
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape in items:
            n = int(np.prod(shape))
            if len(shape) == 1:
                f.write(ones[:n].tobytes())
            else:
                for e0 in range(0, n, len(pool) // 2):
                    k = min(n - e0, len(pool) // 2)
                    s = int(rng.integers(0, len(pool) // 2))
                    f.write(pool[s:s + k].tobytes())


def make_model(d, tokdir):
    os.makedirs(d, exist_ok=True)
    tok = json.load(open(os.path.join(tokdir, "tokenizer.json")))
    V = len(tok["model"]["vocab"]) + sum(1 for t in tok.get("added_tokens", [])
                                         if t["content"] not in tok["model"]["vocab"])
    V = (V + 63) // 64 * 64
    rng = np.random.default_rng(0)
    half = (rng.standard_normal(1 << 26, dtype=np.float32) * 0.02).view("<u4") >> 16
    pool = np.concatenate([half, half]).astype("<u2")
    shards, cur, size = [], [], 0
    for name, shape in tensors(V):
        n = int(np.prod(shape)) * 2
        if cur and size + n > SHARD_BYTES:
            shards.append(cur)
            cur, size = [], 0
        cur.append((name, shape))
        size += n
    shards.append(cur)
    wmap, total = {}, 0
    for i, items in enumerate(shards):
        fn = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write_shard(os.path.join(d, fn), items, pool, rng)
        for name, shape in items:
            wmap[name] = fn
            total += int(np.prod(shape)) * 2
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wmap}, f, indent=2)
    src_cfg = json.load(open(os.path.join(tokdir, "config.json")))
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": H,
           "intermediate_size": I, "num_hidden_layers": L, "num_attention_heads": NH,
           "num_key_value_heads": NH, "hidden_act": "silu", "max_position_embeddings": 4096,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
           "torch_dtype": "bfloat16", "vocab_size": V, "attention_bias": False,
           "mlp_bias": False, "bos_token_id": src_cfg.get("bos_token_id", 1),
           "eos_token_id": src_cfg.get("eos_token_id", 2)}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    for fn in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
               "generation_config.json"):
        if os.path.exists(os.path.join(tokdir, fn)):
            shutil.copy(os.path.join(tokdir, fn), os.path.join(d, fn))


def make_pack(path, V, T=512, NB=2):
    import xxhash
    rng = np.random.default_rng(1)
    bs = (7 * T + 8 + 63) // 64 * 64
    data, sums = b"", []
    for _ in range(NB):
        ids = rng.integers(3, V, T).astype("<u4")
        seg = np.ones(T, "<u2")
        mask = np.ones(T, np.uint8)
        mask[0] = 0
        body = ids.tobytes() + seg.tobytes() + mask.tobytes()
        body += b"\0" * (bs - 8 - len(body))
        h = xxhash.xxh3_64_intdigest(body)
        data += body + struct.pack("<Q", h)
        sums.append(h)
    hdr = bytearray(128)
    hdr[0:8] = b"QLPACKBL"
    struct.pack_into("<IIQQIIIIII", hdr, 8, 1, 128, 0, 0, V, 2, 2, T, bs, 1)
    payload = xxhash.xxh3_64_intdigest(b"".join(struct.pack("<Q", s) for s in sums))
    struct.pack_into("<QQQQIIQQQQ", hdr, 56, NB, NB, NB * T, NB * (T - 1), 0, 1, 0, 0, payload, 0)
    struct.pack_into("<Q", hdr, 120, xxhash.xxh3_64_intdigest(bytes(hdr)))
    with open(path, "wb") as f:
        f.write(bytes(hdr) + data)


if __name__ == "__main__":
    if sys.argv[1] == "make-model":
        make_model(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "make-pack":
        make_pack(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: llama7b-bench.py make-model DIR TOKDIR | make-pack FILE V")
