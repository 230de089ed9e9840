#!/usr/bin/env python3
# The Python side of tests/bench/rouge-zh-bench.sh: ChatGLM-6B ptuning/main.py compute_metrics
# (LLaMA-Factory empty rule) with jieba + rouge_chinese + nltk + numpy over a JSONL file of
# {"predict", "labels"} records. Prints the metrics JSON on stdout (same format as rouge-zh)
# and the timings on stderr: "load S" (jieba dictionary) and "score S".
import json
import sys
import time

import jieba
import numpy as np
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from rouge_chinese import Rouge


def main():
    pairs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
    jieba.setLogLevel(60)
    t0 = time.perf_counter()
    jieba.initialize()
    t1 = time.perf_counter()
    score_dict = {"rouge-1": [], "rouge-2": [], "rouge-l": [], "bleu-4": []}
    for rec in pairs:
        pred, label = rec["predict"], rec["labels"]
        hypothesis = list(jieba.cut(pred))
        reference = list(jieba.cut(label))
        if len(" ".join(hypothesis).split()) == 0 or len(" ".join(reference).split()) == 0:
            result = {"rouge-1": {"f": 0.0}, "rouge-2": {"f": 0.0}, "rouge-l": {"f": 0.0}}
        else:
            rouge = Rouge()
            scores = rouge.get_scores(" ".join(hypothesis), " ".join(reference))
            result = scores[0]
        for k, v in result.items():
            score_dict[k].append(round(v["f"] * 100, 4))
        bleu_score = sentence_bleu([list(label)], list(pred),
                                   smoothing_function=SmoothingFunction().method3)
        score_dict["bleu-4"].append(round(bleu_score * 100, 4))
    res = {k: float(np.mean(v)) for k, v in score_dict.items()}
    t2 = time.perf_counter()
    res["n"] = len(pairs)
    print(json.dumps(res))
    print("load %.3f score %.3f" % (t1 - t0, t2 - t1), file=sys.stderr)


if __name__ == "__main__":
    main()
