# tests/fuzz/fuzz.mk - libFuzzer targets, included by the top Makefile (BUILD, WARN, HOST_SIMD_FLAGS).
# Needs clang with libFuzzer (Debian: clang, libclang-rt-14-dev).
#   make fuzz            build every target and fuzz each for FUZZ_TIME seconds (default 60), one at a time
#   make fuzz-ci         the same for FUZZ_CI_TIME seconds each (default 20): the CI step
#   make fuzz-forward    one target (also fuzz-forward-scalar, fuzz-quant), FUZZ_TIME seconds
#   make fuzz-build      build the targets only, into $(BUILD)/fuzz/
#   make fuzz-replay     replay the committed corpora without libFuzzer (gcc, ASan+UBSan)
#   make fuzz-merge      minimise each target's work corpus into the committed tests/fuzz/corpus/<target>/
#   make fuzz-seeds      (re)write the hand-made seeds (tests/fuzz/gen_seeds.c) into tests/fuzz/corpus/
# New inputs go to $(BUILD)/fuzz/corpus/<target>/ (the committed corpus is only read), crashes to
# $(BUILD)/fuzz/artifacts/. Extra libFuzzer flags: FUZZ_OPTS="-jobs=... -dict=...".
# Targets: fuzz_forward (the host's SIMD path), fuzz_forward_scalar (same input format and corpus,
# MOE_SIMD_SCALAR), fuzz_quant, and the file readers fuzz_gguf, fuzz_safetensors, fuzz_json.
.PHONY: fuzz fuzz-ci fuzz-build fuzz-replay fuzz-merge fuzz-seeds fuzz-forward fuzz-forward-scalar fuzz-quant

FUZZ_CC      ?= clang
FUZZ_TIME    ?= 60
FUZZ_CI_TIME ?= 20
FUZZ_FLAGS   ?= -std=c99 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# fuzz_forward without comparison tracing: it traces every loop test of the kernels, which made
# runs 3-4x slower and does not help to decode this input format (bytes taken modulo ranges)
FUZZ_FORWARD_FLAGS ?= -fno-sanitize-coverage=trace-cmp
FUZZ_OUT     := $(BUILD)/fuzz
FUZZ_TARGETS := fuzz_forward fuzz_forward_scalar fuzz_quant fuzz_gguf fuzz_safetensors fuzz_json
FUZZ_BINS    := $(addprefix $(FUZZ_OUT)/,$(FUZZ_TARGETS))
FUZZ_DEPS    := moe.h tests/fuzz/fuzz_util.h tests/fuzz/fuzz.mk

$(FUZZ_OUT)/fuzz_forward: tests/fuzz/fuzz_forward.c $(FUZZ_DEPS)
	@mkdir -p $(FUZZ_OUT)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_FORWARD_FLAGS) $(WARN) $(HOST_SIMD_FLAGS) $< -o $@ -lm
$(FUZZ_OUT)/fuzz_forward_scalar: tests/fuzz/fuzz_forward.c $(FUZZ_DEPS)
	@mkdir -p $(FUZZ_OUT)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_FORWARD_FLAGS) $(WARN) -DMOE_SIMD_SCALAR $< -o $@ -lm
$(FUZZ_OUT)/fuzz_quant: tests/fuzz/fuzz_quant.c $(FUZZ_DEPS)
	@mkdir -p $(FUZZ_OUT)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) $(HOST_SIMD_FLAGS) $< -o $@ -lm
# the file readers: GGUF, safetensors, JSON (config.json); inputs are whole files
$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_files.h $(FUZZ_DEPS)
	@mkdir -p $(FUZZ_OUT)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) $(HOST_SIMD_FLAGS) $< -o $@ -lm

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	bash tests/fuzz/fuzz.sh $(FUZZ_TIME) $(BUILD) $(FUZZ_TARGETS)

fuzz-ci: $(FUZZ_BINS)
	bash tests/fuzz/fuzz.sh $(FUZZ_CI_TIME) $(BUILD) $(FUZZ_TARGETS)

fuzz-forward: $(FUZZ_OUT)/fuzz_forward
	bash tests/fuzz/fuzz.sh $(FUZZ_TIME) $(BUILD) fuzz_forward
fuzz-forward-scalar: $(FUZZ_OUT)/fuzz_forward_scalar
	bash tests/fuzz/fuzz.sh $(FUZZ_TIME) $(BUILD) fuzz_forward_scalar
fuzz-quant: $(FUZZ_OUT)/fuzz_quant
	bash tests/fuzz/fuzz.sh $(FUZZ_TIME) $(BUILD) fuzz_quant

fuzz-replay:
	BUILD=$(BUILD) bash tests/fuzz/replay.sh

# -merge=1 adds to the first directory only the inputs that reach new code; -use_counters=0
# counts edges, not how often they run, which keeps the committed corpus to a few hundred files.
# fuzz_forward's corpus is merged with the SIMD build, then the scalar build.
FUZZ_MERGE = -merge=1 -use_counters=0
fuzz-merge: $(FUZZ_BINS)
	mkdir -p tests/fuzz/corpus/fuzz_forward tests/fuzz/corpus/fuzz_quant $(FUZZ_OUT)/corpus/fuzz_forward \
	    $(FUZZ_OUT)/corpus/fuzz_forward_scalar $(FUZZ_OUT)/corpus/fuzz_quant
	$(FUZZ_OUT)/fuzz_forward $(FUZZ_MERGE) tests/fuzz/corpus/fuzz_forward $(FUZZ_OUT)/corpus/fuzz_forward $(FUZZ_OUT)/corpus/fuzz_forward_scalar
	$(FUZZ_OUT)/fuzz_forward_scalar $(FUZZ_MERGE) tests/fuzz/corpus/fuzz_forward $(FUZZ_OUT)/corpus/fuzz_forward $(FUZZ_OUT)/corpus/fuzz_forward_scalar
	$(FUZZ_OUT)/fuzz_quant $(FUZZ_MERGE) tests/fuzz/corpus/fuzz_quant $(FUZZ_OUT)/corpus/fuzz_quant

fuzz-seeds:
	@mkdir -p $(FUZZ_OUT) tests/fuzz/corpus/fuzz_forward tests/fuzz/corpus/fuzz_quant
	$(CC) -std=c99 $(WARN) tests/fuzz/gen_seeds.c -o $(FUZZ_OUT)/gen_seeds
	$(FUZZ_OUT)/gen_seeds tests/fuzz/corpus
