/* test_shard.c - routed and sharded runs (moe_run_opts.route_ids / expert_begin / slot_out,
   moe_combine): what expert parallelism relies on, checked bit for bit against moe_forward.

   For each layer (f32 and quantised types, shared experts with gates, DeepSeek-style groups,
   Llama 4's weight_on_input, capacity, one token to batched sizes):
   - moe_forward_ex with route_ids/route_weights = what moe_route gave: y equal bit for bit;
   - for every shard count P = 1..E (experts split into P contiguous ranges, the shared ones on
     shard 0), each shard run on all tokens, its slot_out gathered by slot_expert into one
     array, moe_combine: equal to moe_forward's y bit for bit; slots a shard does not run are
     left as they were; the shards' partial y add up to y (within f32 rounding);
   - the all-to-all form: each shard gets only the tokens that have a slot on it (in token
     order, with their routing), and the slots it returns, put back in place, combine to y bit
     for bit;
   - bad routing and shard arguments are refused with the documented codes.
   --quick: shard counts 1, 2, 3 and E only. Prints "N passed, N failed"; exit status 1 on any
   failure. */
#define MOE_IMPLEMENTATION
#include "../moe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long g_pass, g_fail;
static int g_quick;                 /* --quick: shard counts 1, 2, 3 and E only */
static int check(int ok, const char *what, const char *label)
{
    if (ok) { g_pass++; return 1; }
    g_fail++;
    if (g_fail < 50) printf("FAIL %s: %s\n", label, what);
    return 0;
}
static void *xcalloc(size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    if (!p) { fprintf(stderr, "test_shard: out of memory\n"); exit(2); }
    return p;
}
static unsigned long long g_rng = 0x9e3779b97f4a7c15ull;
static float rnd(void)
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(g_rng >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}
/* little-endian f32 bytes of v (weights and biases are little-endian on every host) */
static void put_le(float *dst, const float *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t u;
        unsigned char *b = (unsigned char *)(dst + i);
        memcpy(&u, v + i, 4);
        b[0] = (unsigned char)u; b[1] = (unsigned char)(u >> 8); b[2] = (unsigned char)(u >> 16); b[3] = (unsigned char)(u >> 24);
    }
}
/* a tensor of n_mat matrices rows x cols of type t, random values times scale */
static void *tensor(moe_type t, size_t n_mat, size_t rows, size_t cols, float scale)
{
    size_t n = n_mat * rows * cols, i;
    float *f = (float *)xcalloc(n * sizeof(float));
    void *q = xcalloc(moe_type_row_size(t, cols) * n_mat * rows);
    for (i = 0; i < n; i++) f[i] = rnd() * scale;
    if (moe_quantize(t, f, q, n_mat * rows, cols) != MOE_OK) { fprintf(stderr, "test_shard: moe_quantize failed\n"); exit(2); }
    free(f);
    return q;
}
static float *vec(size_t n, float scale)
{
    float *v = (float *)xcalloc(n * sizeof(float)), *le = (float *)xcalloc(n * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) v[i] = rnd() * scale;
    put_le(le, v, n);
    free(v);
    return le;
}

typedef struct layer_case {
    const char *name;
    moe_type t;
    int E, k, D, F, S, FS, groups, woi, sgw, capacity;
    moe_score score;
} layer_case;

static void run_case(const layer_case *lc, int T)
{
    char label[200], what[200];
    moe_config cfg = moe_config_default();
    moe_weights w = moe_weights_default();
    moe_layer L;
    moe_run_opts o;
    int E = lc->E, k = lc->k, S = lc->S, D = lc->D, slots = lc->k + lc->S, P, p, t, j, i;
    size_t ns = (size_t)T * (size_t)slots, ws;
    float *x, *y0, *y, *ysum, *so_full, *sc_full, *so, *sc, *buf, *wts, *xs, *ys;
    int *ids, *se_full, *se, *owner_tok;
    void *work;
    void *allocs[16];
    int na = 0;
    snprintf(label, sizeof label, "%s T=%d", lc->name, T);
    cfg.d_model = D; cfg.d_ff = lc->F; cfg.n_experts = E; cfg.top_k = k; cfg.score = lc->score;
    cfg.n_shared = S; cfg.d_ff_shared = lc->FS; cfg.weight_on_input = lc->woi; cfg.n_threads = 2;
    if (lc->groups) { cfg.n_group = 4; cfg.topk_group = 2; cfg.group_score = MOE_GROUP_TOP2_SUM; cfg.routed_scale = 2.5f; }
    w.router.type = MOE_TYPE_F32; w.router.data = allocs[na++] = tensor(MOE_TYPE_F32, 1, (size_t)E, (size_t)D, 0.5f);
    w.gate.type = w.up.type = w.down.type = lc->t;
    w.gate.data = allocs[na++] = tensor(lc->t, (size_t)E, (size_t)lc->F, (size_t)D, 0.2f);
    w.up.data = allocs[na++] = tensor(lc->t, (size_t)E, (size_t)lc->F, (size_t)D, 0.2f);
    w.down.data = allocs[na++] = tensor(lc->t, (size_t)E, (size_t)D, (size_t)lc->F, 0.2f);
    if (S) {
        w.shared_gate.type = w.shared_up.type = w.shared_down.type = lc->t;
        w.shared_gate.data = allocs[na++] = tensor(lc->t, (size_t)S, (size_t)lc->FS, (size_t)D, 0.2f);
        w.shared_up.data = allocs[na++] = tensor(lc->t, (size_t)S, (size_t)lc->FS, (size_t)D, 0.2f);
        w.shared_down.data = allocs[na++] = tensor(lc->t, (size_t)S, (size_t)D, (size_t)lc->FS, 0.2f);
        if (lc->sgw) { float *v = vec((size_t)S * (size_t)D, 0.3f); w.shared_gate_w = v; allocs[na++] = v; }
    }
    if (lc->groups) { float *v = vec((size_t)E, 0.05f); w.selection_bias = v; allocs[na++] = v; }
    if (!check(moe_layer_init(&L, &cfg, &w) == MOE_OK, moe_layer_error(&L), label)) goto out;
    ws = moe_workspace_size(&L, T);
    work = allocs[na++] = xcalloc(ws);
    x = (float *)(allocs[na++] = xcalloc((size_t)T * (size_t)D * sizeof(float)));
    for (i = 0; i < T * D; i++) x[i] = rnd();
    y0 = (float *)(allocs[na++] = xcalloc((size_t)T * (size_t)D * sizeof(float) * 3));
    y = y0 + (size_t)T * (size_t)D; ysum = y + (size_t)T * (size_t)D;
    so_full = (float *)(allocs[na++] = xcalloc(ns * (size_t)D * sizeof(float) * 3));
    so = so_full + ns * (size_t)D; buf = so + ns * (size_t)D;
    sc_full = (float *)(allocs[na++] = xcalloc(ns * sizeof(float) * 2 + (size_t)T * (size_t)k * sizeof(float)));
    sc = sc_full + ns; wts = sc + ns;
    ids = (int *)(allocs[na++] = xcalloc((ns * 2 + (size_t)T * (size_t)k + (size_t)T) * sizeof(int)));
    se_full = ids + (size_t)T * (size_t)k; se = se_full + ns; owner_tok = se + ns;

    /* the reference: one process, everything */
    memset(&o, 0, sizeof o);
    o.capacity = lc->capacity; o.ids_out = ids; o.weights_out = wts; o.slot_out = so_full; o.slot_coef = sc_full; o.slot_expert = se_full;
    if (!check(moe_forward_ex(&L, x, T, y0, work, ws, &o) == MOE_OK, "moe_forward_ex (reference run)", label)) goto out;
    {
        float *yc = y;
        check(moe_combine(&L, T, so_full, sc_full, se_full, yc) == MOE_OK && memcmp(yc, y0, (size_t)T * (size_t)D * 4) == 0,
              "moe_combine of the run's own slot_out differs from its y", label);
    }
    {   /* routing is per token: a token routed alone gets the same experts and weights bit
           for bit (what lets every rank route only its own tokens) */
        int bad = -1, id1[16];
        float w1[16];
        for (t = 0; t < T && bad < 0; t++)
            if (moe_route(&L, x + (size_t)t * (size_t)D, 1, id1, w1, work, ws) != MOE_OK ||
                memcmp(id1, ids + (size_t)t * (size_t)k, (size_t)k * sizeof(int)) || memcmp(w1, wts + (size_t)t * (size_t)k, (size_t)k * sizeof(float)))
                bad = t;
        snprintf(what, sizeof what, "token %d routed alone differs from the batch's routing", bad);
        check(bad < 0, what, label);
    }
    /* the caller's routing: bit for bit */
    memset(&o, 0, sizeof o);
    o.capacity = lc->capacity; o.route_ids = ids; o.route_weights = wts;
    check(moe_forward_ex(&L, x, T, y, work, ws, &o) == MOE_OK && memcmp(y, y0, (size_t)T * (size_t)D * 4) == 0,
          "forward with route_ids/route_weights from the same routing differs from moe_forward", label);

    for (P = 1; P <= E; P++) {
        int bad_keep = 0, bad_own = 0, a2a;
        if (g_quick && P > 3 && P < E) continue;
        for (a2a = 0; a2a < 2; a2a++) {
            memset(ysum, 0, (size_t)T * (size_t)D * sizeof(float));
            for (p = 0; p < P; p++) {
                int b = E * p / P, e_ = E * (p + 1) / P, m = 0;
                size_t s;
                for (s = 0; s < ns * (size_t)D; s++) buf[s] = NAN;
                memset(&o, 0, sizeof o);
                o.capacity = lc->capacity; o.expert_begin = b; o.expert_end = e_; o.skip_shared = p > 0;
                o.slot_expert = se;
                if (!a2a) {              /* every shard sees every token (decode mode) */
                    o.route_ids = p % 2 ? ids : NULL; o.route_weights = p % 2 ? wts : NULL;   /* both ways */
                    o.slot_out = buf; o.slot_coef = sc;
                    if (!check(moe_forward_ex(&L, x, T, y, work, ws, &o) == MOE_OK, "shard run", label)) continue;
                    for (t = 0; t < T * D; t++) ysum[t] += y[t];
                    for (s = 0; s < ns; s++) {
                        int e = se_full[s], mine = e >= 0 && (e < E ? (e >= b && e < e_) : p == 0);
                        if (se[s] != se_full[s]) bad_own = 1;
                        if (mine) memcpy(so + s * (size_t)D, buf + s * (size_t)D, (size_t)D * sizeof(float));
                        else if (!isnan(buf[s * (size_t)D])) bad_keep = 1;
                    }
                } else {                 /* all-to-all: only the tokens with a slot here, in order */
                    int *sids = (int *)xcalloc((size_t)T * (size_t)k * sizeof(int));
                    float *swts = (float *)xcalloc((size_t)T * (size_t)k * sizeof(float));
                    xs = (float *)xcalloc((size_t)T * (size_t)D * sizeof(float));
                    ys = (float *)xcalloc(ns * (size_t)D * sizeof(float));
                    for (t = 0; t < T; t++) {
                        int has = p == 0 && S > 0;
                        for (j = 0; j < k; j++) { int e = ids[t * k + j]; if (e >= b && e < e_) has = 1; }
                        if (!has) continue;
                        owner_tok[m] = t;
                        memcpy(xs + (size_t)m * (size_t)D, x + (size_t)t * (size_t)D, (size_t)D * sizeof(float));
                        memcpy(sids + (size_t)m * (size_t)k, ids + (size_t)t * (size_t)k, (size_t)k * sizeof(int));
                        memcpy(swts + (size_t)m * (size_t)k, wts + (size_t)t * (size_t)k, (size_t)k * sizeof(float));
                        m++;
                    }
                    if (m > 0) {
                        int *sse = (int *)xcalloc((size_t)m * (size_t)slots * sizeof(int));
                        o.route_ids = sids; o.route_weights = swts; o.slot_out = ys; o.slot_expert = sse;
                        /* capacity counts first come in token order: a shard that sees a subset
                           sees each of its experts' tokens in the same order, so drops agree */
                        if (check(moe_forward_ex(&L, xs, m, NULL, work, ws, &o) == MOE_OK, "all-to-all shard run", label))
                            for (i = 0; i < m; i++)
                                for (j = 0; j < slots; j++) {
                                    size_t s0 = (size_t)i * (size_t)slots + (size_t)j, s1 = (size_t)owner_tok[i] * (size_t)slots + (size_t)j;
                                    int e = sse[s0], eg = j < k ? ids[(size_t)owner_tok[i] * (size_t)k + (size_t)j] : E + (j - k);
                                    /* its own slots: the same expert, dropped or not, as in one
                                       process (other experts' drops need all their tokens) */
                                    if ((eg < E ? (eg >= b && eg < e_) : p == 0) && e != se_full[s1]) bad_own = 1;
                                    if (e >= 0 && (e < E ? (e >= b && e < e_) : p == 0))
                                        memcpy(so + s1 * (size_t)D, ys + s0 * (size_t)D, (size_t)D * sizeof(float));
                                }
                        free(sse);
                    }
                    free(sids); free(swts); free(xs); free(ys);
                }
            }
            snprintf(what, sizeof what, "P=%d shards%s: moe_combine of the gathered slots differs from moe_forward", P,
                     a2a ? " (all-to-all, token subsets)" : "");
            check(moe_combine(&L, T, so, sc_full, se_full, y) == MOE_OK && memcmp(y, y0, (size_t)T * (size_t)D * 4) == 0, what, label);
            if (!a2a) {
                double mx = 0, d = 0;
                for (t = 0; t < T * D; t++) { mx = fmax(mx, fabs(y0[t])); d = fmax(d, fabs((double)ysum[t] - y0[t])); }
                snprintf(what, sizeof what, "P=%d: the shards' partial y sum to y within %.3g, bound 1e-5", P, mx > 0 ? d / mx : d);
                check(d <= 1e-5 * mx, what, label);
            }
        }
        snprintf(what, sizeof what, "P=%d: a shard wrote slots it does not run, or slot_expert differs", P);
        check(!bad_keep && !bad_own, what, label);
    }
out:
    for (i = 0; i < na; i++) free(allocs[i]);
}

static void errors(void)
{
    moe_config cfg = moe_config_default();
    moe_weights w = moe_weights_default();
    moe_layer L;
    moe_run_opts o;
    float *r = (float *)tensor(MOE_TYPE_F32, 1, 4, 32, 1), *g = (float *)tensor(MOE_TYPE_F32, 4, 16, 32, 1);
    float *u = (float *)tensor(MOE_TYPE_F32, 4, 16, 32, 1), *d = (float *)tensor(MOE_TYPE_F32, 4, 32, 16, 1);
    float x[2 * 32], y[2 * 32], wts[4] = {0.5f, 0.5f, 0.5f, 0.5f}, so[2 * 2 * 32], sc[4];
    int ids[4] = {0, 1, 2, 3}, se[4];
    void *work;
    size_t ws;
    const char *l = "errors";
    int i;
    for (i = 0; i < 64; i++) x[i] = rnd();
    cfg.d_model = 32; cfg.d_ff = 16; cfg.n_experts = 4;
    w.router.data = r; w.gate.data = g; w.up.data = u; w.down.data = d;
    if (!check(moe_layer_init(&L, &cfg, &w) == MOE_OK, "init", l)) return;
    ws = moe_workspace_size(&L, 2);
    work = xcalloc(ws);
    memset(&o, 0, sizeof o);
    o.route_ids = ids;
    check(moe_forward_ex(&L, x, 2, y, work, ws, &o) == MOE_ERR_NULL, "route_ids without route_weights: MOE_ERR_NULL", l);
    o.route_weights = wts; ids[3] = 4;
    check(moe_forward_ex(&L, x, 2, y, work, ws, &o) == MOE_ERR_ARG, "a route id = n_experts: MOE_ERR_ARG", l);
    ids[3] = -1;
    check(moe_forward_ex(&L, x, 2, y, work, ws, &o) == MOE_ERR_ARG, "a route id -1: MOE_ERR_ARG", l);
    ids[3] = 3;
    check(moe_forward_ex(&L, x, 2, y, work, ws, &o) == MOE_OK, "valid routing: MOE_OK", l);
    o.expert_begin = 3; o.expert_end = 2;
    check(moe_forward_ex(&L, x, 2, y, work, ws, &o) == MOE_ERR_ARG, "expert_begin > expert_end: MOE_ERR_ARG", l);
    o.expert_begin = 0; o.expert_end = 5;
    check(moe_forward_ex(&L, x, 2, y, work, ws, &o) == MOE_ERR_ARG, "expert_end > n_experts: MOE_ERR_ARG", l);
    o.expert_end = 4; o.skip_shared = 2;
    check(moe_forward_ex(&L, x, 2, y, work, ws, &o) == MOE_ERR_ARG, "skip_shared = 2: MOE_ERR_ARG", l);
    o.skip_shared = 0; o.slot_out = so; o.slot_coef = sc; o.slot_expert = se;
    check(moe_forward_ex(&L, x, 2, NULL, work, ws, &o) == MOE_OK, "y NULL with slot_out: MOE_OK", l);
    o.slot_out = NULL; o.slot_coef = NULL; o.slot_expert = NULL;
    check(moe_forward_ex(&L, x, 2, NULL, work, ws, &o) == MOE_ERR_NULL, "y NULL and no slot outputs: MOE_ERR_NULL", l);
    o.slot_coef = (float *)((char *)sc + 1);
    check(moe_forward_ex(&L, x, 2, y, work, ws, &o) == MOE_ERR_ALIGN, "misaligned slot_coef: MOE_ERR_ALIGN", l);
    check(moe_combine(&L, 2, NULL, sc, se, y) == MOE_ERR_NULL, "moe_combine without slot_out: MOE_ERR_NULL", l);
    check(moe_combine(&L, 0, so, sc, se, y) == MOE_ERR_ARG, "moe_combine with 0 tokens: MOE_ERR_ARG", l);
    check(moe_combine(NULL, 2, so, sc, se, y) == MOE_ERR_NULL, "moe_combine without a layer: MOE_ERR_NULL", l);
    free(work); free(r); free(g); free(u); free(d);
}

int main(int argc, char **argv)
{
    static const layer_case cases[] = {
        /* name                                   type             E  k   D    F    S  FS  groups woi sgw cap score */
        { "f32 softmax top-2",                     MOE_TYPE_F32,    8, 2, 64, 48,  0, 0,   0, 0, 0, 0, MOE_SCORE_SOFTMAX },
        { "q4_K DeepSeek-style groups + shared",   MOE_TYPE_Q4_K,  16, 4, 256, 256, 1, 256, 1, 0, 1, 0, MOE_SCORE_SIGMOID },
        { "q8_0 Llama4 weight_on_input + shared",  MOE_TYPE_Q8_0,   8, 1, 64, 64,  1, 64,  0, 1, 0, 0, MOE_SCORE_SIGMOID },
        { "f16 capacity 3",                        MOE_TYPE_F16,    8, 2, 64, 48,  0, 0,   0, 0, 0, 3, MOE_SCORE_SOFTMAX },
        { "mxfp4 softmax_topk",                    MOE_TYPE_MXFP4,  8, 4, 64, 96,  0, 0,   0, 0, 0, 0, MOE_SCORE_SOFTMAX_TOPK },
    };
    static const int Ts[3] = {1, 7, 80};
    int c, i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) g_quick = 1;
        else { fprintf(stderr, "usage: %s [--quick]\n", argv[0]); return 2; }
    }
    printf("moe.h shard tests: simd %s%s\n", moe_simd_name(), g_quick ? ", quick" : "");
    for (c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++)
        for (i = 0; i < 3; i++) run_case(&cases[c], Ts[i]);
    errors();
    printf("%ld passed, %ld failed\n", g_pass, g_fail);
    return g_fail != 0;
}
