#!/usr/bin/env python3
# A tiny random Llama with SmolLM2's vocabulary, for the end-to-end pipeline test
# (tests/cli/pipeline/): the test pairs these weights with tests/data/tokenizer/smollm2's
# tokenizer.json, so the whole sft.mk pipeline (ChatML, NF4, LoRA, gen, ROUGE) runs in seconds.
# Run from the repository root:
#
#     /work/venv-ref/bin/python tests/ref/sft_tiny_model.py
#
# Committed output produced with torch 2.15.0, transformers 5.23.0. Writes tests/data/sft-tiny/
# config.json, generation_config.json and model.safetensors (bf16, tied embeddings, ~1.6 MB).
import os

import torch
from transformers import LlamaConfig, LlamaForCausalLM

out = "tests/data/sft-tiny"
torch.manual_seed(20261123)
cfg = LlamaConfig(vocab_size=49152, hidden_size=16, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, num_key_value_heads=1, head_dim=8,
                  max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=True,
                  bos_token_id=1, eos_token_id=2, pad_token_id=2)
model = LlamaForCausalLM(cfg).to(torch.bfloat16)
os.makedirs(out, exist_ok=True)
model.save_pretrained(out, safe_serialization=True)
