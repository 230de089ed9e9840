#!/usr/bin/env python3
# Goldens for formats/hfconfig: Python's repr() of doubles (hf_format_double must match it,
# since transformers writes config.json with json.dumps), and the exact config.json text that
# transformers' to_json_string layout (json.dumps(indent=2, sort_keys=True) + "\n") gives for
# the SmolLM2-135M-Instruct config as import-gguf writes it.
#   /work/venv-ref/bin/python tests/ref/hfconfig.py
# Writes tests/data/hfconfig/repr.txt and tests/data/hfconfig/smollm2_config.json.
# Committed output produced with CPython 3.11.7, numpy 2.4.6.
import json, struct
import numpy as np

rng = np.random.default_rng(7)
vals = [1e-5, 1e-6, 100000.0, 10000.0, 0.02, 0.041666666666666664, 0.0, 1.0, 8.0, 0.1, 1e16,
        1e15, 123456789012345.6, 0.0001, 0.00012, 1e-4, 9.999999747378752e-06, 1e300, 5e-324,
        -2.5, 3.0e-7, 1234.5, 1e22, 1.5e-5]
vals += list(rng.standard_normal(200) * 10.0 ** rng.integers(-12, 20, 200))
vals += [float(np.float32(v)) for v in rng.standard_normal(100) * 10.0 ** rng.integers(-8, 8, 100)]
with open("tests/data/hfconfig/repr.txt", "w") as f:
    for v in vals:
        f.write("%016x %s\n" % (struct.unpack("<Q", struct.pack("<d", v))[0], repr(float(v))))

cfg = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2, "head_dim": 64,
    "hidden_act": "silu", "hidden_size": 576, "initializer_range": 0.02,
    "intermediate_size": 1536, "max_position_embeddings": 8192, "mlp_bias": False,
    "model_type": "llama", "num_attention_heads": 9, "num_hidden_layers": 30,
    "num_key_value_heads": 3, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": None, "rope_theta": 100000.0, "tie_word_embeddings": True,
    "torch_dtype": "bfloat16", "use_cache": True, "vocab_size": 49152,
}
with open("tests/data/hfconfig/smollm2_config.json", "w") as f:
    f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
