/* bench/bench.h - what the parts of the benchmark share: the layer as the bench holds it, the
   naive and OpenBLAS baselines' state, a timing and a result, the run's options and the machine's
   figures, and each part's functions. Internal to bench/: not an interface of moe.h.
     util.c      clock, allocation, threads, random fill, contention (other processes' CPU time)
     machine.c   FMA peak per SIMD width, read bandwidth
     baselines.c the naive ggml-style implementation and the OpenBLAS one
     layers.c    weights in every type, moe.h's timed runner, the correctness check, one layer's rows
     report.c    results, the table and the CSV file
     roofline.c  the roofline plot (SVG)
     bench.c     options and main (the one translation unit with MOE_IMPLEMENTATION)
   Every .c file defines _GNU_SOURCE before its first #include. */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H
#include "../moe.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__AVX2__) && defined(__FMA__)
#define BENCH_AVX2 1
#endif
#if defined(__AVX512F__)
#define BENCH_AVX512 1
#endif

/* ---- options and timing parameters (bench.c, util.c) ------------------------------------- */
struct bench_time {
    double target_s;      /* time one repetition should last                        */
    int reps;             /* repetitions (median reported)                          */
    double slow_s;        /* a first call longer than this is the only one timed    */
    double busy_cores;    /* a repetition while others used more than this is redone */
    int max_retries;      /* ... at most this many times per measurement            */
    double wait_budget_s; /* --wait-quiet: seconds the run may idle waiting for others to stop */
    double waited_s;
};
extern struct bench_time g_time;

/* command-line options */
struct bench_opt {
    int quick, nthreads, no_scalar, no_naive, no_blas, all_rows;
    int mixtral_div;
    const char *csv, *svg, *only;
    unsigned type_mask;
};
extern struct bench_opt g_opt;

/* ---- util.c ---------------------------------------------------------------------------- */
/* Contention: system-wide busy CPU time (/proc/stat: user+nice+system+irq+softirq+steal)
   minus this process's own CPU time, over a wall-clock interval, in cores. */
typedef struct cpu_mark { double t, busy, self; int ok; } cpu_mark;

double now_s(void);
void sleep_s(double s);
void die(const char *what);
cpu_mark cpu_now(void);
double other_cores(cpu_mark a, cpu_mark b);
void wait_quiet(void);
void *big_alloc(size_t bytes);
int max_threads(void);
int thread_id(void);
int cmp_double(const void *a, const void *b);
uint64_t splitmix64(uint64_t *s);
void fill_uniform(float *p, size_t n, float scale, uint64_t seed);

/* ggml-compatible blocks */
typedef struct { uint16_t d; int8_t q[32]; } blk_q8;
typedef struct { uint16_t d; uint8_t q[16]; } blk_q4;

#define N_TYPES ((int)MOE_TYPE_COUNT)

int is_new_type(moe_type t);          /* K-quants, MXFP4, FP8: added after the first five */
int is_q8act(moe_type t);             /* q8_0, q4_0 */
size_t row_bytes(moe_type t, int n);
const char *type_label(moe_type t);

/* FP8 E4M3 block scales: DeepSeek-V3's 128 x 128 blocks of weights, one f32 scale each */
#define FP8_BLOCK 128

/* ---- machine.c: the machine's figures ---------------------------------------------------- */
struct bench_machine {
    double peak_ymm[3], peak_zmm[3];   /* [1]: 1 thread, [2]: the bench's thread count */
    double peak_dpbusd[3], peak_dpwssd[3];   /* AVX-512 VNNI integer dot products (MOE_BATCH_INT) */
    double peak_dpbf16[3];                   /* AVX512-BF16 vdpbf16ps (MOE_BF16_DOT) */
    double bw[3];
    float *bwbuf;
    size_t bw_bytes;
    int nthreads, reps, bw_samples;
    double bw_min_local;
    const char *lib_path;
    int amx;                           /* moe_amx_enable(): the "moe.h-amx" rows run */
};
extern struct bench_machine g_m;

double path_peak(int threads);
double sample_bandwidth(int reps);
void measure_machine(void);
void print_machine(void);

/* ---- the layer as the bench holds it ---------------------------------------------------- */
typedef struct bench_layer {
    const char *name;
    int d_model, d_ff, n_experts, top_k;
    float *router;                        /* [E][d_model] f32                         */
    float *gate32, *up32, *down32;        /* f32 master weights                       */
    moe_type type;                        /* current type and its weights             */
    const unsigned char *gate, *up, *down;
    unsigned char *qbuf;                  /* owns gate/up/down when type != f32       */
    size_t rb_model, rb_ff;               /* bytes of one row of d_model / d_ff values */
    /* F8_E4M3 only: f32 scales per FP8_BLOCK x FP8_BLOCK block, [E][ceil(rows/128)][ceil(cols/128)] */
    float *sbuf;                          /* owns the three (NULL for other types)     */
    const float *gate_s, *up_s, *down_s;
} bench_layer;

/* layers.c: sizes of the layer's weights */
size_t cdiv(size_t a, size_t b);
size_t scales_gu(const bench_layer *L);
size_t scales_dn(const bench_layer *L);
size_t expert_bytes(const bench_layer *L);

/* ---- baselines.c ----------------------------------------------------------------------- */
typedef struct naive_ctx {
    const bench_layer *L;
    int exact;            /* 1: quantised weights against f32 activations (check only) */
    int nthreads;
    int max_tokens;
    int *ids; float *wts; float *probs;
    int *count, *offset, *list_tok; float *list_w;
    blk_q8 *xq, *hq;
    float *h, *ybuf;
    float *tile;          /* new types: per thread, NAIVE_TILE decoded rows of gate and up (or down) */
    size_t tile_floats;   /* per thread                                                        */
} naive_ctx;

typedef struct blas_ctx {
    const bench_layer *L;
    const moe_layer *layer;
    void *work; size_t work_size;
    int max_tokens;
    int *ids; float *wts;
    int *count, *offset, *list_tok; float *list_w;
    float *xg, *g, *u, *yo;
} blas_ctx;

void h2f_init(void);
void selftest_kernels(void);
void naive_init(naive_ctx *c, const bench_layer *L, int max_tokens, int nthreads);
void naive_free(naive_ctx *c);
void naive_forward(naive_ctx *c, const float *x, int T, float *y);
void blas_init(blas_ctx *c, const bench_layer *L, const moe_layer *layer, void *work,
               size_t work_size, int max_tokens);
void blas_free(blas_ctx *c);
#ifdef BENCH_HAVE_OPENBLAS
void blas_forward(blas_ctx *c, const float *x, int T, float *y);
#endif

/* ---- layers.c: the run ------------------------------------------------------------------- */
typedef struct timing {
    double sec, best;     /* median and best seconds per call                              */
    int calls, reps;
    double other;         /* cores other processes (or the hypervisor) used meanwhile; -1: unknown */
    int retries;          /* repetitions thrown away because others competed               */
} timing;

typedef struct layer_spec {
    const char *name;
    int d_model, d_ff, n_experts, top_k;
    const char *note;
} layer_spec;

extern int g_check_fail;
void run_layer(const layer_spec *sp);

/* ---- report.c: results ------------------------------------------------------------------- */
typedef struct result {
    const char *layer;
    moe_type type;
    int T;
    const char *impl;       /* "moe.h", "moe.h-exact" (Q8_0/Q4_0, MOE_BATCH_EXACT), "moe.h-bf16dot" (BF16, MOE_BF16_DOT),
                               "moe.h-prepack" (integer batches on moe_prepack's tiles), "moe.h-hot" (T=1, the same
                               token every call), "moe.h-scalar", "naive", "openblas" */
    int threads;
    timing t;
    double flops, bytes;    /* per call: routed-expert flops, expert weight bytes streamed */
    double bw_local;        /* T=1: read bandwidth sampled just before (0: not sampled) */
    double pk_ratio;        /* "moe.h-prepack": moe_prepack_size over the experts' weight bytes */
} result;

/* correctness checks, for the CSV: relative L2 error against the naive reference */
typedef struct check_row { const char *layer; moe_type type; int T; const char *what; double err; } check_row;
extern result g_res[];
extern int g_nres;
extern check_row g_chk[];
extern int g_nchk;

void add_check(const char *layer, moe_type type, int T, const char *what, double err);
result *add_result(const char *layer, moe_type type, int T, const char *impl, int threads,
                   timing t, double flops, double bytes);
const result *find_result(const char *layer, moe_type type, int T, const char *impl, int threads);
void print_table_header(FILE *f);
void print_row(FILE *f, const result *r);
void write_csv(const char *path);

/* ---- roofline.c ---------------------------------------------------------------------------- */
void write_svg(const char *path, const char *const *layer_names, int n_layers);

#endif
