# qlora-tools top-level Makefile.
# Every C file under common/, formats/, formats/tokenizer/, jobs/, kernels/, kernels/cpu/,
# kernels/model/ and metrics/ goes into build/libqlora.a;
# every tools/<name>.c becomes bin/<name>; every tests/**/test_*.c becomes a unit test.
# Adding a file never needs an edit here.

PREFIX   ?= /usr/local
BUILD    ?= build
BIN      ?= bin
CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
QT_CFLAGS = -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. $(SANFLAGS)
LDLIBS   += -larchive -lxxhash -ljansson -lpcre2-8 -lutf8proc -lopenblas -lpthread -lm
VERSION  := 0.1.0

LIB_SRC   := $(sort $(wildcard common/*.c formats/*.c formats/tokenizer/*.c jobs/*.c kernels/*.c \
                               kernels/cpu/*.c kernels/model/*.c metrics/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOL_SRC  := $(sort $(wildcard tools/*.c))
TOOLS     := $(TOOL_SRC:tools/%.c=$(BIN)/%)
TEST_SRC  := $(sort $(shell find tests -name 'test_*.c' 2>/dev/null))
TESTS     := $(TEST_SRC:%.c=$(BUILD)/%)

# CUDA objects (kernels/cuda/*.cu with nvcc, and the C of kernels/cuda/*.c: the backend
# table) are compiled whenever nvcc exists, so CI proves they build. They go into
# build/libqlora_cuda.a, linked (with cudart; cuBLAS is opened by dlopen when a GPU is used:
# kernels/cuda/device.cu) into every tool and test, and
# --undefined pulls in cuda_probe and qt_backend_cuda (kernels/device.c and
# kernels/backend.h refer to them weakly); without nvcc (or with NVCC=) there is simply no
# CUDA backend, and tests/kernels/cuda/ is not built.
NVCC      ?= $(shell command -v nvcc 2>/dev/null)
CU_SRC    := $(sort $(wildcard kernels/cuda/*.cu))
CU_C_SRC  := $(sort $(wildcard kernels/cuda/*.c))
ifneq ($(NVCC),)
CU_OBJ    := $(CU_SRC:%.cu=$(BUILD)/%.o) $(CU_C_SRC:%.c=$(BUILD)/%.o)
CUDA_HOME ?= $(patsubst %/bin/,%,$(dir $(shell command -v $(NVCC))))
NVCCFLAGS ?= -O2 -std=c++17 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 -I.
NVCCFLAGS += -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror
CUDA_LIB  := $(BUILD)/libqlora_cuda.a
CUDA_PULL := -Wl,--undefined=cuda_probe -Wl,--undefined=qt_backend_cuda
CUDA_LDLIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -Wl,--as-needed -lcudart -lstdc++ -ldl -Wl,--no-as-needed
else
TESTS     := $(filter-out $(BUILD)/tests/kernels/cuda/%,$(TESTS))
endif

# MPI (Debian's OpenMPI, installed by build-aux/deps.sh) when pkg-config finds it, else through
# mpicc; MPI= builds without it (lora-train then runs single-process only). Deferred variables:
# they are read after build/.deps has installed the packages. Only common/dist.c includes
# mpi.h; the tools link libmpi as-needed, so only lora-train depends on it.
MPI       ?= ompi-c
MPI_CFLAGS = $(if $(MPI),$(shell { pkg-config --exists $(MPI) && echo -DQT_MPI $$(pkg-config --cflags $(MPI)); } 2>/dev/null || { command -v mpicc >/dev/null && echo -DQT_MPI $$(mpicc --showme:compile); }))
MPI_LDLIBS = $(if $(MPI),$(shell pkg-config --libs $(MPI) 2>/dev/null || { command -v mpicc >/dev/null && mpicc --showme:link; }))
$(BUILD)/common/dist.o: QT_CFLAGS += $(MPI_CFLAGS)
# NCCL (common/dist_nccl.c) with nvcc, when nccl.h is in the CUDA toolkit or /usr/include.
ifneq ($(NVCC),)
NCCL_H    := $(firstword $(wildcard $(CUDA_HOME)/include/nccl.h /usr/include/nccl.h))
ifneq ($(NCCL_H),)
$(BUILD)/common/dist_nccl.o: QT_CFLAGS += -DQT_NCCL -I$(CUDA_HOME)/include
CUDA_LDLIBS += -Wl,--as-needed -lnccl -Wl,--no-as-needed
endif
endif
LINK_LIBS  = $(CUDA_PULL) -Wl,--start-group $(BUILD)/libqlora.a $(CUDA_LIB) -Wl,--end-group $(LDLIBS) \
             -Wl,--as-needed $(MPI_LDLIBS) -Wl,--no-as-needed $(CUDA_LDLIBS)

# Fuzz harnesses, tests/fuzz/fuzz_<name>.c, one per parser. In make test each one replays its
# seeds and kept reproducers ($(BUILD)/tests/fuzz/test_fuzz_<name>: the normal compiler with
# tests/fuzz/replay.c as main); make fuzz T=name S=seconds runs it under libFuzzer (clang,
# -fsanitize=fuzzer,address,undefined, in build-fuzz/), make fuzz-ci every one for S seconds (3 by default).
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
TESTS      += $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/test_fuzz_%)
FUZZ_BUILD ?= build-fuzz
FUZZ_SAN   := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
T ?= jsonl
S ?= 60

.PHONY: all deps test check test-sanitize test-tsan lint lint-style install clean model cuda-info fuzz fuzz-ci fuzz-run fuzz-campaign fuzz-bins
all: $(BUILD)/.deps $(TOOLS) cuda-info

cuda-info:
	@if [ -n "$(NVCC)" ]; then echo "cuda: building $(words $(CU_SRC)) CUDA object(s) with $(NVCC)"; \
	 else echo "cuda: nvcc not found, CPU only"; fi
	@if [ -n "$(MPI_CFLAGS)" ]; then echo "mpi: lora-train built with MPI ($(MPI))"; \
	 else echo "mpi: not found, lora-train single-process only"; fi
	@if [ -n "$(NVCC)" ]; then echo "nccl: $(if $(NCCL_H),$(NCCL_H),not found: lora-train --device cuda on one GPU per job)"; fi

# Installs missing Debian packages once; the stamp keeps later builds quiet.
$(BUILD)/.deps: build-aux/deps.sh
	@mkdir -p $(BUILD)
	sh build-aux/deps.sh
	@touch $@
deps: $(BUILD)/.deps

$(BUILD)/%.o: %.c $(BUILD)/.deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(QT_CFLAGS) -DQT_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libqlora.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libqlora_cuda.a: $(CU_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/%: $(BUILD)/tools/%.o $(BUILD)/libqlora.a $(CUDA_LIB)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $< $(LINK_LIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libqlora.a $(CUDA_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(QT_CFLAGS) -Itests -MMD -MP -o $@ $< $(LINK_LIBS)

$(BUILD)/tests/fuzz/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(BUILD)/libqlora.a $(CUDA_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(QT_CFLAGS) -Itests -DFUZZ_NAME='"$*"' -o $@ tests/fuzz/fuzz_$*.c tests/fuzz/replay.c $(LINK_LIBS)

# libFuzzer builds of the harnesses (run from fuzz-run inside the build-fuzz tree).
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(BUILD)/libqlora.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(QT_CFLAGS) -Itests -fsanitize=fuzzer -o $@ $< $(LINK_LIBS)

fuzz:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) BIN=$(FUZZ_BUILD)/bin CC=clang OPT=-O1 \
	  SANFLAGS='$(FUZZ_SAN)' NVCC= FUZZ_RUN='$(T)' fuzz-run
fuzz-ci:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) BIN=$(FUZZ_BUILD)/bin CC=clang OPT=-O1 \
	  SANFLAGS='$(FUZZ_SAN)' NVCC= FUZZ_RUN='$(FUZZ_NAMES)' S=$(if $(filter command line,$(origin S)),$(S),3) fuzz-run
# The CPU-hour campaign (tests/fuzz/campaign.sh): every harness, or T's, for S CPU-seconds each
# (240 by default), then the per-harness table of all campaign runs so far.
fuzz-campaign:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) BIN=$(FUZZ_BUILD)/bin CC=clang OPT=-O1 \
	  SANFLAGS='$(FUZZ_SAN)' NVCC= FUZZ_RUN='$(if $(filter command line,$(origin T)),$(T),$(FUZZ_NAMES))' fuzz-bins
	@sh tests/fuzz/campaign.sh $(FUZZ_BUILD) $(if $(filter command line,$(origin S)),$(S),240) \
	  $(if $(filter command line,$(origin T)),$(T),$(FUZZ_NAMES)); rc=$$?; \
	  sh tests/fuzz/campaign.sh --table $(FUZZ_BUILD); exit $$rc
fuzz-bins: $(BUILD)/.deps $(FUZZ_RUN:%=$(BUILD)/fuzz/fuzz_%)
fuzz-run: $(BUILD)/.deps $(FUZZ_RUN:%=$(BUILD)/fuzz/fuzz_%)
	@sh tests/fuzz/run.sh $(BUILD) $(S) $(FUZZ_RUN)

# The write-failure injector of the full-disk and I/O-error cases (tests/faultinj/faultinj.c,
# tests/cli/*/faults.sh): a library the cases preload, built for the tests only and without the
# sanitizers (under them LD_PRELOAD cannot work and those cases skip).
FAULTINJ := $(BUILD)/tests/faultinj.so
$(FAULTINJ): tests/faultinj/faultinj.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=c11 -Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

# The runner prints one line per test and ends with "N passed, N failed".
# The default model (make model, cached) is part of the tests: cases that need it read
# $QT_MODEL_DIR and skip with a message when it is absent (QT_NO_MODEL=1 make test).
test: all $(TESTS) $(FAULTINJ) $(BIN)/adgen-data $(if $(QT_NO_MODEL),,model)
	@QT_MODEL_DIR=$(if $(QT_NO_MODEL),,$(CURDIR)/$(MODEL_DIR)) sh tests/run.sh $(BIN) $(BUILD)

# One test or one folder of tests: make check T=tests/kernels/test_gemm.c, T=tests/cli/pack,
# T=tests/cli/gen/help.sh (several paths separated by spaces). Builds only what they need; uses
# the default model if it has been made, never fetches it.
CHECK_UNIT = $(foreach t,$(T:%/=%),$(if $(filter %.c,$t),$(BUILD)/$(t:.c=),$(if $(filter %.sh,$t),,$(filter $(BUILD)/$t/%,$(TESTS)))))
check: all $(FAULTINJ) $(BIN)/adgen-data $(CHECK_UNIT)
	@test -n "$(filter tests%,$(T))" || { echo "usage: make check T=tests/<path>" >&2; exit 64; }
	@QT_MODEL_DIR=$(if $(wildcard $(MODEL_DIR)/config.json),$(CURDIR)/$(MODEL_DIR),) sh tests/run.sh $(BIN) $(BUILD) $(T)

# ASan + UBSan build in its own tree, running the same unit and tool tests.
test-sanitize:
	$(MAKE) BUILD=build-san BIN=bin-san OPT=-O1 \
	  SANFLAGS='-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer' \
	  NVCC= test

# ThreadSanitizer over what runs on several threads: the thread pool, the banded SGEMM and the
# tokenizer's per-thread scratch (their unit tests, in their own tree).
TSAN_TESTS := tests/common/test_pool tests/kernels/test_gemm tests/kernels/test_gemm_bf16 tests/kernels/test_threaded tests/formats/test_tokenizer
test-tsan:
	@$(MAKE) --no-print-directory BUILD=build-tsan BIN=bin-tsan OPT=-O1 \
	  SANFLAGS='-fsanitize=thread -fno-omit-frame-pointer' NVCC= $(TSAN_TESTS:%=build-tsan/%)
	@for t in $(TSAN_TESTS); do echo "tsan $$t"; \
	  TSAN_OPTIONS='halt_on_error=1 second_deadlock_stack=1' QT_TEST_SRCDIR=$(CURDIR)/tests \
	  build-tsan/$$t | tail -n 1 || exit 1; done

lint: all
	makewhatis man
	MANPATH=$(CURDIR)/man mandoc -Tlint -Wwarning $(wildcard man/man1/*.1 man/man5/*.5 man/man7/*.7)

# The stricter style pass (long lines, cross-references to pages not written yet).
lint-style: all
	makewhatis man
	MANPATH=$(CURDIR)/man mandoc -Tlint -Wstyle $(wildcard man/man1/*.1 man/man5/*.5 man/man7/*.7)

install: all
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	cp $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	for s in 1 5 7; do for f in man/man$$s/*.$$s; do [ -e "$$f" ] && \
	  cp "$$f" $(DESTDIR)$(PREFIX)/share/man/man$$s/; done; done; true

clean:
	rm -rf build build-san bin bin-san build-fuzz build-tsan bin-tsan

-include $(LIB_OBJ:.o=.d) $(CU_OBJ:.o=.d) $(TOOL_SRC:%.c=$(BUILD)/%.d) $(TESTS:=.d)
-include pipelines/model.mk
include pipelines/demo.mk
