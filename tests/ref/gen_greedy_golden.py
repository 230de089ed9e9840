#!/usr/bin/env python3
# Greedy continuations of transformers generate(do_sample=False) on the default model, for
# tests/kernels/model/test_llama_greedy.c (gen's greedy decoding token for token):
#   tests/data/gen/greedy-prompts.jsonl  24 {"messages": [{"role": "user", ...}]} records
#                                        (12 Chinese, 12 English; no system message, so the
#                                        model's default system prompt applies)
#   tests/data/gen/greedy-ids.txt        per prompt: the new token ids, space-separated (the
#                                        eos <|im_end|> excluded, as gen's "new_tokens")
#   tests/data/gen/greedy-margins.txt    per prompt: the smallest top1 - top2 logit gap over
#                                        its steps, and the step (for diagnosing a near-tie)
# Prompts are rendered with tokenizer.apply_chat_template(add_generation_prompt=True) from the
# model's tokenizer_config.json; the model runs in fp32 (bf16 weights widened), one prompt at a
# time (no padding), max_new_tokens 24.
# Run from the repository root:  /work/venv-ref/bin/python tests/ref/gen_greedy_golden.py
# Committed output made with torch 2.15.0, transformers 5.23.0, tokenizers 0.23.3 (CPU).
import json, os
import torch
from transformers import AutoTokenizer, LlamaForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..")
out = os.path.join(here, "..", "data", "gen")
MODEL = os.environ.get("QT_MODEL_DIR", os.path.join(root, "models", "SmolLM2-135M-Instruct"))
MAX_NEW = 24

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about autumn leaves.",
    "Explain photosynthesis in one sentence.",
    "List three primary colors.",
    "How do I reverse a string in Python?",
    "What is 12 times 7?",
    "Give me a tip for better sleep.",
    "Translate 'good morning' into Spanish.",
    "Who wrote Romeo and Juliet?",
    "Describe the ocean in five words.",
    "What does a CPU do?",
    "Suggest a name for a pet cat.",
    "中国的首都是哪里？",
    "请用一句话介绍一下长城。",
    "写一首关于春天的短诗。",
    "什么是人工智能？",
    "如何学习一门新的语言？",
    "推荐一本好书。",
    "类型#上衣*颜色#白色*风格#简约*图案#条纹",
    "类型#裙*材质#雪纺*风格#清新*裙长#连衣裙",
    "今天天气怎么样？",
    "请解释一下什么是机器学习。",
    "给我讲一个笑话。",
    "1加1等于几？",
]


def main():
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(MODEL)
    m = LlamaForCausalLM.from_pretrained(MODEL, dtype=torch.float32).eval()
    eos = m.generation_config.eos_token_id
    with open(os.path.join(out, "greedy-prompts.jsonl"), "w", encoding="utf-8") as fp, \
         open(os.path.join(out, "greedy-ids.txt"), "w") as fi, \
         open(os.path.join(out, "greedy-margins.txt"), "w") as fm:
        for p in PROMPTS:
            msgs = [{"role": "user", "content": p}]
            fp.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")
            ids = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                          return_dict=True, return_tensors="pt")["input_ids"]
            with torch.no_grad():
                r = m.generate(ids, do_sample=False, max_new_tokens=MAX_NEW,
                               output_scores=True, return_dict_in_generate=True)
            new = r.sequences[0, ids.shape[1]:].tolist()
            if eos in new:
                new = new[:new.index(eos)]
            fi.write(" ".join(str(i) for i in new) + "\n")
            gaps = []
            for s in r.scores[:len(new) + 1]:
                top = torch.topk(s[0].float(), 2).values
                gaps.append((top[0] - top[1]).item())
            k = min(range(len(gaps)), key=lambda i: gaps[i])
            fm.write("%.6g %d\n" % (gaps[k], k))


if __name__ == "__main__":
    main()
