# examples/examples.mk - included by the top Makefile (which sets CC, CXX, WARN, OPT, BUILD,
# HOST_SIMD_FLAGS).
#   make examples       build the host examples into $(BUILD)/examples/
#   make demo           build and run examples/demo.c
#   make run-examples   run the small host examples (minimal, cpp_example, noheap, threadpool)
#   make firmware       build examples/noheap.c for a Cortex-M4 and print its size
#   EX_OPENMP=          build the demo without OpenMP

EX_DIR      := $(BUILD)/examples
EX_OPENMP   ?= -fopenmp
EX_CFLAGS   := -std=c99 $(WARN) $(OPT) $(HOST_SIMD_FLAGS) -I.
EX_CXXFLAGS := -std=c++11 $(WARN) $(OPT) $(HOST_SIMD_FLAGS) -I.
EX_SMALL    := $(EX_DIR)/minimal $(EX_DIR)/cpp_example $(EX_DIR)/noheap $(EX_DIR)/threadpool
EX_ALL      := $(EX_SMALL) $(EX_DIR)/demo $(EX_DIR)/moe_run

ARM_CC      ?= arm-none-eabi-gcc
ARM_SIZE    ?= arm-none-eabi-size
ARM_NM      ?= arm-none-eabi-nm
FW_CFLAGS   := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 -std=c99 $(WARN) \
               -DNO_PRINTF -ffunction-sections -fdata-sections -I.
FW_LDFLAGS  := --specs=nosys.specs -Wl,--gc-sections
FW_ELF      := $(EX_DIR)/noheap-cortex-m4.elf

.PHONY: examples demo run-examples firmware

examples: $(EX_ALL)

$(EX_DIR):
	mkdir -p $@

$(EX_DIR)/minimal: examples/minimal.c moe.h | $(EX_DIR)
	$(CC) $(EX_CFLAGS) -o $@ $< -lm

$(EX_DIR)/cpp_example: examples/cpp_example.cpp moe.h | $(EX_DIR)
	$(CXX) $(EX_CXXFLAGS) -o $@ $< -lm

$(EX_DIR)/noheap: examples/noheap.c moe.h | $(EX_DIR)
	$(CC) $(EX_CFLAGS) -o $@ $< -lm

# moe_run: a model's MoE layer from its GGUF / safetensors files (POSIX mmap); needs a model, so
# it is not in run-examples: tests/cli_smoke.sh runs it on the GGUF files the tests write
$(EX_DIR)/moe_run: examples/moe_run.c moe.h | $(EX_DIR)
	$(CC) $(EX_CFLAGS) $(EX_OPENMP) -o $@ $< -lm

# No OpenMP here on purpose: the pool is the only source of threads.
$(EX_DIR)/threadpool: examples/threadpool.c moe.h | $(EX_DIR)
	$(CC) $(EX_CFLAGS) -pthread -o $@ $< -lm

$(EX_DIR)/demo: examples/demo.c moe.h | $(EX_DIR)
	$(CC) $(EX_CFLAGS) $(EX_OPENMP) -o $@ $< -lm

demo: $(EX_DIR)/demo
	$(EX_DIR)/demo

run-examples: $(EX_SMALL)
	@set -e; for p in $(EX_SMALL); do echo "== $$p"; $$p; done; \
	echo "== no malloc in $(EX_DIR)/noheap:"; \
	if nm -u $(EX_DIR)/noheap | grep -Ew 'malloc|calloc|realloc|free'; then \
	    echo "noheap uses the heap" >&2; exit 1; else echo "   none"; fi

firmware: $(FW_ELF)
	$(ARM_SIZE) $(FW_ELF)
	@if $(ARM_NM) $(FW_ELF) | grep -Ew '_?malloc(_r)?|_?free(_r)?|_?printf(_r)?|fputs|fwrite'; then \
	    echo "firmware: heap or stdio linked into $(FW_ELF)" >&2; exit 1; fi
	@echo "firmware: $(FW_ELF) links without malloc or stdio"

$(FW_ELF): examples/noheap.c moe.h | $(EX_DIR)
	@command -v $(ARM_CC) >/dev/null 2>&1 || { \
	    echo "firmware: $(ARM_CC) not found. On Debian/Ubuntu:" >&2; \
	    echo "    sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi" >&2; exit 1; }
	$(ARM_CC) $(FW_CFLAGS) -o $@ $< $(FW_LDFLAGS) -lm

# mpi_moe: expert parallelism over MPI (decode: every rank the same tokens, its own experts;
# prefill: tokens split, all-to-all to the experts' owners and back), checked bit for bit
# against one process. Needs mpicc and mpirun (Debian: libopenmpi-dev openmpi-bin), so it is
# not in `examples`.
#   make mpi-run                  P = 1, 2, 4 ranks (4 oversubscribed on a 2-core machine), both
#                                 modes; exits non-zero if an output differs from one process's
#   make mpi-run MPI_RANKS=2      what CI runs: both modes on 2 ranks
#   MPI_MOE_ARGS='-t q8_0 -p 512' options for examples/mpi_moe.c (see its header)
# --allow-run-as-root: CI runs as root, which OpenMPI refuses without it (or without
# OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1); harmless otherwise.
MPICC        ?= mpicc
MPIRUN       ?= mpirun
MPI_RANKS    ?= 1 2 4
MPIRUN_FLAGS ?= --allow-run-as-root --oversubscribe
MPI_MOE_ARGS ?=

.PHONY: mpi-run

$(EX_DIR)/mpi_moe: examples/mpi_moe.c moe.h | $(EX_DIR)
	@command -v $(MPICC) >/dev/null 2>&1 || { \
	    echo "mpi_moe: $(MPICC) not found. On Debian/Ubuntu:" >&2; \
	    echo "    sudo apt-get install libopenmpi-dev openmpi-bin" >&2; exit 1; }
	$(MPICC) $(EX_CFLAGS) -o $@ $< -lm

mpi-run: $(EX_DIR)/mpi_moe
	@set -e; for p in $(MPI_RANKS); do \
	    echo "== $(MPIRUN) $(MPIRUN_FLAGS) -np $$p $< $(MPI_MOE_ARGS)"; \
	    $(MPIRUN) $(MPIRUN_FLAGS) -np $$p $< $(MPI_MOE_ARGS); done

# ---- stream_experts -------------------------------------------------------------------------
# stream_experts: a layer whose experts do not fit a memory budget, streamed from storage:
# writes a 227 MB OLMoE-shaped q4_0 layer file ($(EX_DIR)/stream_experts.<pid>.bin, deleted
# afterwards), serves it through LRU expert caches of 25/50/100 % of the experts (route first,
# pread with O_DIRECT, prefetch) and through a plain mmap (cold and warm), prints hit rate, MB
# read per token and tokens/s, and runs the firmware-style variant (experts from "flash" via a
# callback into a static arena). Every output is checked bit for bit against the all-resident
# layer: exit status 1 on a mismatch. About 30 s on 2 cores. POSIX only (pread, O_DIRECT,
# mincore, pthreads), so not in `examples`.
#   make stream-run STREAM_ARGS=--small       a 4x smaller layer (d_model 1024, d_ff 512)
#   STREAM_ARGS='-n 512 -p 2 -t q4_K'         options of examples/stream_experts.c (see its header)
# OMP_WAIT_POLICY=passive unless set: spinning OpenMP workers starve the reading thread.
STREAM_ARGS ?=

.PHONY: stream-run

$(EX_DIR)/stream_experts: examples/stream_experts.c moe.h | $(EX_DIR)
	$(CC) $(EX_CFLAGS) $(EX_OPENMP) -pthread -o $@ $< -lm

stream-run: $(EX_DIR)/stream_experts
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} $< -o $(EX_DIR)/stream_experts.$$$$.bin $(STREAM_ARGS)
