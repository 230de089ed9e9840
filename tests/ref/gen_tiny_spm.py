#!/usr/bin/env python3
# qlora-tools: ISC license.
"""gen with a SentencePiece-style tokenizer (issue 15): the tiny random Llama of
tests/ref/gen_tiny_model.py (vocabulary 49152, so every Llama-2 id fits) with the
SentencePiece fixture tests/data/tokenizer/spm/tokenizer.json (tests/ref/tokenizer_spm.py)
and Mistral-Nemo's chat template. transformers' greedy continuations (8 new tokens, fp32) of
the prompts of tests/cli/gen/spm-tiny.sh, as comma-separated ids, go to
tests/data/gen/tiny-spm-greedy.ids (eos 2 = "</s>" ends a continuation).

Run from the repository root:  /work/venv-ref/bin/python tests/ref/gen_tiny_spm.py
Committed output made with torch 2.15.0, transformers 5.25.0.
"""
import os

import torch
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "data")
PROMPTS = ["Hello world", "类型#上衣*颜色#白色", " two  spaces\nand a line"]

tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(data, "tokenizer", "spm",
                                                          "tokenizer.json"),
                              bos_token="<s>", eos_token="</s>")
with open(os.path.join(data, "chat_templates", "corpus",
                       "mistralai-Mistral-Nemo-Instruct-2407.jinja"), encoding="utf-8") as f:
    tpl = f.read()
m = LlamaForCausalLM.from_pretrained(os.path.join(data, "gen", "tiny"),
                                     dtype=torch.float32).eval()
with open(os.path.join(data, "gen", "tiny-spm-greedy.ids"), "w") as f:
    for p in PROMPTS:
        ids = tok.apply_chat_template([{"role": "user", "content": p}], chat_template=tpl,
                                      add_generation_prompt=True, tokenize=True,
                                      return_dict=True, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            r = m.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                           max_new_tokens=8, eos_token_id=2, pad_token_id=2)
        new = r[0, ids.shape[1]:].tolist()
        if 2 in new:
            new = new[:new.index(2)]
        print(ids[0].tolist(), new)
        f.write(",".join(str(i) for i in new) + "\n")
