#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Golden renderings of real chat templates by transformers, for the C Jinja subset (issue 15).

Run from the repository root with the reference venv (transformers, jinja2, tokenizers):
    /work/venv-ref/bin/python tests/ref/chat_templates.py
Committed output made with transformers 5.25.0, jinja2 3.1.6, tokenizers 0.23.3.

Templates: tests/data/chat_templates/corpus/*.jinja, copied verbatim from llama.cpp's
models/templates (the llama-cpp-python 0.3.36 source distribution on PyPI, vendor/llama.cpp),
plus SmolLM2-135M-Instruct's template from its tokenizer_config.json. marked/*.jinja are
templates with TRL-style {% generation %} markers (see mask_pairs below).

For every template and every conversation of CONVERSATIONS, apply_chat_template renders the text
(tokenize=False) with the variables transformers passes (messages, tools, documents,
add_generation_prompt, and the bos/eos strings of the template's family, given as kwargs so
they do not depend on a tokenizer file). strftime_now is pinned to NOW. The text is then
tokenized with the SmolLM2 tokenizer (tests/data/tokenizer/smollm2/tokenizer.json,
add_special_tokens=False, as apply_chat_template(tokenize=True) does): those ids check the
C side's encoding of a rendering (template text, special tokens, data) on every template.
A template that raises gives {"error": message}. For templates with {% generation %} markers,
"mask" is return_assistant_tokens_mask (TRL's assistant_only_loss) on the same ids.

Writes tests/data/chat_templates/golden.json.
"""
import datetime
import json
import os
import sys

import jinja2
import transformers
import transformers.utils.chat_template_utils as ctu
from transformers import PreTrainedTokenizerFast

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "chat_templates")
NOW = 1721952000  # 2024-07-26 00:00:00 UTC


class FixedDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.datetime(2024, 7, 26, 0, 0, 0)


ctu.datetime = FixedDatetime

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}]

CONVERSATIONS = [
    {"messages": [{"role": "user", "content": "Hello!"}], "add_generation_prompt": True},
    {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                  {"role": "user", "content": "What is 2+2?"},
                  {"role": "assistant", "content": "2+2 = 4."}]},
    {"messages": [{"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello! How can I help?"},
                  {"role": "user", "content": "Tell me a joke."},
                  {"role": "assistant", "content": "Why did the chicken cross the road?"}]},
    {"messages": [{"role": "system", "content": "你是一个乐于助人的助手。"},
                  {"role": "user", "content": "你好，请介绍一下北京。\n谢谢！"},
                  {"role": "assistant", "content": "北京是中国的首都。😀\n\n它有很多名胜古迹。"},
                  {"role": "user", "content": "He said \"don't\" & left\ttab {{ x }} {% if %}"}],
     "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "  leading and trailing spaces  \n"},
                  {"role": "assistant", "content": "\nanswer after a newline\n"}]},
    {"messages": [{"role": "user", "content": "Solve 1+1"},
                  {"role": "assistant", "content": "<think>\nsimple math\n</think>\n\n1+1=2"},
                  {"role": "user", "content": "And 2+2?"},
                  {"role": "assistant", "content": "<think>\nagain\n</think>\n\n4"}]},
    {"messages": [{"role": "user", "content": "What's the weather in Paris?"}],
     "tools": TOOLS, "add_generation_prompt": True},
    {"messages": [{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Hi"}], "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": "", "tool_calls": [
                      {"type": "function", "id": "call_1", "function": {
                          "name": "get_weather", "arguments": {"city": "Paris"}}}]},
                  {"role": "tool", "name": "get_weather", "tool_call_id": "call_1",
                   "content": "{\"temp\": 20}"},
                  {"role": "assistant", "content": "It is 20°C in Paris."}], "tools": TOOLS},
    {"messages": [{"role": "assistant", "content": "I speak first."},
                  {"role": "user", "content": "ok"}], "add_generation_prompt": True},
    {"messages": [{"role": "system", "content": "Only a system prompt."}]},
    # added for the whole-corpus count (issue 15): content as a list of text parts (the
    # multimodal message form), reasoning_content beside content, an empty assistant turn,
    # a generation prompt after an assistant turn, two system messages, no generation prompt
    # after a lone user turn, a long multi-turn chat
    {"messages": [{"role": "system", "content": [{"type": "text", "text": "Parts system."}]},
                  {"role": "user", "content": [{"type": "text", "text": "Part one."},
                                               {"type": "text", "text": "Part two."}]},
                  {"role": "assistant", "content": [{"type": "text", "text": "Parts reply."}]}]},
    {"messages": [{"role": "user", "content": "Why is the sky blue?"},
                  {"role": "assistant", "content": "Rayleigh scattering.",
                   "reasoning_content": "Short physics answer."},
                  {"role": "user", "content": "Thanks"}], "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "Say nothing."},
                  {"role": "assistant", "content": ""}]},
    {"messages": [{"role": "user", "content": "Continue:"},
                  {"role": "assistant", "content": "Once upon"}], "add_generation_prompt": True},
    {"messages": [{"role": "system", "content": "First system."},
                  {"role": "system", "content": "Second system."},
                  {"role": "user", "content": "Hi"}], "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "No prompt after me."}]},
    {"messages": [{"role": "system", "content": "Count."}] +
     [{"role": r, "content": "%s %d" % (r, i)} for i in range(1, 5)
      for r in ("user", "assistant")], "add_generation_prompt": False},
]

# bos/eos strings by family (the tokens of each model's tokenizer_config.json); None: absent.
FAMILIES = [
    ("Llama-3", "<|begin_of_text|>", "<|eot_id|>"),
    ("llama-3", "<|begin_of_text|>", "<|eot_id|>"),
    ("functionary", "<|begin_of_text|>", "<|eot_id|>"),
    ("deepseek", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("gemma", "<bos>", "<eos>"),
    ("Phi-3", "<s>", "<|endoftext|>"),
    ("Qwen", None, "<|im_end|>"),
    ("SmolLM2", "<|im_start|>", "<|im_end|>"),
    ("SmolLM3", None, "<|im_end|>"),
    ("granite", "<|end_of_text|>", "<|end_of_text|>"),
    ("", "<s>", "</s>"),
]


def family_tokens(name):
    for key, bos, eos in FAMILIES:
        if key in name:
            return bos, eos


def main():
    tok = PreTrainedTokenizerFast(
        tokenizer_file=os.path.join(ROOT, "..", "tokenizer", "smollm2", "tokenizer.json"))
    out = {"now": NOW, "transformers": transformers.__version__, "jinja2": jinja2.__version__,
           "conversations": CONVERSATIONS, "templates": {}}
    names = sorted(os.listdir(os.path.join(ROOT, "corpus")))
    names = ["corpus/" + n for n in names] + \
        ["marked/" + n for n in sorted(os.listdir(os.path.join(ROOT, "marked")))]
    for name in names:
        with open(os.path.join(ROOT, name), encoding="utf-8") as f:
            tpl = f.read()
        bos, eos = family_tokens(name)
        kw = {}
        if bos is not None:
            kw["bos_token"] = bos
        if eos is not None:
            kw["eos_token"] = eos
        marked = "{% generation" in tpl or "{%- generation" in tpl
        results = []
        for conv in CONVERSATIONS:
            try:
                text = tok.apply_chat_template(
                    conv["messages"], tools=conv.get("tools"), chat_template=tpl,
                    add_generation_prompt=conv.get("add_generation_prompt", False),
                    tokenize=False, **kw)
                r = {"text": text, "ids": tok(text, add_special_tokens=False)["input_ids"]}
                if marked:
                    m = tok.apply_chat_template(
                        conv["messages"], tools=conv.get("tools"), chat_template=tpl,
                        add_generation_prompt=conv.get("add_generation_prompt", False),
                        tokenize=True, return_dict=True, return_assistant_tokens_mask=True, **kw)
                    assert m["input_ids"] == r["ids"]
                    r["mask"] = m["assistant_masks"]
            except Exception as e:  # the template raised (raise_exception, an error)
                r = {"error": "%s: %s" % (type(e).__name__, e)}
            results.append(r)
        out["templates"][name] = {"vars": kw, "results": results}
        print(name, sum("text" in r for r in results), "rendered", file=sys.stderr)
    # one line per template, so a regeneration diffs by template
    tpls = out.pop("templates")
    with open(os.path.join(ROOT, "golden.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(out, ensure_ascii=False)[:-1] + ', "templates": {\n')
        f.write(",\n".join(json.dumps(k, ensure_ascii=False) + ": " +
                           json.dumps(v, ensure_ascii=False) for k, v in tpls.items()))
        f.write("\n}}\n")


if __name__ == "__main__":
    main()
