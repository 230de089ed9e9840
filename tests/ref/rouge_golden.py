#!/usr/bin/env python3
# Golden values for rouge-zh (tests/metrics/test_rouge_zh.c, tests/cli/rouge-zh/).
#     /work/venv-ref/bin/python tests/ref/rouge_golden.py        # from the repository root
# Writes:
#   tests/data/rouge_pairs.jsonl   the pairs ({"labels": l, "predict": p}, tests/ref/rouge_pairs.py)
#   tests/data/rouge_golden.jsonl  per pair: jieba.cut of both texts (token lengths in code
#                                  points), the per-sample values of the reference function
#                                  (word and --char mode), and which side rouge_chinese rejects
#   tests/data/rouge_golden.json   the averaged result, formatted as rouge-zh prints it
# The reference function is ChatGLM-6B ptuning/main.py compute_metrics with LLaMA-Factory's
# empty rule (rouge f = 0.0 when either side has no non-whitespace character), per
# reference.md 9.1/9.2. Committed output produced with: Python 3.11.7, jieba 0.42.1,
# rouge-chinese 1.0.3, nltk 3.10.4 (bleu arithmetic identical to 3.8; NLTK_PATH=/dir/with/
# nltk-3.8 runs it with 3.8: raw BLEU identical, repr for repr, on all 2,500 pairs), numpy 2.4.6 (2,500 samples: every numpy averages them alike).
import json
import os
import sys

if os.environ.get("NLTK_PATH"):
    sys.path.insert(0, os.environ["NLTK_PATH"])

import jieba
import nltk
import numpy as np
import rouge_chinese
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from rouge_chinese import Rouge

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rouge_pairs import make_pairs  # noqa: E402

jieba.setLogLevel(60)
N_PAIRS = 2500


def scores(pred, label, hyp, ref):
    """One sample of compute_metrics (LLaMA-Factory empty rule); hyp/ref are the token lists."""
    if len(" ".join(hyp).split()) == 0 or len(" ".join(ref).split()) == 0:
        result = {"rouge-1": {"f": 0.0}, "rouge-2": {"f": 0.0}, "rouge-l": {"f": 0.0}}
    else:
        result = Rouge().get_scores(" ".join(hyp), " ".join(ref))[0]
    out = [round(v["f"] * 100, 4) for k, v in result.items()]
    bleu = sentence_bleu([list(label)], list(pred), smoothing_function=SmoothingFunction().method3)
    out.append(round(bleu * 100, 4))
    return out


def raises(hyp, ref):
    """What THUDM's unguarded call does: None, or which side rouge_chinese rejects."""
    try:
        Rouge().get_scores(" ".join(hyp), " ".join(ref))
        return None
    except ValueError as e:
        return {"Hypothesis is empty.": "hyp", "Reference is empty.": "ref"}[str(e)]


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
    pairs = make_pairs(N_PAIRS)
    cols = {"rouge-1": [], "rouge-2": [], "rouge-l": [], "bleu-4": []}
    with open(os.path.join(root, "rouge_pairs.jsonl"), "w", encoding="utf-8") as fp, \
         open(os.path.join(root, "rouge_golden.jsonl"), "w", encoding="utf-8") as fg:
        for i, (p, l) in enumerate(pairs):
            fp.write(json.dumps({"labels": l, "predict": p}, ensure_ascii=False) + "\n")
            hyp, ref = list(jieba.cut(p)), list(jieba.cut(l))
            assert "".join(hyp) == p and "".join(ref) == l
            w = scores(p, l, hyp, ref)
            c = scores(p, l, list(p), list(l))
            for k, v in zip(cols, w):
                cols[k].append(v)
            rec = {"i": i, "sp": [len(t) for t in hyp], "sl": [len(t) for t in ref],
                   "w": w, "c": c, "raise": raises(hyp, ref)}
            fg.write(json.dumps(rec) + "\n")
    res = {k: float(np.mean(v)) for k, v in cols.items()}
    res["n"] = len(pairs)
    with open(os.path.join(root, "rouge_golden.json"), "w") as f:
        f.write(json.dumps(res) + "\n")
    print(res, "jieba", jieba.__version__, "nltk", nltk.__version__, "numpy", np.__version__,
          "rouge_chinese", getattr(rouge_chinese, "__version__", "?"), file=sys.stderr)


if __name__ == "__main__":
    main()
