#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Tiny models with real tokenizer kinds for export-gguf's tokenizer metadata (issue 19): the
SentencePiece vocabularies of Llama-2, Gemma, Gemma-2 and Phi-3 and GLM-4's byte-level BPE.
Each tokenizer.model is a SentencePiece BPE trained here on tests/data/tokenizer/corpus.jsonl
with the settings of the model it stands for; transformers builds tokenizer.json and
tokenizer_config.json from it as it does for the real checkpoints. Weights are random and
tiny (bf16, hidden 16): only the tokenizer matters.

Run from the repository root (transformers reads a tokenizer.model with protobuf, which the
reference venv lacks: pip install --target DIR protobuf, then PYTHONPATH=DIR):
    LLAMACPP_SRC=SDIST/vendor/llama.cpp PYTHONPATH=DIR \
        /work/venv-ref/bin/python tests/ref/export_tokenizer_models.py
Committed output made with sentencepiece 0.2.3, tokenizers 0.23.3, transformers 5.25.0,
torch 2.15.0, protobuf 7.36.2. Writes tests/data/export/tok/NAME/ and tests/data/export/tok/strings.jsonl
(the strings tests/ref/export_tokenizer_llamacpp.py tokenizes):

  llama-spm  Llama-2: byte_fallback, split_digits, a dummy prefix, <unk> <s> </s>,
             LlamaTokenizer (transformers 5: Metaspace, prepend_scheme first), Llama-2's chat
             template
  gemma      Gemma: no dummy prefix, <pad> <eos> <bos> <unk>, user-defined <start_of_turn>
             <end_of_turn>, <mask>, GemmaTokenizer
  gemma2     the same tokenizer under Gemma-2
  phi3       Phi-3: Llama-2's settings plus added tokens (<|endoftext|>, <|assistant|>, ...,
             one not special) above the pieces, vocab_size padded past them
  glm4       GLM-4: byte-level BPE with the Llama-3 split, ignore_merges, GLM's added tokens
             ([gMASK] <sop> <|user|> ...)
  glm        the same vocabulary with merges not ignored (llama.cpp's chatglm-bpe)
"""
import io
import json
import os
import shutil

import sentencepiece as spm
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers, Regex
from transformers import (AddedToken, AutoTokenizer, Gemma2Config, Gemma2ForCausalLM,
                          GemmaConfig, GemmaForCausalLM, Glm4ForCausalLM, GlmForCausalLM,
                          LlamaConfig, LlamaForCausalLM, Phi3Config, Phi3ForCausalLM,
                          PreTrainedTokenizerFast)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "data", "export", "tok")
V = 1000  # pieces of each tokenizer.model
SMALL = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
             num_key_value_heads=1, head_dim=8, max_position_embeddings=64, rms_norm_eps=1e-5)
LLAMA2_TEMPLATE = ("{% if messages[0]['role'] == 'system' %}{% set sys = '<<SYS>>\\n' + "
                   "messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}{% set messages = messages[1:] %}"
                   "{% else %}{% set sys = '' %}{% endif %}{% for message in messages %}"
                   "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + (sys if loop.first "
                   "else '') + message['content'] + ' [/INST]' }}{% else %}{{ ' ' + message['content'] "
                   "+ ' ' + eos_token }}{% endif %}{% endfor %}")
GEMMA_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{% set role = 'model' if "
                  "message['role'] == 'assistant' else message['role'] %}{{ '<start_of_turn>' + "
                  "role + '\\n' + message['content'] + '<end_of_turn>\\n' }}{% endfor %}"
                  "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}")
PHI3_TEMPLATE = ("{% for message in messages %}{{'<|' + message['role'] + '|>' + '\\n' + "
                 "message['content'] + '<|end|>\\n' }}{% endfor %}{% if add_generation_prompt %}"
                 "{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}")
GLM_TEMPLATE = ("[gMASK]<sop>{% for m in messages %}<|{{ m['role'] }}|>\\n{{ m['content'] }}"
                "{% endfor %}{% if add_generation_prompt %}<|assistant|>\\n{% endif %}")
RE_LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
             r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# strings besides corpus.jsonl's and llama.cpp's ggml-vocab-*.inp: special tokens in text
EXTRA = ["<s>hello</s>", "<s> <s>", "</s>x", "<unk>", "<0x41>B", "[INST] hi [/INST]",
         "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n", "x<end_of_turn>y",
         "<bos><eos><pad><mask>", "<|user|>\nhi<|end|>\n<|assistant|>\n", "<|endoftext|>x",
         "a<|placeholder1|>b", " <|placeholder1|> ", "[gMASK]<sop><|user|>\n你好<|assistant|>",
         "<|observation|>{\"a\": 1}", "\u2581leading", "tab\there", "  two", "\n\n\n", "12345678",
         "日本語のテキスト", "😀🦙", "\u00e9\u0301 caf\u00e9"]


def corpus():
    with open(os.path.join(ROOT, "data", "tokenizer", "corpus.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def train(**kw):
    lines = [s for s in corpus() if s.strip()]
    w = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=w, model_type="bpe", vocab_size=V,
        hard_vocab_limit=False, character_coverage=0.98, byte_fallback=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False, num_threads=1,
        minloglevel=2, **kw)
    return w.getvalue()


def from_model(d, cls, **special):
    """transformers' tokenizer built from d/tokenizer.model, as for a checkpoint that ships
    only that file (its SentencePiece extractor needs protobuf)."""
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(dict(tokenizer_class=cls, **special), f)
    return AutoTokenizer.from_pretrained(d)


def save_model(name, cls, cfg):
    torch.manual_seed(sum(map(ord, name)))
    m = cls(cfg).to(torch.bfloat16).eval()
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    m.save_pretrained(d, safe_serialization=True)
    for f in os.listdir(d):
        if f not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(d, f))
    return d


def save_tokenizer(d, tok, model=None, template=None):
    if template:
        tok.chat_template = template
    tok.save_pretrained(d)
    for f in ("special_tokens_map.json", "chat_template.jinja"):
        if f == "chat_template.jinja" and os.path.exists(os.path.join(d, f)):
            # keep the template in tokenizer_config.json, where older transformers put it
            with open(os.path.join(d, f), encoding="utf-8") as fh:
                t = fh.read()
            p = os.path.join(d, "tokenizer_config.json")
            with open(p, encoding="utf-8") as fh:
                tc = json.load(fh)
            tc["chat_template"] = t
            with open(p, "w", encoding="utf-8") as fh:
                json.dump(tc, fh, ensure_ascii=False, indent=2)
        if os.path.exists(os.path.join(d, f)):
            os.remove(os.path.join(d, f))
    p = os.path.join(d, "tokenizer_config.json")
    with open(p, encoding="utf-8") as fh:
        tc = json.load(fh)
    for k in ("vocab_file", "is_local", "local_files_only"):  # this machine's, not the model's
        tc.pop(k, None)
    if tc.get("tokenizer_class") == "TokenizersBackend":
        tc["tokenizer_class"] = "LlamaTokenizer" if model else "PreTrainedTokenizerFast"
    if model is not None:
        # the added tokens as transformers 4 wrote them, which real checkpoints carry and
        # llama.cpp's converter reads
        with open(os.path.join(d, "tokenizer.json"), encoding="utf-8") as fh:
            added = json.load(fh)["added_tokens"]
        tc["added_tokens_decoder"] = {str(a["id"]): {k: a[k] for k in (
            "content", "lstrip", "normalized", "rstrip", "single_word", "special")} for a in added}
    with open(p, "w", encoding="utf-8") as fh:
        json.dump(tc, fh, ensure_ascii=False, indent=2)
    if model is not None:
        with open(os.path.join(d, "tokenizer.model"), "wb") as f:
            f.write(model)


def llama_like(name, cls, cfg, extra_tokens=(), template=LLAMA2_TEMPLATE):
    model = train(split_digits=True, add_dummy_prefix=True, unk_id=0, bos_id=1, eos_id=2,
                  pad_id=-1)
    d = save_model(name, cls, cfg)
    with open(os.path.join(d, "tokenizer.model"), "wb") as f:
        f.write(model)
    tok = from_model(d, "LlamaTokenizer")
    for content, special in extra_tokens:
        tok.add_tokens([AddedToken(content, special=special, normalized=False, rstrip=False,
                                   lstrip=False)], special_tokens=special)
    save_tokenizer(d, tok, model, template)
    return d


def gemma(name, cls, cfg):
    model = train(add_dummy_prefix=False, pad_id=0, eos_id=1, bos_id=2, unk_id=3,
                  pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
                  user_defined_symbols=["<mask>", "<start_of_turn>", "<end_of_turn>"])
    d = save_model(name, cls, cfg)
    with open(os.path.join(d, "tokenizer.model"), "wb") as f:
        f.write(model)
    tok = from_model(d, "GemmaTokenizer", bos_token="<bos>", eos_token="<eos>",
                     unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
    save_tokenizer(d, tok, model, GEMMA_TEMPLATE)


def glm(name, cls, cfg, ignore_merges):
    specials = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>",
                "<|user|>", "<|assistant|>", "<|observation|>"]
    t = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(RE_LLAMA3), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=V - len(specials), min_frequency=2,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             show_progress=False)
    t.train_from_iterator([s for s in corpus() if s.strip()], trainer=tr)
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    eos = t.token_to_id("<|endoftext|>")
    d = save_model(name, cls, cls.config_class(**cfg, eos_token_id=[eos, t.token_to_id("<|user|>")],
                                               pad_token_id=eos, bos_token_id=None))
    tok = PreTrainedTokenizerFast(tokenizer_object=t, eos_token="<|endoftext|>",
                                  pad_token="<|endoftext|>", clean_up_tokenization_spaces=False)
    save_tokenizer(d, tok, None, GLM_TEMPLATE)


def strings():
    inp = os.environ.get("LLAMACPP_SRC")
    out = [s for s in corpus() if s.strip()][:300]
    if inp:
        with open(os.path.join(inp, "models", "ggml-vocab-llama-spm.gguf.inp"),
                  encoding="utf-8") as f:
            out += [s for s in f.read().split("\n__ggml_vocab_test__\n") if s]
    out += EXTRA
    with open(os.path.join(OUT, "strings.jsonl"), "w", encoding="utf-8") as f:
        for s in out:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    return len(out)


def main():
    os.makedirs(OUT, exist_ok=True)
    ids = dict(bos_token_id=1, eos_token_id=2)
    llama_like("llama-spm", LlamaForCausalLM, LlamaConfig(**SMALL, vocab_size=V, **ids,
                                                          tie_word_embeddings=True))
    gcfg = dict(SMALL, vocab_size=V, pad_token_id=0, eos_token_id=1, bos_token_id=2,
                hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True)
    gemma("gemma", GemmaForCausalLM, GemmaConfig(**gcfg))
    gemma("gemma2", Gemma2ForCausalLM,
          Gemma2Config(**dict(gcfg, num_hidden_layers=2), query_pre_attn_scalar=8,
                       sliding_window=4, layer_types=["full_attention", "sliding_attention"]))
    phi = [("<|endoftext|>", True), ("<|assistant|>", True), ("<|placeholder1|>", False),
           ("<|system|>", True), ("<|end|>", True), ("<|user|>", True)]
    llama_like("phi3", Phi3ForCausalLM,
               Phi3Config(**{k: v for k, v in SMALL.items() if k != "head_dim"},
                          vocab_size=V + 8, bos_token_id=1,
                          eos_token_id=V + 4, pad_token_id=V, sliding_window=None,
                          tie_word_embeddings=False),
               extra_tokens=phi, template=PHI3_TEMPLATE)
    gl = dict(SMALL, vocab_size=V, tie_word_embeddings=False, attention_bias=True)
    glm("glm4", Glm4ForCausalLM, gl, True)
    glm("glm", GlmForCausalLM, gl, False)
    print("%d strings" % strings())


if __name__ == "__main__":
    main()
