/* bench/baselines.c - what moe.h is compared with, besides its own scalar path
   (bench/moe_scalar.c): a naive, ggml-style implementation with its own scalar and AVX2
   kernels, and OpenBLAS sgemm per expert (f32, when the bench is built with OpenBLAS). */
#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#ifdef BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* ---- half / bfloat16 (own code: the naive baseline does not borrow the library's) ------------ */
static float h2f_table[65536];

static float h2f_slow(uint16_t h)
{
    uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
    float f;
    if (e == 0) {
        f = (float)m * (1.0f / 16777216.0f);
        return s ? -f : f;
    }
    if (e == 31) bits = s | 0x7f800000u | (m << 13);
    else bits = s | ((e + 112u) << 23) | (m << 13);
    memcpy(&f, &bits, 4);
    return f;
}

void h2f_init(void)
{
    unsigned i;
    for (i = 0; i < 65536u; i++) h2f_table[i] = h2f_slow((uint16_t)i);
}

static float h2f(uint16_t h) { return h2f_table[h]; }

static uint16_t f2h(float f)
{
    uint32_t x, sign, ax, e, m, h, rest;
    memcpy(&x, &f, 4);
    sign = (x >> 16) & 0x8000u;
    ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);   /* >= 65520 rounds to inf */
    if (ax < 0x38800000u) {                                        /* below 2^-14: subnormal */
        float v;
        memcpy(&v, &ax, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(v * 16777216.0f));
    }
    e = ax >> 23;
    m = ax & 0x7fffffu;
    h = ((e - 112u) << 10) | (m >> 13);
    rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

static float bf2f(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
/* ============================================================================================
   naive, ggml-style implementation: plain loops, one dot product per (weight row, token);
   q8_0/q4_0 weights are dotted block by block against the activation quantised to q8_0
   blocks (as ggml's vec_dot_q8_0_q8_0 / vec_dot_q4_0_q8_0), f16/bf16 rows are converted on
   the fly against f32 activations. Own scalar and AVX2 kernels. The K-quants, mxfp4 and
   f8_e4m3 are simpler than ggml here: per 16-row tile the rows are decoded once with the
   library's public moe_dequantize (f8_e4m3: times its block scales) and dotted in f32 with
   every token of the expert (no ggml-style block dot against 8-bit activations).
   ============================================================================================ */
#ifdef BENCH_AVX2
static float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

static float dot_f32(const float *a, const float *b, int n)
{
    int i = 0;
    float s = 0;
#ifdef BENCH_AVX2
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
#endif
    {
        float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        for (; i + 4 <= n; i += 4) {
            t0 += a[i] * b[i]; t1 += a[i + 1] * b[i + 1]; t2 += a[i + 2] * b[i + 2]; t3 += a[i + 3] * b[i + 3];
        }
        for (; i < n; i++) t0 += a[i] * b[i];
        s += (t0 + t1) + (t2 + t3);
    }
    return s;
}

static float dot_f16_f32(const uint16_t *w, const float *x, int n)
{
    int i = 0;
    float s = 0;
#if defined(BENCH_AVX2) && defined(__F16C__)
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))), _mm256_loadu_ps(x + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8))), _mm256_loadu_ps(x + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 16))), _mm256_loadu_ps(x + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 24))), _mm256_loadu_ps(x + i + 24), s3);
    }
    s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
#endif
    for (; i < n; i++) s += h2f(w[i]) * x[i];
    return s;
}

#ifdef BENCH_AVX2
static __m256 bf16x8(const uint16_t *w)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)w));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
#endif

static float dot_bf16_f32(const uint16_t *w, const float *x, int n)
{
    int i = 0;
    float s = 0;
#ifdef BENCH_AVX2
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(bf16x8(w + i), _mm256_loadu_ps(x + i), s0);
        s1 = _mm256_fmadd_ps(bf16x8(w + i + 8), _mm256_loadu_ps(x + i + 8), s1);
        s2 = _mm256_fmadd_ps(bf16x8(w + i + 16), _mm256_loadu_ps(x + i + 16), s2);
        s3 = _mm256_fmadd_ps(bf16x8(w + i + 24), _mm256_loadu_ps(x + i + 24), s3);
    }
    s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
#endif
    for (; i < n; i++) s += bf2f(w[i]) * x[i];
    return s;
}

/* activation row -> q8_0 blocks: d = max|x| / 127, q = round(x / d) */
static void quantize_q8_row(const float *x, blk_q8 *out, int n)
{
    int b, i;
    for (b = 0; b < n / 32; b++) {
        const float *v = x + b * 32;
        float amax = 0, d, id;
        for (i = 0; i < 32; i++) amax = fabsf(v[i]) > amax ? fabsf(v[i]) : amax;
        d = amax / 127.0f;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        out[b].d = f2h(d);
        for (i = 0; i < 32; i++) out[b].q[i] = (int8_t)lrintf(v[i] * id);
    }
}

#ifdef BENCH_AVX2
/* sum over 32 lanes of a (signed) * b (signed), as 8 int32 partial sums */
static __m256i dot_i8x32(__m256i a, __m256i b)
{
    __m256i ua = _mm256_sign_epi8(a, a);        /* |a|            */
    __m256i sb = _mm256_sign_epi8(b, a);        /* b * sign(a)    */
    __m256i p16 = _mm256_maddubs_epi16(ua, sb); /* |a|*b*sign(a) = a*b, pairs summed (no overflow: |a|,|b| <= 127) */
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}
#endif

static float dot_q8_q8(const blk_q8 *w, const blk_q8 *x, int nb)
{
    int b = 0;
    float s = 0;
#ifdef BENCH_AVX2
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    for (; b + 2 <= nb; b += 2) {
        __m256i p0 = dot_i8x32(_mm256_loadu_si256((const __m256i *)w[b].q), _mm256_loadu_si256((const __m256i *)x[b].q));
        __m256i p1 = dot_i8x32(_mm256_loadu_si256((const __m256i *)w[b + 1].q), _mm256_loadu_si256((const __m256i *)x[b + 1].q));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d)), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b + 1].d) * h2f(x[b + 1].d)), _mm256_cvtepi32_ps(p1), acc1);
    }
    s = hsum256(_mm256_add_ps(acc0, acc1));
#endif
    for (; b < nb; b++) {
        int i, si = 0;
        for (i = 0; i < 32; i++) si += (int)w[b].q[i] * (int)x[b].q[i];
        s += (float)si * h2f(w[b].d) * h2f(x[b].d);
    }
    return s;
}

#ifdef BENCH_AVX2
static __m256i unpack_q4(const uint8_t *q)
{
    __m128i raw = _mm_loadu_si128((const __m128i *)q);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);   /* high half: element 16..31 */
    v = _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
    return _mm256_sub_epi8(v, _mm256_set1_epi8(8));
}
#endif

static float dot_q4_q8(const blk_q4 *w, const blk_q8 *x, int nb)
{
    int b = 0;
    float s = 0;
#ifdef BENCH_AVX2
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    for (; b + 2 <= nb; b += 2) {
        __m256i p0 = dot_i8x32(unpack_q4(w[b].q), _mm256_loadu_si256((const __m256i *)x[b].q));
        __m256i p1 = dot_i8x32(unpack_q4(w[b + 1].q), _mm256_loadu_si256((const __m256i *)x[b + 1].q));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d)), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b + 1].d) * h2f(x[b + 1].d)), _mm256_cvtepi32_ps(p1), acc1);
    }
    s = hsum256(_mm256_add_ps(acc0, acc1));
#endif
    for (; b < nb; b++) {
        int i, si = 0;
        for (i = 0; i < 16; i++) {
            si += ((int)(w[b].q[i] & 15) - 8) * (int)x[b].q[i];
            si += ((int)(w[b].q[i] >> 4) - 8) * (int)x[b].q[i + 16];
        }
        s += (float)si * h2f(w[b].d) * h2f(x[b].d);
    }
    return s;
}

/* exact variants (f32 activations) for the correctness check only */
static float dot_q8_f32(const blk_q8 *w, const float *x, int nb)
{
    int b, i;
    float s = 0;
    for (b = 0; b < nb; b++) {
        float t = 0;
#ifdef BENCH_AVX2
        __m256 a = _mm256_setzero_ps();
        for (i = 0; i < 32; i += 8) {
            __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(w[b].q + i))));
            a = _mm256_fmadd_ps(q, _mm256_loadu_ps(x + b * 32 + i), a);
        }
        t = hsum256(a);
#else
        for (i = 0; i < 32; i++) t += (float)w[b].q[i] * x[b * 32 + i];
#endif
        s += t * h2f(w[b].d);
    }
    return s;
}

static float dot_q4_f32(const blk_q4 *w, const float *x, int nb)
{
    int b, i;
    float s = 0;
    for (b = 0; b < nb; b++) {
        float t = 0;
        for (i = 0; i < 16; i++) {
            t += (float)((int)(w[b].q[i] & 15) - 8) * x[b * 32 + i];
            t += (float)((int)(w[b].q[i] >> 4) - 8) * x[b * 32 + i + 16];
        }
        s += t * h2f(w[b].d);
    }
    return s;
}

/* The AVX2 block kernels against their scalar tails (a dot over one block runs the tail):
   a wrong SIMD baseline would make every "vs naive" ratio meaningless. */
void selftest_kernels(void)
{
    blk_q8 w8[2], x8[2];
    blk_q4 w4[2];
    float xf[64], wf[64], a, b;
    uint64_t s = 99;
    int i, j;
    for (i = 0; i < 64; i++) { xf[i] = (float)((int)(splitmix64(&s) % 2001) - 1000) / 1000.0f; wf[i] = xf[i] * 0.5f - 0.1f; }
    quantize_q8_row(xf, x8, 64);
    quantize_q8_row(wf, w8, 64);
    for (i = 0; i < 2; i++) {
        w4[i].d = w8[i].d;
        for (j = 0; j < 16; j++) w4[i].q[j] = (uint8_t)(splitmix64(&s) & 0xff);
    }
    a = dot_q8_q8(w8, x8, 2); b = dot_q8_q8(w8, x8, 1) + dot_q8_q8(w8 + 1, x8 + 1, 1);
    if (fabsf(a - b) > 1e-4f * (fabsf(b) + 1)) die("self-test: dot_q8_q8 SIMD and scalar disagree");
    a = dot_q4_q8(w4, x8, 2); b = dot_q4_q8(w4, x8, 1) + dot_q4_q8(w4 + 1, x8 + 1, 1);
    if (fabsf(a - b) > 1e-4f * (fabsf(b) + 1)) die("self-test: dot_q4_q8 SIMD and scalar disagree");
    a = dot_q8_f32(w8, xf, 2); b = dot_q4_f32(w4, xf, 2);
    {   /* the exact kernels against a plain decode */
        double ra = 0, rb = 0;
        for (i = 0; i < 64; i++) {
            int bi = i / 32, k = i % 32;
            int q4 = k < 16 ? (w4[bi].q[k] & 15) - 8 : (w4[bi].q[k - 16] >> 4) - 8;
            ra += (double)w8[bi].q[k] * h2f(w8[bi].d) * xf[i];
            rb += (double)q4 * h2f(w4[bi].d) * xf[i];
        }
        if (fabs(a - ra) > 1e-4 * (fabs(ra) + 1) || fabs(b - rb) > 1e-4 * (fabs(rb) + 1))
            die("self-test: the f32-activation block kernels are wrong");
    }
    a = dot_f32(xf, wf, 64); b = dot_f32(xf, wf, 31) + dot_f32(xf + 31, wf + 31, 33);
    if (fabsf(a - b) > 1e-4f * (fabsf(b) + 1)) die("self-test: dot_f32 SIMD and scalar disagree");
    {
        uint16_t h[64], bf[64];
        for (i = 0; i < 64; i++) {
            uint32_t bits;
            h[i] = f2h(wf[i]);
            memcpy(&bits, &wf[i], 4);
            bf[i] = (uint16_t)(bits >> 16);
        }
        a = dot_f16_f32(h, xf, 64); b = dot_f16_f32(h, xf, 31) + dot_f16_f32(h + 31, xf + 31, 33);
        if (fabsf(a - b) > 1e-4f * (fabsf(b) + 1)) die("self-test: dot_f16_f32 SIMD and scalar disagree");
        a = dot_bf16_f32(bf, xf, 64); b = dot_bf16_f32(bf, xf, 31) + dot_bf16_f32(bf + 31, xf + 31, 33);
        if (fabsf(a - b) > 1e-4f * (fabsf(b) + 1)) die("self-test: dot_bf16_f32 SIMD and scalar disagree");
    }
}

#define NAIVE_TILE 16

void naive_init(naive_ctx *c, const bench_layer *L, int max_tokens, int nthreads)
{
    int T = max_tokens, k = L->top_k, E = L->n_experts;
    memset(c, 0, sizeof *c);
    c->L = L; c->nthreads = nthreads; c->max_tokens = T;
    c->ids = (int *)big_alloc(sizeof(int) * (size_t)T * k);
    c->wts = (float *)big_alloc(sizeof(float) * (size_t)T * k);
    c->probs = (float *)big_alloc(sizeof(float) * (size_t)T * E);
    c->count = (int *)big_alloc(sizeof(int) * (size_t)E);
    c->offset = (int *)big_alloc(sizeof(int) * ((size_t)E + 1));
    c->list_tok = (int *)big_alloc(sizeof(int) * (size_t)T * k);
    c->list_w = (float *)big_alloc(sizeof(float) * (size_t)T * k);
    c->xq = (blk_q8 *)big_alloc(sizeof(blk_q8) * (size_t)T * (L->d_model / 32 + 1));
    c->hq = (blk_q8 *)big_alloc(sizeof(blk_q8) * (size_t)T * (L->d_ff / 32 + 1));
    c->h = (float *)big_alloc(sizeof(float) * (size_t)T * L->d_ff);
    c->ybuf = (float *)big_alloc(sizeof(float) * (size_t)T * L->d_model);
    memset(c->h, 0, sizeof(float) * (size_t)T * L->d_ff);
    memset(c->ybuf, 0, sizeof(float) * (size_t)T * L->d_model);
    c->tile_floats = (size_t)2 * NAIVE_TILE * (size_t)(L->d_model > L->d_ff ? L->d_model : L->d_ff);
    c->tile = (float *)big_alloc(sizeof(float) * c->tile_floats * (size_t)nthreads);
    memset(c->tile, 0, sizeof(float) * c->tile_floats * (size_t)nthreads);
}

void naive_free(naive_ctx *c)
{
    free(c->ids); free(c->wts); free(c->probs); free(c->count); free(c->offset);
    free(c->list_tok); free(c->list_w); free(c->xq); free(c->hq); free(c->h); free(c->ybuf); free(c->tile);
}

/* one weight row (bytes) dotted with one activation row, in the type's naive form */
static float naive_dot(const naive_ctx *c, const unsigned char *row, const float *xf,
                       const blk_q8 *xq, int n)
{
    switch (c->L->type) {
    case MOE_TYPE_F32: return dot_f32((const float *)row, xf, n);
    case MOE_TYPE_F16: return dot_f16_f32((const uint16_t *)row, xf, n);
    case MOE_TYPE_BF16: return dot_bf16_f32((const uint16_t *)row, xf, n);
    case MOE_TYPE_Q8_0:
        return c->exact ? dot_q8_f32((const blk_q8 *)row, xf, n / 32) : dot_q8_q8((const blk_q8 *)row, xq, n / 32);
    case MOE_TYPE_Q4_0:
        return c->exact ? dot_q4_f32((const blk_q4 *)row, xf, n / 32) : dot_q4_q8((const blk_q4 *)row, xq, n / 32);
    default: return 0;
    }
}

static float silu(float v) { return v / (1.0f + expf(-v)); }

/* New types: rows r0 .. r0+nr-1 of one expert's matrix (rows x cols, starting at `base`) decoded
   to f32 with the library's public moe_dequantize; FP8 rows then get their block scales
   (`sc`: that expert's [ceil(rows/128)][ceil(cols/128)] f32 scales). */
static void naive_decode_rows(const bench_layer *L, const unsigned char *base, const float *sc, int r0, int nr,
                              int cols, size_t rb, float *out)
{
    int r;
    if (moe_dequantize(L->type, base + (size_t)r0 * rb, out, (size_t)nr, (size_t)cols) != MOE_OK)
        die("naive: moe_dequantize failed");
    if (!sc) return;
    for (r = 0; r < nr; r++) {
        const float *s = sc + (size_t)((r0 + r) / FP8_BLOCK) * cdiv((size_t)cols, FP8_BLOCK);
        float *o = out + (size_t)r * cols;
        int j;
        for (j = 0; j < cols; j++) o[j] *= s[j / FP8_BLOCK];
    }
}

void naive_forward(naive_ctx *c, const float *x, int T, float *y)
{
    const bench_layer *L = c->L;
    const int D = L->d_model, F = L->d_ff, E = L->n_experts, K = L->top_k;
    const int nbD = D / 32, nbF = F / 32;
    const int q8act = is_q8act(L->type) && !c->exact;
    const int dtile = is_new_type(L->type);   /* decode a tile of rows, then f32 dots */
    int t, e;
    if (T > c->max_tokens) die("naive: too many tokens");

    /* router: logits, softmax over all experts, top-k (lower index wins ties), renormalise */
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (T > 1)
    for (t = 0; t < T; t++) {
        float *p = c->probs + (size_t)t * E, mx = -INFINITY, sum = 0, wsum = 0;
        int i, j;
        for (i = 0; i < E; i++) {
            p[i] = dot_f32(L->router + (size_t)i * D, x + (size_t)t * D, D);
            if (p[i] > mx) mx = p[i];
        }
        for (i = 0; i < E; i++) { p[i] = expf(p[i] - mx); sum += p[i]; }
        for (i = 0; i < E; i++) p[i] /= sum;
        for (j = 0; j < K; j++) {
            int best = -1;
            for (i = 0; i < E; i++) {
                int taken = 0, jj;
                for (jj = 0; jj < j; jj++) taken |= c->ids[(size_t)t * K + jj] == i;
                if (!taken && (best < 0 || p[i] > p[best])) best = i;
            }
            c->ids[(size_t)t * K + j] = best;
            c->wts[(size_t)t * K + j] = p[best];
            wsum += p[best];
        }
        for (j = 0; j < K; j++) c->wts[(size_t)t * K + j] /= wsum;
        if (q8act) quantize_q8_row(x + (size_t)t * D, c->xq + (size_t)t * nbD, D);
    }

    /* token lists per expert */
    memset(c->count, 0, sizeof(int) * (size_t)E);
    for (t = 0; t < T * K; t++) c->count[c->ids[t]]++;
    c->offset[0] = 0;
    for (e = 0; e < E; e++) c->offset[e + 1] = c->offset[e] + c->count[e];
    memset(c->count, 0, sizeof(int) * (size_t)E);
    for (t = 0; t < T * K; t++) {
        int ex = c->ids[t], pos = c->offset[ex] + c->count[ex]++;
        c->list_tok[pos] = t / K;
        c->list_w[pos] = c->wts[t];
    }
    memset(y, 0, sizeof(float) * (size_t)T * D);

#pragma omp parallel num_threads(c->nthreads)
    {
    int ee;   /* declared in the region: private to each thread */
    for (ee = 0; ee < E; ee++) {
        const int e = ee;
        const int n = c->offset[e + 1] - c->offset[e];
        const int *tok = c->list_tok + c->offset[e];
        const float *tw = c->list_w + c->offset[e];
        const unsigned char *G = L->gate + (size_t)e * F * L->rb_model;
        const unsigned char *U = L->up + (size_t)e * F * L->rb_model;
        const unsigned char *Dn = L->down + (size_t)e * D * L->rb_ff;
        const float *Gs = L->gate_s ? L->gate_s + (size_t)e * scales_gu(L) : NULL;
        const float *Us = L->up_s ? L->up_s + (size_t)e * scales_gu(L) : NULL;
        const float *Ds = L->down_s ? L->down_s + (size_t)e * scales_dn(L) : NULL;
        float *tile = c->tile + c->tile_floats * (size_t)thread_id();
        int rb, i;
        if (n == 0) continue;
        /* gate and up: tiles of 16 rows x 16 tokens, one dot product per (row, token); new
           types: the tile's 16 rows decoded once, then dotted with every token's f32 activation */
#pragma omp for schedule(static)
        for (rb = 0; rb < F; rb += NAIVE_TILE) {
            int ib, r, nr = F - rb < NAIVE_TILE ? F - rb : NAIVE_TILE;
            const float *tg = tile, *tu = tile + (size_t)NAIVE_TILE * D;
            if (dtile) {
                naive_decode_rows(L, G, Gs, rb, nr, D, L->rb_model, tile);
                naive_decode_rows(L, U, Us, rb, nr, D, L->rb_model, tile + (size_t)NAIVE_TILE * D);
            }
            for (ib = 0; ib < n; ib += NAIVE_TILE)
                for (r = rb; r < rb + nr; r++)
                    for (i = ib; i < ib + NAIVE_TILE && i < n; i++) {
                        const float *xf = x + (size_t)tok[i] * D;
                        const blk_q8 *xq = c->xq + (size_t)tok[i] * nbD;
                        float g, u;
                        if (dtile) {
                            g = dot_f32(tg + (size_t)(r - rb) * D, xf, D);
                            u = dot_f32(tu + (size_t)(r - rb) * D, xf, D);
                        } else {
                            g = naive_dot(c, G + (size_t)r * L->rb_model, xf, xq, D);
                            u = naive_dot(c, U + (size_t)r * L->rb_model, xf, xq, D);
                        }
                        c->h[(size_t)i * F + r] = silu(g) * u;
                    }
        }
        if (q8act) {
#pragma omp for schedule(static)
            for (i = 0; i < n; i++) quantize_q8_row(c->h + (size_t)i * F, c->hq + (size_t)i * nbF, F);
        }
#pragma omp for schedule(static)
        for (rb = 0; rb < D; rb += NAIVE_TILE) {
            int ib, r, nr = D - rb < NAIVE_TILE ? D - rb : NAIVE_TILE;
            if (dtile) naive_decode_rows(L, Dn, Ds, rb, nr, F, L->rb_ff, tile);
            for (ib = 0; ib < n; ib += NAIVE_TILE)
                for (r = rb; r < rb + nr; r++)
                    for (i = ib; i < ib + NAIVE_TILE && i < n; i++)
                        c->ybuf[(size_t)i * D + r] = dtile
                            ? dot_f32(tile + (size_t)(r - rb) * F, c->h + (size_t)i * F, F)
                            : naive_dot(c, Dn + (size_t)r * L->rb_ff, c->h + (size_t)i * F, c->hq + (size_t)i * nbF, F);
        }
        /* each token appears once per expert: rows of y are disjoint across i */
#pragma omp for schedule(static)
        for (i = 0; i < n; i++) {
            float *yt = y + (size_t)tok[i] * D;
            const float *ye = c->ybuf + (size_t)i * D, wgt = tw[i];
            int r;
            for (r = 0; r < D; r++) yt[r] += wgt * ye[r];
        }
    }
    }
}

/* ============================================================================================
   OpenBLAS baseline (f32): routing from moe_route, then per expert gather, sgemm gate and up,
   SwiGLU, sgemm down, weighted scatter-add. sgemv when an expert has a single token.
   ============================================================================================ */
void blas_init(blas_ctx *c, const bench_layer *L, const moe_layer *layer, void *work,
                      size_t work_size, int max_tokens)
{
    int T = max_tokens, K = L->top_k, E = L->n_experts;
    memset(c, 0, sizeof *c);
    c->L = L; c->layer = layer; c->work = work; c->work_size = work_size; c->max_tokens = T;
    c->ids = (int *)big_alloc(sizeof(int) * (size_t)T * K);
    c->wts = (float *)big_alloc(sizeof(float) * (size_t)T * K);
    c->count = (int *)big_alloc(sizeof(int) * (size_t)E);
    c->offset = (int *)big_alloc(sizeof(int) * ((size_t)E + 1));
    c->list_tok = (int *)big_alloc(sizeof(int) * (size_t)T * K);
    c->list_w = (float *)big_alloc(sizeof(float) * (size_t)T * K);
    c->xg = (float *)big_alloc(sizeof(float) * (size_t)T * L->d_model);
    c->g = (float *)big_alloc(sizeof(float) * (size_t)T * L->d_ff);
    c->u = (float *)big_alloc(sizeof(float) * (size_t)T * L->d_ff);
    c->yo = (float *)big_alloc(sizeof(float) * (size_t)T * L->d_model);
    memset(c->xg, 0, sizeof(float) * (size_t)T * L->d_model);
    memset(c->g, 0, sizeof(float) * (size_t)T * L->d_ff);
    memset(c->u, 0, sizeof(float) * (size_t)T * L->d_ff);
    memset(c->yo, 0, sizeof(float) * (size_t)T * L->d_model);
}

void blas_free(blas_ctx *c)
{
    free(c->ids); free(c->wts); free(c->count); free(c->offset); free(c->list_tok);
    free(c->list_w); free(c->xg); free(c->g); free(c->u); free(c->yo);
}

#ifdef BENCH_HAVE_OPENBLAS
void blas_forward(blas_ctx *c, const float *x, int T, float *y)
{
    const bench_layer *L = c->L;
    const int D = L->d_model, F = L->d_ff, E = L->n_experts, K = L->top_k;
    int t, e;
    moe_status s = moe_route(c->layer, x, T, c->ids, c->wts, c->work, c->work_size);
    if (s != MOE_OK) die("moe_route failed in the OpenBLAS baseline");
    memset(c->count, 0, sizeof(int) * (size_t)E);
    for (t = 0; t < T * K; t++) c->count[c->ids[t]]++;
    c->offset[0] = 0;
    for (e = 0; e < E; e++) c->offset[e + 1] = c->offset[e] + c->count[e];
    memset(c->count, 0, sizeof(int) * (size_t)E);
    for (t = 0; t < T * K; t++) {
        int ex = c->ids[t], pos = c->offset[ex] + c->count[ex]++;
        c->list_tok[pos] = t / K;
        c->list_w[pos] = c->wts[t];
    }
    memset(y, 0, sizeof(float) * (size_t)T * D);
    for (e = 0; e < E; e++) {
        const int n = c->offset[e + 1] - c->offset[e];
        const int *tok = c->list_tok + c->offset[e];
        const float *tw = c->list_w + c->offset[e];
        const float *G = L->gate32 + (size_t)e * F * D, *U = L->up32 + (size_t)e * F * D;
        const float *Dn = L->down32 + (size_t)e * D * F;
        int i, j;
        if (n == 0) continue;
        for (i = 0; i < n; i++) memcpy(c->xg + (size_t)i * D, x + (size_t)tok[i] * D, sizeof(float) * D);
        if (n == 1) {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, F, D, 1.0f, G, D, c->xg, 1, 0.0f, c->g, 1);
            cblas_sgemv(CblasRowMajor, CblasNoTrans, F, D, 1.0f, U, D, c->xg, 1, 0.0f, c->u, 1);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, F, D, 1.0f, c->xg, D, G, D, 0.0f, c->g, F);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, F, D, 1.0f, c->xg, D, U, D, 0.0f, c->u, F);
        }
        for (j = 0; j < n * F; j++) c->g[j] = silu(c->g[j]) * c->u[j];
        if (n == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, D, F, 1.0f, Dn, F, c->g, 1, 0.0f, c->yo, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, D, F, 1.0f, c->g, F, Dn, F, 0.0f, c->yo, D);
        for (i = 0; i < n; i++) {
            float *yt = y + (size_t)tok[i] * D;
            const float *ye = c->yo + (size_t)i * D;
            for (j = 0; j < D; j++) yt[j] += tw[i] * ye[j];
        }
    }
}
#endif
