# bench/bench.mk - `make bench` builds and runs the benchmark, `make bench-build` only builds it.
#   make bench                      full run (a few minutes; table on stdout, CSV + SVG in $(BUILD)/bench)
#   make bench BENCH_ARGS=--quick   small layers, short repetitions: a smoke run
# The library is timed twice in one binary: bench.c compiles moe.h's implementation for the native
# SIMD path (-march=native), bench/moe_scalar.c includes it again with MOE_SIMD_SCALAR and MOE_STATIC
# and is compiled without -march (plain target default), so its kernels are really scalar. The
# other parts (bench/bench.h lists them) include moe.h for its declarations only and are compiled
# like bench.c.
# OpenBLAS is used for a comparison when a test program with <cblas.h> and -lopenblas links.

BENCH_DIR    := $(BUILD)/bench
BENCH_BIN    := $(BENCH_DIR)/bench
BENCH_ARGS   ?=
BENCH_SRCS   := bench/bench.c bench/util.c bench/machine.c bench/baselines.c bench/layers.c \
                bench/report.c bench/roofline.c
BENCH_OBJS   := $(patsubst bench/%.c,$(BENCH_DIR)/%.o,$(BENCH_SRCS))
BENCH_DEPS   := moe.h bench/bench.h bench/moe_scalar.h bench/bench.mk

# feature probes (evaluated once, when a bench target needs them)
BENCH_OMP  = $(eval BENCH_OMP := $(shell printf 'int main(void){return 0;}\n' | $(CC) -fopenmp -x c - -o /dev/null >/dev/null 2>&1 && echo -fopenmp))$(BENCH_OMP)
BENCH_BLAS = $(eval BENCH_BLAS := $(shell printf '#include <cblas.h>\nint main(void){float a=1,b=1,c=0;cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,1,1,1,1.0f,&a,1,&b,1,0.0f,&c,1);openblas_set_num_threads(1);return (int)c-1;}\n' | $(CC) -x c - -o /dev/null -lopenblas >/dev/null 2>&1 && echo 1))$(BENCH_BLAS)

# AMX rows (cfg.batch_amx): MOE_AMX and the -mamx flags where this CPU lists amx_tile, amx_int8 and
# amx_bf16 and the compiler takes the flags; elsewhere the bench says the rows are skipped
BENCH_AMX  = $(eval BENCH_AMX := $(shell grep -qw amx_tile /proc/cpuinfo 2>/dev/null && grep -qw amx_int8 /proc/cpuinfo && grep -qw amx_bf16 /proc/cpuinfo && printf 'int main(void){return 0;}\n' | $(CC) -mamx-tile -mamx-int8 -mamx-bf16 -x c - -o /dev/null >/dev/null 2>&1 && echo -DMOE_AMX -mamx-tile -mamx-int8 -mamx-bf16))$(BENCH_AMX)

BENCH_CFLAGS  = $(OPT) $(WARN) $(BENCH_OMP) $(BENCH_AMX)
BENCH_LIBS    = $(BENCH_OMP) -lm $(if $(BENCH_BLAS),-lopenblas)

.PHONY: bench bench-build
bench-build: $(BENCH_BIN)

bench: $(BENCH_BIN)
	@$(if $(BENCH_BLAS),true,echo "bench: OpenBLAS (cblas.h, -lopenblas) not found: the OpenBLAS comparison is skipped")
	$(BENCH_BIN) --csv $(BENCH_DIR)/bench.csv --svg $(BENCH_DIR)/roofline.svg $(BENCH_ARGS)

$(BENCH_OBJS): $(BENCH_DIR)/%.o: bench/%.c $(BENCH_DEPS)
	@mkdir -p $(BENCH_DIR)
	$(CC) $(BENCH_CFLAGS) $(HOST_SIMD_FLAGS) $(if $(BENCH_BLAS),-DBENCH_HAVE_OPENBLAS) -c $< -o $@

# no -march here; -Wno-unused-function: with MOE_STATIC the functions this file does not wrap are unused
$(BENCH_DIR)/moe_scalar.o: bench/moe_scalar.c $(BENCH_DEPS)
	@mkdir -p $(BENCH_DIR)
	$(CC) $(BENCH_CFLAGS) -Wno-unused-function -c bench/moe_scalar.c -o $@

$(BENCH_BIN): $(BENCH_OBJS) $(BENCH_DIR)/moe_scalar.o
	$(CC) $(BENCH_CFLAGS) $(HOST_SIMD_FLAGS) $^ -o $@ $(BENCH_LIBS)
