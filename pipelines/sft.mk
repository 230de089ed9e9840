# Reusable SFT pipeline: raw JSONL -> .tok -> .pack -> NF4 base -> LoRA adapter -> predictions of
# the base and the tuned model -> ROUGE/BLEU metrics -> report (qlora-tools(7)); the tuned model
# merged into MODEL and exported for llama.cpp (target export: OUT/model-GGUF_TYPE.gguf). Include it from a Makefile or run
#   make -f pipelines/sft.mk MODEL=dir DATA_TRAIN=train.jsonl DATA_EVAL=eval.jsonl OUT=out
# Every recipe is one tool invocation that works alone from a shell; the tools write their
# outputs atomically, so `make -j` and interrupted runs never leave half-written files.

# The directory holding this file (its helper scripts sit beside it), wherever it is included from.
SFT_DIR      := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
QT_BIN       ?= bin
MODEL        ?= models/SmolLM2-135M-Instruct
DATA_TRAIN   ?= train.jsonl
DATA_EVAL    ?= eval.jsonl
OUT          ?= out
PROMPT_KEY   ?= content
RESPONSE_KEY ?= summary
SEQ_LEN      ?= 512
VAL_COUNT    ?= 32
RANK         ?= 16
ALPHA        ?= 32
STEPS        ?= 100
# LoRA's 2e-4; with METHOD=prefix 5e-3, ChatGLM2 P-Tuning v2's 2e-2 scaled for the projection
# MLP (below), through which 2e-2 diverges
LR           ?= $(if $(filter prefix,$(METHOD)),5e-3,2e-4)
GRAD_ACCUM   ?= 1
EVAL_EVERY   ?= 25
SEED         ?= 42
MAX_NEW      ?= 80
GEN_BATCH    ?= 16
# nf4: QLoRA, the frozen base quantized by quantize-nf4 (both models are evaluated on it);
# none: LoRA on MODEL as it is.
QUANT        ?= nf4
# lora: LoRA pairs (RANK, ALPHA); prefix: P-Tuning v2 / PEFT's prefix tuning, VTOKENS slots
# per layer; a prefix changes no weight, so METHOD=prefix has no merge and no GGUF export
# (llama.cpp has no prefix adapters). ChatGLM2's recipe (PRE_SEQ_LEN 128, LR 2e-2, a plain
# table, 3000 steps of 16 samples) scaled to a budget of about a hundred steps of 3 samples:
# its N(0,1) starting table (PEFT's too) takes the default model's loss from 3.1 to 11.7 and
# 60 steps do not bring it back, so the table is made by PEFT's projection MLP (ChatGLM2's
# prefix_projection), which starts near the base (4.1); 32 slots, half the step time of 128.
# Measured on the demo: qlora-tools(7), EXAMPLES.
METHOD       ?= lora
VTOKENS      ?= 32
# METHOD=prefix, lora-train(1)'s --prefix-* options, ChatGLM2's conventions by default:
# PREFIX_POSITIONS 0 numbers the real tokens from 0 as ChatGLM2's model does (after: from
# VTOKENS on, as PEFT with transformers does); PREFIX_DROPOUT, its dropout on the prefix's keys
# and values in training; PREFIX_PROJECTION=1 (the default; ChatGLM2's prefix_projection, off
# in its recipe), PEFT's reparametrisation MLP with PREFIX_HIDDEN hidden units (empty:
# lora-train's default, the key/value width); 0, the plain table of ChatGLM2's recipe (then
# LR=2e-2 and thousands of steps).
PREFIX_POSITIONS  ?= 0
PREFIX_DROPOUT    ?= 0.1
PREFIX_PROJECTION ?= 1
PREFIX_HIDDEN     ?=
SFT_PREFIX_FLAGS  = --method prefix --virtual-tokens $(VTOKENS) \
  --prefix-positions $(PREFIX_POSITIONS) --prefix-dropout $(PREFIX_DROPOUT) \
  $(if $(filter 1,$(PREFIX_PROJECTION)),--prefix-projection \
  $(if $(PREFIX_HIDDEN),--prefix-hidden $(PREFIX_HIDDEN)))
# export-gguf --type of the exported tuned model
GGUF_TYPE    ?= q4_k_m
# EVAL_GEN=n: lora-train also generates n tokens for DATA_EVAL's prompts at every evaluation
# and logs their ROUGE/BLEU (--eval-prompts, the recipe's predict_with_generate); 0: off.
EVAL_GEN     ?= 0
TRAIN_FLAGS  ?=
GEN_FLAGS    ?=
# NP=4: lora-train under mpirun as 4 data-parallel ranks (lora-train(1), DISTRIBUTED TRAINING);
# a step is then NP x GRAD_ACCUM blocks, each rank training GRAD_ACCUM of them. As root (CI)
# OpenMPI needs --allow-run-as-root; --oversubscribe allows more ranks than cores.
NP           ?= 1
MPIRUN       ?= mpirun
MPIRUN_FLAGS ?= --oversubscribe $(if $(filter 0,$(shell id -u)),--allow-run-as-root)
SFT_LAUNCH   := $(if $(filter-out 1,$(NP)),$(MPIRUN) -np $(NP) $(MPIRUN_FLAGS) )

SFT_TOK      := $(OUT)/train.tok
SFT_PACK     := $(OUT)/train.pack
SFT_VAL      := $(OUT)/val.pack
SFT_ADAPTER  := $(OUT)/run/adapter/adapter_config.json
ifeq ($(QUANT),nf4)
SFT_BASE     := $(OUT)/base-nf4
SFT_BASE_DEP := $(SFT_BASE)/config.json
else
SFT_BASE     := $(MODEL)
SFT_BASE_DEP := $(MODEL)/config.json
endif

$(OUT)/base-nf4/config.json: $(MODEL)/config.json
	@mkdir -p $(OUT)
	$(QT_BIN)/quantize-nf4 -o $(OUT)/base-nf4 $(MODEL)

$(SFT_TOK): $(DATA_TRAIN) $(MODEL)/tokenizer.json
	@mkdir -p $(OUT)
	$(QT_BIN)/tok-chatml -t $(MODEL)/tokenizer.json --prompt-key $(PROMPT_KEY) \
	  --response-key $(RESPONSE_KEY) -o $@ $(DATA_TRAIN)

# pack writes both files in one run: a grouped target (GNU make 4.3), so make knows one recipe
# makes both and never sees one as older than the other.
$(SFT_PACK) $(SFT_VAL) &: $(SFT_TOK)
	$(QT_BIN)/pack --seq-len $(SEQ_LEN) --seed $(SEED) --val-count $(VAL_COUNT) \
	  --val-out $(SFT_VAL) -o $(SFT_PACK) $<

$(SFT_ADAPTER): $(SFT_PACK) $(SFT_VAL) $(SFT_BASE_DEP)
	$(SFT_LAUNCH)$(QT_BIN)/lora-train -m $(SFT_BASE) --train $(SFT_PACK) --val $(SFT_VAL) -o $(OUT)/run \
	  $(if $(filter prefix,$(METHOD)),$(SFT_PREFIX_FLAGS),--rank $(RANK) --alpha $(ALPHA)) \
	  --lr $(LR) --max-steps $(STEPS) \
	  --grad-accum $(GRAD_ACCUM) --eval-every $(EVAL_EVERY) --seed $(SEED) \
	  $(if $(filter-out 0,$(EVAL_GEN)),--eval-prompts $(DATA_EVAL) --eval-prompt-key $(PROMPT_KEY) \
	  --eval-label-key $(RESPONSE_KEY) --eval-generate $(EVAL_GEN)) $(TRAIN_FLAGS)

$(OUT)/pred-base.jsonl: $(DATA_EVAL) $(SFT_BASE_DEP)
	@mkdir -p $(OUT)
	$(QT_BIN)/gen -m $(SFT_BASE) --prompt-key $(PROMPT_KEY) --label-key $(RESPONSE_KEY) \
	  --max-new-tokens $(MAX_NEW) --batch $(GEN_BATCH) $(GEN_FLAGS) -o $@ $(DATA_EVAL)

$(OUT)/pred-tuned.jsonl: $(DATA_EVAL) $(SFT_ADAPTER)
	$(QT_BIN)/gen -m $(SFT_BASE) --adapter $(OUT)/run/adapter --prompt-key $(PROMPT_KEY) \
	  --label-key $(RESPONSE_KEY) --max-new-tokens $(MAX_NEW) --batch $(GEN_BATCH) $(GEN_FLAGS) \
	  -o $@ $(DATA_EVAL)

$(OUT)/metrics-%.json: $(OUT)/pred-%.jsonl
	$(QT_BIN)/rouge-zh -o $@ $<

$(OUT)/loss.png: $(SFT_ADAPTER) $(SFT_DIR)/loss.sh
	sh $(SFT_DIR)/loss.sh $(OUT)/run/log.jsonl $@

# For llama.cpp: the adapter merged into MODEL (full precision, also after QLoRA on the NF4
# base), then one GGUF file.
$(OUT)/merged/config.json: $(SFT_ADAPTER) $(MODEL)/config.json
	$(QT_BIN)/lora-merge --quiet -m $(MODEL) -a $(OUT)/run/adapter -o $(OUT)/merged

$(OUT)/model-$(GGUF_TYPE).gguf: $(OUT)/merged/config.json
	$(QT_BIN)/export-gguf --quiet --type $(GGUF_TYPE) -o $@ $(OUT)/merged

export: $(OUT)/model-$(GGUF_TYPE).gguf
.PHONY: export

SFT_EXPORT   := $(if $(filter prefix,$(METHOD)),,$(OUT)/model-$(GGUF_TYPE).gguf)
$(OUT)/report.md: $(OUT)/metrics-base.json $(OUT)/metrics-tuned.json $(OUT)/loss.png \
                  $(SFT_EXPORT) $(SFT_DIR)/report.sh
	sh $(SFT_DIR)/report.sh $(OUT) $(DATA_TRAIN) $(QT_BIN) > $@.tmp && mv $@.tmp $@

sft: $(OUT)/report.md
	@cat $(OUT)/report.md
.PHONY: sft
