#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Token ids of the golden chat-template renderings with SentencePiece-style vocabularies
(issue 15): the text of tests/data/chat_templates/golden.json (tests/ref/chat_templates.py)
for the templates of the SentencePiece families, tokenized as apply_chat_template(tokenize=True)
does (tokenizer(text, add_special_tokens=False)) by the variants of
tests/data/tokenizer/spm/tokenizer.json (tests/ref/tokenizer_spm.py) that match them.

Run from the repository root:
    /work/venv-ref/bin/python tests/ref/chat_templates_spm.py
Writes tests/data/chat_templates/spm_golden.json; tests/formats/test_chat_jinja.c compares.
Committed output made with transformers 5.25.0, tokenizers 0.23.3.
"""
import json
import os
import sys

from transformers import PreTrainedTokenizerFast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenizer_spm  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "chat_templates")
# template -> variants of the SentencePiece fixture to tokenize its renderings with
FAMILIES = {
    "microsoft-Phi-3.5-mini-instruct": ["phi3", "llama2"],
    "mistralai-Mistral-Nemo-Instruct-2407": ["mistral", "llama2"],
    "mistralai-Ministral-3-14B-Reasoning-2512": ["mistral"],
    "unsloth-mistral-Devstral-Small-2507": ["mistral"],
    "Mistral-Small-3.2-24B-Instruct-2506": ["mistral"],
    "google-gemma-2-2b-it": ["gemma"],
    "HuggingFaceTB-SmolLM2-135M-Instruct": ["mistral", "llama2", "phi3", "always"],
}


def main():
    golden = json.load(open(os.path.join(ROOT, "golden.json"), encoding="utf-8"))
    toks = {}
    out = {}
    for name, variants in FAMILIES.items():
        key = "corpus/%s.jinja" % name
        for v in variants:
            if v not in toks:
                toks[v] = PreTrainedTokenizerFast(tokenizer_object=tokenizer_spm.load(v))
            tok = toks[v]
            ids = [tok(r["text"], add_special_tokens=False)["input_ids"] if "text" in r else None
                   for r in golden["templates"][key]["results"]]
            out[key + " " + v] = {"template": key, "variant": v, "ids": ids}
    with open(os.path.join(ROOT, "spm_golden.json"), "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(json.dumps(k) + ": " + json.dumps(v)
                                   for k, v in out.items()) + "\n}\n")
    print("%d template/vocabulary pairs" % len(out))


if __name__ == "__main__":
    main()
