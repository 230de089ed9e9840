#!/usr/bin/env python3
# A tiny llama GGUF for the import-gguf tests, written the way llama.cpp's converter and
# quantizer write one (reference.md 3.5-3.10): the weights of tests/data/llama/tiny
# (tests/ref/llama_golden.py), Q/K rows permuted as convert_hf_to_gguf.py's permute() does,
# token_embd as Q8_0, the other 2-D weights as Q4_1, norms F32; llama.* metadata; a small
# byte-level BPE vocabulary (3 specials, the 256 GPT-2 byte characters, 253 merges) with
# tokenizer.ggml.pre = "smollm" and a ChatML chat template.
# Also writes what import-gguf must produce from it: tiny-llama.expected.safetensors, the
# F32 tensors as gguf-py dequantizes them with the permutation undone (HF names).
#   /work/venv-ref/bin/python tests/ref/tiny_gguf.py
# Committed output produced with gguf 0.19.0, numpy 2.4.6, safetensors 0.8.0.
import json
import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize, dequantize
from safetensors.numpy import load_file, save_file

src = load_file("tests/data/llama/tiny/model.safetensors")
cfg = json.load(open("tests/data/llama/tiny/config.json"))
H, NH, NKV, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["num_hidden_layers"]
V = cfg["vocab_size"]

def permute(w, n_head):  # convert_hf_to_gguf.py LlamaModel.permute
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
             .swapaxes(1, 2).reshape(w.shape))

def unpermute(w, n_head):  # HF modeling_gguf_pytorch_utils reverse_permute_weights
    return (w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:])
             .swapaxes(1, 2).reshape(w.shape))

names = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
         "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
         "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj",
         "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
tensors = [("token_embd.weight", "model.embed_tokens.weight", 0)]
for i in range(L):
    for g, h in names.items():
        tensors.append((f"blk.{i}.{g}.weight", f"model.layers.{i}.{h}.weight",
                        NH if g == "attn_q" else NKV if g == "attn_k" else 0))
tensors.append(("output_norm.weight", "model.norm.weight", 0))

# byte-level BPE vocabulary
bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
cs = bs[:]
n = 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
byte_chars = [chr(c) for _, c in sorted(zip(bs, cs))]
specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
tokens = specials + byte_chars
merges = []
have = set(tokens)
letters = "etaoinshrdlucmfwyp"
for a in ["Ġ"] + list(letters):
    for b in letters:
        if len(tokens) >= V:
            break
        if a + b not in have:
            merges.append(f"{a} {b}"); tokens.append(a + b); have.add(a + b)
assert len(tokens) == V, len(tokens)
types = [3] * len(specials) + [1] * (V - len(specials))
template = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
            "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

w = gguf.GGUFWriter("tests/data/gguf/tiny-llama.gguf", "llama")
w.add_name("tiny-llama")
w.add_block_count(L)
w.add_context_length(cfg["max_position_embeddings"])
w.add_embedding_length(H)
w.add_feed_forward_length(cfg["intermediate_size"])
w.add_head_count(NH)
w.add_head_count_kv(NKV)
w.add_rope_freq_base(float(cfg.get("rope_theta", cfg.get("rope_parameters", {}).get("rope_theta", 10000.0))))
w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
w.add_file_type(3)
w.add_vocab_size(V)
w.add_rope_dimension_count(H // NH)
w.add_tokenizer_model("gpt2")
w.add_tokenizer_pre("smollm")
w.add_token_list(tokens)
w.add_token_types(types)
w.add_token_merges(merges)
w.add_bos_token_id(1)
w.add_eos_token_id(2)
w.add_pad_token_id(2)
w.add_add_bos_token(False)
w.add_chat_template(template)
w.add_quantization_version(2)
expected = {}
for gname, hname, heads in tensors:
    x = src[hname].astype(np.float32)
    if heads:
        x = permute(x, heads)
    qt = T.F32 if x.ndim == 1 else T.Q8_0 if gname == "token_embd.weight" else T.Q4_1
    q = quantize(x, qt)
    w.add_tensor(gname, q, raw_dtype=qt)
    y = dequantize(q, qt).astype(np.float32).reshape(x.shape)
    expected[hname] = unpermute(y, heads) if heads else y
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
save_file(expected, "tests/data/gguf/tiny-llama.expected.safetensors")
print(len(tensors), "tensors")
