/* fuzz_forward.c - libFuzzer target for moe_layer_init, moe_layer_error, moe_workspace_size,
   moe_forward, moe_forward_ex, moe_route and moe_prepack on small layers.

   The input decodes (one byte per field, see the comment above fz_decode) to a config - d_model
   and d_ff in 1..40 or 32/64 (rarely 96..256; fewer experts for wide layers, so a run stays
   around a millisecond), 1..16 experts, top_k, activation, score, norm, routed_scale, groups,
   shared experts, weight_on_input, biases, fused or split gate/up, per-expert pointers or
   stacked, every tensor type (F16/BF16/Q8_0/Q4_0 made by moe_quantize from fuzz floats, or raw
   bytes) - plus 1..20 tokens (rarely up to 40), capacity, thread counts, the workspace and call
   mode and x (with NaN, Inf, huge and denormal values). Past the input's end the bytes come
   from a PRNG seeded by the input. Weights, biases, x, y, ids and the workspace each live in a
   malloc'ed buffer of exactly the size the API asks for, so ASan reports any access outside.

   Checked: every status is a known code and moe_status_string is never NULL; a valid layer
   initialises, an invalid one (bad enum, negative or huge size, missing, ambiguous or
   misaligned tensor, ...) fails with the documented code and a non-empty moe_layer_error, and
   fields the layer ignores may hold anything; NULLs, n_tokens < 1, negative capacity, too many
   threads, misaligned arrays, a workspace one byte short and bad worker numbers get their
   codes; on MOE_OK the ids are in range and distinct per token, and for tame layers (weights,
   biases and config finite and at most 64 in size) and tokens with tame x: the routing weights
   lie in [0, routed_scale], ids and weights match a double-precision reference within its
   rounding bound, and y is finite and matches a double-precision reference of the layer
   within a propagated rounding and activation-quantisation bound; forward, forward_ex, route,
   in place, other thread counts, other task orders and other workspace contents give the same
   bits.

   Run: make fuzz-forward (or make fuzz; FUZZ_TIME=seconds). Replay without libFuzzer:
   tests/fuzz/replay.sh, or build with tests/fuzz/replay_main.c (README.md in this directory). */
#define MOE_IMPLEMENTATION
#include "../../moe.h"
#include "fuzz_util.h"
#include <limits.h>

/* ---- known status codes ------------------------------------------------------------------- */
static void fz_status_ok(moe_status s, const char *where)
{
    const char *str = moe_status_string(s);
    FZ_CHECK(str != NULL, "%s: moe_status_string(%d) is NULL", where, (int)s);
    FZ_CHECK((unsigned)s <= (unsigned)MOE_ERR_RANGE, "%s: unknown status %d", where, (int)s);
    FZ_CHECK(str[0] != 0 && strcmp(str, "unknown moe_status") != 0, "%s: status %d has no text", where, (int)s);
}
static void fz_expect(moe_status s, moe_status want, const char *call, const char *what)
{
    fz_status_ok(s, call);
    FZ_CHECK(s == want, "%s returned %d (%s), expected %d (%s): %s", call, (int)s, moe_status_string(s), (int)want,
             moe_status_string(want), what);
}
#define FZ_EXPECT(call, want, what) fz_expect((call), (want), #call, what)

/* Types this file decodes itself (fuzz_util.h); later ones (K-quants, MXFP4, F8_E4M3, ...) are
   decoded for the reference with moe_dequantize. Byte -> type: mostly the five known ones. */
#define FZ_NTYPES 5
static int fz_type_of(unsigned b) { return b < 160 ? (int)(b % FZ_NTYPES) : (int)((b - 160) % (unsigned)MOE_TYPE_COUNT); }
/* The block of 8-bit activation quantisation a matrix of this type may see (integer kernels):
   0 none (f32, f16, bf16), 32 (q8_0, q4_0), -1 unknown: the whole row, to be safe */
static int fz_qblock(int type)
{
    if (type == MOE_TYPE_Q8_0 || type == MOE_TYPE_Q4_0) return 32;
    return type < FZ_NTYPES ? 0 : -1;
}
#define fz_isq(type) (fz_qblock(type) != 0)

/* ---- tensors -------------------------------------------------------------------------------- */
enum { T_ROUTER, T_GATE, T_UP, T_DOWN, T_GATE_UP, T_SGATE, T_SUP, T_SDOWN, T_N };
enum { B_ROUTER, B_SEL, B_GATE, B_UP, B_GATE_UP, B_DOWN, B_SGW, B_N };

typedef struct fz_tensor {
    int present, type, n_exp, rows, cols, per_expert;
    size_t row_bytes, misalign;
    unsigned char *buf;            /* stacked: one allocation, data = buf + misalign          */
    unsigned char **ebuf;          /* per expert: n_exp allocations                           */
    const void **ptrs;             /* per expert: exactly n_exp pointers                      */
    float *dec;                    /* decoded [n_exp][rows][cols], NULL if not decodable       */
    int tame;
    moe_tensor mt;
} fz_tensor;

static void fz_tensor_free(fz_tensor *t)
{
    int e;
    if (t->ebuf) for (e = 0; e < t->n_exp; e++) free(t->ebuf[e]);
    free(t->ebuf); free((void *)t->ptrs); free(t->buf); free(t->dec);
    memset(t, 0, sizeof *t);
}

/* quantise rows*cols fuzz values into dst; values the type cannot hold fall back to tame ones */
FZ_NOCOV static void fz_fill(fz_tensor *t, fz_rd *r, float *src, size_t nv, unsigned char *dst, int rows, int wild, int raw)
{
    size_t i, bytes = t->row_bytes * (size_t)rows;
    moe_status s;
    if (t->row_bytes == 0) { fz_bytes(r, dst, 16); return; }
    if (t->type >= FZ_NTYPES && rows > 8) {
        /* the K-quant encoders search for scales and cost far more than a forward pass: encode 8
           rows and repeat them (the kernels see the same layout; the reference decodes the bytes) */
        int rr;
        fz_fill(t, r, src, 8 * (size_t)t->cols, dst, 8, wild, raw);
        for (rr = 8; rr < rows; rr++) memcpy(dst + (size_t)rr * t->row_bytes, dst + (size_t)(rr % 8) * t->row_bytes, t->row_bytes);
        return;
    }
    if (raw && t->type != MOE_TYPE_F32) { fz_bytes(r, dst, bytes); return; }
    fz_values(r, wild, src, nv);
    if (t->type == MOE_TYPE_F32) { memcpy(dst, src, bytes); return; }
    if (!FZ_STRICT && t->type == MOE_TYPE_Q8_0 && fz_q8_tiny_block(src, nv))   /* known finding, fuzz_util.h */
        for (i = 0; i < nv; i++) if (fabsf(src[i]) < 1.4928e-36f) src[i] = 0.0f;
    s = moe_quantize((moe_type)t->type, src, dst, (size_t)rows, (size_t)t->cols);
    fz_status_ok(s, "moe_quantize");
    if (s != MOE_OK) {
        FZ_CHECK(s == MOE_ERR_RANGE && wild, "moe_quantize(%s, %d x %d) of %s values: %s", moe_type_name((moe_type)t->type),
                 rows, t->cols, wild ? "wild" : "tame", moe_status_string(s));
        for (i = 0; i < nv; i++) if (!fz_tame(src[i])) src[i] = (float)(i % 17) - 8.0f;
        FZ_EXPECT(moe_quantize((moe_type)t->type, src, dst, (size_t)rows, (size_t)t->cols), MOE_OK, "tame values");
    }
}

static void fz_tensor_make(fz_tensor *t, fz_rd *r, int type, int n_exp, int rows, int cols, int per_expert,
                           size_t misalign, int wild, int raw)
{
    size_t rb = type < FZ_NTYPES ? fz_row_bytes(type, (size_t)cols) : moe_type_row_size((moe_type)type, (size_t)cols), per;
    size_t nv = (size_t)rows * (size_t)cols;
    int e;
    float *src;
    memset(t, 0, sizeof *t);
    t->present = 1; t->type = type; t->n_exp = n_exp; t->rows = rows; t->cols = cols;
    t->per_expert = per_expert; t->row_bytes = rb; t->misalign = misalign;
    per = rb ? rb * (size_t)rows : 16;                   /* not whole blocks: init must refuse it */
    src = (float *)malloc(nv * (per_expert ? 1 : (size_t)n_exp) * sizeof(float));
    if (per_expert) {
        t->ebuf = (unsigned char **)malloc((size_t)n_exp * sizeof *t->ebuf);
        t->ptrs = (const void **)malloc((size_t)n_exp * sizeof *t->ptrs);
        for (e = 0; e < n_exp; e++) {
            t->ebuf[e] = (unsigned char *)malloc(per + misalign);
            fz_fill(t, r, src, nv, t->ebuf[e] + misalign, rows, wild, raw);
            t->ptrs[e] = t->ebuf[e] + misalign;
        }
        t->mt.expert_data = t->ptrs;
    } else {
        t->buf = (unsigned char *)malloc(per * (size_t)n_exp + misalign);
        fz_fill(t, r, src, nv * (size_t)n_exp, t->buf + misalign, rows * n_exp, wild, raw);
        t->mt.data = t->buf + misalign;
    }
    t->mt.type = (moe_type)type;
    free(src);
    t->tame = -1;                                         /* not known yet: fz_tensor_decode */
}

/* decode (for the reference) and find whether every value is tame; once, when first needed */
FZ_NOCOV static int fz_tensor_decode(fz_tensor *t)
{
    size_t rb = t->row_bytes, nv = (size_t)t->rows * (size_t)t->cols, per = rb * (size_t)t->rows, i;
    int e, rr;
    if (t->tame >= 0) return t->tame;
    t->tame = 0;
    if (!rb) return 0;
    t->dec = (float *)malloc(nv * (size_t)t->n_exp * sizeof(float));
    for (e = 0; e < t->n_exp; e++) {
        const unsigned char *base = t->per_expert ? t->ebuf[e] + t->misalign : t->buf + t->misalign + (size_t)e * per;
        for (rr = 0; rr < t->rows; rr++) {
            float *dst = t->dec + ((size_t)e * (size_t)t->rows + (size_t)rr) * (size_t)t->cols;
            if (t->type < FZ_NTYPES) fz_decode_row(t->type, base + (size_t)rr * rb, (size_t)t->cols, dst);
            else if (moe_dequantize((moe_type)t->type, base + (size_t)rr * rb, dst, 1, (size_t)t->cols) != MOE_OK) return 0;
        }
    }
    for (i = 0; i < nv * (size_t)t->n_exp; i++) if (!fz_tame(t->dec[i])) return 0;
    t->tame = 1;
    return 1;
}

/* ---- the model decoded from the input -------------------------------------------------------- */
typedef struct fz_model {
    moe_config cfg;
    moe_weights w;
    fz_tensor t[T_N];
    float *bias[B_N];
    size_t bias_n[B_N];
    int bias_tame[B_N];
    int gated, fused, il, per_expert, wild_x, wild_w, wild_b, raw;
    int cfg_tame;                 /* routed_scale and the OAI constants are tame             */
    int expect_ok;                /* by the documented rules, moe_layer_init must succeed     */
    moe_status expect;            /* ... or fail with this code                               */
    int T, capacity, nt_run;
    unsigned ws_mode, call_mode, odd, pool_code, misc, odd_arg;
    float *x;                     /* [T][d_model] exactly                                     */
    int x_tame_tok[40], x_finite_tok[40];
} fz_model;

/* at most this many values in one expert tensor (fewer experts for wide layers): keeps a run
   under a millisecond or so */
#define FZ_MAX_MATRIX 8192
static int fz_dim(unsigned b)
{
    static const int big[8] = { 96, 96, 96, 96, 128, 128, 192, 256 };   /* b = 248..255 */
    if (b < 128) return 1 + (int)(b % 40);
    if (b >= 248) return big[b - 248];
    return (b & 3) == 3 ? 64 : 32;
}
static int fz_is_gated(int act) { return act != MOE_ACT_GELU && act != MOE_ACT_RELU; }

FZ_NOCOV static float *fz_bias(fz_model *m, fz_rd *r, int which, size_t n)
{
    size_t i;
    float *b = (float *)malloc(n * sizeof(float));
    m->bias_tame[which] = 1;
    for (i = 0; i < n; i++) {
        b[i] = fz_value(r, m->wild_b);
        if (!fz_tame(b[i])) m->bias_tame[which] = 0;
    }
    m->bias[which] = b; m->bias_n[which] = n;
    return b;
}

/* The input, one byte per field in this order (tests/fuzz/gen_seeds.c writes inputs this way):
    0 d_model, 1 d_ff: fz_dim (< 128: 1 + b % 40; < 248: 32, or 64 when b % 4 == 3; 248..251: 96,
      252, 253: 128, 254: 192, 255: 256)
    2 n_experts 1 + b % 16 (fewer when n_experts * d_model * d_ff > FZ_MAX_MATRIX), 3 top_k 1 + b % E
    4 act b % 5, 5 score b % 3
    6 flags: 1 norm_topk, 2 weight_on_input, 4 gelu_tanh, 8 MOE_GROUP_TOP2_SUM, 16 fused gate_up,
      32 interleaved, 64 router_bias, 128 selection_bias
    7 flags: 1 gate/up biases, 2 (with 1) as one gate_up_bias, 4 down_bias, 8 shared_gate_w,
      16 per-expert pointers, 32 non-f32 tensors at odd addresses, 64 cfg.batch_quant =
      MOE_BATCH_EXACT (else INT), 128 cfg.batch_bf16 = MOE_BF16_DOT (else EXACT)
    8 routed_scale (< 240: {1, 1, 2.5, 16, 0.5, -1, 1e-3, 3}[b % 8], else {0, 1e30, -1e-30, 1}[b % 4])
    9 groups (b % 4 >= 2: the ((b / 4) % n)-th divisor > 1 of E), 10 topk_group 1 + b % n_group
   11 shared experts (b % 4: 0, 0, 1, 2), 12 d_ff_shared (fz_dim)
   13 threads: cfg.n_threads b % 5, run A's opts.n_threads (b >> 3) % (n_threads + 1)
   14..21 types of router, gate, up, down, gate_up, shared_gate, shared_up, shared_down:
      b < 160: b % 5 (f32 f16 bf16 q8_0 q4_0), else (b - 160) % MOE_TYPE_COUNT (all types: also
      the K-quants, mxfp4, f8_e4m3); bit 128: raw bytes when byte 27 says so
   22 n_tokens (< 128: 1 + b % 8; < 248: 1 + b % 20; else 21 + b % 20), 23 capacity (>= 192: 1 + b % T)
   24 run A's workspace (b % 16: 0 exact, 1 one byte short, 2 at offset 1..63, 3 larger, 4 too small)
   25 run A's call (b % 4: forward_ex, forward, route, forward_ex with ids only; 4: own pool;
      8, 16: route without ids / weights; 32: run B uses run A's capacity)
   26 SWIGLU_OAI alpha 1.702 + ((b >> 4) % 8) / 4 and limit b % 16 (b >= 200: alpha -3 or 0, limit 60)
   27 values: 1 wild x, 6 (both bits) wild weights, 24 (both bits) wild biases, 32 raw tensor bytes
   28 odd config (>= 128: kind b % 12, see fz_odd_config), 29 pool order, 30 misc, 31 odd argument
   then x (with wild x, one byte per token first: 1 a NaN, 2 an Inf, 3 times 1e36, >= 4 wild
   values), the biases, and the tensors' values (see fz_value). */
static void fz_decode(fz_model *m, fz_rd *r)
{
    static const float tame_scale[8] = { 1.0f, 1.0f, 2.5f, 16.0f, 0.5f, -1.0f, 1e-3f, 3.0f };
    static const float wild_scale[4] = { 0.0f, 1e30f, -1e-30f, 1.0f };
    moe_config *c = &m->cfg;
    unsigned b, fa, fb, vm, tb[T_N];
    int E, D, ff, i, ffs = 1;
    size_t misalign[T_N];
    memset(m, 0, sizeof *m);
    *c = moe_config_default();
    m->w = moe_weights_default();
    c->d_model = D = fz_dim(fz_u8(r));
    c->d_ff = ff = fz_dim(fz_u8(r));
    c->n_experts = E = 1 + (int)(fz_u8(r) % 16);
    if (E * D * ff > FZ_MAX_MATRIX) c->n_experts = E = FZ_MAX_MATRIX / (D * ff) > 0 ? FZ_MAX_MATRIX / (D * ff) : 1;
    c->top_k = 1 + (int)(fz_u8(r) % (unsigned)E);
    c->act = (moe_act)(fz_u8(r) % 5);
    c->score = (moe_score)(fz_u8(r) % 3);
    fa = fz_u8(r); fb = fz_u8(r);
    c->norm_topk = (int)(fa & 1);
    c->weight_on_input = (int)(fa >> 1 & 1);
    c->gelu_tanh = (int)(fa >> 2 & 1);
    c->group_score = (fa >> 3 & 1) ? MOE_GROUP_TOP2_SUM : MOE_GROUP_MAX;
    m->gated = fz_is_gated(c->act);
    m->fused = (int)(fa >> 4 & 1);
    m->il = (int)(fa >> 5 & 1);
    m->w.gate_up_layout = m->il ? MOE_GATE_UP_INTERLEAVED : MOE_GATE_UP_HALVES;
    m->per_expert = (int)(fb >> 4 & 1);
    c->batch_quant = (fb & 64) ? MOE_BATCH_EXACT : MOE_BATCH_INT;
    c->batch_bf16 = (fb & 128) ? MOE_BF16_DOT : MOE_BF16_EXACT;
    b = fz_u8(r);                                                      /* routed_scale */
    c->routed_scale = b < 240 ? tame_scale[b % 8] : wild_scale[b % 4];
    b = fz_u8(r);                                                      /* groups */
    if (b % 4 >= 2) {
        int divs[16], nd = 0, d;
        for (d = 2; d <= E; d++) if (E % d == 0) divs[nd++] = d;
        if (nd) c->n_group = divs[(b / 4) % (unsigned)nd];
    }
    b = fz_u8(r);
    if (c->n_group > 1) {
        int gs = E / c->n_group;
        c->topk_group = 1 + (int)(b % (unsigned)c->n_group);
        if (c->top_k > c->topk_group * gs) c->top_k = c->topk_group * gs;
        if (c->group_score == MOE_GROUP_TOP2_SUM && gs < 2) c->group_score = MOE_GROUP_MAX;
    } else {
        c->n_group = (int)(b & 1); c->topk_group = 0;     /* 0 or 1: no groups */
    }
    b = fz_u8(r);                                                      /* shared experts */
    c->n_shared = (int)(b % 4 == 3 ? 2 : b % 4 == 2 ? 1 : 0);
    ffs = fz_dim(fz_u8(r));
    c->d_ff_shared = c->n_shared ? ffs : 0;
    b = fz_u8(r);                                                      /* threads */
    c->n_threads = (int)(b % 5);
    m->nt_run = (int)((b >> 3) % (unsigned)(c->n_threads > 1 ? c->n_threads + 1 : 2));
    for (i = 0; i < T_N; i++) tb[i] = fz_u8(r);
    b = fz_u8(r);
    m->T = b >= 248 ? 21 + (int)(b % 20) : b >= 128 ? 1 + (int)(b % 20) : 1 + (int)(b % 8);
    b = fz_u8(r);
    m->capacity = b < 192 ? 0 : 1 + (int)(b % (unsigned)m->T);
    m->ws_mode = fz_u8(r);
    m->call_mode = fz_u8(r);
    b = fz_u8(r);                                                      /* SWIGLU_OAI constants */
    c->oai_alpha = b < 200 ? 1.702f + (float)((b >> 4) % 8) * 0.25f : (b & 1) ? -3.0f : 0.0f;
    c->oai_limit = b < 200 ? (float)(b % 16) : 60.0f;
    vm = fz_u8(r);                                                     /* value modes */
    m->wild_x = (int)(vm & 1);
    m->wild_w = (vm >> 1 & 3) == 3;
    m->wild_b = (vm >> 3 & 3) == 3;
    m->raw = (int)(vm >> 5 & 1);
    m->odd = fz_u8(r);
    m->pool_code = fz_u8(r);
    m->misc = fz_u8(r);
    m->odd_arg = fz_u8(r);
    m->cfg_tame = fz_finite(c->routed_scale) && fabsf(c->routed_scale) <= FZ_TAME &&
                  fabsf(c->oai_alpha) <= FZ_TAME && c->oai_limit <= FZ_TAME;

    /* x first, so short inputs control it */
    m->x = (float *)malloc((size_t)m->T * (size_t)D * sizeof(float));
    for (i = 0; i < m->T; i++) {
        int d, tame = 1, fin = 1, special = m->wild_x ? (int)(fz_u8(r) % 8) : 0;
        for (d = 0; d < D; d++) {
            float v = fz_value(r, m->wild_x && special >= 4);
            if (special == 1 && d == (i * 7) % D) v = NAN;
            if (special == 2 && d == 0) v = (i & 1) ? INFINITY : -INFINITY;
            if (special == 3) v *= 1e36f;
            m->x[(size_t)i * (size_t)D + (size_t)d] = v;
            if (!fz_tame(v)) tame = 0;
            if (!fz_finite(v)) fin = 0;
        }
        m->x_tame_tok[i] = tame; m->x_finite_tok[i] = fin;
    }
    /* biases */
    if (fa & 0x40) m->w.router_bias = fz_bias(m, r, B_ROUTER, (size_t)E);
    if (fa & 0x80) m->w.selection_bias = fz_bias(m, r, B_SEL, (size_t)E);
    if (fb & 1) {
        if (fb & 2) m->w.gate_up_bias = fz_bias(m, r, B_GATE_UP, 2 * (size_t)E * (size_t)ff);
        else {
            if (m->gated) m->w.gate_bias = fz_bias(m, r, B_GATE, (size_t)E * (size_t)ff);
            m->w.up_bias = fz_bias(m, r, B_UP, (size_t)E * (size_t)ff);
        }
    }
    if (fb & 4) m->w.down_bias = fz_bias(m, r, B_DOWN, (size_t)E * (size_t)D);
    if ((fb & 8) && c->n_shared) m->w.shared_gate_w = fz_bias(m, r, B_SGW, (size_t)c->n_shared * (size_t)D);
    /* tensors: type from its byte; non-f32 data may sit at an odd address */
    for (i = 0; i < T_N; i++) misalign[i] = ((fb & 0x20) && fz_type_of(tb[i]) != 0) ? 1 + (tb[i] >> 3) % 3 : 0;
    fz_tensor_make(&m->t[T_ROUTER], r, fz_type_of(tb[0]), 1, E, D, 0, misalign[0], m->wild_w, m->raw && (tb[0] & 0x80));
    if (m->fused) {
        fz_tensor_make(&m->t[T_GATE_UP], r, fz_type_of(tb[4]), E, 2 * ff, D, m->per_expert, misalign[4], m->wild_w, m->raw && (tb[4] & 0x80));
    } else {
        if (m->gated)
            fz_tensor_make(&m->t[T_GATE], r, fz_type_of(tb[1]), E, ff, D, m->per_expert, misalign[1], m->wild_w, m->raw && (tb[1] & 0x80));
        fz_tensor_make(&m->t[T_UP], r, fz_type_of(tb[2]), E, ff, D, m->per_expert, misalign[2], m->wild_w, m->raw && (tb[2] & 0x80));
    }
    fz_tensor_make(&m->t[T_DOWN], r, fz_type_of(tb[3]), E, D, ff, m->per_expert, misalign[3], m->wild_w, m->raw && (tb[3] & 0x80));
    if (c->n_shared) {
        int S = c->n_shared;
        if (m->gated) fz_tensor_make(&m->t[T_SGATE], r, fz_type_of(tb[5]), S, ffs, D, m->per_expert, misalign[5], m->wild_w, m->raw && (tb[5] & 0x80));
        fz_tensor_make(&m->t[T_SUP], r, fz_type_of(tb[6]), S, ffs, D, m->per_expert, misalign[6], m->wild_w, m->raw && (tb[6] & 0x80));
        fz_tensor_make(&m->t[T_SDOWN], r, fz_type_of(tb[7]), S, D, ffs, m->per_expert, misalign[7], m->wild_w, m->raw && (tb[7] & 0x80));
    }
    m->w.router = m->t[T_ROUTER].mt;
    m->w.gate = m->t[T_GATE].mt; m->w.up = m->t[T_UP].mt; m->w.down = m->t[T_DOWN].mt;
    m->w.gate_up = m->t[T_GATE_UP].mt;
    m->w.shared_gate = m->t[T_SGATE].mt; m->w.shared_up = m->t[T_SUP].mt; m->w.shared_down = m->t[T_SDOWN].mt;

    /* what moe_layer_init must say: config errors first, then weights */
    m->expect = MOE_OK;
    if (!fz_finite(c->routed_scale) || c->routed_scale == 0.0f) m->expect = MOE_ERR_CONFIG;
    else {
        for (i = 0; i < T_N; i++)
            if (m->t[i].present && m->t[i].row_bytes == 0) m->expect = MOE_ERR_WEIGHTS;
    }
    m->expect_ok = m->expect == MOE_OK;
}

static void fz_model_free(fz_model *m)
{
    int i;
    for (i = 0; i < T_N; i++) fz_tensor_free(&m->t[i]);
    for (i = 0; i < B_N; i++) free(m->bias[i]);
    free(m->x);
}

/* every tensor and bias the layer reads is tame, and so is the config */
FZ_NOCOV static int fz_model_tame(fz_model *m)
{
    int i;
    if (!m->cfg_tame) return 0;
    for (i = 0; i < B_N; i++) if (m->bias[i] && !m->bias_tame[i]) return 0;
    for (i = 0; i < T_N; i++) if (m->t[i].present && !fz_tensor_decode(&m->t[i])) return 0;
    for (i = 0; i < B_N; i++) if (m->bias[i] && !m->bias_tame[i]) return 0;
    return 1;
}

static const fz_model *fz_current;
static void fz_dump(void)
{
    const fz_model *m = fz_current;
    const moe_config *c;
    int i;
    if (!m) return;
    c = &m->cfg;
    fprintf(stderr, "    layer: d_model %d d_ff %d n_experts %d top_k %d act %d score %d norm_topk %d routed_scale %g\n"
                    "           n_group %d topk_group %d group_score %d weight_on_input %d gelu_tanh %d oai %g/%g\n"
                    "           n_shared %d d_ff_shared %d n_threads %d | %s, %s, gate_up %s\n",
            c->d_model, c->d_ff, c->n_experts, c->top_k, (int)c->act, (int)c->score, c->norm_topk, (double)c->routed_scale,
            c->n_group, c->topk_group, (int)c->group_score, c->weight_on_input, c->gelu_tanh, (double)c->oai_alpha,
            (double)c->oai_limit, c->n_shared, c->d_ff_shared, c->n_threads, m->per_expert ? "per-expert pointers" : "stacked",
            m->fused ? "fused gate_up" : "split gate/up", m->il ? "interleaved" : "halves");
    fprintf(stderr, "    tensors:");
    for (i = 0; i < T_N; i++)
        if (m->t[i].present)
            fprintf(stderr, " %s=%s%s%s", (const char *const[]){ "router", "gate", "up", "down", "gate_up", "shared_gate", "shared_up", "shared_down" }[i],
                    moe_type_name((moe_type)m->t[i].type), m->t[i].misalign ? "(odd address)" : "", m->t[i].tame == 0 ? "(not tame)" : "");
    fprintf(stderr, "\n    biases:");
    for (i = 0; i < B_N; i++)
        if (m->bias[i])
            fprintf(stderr, " %s%s", (const char *const[]){ "router_bias", "selection_bias", "gate_bias", "up_bias", "gate_up_bias", "down_bias", "shared_gate_w" }[i],
                    m->bias_tame[i] ? "" : "(not tame)");
    fprintf(stderr, "\n    run: n_tokens %d capacity %d opts.n_threads %d ws_mode %u call_mode %u odd %u pool %u misc %u simd %s\n",
            m->T, m->capacity, m->nt_run, m->ws_mode, m->call_mode, m->odd, m->pool_code, m->misc, moe_simd_name());
}

/* ---- a caller's thread pool, run serially in a fuzz-chosen order and worker numbering ---- */
typedef struct fz_pool {
    int nt, order, rot, calls, bad_at, bad_worker;
} fz_pool;
static int fz_gcd(int a, int b) { while (b) { int t = a % b; a = b; b = t; } return a; }
static void fz_parallel_for(void *pool, moe_task_fn task, void *ctx, int n)
{
    fz_pool *p = (fz_pool *)pool;
    int i, stride = 1;
    FZ_CHECK(n > 0 && task != NULL, "parallel_for called with n_tasks %d", n);
    if (p->order >= 2) { stride = 2 * p->order + 1; while (fz_gcd(stride, n) != 1) stride++; }
    for (i = 0; i < n; i++) {
        int idx = p->order == 1 ? n - 1 - i : (int)(((long long)i * stride) % n);
        int wk = (i + p->rot) % p->nt;
        if (p->calls++ == p->bad_at) wk = p->bad_worker;
        task(ctx, idx, wk);
    }
}

/* ---- reference: the layer in double, with a bound on the library's rounding ----------------- */
#define FZ_U 5.9604644775390625e-8             /* 2^-24 */
FZ_NOCOV static double fz_gamma(int n) { return (double)(n + 4) * 2.0 * FZ_U; }
FZ_NOCOV static double fz_sig(double v) { return 1.0 / (1.0 + exp(-v)); }
FZ_NOCOV static double fz_gelu(double v, int tanh_form)
{
    if (tanh_form) return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    return 0.5 * v * (1.0 + erf(v * 0.7071067811865476));
}

/* r = w . v + bias; *err bounds |library - r| given |v_lib - v| <= ev, and qe (if not NULL):
   the error of the library's 8-bit quantised (or bf16-rounded) copy of v; ab: an absolute error
   per term (MOE_BF16_DOT: vdpbf16ps flushes subnormal inputs, products and sums to zero) */
FZ_NOCOV static double fz_dot(const float *w, const double *v, const double *ev, const double *qe, int n, double bias, double ab, double *err)
{
    double s = bias, a = fabs(bias), e = 0.0;
    int j;
    for (j = 0; j < n; j++) {
        double aw = fabs((double)w[j]);
        s += (double)w[j] * v[j];
        a += aw * (fabs(v[j]) + ev[j] + (qe ? qe[j] : 0.0));
        e += aw * (ev[j] + (qe ? qe[j] : 0.0));
    }
    *err = e + fz_gamma(n) * a + 2.0 * (double)n * ab;
    return s;
}
/* per element: what an 8-bit block quantisation of a vector within v +- ev can be off by */
FZ_NOCOV static void fz_qerr(const double *v, const double *ev, int n, int blk, double *qe)
{
    int b, j;
    if (blk <= 0) blk = n;
    for (b = 0; b < n; b += blk) {
        double amax = 0.0;
        int end = b + blk < n ? b + blk : n;
        for (j = b; j < end; j++) if (fabs(v[j]) + ev[j] > amax) amax = fabs(v[j]) + ev[j];
        for (j = b; j < end; j++) qe[j] = amax / 254.0 * 1.01 + 1e-38;
    }
}

FZ_NOCOV static double fz_act(const moe_config *c, double g, double u, double eg, double eu, double *eh)
{
    double h, a, L;
    switch (c->act) {
    case MOE_ACT_SWIGLU:
        a = g * fz_sig(g); h = a * u;
        *eh = 1.1 * eg * (fabs(u) + eu) + fabs(a) * eu + 1e-6 * fabs(h) + 4e-7 * fabs(g) * fabs(u);
        return h;
    case MOE_ACT_GEGLU:
        a = fz_gelu(g, c->gelu_tanh); h = a * u;
        *eh = 1.2 * eg * (fabs(u) + eu) + fabs(a) * eu + 1e-6 * fabs(h) + 4e-7 * fabs(g) * fabs(u);
        return h;
    case MOE_ACT_GELU:
        h = fz_gelu(u, c->gelu_tanh);
        *eh = 1.2 * eu + 1e-6 * fabs(h) + 4e-7 * fabs(u);
        return h;
    case MOE_ACT_RELU:
        h = u < 0.0 ? 0.0 : u;
        *eh = eu;
        return h;
    case MOE_ACT_SWIGLU_OAI: {
        double al = (double)c->oai_alpha, f, lf;
        L = (double)c->oai_limit;
        if (g > L) g = L;
        if (u > L) u = L;
        if (u < -L) u = -L;
        f = g * fz_sig(al * g); h = (u + 1.0) * f;
        lf = 1.0 + fabs(al) * (fabs(g) + eg) / 4.0;
        *eh = lf * eg * (fabs(u) + 1.0 + eu) + fabs(f) * eu + 1e-6 * fabs(h) + 4e-7 * fabs(g) * (fabs(u) + 1.0);
        return h;
    }
    }
    *eh = 0.0;
    return 0.0;
}

/* expert e (routed, or shared when sh) on input v (+- ev): out, eout [d_model] */
FZ_NOCOV static void fz_ffn(const fz_model *m, int sh, int e, const double *v, const double *ev, double *out, double *eout,
                   double *h, double *eh, double *qe, double *qh)
{
    const moe_config *c = &m->cfg;
    int D = c->d_model, ff = sh ? c->d_ff_shared : c->d_ff, rr, d;
    const fz_tensor *tg = NULL, *tu, *td;
    size_t gate_row0 = 0, up_row0 = 0, gstep = 1;
    const float *gb = NULL, *ub = NULL, *db = NULL;
    size_t gbs = 1;
    int qin;
    if (sh) {
        tg = m->gated ? &m->t[T_SGATE] : NULL; tu = &m->t[T_SUP]; td = &m->t[T_SDOWN];
        gate_row0 = up_row0 = (size_t)e * (size_t)ff;
    } else {
        if (m->fused) {
            tg = m->gated ? &m->t[T_GATE_UP] : NULL; tu = &m->t[T_GATE_UP];
            gate_row0 = (size_t)e * 2 * (size_t)ff;
            up_row0 = (size_t)e * 2 * (size_t)ff + (m->il ? 1 : (size_t)ff);
            gstep = m->il ? 2 : 1;
        } else {
            tg = m->gated ? &m->t[T_GATE] : NULL; tu = &m->t[T_UP];
            gate_row0 = up_row0 = (size_t)e * (size_t)ff;
        }
        td = &m->t[T_DOWN];
        if (m->w.gate_up_bias) {                 /* [E][2*d_ff] in gate_up_layout order */
            gb = m->w.gate_up_bias + (size_t)e * 2 * (size_t)ff;
            ub = gb + (m->il ? 1 : ff);
            gbs = m->il ? 2 : 1;
        } else {
            gb = m->w.gate_bias ? m->w.gate_bias + (size_t)e * (size_t)ff : NULL;
            ub = m->w.up_bias ? m->w.up_bias + (size_t)e * (size_t)ff : NULL;
        }
        db = m->w.down_bias ? m->w.down_bias + (size_t)e * (size_t)D : NULL;
    }
    /* MOE_BF16_DOT may round a BF16 matrix's activations to bf16 (2 tokens or more, where the
       path has vdpbf16ps): |error| <= |v| 2^-9, inside the 8-bit bound of a one-value block */
#define FZ_BFD(t) (c->batch_bf16 == MOE_BF16_DOT && (t)->type == MOE_TYPE_BF16)
#define FZ_Q(t) (fz_isq((t)->type) || FZ_BFD(t))
#define FZ_AB(t) (FZ_BFD(t) ? 1.2e-38 : 0.0)
    qin = (tg && FZ_Q(tg)) || FZ_Q(tu);
    if (qin) fz_qerr(v, ev, D, (tg && fz_qblock(tg->type) < 0) || fz_qblock(tu->type) < 0 ? -1 : 32, qe);
    for (rr = 0; rr < ff; rr++) {
        double g = 0.0, eg = 0.0, u, eu;
        const float *urow = tu->dec + (up_row0 + (size_t)rr * gstep) * (size_t)D;
        u = fz_dot(urow, v, ev, FZ_Q(tu) ? qe : NULL, D, ub ? (double)ub[(size_t)rr * gbs] : 0.0, FZ_AB(tu), &eu);
        if (tg) {
            const float *grow = tg->dec + (gate_row0 + (size_t)rr * gstep) * (size_t)D;
            g = fz_dot(grow, v, ev, FZ_Q(tg) ? qe : NULL, D, gb ? (double)gb[(size_t)rr * gbs] : 0.0, FZ_AB(tg), &eg);
        }
        h[rr] = fz_act(c, g, u, eg, eu, &eh[rr]);
    }
    if (FZ_Q(td)) fz_qerr(h, eh, ff, FZ_BFD(td) ? 1 : fz_qblock(td->type), qh);
    for (d = 0; d < D; d++) {
        const float *drow = td->dec + ((size_t)e * (size_t)D + (size_t)d) * (size_t)ff;
        out[d] = fz_dot(drow, h, eh, FZ_Q(td) ? qh : NULL, ff, db ? (double)db[d] : 0.0, FZ_AB(td), &eout[d]);
    }
#undef FZ_BFD
#undef FZ_Q
#undef FZ_AB
}

/* Check routing weights (given the library's ids) and y against the reference for every token
   whose x is tame; the layer itself must be tame. ids, wts: [T][k]; y may be NULL. */
FZ_NOCOV static void fz_reference_check(const fz_model *m, const int *ids, const float *wts, const float *y, int capacity)
{
    const moe_config *c = &m->cfg;
    int D = c->d_model, E = c->n_experts, k = c->top_k, S = c->n_shared, T = m->T, t, j, e, d;
    int ffmax = c->d_ff > c->d_ff_shared ? c->d_ff : c->d_ff_shared;
    double *v = (double *)malloc((size_t)D * sizeof(double)), *ev = (double *)malloc((size_t)D * sizeof(double));
    double *o = (double *)malloc((size_t)D * sizeof(double)), *eo = (double *)malloc((size_t)D * sizeof(double));
    double *yr = (double *)malloc((size_t)D * sizeof(double)), *ey = (double *)malloc((size_t)D * sizeof(double));
    double *ya = (double *)malloc((size_t)D * sizeof(double));
    double *h = (double *)malloc((size_t)ffmax * sizeof(double)), *eh = (double *)malloc((size_t)ffmax * sizeof(double));
    double *qe = (double *)malloc((size_t)D * sizeof(double)), *qh = (double *)malloc((size_t)ffmax * sizeof(double));
    double lg[16], el[16], sc[16], esc[16];
    int *count = (int *)calloc((size_t)E, sizeof(int));
    const float *wr = m->t[T_ROUTER].dec;
    double scale = (double)c->routed_scale;
    for (t = 0; t < T; t++) {
        const float *xt = m->x + (size_t)t * (size_t)D;
        const int *id = ids + (size_t)t * (size_t)k;
        const float *wt = wts + (size_t)t * (size_t)k;
        int dropped[16], check_tok = m->x_tame_tok[t];
        double mx = -1e300, maxel = 0.0, rel, sum_sel = 0.0, sum_sel_err = 0.0;
        for (j = 0; j < k; j++) {                       /* capacity: first come, token order */
            dropped[j] = capacity > 0 && count[id[j]] >= capacity;
            if (!dropped[j]) count[id[j]]++;
        }
        if (!check_tok) continue;
        for (d = 0; d < D; d++) { v[d] = (double)xt[d]; ev[d] = 0.0; }
        /* router logits and scores */
        for (e = 0; e < E; e++) {
            double rb = m->w.router_bias ? (double)m->w.router_bias[e] : 0.0;
            lg[e] = fz_dot(wr + (size_t)e * (size_t)D, v, ev, NULL, D, 0.0, 0.0, &el[e]);
            el[e] += fabs(lg[e] + rb) * 2.0 * FZ_U;
            lg[e] += rb;
            if (lg[e] > mx) mx = lg[e];
            if (el[e] > maxel) maxel = el[e];
        }
        if (c->score == MOE_SCORE_SOFTMAX) {
            double s = 0.0;
            for (e = 0; e < E; e++) { sc[e] = exp(lg[e] - mx); s += sc[e]; }
            rel = expm1(2.0 * maxel) + (double)(E + 8) * 4.0 * FZ_U;
            for (e = 0; e < E; e++) { sc[e] /= s; esc[e] = sc[e] * rel + 1.2e-38; }   /* f32 exp underflows */
        } else if (c->score == MOE_SCORE_SIGMOID) {
            for (e = 0; e < E; e++) {
                sc[e] = fz_sig(lg[e]);
                esc[e] = sc[e] * (expm1(el[e]) + 8.0 * FZ_U) + 1.2e-38;
            }
        } else {
            for (e = 0; e < E; e++) { sc[e] = lg[e]; esc[e] = el[e]; }
        }
        /* selection: chosen keys beat the others (up to the bound), in slot order; groups */
        {
            double key[16], ek[16];
            int chosen[16];
            for (e = 0; e < E; e++) {
                double sb = m->w.selection_bias ? (double)m->w.selection_bias[e] : 0.0;
                key[e] = sc[e] + sb;
                ek[e] = esc[e] + (fabs(sc[e]) + fabs(sb)) * 4.0 * FZ_U + 1e-44;
                chosen[e] = 0;
            }
            for (j = 0; j < k; j++) chosen[id[j]] = 1;
            for (j = 0; j + 1 < k; j++)
                FZ_CHECK(key[id[j]] + ek[id[j]] >= key[id[j + 1]] - ek[id[j + 1]],
                         "token %d: slot %d (expert %d, key %.9g) ranks below slot %d (expert %d, key %.9g)",
                         t, j, id[j], key[id[j]], j + 1, id[j + 1], key[id[j + 1]]);
            if (c->n_group > 1) {
                int gs = E / c->n_group, ng = 0, g, used[16];
                for (g = 0; g < c->n_group; g++) used[g] = 0;
                for (j = 0; j < k; j++) if (!used[id[j] / gs]) { used[id[j] / gs] = 1; ng++; }
                FZ_CHECK(ng <= c->topk_group, "token %d: experts from %d groups, topk_group %d", t, ng, c->topk_group);
            } else {
                for (e = 0; e < E; e++) {
                    if (chosen[e]) continue;
                    for (j = 0; j < k; j++)
                        FZ_CHECK(key[id[j]] + ek[id[j]] >= key[e] - ek[e],
                                 "token %d: expert %d (key %.9g +- %.3g) chosen in slot %d over expert %d (key %.9g +- %.3g)",
                                 t, id[j], key[id[j]], ek[id[j]], j, e, key[e], ek[e]);
                }
            }
        }
        /* routing weights */
        {
            double wref[16], werr[16];
            if (c->score == MOE_SCORE_SOFTMAX_TOPK) {
                double smx = -1e300, s = 0.0, me = 0.0;
                for (j = 0; j < k; j++) { if (lg[id[j]] > smx) smx = lg[id[j]]; if (el[id[j]] > me) me = el[id[j]]; }
                for (j = 0; j < k; j++) { wref[j] = exp(lg[id[j]] - smx); s += wref[j]; }
                for (j = 0; j < k; j++) { wref[j] /= s; werr[j] = wref[j] * (expm1(2.0 * me) + (double)(k + 8) * 4.0 * FZ_U); }
            } else {
                int skip_norm = 0;
                for (j = 0; j < k; j++) { wref[j] = sc[id[j]]; werr[j] = esc[id[j]]; sum_sel += wref[j]; sum_sel_err += werr[j]; }
                if (c->norm_topk) {
                    if (sum_sel - sum_sel_err <= 1e-30) skip_norm = 1;        /* the library may skip it */
                    else
                        for (j = 0; j < k; j++) {
                            werr[j] = (werr[j] + wref[j] * sum_sel_err / (sum_sel - sum_sel_err)) / sum_sel + wref[j] / sum_sel * (double)(k + 4) * 2.0 * FZ_U;
                            wref[j] /= sum_sel;
                        }
                }
                if (skip_norm) for (j = 0; j < k; j++) { wref[j] = -1.0; }
            }
            for (j = 0; j < k; j++) {
                double wl = (double)wt[j];
                FZ_CHECK(fz_finite(wt[j]), "token %d slot %d: weight %g is not finite", t, j, wl);
                FZ_CHECK(wl / scale >= -1e-6 && wl / scale <= 1.0 + 1e-5,
                         "token %d slot %d: weight %.9g outside [0, routed_scale %g]", t, j, wl, scale);
                if (wref[j] < 0.0) continue;
                FZ_CHECK(fabs(wl - wref[j] * scale) <= 2.0 * (werr[j] * fabs(scale) + fabs(wref[j] * scale) * 4.0 * FZ_U) + 1e-37,
                         "token %d slot %d (expert %d): weight %.9g, reference %.9g +- %.3g", t, j, id[j], wl,
                         wref[j] * scale, werr[j] * fabs(scale));
            }
        }
        if (!y) continue;
        /* the layer's output */
        for (d = 0; d < D; d++) { yr[d] = 0.0; ey[d] = 0.0; ya[d] = 0.0; }
        for (j = 0; j < k + S; j++) {
            double cf = 1.0, ecf = 0.0;
            int sh = j >= k, ex = sh ? j - k : id[j];
            if (!sh && dropped[j]) continue;
            for (d = 0; d < D; d++) { v[d] = (double)xt[d]; ev[d] = 0.0; }
            if (!sh) {
                if (c->weight_on_input)
                    for (d = 0; d < D; d++) { v[d] *= (double)wt[j]; ev[d] = fabs(v[d]) * FZ_U; }
                else cf = (double)wt[j];
            } else if (m->w.shared_gate_w) {
                double dot = 0.0, ed = 0.0;
                const float *gw = m->w.shared_gate_w + (size_t)ex * (size_t)D;
                for (d = 0; d < D; d++) { dot += (double)xt[d] * (double)gw[d]; ed += fabs((double)xt[d] * (double)gw[d]); }
                ed *= fz_gamma(D);
                cf = fz_sig(dot);
                ecf = ed / 4.0 + 1e-6 * cf;
            }
            fz_ffn(m, sh, ex, v, ev, o, eo, h, eh, qe, qh);
            for (d = 0; d < D; d++) {
                yr[d] += cf * o[d];
                ey[d] += fabs(cf) * eo[d] + ecf * (fabs(o[d]) + eo[d]);
                ya[d] += fabs(cf) * (fabs(o[d]) + eo[d]);
            }
        }
        for (d = 0; d < D; d++) {
            float yl = y[(size_t)t * (size_t)D + (size_t)d];
            double tol = 2.0 * (ey[d] + fz_gamma(k + S) * ya[d]) + 1e-30;
            FZ_CHECK(fz_finite(yl), "token %d: y[%d] = %g is not finite (x, weights, biases and config are tame)", t, d, (double)yl);
            FZ_CHECK(fabs((double)yl - yr[d]) <= tol, "token %d: y[%d] = %.9g, reference %.9g, bound %.3g (|terms| %.3g)",
                     t, d, (double)yl, yr[d], tol, ya[d]);
        }
    }
    free(v); free(ev); free(o); free(eo); free(yr); free(ey); free(ya); free(h); free(eh); free(qe); free(qh); free(count);
}

/* ---- invariants of one successful call ----------------------------------------------------- */
FZ_NOCOV static void fz_check_ids(const fz_model *m, const int *ids)
{
    int t, j, i, k = m->cfg.top_k;
    for (t = 0; t < m->T; t++)
        for (j = 0; j < k; j++) {
            int e = ids[(size_t)t * (size_t)k + (size_t)j];
            FZ_CHECK(e >= 0 && e < m->cfg.n_experts, "token %d slot %d: expert id %d out of [0, %d)", t, j, e, m->cfg.n_experts);
            for (i = 0; i < j; i++)
                FZ_CHECK(ids[(size_t)t * (size_t)k + (size_t)i] != e, "token %d: expert %d chosen twice (slots %d, %d)", t, e, i, j);
        }
}
FZ_NOCOV static void fz_check_y_finite(fz_model *m, const float *y)
{
    int t, d, D = m->cfg.d_model;
    if (!fz_model_tame(m)) return;
    for (t = 0; t < m->T; t++) {
        if (!m->x_tame_tok[t]) continue;
        for (d = 0; d < D; d++)
            FZ_CHECK(fz_finite(y[(size_t)t * (size_t)D + (size_t)d]), "token %d (finite x): y[%d] = %g", t, d,
                     (double)y[(size_t)t * (size_t)D + (size_t)d]);
    }
}
/* same bits, NaN payloads aside */
FZ_NOCOV static void fz_same(const float *a, const float *b, size_t n, const char *what)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (a[i] != a[i] && b[i] != b[i]) continue;
        FZ_CHECK(fz_f_bits(a[i]) == fz_f_bits(b[i]), "%s differs at %zu: %.9g vs %.9g", what, i, (double)a[i], (double)b[i]);
    }
}

/* ---- odd configurations: each must fail (or, for ignored fields, succeed) as documented ---- */
static void fz_expect_fail(const moe_config *cfg, const moe_weights *w, moe_status want, int exact, const char *what)
{
    moe_layer L;
    moe_status s;
    const char *msg;
    float xx[4] = { 0 }, yy[4];
    unsigned char work[256];
    memset(&L, 0xa5, sizeof L);
    s = moe_layer_init(&L, cfg, w);
    fz_status_ok(s, what);
    msg = moe_layer_error(&L);
    FZ_CHECK(msg != NULL, "%s: moe_layer_error is NULL", what);
    if (exact) FZ_CHECK(s == want, "%s: moe_layer_init returned %s, expected %s (%s)", what, moe_status_string(s), moe_status_string(want), msg);
    else FZ_CHECK(s != MOE_OK, "%s: moe_layer_init accepted it", what);
    FZ_CHECK(msg[0] != 0, "%s: moe_layer_init failed (%s) with an empty moe_layer_error", what, moe_status_string(s));
    FZ_CHECK(strlen(msg) < 128, "%s: moe_layer_error too long", what);
    FZ_CHECK(moe_workspace_size(&L, 1) == 0, "%s: workspace size of a failed layer is not 0", what);
    FZ_EXPECT(moe_forward(&L, xx, 1, yy, work, sizeof work), MOE_ERR_LAYER, what);
}

static const int fz_bad_int[] = { 0, -1, INT_MIN, INT_MAX, MOE_MAX_DIM + 1, -7 };
static const int fz_big_int[] = { MOE_MAX_DIM, 1 << 20, 65536, 4097, MOE_MAX_EXPERTS, 1 << 25 };

/* perturb a copy of the model's config/weights, one field at a time. Config fields are checked
   before tensors, so a bad config field gives MOE_ERR_CONFIG even where the tensors are bad too. */
static void fz_odd_config(const fz_model *m, int clean_ok)
{
    moe_config c = m->cfg;
    moe_weights w = m->w;
    unsigned kind = m->odd % 12, b = m->odd_arg;
    int bad = fz_bad_int[b % 6], exact = clean_ok;
    float f;
    static float dummy_f[4];
    static const void *null_ptrs[16];
    switch (kind) {
    case 0: {                                                           /* enums */
        static const int ev[] = { 5, MOE_TYPE_COUNT, 255, -1, INT_MAX, INT_MIN, 3 };
        int v = ev[b % 7];
        switch (b / 7 % 7) {
        case 0: c.act = (moe_act)v; if (v >= 0 && v <= 4) return; break;
        case 1: c.score = (moe_score)v; if (v >= 0 && v <= 2) return; break;
        case 2: if (c.n_group < 2) return;
                c.group_score = (moe_group_score)v; if (v >= 0 && v <= 1) return; break;
        case 3: w.gate_up_layout = (moe_gate_up_layout)v; if (v >= 0 && v <= 1) return; break;
        case 4: c.batch_quant = (moe_batch_quant)v; if (v >= 0 && v <= 2) return; break;
        case 5: c.batch_bf16 = (moe_batch_bf16)v; if (v >= 0 && v <= 1) return; break;
        default: w.router.type = (moe_type)v; if (v >= 0 && v < (int)MOE_TYPE_COUNT) return;
            fz_expect_fail(&c, &w, MOE_ERR_WEIGHTS, exact, "router type out of range"); return;
        }
        fz_expect_fail(&c, &w, MOE_ERR_CONFIG, 1, "enum out of range");
        return;
    }
    case 1:                                                             /* sizes out of range */
        switch (b / 6 % 4) {
        case 0: c.d_model = bad; break;
        case 1: c.d_ff = bad; break;
        case 2: c.n_experts = bad == MOE_MAX_DIM + 1 ? MOE_MAX_EXPERTS + 1 : bad; break;
        default: c.top_k = bad == INT_MAX ? c.n_experts + 1 : bad; break;
        }
        fz_expect_fail(&c, &w, MOE_ERR_CONFIG, 1, "size out of range");
        return;
    case 2:                                                             /* groups */
        if (c.n_experts < 2) return;
        switch (b % 5) {
        case 0: c.n_group = -1 - (int)(b >> 4); break;
        case 1: { int g; for (g = 2; g <= c.n_experts + 1 && c.n_experts % g == 0; g++) {}
                  c.n_group = g; c.topk_group = 1; c.top_k = 1; break; }
        case 2: c.n_group = c.n_experts; c.topk_group = (b & 8) ? 0 : c.n_experts + 1; break;
        case 3: c.n_group = c.n_experts; c.topk_group = 1; c.top_k = 2; break;
        default: c.n_group = c.n_experts; c.topk_group = c.n_group; c.group_score = MOE_GROUP_TOP2_SUM; break;
        }
        fz_expect_fail(&c, &w, MOE_ERR_CONFIG, 1, "groups");
        return;
    case 3:                                                             /* counts */
        switch (b % 4) {
        case 0: c.n_shared = -1 - (int)(b >> 3); break;
        case 1: c.n_threads = (b & 4) ? 4097 : -1; break;
        case 2: if (c.n_shared == 0) return; c.d_ff_shared = (b & 4) ? 0 : -5; break;
        default: c.n_shared = MOE_MAX_EXPERTS; break;
        }
        fz_expect_fail(&c, &w, MOE_ERR_CONFIG, 1, "counts");
        return;
    case 4:                                                             /* float fields */
        f = (b & 1) ? NAN : (b & 2) ? INFINITY : (b & 4) ? -INFINITY : 0.0f;
        if (b & 8) {
            c.routed_scale = f;
        } else {
            c.act = MOE_ACT_SWIGLU_OAI;
            if (b & 16) { if (f == 0.0f) return; c.oai_alpha = f; }
            else c.oai_limit = f == 0.0f ? -1.0f : f;
        }
        fz_expect_fail(&c, &w, MOE_ERR_CONFIG, 1, "routed_scale / oai constants");
        return;
    case 5:                                                             /* missing tensors */
        switch (b % 6) {
        case 0: w.router.data = NULL; w.router.expert_data = NULL; break;
        case 1: w.router.data = NULL; w.router.expert_data = null_ptrs; break;
        case 2: w.down.data = NULL; w.down.expert_data = NULL; break;
        case 3: if (m->fused) return; w.up.data = NULL; w.up.expert_data = NULL; break;
        case 4: if (m->fused || !m->gated) return; w.gate.data = NULL; w.gate.expert_data = NULL; break;
        default:
            if (!c.n_shared) return;
            switch (b / 6 % 3) {
            case 0: w.shared_up.data = NULL; w.shared_up.expert_data = NULL; break;
            case 1: w.shared_down.data = NULL; w.shared_down.expert_data = NULL; break;
            default: if (!m->gated) return; w.shared_gate.data = NULL; w.shared_gate.expert_data = NULL; break;
            }
            break;
        }
        fz_expect_fail(&c, &w, MOE_ERR_WEIGHTS, exact, "missing tensor");
        return;
    case 6:                                                             /* ambiguous tensors */
        switch (b % 4) {
        case 0: if (!m->fused) return; w.gate = w.gate_up; break;
        case 1: if (m->fused) { w.up = w.gate_up; } else { if (!m->gated) return; w.gate_up = w.gate; } break;
        case 2: if (!m->w.gate_up_bias) return; w.up_bias = dummy_f; break;
        default: if (!m->w.gate_bias && !m->w.up_bias) return; w.gate_up_bias = dummy_f; break;
        }
        fz_expect_fail(&c, &w, MOE_ERR_WEIGHTS, exact, "ambiguous tensors");
        return;
    case 7: {                                                           /* NULL expert pointer, data + expert_data */
        moe_tensor *tt = m->fused ? &w.gate_up : &w.up;
        const fz_tensor *ft = m->fused ? &m->t[T_GATE_UP] : &m->t[T_UP];
        if (!m->per_expert) {
            if (b & 1) { tt->expert_data = null_ptrs; fz_expect_fail(&c, &w, MOE_ERR_WEIGHTS, exact, "data and expert_data"); }
            return;
        }
        {
            const void **p = (const void **)malloc((size_t)ft->n_exp * sizeof *p);
            memcpy((void *)p, ft->ptrs, (size_t)ft->n_exp * sizeof *p);
            p[b % (unsigned)ft->n_exp] = NULL;
            tt->expert_data = p;
            fz_expect_fail(&c, &w, MOE_ERR_WEIGHTS, exact, "NULL expert_data[e]");
            free((void *)p);
        }
        return;
    }
    case 8: {                                                           /* misaligned f32 data / biases */
        static const char *const bn[B_N] = { "router_bias", "selection_bias", "gate_bias", "up_bias", "gate_up_bias", "down_bias", "shared_gate_w" };
        unsigned char *buf;
        int which = (int)(b % (B_N + 1));
        if (which == B_N && m->per_expert) {                            /* an f32 expert's pointer */
            const fz_tensor *ft = &m->t[T_DOWN];
            const void **p;
            if (ft->type != MOE_TYPE_F32 || !clean_ok) return;
            p = (const void **)malloc((size_t)ft->n_exp * sizeof *p);
            memcpy((void *)p, ft->ptrs, (size_t)ft->n_exp * sizeof *p);
            buf = (unsigned char *)malloc(ft->row_bytes * (size_t)ft->rows + 4);
            p[(b >> 4) % (unsigned)ft->n_exp] = buf + 1 + (b >> 6) % 3;
            w.down.expert_data = p;
            fz_expect_fail(&c, &w, MOE_ERR_ALIGN, exact, "misaligned f32 expert_data[e]");
            free(buf); free((void *)p);
            return;
        }
        if (which == B_N) {                                             /* an f32 tensor */
            const fz_tensor *ft = &m->t[T_ROUTER];
            if (ft->type != MOE_TYPE_F32 || !clean_ok) return;
            buf = (unsigned char *)malloc(ft->row_bytes * (size_t)ft->rows + 4);
            memcpy(buf + 1 + (b >> 4) % 3, ft->buf, ft->row_bytes * (size_t)ft->rows);
            w.router.data = buf + 1 + (b >> 4) % 3;
            fz_expect_fail(&c, &w, MOE_ERR_ALIGN, exact, "misaligned f32 router");
            free(buf);
            return;
        }
        if (!m->bias[which] || (which == B_SGW && !c.n_shared)) return;
        buf = (unsigned char *)malloc(m->bias_n[which] * sizeof(float) + 4);
        memcpy(buf + 2, m->bias[which], m->bias_n[which] * sizeof(float));
        {
            const float *p = (const float *)(const void *)(buf + 2);   /* never read as float by us */
            switch (which) {
            case B_ROUTER: w.router_bias = p; break;
            case B_SEL: w.selection_bias = p; break;
            case B_GATE: w.gate_bias = p; break;
            case B_UP: w.up_bias = p; break;
            case B_GATE_UP: w.gate_up_bias = p; break;
            case B_DOWN: w.down_bias = p; break;
            default: w.shared_gate_w = p; break;
            }
        }
        fz_expect_fail(&c, &w, MOE_ERR_ALIGN, exact, bn[which]);
        free(buf);
        return;
    }
    default: {                                                          /* huge but valid sizes: init and plan only */
        moe_layer L;
        moe_status s;
        int big = fz_big_int[b % 6];
        size_t ws;
        static float one_f[1];
        moe_weights w2 = moe_weights_default();
        moe_config c2 = moe_config_default();
        w2.router.data = one_f; w2.gate.data = one_f; w2.up.data = one_f; w2.down.data = one_f;
        w2.shared_gate.data = one_f; w2.shared_up.data = one_f; w2.shared_down.data = one_f;
        c2.d_model = 32; c2.d_ff = 32; c2.n_experts = 8; c2.top_k = 2;
        c2.n_threads = (int)(b >> 6) + 1;
        switch (b / 6 % 6) {
        case 0: c2.d_model = big; break;
        case 1: c2.d_ff = big; break;
        case 2: c2.n_experts = big > MOE_MAX_EXPERTS ? MOE_MAX_EXPERTS : big; c2.top_k = c2.n_experts; break;
        case 3: c2.n_shared = 2; c2.d_ff_shared = big; break;
        case 4: c2.d_ff = big; c2.d_model = big; c2.n_experts = (b & 1) ? MOE_MAX_EXPERTS : 64; c2.top_k = (b & 2) ? 1 : 64; break;
        default: c2.n_threads = 4096; c2.n_experts = MOE_MAX_EXPERTS / 2; c2.n_shared = MOE_MAX_EXPERTS / 2; c2.d_ff_shared = 32; break;
        }
        s = moe_layer_init(&L, &c2, &w2);
        fz_status_ok(s, "huge layer init");
        FZ_CHECK(moe_layer_error(&L) != NULL && (s == MOE_OK) == (moe_layer_error(&L)[0] == 0),
                 "huge layer: status %s, error '%s'", moe_status_string(s), moe_layer_error(&L));
        FZ_CHECK(s == MOE_OK || s == MOE_ERR_CONFIG || s == MOE_ERR_OVERFLOW, "huge layer: %s (%s)", moe_status_string(s), moe_layer_error(&L));
        if (s == MOE_OK) {
            static const int Ts[5] = { 1, 7, 65536, 1 << 24, INT_MAX };
            int i;
            for (i = 0; i < 5; i++) {
                unsigned char work[512];
                float xx[1] = { 0 }, yy[1];
                ws = moe_workspace_size(&L, Ts[i]);
                /* never run: x and y are not that large. The call must refuse before reading them */
                FZ_CHECK(ws == 0 || ws > sizeof work, "huge layer: workspace %zu", ws);
                s = moe_forward(&L, xx, Ts[i], yy, work, sizeof work);
                fz_status_ok(s, "huge forward");
                FZ_CHECK(s == (ws == 0 ? MOE_ERR_OVERFLOW : MOE_ERR_WORKSPACE), "huge layer T=%d: forward %s (workspace size %zu)",
                         Ts[i], moe_status_string(s), ws);
            }
        }
        return;
    }
    }
}

/* ---- the run ------------------------------------------------------------------------------- */
static void *fz_work(size_t n, size_t off, unsigned fill, unsigned char **alloc)
{
    *alloc = (unsigned char *)malloc(n + off ? n + off : 1);
    memset(*alloc, (int)fill, n + off);
    return *alloc + off;
}

static int fz_verbose(void)
{
    static int v = -1;
    if (v < 0) v = getenv("FUZZ_VERBOSE") != NULL && getenv("FUZZ_VERBOSE")[0] != '0';
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_rd r;
    fz_model m;
    moe_layer L, L2;
    moe_status s;
    size_t ws, nx, nk;
    int T, D, k, i;
    unsigned char *wa = NULL, *wb = NULL;
    float *ya = NULL, *yb = NULL, *wta = NULL, *wtb = NULL, *yc = NULL;
    int *ida = NULL, *idb = NULL, *idc = NULL;
    int a_ok = 0, a_y = 0, a_ids = 0, a_wts = 0, a_cap = 0, b_cap = 0;
    moe_run_opts o;
    fz_pool pool;

    fz_init(&r, data, size);
    fz_decode(&m, &r);
    fz_current = &m;
    fz_on_fail = fz_dump;
    T = m.T; D = m.cfg.d_model; k = m.cfg.top_k;
    nx = (size_t)T * (size_t)D; nk = (size_t)T * (size_t)k;

    /* status texts: never NULL, for any value */
    FZ_CHECK(moe_status_string((moe_status)(int)fz_u32(&r)) != NULL, "moe_status_string NULL");
    FZ_CHECK(moe_layer_error(NULL) != NULL && moe_layer_error(NULL)[0] != 0, "moe_layer_error(NULL)");
    FZ_EXPECT(moe_layer_init(NULL, &m.cfg, &m.w), MOE_ERR_NULL, "NULL layer");
    FZ_CHECK(moe_workspace_size(NULL, 1) == 0, "workspace size of NULL layer");

    memset(&L, 0x5a, sizeof L);
    s = moe_layer_init(&L, &m.cfg, &m.w);
    fz_status_ok(s, "moe_layer_init");
    if (fz_verbose()) {                               /* FUZZ_VERBOSE=1: what each input decodes to */
        fz_dump();
        fprintf(stderr, "    init: %s %s\n", moe_status_string(s), moe_layer_error(&L));
    }
    FZ_CHECK(moe_layer_error(&L) != NULL, "moe_layer_error NULL");
    if (s != MOE_OK) {
        FZ_CHECK(moe_layer_error(&L)[0] != 0, "moe_layer_init failed (%s) with an empty moe_layer_error", moe_status_string(s));
        FZ_CHECK(moe_workspace_size(&L, 1) == 0, "failed layer has a workspace size");
    } else {
        FZ_CHECK(moe_layer_error(&L)[0] == 0, "moe_layer_init succeeded but moe_layer_error says '%s'", moe_layer_error(&L));
    }
    FZ_CHECK(s == m.expect, "moe_layer_init returned %s (%s), expected %s", moe_status_string(s), moe_layer_error(&L),
             moe_status_string(m.expect));
    {
        moe_layer Lc;                                      /* init NULL cfg / weights */
        FZ_EXPECT(moe_layer_init(&Lc, NULL, &m.w), MOE_ERR_NULL, "NULL cfg");
        FZ_CHECK(moe_layer_error(&Lc)[0] != 0, "NULL cfg: empty moe_layer_error");
        FZ_EXPECT(moe_layer_init(&Lc, &m.cfg, NULL), MOE_ERR_NULL, "NULL weights");
        FZ_CHECK(moe_layer_error(&Lc)[0] != 0, "NULL weights: empty moe_layer_error");
    }
    if (m.odd >= 128) fz_odd_config(&m, s == MOE_OK);
    if (s != MOE_OK) goto done;

    /* ignored fields may hold anything: without shared experts, groups or SWIGLU_OAI */
    if ((m.misc & 3) == 3) {
        moe_config c = m.cfg;
        moe_weights w = m.w;
        static unsigned char one_byte[1];
        if (c.n_shared == 0) {
            c.d_ff_shared = fz_bad_int[m.misc >> 2 & 3] == 0 ? INT_MAX : fz_bad_int[m.misc >> 2 & 3];
            w.shared_up.data = one_byte; w.shared_up.type = (moe_type)77; w.shared_gate_w = (const float *)(const void *)(one_byte);
            w.shared_down.expert_data = (const void *const *)(const void *)one_byte;
        }
        if (c.n_group <= 1) { c.topk_group = -3; c.group_score = (moe_group_score)99; }
        if (c.act != MOE_ACT_SWIGLU_OAI) { c.oai_alpha = NAN; c.oai_limit = -INFINITY; }
        if (!m.gated && !m.fused) { w.gate.type = (moe_type)99; w.gate.data = one_byte; }   /* gate unused by GELU/RELU */
        s = moe_layer_init(&L2, &c, &w);
        FZ_CHECK(s == MOE_OK, "ignored fields: moe_layer_init returned %s (%s)", moe_status_string(s), moe_layer_error(&L2));
        FZ_CHECK(moe_workspace_size(&L2, T) == moe_workspace_size(&L, T), "ignored fields change the workspace size: %zu vs %zu",
                 moe_workspace_size(&L2, T), moe_workspace_size(&L, T));
        L = L2;
    }

    ws = moe_workspace_size(&L, T);
    FZ_CHECK(ws > 0, "moe_workspace_size(T=%d) = 0 for a valid layer", T);
    FZ_CHECK(moe_workspace_size(&L, 0) == 0 && moe_workspace_size(&L, -1 - (int)(m.misc >> 4)) == 0 &&
             moe_workspace_size(&L, INT_MIN) == 0, "workspace size for n_tokens < 1 is not 0");
    FZ_CHECK(moe_workspace_size(&L, T + 1) >= ws, "workspace size shrinks with more tokens");

    ya = (float *)malloc(nx * sizeof(float)); yb = (float *)malloc(nx * sizeof(float));
    ida = (int *)malloc(nk * sizeof(int)); idb = (int *)malloc(nk * sizeof(int)); idc = (int *)malloc(nk * sizeof(int));
    wta = (float *)malloc(nk * sizeof(float)); wtb = (float *)malloc(nk * sizeof(float));
    yc = (float *)malloc(nk * sizeof(float));
    memset(&pool, 0, sizeof pool);
    memset(&o, 0, sizeof o);

    /* ---- bad calls: each must be refused with its code, before touching any array ---------- */
    {
        unsigned char small[64];
        float xs[1];
        moe_layer Lz;
        int badT = (int)(m.misc >> 5) % 3 == 0 ? 0 : (m.misc >> 5) % 3 == 1 ? -1 : INT_MIN;
        wa = (unsigned char *)malloc(ws);
        FZ_EXPECT(moe_forward(NULL, m.x, T, ya, wa, ws), MOE_ERR_NULL, "NULL layer");
        FZ_EXPECT(moe_forward(&L, NULL, T, ya, wa, ws), MOE_ERR_NULL, "NULL x");
        FZ_EXPECT(moe_forward(&L, m.x, T, NULL, wa, ws), MOE_ERR_NULL, "NULL y");
        FZ_EXPECT(moe_forward(&L, m.x, T, ya, NULL, ws), MOE_ERR_NULL, "NULL work");
        FZ_EXPECT(moe_forward_ex(&L, m.x, T, NULL, wa, ws, &o), MOE_ERR_NULL, "forward_ex NULL y");
        FZ_EXPECT(moe_route(&L, m.x, T, NULL, NULL, wa, ws), MOE_ERR_NULL, "route NULL ids and weights");
        FZ_EXPECT(moe_route(NULL, m.x, T, ida, NULL, wa, ws), MOE_ERR_NULL, "route NULL layer");
        FZ_EXPECT(moe_forward(&L, m.x, badT, ya, wa, ws), MOE_ERR_ARG, "n_tokens < 1");
        FZ_EXPECT(moe_route(&L, m.x, badT, ida, wta, wa, ws), MOE_ERR_ARG, "route n_tokens < 1");
        o.capacity = -1 - (int)(m.misc & 7);
        FZ_EXPECT(moe_forward_ex(&L, m.x, T, ya, wa, ws, &o), MOE_ERR_ARG, "capacity < 0");
        o.capacity = 0; o.n_threads = (m.misc & 8) ? -1 : INT_MIN;
        FZ_EXPECT(moe_forward_ex(&L, m.x, T, ya, wa, ws, &o), MOE_ERR_ARG, "opts.n_threads < 0");
        o.n_threads = (m.cfg.n_threads ? m.cfg.n_threads : 1) + 1 + (int)(m.misc & 7);
        FZ_EXPECT(moe_forward_ex(&L, m.x, T, ya, wa, ws, &o), MOE_ERR_THREADS, "opts.n_threads > the layer's");
        o.n_threads = 0;
        /* misaligned arrays */
        FZ_EXPECT(moe_forward(&L, (const float *)(const void *)((const char *)m.x + 1 + m.misc % 3), T, ya, wa, ws),
                  MOE_ERR_ALIGN, "misaligned x");
        FZ_EXPECT(moe_forward(&L, m.x, T, (float *)(void *)((char *)ya + 2), wa, ws), MOE_ERR_ALIGN, "misaligned y");
        FZ_EXPECT(moe_route(&L, m.x, T, (int *)(void *)((char *)ida + 1), NULL, wa, ws), MOE_ERR_ALIGN, "misaligned ids");
        FZ_EXPECT(moe_route(&L, m.x, T, NULL, (float *)(void *)((char *)wta + 3), wa, ws), MOE_ERR_ALIGN, "misaligned weights");
        o.ids_out = (int *)(void *)((char *)ida + 2);
        FZ_EXPECT(moe_forward_ex(&L, m.x, T, ya, wa, ws, &o), MOE_ERR_ALIGN, "misaligned ids_out");
        o.ids_out = NULL;
        /* too many tokens for the workspace: refused before x is read (x holds T tokens only) */
        s = moe_forward(&L, m.x, (m.misc & 16) ? INT_MAX : T + 1000000, ya, wa, ws);
        FZ_CHECK(s == MOE_ERR_WORKSPACE || s == MOE_ERR_OVERFLOW, "n_tokens beyond the workspace: %s", moe_status_string(s));
        FZ_EXPECT(moe_forward(&L, m.x, T, ya, small, sizeof small < ws ? sizeof small : ws - 1), MOE_ERR_WORKSPACE, "small workspace");
        /* layers not initialised */
        memset(&Lz, 0, sizeof Lz);
        FZ_EXPECT(moe_forward(&Lz, xs, 1, xs, small, sizeof small), MOE_ERR_LAYER, "zeroed layer");
        FZ_CHECK(moe_workspace_size(&Lz, 1) == 0, "zeroed layer has a workspace size");
        free(wa); wa = NULL;
    }

    /* ---- run A: the call and workspace the input asks for ---------------------------------- */
    {
        size_t off = 0, size = ws;
        unsigned wm = m.ws_mode % 16;
        moe_status want = MOE_OK;
        int inplace = (m.misc >> 2 & 1) && m.call_mode % 4 != 2;
        float *yout = ya;
        void *work;
        if (wm == 1) { size = ws - 1; want = MOE_ERR_WORKSPACE; }               /* one byte short */
        else if (wm == 2) { off = 1 + (m.ws_mode >> 4) % 63; }                  /* misaligned work */
        else if (wm == 3) { size = ws + 1 + (m.ws_mode >> 4) * 64; }             /* more than asked */
        else if (wm == 4) { size = (m.ws_mode >> 4) % 2 ? ws / 2 : 0; want = MOE_ERR_WORKSPACE; }
        work = fz_work(size, off, (m.ws_mode >> 4) * 17, &wa);
        if (inplace) { memcpy(ya, m.x, nx * sizeof(float)); }
        o.capacity = m.capacity;
        o.n_threads = m.nt_run;
        switch (m.call_mode % 4) {
        case 0:                                             /* forward_ex with everything */
            o.ids_out = ida; o.weights_out = wta;
            a_ids = a_wts = 1;
            if (m.call_mode & 4) {
                pool.nt = m.nt_run ? m.nt_run : L.n_threads;
                pool.order = (int)(m.pool_code % 4); pool.rot = (int)(m.pool_code >> 2 & 7); pool.bad_at = -1;
                o.parallel_for = fz_parallel_for; o.pool = &pool;
            }
            s = moe_forward_ex(&L, inplace ? ya : m.x, T, yout, work, size, &o);
            a_y = 1;
            break;
        case 1:                                             /* plain forward: no capacity */
            s = moe_forward(&L, inplace ? ya : m.x, T, yout, work, size);
            a_y = 1;
            o.capacity = 0;
            break;
        case 2:                                             /* routing only */
            a_ids = !(m.call_mode & 8); a_wts = !(m.call_mode & 16) || !a_ids;
            s = moe_route(&L, m.x, T, a_ids ? ida : NULL, a_wts ? wta : NULL, work, size);
            o.capacity = 0;
            break;
        default:                                            /* forward_ex with ids only, no opts pool */
            o.ids_out = ida; o.weights_out = NULL;
            a_ids = 1;
            s = moe_forward_ex(&L, inplace ? ya : m.x, T, yout, work, size, &o);
            a_y = 1;
            break;
        }
        fz_status_ok(s, "run A");
        FZ_CHECK(s == want, "run A (call %u, workspace mode %u, %zu of %zu bytes, offset %zu): %s, expected %s", m.call_mode % 4, wm,
                 size, ws, off, moe_status_string(s), moe_status_string(want));
        a_ok = s == MOE_OK;
        a_cap = o.capacity;
        free(wa); wa = NULL;
    }

    /* ---- run B: forward_ex through the pool, other workers and order, NaN-filled workspace -- */
    {
        void *work = fz_work(ws, 0, 0xff, &wb);
        memset(&o, 0, sizeof o);
        memset(&pool, 0, sizeof pool);
        pool.nt = L.n_threads; pool.order = (int)((m.pool_code >> 5) % 4); pool.rot = (int)(m.pool_code >> 3 & 3);
        pool.bad_at = -1;
        o.n_threads = 0; o.parallel_for = fz_parallel_for; o.pool = &pool;
        o.capacity = m.capacity; o.ids_out = idb; o.weights_out = wtb;
        if (m.call_mode & 32) o.capacity = a_cap;          /* so A's y can be compared */
        b_cap = o.capacity;
        s = moe_forward_ex(&L, m.x, T, yb, work, ws, &o);
        FZ_EXPECT(s, MOE_OK, "run B");
        fz_check_ids(&m, idb);
        fz_check_y_finite(&m, yb);
        if (a_ok) {
            if (a_ids) { fz_check_ids(&m, ida); FZ_CHECK(memcmp(ida, idb, nk * sizeof(int)) == 0, "ids differ between runs A and B"); }
            if (a_wts) fz_same(wta, wtb, nk, "routing weights (runs A, B)");
            if (a_y && a_cap == o.capacity) fz_same(ya, yb, nx, "y (runs A, B)");
        }
        /* route must agree with forward_ex */
        memset(work, 0x11, ws);
        FZ_EXPECT(moe_route(&L, m.x, T, idc, yc, work, ws), MOE_OK, "route");
        FZ_CHECK(memcmp(idc, idb, nk * sizeof(int)) == 0, "moe_route ids differ from moe_forward_ex's");
        fz_same(yc, wtb, nk, "moe_route weights vs moe_forward_ex's");
        /* a pool that hands out a bad worker number somewhere */
        if ((m.pool_code & 0xc0) == 0xc0) {
            pool.calls = 0; pool.bad_at = (int)(m.misc % 7);
            pool.bad_worker = (m.misc & 32) ? -1 - (int)(m.misc >> 6) : L.n_threads + (int)(m.misc >> 6);
            s = moe_forward_ex(&L, m.x, T, ya, work, ws, &o);
            FZ_CHECK(s == MOE_ERR_THREADS || (s == MOE_OK && pool.calls <= pool.bad_at),
                     "bad worker %d at task call %d of %d: %s", pool.bad_worker, pool.bad_at, pool.calls, moe_status_string(s));
        }
        if (fz_model_tame(&m)) fz_reference_check(&m, idb, wtb, yb, b_cap);
        free(wb); wb = NULL;
    }

    /* ---- run C: run B's routing given back (route_ids), and the experts cut in two shards whose
       slots moe_combine sums: both bit for bit run B's y; bad routing and shards refused ----- */
    {
        int E = m.cfg.n_experts, S = m.cfg.n_shared, slots = k + S, cut = (int)(m.misc % (unsigned)(E + 1)), sh;
        size_t ns = (size_t)T * (size_t)slots, q;
        float *so = (float *)calloc(ns * (size_t)D + 1, sizeof(float)), *so2 = (float *)calloc(ns * (size_t)D + 1, sizeof(float));
        float *sc = (float *)calloc(ns + 1, sizeof(float)), *yd = (float *)calloc(nx + 1, sizeof(float));
        int *se = (int *)calloc(ns + 1, sizeof(int)), *idr = (int *)calloc(nk + 1, sizeof(int));
        void *work = fz_work(ws, 0, 0x33, &wb);
        if (!so || !so2 || !sc || !yd || !se || !idr) { fprintf(stderr, "fuzz_forward: out of memory\n"); abort(); }
        memset(&o, 0, sizeof o);
        o.capacity = b_cap; o.route_ids = idb; o.route_weights = wtb;
        FZ_EXPECT(moe_forward_ex(&L, m.x, T, yd, work, ws, &o), MOE_OK, "run C: forward with run B's routing");
        FZ_CHECK(memcmp(yd, yb, nx * sizeof(float)) == 0, "run C: forward with run B's routing differs from run B's y");
        for (sh = 0; sh < 2; sh++) {             /* [0, cut) with the shared experts, [cut, E) */
            memset(&o, 0, sizeof o);
            o.capacity = b_cap;
            o.expert_begin = sh ? cut : 0; o.expert_end = sh ? E : cut;
            if (o.expert_begin == 0 && o.expert_end == 0) o.expert_begin = o.expert_end = E;   /* (0, 0) means all */
            o.skip_shared = sh; o.slot_out = sh ? so2 : so; o.slot_coef = sc; o.slot_expert = se;
            if (sh && (m.misc & 128)) { o.route_ids = idb; o.route_weights = wtb; }
            FZ_EXPECT(moe_forward_ex(&L, m.x, T, NULL, work, ws, &o), MOE_OK, "run C: a shard");
        }
        for (q = 0; q < ns; q++)
            if (se[q] >= cut && se[q] < E) memcpy(so + q * (size_t)D, so2 + q * (size_t)D, (size_t)D * sizeof(float));
        FZ_EXPECT(moe_combine(&L, T, so, sc, se, yd), MOE_OK, "run C: moe_combine");
        FZ_CHECK(memcmp(yd, yb, nx * sizeof(float)) == 0, "run C: shards [0,%d) and [%d,%d) combined differ from run B's y", cut, cut, E);
        memcpy(idr, idb, nk * sizeof(int));
        idr[m.misc % nk] = (m.misc & 64) ? -1 - (int)(m.misc >> 8) : E + (int)(m.misc >> 8);
        memset(&o, 0, sizeof o);
        o.route_ids = idr; o.route_weights = wtb;
        FZ_EXPECT(moe_forward_ex(&L, m.x, T, yd, work, ws, &o), MOE_ERR_ARG, "run C: a route id out of range");
        o.route_ids = idb; o.expert_begin = cut + 1; o.expert_end = cut;
        FZ_EXPECT(moe_forward_ex(&L, m.x, T, yd, work, ws, &o), MOE_ERR_ARG, "run C: expert_begin > expert_end");
        free(so); free(so2); free(sc); free(yd); free(se); free(idr);
        free(wb); wb = NULL;
    }

    /* ---- run P: moe_prepack's tiles (layers with integer batches): bit for bit run B's y; a
       buffer one byte short refused, and the layer detached after it ------------------------- */
    {
        size_t ps = moe_prepack_size(&L), off = 1 + m.misc % 63;
        moe_layer Lp = L;
        if (ps > 0) {
            unsigned char *pb = (unsigned char *)malloc(ps + 64);
            float *yp = (float *)malloc(nx * sizeof(float));
            void *work = fz_work(ws, 0, 0x5a, &wb);
            if (!pb || !yp) { fprintf(stderr, "fuzz_forward: out of memory\n"); abort(); }
            FZ_EXPECT(moe_prepack(&Lp, pb + off, ps - 1), MOE_ERR_WORKSPACE, "run P: moe_prepack one byte short");
            FZ_CHECK(moe_layer_error(&Lp)[0] != 0, "run P: a short moe_prepack buffer with an empty moe_layer_error");
            FZ_EXPECT(moe_prepack(&Lp, pb + off, ps), MOE_OK, "run P: moe_prepack");
            memset(&o, 0, sizeof o);
            o.capacity = b_cap;
            FZ_EXPECT(moe_forward_ex(&Lp, m.x, T, yp, work, ws, &o), MOE_OK, "run P: forward on pre-packed tiles");
            FZ_CHECK(memcmp(yp, yb, nx * sizeof(float)) == 0, "run P: pre-packed tiles give another y than run B");
            free(pb); free(yp);
            free(wb); wb = NULL;
        } else {
            static unsigned char one_byte[1];
            FZ_EXPECT(moe_prepack(&Lp, one_byte, 1), MOE_OK, "run P: moe_prepack with nothing to pack");
        }
    }

done:
    free(ya); free(yb); free(ida); free(idb); free(idc); free(wta); free(wtb); free(yc);
    fz_model_free(&m);
    fz_current = NULL;
    (void)i;
    return 0;
}
