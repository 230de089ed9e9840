#!/usr/bin/env python3
# qlora-tools: ISC license.
"""tok-chatml against HF: the same records, the same tokenizer, the same thread count.

Run through tests/bench/tok-chatml-bench.sh (it sets RAYON_NUM_THREADS before Python starts).
    tok-chatml-bench.py TOK_CHATML TOKENIZER_DIR THREADS N_RECORDS WORKDIR
Records are made from tests/data/tokenizer/corpus.jsonl (varied text; lines holding special-
token strings are left out so that HF's encoding of the rendered string is the reference): a
mix of ADGEN-shaped prompt/response pairs, alpaca records and multi-turn messages.
Timed:
  HF   tokenizers encode_batch(rendered strings, add_special_tokens=False) on the strings that
       transformers' apply_chat_template rendered beforehand (rendering not timed);
  ours the whole tok-chatml run: read JSONL, parse, render, encode, write the .tok stream.
Each side: one warm-up, then the best of 3 by wall time, with that run's CPU seconds (less
sensitive to other load on the machine). The ids of both are compared (all must be equal).
"""
import json
import os
import random
import resource
import struct
import subprocess
import sys
import time

from tokenizers import Tokenizer
from transformers import AutoTokenizer


def make_records(corpus, n, specials):
    texts = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)
            if t.strip() and not any(s in t for s in specials):
                texts.append(t[:2000])
    rng = random.Random(20261122)
    recs = []
    for i in range(n):
        pick = lambda: rng.choice(texts)
        k = i % 3
        if k == 0:
            recs.append({"content": pick(), "summary": pick()})
        elif k == 1:
            recs.append({"instruction": pick(), "input": pick() if i % 2 else "", "output": pick()})
        else:
            msgs = [{"role": "system", "content": pick()}] if i % 4 == 2 else []
            for _ in range(rng.randint(1, 3)):
                msgs += [{"role": "user", "content": pick()}, {"role": "assistant", "content": pick()}]
            recs.append({"messages": msgs})
    return recs


def messages_of(r):
    if "messages" in r:
        return r["messages"]
    if "instruction" in r:
        user = "\n".join(x for x in (r["instruction"], r["input"]) if x)
        return [{"role": "user", "content": user}, {"role": "assistant", "content": r["output"]}]
    return [{"role": "user", "content": r["content"]}, {"role": "assistant", "content": r["summary"]}]


def read_tok(path):
    with open(path, "rb") as f:
        b = f.read()
    off = struct.unpack_from("<I", b, 12)[0]
    out = []
    while True:
        n = struct.unpack_from("<I", b, off)[0]
        if n == 0:
            return out
        out.append(list(struct.unpack_from("<%dI" % n, b, off + 4)))
        off += 4 + 5 * n + (-n % 4)


def cpu_seconds():
    """CPU time of this process (all its threads) and of its finished children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def best_of(fn, k=3):
    """Best wall time of k runs after a warm-up, and the CPU seconds of that run."""
    fn()
    best = None
    for _ in range(k):
        c0, t0 = cpu_seconds(), time.perf_counter()
        r = fn()
        dt, dc = time.perf_counter() - t0, cpu_seconds() - c0
        if best is None or dt < best[0]:
            best = (dt, dc)
    return best, r


def main():
    exe, tkdir, threads, n, work = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    assert os.environ.get("RAYON_NUM_THREADS") == threads
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    hf = AutoTokenizer.from_pretrained(tkdir)
    raw = Tokenizer.from_file(os.path.join(tkdir, "tokenizer.json"))
    specials = [t.content for t in raw.get_added_tokens_decoder().values()]
    recs = make_records(os.path.join(top, "tests/data/tokenizer/corpus.jsonl"), n, specials)
    # Two files: tok-chatml takes the prompt/response columns by option, so ADGEN records go
    # in their own file, in an order the HF side follows.
    adgen = [r for r in recs if "content" in r]
    other = [r for r in recs if "content" not in r]
    pa, po = os.path.join(work, "adgen.jsonl"), os.path.join(work, "other.jsonl")
    for path, rs in ((pa, adgen), (po, other)):
        with open(path, "w", encoding="utf-8") as f:
            for r in rs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    texts = [hf.apply_chat_template(messages_of(r), tokenize=False) for r in adgen + other]
    nbytes = os.path.getsize(pa) + os.path.getsize(po)

    (t_hf, c_hf), enc = best_of(lambda: raw.encode_batch(texts, add_special_tokens=False))
    hf_ids = [e.ids for e in enc]

    out_a, out_o = os.path.join(work, "a.tok"), os.path.join(work, "o.tok")

    def ours():
        subprocess.run([exe, "-q", "--threads", threads, "-t", os.path.join(tkdir, "tokenizer.json"),
                        "--prompt-key", "content", "--response-key", "summary", "-o", out_a, pa],
                       check=True)
        subprocess.run([exe, "-q", "--threads", threads, "-t", os.path.join(tkdir, "tokenizer.json"),
                        "-o", out_o, po], check=True)
    (t_ours, c_ours), _ = best_of(ours)
    our_ids = read_tok(out_a) + read_tok(out_o)
    same = our_ids == hf_ids
    ntok = sum(len(x) for x in hf_ids)
    print("records %d (%.1f MB JSONL), %d tokens, threads %s" % (n, nbytes / 1e6, ntok, threads))
    print("HF tokenizers encode_batch: %.3f s wall, %.3f s CPU (%.2f Mtok/s; rendering by "
          "transformers not timed)" % (t_hf, c_hf, ntok / t_hf / 1e6))
    print("tok-chatml (whole run):     %.3f s wall, %.3f s CPU (%.2f Mtok/s)"
          % (t_ours, c_ours, ntok / t_ours / 1e6))
    print("ratio HF/tok-chatml: %.2fx wall, %.2fx CPU; ids %s"
          % (t_hf / t_ours, c_hf / c_ours, "identical" if same else "DIFFER"))
    print("load average at the end: %.1f %.1f %.1f on %d CPUs" % (os.getloadavg() + (os.cpu_count(),)))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
