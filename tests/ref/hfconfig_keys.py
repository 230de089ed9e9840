#!/usr/bin/env python3
# The config.json keys that matter to transformers' Llama, Mistral, Qwen2, Qwen3, Gemma, Gemma-2, Phi-3, GLM and GLM-4
# models: every key that their configs (LlamaConfig() ... Glm4Config()) write, every config
# attribute that modeling_llama/mistral/qwen2/qwen3/gemma/gemma2/phi3/glm/glm4.py and modeling_rope_utils.py read
# (config.X, getattr(config, "X")), and the keys read from a rope_parameters dict. formats/hfconfig_keys.c must give each one a role
# (implemented, refused, no effect on the math): tests/formats/test_hfconfig.c checks it.
#   /work/venv-ref/bin/python tests/ref/hfconfig_keys.py
# Writes tests/data/hfconfig/reference-keys.txt. Committed output produced with transformers 5.25.0.
import inspect, re

import transformers
from transformers import LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config, GemmaConfig, Gemma2Config, Phi3Config, GlmConfig, Glm4Config
from transformers import modeling_rope_utils
from transformers.models.llama import modeling_llama
from transformers.models.mistral import modeling_mistral
from transformers.models.qwen2 import modeling_qwen2
from transformers.models.qwen3 import modeling_qwen3
from transformers.models.gemma import modeling_gemma
from transformers.models.gemma2 import modeling_gemma2
from transformers.models.phi3 import modeling_phi3
from transformers.models.glm import modeling_glm
from transformers.models.glm4 import modeling_glm4

keys = set()
for cfg in (LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config, GemmaConfig, Gemma2Config, Phi3Config,
            GlmConfig, Glm4Config):
    keys |= set(cfg().to_dict())
for mod in (modeling_llama, modeling_mistral, modeling_qwen2, modeling_qwen3, modeling_gemma,
            modeling_gemma2, modeling_phi3, modeling_glm, modeling_glm4,
            modeling_rope_utils):
    src = inspect.getsource(mod)
    keys |= set(re.findall(r"\bconfig\.([a-z][a-z0-9_]*)\b(?!\()", src))
    keys |= set(re.findall(r"getattr\((?:self\.)?config, \"([a-z0-9_]+)\"", src))
    keys |= set(re.findall(r"rope_parameters(?:_dict)?(?:\[[a-z_]+\])?\[\"([a-z0-9_]+)\"\]", src))
    keys |= set(re.findall(r"rope_parameters(?:_dict)?(?:\[[a-z_]+\])?\.get\(\"([a-z0-9_]+)\"", src))
# methods and helpers of the config object, not keys of config.json
keys -= {"standardize_rope_params", "validate_rope", "to_dict", "per_layer_config",
         "default_theta", "get_text_config", "json"}  # "json": the file name config.json
keys = sorted(k for k in keys if not k.startswith("_"))
with open("tests/data/hfconfig/reference-keys.txt", "w") as f:
    f.write("# transformers %s: keys of Llama/Mistral/Qwen2/Qwen3/Gemma/Gemma2/Phi3/Glm/Glm4Config and those the models read\n"
            % transformers.__version__)
    for k in keys:
        f.write(k + "\n")
