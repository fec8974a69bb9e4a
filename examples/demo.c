/* demo.c - a Qwen3-MoE-shaped layer, scaled down to run in a couple of seconds.

   Qwen3-30B-A3B: d_model 2048, 128 experts of d_ff 768, top-8, softmax router, the 8 weights
   renormalised (norm_topk_prob), SwiGLU experts. Here: d_model 512, 64 experts of d_ff 256,
   top-8, the same routing. Random weights in f32 and in Q4_0 (quantised with moe_quantize,
   router kept in f32). Prints the routing of a few tokens, time per token for one token and for
   a batch of 64, and how far the Q4_0 layer's output is from the f32 layer's.

       make demo
*/
#define _POSIX_C_SOURCE 200809L
#define MOE_IMPLEMENTATION
#include "moe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { D_MODEL = 512, D_FF = 256, N_EXPERTS = 64, TOP_K = 8, T_BATCH = 64, SHOW_TOKENS = 3 };

static unsigned rng_state = 0x2545F491u;
static float rand_uniform(float scale) {   /* xorshift32, uniform in [-scale, scale) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return ((float)(rng_state >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
}
static float *random_array(size_t n, float scale) {
    float *v = (float *)malloc(n * sizeof *v);
    size_t i;
    if (v) for (i = 0; i < n; i++) v[i] = rand_uniform(scale);
    return v;
}
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static int check(moe_status s, const char *what) {
    if (s != MOE_OK) fprintf(stderr, "demo: %s: %s\n", what, moe_status_string(s));
    return s == MOE_OK;
}

/* A layer with its own workspace, sized for T_BATCH tokens. */
typedef struct demo_layer {
    moe_layer layer;
    void *work;
    size_t work_size;
    void *q_gate, *q_up, *q_down;   /* quantised copies, or NULL */
} demo_layer;

static int demo_layer_init(demo_layer *d, const moe_config *cfg, moe_type type, const float *router,
                           const float *gate, const float *up, const float *down) {
    moe_weights w;
    memset(d, 0, sizeof *d);
    memset(&w, 0, sizeof w);
    w.router.type = MOE_TYPE_F32;
    w.router.data = router;
    w.gate.type = w.up.type = w.down.type = type;
    if (type == MOE_TYPE_F32) {
        w.gate.data = gate; w.up.data = up; w.down.data = down;
    } else {
        size_t rows_in = (size_t)N_EXPERTS * D_FF, rows_out = (size_t)N_EXPERTS * D_MODEL;
        d->q_gate = malloc(rows_in * moe_type_row_size(type, D_MODEL));
        d->q_up = malloc(rows_in * moe_type_row_size(type, D_MODEL));
        d->q_down = malloc(rows_out * moe_type_row_size(type, D_FF));
        if (!d->q_gate || !d->q_up || !d->q_down) { fprintf(stderr, "demo: out of memory\n"); return 0; }
        if (!check(moe_quantize(type, gate, d->q_gate, rows_in, D_MODEL), "quantize gate") ||
            !check(moe_quantize(type, up, d->q_up, rows_in, D_MODEL), "quantize up") ||
            !check(moe_quantize(type, down, d->q_down, rows_out, D_FF), "quantize down"))
            return 0;
        w.gate.data = d->q_gate; w.up.data = d->q_up; w.down.data = d->q_down;
    }
    if (!check(moe_layer_init(&d->layer, cfg, &w), "moe_layer_init")) return 0;
    d->work_size = moe_workspace_size(&d->layer, T_BATCH);
    d->work = d->work_size ? malloc(d->work_size) : NULL;
    if (!d->work) { fprintf(stderr, "demo: no workspace\n"); return 0; }
    return 1;
}
static void demo_layer_free(demo_layer *d) {
    free(d->work); free(d->q_gate); free(d->q_up); free(d->q_down);
}

/* Microseconds per token: one token per call (t == 1) or the whole batch per call. */
static double us_per_token(const demo_layer *d, const float *x, float *y, int t, int *ok) {
    double best = 1e30;
    int rep, i, n_calls = t == 1 ? T_BATCH : 1, n_reps = t == 1 ? 5 : 10;
    for (rep = 0; rep < n_reps; rep++) {
        double t0 = now_s(), dt;
        for (i = 0; i < n_calls; i++) {
            const float *xi = x + (size_t)(t == 1 ? i : 0) * D_MODEL;
            float *yi = y + (size_t)(t == 1 ? i : 0) * D_MODEL;
            if (!check(moe_forward(&d->layer, xi, t, yi, d->work, d->work_size), "moe_forward")) {
                *ok = 0;
                return 0.0;
            }
        }
        dt = (now_s() - t0) / (double)(n_calls * t);
        if (dt < best) best = dt;
    }
    return best * 1e6;
}

/* ||a - b|| / ||b|| over n values */
static double rel_diff(const float *a, const float *b, size_t n) {
    double num = 0.0, den = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

int main(void) {
    const size_t D = D_MODEL, F = D_FF, E = N_EXPERTS, T = T_BATCH;
    const float s_in = 1.0f / sqrtf((float)D_MODEL), s_ff = 1.0f / sqrtf((float)D_FF);
    float *router = random_array(E * D, s_in);
    float *gate = random_array(E * F * D, s_in);
    float *up = random_array(E * F * D, s_in);
    float *down = random_array(E * D * F, s_ff);
    float *x = random_array(T * D, 1.0f);
    float *y32 = (float *)malloc(T * D * sizeof(float)), *yq = (float *)malloc(T * D * sizeof(float));
    float *y1 = (float *)malloc(T * D * sizeof(float));
    demo_layer f32, q4;
    moe_config cfg = moe_config_default();
    int ids[SHOW_TOKENS * TOP_K];
    float wts[SHOW_TOKENS * TOP_K];
    double us32_1, us32_b, usq_1, usq_b, single_vs_batch;
    int ok = 1, t, j, threads = 1;
    const double mb = 1.0 / (1024.0 * 1024.0);

    memset(&f32, 0, sizeof f32);
    memset(&q4, 0, sizeof q4);
    if (!router || !gate || !up || !down || !x || !y32 || !yq || !y1) { fprintf(stderr, "demo: out of memory\n"); return 1; }

    cfg.d_model = D_MODEL; cfg.d_ff = D_FF; cfg.n_experts = N_EXPERTS; cfg.top_k = TOP_K;
    cfg.score = MOE_SCORE_SOFTMAX; cfg.norm_topk = 1; cfg.act = MOE_ACT_SWIGLU;  /* Qwen3-MoE */
    if (!demo_layer_init(&f32, &cfg, MOE_TYPE_F32, router, gate, up, down) ||
        !demo_layer_init(&q4, &cfg, MOE_TYPE_Q4_0, router, gate, up, down)) {
        ok = 0;
        goto out;
    }
#ifdef _OPENMP
    threads = cfg.n_threads > 0 ? cfg.n_threads : omp_get_max_threads();
#endif

    printf("moe.h %d.%d.%d demo: a Qwen3-MoE-shaped layer, scaled down\n", MOE_VERSION_MAJOR,
           MOE_VERSION_MINOR, MOE_VERSION_PATCH);
    printf("  d_model %d, %d experts of d_ff %d, top-%d, softmax router, renormalised, SwiGLU\n",
           D_MODEL, N_EXPERTS, D_FF, TOP_K);
    printf("  expert weights: f32 %.1f MiB, q4_0 %.1f MiB; kernels: %s; threads: %d\n",
           (double)(3 * E * F * D * sizeof(float)) * mb,
           (double)(E * F * moe_type_row_size(MOE_TYPE_Q4_0, D) * 2 + E * D * moe_type_row_size(MOE_TYPE_Q4_0, F)) * mb,
           moe_simd_name(), threads);

    /* Routing of the first few tokens (the router is f32 in both layers: the same choice). */
    if (!check(moe_route(&f32.layer, x, SHOW_TOKENS, ids, wts, f32.work, f32.work_size), "moe_route")) { ok = 0; goto out; }
    printf("\nrouting (expert:weight, in slot order)\n");
    for (t = 0; t < SHOW_TOKENS; t++) {
        printf("  token %d:", t);
        for (j = 0; j < TOP_K; j++) printf(" %2d:%.3f", ids[t * TOP_K + j], (double)wts[t * TOP_K + j]);
        printf("\n");
    }

    /* Batch of 64, then the same 64 tokens one at a time. */
    if (!check(moe_forward(&f32.layer, x, T_BATCH, y32, f32.work, f32.work_size), "f32 batch") ||
        !check(moe_forward(&q4.layer, x, T_BATCH, yq, q4.work, q4.work_size), "q4_0 batch")) { ok = 0; goto out; }
    for (t = 0; t < T_BATCH; t++)
        if (!check(moe_forward(&f32.layer, x + (size_t)t * D, 1, y1 + (size_t)t * D, f32.work, f32.work_size), "f32 single")) { ok = 0; goto out; }
    single_vs_batch = rel_diff(y1, y32, T * D);

    us32_1 = us_per_token(&f32, x, y1, 1, &ok);
    us32_b = us_per_token(&f32, x, y1, T_BATCH, &ok);
    usq_1 = us_per_token(&q4, x, y1, 1, &ok);
    usq_b = us_per_token(&q4, x, y1, T_BATCH, &ok);
    if (!ok) goto out;

    printf("\ntime per token          f32         q4_0\n");
    printf("  T=1  (one at a time)  %7.1f us  %7.1f us\n", us32_1, usq_1);
    printf("  T=%-2d (one batch)      %7.1f us  %7.1f us\n", T_BATCH, us32_b, usq_b);

    printf("\naccuracy, ||a - b|| / ||b|| over %d tokens\n", T_BATCH);
    printf("  q4_0 vs f32 output:            %.4f   (4-bit weights; same routing, f32 router)\n",
           rel_diff(yq, y32, T * D));
    printf("  f32 one at a time vs batch:    %.2g\n", single_vs_batch);
    if (!(rel_diff(yq, y32, T * D) < 0.25) || !(single_vs_batch < 1e-4)) {
        fprintf(stderr, "demo: results out of the expected range\n");
        ok = 0;
    }
out:
    demo_layer_free(&q4);
    demo_layer_free(&f32);
    free(y1); free(yq); free(y32); free(x); free(down); free(up); free(gate); free(router);
    return ok ? 0 : 1;
}
