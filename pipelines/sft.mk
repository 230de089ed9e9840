# Reusable SFT pipeline: raw JSONL -> .tok -> .pack -> LoRA adapter -> predictions of the base
# and the tuned model -> ROUGE/BLEU metrics -> report. Include it from a Makefile or run
#   make -f pipelines/sft.mk MODEL=dir DATA_TRAIN=train.jsonl DATA_EVAL=eval.jsonl OUT=out
# Every recipe is one tool invocation that works alone from a shell; the tools write their
# outputs atomically, so `make -j` and interrupted runs never leave half-written files.

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
LR           ?= 2e-4
GRAD_ACCUM   ?= 1
EVAL_EVERY   ?= 25
SEED         ?= 42
MAX_NEW      ?= 80
GEN_BATCH    ?= 16

SFT_TOK      := $(OUT)/train.tok
SFT_PACK     := $(OUT)/train.pack
SFT_VAL      := $(OUT)/val.pack
SFT_ADAPTER  := $(OUT)/run/adapter/adapter_config.json

$(SFT_TOK): $(DATA_TRAIN) $(MODEL)/tokenizer.json
	@mkdir -p $(OUT)
	$(QT_BIN)/tok-chatml -t $(MODEL)/tokenizer.json --prompt-key $(PROMPT_KEY) \
	  --response-key $(RESPONSE_KEY) -o $@ $(DATA_TRAIN)

# pack writes both files; the validation set is made in the same run.
$(SFT_PACK): $(SFT_TOK)
	$(QT_BIN)/pack --seq-len $(SEQ_LEN) --seed $(SEED) --val-count $(VAL_COUNT) \
	  --val-out $(SFT_VAL) -o $@ $<
$(SFT_VAL): $(SFT_PACK)

$(SFT_ADAPTER): $(SFT_PACK) $(SFT_VAL)
	$(QT_BIN)/lora-train -m $(MODEL) --train $(SFT_PACK) --val $(SFT_VAL) -o $(OUT)/run \
	  --rank $(RANK) --alpha $(ALPHA) --lr $(LR) --max-steps $(STEPS) \
	  --grad-accum $(GRAD_ACCUM) --eval-every $(EVAL_EVERY) --seed $(SEED)

$(OUT)/pred-base.jsonl: $(DATA_EVAL)
	@mkdir -p $(OUT)
	$(QT_BIN)/gen -m $(MODEL) --prompt-key $(PROMPT_KEY) --label-key $(RESPONSE_KEY) \
	  --max-new-tokens $(MAX_NEW) --batch $(GEN_BATCH) -o $@ $(DATA_EVAL)

$(OUT)/pred-tuned.jsonl: $(DATA_EVAL) $(SFT_ADAPTER)
	$(QT_BIN)/gen -m $(MODEL) --adapter $(OUT)/run/adapter --prompt-key $(PROMPT_KEY) \
	  --label-key $(RESPONSE_KEY) --max-new-tokens $(MAX_NEW) --batch $(GEN_BATCH) -o $@ \
	  $(DATA_EVAL)

$(OUT)/metrics-%.json: $(OUT)/pred-%.jsonl
	$(QT_BIN)/rouge-zh $< > $@.tmp && mv $@.tmp $@

$(OUT)/loss.png: $(SFT_ADAPTER) pipelines/loss.sh
	sh pipelines/loss.sh $(OUT)/run/log.jsonl $@

$(OUT)/report.md: $(OUT)/metrics-base.json $(OUT)/metrics-tuned.json $(OUT)/loss.png \
                  pipelines/report.sh
	sh pipelines/report.sh $(OUT) $(DATA_TRAIN) > $@.tmp && mv $@.tmp $@

sft: $(OUT)/report.md
	@cat $(OUT)/report.md
.PHONY: sft
