#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Token ids of the golden chat-template renderings with the models' own vocabularies (issue 15).

tests/ref/chat_templates.py checks every template's encoding with the SmolLM2 tokenizer; this
script adds the real byte-level BPE vocabularies of the Qwen2/Qwen2.5/Qwen3 and Llama 3.x
families, rebuilt by transformers from llama.cpp's vocab test files (ggml-vocab-qwen2.gguf,
ggml-vocab-llama-bpe.gguf in the llama-cpp-python 0.3.36 source distribution on PyPI,
vendor/llama.cpp/models). Those tokenizer.json files are 11 and 17 MB, too big for the
repository: the script writes them to VOCAB_DIR (default .cache/vocab) and the ids to
tests/data/chat_templates/vocab_golden.json; tests/formats/test_chat_jinja.c compares when
$QT_VOCAB_DIR holds them and reports a skip otherwise.

Run from the repository root (venv with transformers, gguf):
    pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d /tmp/lcp
    tar xzf /tmp/lcp/llama_cpp_python-0.3.36.tar.gz -C /tmp/lcp
    /work/venv-ref/bin/python tests/ref/chat_templates_vocab.py \
        /tmp/lcp/llama_cpp_python-0.3.36/vendor/llama.cpp/models [VOCAB_DIR]
Committed output made with transformers 5.25.0, tokenizers 0.23.3.
"""
import json
import os
import sys

from transformers import AutoTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "chat_templates")
# vocabulary -> templates of models that use it
FAMILIES = {
    "qwen2": ["Qwen-Qwen2.5-7B-Instruct", "Qwen-Qwen3-0.6B", "Qwen-QwQ-32B", "Qwen3-Coder",
              "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B"],
    "llama-bpe": ["meta-llama-Llama-3.1-8B-Instruct", "meta-llama-Llama-3.2-3B-Instruct",
                  "meta-llama-Llama-3.3-70B-Instruct", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B",
                  "NousResearch-Hermes-3-Llama-3.1-8B-tool_use", "HuggingFaceTB-SmolLM3-3B"],
}


def main():
    models = sys.argv[1]
    vocab_dir = sys.argv[2] if len(sys.argv) > 2 else ".cache/vocab"
    golden = json.load(open(os.path.join(ROOT, "golden.json"), encoding="utf-8"))
    out = {}
    for vocab, names in FAMILIES.items():
        tok = AutoTokenizer.from_pretrained(models, gguf_file="ggml-vocab-%s.gguf" % vocab)
        d = os.path.join(vocab_dir, vocab)
        os.makedirs(d, exist_ok=True)
        tok.backend_tokenizer.save(os.path.join(d, "tokenizer.json"))
        for name in names:
            key = "corpus/%s.jinja" % name
            ids = []
            for r in golden["templates"][key]["results"]:
                ids.append(tok(r["text"], add_special_tokens=False)["input_ids"]
                           if "text" in r else None)
            out[key] = {"vocab": vocab, "ids": ids}
    with open(os.path.join(ROOT, "vocab_golden.json"), "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(json.dumps(k) + ": " + json.dumps(v)
                                   for k, v in out.items()) + "\n}\n")


if __name__ == "__main__":
    main()
