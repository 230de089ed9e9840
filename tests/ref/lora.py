#!/usr/bin/env python3
# Golden data for formats/adapter.c and lora-merge: a tiny random Llama base, three adapters
# written by PEFT, PEFT's merge_and_unload() weights, and PEFT's logits.
#   /work/venv-ref/bin/python tests/ref/lora.py      (from the repository root)
# Committed output made with torch 2.15.0, transformers 5.23.0, peft 0.21.2.
#
# Writes under tests/data/lora/:
#   base/                 LlamaForCausalLM save_pretrained (f32, untied, hidden 64, 2 layers,
#                         4 heads, 2 kv heads, intermediate 128, vocab 256) + tokenizer files
#   peft-r8/              r 8, alpha 16, target_modules "all-linear" (PEFT stores the 14 full
#                         module names for a 2-layer model), dropout 0.05
#   peft-rs/              r 4, alpha 8, use_rslora, target_modules [q_proj, v_proj, down_proj]
#   peft-p2/              r 2, alpha 3, targets q,k,o,up,down, rank_pattern {down_proj: 6},
#                         alpha_pattern {layers.1.self_attn.q_proj: 5}
#   <adapter>.expect.bin  every LoRA pair as PEFT holds it (see write_expect)
#   merged-<case>.safetensors  the 7 linear weights per layer after merge_and_unload():
#                         r8, rs, and r8-p2 (peft-r8 merged, then peft-p2 merged into that)
#   base-nf4/             base quantized by transformers + bitsandbytes on CPU (NF4, double
#                         quantization, quant_state dtype float32) and saved with save_pretrained
#   merged-nf4-r8.*       peft-r8 merged (merge_and_unload) into the dequantized NF4 base: every
#                         Linear4bit replaced by bnb.functional.dequantize_4bit of its weight
#   <adapter>.logits.bin  PEFT model (base + adapter, unmerged) logits, and
#   merged-<case>.logits.bin the merged model's logits, in tests/ref/llama_golden.py's format:
#                         "QTLOGIT1", u32 n_prompts, u32 V, per prompt u32 T, T x u32 ids,
#                         T x V f32 logits (little-endian)
import copy, os, shutil, struct
import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, PeftModel, get_peft_model

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "data", "lora")
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
V = 256


def path(*p):
    return os.path.join(out, *p)


def build_base():
    torch.manual_seed(11)
    cfg = LlamaConfig(vocab_size=V, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=2,
                      tie_word_embeddings=False)
    m = LlamaForCausalLM(cfg).float().eval()
    with torch.no_grad():
        for n, p in m.named_parameters():
            p.copy_(1.0 + 0.1 * torch.randn_like(p) if "norm" in n else 0.08 * torch.randn_like(p))
    d = path("base")
    shutil.rmtree(d, ignore_errors=True)
    m.save_pretrained(d, safe_serialization=True)
    # tokenizer files, only so that lora-merge has something to copy (a word-level vocab)
    from tokenizers import Tokenizer, models, pre_tokenizers
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for i in range(3, V):
        vocab["w%d" % i] = i
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(os.path.join(d, "tokenizer.json"))
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        f.write('{"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",'
                ' "tokenizer_class": "PreTrainedTokenizerFast"}\n')
    return m


def add_adapter(base, name, seed, **kw):
    torch.manual_seed(seed)
    p = get_peft_model(copy.deepcopy(base), LoraConfig(task_type="CAUSAL_LM", **kw))
    with torch.no_grad():  # non-zero B (PEFT's default init makes B zero)
        for n, t in p.named_parameters():
            if "lora_B" in n:
                t.copy_(0.05 * torch.randn_like(t))
    d = path(name)
    shutil.rmtree(d, ignore_errors=True)
    p.save_pretrained(d)
    os.remove(os.path.join(d, "README.md"))
    return p


def write_expect(p, name):
    """name.expect.bin: "QTLORAX1", u32 n; n x (u32 layer, u32 module index in q,k,v,o,gate,up,
    down order, u32 r, u32 in, u32 out, f32 scaling, f32 A[r*in] row-major, f32 B[out*r])."""
    ents = []
    for li, layer in enumerate(p.base_model.model.model.layers):
        for mi, mod in enumerate(MODULES):
            lin = getattr(layer.self_attn if mi < 4 else layer.mlp, mod)
            if not hasattr(lin, "lora_A"):
                continue
            A = lin.lora_A["default"].weight.detach().float().contiguous()
            B = lin.lora_B["default"].weight.detach().float().contiguous()
            ents.append((li, mi, A, B, float(lin.scaling["default"])))
    with open(path(name + ".expect.bin"), "wb") as f:
        f.write(b"QTLORAX1" + struct.pack("<I", len(ents)))
        for li, mi, A, B, s in ents:
            f.write(struct.pack("<IIIIIf", li, mi, A.shape[0], A.shape[1], B.shape[0], s))
            f.write(A.numpy().astype("<f4").tobytes())
            f.write(B.numpy().astype("<f4").tobytes())


PROMPTS = None


def write_logits(m, fname):
    with open(path(fname), "wb") as f:
        f.write(b"QTLOGIT1" + struct.pack("<II", len(PROMPTS), V))
        for ids in PROMPTS:
            with torch.no_grad():
                logits = m(ids[None]).logits[0].float()
            f.write(struct.pack("<I", len(ids)))
            f.write(ids.to(torch.int32).numpy().astype("<u4").tobytes())
            f.write(logits.numpy().astype("<f4").tobytes())


def write_merged(m, case):
    sd = {}
    for k, t in m.state_dict().items():
        if any(k.endswith(mod + ".weight") for mod in MODULES):
            sd[k] = t.detach().float().contiguous()
    save_file(sd, path("merged-%s.safetensors" % case), metadata={"format": "pt"})
    write_logits(m, "merged-%s.logits.bin" % case)


def nf4_case():
    import bitsandbytes.functional as bnbf
    from transformers import BitsAndBytesConfig
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                           bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.float32)
    m4 = LlamaForCausalLM.from_pretrained(path("base"), quantization_config=q,
                                          dtype=torch.float32, device_map="cpu")
    d = path("base-nf4")
    shutil.rmtree(d, ignore_errors=True)
    m4.save_pretrained(d)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(path("base", f), os.path.join(d, f))
    dense = LlamaForCausalLM.from_pretrained(path("base"), dtype=torch.float32).eval()
    with torch.no_grad():
        for l4, ld in zip(m4.model.layers, dense.model.layers):
            for mod in MODULES:
                blk4 = l4.self_attn if hasattr(l4.self_attn, mod) else l4.mlp
                blkd = ld.self_attn if hasattr(ld.self_attn, mod) else ld.mlp
                w = getattr(blk4, mod).weight
                getattr(blkd, mod).weight.copy_(bnbf.dequantize_4bit(w.data, w.quant_state).float())
    merged = PeftModel.from_pretrained(dense, path("peft-r8")).merge_and_unload()
    write_merged(merged, "nf4-r8")


def main():
    global PROMPTS
    os.makedirs(out, exist_ok=True)
    base = build_base()
    g = torch.Generator().manual_seed(7)
    PROMPTS = [torch.randint(0, V, (T,), generator=g) for T in (1, 5, 17)]
    r8 = add_adapter(base, "peft-r8", 21, r=8, lora_alpha=16, lora_dropout=0.05,
                     target_modules="all-linear")
    rs = add_adapter(base, "peft-rs", 22, r=4, lora_alpha=8, use_rslora=True,
                     target_modules=["q_proj", "v_proj", "down_proj"])
    p2 = add_adapter(base, "peft-p2", 23, r=2, lora_alpha=3,
                     target_modules=["q_proj", "k_proj", "o_proj", "up_proj", "down_proj"],
                     rank_pattern={"down_proj": 6},
                     alpha_pattern={"layers.1.self_attn.q_proj": 5})
    for p, n in ((r8, "peft-r8"), (rs, "peft-rs"), (p2, "peft-p2")):
        p.eval()
        write_expect(p, n)
        write_logits(p, n + ".logits.bin")
    write_merged(r8.merge_and_unload(), "r8")
    write_merged(rs.merge_and_unload(), "rs")
    m1 = PeftModel.from_pretrained(copy.deepcopy(base), path("peft-r8")).merge_and_unload()
    m2 = PeftModel.from_pretrained(m1, path("peft-p2")).merge_and_unload()
    write_merged(m2, "r8-p2")
    nf4_case()


if __name__ == "__main__":
    main()
