#!/usr/bin/env python3
# Helper of tests/bench/gen-bench.sh (see there). Subcommands:
#   make-gguf MODEL_DIR ORIG_GGUF OUT f32|f16
#       writes a GGUF of MODEL_DIR's weights (bf16 safetensors widened to f32, or rounded to
#       f16 for the 2-D weights) with the llama-arch metadata and tokenizer of ORIG_GGUF, and
#       redoes llama.cpp's converter Q/K row permutation (import-gguf undid it). PyPI `gguf`.
#   prompts MODEL_DIR DIR N
#       DIR/prompts.jsonl (N chat records for gen) and DIR/ids.json (the prompt ids that
#       transformers' apply_chat_template gives on MODEL_DIR's tokenizer: the same ChatML
#       rendering and default system prompt as gen).
#   hf MODEL_DIR DIR MAX_NEW BATCH N_PROMPTS
#       transformers generate(do_sample=False) on the CPU in fp32 on THREADS threads, prompts in
#       batches of BATCH (left padding). Prefill and decode are timed inside generate (a logits
#       processor stamps the time of each step: prefill = start .. first logits, decode = the
#       rest). Prints one JSON line; --logits FILE saves the first prompt's last logits.
#   llamacpp GGUF DIR MAX_NEW N_PROMPTS
#       llama.cpp (llama-cpp-python) batch 1, greedy (argmax), THREADS threads: eval(prompt)
#       then MAX_NEW - 1 single-token evals, wall-timed (the Python around each llama_decode
#       call is an argmax over 49152 floats: well under 1% of a step).
#   ours GEN MODEL_DIR DIR MAX_NEW BATCH N_PROMPTS
#       our gen, timed by differences of whole runs (see ours()).
#   report MODEL_DIR RESULTS...   the table (each engine's best round), the ratios and the
#       greedy agreement; each RESULTS file holds one JSON line per round
# The subcommands that time take the best of REPEAT passes (default 3) over the prompts.
#   compare A.npy B.npy     relative error (max |a - b| / max |b|) and argmax agreement
# Runs under /work/venv-ref (transformers, torch, gguf) or /work/venv-llama (llama_cpp, gguf).
import json
import os
import struct
import sys
import time

import numpy as np

PROMPTS = [
    "Write a detailed story about a young engineer who builds a small robot that learns to "
    "paint. Describe the workshop, the first failed attempts, the colours, the people in the "
    "village who come to watch, and how the robot's paintings change over the seasons.",
    "请详细介绍一下机器学习中的梯度下降算法，包括它的基本原理、学习率的选择、随机梯度下降和小批量梯度"
    "下降的区别，以及在训练大语言模型时常见的优化技巧。请分点说明，并给出具体的例子。",
    "Explain step by step how a hash table works: hashing, buckets, collisions, open "
    "addressing versus chaining, load factor and resizing. Then write a short C example that "
    "inserts and looks up string keys, and discuss its time complexity.",
    "Write a long letter to a friend describing a week-long trip through the mountains: the "
    "trains, the small towns, the food at each stop, the weather, the people you met on the "
    "way and what you learned about yourself during the journey.",
    "为一家新开的咖啡店写一篇宣传文章，介绍店里的环境、招牌饮品、甜点、服务特色和开业优惠活动，"
    "语言要生动活泼，吸引年轻顾客，字数不少于五百字。",
    "List and explain twenty practical tips for writing clean, maintainable Python code, "
    "covering naming, functions, modules, testing, documentation, error handling and "
    "performance, with a one-line example for each tip.",
    "Describe the history of the printing press from its invention to the modern day, "
    "including its effects on science, religion, politics, education and everyday life in "
    "Europe and in Asia. Write at least six paragraphs.",
    "请写一篇关于春天的散文，描写城市公园里的花草树木、早晨锻炼的老人、放风筝的孩子和傍晚的夕阳，"
    "表达对生活的热爱，要求语言优美，层次分明，至少六段。",
]


# ---- the GGUF of our weights ----

def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for k, v in hdr.items():
            if k == "__metadata__":
                continue
            a, b = v["data_offsets"]
            f.seek(base + a)
            raw = f.read(b - a)
            if v["dtype"] == "BF16":
                x = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
            elif v["dtype"] == "F16":
                x = np.frombuffer(raw, "<f2").astype(np.float32)
            elif v["dtype"] == "F32":
                x = np.frombuffer(raw, "<f4").copy()
            else:
                raise SystemExit("%s: dtype %s" % (k, v["dtype"]))
            out[k] = x.reshape(v["shape"])
    return out


def permute(w, n_head):
    # llama.cpp's convert_hf_to_gguf: rows of each head reordered from (2, hd/2) to (hd/2, 2).
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def make_gguf(model_dir, orig, out, dtype):
    import gguf
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    st = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    r = gguf.GGUFReader(orig)
    w = gguf.GGUFWriter(out, arch="llama")
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", "general.file_type",
                                                "general.quantization_version"):
            continue
        t = f.types[0]
        if t == gguf.GGUFValueType.ARRAY:
            w.add_key_value(name, f.contents(), t, sub_type=f.types[-1])
        else:
            w.add_key_value(name, f.contents(), t)
    w.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == "f32" else
                    gguf.LlamaFileType.MOSTLY_F16)
    hf = {"token_embd": "model.embed_tokens", "output_norm": "model.norm",
          "output": "lm_head"}
    blk = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
           "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
           "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
           "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"}
    for t in r.tensors:
        parts = t.name.split(".")
        if parts[0] == "blk":
            src = "model.layers.%s.%s.weight" % (parts[1], blk[parts[2]])
        else:
            src = hf[parts[0]] + ".weight"
        x = st[src]
        if parts[0] == "blk" and parts[2] == "attn_q":
            x = permute(x, cfg["num_attention_heads"])
        elif parts[0] == "blk" and parts[2] == "attn_k":
            x = permute(x, cfg["num_key_value_heads"])
        if dtype == "f16" and x.ndim == 2:
            x = x.astype(np.float16)
        w.add_tensor(t.name, np.ascontiguousarray(x))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ---- prompts ----

def prompts(model_dir, d, n):
    from transformers import AutoTokenizer
    tk = AutoTokenizer.from_pretrained(model_dir)
    ids = []
    with open(os.path.join(d, "prompts.jsonl"), "w", encoding="utf-8") as f:
        for i in range(n):
            msgs = [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]
            f.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")
            r = tk.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)
            ids.append(list(r["input_ids"] if isinstance(r, dict) or hasattr(r, "keys")
                            else r))
    json.dump(ids, open(os.path.join(d, "ids.json"), "w"))


def load_ids(d, n=None):
    ids = json.load(open(os.path.join(d, "ids.json")))
    return ids[:n] if n else ids


# ---- transformers ----

def hf(model_dir, d, max_new, batch, n_prompts, logits_out=None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessor
    threads = int(os.environ.get("THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    tk = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    ids = load_ids(d, n_prompts)
    stamps = []

    class Stamp(LogitsProcessor):
        def __call__(self, input_ids, scores):
            stamps.append(time.perf_counter())
            return scores

    def run(group, n_new):
        L = max(len(x) for x in group)
        inp = torch.tensor([[tk.pad_token_id] * (L - len(x)) + x for x in group])
        att = torch.tensor([[0] * (L - len(x)) + [1] * len(x) for x in group])
        stamps.clear()
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(input_ids=inp, attention_mask=att, do_sample=False,
                                 max_new_tokens=n_new, min_new_tokens=n_new,
                                 logits_processor=[Stamp()], pad_token_id=tk.pad_token_id,
                                 temperature=None, top_p=None, top_k=None)
        t1 = time.perf_counter()
        return out[:, L:], t0, list(stamps), t1

    run(ids[:batch], 4)  # warm-up
    best_p = best_d = float("inf")
    for _ in range(int(os.environ.get("REPEAT", 3))):
        pre_t = dec_t = 0.0
        pre_n = dec_n = 0
        gen = []
        for g in range(0, len(ids), batch):
            group = ids[g:g + batch]
            out, t0, st, t1 = run(group, max_new)
            pre_t += st[0] - t0
            pre_n += sum(len(x) for x in group)
            dec_t += st[-1] - st[0]
            dec_n += len(group) * (len(st) - 1)
            gen += out.tolist()
        best_p, best_d = min(best_p, pre_t), min(best_d, dec_t)
    pre_t, dec_t = best_p, best_d
    if logits_out:
        with torch.no_grad():
            lg = model(torch.tensor([ids[0]])).logits[0, -1].float().numpy()
        np.save(logits_out, lg)
    print(json.dumps({"engine": "transformers", "version": __import__("transformers").__version__,
                      "torch": torch.__version__, "threads": threads, "batch": batch,
                      "prefill_tokens": pre_n, "prefill_s": pre_t, "decode_tokens": dec_n,
                      "decode_s": dec_t, "generated": gen}))


# ---- llama.cpp ----

def llamacpp(gguf_path, d, max_new, n_prompts=None, logits_out=None):
    import llama_cpp
    threads = int(os.environ.get("THREADS", os.cpu_count()))
    ids = load_ids(d, n_prompts)
    llm = llama_cpp.Llama(model_path=gguf_path, n_ctx=2048, n_batch=512, n_ubatch=512,
                          n_threads=threads, n_threads_batch=threads, logits_all=False,
                          type_k=0, type_v=0,  # GGML_TYPE_F32: an f32 KV cache like ours
                          flash_attn=os.environ.get("LLAMA_FLASH_ATTN") == "1",
                          verbose=False)

    nv = llm.n_vocab()

    def last():  # the logits of the last evaluated position (llama_get_logits)
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(nv,))

    def one(p, n_new):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(p)
        t1 = time.perf_counter()
        first = last().copy()
        out = [int(np.argmax(first))]
        for _ in range(n_new - 1):
            llm.eval([out[-1]])
            out.append(int(np.argmax(last())))
        t2 = time.perf_counter()
        return out, t1 - t0, t2 - t1, first

    one(ids[0], 4)  # warm-up
    best_p = best_d = float("inf")
    for _ in range(int(os.environ.get("REPEAT", 3))):
        pre_t = dec_t = 0.0
        pre_n = dec_n = 0
        gen = []
        for k, p in enumerate(ids):
            out, tp, td, first = one(p, max_new)
            if k == 0 and logits_out:
                np.save(logits_out, first)
            pre_t += tp
            pre_n += len(p)
            dec_t += td
            dec_n += max_new - 1
            gen.append(out)
        best_p, best_d = min(best_p, pre_t), min(best_d, dec_t)
    pre_t, dec_t = best_p, best_d
    fa = " flash-attn" if os.environ.get("LLAMA_FLASH_ATTN") == "1" else ""
    print(json.dumps({"engine": "llama.cpp" + fa, "version": llama_cpp.__version__,
                      "threads": threads, "batch": 1, "prefill_tokens": pre_n,
                      "prefill_s": pre_t, "decode_tokens": dec_n, "decode_s": dec_t,
                      "generated": gen}))


# ---- ours ----

def ours(gen_bin, model_dir, d, max_new, batch, n_prompts):
    # gen prints no per-phase timing: the phases come from differences of whole runs (each the
    # best of REPEAT), so that loading the model cancels out: A = the prompts, 1 new token
    # (0 decode steps); A4 = the prompts four times, 1 new token; B = the prompts, MAX_NEW
    # new tokens (MAX_NEW - 1 decode steps). prefill = 3 x prompts in A4 - A; decode = B - A.
    import subprocess
    threads = os.environ.get("THREADS", str(os.cpu_count()))

    def run(path, n_new):
        best, recs = float("inf"), None
        for _ in range(int(os.environ.get("REPEAT", 3))):
            t0 = time.perf_counter()
            r = subprocess.run([gen_bin, "-m", model_dir, "--max-new-tokens", str(n_new),
                                "--batch", str(batch), "--threads", threads, "--quiet", path],
                               stdout=subprocess.PIPE, check=True)
            best = min(best, time.perf_counter() - t0)
            recs = [json.loads(x) for x in r.stdout.decode().splitlines()]
        return best, recs

    part = os.path.join(d, "prompts-%d.jsonl" % n_prompts)
    part4 = os.path.join(d, "prompts-%dx4.jsonl" % n_prompts)
    with open(os.path.join(d, "prompts.jsonl")) as f:
        lines = f.readlines()[:n_prompts]
    with open(part, "w") as g:
        g.writelines(lines)
    with open(part4, "w") as g:
        g.writelines(lines * 4)
    run(part, 1)  # warm-up: a cold first run (page cache) made A slower than B - decode
    t_a, r_a = run(part, 1)
    t_a4, _ = run(part4, 1)
    t_b, r_b = run(part, max_new)
    pre_n = 3 * sum(r["prompt_tokens"] for r in r_a)
    dec_n = sum(r["new_tokens"] - 1 for r in r_b)
    t_l = t_a - (t_a4 - t_a) / 3
    print(json.dumps({"engine": "qlora-tools gen", "threads": int(threads), "batch": batch,
                      "prefill_tokens": pre_n, "prefill_s": t_a4 - t_a, "decode_tokens": dec_n,
                      "decode_s": t_b - t_a, "load_s": t_l,
                      "prompt_tokens": [r["prompt_tokens"] for r in r_b],
                      "new_tokens": [r["new_tokens"] for r in r_b],
                      "predict": [r["predict"] for r in r_b]}))


# ---- the table ----

def report(model_dir, *files):
    from tokenizers import Tokenizer
    tk = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    best = {}
    for f in files:  # one JSON line per round: keep each engine's best prefill and decode
        for line in open(f):
            r = json.loads(line)
            k = (r["engine"], r["batch"])
            if k not in best:
                best[k] = dict(r, rounds=0)
            b = best[k]
            b["rounds"] += 1
            for ph in ("prefill", "decode"):
                if r[ph + "_s"] <= 0:  # a difference of two runs spoilt by a load burst
                    b["spoilt"] = b.get("spoilt", 0) + 1
                    continue
                if b[ph + "_s"] <= 0 or \
                        r[ph + "_tokens"] / r[ph + "_s"] > b[ph + "_tokens"] / b[ph + "_s"]:
                    b[ph + "_tokens"], b[ph + "_s"] = r[ph + "_tokens"], r[ph + "_s"]
    res = list(best.values())
    print("%-34s %5s %9s %12s %9s %12s %6s" % ("engine", "batch", "prefill", "tok/s", "decode",
                                               "tok/s", "rounds"))
    for r in res:
        print("%-34s %5d %9d %12.1f %9d %12.1f %6d" % (
            r["engine"] + (" " + r["version"] if "version" in r else ""), r["batch"],
            r["prefill_tokens"], r["prefill_tokens"] / r["prefill_s"], r["decode_tokens"],
            r["decode_tokens"] / r["decode_s"], r["rounds"]))
    by = {(r["engine"], r["batch"]): r for r in res}

    def rate(r, k):
        return r[k + "_tokens"] / r[k + "_s"]

    for (e, b), r in sorted(by.items()):
        if e != "qlora-tools gen":
            continue
        for (pe, pb), p in sorted(by.items()):
            if pe != e and (pb == b or pe.startswith("llama.cpp")):
                print("ratio ours batch %d / %s batch %d: prefill %.2fx, decode %.2fx" % (
                    b, pe, pb, rate(r, "prefill") / rate(p, "prefill"),
                    rate(r, "decode") / rate(p, "decode")))
    ids = load_ids(os.path.dirname(os.path.abspath(files[0])))
    for r in res:
        if "prompt_tokens" in r:
            print("prompt ids: gen's prompt_tokens equal the lengths of transformers' chat "
                  "template ids on %d/%d prompts" % (sum(a == len(b) for a, b in zip(
                      r["prompt_tokens"], ids)), len(r["prompt_tokens"])))
    # Same greedy continuations? (token ids for the peers, text for gen)
    peers = [r for r in res if "generated" in r]
    for r in res:
        if r["engine"] == "qlora-tools gen":
            for p in peers:
                n = min(len(p["generated"]), len(r["predict"]))
                same = sum(tk.decode(p["generated"][i], skip_special_tokens=True) ==
                           r["predict"][i] for i in range(n))
                print("greedy text: gen batch %d = %s batch %d on %d/%d prompts" % (
                    r["batch"], p["engine"], p["batch"], same, n))
    for i, p in enumerate(peers):
        for q in peers[i + 1:]:
            n = min(len(p["generated"]), len(q["generated"]))
            same = sum(p["generated"][k] == q["generated"][k] for k in range(n))
            print("greedy ids: %s batch %d = %s batch %d on %d/%d prompts" % (
                p["engine"], p["batch"], q["engine"], q["batch"], same, n))


def compare(a, b):
    x, y = np.load(a).astype(np.float64), np.load(b).astype(np.float64)
    rel = float(np.max(np.abs(x - y)) / np.max(np.abs(y)))
    top = [int(i) for i in np.argsort(-y)[:5]]
    print("max |a-b| / max |b| = %.3g, argmax %s %d vs %d, top-5 of b %s, top-5 of a %s" % (
        rel, "same" if np.argmax(x) == np.argmax(y) else "DIFFERS", int(np.argmax(x)),
        int(np.argmax(y)), top, [int(i) for i in np.argsort(-x)[:5]]))


def main():
    a = sys.argv[1:]
    lo = None
    if "--logits" in a:
        k = a.index("--logits")
        lo = a[k + 1]
        del a[k:k + 2]
    if a[0] == "make-gguf":
        make_gguf(a[1], a[2], a[3], a[4])
    elif a[0] == "prompts":
        prompts(a[1], a[2], int(a[3]))
    elif a[0] == "hf":
        hf(a[1], a[2], int(a[3]), int(a[4]), int(a[5]), lo)
    elif a[0] == "llamacpp":
        llamacpp(a[1], a[2], int(a[3]), int(a[4]) if len(a) > 4 else None, lo)
    elif a[0] == "ours":
        ours(a[1], a[2], a[3], int(a[4]), int(a[5]), int(a[6]))
    elif a[0] == "report":
        report(a[1], *a[2:])
    elif a[0] == "compare":
        compare(a[1], a[2])
    else:
        raise SystemExit("unknown subcommand " + a[0])


if __name__ == "__main__":
    main()
