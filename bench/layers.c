/* bench/layers.c - one layer shape's rows: its weights in every type (moe_quantize; FP8 with
   128 x 128 block scales), the correctness check against the naive code, and moe.h, its scalar
   path and the baselines timed at every T. */
#define _GNU_SOURCE
#include "bench.h"
#include "moe_scalar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t cdiv(size_t a, size_t b) { return (a + b - 1) / b; }

/* f32 scales of one expert's gate (or up) and down matrix (FP8 only) */
size_t scales_gu(const bench_layer *L) { return cdiv((size_t)L->d_ff, FP8_BLOCK) * cdiv((size_t)L->d_model, FP8_BLOCK); }
size_t scales_dn(const bench_layer *L) { return cdiv((size_t)L->d_model, FP8_BLOCK) * cdiv((size_t)L->d_ff, FP8_BLOCK); }

/* bytes of one expert's weights in their stored type (FP8: with its f32 block scales) */
size_t expert_bytes(const bench_layer *L)
{
    size_t b = 2 * (size_t)L->d_ff * L->rb_model + (size_t)L->d_model * L->rb_ff;
    if (L->sbuf) b += (2 * scales_gu(L) + scales_dn(L)) * sizeof(float);
    return b;
}

/* ============================================================================================
   timing
   ============================================================================================ */
typedef void (*run_fn)(void *ctx, const float *x, int T, float *y);

typedef struct lib_ctx {
    const moe_layer *layer;
    void *work; size_t work_size;
    int nthreads, scalar;
} lib_ctx;

static void run_lib(void *p, const float *x, int T, float *y)
{
    lib_ctx *c = (lib_ctx *)p;
    moe_run_opts o;
    moe_status s;
    memset(&o, 0, sizeof o);
    o.n_threads = c->nthreads;
    s = c->scalar ? bench_scalar_forward_ex(c->layer, x, T, y, c->work, c->work_size, &o)
                  : moe_forward_ex(c->layer, x, T, y, c->work, c->work_size, &o);
    if (s != MOE_OK) {
        fprintf(stderr, "bench: moe_forward_ex (%s path, T=%d) failed: %s\n",
                c->scalar ? "scalar" : "native", T, moe_status_string(s));
        exit(1);
    }
}

static void run_naive(void *p, const float *x, int T, float *y) { naive_forward((naive_ctx *)p, x, T, y); }
#ifdef BENCH_HAVE_OPENBLAS
static void run_blas(void *p, const float *x, int T, float *y) { blas_forward((blas_ctx *)p, x, T, y); }
#endif

/* Seconds per call: warm-up call, then `reps` repetitions of enough calls to last target_s;
   the median repetition. x cycles through nx inputs of T tokens (T=1: different experts on
   every call). A warm-up call slower than slow_s is the measurement itself (1 call). A
   repetition during which other processes used more than busy_cores is done again (at most
   max_retries times in all); the contention that remains is reported in .other. */
static timing measure(run_fn f, void *ctx, const float *xs, int nx, size_t xstride, int T, float *y)
{
    timing r;
    double first, times[64], others[64];
    int calls, k = 0, rep = 0, i;
    cpu_mark a = cpu_now(), b;
    memset(&r, 0, sizeof r);
    f(ctx, xs, T, y);
    b = cpu_now();
    first = b.t - a.t;
    k = 1;
    if (first > g_time.slow_s) {
        double oth = other_cores(a, b);
        r.sec = r.best = first; r.calls = 1; r.reps = 1; r.other = oth;
        while (oth > g_time.busy_cores && r.retries < 1) {   /* slow: at most one more call */
            r.retries++;
            wait_quiet();
            a = cpu_now();
            f(ctx, xs, T, y);
            b = cpu_now();
            oth = other_cores(a, b);
            if (oth < r.other) { r.sec = r.best = b.t - a.t; r.other = oth; }
        }
        return r;
    }
    calls = (int)(g_time.target_s / (first > 1e-7 ? first : 1e-7));
    if (calls < 1) calls = 1;
    if (nx > 1 && calls < 8) calls = 8;    /* T=1: average over several expert sets */
    if (calls > 100000) calls = 100000;
    while (rep < g_time.reps && rep < 64) {
        double oth;
        a = cpu_now();
        for (i = 0; i < calls; i++, k++) f(ctx, xs + (size_t)(k % nx) * xstride, T, y);
        b = cpu_now();
        oth = other_cores(a, b);
        if (oth > g_time.busy_cores && r.retries < g_time.max_retries) { r.retries++; wait_quiet(); continue; }
        times[rep] = (b.t - a.t) / calls;
        others[rep] = oth;
        rep++;
    }
    r.other = 0;
    for (i = 0; i < rep; i++) {
        if (others[i] < 0) { r.other = -1; break; }
        r.other = others[i] > r.other ? others[i] : r.other;
    }
    qsort(times, (size_t)rep, sizeof(double), cmp_double);
    r.sec = rep % 2 ? times[rep / 2] : 0.5 * (times[rep / 2 - 1] + times[rep / 2]);
    r.best = times[0];
    r.calls = calls; r.reps = rep;
    return r;
}

/* ============================================================================================
   the run
   ============================================================================================ */
static double rel_err(const float *a, const float *ref, const unsigned char *use, int T, int D)
{
    double num = 0, den = 0;
    int t, i;
    for (t = 0; t < T; t++) {
        if (use && !use[t]) continue;
        for (i = 0; i < D; i++) {
            double d = (double)a[(size_t)t * D + i] - ref[(size_t)t * D + i];
            num += d * d;
            den += (double)ref[(size_t)t * D + i] * ref[(size_t)t * D + i];
        }
    }
    return den > 0 ? sqrt(num / den) : (num > 0 ? INFINITY : 0);
}

int g_check_fail;

/* library (batch and T=1), scalar path and OpenBLAS against the naive code on Tc tokens. */
static void cross_check(bench_layer *L, const moe_layer *lib, const moe_layer *lib_sc, void *work,
                        size_t ws, naive_ctx *nv, blas_ctx *bl, const float *x, int Tc)
{
    const int D = L->d_model, K = L->top_k;
    size_t n = (size_t)Tc * D;
    float *y_lib = (float *)big_alloc(n * 4), *y_one = (float *)big_alloc(n * 4);
    float *y_sc = (float *)big_alloc(n * 4), *y_nq = (float *)big_alloc(n * 4);
    float *y_nx = (float *)big_alloc(n * 4), *y_bl = (float *)big_alloc(n * 4);
    int *ids = (int *)big_alloc(sizeof(int) * (size_t)Tc * K);
    unsigned char *agree = (unsigned char *)big_alloc((size_t)Tc);
    int n_one = Tc < 4 ? Tc : 4, t, j, n_agree = 0;
    moe_run_opts o;
    lib_ctx lc;
    double e_lib, e_one, e_sc = -1, e_lib_q = -1, e_one_q = -1, e_sc_q = -1, e_bl = -1, tol = 1e-3;
    int ok_lib, ok_sc;
    memset(&o, 0, sizeof o);
    o.ids_out = ids;
    if (moe_forward_ex(lib, x, Tc, y_lib, work, ws, &o) != MOE_OK) die("moe_forward_ex failed in the check");
    lc.layer = lib; lc.work = work; lc.work_size = ws; lc.nthreads = g_opt.nthreads; lc.scalar = 0;
    for (t = 0; t < n_one; t++) run_lib(&lc, x + (size_t)t * D, 1, y_one + (size_t)t * D);
    nv->exact = 0;
    naive_forward(nv, x, Tc, y_nq);
    for (t = 0; t < Tc; t++) {
        agree[t] = 1;
        for (j = 0; j < K; j++) if (ids[t * K + j] != nv->ids[t * K + j]) agree[t] = 0;
        n_agree += agree[t];
    }
    if (is_q8act(L->type)) { nv->exact = 1; naive_forward(nv, x, Tc, y_nx); nv->exact = 0; }
    else memcpy(y_nx, y_nq, n * 4);
    e_lib = rel_err(y_lib, y_nx, agree, Tc, D);
    e_one = rel_err(y_one, y_nx, agree, n_one, D);
    if (is_q8act(L->type)) {
        e_lib_q = rel_err(y_lib, y_nq, agree, Tc, D);
        e_one_q = rel_err(y_one, y_nq, agree, n_one, D);
    }
    if (!g_opt.no_scalar) {
        lc.layer = lib_sc; lc.scalar = 1;
        run_lib(&lc, x, Tc, y_sc);
        e_sc = rel_err(y_sc, y_nx, agree, Tc, D);
        if (is_q8act(L->type)) e_sc_q = rel_err(y_sc, y_nq, agree, Tc, D);
    }
#ifdef BENCH_HAVE_OPENBLAS
    if (bl && L->type == MOE_TYPE_F32) {
        blas_forward(bl, x, Tc, y_bl);
        e_bl = rel_err(y_bl, y_nx, agree, Tc, D);
    }
#else
    (void)bl;
#endif
    /* the library may compute quantised types with q8 activations (as ggml) or f32 ones: it
       passes when it matches either naive form; Q4_0's 8-bit activations (about 1e-2 from exact)
       are held to the bound issue 5 allows for activation quantisation, 3e-2. K-quants and MXFP4
       run experts with 1..8 tokens on 8-bit activations in blocks of 256 (ggml's Q8_K; about
       2e-2 from exact in the tests) against a naive reference with f32 activations: 5e-2.
       FP8 E4M3 runs f32 activations: 1e-3. */
    if (L->type == MOE_TYPE_Q4_0) tol = 3e-2;
    else if (is_new_type(L->type) && L->type != MOE_TYPE_F8_E4M3) tol = 5e-2;
    ok_lib = (e_lib < tol || (e_lib_q >= 0 && e_lib_q < tol)) && (e_one < tol || (e_one_q >= 0 && e_one_q < tol));
    ok_sc = e_sc < 0 || e_sc < tol || (e_sc_q >= 0 && e_sc_q < tol);
    printf("check %-8s %-7s T=%d: %s  routing agrees on %d/%d tokens; rel. error vs naive%s: "
           "batch %.1e, T=1 %.1e",
           L->name, type_label(L->type), Tc, ok_lib && ok_sc ? "OK" : "MISMATCH", n_agree, Tc,
           is_q8act(L->type) ? " (f32 act.)" : is_new_type(L->type) ? " (dequantised, f32 act.)" : "", e_lib, e_one);
    if (is_q8act(L->type)) printf(", vs q8-act. naive: batch %.1e, T=1 %.1e", e_lib_q, e_one_q);
    if (e_sc >= 0) printf("; scalar path %.1e%s", e_sc, ok_sc ? "" : " (MISMATCH)");
    if (e_bl >= 0) printf("; OpenBLAS %.1e", e_bl);
    printf("\n");
    fflush(stdout);
    if (!(ok_lib && ok_sc) || n_agree < Tc * 3 / 4) g_check_fail++;
    add_check(L->name, L->type, Tc, "moe.h batch vs f32-act naive", e_lib);
    add_check(L->name, L->type, 1, "moe.h T=1 vs f32-act naive", e_one);
    add_check(L->name, L->type, Tc, "moe.h batch vs q8-act naive", e_lib_q);
    add_check(L->name, L->type, 1, "moe.h T=1 vs q8-act naive", e_one_q);
    add_check(L->name, L->type, Tc, "moe.h-scalar vs f32-act naive", e_sc);
    add_check(L->name, L->type, Tc, "openblas vs naive", e_bl);
    free(y_lib); free(y_one); free(y_sc); free(y_nq); free(y_nx); free(y_bl); free(ids); free(agree);
}

/* FP8 E4M3 with DeepSeek-V3-style block scales: for each expert and each FP8_BLOCK x FP8_BLOCK
   block, s = max|w| / 448 (E4M3's largest finite value), bytes = moe_quantize(w / s) (the
   library's encoder takes plain values), scale = s. Parallel over (expert, band of 128 rows). */
static int quantize_fp8_blocks(const float *src, unsigned char *dst, float *scale, size_t n_exp, size_t rows,
                               size_t cols)
{
    const size_t nbr = cdiv(rows, FP8_BLOCK), nbc = cdiv(cols, FP8_BLOCK);
    long u, nu = (long)(n_exp * nbr);
    int bad = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : bad)
    for (u = 0; u < nu; u++) {
        const size_t e = (size_t)u / nbr, br = (size_t)u % nbr;
        const size_t r0 = br * FP8_BLOCK, r1 = r0 + FP8_BLOCK < rows ? r0 + FP8_BLOCK : rows;
        float *sc = scale + (e * nbr + br) * nbc;
        float *tmp = (float *)malloc(sizeof(float) * cols);
        size_t r, j;
        if (!tmp) { bad = 1; continue; }
        for (j = 0; j < nbc; j++) sc[j] = 0;
        for (r = r0; r < r1; r++) {
            const float *w = src + (e * rows + r) * cols;
            for (j = 0; j < cols; j++) if (fabsf(w[j]) > sc[j / FP8_BLOCK]) sc[j / FP8_BLOCK] = fabsf(w[j]);
        }
        for (j = 0; j < nbc; j++) sc[j] = sc[j] > 0 ? sc[j] / 448.0f : 1.0f;
        for (r = r0; r < r1 && !bad; r++) {
            const float *w = src + (e * rows + r) * cols;
            for (j = 0; j < cols; j++) tmp[j] = w[j] / sc[j / FP8_BLOCK];
            if (moe_quantize(MOE_TYPE_F8_E4M3, tmp, dst + (e * rows + r) * cols, 1, cols) != MOE_OK) bad = 1;
        }
        free(tmp);
    }
    return !bad;
}

/* Build the current type's weights from the f32 master (moe_quantize, in parallel row chunks).
   Returns 0 (and leaves the layer on no weights) when the type's blocks do not divide a row. */
static int set_type(bench_layer *L, moe_type t)
{
    size_t ne = (size_t)L->n_experts;
    size_t rows_gu = ne * L->d_ff, rows_d = ne * L->d_model;
    free(L->qbuf);
    free(L->sbuf);
    L->qbuf = NULL; L->sbuf = NULL;
    L->gate = L->up = L->down = NULL;
    L->gate_s = L->up_s = L->down_s = NULL;
    L->type = t;
    L->rb_model = row_bytes(t, L->d_model);
    L->rb_ff = row_bytes(t, L->d_ff);
    if (L->rb_model == 0 || L->rb_ff == 0) return 0;
    if (moe_type_row_size(t, (size_t)L->d_model) != L->rb_model || moe_type_row_size(t, (size_t)L->d_ff) != L->rb_ff)
        die("moe_type_row_size disagrees with the ggml block sizes");
    if (t == MOE_TYPE_F32) {
        L->gate = (const unsigned char *)L->gate32;
        L->up = (const unsigned char *)L->up32;
        L->down = (const unsigned char *)L->down32;
        return 1;
    }
    {
        size_t bg = rows_gu * L->rb_model, bd = rows_d * L->rb_ff;
        unsigned char *q = (unsigned char *)big_alloc(2 * bg + bd);
        const float *src[3];
        unsigned char *dst[3];
        size_t rows[3], cols[3], rb[3];
        int m;
        int bad = 0;
        src[0] = L->gate32; dst[0] = q;          rows[0] = rows_gu; cols[0] = (size_t)L->d_model; rb[0] = L->rb_model;
        src[1] = L->up32;   dst[1] = q + bg;     rows[1] = rows_gu; cols[1] = (size_t)L->d_model; rb[1] = L->rb_model;
        src[2] = L->down32; dst[2] = q + 2 * bg; rows[2] = rows_d;  cols[2] = (size_t)L->d_ff;    rb[2] = L->rb_ff;
        if (t == MOE_TYPE_F8_E4M3) {
            size_t sg = ne * scales_gu(L), sd = ne * scales_dn(L);
            float *sb = (float *)big_alloc(sizeof(float) * (2 * sg + sd));
            float *sp[3];
            sp[0] = sb; sp[1] = sb + sg; sp[2] = sb + 2 * sg;
            for (m = 0; m < 3; m++)
                if (!quantize_fp8_blocks(src[m], dst[m], sp[m], ne, rows[m] / ne, cols[m])) bad = 1;
            L->sbuf = sb;
            L->gate_s = sp[0]; L->up_s = sp[1]; L->down_s = sp[2];
        } else {
            for (m = 0; m < 3; m++) {
                long c, nch = (long)((rows[m] + 255) / 256);
#pragma omp parallel for schedule(dynamic, 4) reduction(| : bad)
                for (c = 0; c < nch; c++) {
                    size_t r0 = (size_t)c * 256, nr = rows[m] - r0 < 256 ? rows[m] - r0 : 256;
                    if (moe_quantize(t, src[m] + r0 * cols[m], dst[m] + r0 * rb[m], nr, cols[m]) != MOE_OK) bad = 1;
                }
            }
        }
        if (bad) die("moe_quantize failed");
        L->qbuf = q;
        L->gate = dst[0]; L->up = dst[1]; L->down = dst[2];
    }
    return 1;
}

static moe_config layer_config(const bench_layer *L, int nthreads)
{
    moe_config c = moe_config_default();
    c.d_model = L->d_model; c.d_ff = L->d_ff; c.n_experts = L->n_experts; c.top_k = L->top_k;
    c.act = MOE_ACT_SWIGLU;
    c.score = MOE_SCORE_SOFTMAX;
    c.norm_topk = 1;
    c.n_threads = nthreads;
    return c;
}

static moe_weights layer_weights(const bench_layer *L)
{
    moe_weights w;
    memset(&w, 0, sizeof w);
    w.router.type = MOE_TYPE_F32; w.router.data = L->router;
    w.gate.type = L->type; w.gate.data = L->gate;
    w.up.type = L->type; w.up.data = L->up;
    w.down.type = L->type; w.down.data = L->down;
    if (L->sbuf) {   /* FP8: f32 scales per 128 x 128 block */
        w.gate.scale = L->gate_s; w.up.scale = L->up_s; w.down.scale = L->down_s;
        w.gate.scale_rows = w.up.scale_rows = w.down.scale_rows = FP8_BLOCK;
        w.gate.scale_cols = w.up.scale_cols = w.down.scale_cols = FP8_BLOCK;
    }
    return w;
}

static int count_unique(const int *ids, int n, int E)
{
    unsigned char seen[4096];
    int i, u = 0;
    if (E > 4096) return E;
    memset(seen, 0, (size_t)E);
    for (i = 0; i < n; i++) if (!seen[ids[i]]) { seen[ids[i]] = 1; u++; }
    return u;
}

/* The new types (K-quants, MXFP4, FP8) in the full run, to keep its time reasonable: the
   Mixtral-shaped layer (few large experts) runs them at T = 1 and 64 only, and at T = big_T (512)
   the scalar path and the naive code are not timed for them ('-' in the table). --all-rows: all. */
static int new_type_runs(const layer_spec *sp, moe_type t, int T, int big_T)
{
    return g_opt.all_rows || !is_new_type(t) || T < big_T || strcmp(sp->name, "mixtral") != 0;
}

static int new_type_baselines(moe_type t, int T, int big_T)
{
    return g_opt.all_rows || !is_new_type(t) || T < big_T;
}

void run_layer(const layer_spec *sp)
{
    bench_layer L;
    const int D = sp->d_model, F = sp->d_ff, E = sp->n_experts, K = sp->top_k, NT = g_opt.nthreads;
    static const int Ts_full[] = { 1, 64, 512, 4096 };
    static const int Ts_quick[] = { 1, 64, 256 };
    const int *Ts = g_opt.quick ? Ts_quick : Ts_full;
    const int nTs = g_opt.quick ? 3 : 4;
    const int big_T = g_opt.quick ? 256 : 512;   /* T of the thread scaling figure */
    const int NX1 = 64, Tc = 32;
    int Tmax = 0, Tnaive = Tc, i, ti, tt;
    float *x1, *xb, *y;
    double flops_tok = 6.0 * D * F * K;
    int uniq[8], have_uniq = 0;
    void *work;
    size_t ws = 0;
    naive_ctx nv;
    blas_ctx bl;
    moe_layer lib, lib_sc, lib_bd;   /* lib_bd: BF16 with cfg.batch_bf16 = MOE_BF16_DOT */
    moe_layer lib_pk;                /* lib with moe_prepack's tiles in pk_buf (pk_size bytes) */
    void *pk_buf = NULL;
    size_t pk_size = 0;

    for (i = 0; i < nTs; i++) {
        if (Ts[i] > Tmax) Tmax = Ts[i];
        if (Ts[i] <= big_T && Ts[i] > Tnaive) Tnaive = Ts[i];
    }
    /* the T=4096 point is Qwen3 + f32 only: the Mixtral-shaped layer stops at 512 */
    if (!g_opt.quick && E < 32) Tmax = 512;

    memset(&L, 0, sizeof L);
    L.name = sp->name; L.d_model = D; L.d_ff = F; L.n_experts = E; L.top_k = K;
    fprintf(stderr, "bench: %s: generating %.2f GiB of f32 weights...\n", sp->name,
            (double)E * 3 * D * F * 4 / (1 << 30));
    L.router = (float *)big_alloc(sizeof(float) * (size_t)E * D);
    L.gate32 = (float *)big_alloc(sizeof(float) * (size_t)E * F * D);
    L.up32 = (float *)big_alloc(sizeof(float) * (size_t)E * F * D);
    L.down32 = (float *)big_alloc(sizeof(float) * (size_t)E * D * F);
    fill_uniform(L.router, (size_t)E * D, sqrtf(3.0f / D) * 4, 11);
    fill_uniform(L.gate32, (size_t)E * F * D, sqrtf(3.0f / D), 12);
    fill_uniform(L.up32, (size_t)E * F * D, sqrtf(3.0f / D), 13);
    fill_uniform(L.down32, (size_t)E * D * F, sqrtf(3.0f / F), 14);
    x1 = (float *)big_alloc(sizeof(float) * (size_t)NX1 * D);
    xb = (float *)big_alloc(sizeof(float) * (size_t)Tmax * D);
    y = (float *)big_alloc(sizeof(float) * (size_t)Tmax * D);
    fill_uniform(x1, (size_t)NX1 * D, 1.0f, 21);
    fill_uniform(xb, (size_t)Tmax * D, 1.0f, 22);
    memset(y, 0, sizeof(float) * (size_t)Tmax * D);
    naive_init(&nv, &L, Tnaive, NT);

    for (tt = 0; tt < N_TYPES; tt++) {
        moe_type type = (moe_type)tt;
        moe_config cfg;
        moe_weights w;
        moe_status s;
        size_t ws_n, ws_s = 0;
        int have_bd;
        double eb;
        if (!(g_opt.type_mask & (1u << tt))) continue;
        fprintf(stderr, "bench: %s %s: preparing weights...\n", sp->name, type_label(type));
        if (!set_type(&L, type)) {
            printf("%-8s %-7s: d_model %d or d_ff %d is not whole %s blocks, skipped\n", sp->name, type_label(type),
                   D, F, type_label(type));
            continue;
        }
        cfg = layer_config(&L, NT);
        w = layer_weights(&L);
        s = moe_layer_init(&lib, &cfg, &w);
        if (s != MOE_OK) {
            printf("%-8s %-7s: moe_layer_init failed (%s), skipped\n", sp->name, type_label(type), moe_status_string(s));
            continue;
        }
        if (!g_opt.no_scalar) {
            s = bench_scalar_layer_init(&lib_sc, &cfg, &w);
            if (s != MOE_OK) die("scalar moe_layer_init failed where the native one succeeded");
        }
        ws_n = moe_workspace_size(&lib, Tmax);
        have_bd = 0;
        if (type == MOE_TYPE_BF16) {      /* the vdpbf16ps mode (EXACT where the path lacks it) */
            moe_config cd = cfg;
            cd.batch_bf16 = MOE_BF16_DOT;
            if (moe_layer_init(&lib_bd, &cd, &w) != MOE_OK) die("bf16 dot-mode layer");
            if (moe_workspace_size(&lib_bd, Tmax) > ws_n) ws_n = moe_workspace_size(&lib_bd, Tmax);
            have_bd = 1;
        }
        if (g_m.amx) {                  /* the AMX layer's workspace (its panels keep a few bytes more) */
            moe_config ca = cfg;
            moe_layer lam;
            ca.batch_amx = 1;
            if (type == MOE_TYPE_BF16) ca.batch_bf16 = MOE_BF16_DOT;
            if (moe_layer_init(&lam, &ca, &w) != MOE_OK) die("amx layer");
            if (moe_workspace_size(&lam, Tmax) > ws_n) ws_n = moe_workspace_size(&lam, Tmax);
        }
        /* moe_prepack's copy (integer-batch types only), made before the first batch row */
        lib_pk = lib;
        pk_size = moe_prepack_size(&lib_pk);
        pk_buf = NULL;
        if (!g_opt.no_scalar) ws_s = bench_scalar_workspace_size(&lib_sc, Tmax);
        if (ws_n == 0) die("moe_workspace_size returned 0");
        ws = ws_n > ws_s ? ws_n : ws_s;
        work = big_alloc(ws);
        memset(work, 0, ws);
        blas_init(&bl, &L, &lib, work, ws, Tmax);

        if (!have_uniq) {
            /* routing statistics (router is f32 for every type: same ids) */
            int *ids = (int *)big_alloc(sizeof(int) * (size_t)Tmax * K), u = 0;
            for (ti = 0; ti < nTs; ti++) {
                int T = Ts[ti] == 1 ? NX1 : Ts[ti];
                if (T > Tmax) { uniq[ti] = 0; continue; }
                if (moe_route(&lib, Ts[ti] == 1 ? x1 : xb, T, ids, NULL, work, ws) != MOE_OK) die("moe_route failed");
                uniq[ti] = count_unique(ids, T * K, E);
                if (Ts[ti] == 1) {
                    int c;
                    u = uniq[ti];
                    /* experts shared by consecutive T=1 calls (cache reuse between calls) */
                    for (c = 0, i = 0; c < NX1; c++) {
                        int a, b;
                        for (a = 0; a < K; a++)
                            for (b = 0; b < K; b++) i += ids[c * K + a] == ids[((c + 1) % NX1) * K + b];
                    }
                    printf("%s: T=1 cycles through %d inputs; they route to %d of %d experts, "
                           "%.2f of %d experts shared with the previous call on average\n",
                           sp->name, NX1, u, E, (double)i / NX1, K);
                }
            }
            free(ids);
            have_uniq = 1;
        }
        cross_check(&L, &lib, g_opt.no_scalar ? NULL : &lib_sc, work, ws, &nv, &bl, xb, Tc);

        eb = (double)expert_bytes(&L);
        for (ti = 0; ti < nTs; ti++) {
            const int T = Ts[ti];
            const int nx = T == 1 ? NX1 : 1;
            const float *xs = T == 1 ? x1 : xb;
            const size_t xstride = (size_t)D;
            double flops = flops_tok * T, bytes = (T == 1 ? (double)K : (double)uniq[ti]) * eb;
            lib_ctx lc;
            timing tm;
            result *lr;
            double bw_now = 0;
            if (T > Tmax) continue;
            if (T > big_T && type != MOE_TYPE_F32) continue;
            if (!new_type_runs(sp, type, T, big_T)) continue;
            lc.layer = &lib; lc.work = work; lc.work_size = ws; lc.nthreads = NT; lc.scalar = 0;
            if (T == 1) bw_now = sample_bandwidth(2);   /* the bandwidth this placement gets now */
            tm = measure(run_lib, &lc, xs, nx, xstride, T, y);
            lr = add_result(sp->name, type, T, "moe.h", NT, tm, flops, bytes);
            if (T == 1) {
                lr->bw_local = bw_now;
                if (g_m.bw_min_local == 0 || bw_now < g_m.bw_min_local) g_m.bw_min_local = bw_now;
                /* the same token every call: the same k experts, whose weights stay in the caches
                   when they fit (the summary compares: the one-token kernels' own rate) */
                tm = measure(run_lib, &lc, xs, 1, xstride, T, y);
                add_result(sp->name, type, T, "moe.h-hot", NT, tm, flops, bytes);
            }
            if (!g_opt.no_scalar && T <= big_T && new_type_baselines(type, T, big_T)) {
                lc.layer = &lib_sc; lc.scalar = 1;
                tm = measure(run_lib, &lc, xs, nx, xstride, T, y);
                add_result(sp->name, type, T, "moe.h-scalar", NT, tm, flops, bytes);
            }
            if (!g_opt.no_naive && T <= big_T && new_type_baselines(type, T, big_T)) {
                tm = measure(run_naive, &nv, xs, nx, xstride, T, y);
                add_result(sp->name, type, T, "naive", NT, tm, flops, bytes);
            }
#ifdef BENCH_HAVE_OPENBLAS
            if (!g_opt.no_blas && type == MOE_TYPE_F32) {
                tm = measure(run_blas, &bl, xs, nx, xstride, T, y);
                add_result(sp->name, type, T, "openblas", NT, tm, flops, bytes);
                sleep_s(0.2);   /* let OpenBLAS's spinning worker threads go to sleep */
            }
#endif
            print_row(stderr, lr);
            if (T > 1 && (type == MOE_TYPE_Q8_0 || type == MOE_TYPE_Q4_0)) {
                /* the same layer with cfg.batch_quant = MOE_BATCH_EXACT: f32 activations on decoded rows */
                moe_config ce = layer_config(&L, NT);
                moe_weights we = layer_weights(&L);
                moe_layer lex;
                ce.batch_quant = MOE_BATCH_EXACT;
                if (moe_layer_init(&lex, &ce, &we) != MOE_OK || moe_workspace_size(&lex, T) > ws) die("exact-mode layer");
                lc.layer = &lex; lc.scalar = 0;
                tm = measure(run_lib, &lc, xs, nx, xstride, T, y);
                add_result(sp->name, type, T, "moe.h-exact", NT, tm, flops, bytes);
                lc.layer = &lib;
            }
            if (T > 1 && type == MOE_TYPE_Q8_0) {
                /* cfg.batch_quant = MOE_BATCH_INT8: Q8_0 batches on the 8-bit q1 alone (vpdpbusd); its
                   output within 3e-2 (its class bound in the tests) of the default's */
                moe_config c8 = layer_config(&L, NT);
                moe_weights w8 = layer_weights(&L);
                moe_layer l8;
                float *y2 = (float *)big_alloc(sizeof(float) * (size_t)T * D);
                double e8;
                c8.batch_quant = MOE_BATCH_INT8;
                if (moe_layer_init(&l8, &c8, &w8) != MOE_OK || moe_workspace_size(&l8, T) > ws) die("int8-mode layer");
                if (moe_forward(&lib, xs, T, y, work, ws) != MOE_OK || moe_forward(&l8, xs, T, y2, work, ws) != MOE_OK) die("moe_forward (int8)");
                e8 = rel_err(y2, y, NULL, T, D);
                free(y2);
                if (e8 > 3e-2) die("MOE_BATCH_INT8 is further than 3e-2 from MOE_BATCH_INT");
                lc.layer = &l8; lc.scalar = 0;
                tm = measure(run_lib, &lc, xs, nx, xstride, T, y);
                print_row(stderr, add_result(sp->name, type, T, "moe.h-int8", NT, tm, flops, bytes));
                {   /* and on moe_prepack's tiles (bit for bit the same) */
                    size_t n8 = moe_prepack_size(&l8);
                    void *b8 = n8 ? big_alloc(n8) : NULL;
                    float *y3 = (float *)big_alloc(sizeof(float) * (size_t)T * D);
                    if (n8 && moe_prepack(&l8, b8, n8) == MOE_OK) {
                        if (moe_forward(&l8, xs, T, y3, work, ws) != MOE_OK) die("moe_forward (int8, pre-packed)");
                        tm = measure(run_lib, &lc, xs, nx, xstride, T, y);
                        if (memcmp(y, y3, sizeof(float) * (size_t)T * D) != 0) die("moe_prepack changed the int8 output");
                        print_row(stderr, add_result(sp->name, type, T, "moe.h-int8pk", NT, tm, flops, bytes));
                    }
                    free(y3); free(b8);
                }
                lc.layer = &lib;
            }
            if (T > 1 && pk_size > 0) {
                /* the same layer with its integer-batch tiles made once by moe_prepack */
                if (!pk_buf) {
                    pk_buf = big_alloc(pk_size);
                    if (moe_prepack(&lib_pk, pk_buf, pk_size) != MOE_OK) die("moe_prepack");
                    /* the same output bit for bit, on this row's tokens */
                    if (moe_forward(&lib, xs, T, y, work, ws) != MOE_OK) die("moe_forward");
                    {
                        float *y2 = (float *)big_alloc(sizeof(float) * (size_t)T * D);
                        if (moe_forward(&lib_pk, xs, T, y2, work, ws) != MOE_OK) die("moe_forward (pre-packed)");
                        if (memcmp(y, y2, sizeof(float) * (size_t)T * D) != 0) die("moe_prepack changed the output");
                        free(y2);
                    }
                }
                lc.layer = &lib_pk; lc.scalar = 0;
                tm = measure(run_lib, &lc, xs, nx, xstride, T, y);
                lr = add_result(sp->name, type, T, "moe.h-prepack", NT, tm, flops, bytes);
                lr->pk_ratio = (double)pk_size / (eb * E);
                print_row(stderr, lr);
                lc.layer = &lib;
            }
            if (T > 1 && have_bd) {
                lc.layer = &lib_bd; lc.scalar = 0;
                tm = measure(run_lib, &lc, xs, nx, xstride, T, y);
                print_row(stderr, add_result(sp->name, type, T, "moe.h-bf16dot", NT, tm, flops, bytes));
                lc.layer = &lib;
            }
            if (T > 1 && g_m.amx && (type == MOE_TYPE_BF16 || type == MOE_TYPE_Q8_0 || type == MOE_TYPE_Q4_0 || type == MOE_TYPE_Q4_K ||
                                     type == MOE_TYPE_Q5_K || type == MOE_TYPE_Q2_K || type == MOE_TYPE_MXFP4)) {
                /* cfg.batch_amx = 1 (BF16: with MOE_BF16_DOT): the integer types' output is the
                   vpdpbusd layer's bit for bit, BF16's within 1e-4 of the vdpbf16ps layer's */
                moe_config ca = layer_config(&L, NT);
                moe_weights wa = layer_weights(&L);
                moe_layer lam;
                const moe_layer *ref = type == MOE_TYPE_BF16 ? &lib_bd : &lib;
                float *y2 = (float *)big_alloc(sizeof(float) * (size_t)T * D);
                ca.batch_amx = 1;
                if (type == MOE_TYPE_BF16) ca.batch_bf16 = MOE_BF16_DOT;
                if (moe_layer_init(&lam, &ca, &wa) != MOE_OK || moe_workspace_size(&lam, T) > ws) die("amx layer");
                if (moe_forward(ref, xs, T, y, work, ws) != MOE_OK || moe_forward(&lam, xs, T, y2, work, ws) != MOE_OK) die("moe_forward (amx)");
                if (type != MOE_TYPE_BF16 ? memcmp(y, y2, sizeof(float) * (size_t)T * D) != 0 : rel_err(y2, y, NULL, T, D) > 1e-4)
                    die("the AMX layer's output differs from the vector kernels'");
                free(y2);
                lc.layer = &lam; lc.scalar = 0;
                tm = measure(run_lib, &lc, xs, nx, xstride, T, y);
                print_row(stderr, add_result(sp->name, type, T, "moe.h-amx", NT, tm, flops, bytes));
                lc.layer = &lib;
            }
            if (T == big_T && type == MOE_TYPE_F32 && NT > 1) {
                lc.layer = &lib; lc.scalar = 0; lc.nthreads = 1;
                tm = measure(run_lib, &lc, xs, nx, xstride, T, y);
                print_row(stderr, add_result(sp->name, type, T, "moe.h", 1, tm, flops, bytes));
            }
        }
        blas_free(&bl);
        free(work);
        free(pk_buf);
    }
    naive_free(&nv);
    free(L.qbuf); free(L.sbuf); free(L.router); free(L.gate32); free(L.up32); free(L.down32);
    free(x1); free(xb); free(y);
}
