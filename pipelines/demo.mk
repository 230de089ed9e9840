# The demo: the README's main job. Included by the top Makefile.
# Builds the tools, obtains the default model (make model), generates the project's own ADGEN-
# shaped Chinese product-description data, and runs the SFT pipeline on it.

DEMO_OUT   ?= out
DEMO_SEED  ?= 20261122
DEMO_TRAIN ?= 2000
DEMO_EVAL  ?= 24
DEMO_STEPS ?= 120
# 608 tokens hold three of the generated samples (about 200 tokens each) per block.
DEMO_SEQ   ?= 608

$(BIN)/adgen-data: pipelines/adgen-data.c common/rng.c common/rng.h $(BUILD)/.deps
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(QT_CFLAGS) -o $@ pipelines/adgen-data.c common/rng.c

# Training and evaluation sets come from disjoint seeds, so no eval prompt is seen in training.
$(DEMO_OUT)/data/train.jsonl: $(BIN)/adgen-data
	@mkdir -p $(dir $@)
	$(BIN)/adgen-data $(DEMO_SEED) $(DEMO_TRAIN) > $@.tmp && mv $@.tmp $@
$(DEMO_OUT)/data/eval.jsonl: $(BIN)/adgen-data
	@mkdir -p $(dir $@)
	$(BIN)/adgen-data $$(( $(DEMO_SEED) + 1 )) $(DEMO_EVAL) > $@.tmp && mv $@.tmp $@

demo-data: $(DEMO_OUT)/data/train.jsonl $(DEMO_OUT)/data/eval.jsonl
.PHONY: demo-data demo

# The demo runs the generic SFT pipeline on the default model and the generated data, with a
# step budget that fits about 15 minutes on 2 CPU cores.
demo: all model demo-data
	$(MAKE) -f pipelines/sft.mk QT_BIN=$(BIN) MODEL=$(MODEL_DIR) OUT=$(DEMO_OUT) \
	  DATA_TRAIN=$(DEMO_OUT)/data/train.jsonl DATA_EVAL=$(DEMO_OUT)/data/eval.jsonl \
	  STEPS=$(DEMO_STEPS) SEQ_LEN=$(DEMO_SEQ) EVAL_EVERY=20 MAX_NEW=64 sft
