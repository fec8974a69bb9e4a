/* test_moe.c - the test program of moe.h.

   Checks moe.h against an independent float64 reference written here (naive loops, nothing
   shared with the header), plus routing, weight formats, error paths, memory discipline,
   non-finite input and thread determinism.

   Build (any of C99, C11, C++11; add -fopenmp for the OpenMP thread tests, -pthread on POSIX
   (Windows: the thread tests use Win32 threads);
   -DMOE_TEST_EXTERN_IMPL with tests/impl_tu.c to build the implementation in its own translation
   unit, e.g. with -ffast-math):
       cc -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror tests/test_moe.c -o test_moe -lm -pthread
   Run:
       ./test_moe [--quick] [--verbose] [--group NAME[,NAME...]] [--path NAME]
   --path NAME (scalar, avx2, avx2-vnni, avx512, avx512-vnni, neon, neon-dotprod): every
   moe_layer_init of the test gets cfg.path = that path (a copy of the caller's config), and a
   check counts the layers that did not run it; meant for a -DMOE_DISPATCH build, which has
   every path of its target (a plain build accepts only its own).
   It prints one line per failing check ("FAIL ...") or failed fixture step ("ERROR ...": a
   setup that broke counts as failed, never as passed), one summary line per group, the largest
   error measured per error class against the reference, and ends with the line
   "N passed, N failed". Only checks of behaviour count as passed. The exit status is 1 when a
   check failed.

   Quantised weights: the reference runs on the weights the library's own moe_dequantize gives
   back; moe_dequantize and moe_quantize are checked separately (group "formats") against
   hand-built blocks and a bit-level decoder written here (every type, the K-quants, MXFP4 and
   FP8 E4M3 included, from ggml's and OCP's documented layouts). Tensors with external block
   scales (group "scales": FP8 with f32 scales, gpt-oss's split MXFP4) have no moe_dequantize;
   the reference computes their weights itself, e4m3(byte) * scale or E2M1 * 2^(e-127). Each
   comparison with the reference has the bound of its error class (see class_bound), about 10x
   the largest error measured.

   Built with -DMOE_TEST_VS_SCALAR and tests/scalar_tu.c, every layer is also run on the scalar
   kernel path; that compares kernels only (the rest of moe.h is the same code in both).

   Built with -DMOE_DISPATCH (runtime CPU dispatch, no -m flags): the white-box group "kernels"
   is left out (the internal moe__* functions are renamed per path), and moe_simd_name() must
   name the family of the path AUTO picks (tests/test_dispatch.c checks the dispatch itself). */
#if (defined(__unix__) || defined(__APPLE__)) && !defined(MOE_TEST_NO_PTHREAD)
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define MOE_TEST_PTHREAD 1
#endif
/* the thread checks: POSIX threads, or on Windows (MinGW-w64, MSVC) Win32 threads */
#if defined(_WIN32) && !defined(MOE_TEST_PTHREAD) && !defined(MOE_TEST_NO_WIN32_THREADS)
#define MOE_TEST_WIN32_THREADS 1
#endif
#if defined(MOE_TEST_PTHREAD) || defined(MOE_TEST_WIN32_THREADS)
#define MOE_TEST_THREADS 1
#endif

/* Which SIMD path moe_simd_name() must report, decided before moe.h can define anything. */
#if defined(MOE_SIMD_SCALAR)
#define MOE_TEST_EXPECT_SIMD "scalar"
#elif defined(MOE_SIMD_AVX512)
#define MOE_TEST_EXPECT_SIMD "avx512"
#elif defined(MOE_SIMD_AVX2)
#define MOE_TEST_EXPECT_SIMD "avx2"
#elif defined(MOE_SIMD_NEON)
#define MOE_TEST_EXPECT_SIMD "neon"
#elif defined(__AVX512F__)
#define MOE_TEST_EXPECT_SIMD "avx512"
#elif defined(__AVX2__)   /* with or without FMA (-mavx2 alone: mul + add) */
#define MOE_TEST_EXPECT_SIMD "avx2"
#elif defined(__ARM_NEON) || defined(__ARM_NEON__)
#define MOE_TEST_EXPECT_SIMD "neon"
#else
#define MOE_TEST_EXPECT_SIMD "scalar"
#endif

#ifndef MOE_TEST_EXTERN_IMPL   /* -ffast-math builds: the implementation is tests/impl_tu.c */
#define MOE_IMPLEMENTATION
#endif
#include "../moe.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef MOE_TEST_PTHREAD
#include <pthread.h>
#endif
#ifdef MOE_TEST_WIN32_THREADS
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* ======================================================================================== */
/*                                   harness                                                */
/* ======================================================================================== */
static int g_quick = 0, g_verbose = 0;
static const char *g_only = NULL;
static long g_pass = 0, g_fail = 0, g_gpass = 0, g_gfail = 0, g_errors = 0, g_refcmp = 0;
static const char *g_group = "";
static double g_maxrel[24];     /* per error class (EC_*) */
static int g_maxrel_seen[24];

#if defined(__GNUC__) || defined(__clang__)
#define TEST_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TEST_PRINTF(a, b)
#endif

/* --group NAME[,NAME...]: is name in the list? */
static int group_listed(const char *name)
{
    const char *p = g_only;
    size_t n = strlen(name);
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && strncmp(p, name, n) == 0) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}
static long g_groups_run = 0;
static int group_begin(const char *name)
{
    if (g_only && !group_listed(name)) return 0;
    g_groups_run++;
    g_group = name;
    g_gpass = g_gfail = 0;
    return 1;
}
static void group_end(void)
{
    printf("group %-10s %ld passed, %ld failed\n", g_group, g_gpass, g_gfail);
    fflush(stdout);
}
/* one failure line: "TAG [group] what<message>" */
static void report(const char *tag, const char *what, const char *fmt, va_list ap)
{
    printf("%s [%s] %s", tag, g_group, what);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
}
static int check(int ok, const char *fmt, ...) TEST_PRINTF(2, 3);
static int check(int ok, const char *fmt, ...)
{
    va_list ap;
    if (ok) { g_pass++; g_gpass++; return 1; }
    g_fail++; g_gfail++;
    if (g_gfail <= 300) {
        va_start(ap, fmt);
        report("FAIL", "", fmt, ap);
        va_end(ap);
    }
    return 0;
}
/* A fixture step (building weights, initialising a layer the test needs, sizing its
   workspace): not a test of behaviour, so success counts nothing; failure is an error, counted
   as failed, so a group whose setup broke can never look like it passed. */
static int require(int ok, const char *fmt, ...) TEST_PRINTF(2, 3);
static int require(int ok, const char *fmt, ...)
{
    va_list ap;
    if (ok) return 1;
    g_fail++; g_gfail++; g_errors++;
    va_start(ap, fmt);
    report("ERROR", "setup failed: ", fmt, ap);
    va_end(ap);
    return 0;
}
static void note(const char *fmt, ...) TEST_PRINTF(1, 2);
static void note(const char *fmt, ...)
{
    va_list ap;
    if (!g_verbose) return;
    printf("  [%s] ", g_group);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* ---- --path NAME: every moe_layer_init of the test forced to one kernel path --------------- */
static int g_force_path = -1;                     /* a moe_path, or -1: the caller's cfg as is */
static long g_path_inits = 0, g_path_wrong = 0;   /* layers initialised forced; not on the path */
static moe_status test_layer_init_forced(moe_layer *L, const moe_config *cfg, const moe_weights *w)
{
    moe_config c;
    moe_status st;
    if (g_force_path < 0 || !cfg) return moe_layer_init(L, cfg, w);
    c = *cfg;
    c.path = (moe_path)g_force_path;
    st = moe_layer_init(L, &c, w);
    if (st == MOE_OK) {
        g_path_inits++;
        if ((int)moe_layer_path(L) != g_force_path) {
            if (++g_path_wrong <= 5)
                printf("FAIL [%s] --path %s: a layer runs path %s\n", g_group, moe_path_name((moe_path)g_force_path),
                       moe_path_name(moe_layer_path(L)));
        }
    }
    return st;
}
#define moe_layer_init test_layer_init_forced

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "test_moe: out of memory (%lu bytes)\n", (unsigned long)n); exit(2); }
    return p;
}
static void *xcalloc(size_t n)
{
    void *p = xmalloc(n);
    memset(p, 0, n ? n : 1);
    return p;
}

/* ---- deterministic random numbers (splitmix64) ---------------------------------------- */
typedef struct rng_t { unsigned long long s; } rng_t;
static unsigned long long rng_next(rng_t *r)
{
    unsigned long long z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static rng_t rng_make(unsigned long long a, unsigned long long b, unsigned long long c)
{
    rng_t r;
    r.s = a * 0x2545F4914F6CDD1DULL ^ (b + 0x632BE59BD9B4E019ULL) * 0x9E3779B97F4A7C15ULL ^ c * 0xD1B54A32D192ED03ULL;
    rng_next(&r);
    return r;
}
static double rng_unif(rng_t *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }
static float rng_sym(rng_t *r) { return (float)(2.0 * rng_unif(r) - 1.0); }
static int rng_int(rng_t *r, int n) { return (int)(rng_next(r) % (unsigned long long)n); }

/* ---- independent bit-level decoders --------------------------------------------------- */
static unsigned rd16(const unsigned char *p) { return (unsigned)p[0] | ((unsigned)p[1] << 8); }
static double half_to_double(unsigned h)
{
    unsigned s = (h >> 15) & 1u, e = (h >> 10) & 31u, m = h & 1023u;
    double v;
    if (e == 0) v = ldexp((double)m, -24);
    else if (e == 31) v = m ? (double)NAN : (double)INFINITY;
    else v = ldexp((double)(m + 1024u), (int)e - 25);
    return s ? -v : v;
}
static float bf16_to_float(unsigned b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- byte order: moe.h reads weights, biases and scales as little-endian bytes on every host
   (x, y and the routing outputs are native floats). The tests draw f32 tensors and biases as
   native floats, keep the true values for the reference, and turn them into little-endian
   bytes (le_f32, put_le) before handing them over; encoded bytes are turned back into native
   values (le16, le_f32) before they are checked. On a little-endian host all of it is a no-op. */
static int host_big_endian(void)
{
    const unsigned one = 1u;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}
/* store v at p as little-endian bytes */
static void put_le(void *p, float v)
{
    unsigned char *q = (unsigned char *)p;
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    q[0] = (unsigned char)(u & 0xffu); q[1] = (unsigned char)((u >> 8) & 0xffu);
    q[2] = (unsigned char)((u >> 16) & 0xffu); q[3] = (unsigned char)(u >> 24);
}
/* n floats at p, in place, from native order to little-endian bytes, or back (a byte swap on a
   big-endian host either way); le16: the same for 16-bit values (f16, bf16 codes) */
static void le_f32(float *p, size_t n)
{
    size_t i;
    if (!host_big_endian()) return;
    for (i = 0; i < n; i++) put_le(p + i, p[i]);
}
static void le16(unsigned short *p, size_t n)
{
    size_t i;
    if (!host_big_endian()) return;
    for (i = 0; i < n; i++) p[i] = (unsigned short)(((p[i] & 0xffu) << 8) | (p[i] >> 8));
}

/* The weight types of 0.2.0, decoded here from ggml's documented block layouts (ggml-common.h
   block_q*_K, block_mxfp4; OCP FP8/FP4), one element at a time, in float64. The K-quants keep
   ggml's order of operations (d*sc first, then the code, then the min subtracted), so NaN and Inf
   scales propagate as in ggml; every product of an f16 scale and the codes is exact in float64,
   and so is the difference for every block these tests build. */
static double e4m3_to_double(unsigned b)      /* OCP e4m3fn: s.eeee.mmm, bias 7, S.1111.111 NaN */
{
    unsigned e = (b >> 3) & 15u, m = b & 7u;
    double v;
    if (e == 15u && m == 7u) return (double)NAN;
    v = e == 0 ? ldexp((double)m, -9) : ldexp(8.0 + (double)m, (int)e - 10);   /* (1 + m/8) 2^(e-7) */
    return (b & 0x80u) ? -v : v;
}
/* OCP FP4 E2M1: s.ee.m, bias 1: 0, 0.5, 1, 1.5, 2, 3, 4, 6. ggml decodes through a table of
   integers (kvalues_mxfp4, the values doubled), so the code of -0 (8) gives +0. */
static double e2m1_to_double(unsigned c)
{
    unsigned e = (c >> 1) & 3u, m = c & 1u;
    double v = e == 0 ? 0.5 * (double)m : ldexp(1.0 + 0.5 * (double)m, (int)e - 1);
    if (v == 0.0) return 0.0;
    return (c & 8u) ? -v : v;
}
static double e8m0_to_double(unsigned e) { return ldexp(1.0, (int)e - 127); }   /* 0 .. 255: 2^-127 .. 2^128 */
/* Q4_K / Q5_K: scale and min of sub-block j (0..7): j < 4 the low 6 bits of bytes j and 4+j;
   j >= 4 the nibbles of byte 8+(j-4) (scale low, min high) and, as bits 4-5, the top 2 bits of
   bytes j-4 (scale) and j (min) */
static void k4_scale_min(const unsigned char *s, int j, int *sc, int *mn)
{
    if (j < 4) { *sc = s[j] & 0x3f; *mn = s[4 + j] & 0x3f; return; }
    *sc = (s[8 + (j - 4)] & 0x0f) | ((s[j - 4] & 0xc0) >> 2);
    *mn = (s[8 + (j - 4)] >> 4) | ((s[j] & 0xc0) >> 2);
}
/* Q3_K: 6-bit scale j (0..15, stored +32): low nibble of byte j (j < 8) or high nibble of byte
   j-8, bits 4-5 from byte 8 + j%4 at bit 2*(j/4) */
static int k3_scale(const unsigned char *s, int j)
{
    int lo = (s[j % 8] >> (4 * (j / 8))) & 15, hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return lo | (hi << 4);
}
/* the parameters of element i of a K-quant block b: value = dl * (q - off) - ml with
   q = the element's code in 0..qmax; returns q */
static int kq_elem(moe_type t, const unsigned char *b, int i, double *dl, double *ml, int *off, int *qmax)
{
    int q = 0, sc = 0, mn = 0;
    double d = 0, dmin = 0;
    *off = 0;
    switch (t) {
    case MOE_TYPE_Q2_K:   /* scales[16] qs[64] d dmin; 2 bits at 2*((i%128)/32) of qs[32*(i/128) + i%32] */
        d = half_to_double(rd16(b + 80)); dmin = half_to_double(rd16(b + 82));
        sc = b[i / 16] & 15; mn = b[i / 16] >> 4;
        q = (b[16 + 32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3; *qmax = 3;
        break;
    case MOE_TYPE_Q3_K:   /* hmask[32] qs[64] scales[12] d; high bit (set: no -4) at bit i/32 of hmask[i%32] */
        d = half_to_double(rd16(b + 108));
        sc = k3_scale(b + 96, i / 16) - 32;
        q = ((b[32 + 32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3) | (((b[i % 32] >> (i / 32)) & 1) << 2);
        *off = 4; *qmax = 7;
        break;
    case MOE_TYPE_Q4_K:   /* d dmin scales[12] qs[128]; nibble (i/32)%2 of qs[32*(i/64) + i%32] */
        d = half_to_double(rd16(b)); dmin = half_to_double(rd16(b + 2));
        k4_scale_min(b + 4, i / 32, &sc, &mn);
        q = (b[16 + 32 * (i / 64) + i % 32] >> (4 * ((i / 32) % 2))) & 15; *qmax = 15;
        break;
    case MOE_TYPE_Q5_K:   /* d dmin scales[12] qh[32] qs[128]; fifth bit at bit i/32 of qh[i%32] */
        d = half_to_double(rd16(b)); dmin = half_to_double(rd16(b + 2));
        k4_scale_min(b + 4, i / 32, &sc, &mn);
        q = ((b[48 + 32 * (i / 64) + i % 32] >> (4 * ((i / 32) % 2))) & 15) | (((b[16 + i % 32] >> (i / 32)) & 1) << 4);
        *qmax = 31;
        break;
    default: {            /* Q6_K: ql[128] qh[64] scales[16] (int8) d */
        int h = i / 128, k = (i % 128) / 32, l = i % 32;
        d = half_to_double(rd16(b + 208));
        sc = (signed char)b[192 + i / 16];
        q = ((b[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 15) | (((b[128 + 32 * h + l] >> (2 * k)) & 3) << 4);
        *off = 32; *qmax = 63;
        break;
    }
    }
    *dl = d * (double)sc;
    *ml = dmin * (double)mn;
    return q;
}
static int is_ktype(moe_type t)
{
    return t == MOE_TYPE_Q2_K || t == MOE_TYPE_Q3_K || t == MOE_TYPE_Q4_K || t == MOE_TYPE_Q5_K || t == MOE_TYPE_Q6_K;
}
static size_t kq_bytes(moe_type t)
{
    switch (t) {
    case MOE_TYPE_Q2_K: return 84;
    case MOE_TYPE_Q3_K: return 110;
    case MOE_TYPE_Q4_K: return 144;
    case MOE_TYPE_Q5_K: return 176;
    default: return 210;
    }
}
/* n values of a row of a new type (K: n a multiple of 256; MXFP4 ggml layout: of 32) */
static void ref_decode_row(moe_type t, const unsigned char *src, size_t n, double *y)
{
    size_t i;
    if (t == MOE_TYPE_F8_E4M3) { for (i = 0; i < n; i++) y[i] = e4m3_to_double(src[i]); return; }
    if (t == MOE_TYPE_MXFP4) {     /* { u8 e; u8 qs[16] }: element j < 16 low nibble of qs[j], 16+j high */
        for (i = 0; i < n; i++) {
            const unsigned char *b = src + i / 32 * 17;
            unsigned c = (unsigned)(b[1 + i % 16] >> (4 * ((i % 32) / 16))) & 15u;
            y[i] = e2m1_to_double(c) * e8m0_to_double(b[0]);
        }
        return;
    }
    for (i = 0; i < n; i++) {
        double dl, ml;
        int off, qmax, q = kq_elem(t, src + i / 256 * kq_bytes(t), (int)(i % 256), &dl, &ml, &off, &qmax);
        y[i] = dl * (double)(q - off) - ml;
    }
}
/* gpt-oss's split MXFP4: 16 bytes per 32 values, element 2j in the low nibble of byte j, 2j+1
   in the high one; one E8M0 byte per 32 values */
static void ref_decode_split(const unsigned char *nib, const unsigned char *e8, size_t n, double *y)
{
    size_t i;
    for (i = 0; i < n; i++) y[i] = e2m1_to_double((unsigned)(nib[i / 2] >> (4 * (i % 2))) & 15u) * e8m0_to_double(e8[i / 32]);
}
/* float64 -> f32, round to nearest; magnitudes that round past FLT_MAX give Inf (as the f32
   arithmetic of the decoders) */
static float f32_of(double v)
{
    if (v != v) return (float)NAN;
    if (fabs(v) >= ldexp(2.0 - ldexp(1.0, -24), 127)) return v > 0 ? (float)INFINITY : -(float)INFINITY;
    return (float)v;
}
/* got is want rounded to f32: the same value and sign (of 0 and Inf too), or both NaN */
static int same_f32(float got, double want)
{
    float w;
    if (want != want) return got != got;
    w = f32_of(want);
    return got == w && (signbit(got) != 0) == (signbit(w) != 0);
}

/* ======================================================================================== */
/*                          the model under test and its float64 reference                   */
/* ======================================================================================== */
#define TMAXE 256

typedef struct spec {
    int dm, dff, E, k;
    moe_act act;
    moe_score score;
    int norm;
    float rscale;
    int n_group, topk_group; /* n_group 0: leave moe_config_default's value */
    moe_group_score gsc;
    int woi, gelu_tanh;
    float alpha, limit;
    int n_shared, dff_sh, has_sgw;
    int n_threads;
    int has_rb, has_sb, has_gb, has_ub, has_db;
    int fused;
    moe_gate_up_layout layout;
    moe_type t_router, t_gate, t_up, t_down, t_gate_up, t_sgate, t_sup, t_sdown;
    int per_expert;
    int w_offset;       /* bytes: stacked weight buffers start this far past an allocation */
    float router_gain;  /* router rows ~ U(-1,1) * gain / sqrt(d_model) */
    float rb_offset;    /* added to every router_bias entry */
    float sb_gain;      /* selection bias ~ U(-1,1) * sb_gain */
    int zero_router;
    /* external block scales (moe_tensor.scale) on every F8_E4M3 and MXFP4 tensor: xscale 1;
       F8 blocks of xs_rows x xs_cols as given to moe_tensor (MXFP4: 0, 0 or 1, 32) */
    int xscale, xs_rows, xs_cols;
    unsigned long long seed;
    moe_batch_quant bq;     /* cfg.batch_quant (MOE_BATCH_INT, the default, is 0) */
    moe_batch_bf16 bb;      /* cfg.batch_bf16 (MOE_BF16_EXACT, the default, is 0) */
    int prepack;            /* 1: run_case runs the layer on moe_prepack's tiles (and checks them
                               bit for bit against the layer without) */
    int amx;                /* cfg.batch_amx */
} spec;

static spec spec_default(void)
{
    spec s;
    memset(&s, 0, sizeof s);
    s.dm = 64; s.dff = 48; s.E = 8; s.k = 2;
    s.act = MOE_ACT_SWIGLU; s.score = MOE_SCORE_SOFTMAX; s.norm = 1; s.rscale = 1.0f;
    s.gsc = MOE_GROUP_MAX;
    s.alpha = 1.702f; s.limit = 7.0f;
    s.n_threads = 1;
    s.layout = MOE_GATE_UP_HALVES;
    s.t_router = s.t_gate = s.t_up = s.t_down = s.t_gate_up = MOE_TYPE_F32;
    s.t_sgate = s.t_sup = s.t_sdown = MOE_TYPE_F32;
    s.router_gain = 4.0f;
    s.sb_gain = 0.1f;
    s.seed = 1;
    return s;
}

#define MAX_ALLOCS 4096
typedef struct model {
    spec s;
    moe_config cfg;
    moe_weights w;
    int ok;
    int worst;          /* the error class (EC_*) of highest rank over the tensors' types */
    int worst_int;      /* EC_Q8_0_INT / EC_Q4_0_INT: some expert matrix is quantised; else -1 */
    int worst_ib;       /* the same for experts with more than 8 tokens on integer GEMMs (EC_KB_INT) */
    double bound, tie_tol, wtol;   /* bound: of the worst class the layer can take */
    /* f32 tensors the caller passes as biases (owned) */
    float *rb, *sb, *gb, *ub, *gub, *db, *sgw;
    /* reference (float64) */
    double *r_router, *r_gate, *r_up, *r_down, *r_sgate, *r_sup, *r_sdown;
    double *r_rb, *r_sb, *r_gb, *r_ub, *r_db, *r_sgw;
    void *allocs[MAX_ALLOCS];
    int nalloc;
} model;

static void *mal(model *m, size_t n)
{
    void *p = xcalloc(n);
    if (m->nalloc >= MAX_ALLOCS) { fprintf(stderr, "test_moe: too many allocations\n"); exit(2); }
    m->allocs[m->nalloc++] = p;
    return p;
}
static void model_free(model *m)
{
    int i;
    for (i = 0; i < m->nalloc; i++) free(m->allocs[i]);
    m->nalloc = 0;
}
static float *gen(model *m, rng_t *r, size_t n, double scale, double offset)
{
    float *p = (float *)mal(m, n * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) p[i] = (float)(rng_sym(r) * scale + offset);
    return p;
}
static double *to_ref(model *m, const float *p, size_t n)
{
    double *d = (double *)mal(m, n * sizeof(double));
    size_t i;
    for (i = 0; i < n; i++) d[i] = p[i];
    return d;
}
static int is_gated(moe_act a) { return a == MOE_ACT_SWIGLU || a == MOE_ACT_GEGLU || a == MOE_ACT_SWIGLU_OAI; }

/* Error classes. The reference runs on the weights moe_dequantize gives back, so for f32,
   f16, bf16 and for quantised matrices decoded to f32 (experts with more than 8 tokens) the
   only error left is f32 rounding. An expert with 1..8 tokens runs its Q8_0/Q4_0 matrices as
   integer dot products on quantised activations ("int"): Q8_0 with 8+8-bit activations, Q4_0
   with 8-bit ones, as ggml. A run's class is the worst that applies to it (class_rank: the types
   decoded to f32 by type number, the int classes above them); its bound sits about 10x above
   the largest error measured for that class over the whole suite on the scalar, AVX2, AVX-512
   and -march=native builds (gcc, clang, C, C++), except the int classes, whose error is that of the quantiser shared by every path
   (identical on all of them to a few ulp), so their bound is ~2x the measured maximum.
   The measured maxima per class are printed at the end of a run. */
enum { EC_F32, EC_F16, EC_BF16, EC_Q8_0, EC_Q4_0, EC_Q8_0_INT, EC_Q4_0_INT,
       EC_Q4_K, EC_Q5_K, EC_Q6_K, EC_Q2_K, EC_Q3_K, EC_MXFP4, EC_F8_E4M3, EC_Q8K_INT, EC_KB_INT, EC_BF16_DOT, EC_COUNT };
static const char *const ec_name[EC_COUNT] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q8_0/int", "q4_0/int",
                                              "q4_K", "q5_K", "q6_K", "q2_K", "q3_K", "mxfp4", "f8_e4m3", "q8_K/int",
                                              "k/mxfp4 batch int", "bf16 batch dot"};
/* the K-quants and MXFP4: with 1..8 tokens, integer dots on 8-bit activations in blocks of 256 */
static int is_q8k_family(moe_type t)
{
    return t == MOE_TYPE_Q4_K || t == MOE_TYPE_Q5_K || t == MOE_TYPE_Q6_K || t == MOE_TYPE_Q2_K ||
           t == MOE_TYPE_Q3_K || t == MOE_TYPE_MXFP4;
}
/* The class of a tensor type, and the classes' rank: a run takes the class of highest rank
   that applies to it. The types decoded to f32 panels rank by type, the int classes above them. */
static int type_class(moe_type t)
{
    switch (t) {
    case MOE_TYPE_Q4_K: return EC_Q4_K;
    case MOE_TYPE_Q5_K: return EC_Q5_K;
    case MOE_TYPE_Q6_K: return EC_Q6_K;
    case MOE_TYPE_Q2_K: return EC_Q2_K;
    case MOE_TYPE_Q3_K: return EC_Q3_K;
    case MOE_TYPE_MXFP4: return EC_MXFP4;
    case MOE_TYPE_F8_E4M3: return EC_F8_E4M3;
    default: return (int)t;   /* F32 .. Q4_0: the class has the type's number */
    }
}
static int class_rank(int cls)
{
    return cls == EC_Q8_0_INT ? 100 : cls == EC_BF16_DOT ? 101 : cls == EC_KB_INT ? 102 : cls == EC_Q4_0_INT ? 103 : cls == EC_Q8K_INT ? 104 : cls;
}
static int class_worse(int a, int b) { return class_rank(b) > class_rank(a) ? b : a; }
static double class_bound(int cls)
{
    switch (cls) {
    /* measured maxima (gcc 12 / clang 14, C and C++, -O2/-O3, scalar/avx2/avx2 without FMA/
       avx512/native, full and --quick runs): f32 1.3e-6, f16 5.5e-7, bf16 4.8e-7, q8_0 4.6e-7,
       q4_0 6.9e-7, q8_0/int 5.1e-5, q4_0/int 1.6e-2 */
    case EC_F32: return 1e-5;
    case EC_F16: return 5e-6;
    case EC_BF16: return 5e-6;
    case EC_Q8_0: return 5e-6;
    case EC_Q4_0: return 7e-6;
    case EC_Q8_0_INT: return 5e-4;
    case EC_Q4_0_INT: return 3e-2;
    /* the K-quants, MXFP4 and FP8 (with or without external scales) decoded to f32 (experts
       with more than 8 tokens; FP8 always keeps f32 activations): f32 rounding only. Measured (the same builds, and qemu AArch64/ARMv7 NEON, the
       -ffast-math implementation): q4_K 9.3e-7, q5_K 7.5e-7, q6_K 1.1e-6, q2_K 7.5e-7,
       q3_K 6.5e-7, mxfp4 6.4e-7, f8_e4m3 8.2e-7 */
    case EC_Q4_K: return 1e-5;
    case EC_Q5_K: return 8e-6;
    case EC_Q6_K: return 1e-5;
    case EC_Q2_K: return 8e-6;
    case EC_Q3_K: return 7e-6;
    case EC_MXFP4: return 7e-6;
    /* K-quants and MXFP4 on 8-bit activations in blocks of 256 (ggml's Q8_K): one step of
       amax/127 over 256 values, coarser than Q4_0's blocks of 32. Measured 2.1e-2 (full run),
       2.6e-2 (--quick) on every path: the quantiser is shared, so ~2x */
    case EC_Q8K_INT: return 5e-2;
    /* K-quants and MXFP4 as integer GEMMs in batches (MOE_BATCH_INT): the same 8-bit activations
       in blocks of 32 as Q4_0's, on weights the tiles hold exactly. Measured 1.1e-2 (q4_K, q5_K, q3_K), 1.3e-2 (q6_K, mxfp4)
       on AVX-512, AVX2 and scalar: the quantiser is shared, so ~2x, as EC_Q4_0_INT */
    case EC_KB_INT: return 3e-2;
    /* BF16 batches on vdpbf16ps (MOE_BF16_DOT): inputs and hidden rows rounded to bf16 (2^-9
       relative each). Measured 3.5e-3 (AVX-512 BF16, gcc 12 -march=native, full run, 1..64 tokens); ~3x */
    case EC_BF16_DOT: return 1e-2;
    default: return 9e-6;   /* EC_F8_E4M3 */
    }
}
static double type_tie(moe_type t)
{
    switch (t) {
    case MOE_TYPE_F32: return 1e-4;
    case MOE_TYPE_F16: return 1e-3;
    case MOE_TYPE_BF16: return 1e-2;
    default: return 2e-2;
    }
}

/* A tensor with external block scales, from src [n_mat][rows][cols] (rows as stored: a fused
   gate_up has 2*d_ff): F8_E4M3 bytes with an f32 scale per xs_rows x xs_cols block, or MXFP4 in
   gpt-oss's split layout (nibbles, and an E8M0 byte per 32 values). Each block's scale is drawn
   larger than it needs, by a random factor (F8: 1..2 times 2^0..2^12, so some blocks hold only
   subnormal codes; MXFP4: 2^0..2^3), so that a scale read from the wrong block is seen. ref gets
   the weights the test computes itself in float64: e4m3(byte) * scale, or E2M1 * 2^(e-127). */
static int put_scaled(model *m, moe_tensor *t, moe_type type, const float *src, int n_mat, int rows, int cols, int per_expert,
                      double *ref, const char *what)
{
    size_t per = (size_t)rows * (size_t)cols, sper, vper, i;
    int e, sr, sc, nbr, nbc, br, bc, rr, cc;
    unsigned long long h = 5381;
    unsigned char *vals;
    void *scl;
    rng_t r;
    for (i = 0; what[i]; i++) h = h * 33u + (unsigned char)what[i];
    r = rng_make(m->s.seed, 4242, h);
    if (type == MOE_TYPE_F8_E4M3) {
        float *tmp = (float *)xmalloc(per * sizeof(float)), *fs;
        moe_status st = MOE_OK;
        sr = m->s.xs_rows < rows ? m->s.xs_rows : rows;
        sc = m->s.xs_cols < cols ? m->s.xs_cols : cols;
        if (!require(sr >= 1 && sc >= 1, "build %s: F8 scale blocks %d x %d", what, m->s.xs_rows, m->s.xs_cols)) { free(tmp); return 0; }
        nbr = (rows + sr - 1) / sr; nbc = (cols + sc - 1) / sc;
        sper = (size_t)nbr * (size_t)nbc * sizeof(float); vper = per;
        vals = (unsigned char *)mal(m, vper * (size_t)n_mat);
        scl = mal(m, sper * (size_t)n_mat);
        fs = (float *)scl;
        for (e = 0; e < n_mat && st == MOE_OK; e++) {
            const float *x = src + (size_t)e * per;
            for (br = 0; br < nbr; br++)
                for (bc = 0; bc < nbc; bc++) {
                    double amax = 0.0;
                    float f;
                    int k = rng_int(&r, 3) == 0 ? 9 + rng_int(&r, 4) : rng_int(&r, 3);
                    for (rr = br * sr; rr < rows && rr < (br + 1) * sr; rr++)
                        for (cc = bc * sc; cc < cols && cc < (bc + 1) * sc; cc++)
                            if (fabs((double)x[(size_t)rr * cols + cc]) > amax) amax = fabs((double)x[(size_t)rr * cols + cc]);
                    f = (float)((amax > 0 ? amax : 1.0) / 448.0 * (1.0 + rng_unif(&r)) * ldexp(1.0, k));
                    fs[((size_t)e * nbr + br) * nbc + bc] = f;
                    for (rr = br * sr; rr < rows && rr < (br + 1) * sr; rr++)
                        for (cc = bc * sc; cc < cols && cc < (bc + 1) * sc; cc++)
                            tmp[(size_t)rr * cols + cc] = x[(size_t)rr * cols + cc] / f;
                }
            st = moe_quantize(MOE_TYPE_F8_E4M3, tmp, vals + (size_t)e * vper, (size_t)rows, (size_t)cols);
            for (rr = 0; rr < rows; rr++)
                for (cc = 0; cc < cols; cc++) {
                    size_t at = (size_t)rr * cols + cc;
                    ref[(size_t)e * per + at] = e4m3_to_double(vals[(size_t)e * vper + at]) * (double)fs[((size_t)e * nbr + rr / sr) * nbc + cc / sc];
                }
        }
        free(tmp);
        le_f32(fs, (size_t)nbr * (size_t)nbc * (size_t)n_mat);   /* the reference has the true scales */
        if (!require(st == MOE_OK, "build %s: moe_quantize(f8_e4m3) -> %s", what, moe_status_string(st))) return 0;
    } else {
        unsigned char *ev;
        if (!require(cols % 32 == 0, "build %s: mxfp4 with %d columns", what, cols)) return 0;
        vper = per / 2; sper = per / 32;
        vals = (unsigned char *)mal(m, vper * (size_t)n_mat);
        scl = mal(m, sper * (size_t)n_mat);
        ev = (unsigned char *)scl;
        for (i = 0; i < per * (size_t)n_mat / 32; i++) {
            const float *x = src + i * 32;
            double amax = 0.0, sv;
            int ex = 127, k;
            for (k = 0; k < 32; k++) if (fabs((double)x[k]) > amax) amax = fabs((double)x[k]);
            if (amax > 0) {   /* the smallest e with 6 * 2^(e-127) >= amax, then 0..3 larger */
                while (ex < 254 && 6.0 * e8m0_to_double((unsigned)ex) < amax) ex++;
                while (ex > 0 && 6.0 * e8m0_to_double((unsigned)ex - 1) >= amax) ex--;
            }
            ex += rng_int(&r, 4);
            if (ex > 254) ex = 254;
            ev[i] = (unsigned char)ex;
            sv = e8m0_to_double((unsigned)ex);
            for (k = 0; k < 32; k++) {   /* the nearest E2M1 code */
                unsigned c, best = 0;
                double bd = INFINITY;
                for (c = 0; c < 8; c++) { double dd = fabs(fabs((double)x[k]) - e2m1_to_double(c) * sv); if (dd < bd) { bd = dd; best = c; } }
                if (x[k] < 0 && best) best |= 8u;
                vals[i * 16 + (size_t)k / 2] = (unsigned char)(vals[i * 16 + (size_t)k / 2] | (best << (4 * (k % 2))));
            }
        }
        for (e = 0; e < n_mat; e++)
            for (rr = 0; rr < rows; rr++)
                ref_decode_split(vals + (size_t)e * vper + (size_t)rr * cols / 2, ev + (size_t)e * sper + (size_t)rr * cols / 32, (size_t)cols,
                                 ref + (size_t)e * per + (size_t)rr * cols);
    }
    t->type = type;
    t->scale_rows = m->s.xs_rows;
    t->scale_cols = m->s.xs_cols;
    if (per_expert) {
        const void **pv = (const void **)mal(m, (size_t)n_mat * sizeof(void *)), **ps = (const void **)mal(m, (size_t)n_mat * sizeof(void *));
        for (e = 0; e < n_mat; e++) {
            void *a = mal(m, vper), *b = mal(m, sper);
            memcpy(a, vals + (size_t)e * vper, vper);
            memcpy(b, (unsigned char *)scl + (size_t)e * sper, sper);
            pv[e] = a; ps[e] = b;
        }
        t->data = NULL; t->expert_data = pv;
        t->scale = NULL; t->expert_scale = ps;
    } else {
        t->data = vals; t->expert_data = NULL;
        t->scale = scl; t->expert_scale = NULL;
    }
    m->worst = class_worse(m->worst, type_class(type));
    return 1;
}

/* Quantise src [n_mat][rows][cols] into a tensor of `type` (stacked, or one pointer per
   matrix), and fill ref with the values moe_dequantize gives back. */
static int put_tensor(model *m, moe_tensor *t, moe_type type, const float *src, int n_mat, int rows,
                      int cols, int per_expert, double *ref, const char *what)
{
    size_t rs = moe_type_row_size(type, (size_t)cols), per, n = (size_t)n_mat * rows * cols, i, woff;
    unsigned char *buf;
    float *tmp;
    moe_status st;
    if (m->s.xscale && (type == MOE_TYPE_F8_E4M3 || type == MOE_TYPE_MXFP4))
        return put_scaled(m, t, type, src, n_mat, rows, cols, per_expert, ref, what);
    if (!require(rs > 0, "build %s: moe_type_row_size(%s, %d) = 0", what, moe_type_name(type), cols)) return 0;
    per = rs * (size_t)rows;
    /* w_offset misaligns the buffers; f32 data keeps the alignment of a float */
    woff = type == MOE_TYPE_F32 && m->s.w_offset ? 4u : (size_t)m->s.w_offset;
    buf = (unsigned char *)mal(m, per * n_mat + woff) + woff;
    st = moe_quantize(type, src, buf, (size_t)n_mat * rows, (size_t)cols);
    if (!require(st == MOE_OK, "build %s: moe_quantize(%s) -> %s", what, moe_type_name(type), moe_status_string(st))) return 0;
    tmp = (float *)xmalloc(n * sizeof(float));
    st = moe_dequantize(type, buf, tmp, (size_t)n_mat * rows, (size_t)cols);
    if (!require(st == MOE_OK, "build %s: moe_dequantize(%s) -> %s", what, moe_type_name(type), moe_status_string(st))) { free(tmp); return 0; }
    for (i = 0; i < n; i++) ref[i] = tmp[i];
    free(tmp);
    t->type = type;
    if (per_expert) {
        const void **pp = (const void **)mal(m, (size_t)n_mat * sizeof(void *));
        int e;
        for (e = 0; e < n_mat; e++) {
            unsigned char *c = (unsigned char *)mal(m, per + woff) + woff;
            memcpy(c, buf + (size_t)e * per, per);
            pp[e] = c;
        }
        t->expert_data = pp;
        t->data = NULL;
    } else {
        t->data = buf;
        t->expert_data = NULL;
    }
    m->worst = class_worse(m->worst, type_class(type));
    return 1;
}

static void model_build(model *m, const spec *sp)
{
    const spec *s;
    int E, dm, dff, ns, dffs, gated, ok = 1;
    size_t ne, nsh;
    rng_t r;
    float *router, *gate, *up, *down, *rb, *sb, *gb, *ub, *db, *sg, *su, *sd, *sgw;
    memset(m, 0, sizeof *m);
    m->s = *sp;
    s = &m->s;
    E = s->E; dm = s->dm; dff = s->dff; ns = s->n_shared; dffs = s->dff_sh;
    gated = is_gated(s->act);
    ne = (size_t)E * dff * dm;
    nsh = (size_t)(ns > 0 ? ns : 0) * (size_t)(dffs > 0 ? dffs : 0) * dm;
    r = rng_make(s->seed, 77, 0);
    m->worst = EC_F32;

    /* every master tensor is drawn, used or not, so specs that differ only in layout flags
       get the same numbers */
    router = gen(m, &r, (size_t)E * dm, s->router_gain / sqrt((double)dm), 0.0);
    if (s->zero_router) memset(router, 0, (size_t)E * dm * sizeof(float));
    gate = gen(m, &r, ne, 2.0 / sqrt((double)dm), 0.0);
    up = gen(m, &r, ne, 2.0 / sqrt((double)dm), 0.0);
    down = gen(m, &r, ne, 2.0 / sqrt((double)dff), 0.0);
    rb = gen(m, &r, (size_t)E, 0.5, s->rb_offset);
    sb = gen(m, &r, (size_t)E, s->sb_gain, 0.0);
    gb = gen(m, &r, (size_t)E * dff, 0.5, 0.0);
    ub = gen(m, &r, (size_t)E * dff, 0.5, 0.0);
    db = gen(m, &r, (size_t)E * dm, 0.2, 0.0);
    sg = gen(m, &r, nsh, 2.0 / sqrt((double)dm), 0.0);
    su = gen(m, &r, nsh, 2.0 / sqrt((double)dm), 0.0);
    sd = gen(m, &r, nsh, dffs > 0 ? 2.0 / sqrt((double)dffs) : 0.0, 0.0);
    sgw = gen(m, &r, (size_t)(ns > 0 ? ns : 0) * dm, 4.0 / sqrt((double)dm), 0.0);

    m->r_router = (double *)mal(m, (size_t)E * dm * sizeof(double));
    m->r_gate = (double *)mal(m, ne * sizeof(double));
    m->r_up = (double *)mal(m, ne * sizeof(double));
    m->r_down = (double *)mal(m, ne * sizeof(double));
    ok &= put_tensor(m, &m->w.router, s->t_router, router, 1, E, dm, 0, m->r_router, "router");
    if (s->fused) {
        float *fz = (float *)xmalloc(2 * ne * sizeof(float));
        double *rf = (double *)xmalloc(2 * ne * sizeof(double));
        int e, i;
        for (e = 0; e < E; e++)
            for (i = 0; i < dff; i++) {
                int rg = s->layout == MOE_GATE_UP_HALVES ? i : 2 * i;
                int ru = s->layout == MOE_GATE_UP_HALVES ? dff + i : 2 * i + 1;
                memcpy(fz + ((size_t)e * 2 * dff + rg) * dm, gate + ((size_t)e * dff + i) * dm, (size_t)dm * sizeof(float));
                memcpy(fz + ((size_t)e * 2 * dff + ru) * dm, up + ((size_t)e * dff + i) * dm, (size_t)dm * sizeof(float));
            }
        ok &= put_tensor(m, &m->w.gate_up, s->t_gate_up, fz, E, 2 * dff, dm, s->per_expert, rf, "gate_up");
        m->w.gate_up_layout = s->layout;
        for (e = 0; e < E; e++)
            for (i = 0; i < dff; i++) {
                int rg = s->layout == MOE_GATE_UP_HALVES ? i : 2 * i;
                int ru = s->layout == MOE_GATE_UP_HALVES ? dff + i : 2 * i + 1;
                memcpy(m->r_gate + ((size_t)e * dff + i) * dm, rf + ((size_t)e * 2 * dff + rg) * dm, (size_t)dm * sizeof(double));
                memcpy(m->r_up + ((size_t)e * dff + i) * dm, rf + ((size_t)e * 2 * dff + ru) * dm, (size_t)dm * sizeof(double));
            }
        free(fz);
        free(rf);
        if (s->has_gb) {
            float *gub = (float *)mal(m, (size_t)E * 2 * dff * sizeof(float));
            m->r_gb = (double *)mal(m, (size_t)E * dff * sizeof(double));
            m->r_ub = (double *)mal(m, (size_t)E * dff * sizeof(double));
            for (e = 0; e < E; e++)
                for (i = 0; i < dff; i++) {
                    int rg = s->layout == MOE_GATE_UP_HALVES ? i : 2 * i;
                    int ru = s->layout == MOE_GATE_UP_HALVES ? dff + i : 2 * i + 1;
                    gub[(size_t)e * 2 * dff + rg] = gb[(size_t)e * dff + i];
                    gub[(size_t)e * 2 * dff + ru] = ub[(size_t)e * dff + i];
                    m->r_gb[(size_t)e * dff + i] = gb[(size_t)e * dff + i];
                    m->r_ub[(size_t)e * dff + i] = ub[(size_t)e * dff + i];
                }
            le_f32(gub, (size_t)E * 2 * dff);
            m->gub = gub;
            m->w.gate_up_bias = gub;
        }
    } else {
        if (gated) ok &= put_tensor(m, &m->w.gate, s->t_gate, gate, E, dff, dm, s->per_expert, m->r_gate, "gate");
        ok &= put_tensor(m, &m->w.up, s->t_up, up, E, dff, dm, s->per_expert, m->r_up, "up");
        if (s->has_gb) { m->gb = gb; m->w.gate_bias = gb; m->r_gb = to_ref(m, gb, (size_t)E * dff); le_f32(gb, (size_t)E * dff); }
        if (s->has_ub) { m->ub = ub; m->w.up_bias = ub; m->r_ub = to_ref(m, ub, (size_t)E * dff); le_f32(ub, (size_t)E * dff); }
    }
    ok &= put_tensor(m, &m->w.down, s->t_down, down, E, dm, dff, s->per_expert, m->r_down, "down");
    if (s->has_db) { m->db = db; m->w.down_bias = db; m->r_db = to_ref(m, db, (size_t)E * dm); le_f32(db, (size_t)E * dm); }
    if (s->has_rb) { m->rb = rb; m->w.router_bias = rb; m->r_rb = to_ref(m, rb, (size_t)E); le_f32(rb, (size_t)E); }
    if (s->has_sb) { m->sb = sb; m->w.selection_bias = sb; m->r_sb = to_ref(m, sb, (size_t)E); le_f32(sb, (size_t)E); }
    if (ns > 0 && dffs > 0) {
        m->r_sgate = (double *)mal(m, nsh * sizeof(double));
        m->r_sup = (double *)mal(m, nsh * sizeof(double));
        m->r_sdown = (double *)mal(m, nsh * sizeof(double));
        if (gated) ok &= put_tensor(m, &m->w.shared_gate, s->t_sgate, sg, ns, dffs, dm, 0, m->r_sgate, "shared_gate");
        ok &= put_tensor(m, &m->w.shared_up, s->t_sup, su, ns, dffs, dm, 0, m->r_sup, "shared_up");
        ok &= put_tensor(m, &m->w.shared_down, s->t_sdown, sd, ns, dm, dffs, 0, m->r_sdown, "shared_down");
        if (s->has_sgw) { m->sgw = sgw; m->w.shared_gate_w = sgw; m->r_sgw = to_ref(m, sgw, (size_t)ns * dm); le_f32(sgw, (size_t)ns * dm); }
    }

    m->cfg = moe_config_default();
    m->cfg.d_model = dm; m->cfg.d_ff = dff; m->cfg.n_experts = E; m->cfg.top_k = s->k;
    m->cfg.act = s->act; m->cfg.score = s->score; m->cfg.norm_topk = s->norm;
    m->cfg.routed_scale = s->rscale;
    if (s->n_group > 0) { m->cfg.n_group = s->n_group; m->cfg.topk_group = s->topk_group; }
    m->cfg.group_score = s->gsc;
    m->cfg.weight_on_input = s->woi;
    m->cfg.gelu_tanh = s->gelu_tanh;
    m->cfg.oai_alpha = s->alpha; m->cfg.oai_limit = s->limit;
    m->cfg.n_shared = ns; m->cfg.d_ff_shared = dffs;
    m->cfg.n_threads = s->n_threads;
    m->cfg.batch_quant = s->bq;
    m->cfg.batch_bf16 = s->bb;
    m->cfg.batch_amx = s->amx;

    m->worst_int = m->worst_ib = -1;    /* the worst int class any expert of the layer may take */
    {
        moe_type q[6];
        int nq = 0, i;
        if (s->fused) q[nq++] = s->t_gate_up;
        else { if (gated) q[nq++] = s->t_gate; q[nq++] = s->t_up; }
        q[nq++] = s->t_down;
        if (ns > 0 && dffs > 0) { if (gated) q[nq++] = s->t_sgate; q[nq++] = s->t_sup; q[nq++] = s->t_sdown; }
        for (i = 0; i < nq; i++) {
            int c = q[i] == MOE_TYPE_Q4_0 ? EC_Q4_0_INT : q[i] == MOE_TYPE_Q8_0 ? EC_Q8_0_INT
                  : is_q8k_family(q[i]) ? EC_Q8K_INT : -1;
            if (c >= 0) m->worst_int = m->worst_int < 0 ? c : class_worse(m->worst_int, c);
            c = is_q8k_family(q[i]) ? EC_KB_INT : q[i] == MOE_TYPE_BF16 && s->bb == MOE_BF16_DOT ? EC_BF16_DOT
              : q[i] == MOE_TYPE_Q8_0 && s->bq == MOE_BATCH_INT8 ? EC_Q4_0_INT : c;   /* INT8: batches on q1 alone */
            if (c >= 0) m->worst_ib = m->worst_ib < 0 ? c : class_worse(m->worst_ib, c);
        }
    }
    m->bound = class_bound(m->worst_int >= 0 ? class_worse(m->worst, m->worst_int) : m->worst);
    m->tie_tol = type_tie(s->t_router);
    m->wtol = s->t_router == MOE_TYPE_F32 ? 1e-5 : type_tie(s->t_router);
    m->ok = ok;
}

/* ---- reference routing ------------------------------------------------------------------ */
static int near_tie(double a, double b, double tol, double floor_)
{
    double sc = fmax(fabs(a), fabs(b));
    if (sc < floor_) sc = floor_;
    return fabs(a - b) < tol * sc;
}

/* Route one token: ids[k] in slot order, w[k] final weights, keys[E] the selection keys.
   Returns 1 when the selection is within tie_tol of flipping (k-th vs (k+1)-th key, or the
   last kept group vs the next one). */
static int ref_route(const model *m, const float *x, int *ids, double *w, double *keys, double tie_tol)
{
    const spec *s = &m->s;
    int E = s->E, k = s->k, dm = s->dm, e, j, i, tie = 0;
    double logit[TMAXE], score[TMAXE], key[TMAXE];
    unsigned char elig[TMAXE], taken[TMAXE];
    double floor_ = s->score == MOE_SCORE_SOFTMAX_TOPK ? 1.0 : 1e-300;
    for (e = 0; e < E; e++) {
        double a = 0;
        for (i = 0; i < dm; i++) a += (double)x[i] * m->r_router[(size_t)e * dm + i];
        if (m->r_rb) a += m->r_rb[e];
        logit[e] = a;
    }
    if (s->score == MOE_SCORE_SOFTMAX) {
        double mx = logit[0], sum = 0;
        for (e = 1; e < E; e++) if (logit[e] > mx) mx = logit[e];
        for (e = 0; e < E; e++) { score[e] = exp(logit[e] - mx); sum += score[e]; }
        for (e = 0; e < E; e++) score[e] /= sum;
    } else if (s->score == MOE_SCORE_SIGMOID) {
        for (e = 0; e < E; e++) score[e] = 1.0 / (1.0 + exp(-logit[e]));
    } else {
        for (e = 0; e < E; e++) score[e] = logit[e];
    }
    for (e = 0; e < E; e++) {
        key[e] = score[e] + (m->r_sb ? m->r_sb[e] : 0.0);
        if (key[e] != key[e]) key[e] = -INFINITY;   /* NaN ranks lowest */
        elig[e] = 1;
        taken[e] = 0;
    }
    if (s->n_group > 1) {
        int ng = s->n_group, gs = E / ng, tg = s->topk_group, g, last = -1, next = -1;
        double gk[TMAXE];
        unsigned char gsel[TMAXE];
        for (g = 0; g < ng; g++) {
            double b1 = -INFINITY, b2 = -INFINITY;
            for (e = g * gs; e < (g + 1) * gs; e++) {
                if (key[e] > b1) { b2 = b1; b1 = key[e]; }
                else if (key[e] > b2) b2 = key[e];
            }
            gk[g] = s->gsc == MOE_GROUP_MAX ? b1 : b1 + b2;
            gsel[g] = 0;
        }
        for (j = 0; j < tg; j++) {
            int best = -1;
            for (g = 0; g < ng; g++) if (!gsel[g] && (best < 0 || gk[g] > gk[best])) best = g;
            if (best < 0) break;
            gsel[best] = 1;
            last = best;
        }
        for (g = 0; g < ng; g++) if (!gsel[g] && (next < 0 || gk[g] > gk[next])) next = g;
        if (next >= 0 && last >= 0 && near_tie(gk[last], gk[next], tie_tol, floor_)) tie = 1;
        for (e = 0; e < E; e++) elig[e] = gsel[e / gs];
    }
    for (j = 0; j < k; j++) {
        int best = -1;
        for (e = 0; e < E; e++) if (elig[e] && !taken[e] && (best < 0 || key[e] > key[best])) best = e;
        if (best < 0) best = 0; /* not reached: init refuses too few eligible experts */
        ids[j] = best;
        taken[best] = 1;
    }
    {
        int next = -1;
        for (e = 0; e < E; e++) if (elig[e] && !taken[e] && (next < 0 || key[e] > key[next])) next = e;
        if (next >= 0 && near_tie(key[ids[k - 1]], key[next], tie_tol, floor_)) tie = 1;
    }
    if (s->score == MOE_SCORE_SOFTMAX_TOPK) {
        double mx = logit[ids[0]], sum = 0;
        for (j = 1; j < k; j++) if (logit[ids[j]] > mx) mx = logit[ids[j]];
        for (j = 0; j < k; j++) { w[j] = exp(logit[ids[j]] - mx); sum += w[j]; }
        for (j = 0; j < k; j++) w[j] /= sum;
    } else {
        double sum = 0;
        for (j = 0; j < k; j++) { w[j] = score[ids[j]]; sum += w[j]; }
        if (s->norm && sum > 0)
            for (j = 0; j < k; j++) w[j] /= sum;
    }
    for (j = 0; j < k; j++) w[j] *= (double)s->rscale;
    if (keys) for (e = 0; e < E; e++) keys[e] = key[e];
    return tie;
}

/* ---- reference expert FFN ----------------------------------------------------------------- */
static double gelu_ref(const model *m, double x)
{
    if (m->s.gelu_tanh) {
        const double c = 0.79788456080286535588; /* sqrt(2/pi) */
        return 0.5 * x * (1.0 + tanh(c * (x + 0.044715 * x * x * x)));
    }
    return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
}
static double act_ref(const model *m, double g, double u)
{
    switch (m->s.act) {
    case MOE_ACT_SWIGLU: return g / (1.0 + exp(-g)) * u;
    case MOE_ACT_GEGLU: return gelu_ref(m, g) * u;
    case MOE_ACT_GELU: return gelu_ref(m, u);
    case MOE_ACT_RELU: return u > 0 ? u : 0.0;
    case MOE_ACT_SWIGLU_OAI: {
        double L = (double)m->s.limit, a = (double)m->s.alpha;
        if (g > L) g = L;
        if (u > L) u = L;
        if (u < -L) u = -L;
        return (u + 1.0) * g / (1.0 + exp(-a * g));
    }
    }
    return 0.0;
}
/* out[dm] = FFN_e(xin) for routed expert e (shared = 0, with biases) or shared expert e. */
static void ref_ffn(const model *m, int shared, int e, const double *xin, double *out)
{
    const spec *s = &m->s;
    int dm = s->dm, dff = shared ? s->dff_sh : s->dff, i, o, c;
    const double *G = (shared ? m->r_sgate : m->r_gate), *U = shared ? m->r_sup : m->r_up;
    const double *D = shared ? m->r_sdown : m->r_down;
    double *h = (double *)xmalloc((size_t)dff * sizeof(double));
    size_t base = (size_t)e * dff * dm;
    for (i = 0; i < dff; i++) {
        double g = 0, u = 0;
        if (is_gated(s->act)) for (c = 0; c < dm; c++) g += G[base + (size_t)i * dm + c] * xin[c];
        for (c = 0; c < dm; c++) u += U[base + (size_t)i * dm + c] * xin[c];
        if (!shared && m->r_gb) g += m->r_gb[(size_t)e * dff + i];
        if (!shared && m->r_ub) u += m->r_ub[(size_t)e * dff + i];
        h[i] = act_ref(m, g, u);
    }
    for (o = 0; o < dm; o++) {
        double a = 0;
        for (i = 0; i < dff; i++) a += D[base + (size_t)o * dff + i] * h[i];
        if (!shared && m->r_db) a += m->r_db[(size_t)e * dm + o];
        out[o] = a;
    }
    free(h);
}
/* y[T][dm] (double) from routing ids/w of all tokens; capacity > 0 drops slots in token order. */
static void ref_forward(const model *m, const float *x, int T, const int *ids, const double *w, int capacity, double *y)
{
    const spec *s = &m->s;
    int dm = s->dm, k = s->k, t, j, c, sh;
    int cnt[TMAXE];
    double *xd = (double *)xmalloc((size_t)dm * sizeof(double));
    double *xin = (double *)xmalloc((size_t)dm * sizeof(double));
    double *out = (double *)xmalloc((size_t)dm * sizeof(double));
    memset(cnt, 0, sizeof cnt);
    for (t = 0; t < T; t++) {
        double *yt = y + (size_t)t * dm;
        for (c = 0; c < dm; c++) { xd[c] = x[(size_t)t * dm + c]; yt[c] = 0; }
        for (j = 0; j < k; j++) {
            int e = ids[t * k + j];
            double wj = w[t * k + j];
            if (capacity > 0) {
                if (cnt[e] >= capacity) continue;
                cnt[e]++;
            }
            if (s->woi) {
                for (c = 0; c < dm; c++) xin[c] = wj * xd[c];
                ref_ffn(m, 0, e, xin, out);
                for (c = 0; c < dm; c++) yt[c] += out[c];
            } else {
                ref_ffn(m, 0, e, xd, out);
                for (c = 0; c < dm; c++) yt[c] += wj * out[c];
            }
        }
        if (m->r_sdown)
            for (sh = 0; sh < s->n_shared; sh++) {
                double sc = 1.0;
                ref_ffn(m, 1, sh, xd, out);
                if (m->r_sgw) {
                    double a = 0;
                    for (c = 0; c < dm; c++) a += m->r_sgw[(size_t)sh * dm + c] * xd[c];
                    sc = 1.0 / (1.0 + exp(-a));
                }
                for (c = 0; c < dm; c++) yt[c] += sc * out[c];
            }
    }
    free(xd); free(xin); free(out);
}

/* Draw x[T][dm] ~ U(-1,1); a token whose reference routing is within tie_tol of a tie is
   redrawn with the next seed (deterministic). rids/rw receive the reference routing. */
static int draw_x(model *m, float *x, int T, unsigned long long seed, double tie_tol, int *rids, double *rw, const char *label)
{
    int t, a, c, dm = m->s.dm, k = m->s.k;
    for (t = 0; t < T; t++) {
        for (a = 0;; a++) {
            rng_t r = rng_make(seed, (unsigned long long)t, (unsigned long long)a);
            for (c = 0; c < dm; c++) x[(size_t)t * dm + c] = rng_sym(&r);
            if (!ref_route(m, x + (size_t)t * dm, rids + (size_t)t * k, rw + (size_t)t * k, NULL, tie_tol)) break;
            if (a == 1000) {
                require(0, "%s: could not draw a token without a near-tie after 1000 tries", label);
                return 0;
            }
        }
    }
    return 1;
}

static double max_rel(const float *y, const double *ref, size_t n)
{
    double md = 0, mr = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)y[i] - ref[i]);
        if (!(d <= md)) md = d; /* NaN propagates */
        if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
    }
    return mr > 0 ? md / mr : md;
}
static void record_rel(int cls, double rel)
{
    if (!g_maxrel_seen[cls] || !(rel <= g_maxrel[cls])) g_maxrel[cls] = rel;
    g_maxrel_seen[cls] = 1;
}

/* The error class of one run: the highest tensor type, raised to an int class when some expert
   with quantised matrices gets 1..8 tokens (routed: by the reference routing rids, after
   capacity drops; shared: every token). */
/* the routed (sh 0) or shared experts of m run batches as integer GEMMs (moe.h's moe__ib_kind) */
static int is_ibq(moe_type t)
{
    return t == MOE_TYPE_Q8_0 || t == MOE_TYPE_Q4_0 || t == MOE_TYPE_Q4_K || t == MOE_TYPE_Q5_K || t == MOE_TYPE_Q6_K ||
           t == MOE_TYPE_Q3_K || t == MOE_TYPE_MXFP4 || t == MOE_TYPE_Q2_K;
}
/* this build's kernel path has the integer batch kernels: every path but a plain AVX-512 build
   without BW (every path of a MOE_DISPATCH build has them) */
static int path_has_ib(void)
{
#if !defined(MOE_TEST_EXTERN_IMPL) && !defined(MOE_DISPATCH) && !defined(MOE__IB)
    return 0;
#else
    return 1;
#endif
}
/* the AVX2 paths (avx2, avx2-vnni) leave Q6_K and Q3_K on EXACT (moe.h's MOE__IBQP) */
static int path_is_avx2(void)
{
    if (g_force_path >= 0) return g_force_path == MOE_PATH_AVX2 || g_force_path == MOE_PATH_AVX2_VNNI;
    return strcmp(moe_simd_name(), "avx2") == 0;
}
/* this build's kernel path runs BF16 batches on vdpbf16ps when asked (moe.h's MOE__BFDOT: static
   AVX-512 builds with AVX512-BF16; the white box only) */
#if defined(MOE_TEST_EXTERN_IMPL)
/* the implementation is another translation unit (its flags may enable AVX512-BF16): ask it by
   behaviour, once: a BF16 layer of 32 tokens on one expert, DOT against EXACT */
static int bfdot_probe(void)
{
    enum { PD = 64, PT = 32 };
    static int known = -1;
    float *w, *x, *y1, *y2, rz[PD];
    unsigned char *wb;
    moe_config c = moe_config_default();
    moe_weights mw = moe_weights_default();
    moe_layer L1, L2;
    rng_t r = {0xb0b0ull};
    size_t ws, i;
    void *work;
    if (known >= 0) return known;
    known = 0;
    w = (float *)xmalloc(sizeof(float) * PD * PD); x = (float *)xmalloc(sizeof(float) * PD * PT);
    y1 = (float *)xmalloc(sizeof(float) * PD * PT); y2 = (float *)xmalloc(sizeof(float) * PD * PT);
    wb = (unsigned char *)xmalloc(2 * PD * PD);
    for (i = 0; i < PD * PD; i++) w[i] = rng_sym(&r);
    for (i = 0; i < PD * PT; i++) x[i] = rng_sym(&r);
    memset(rz, 0, sizeof rz);
    c.d_model = PD; c.d_ff = PD; c.n_experts = 1; c.top_k = 1; c.n_threads = 1;
    mw.router.type = MOE_TYPE_F32; mw.router.data = rz;
    mw.gate.type = mw.up.type = mw.down.type = MOE_TYPE_BF16; mw.gate.data = mw.up.data = mw.down.data = wb;
    if (moe_quantize(MOE_TYPE_BF16, w, wb, PD, PD) == MOE_OK && moe_layer_init(&L2, &c, &mw) == MOE_OK) {
        c.batch_bf16 = MOE_BF16_DOT;
        if (moe_layer_init(&L1, &c, &mw) == MOE_OK) {
            ws = moe_workspace_size(&L1, PT) > moe_workspace_size(&L2, PT) ? moe_workspace_size(&L1, PT) : moe_workspace_size(&L2, PT);
            work = xmalloc(ws);
            if (moe_forward(&L1, x, PT, y1, work, ws) == MOE_OK && moe_forward(&L2, x, PT, y2, work, ws) == MOE_OK)
                known = memcmp(y1, y2, sizeof(float) * PD * PT) != 0;
            free(work);
        }
    }
    free(w); free(x); free(y1); free(y2); free(wb);
    return known;
}
#endif
static int path_has_bfdot(void)
{
#if defined(MOE_TEST_EXTERN_IMPL)
    return bfdot_probe();
#elif defined(MOE__BFDOT) && !defined(MOE_DISPATCH)
    return 1;
#else
    return 0;
#endif
}
/* the NEON paths (neon, neon-dotprod) run Q8_0, Q4_0, Q4_K, Q5_K, Q2_K and MXFP4 as integer batches,
   not Q6_K and Q3_K (MOE__IBQP) */
static int path_is_neon(void)
{
    if (g_force_path >= 0) return g_force_path == MOE_PATH_NEON || g_force_path == MOE_PATH_NEON_DOTPROD;
    return strcmp(moe_simd_name(), "neon") == 0;
}
/* on a path with the kernels: all = 1 every integer-batch type (the scalar path, AVX-512),
   0 those of this path */
static int ib_kind_of(const model *m, int sh, int all)
{
    const spec *s = &m->s;
    int g = is_gated(s->act), i;
    moe_type ts[3];
    ts[0] = sh ? s->t_sgate : s->fused ? s->t_gate_up : s->t_gate;
    ts[1] = sh ? s->t_sup : s->fused ? s->t_gate_up : s->t_up;
    ts[2] = sh ? s->t_sdown : s->t_down;
    if (sh && !(s->n_shared > 0 && s->dff_sh > 0)) return 0;
    for (i = g ? 0 : 1; i < 3; i++) {
        int K = i < 2 ? s->dm : sh ? s->dff_sh : s->dff;
        if (ts[i] == MOE_TYPE_BF16 && !all && s->bb == MOE_BF16_DOT && path_has_bfdot() && K % 32 == 0) continue;
        if ((s->bq != MOE_BATCH_INT && s->bq != MOE_BATCH_INT8) || !is_ibq(ts[i]) ||
            (!all && (path_is_avx2() || path_is_neon()) && (ts[i] == MOE_TYPE_Q6_K || ts[i] == MOE_TYPE_Q3_K))) return 0;
    }
    return 1;
}
static int ib_kind(const model *m, int sh) { return path_has_ib() && ib_kind_of(m, sh, 0); }
/* MOE_BATCH_INT8's Q8_0 kernel (moe.h's MOE__IBQ8B): the VNNI paths; 1 yes, 0 no, -1 unknown
   (the implementation in another translation unit) */
static int path_has_q8b(void)
{
    if (g_force_path >= 0) return g_force_path == MOE_PATH_AVX512_VNNI || g_force_path == MOE_PATH_AVX2_VNNI;
#if defined(MOE_TEST_EXTERN_IMPL) || defined(MOE_DISPATCH)
    return -1;
#else
    return MOE__IBQ8B;
#endif
}
#ifdef MOE_TEST_VS_SCALAR
/* a layer whose Q8_0 batches run on q1 alone (MOE_BATCH_INT8 on a path with the kernel, or maybe) */
static int q8b_active(const model *m)
{
    const spec *s = &m->s;
    int q8 = s->t_gate == MOE_TYPE_Q8_0 || s->t_up == MOE_TYPE_Q8_0 || s->t_down == MOE_TYPE_Q8_0 || (s->fused && s->t_gate_up == MOE_TYPE_Q8_0) ||
             (s->n_shared > 0 && (s->t_sgate == MOE_TYPE_Q8_0 || s->t_sup == MOE_TYPE_Q8_0 || s->t_sdown == MOE_TYPE_Q8_0));
    return s->bq == MOE_BATCH_INT8 && q8 && path_has_q8b() != 0;
}
#endif
/* MOE_BF16_DOT on a path with vdpbf16ps: every expert with a BF16 matrix and 2 tokens or more
   rounds its activations to bf16 (2..16 tokens by rows, more by the batched tiles; one token
   stays exact, which the bound covers too) */
static int bf16_dot_active(const model *m)
{
    const spec *s = &m->s;
    return s->bb == MOE_BF16_DOT && path_has_bfdot() &&
           (s->t_gate == MOE_TYPE_BF16 || s->t_up == MOE_TYPE_BF16 || s->t_down == MOE_TYPE_BF16 || s->t_gate_up == MOE_TYPE_BF16 ||
            (s->n_shared > 0 && s->dff_sh > 0 && (s->t_sgate == MOE_TYPE_BF16 || s->t_sup == MOE_TYPE_BF16 || s->t_sdown == MOE_TYPE_BF16)));
}
static int run_class(const model *m, const int *rids, int T, int capacity)
{
    const spec *s = &m->s;
    int cnt[TMAXE], t, j, e, cls = m->worst, few = 0, ibb = 0;
    if (m->worst_int < 0 && m->worst_ib < 0) return cls;
    memset(cnt, 0, sizeof cnt);
    for (t = 0; t < T; t++)
        for (j = 0; j < s->k; j++) {
            e = rids[(size_t)t * s->k + j];
            if (capacity > 0 && cnt[e] >= capacity) continue;
            cnt[e]++;
        }
    for (e = 0; e < s->E; e++) if (cnt[e] >= 1 && cnt[e] <= 8) few = 1;
    if (s->n_shared > 0 && s->dff_sh > 0 && T <= 8) few = 1;
    /* MOE_BATCH_INT: experts whose matrices are all integer-batch types run batches on quantised
       activations too (K-quants/MXFP4 on blocks of 32: EC_KB_INT, not Q8_K's blocks of 256) */
    if (ib_kind(m, 0)) for (e = 0; e < s->E; e++) if (cnt[e] > 8) ibb = 1;
    if (ib_kind(m, 1) && T > 8) ibb = 1;
    if (bf16_dot_active(m)) cls = class_worse(cls, EC_BF16_DOT);
    /* a mixed layer takes the worst int class of any of its quantised expert matrices */
    if (few) cls = class_worse(cls, m->worst_int);
    if (ibb) cls = class_worse(cls, m->worst_ib);
    return cls;
}

/* One check of a layer's output against the float64 reference, within its class's bound. */
static int check_ref(const model *m, const float *y, const double *yr, size_t n, int cls, const char *label)
{
    double rel = max_rel(y, yr, n), b = class_bound(cls);
    (void)m;
    record_rel(cls, rel);
    g_refcmp++;
    return check(rel <= b, "%s: max|y-ref|/max|ref| = %.3g > %.3g (error class %s)", label, rel, b, ec_name[cls]);
}

#ifdef MOE_TEST_VS_SCALAR
/* tests/scalar_tu.c: the scalar kernel path in the same program. Both paths are compiled from
   the same moe.h: routing, dispatch, workspace layout, the activation quantiser and everything
   else outside the kernels is the same code twice, so this comparison tests the SIMD kernels
   only. The float64 reference stays the oracle for the shared code. */
const char *moe_test_scalar_simd_name(void);
moe_status moe_test_scalar_forward(const moe_config *cfg, const moe_weights *w, const float *x, int T, float *y,
                                   int capacity);
static double g_vs_scalar = 0.0;
static long g_vs_scalar_n = 0;
/* Every layer run is also run on the scalar path: the two must agree within f32 rounding. */
static void check_vs_scalar(const model *m, const float *x, int T, int capacity, const float *y, const char *label)
{
    size_t n = (size_t)T * (size_t)m->s.dm, i;
    float *ys = (float *)xmalloc(n * sizeof(float));
    double mx = 0.0, d = 0.0, rel;
    moe_config cs = m->cfg;
    moe_status st;
    cs.batch_amx = 0;                   /* the scalar path has no tiles (AMX gives the same bits) */
    /* Integer batches quantise the hidden rows too: a hidden value that the two paths compute a few
       ulp apart (vector activation functions, FMA) rounds to neighbouring 8-bit codes when it lies
       at a rounding boundary, and moves y by one code step of that block. With Q8_0/Q4_0 layers
       this is rare enough; K-quant/MXFP4 layers (wider d_ff, an offset term per block) meet it
       in about one layer in ten, by up to 3.1e-4: such layers are held to 3e-3 */
    double tol = m->worst_ib == EC_KB_INT && (ib_kind(m, 0) || ib_kind(m, 1)) ? 3e-3 : 1e-5;
    /* a path without integer batches for these types (AVX2: Q6_K, Q3_K; NEON: all but Q8_0, Q4_0)
       runs them exact: the scalar path is asked to, too. A layer whose routed experts run integer
       batches here and whose shared ones do not (or the other way), while the scalar path runs
       both as integers, cannot be matched: it is left to the float64 reference check. */
    if (bf16_dot_active(m)) { free(ys); return; }     /* the scalar path has no vdpbf16ps: float64 only */
    if (q8b_active(m)) { free(ys); return; }          /* nor MOE_BATCH_INT8's Q8_0 kernel */
    if (ib_kind(m, 0) != ib_kind_of(m, 0, 1) || ib_kind(m, 1) != ib_kind_of(m, 1, 1)) {
        if (ib_kind(m, 0) || ib_kind(m, 1)) { free(ys); return; }
        cs.batch_quant = MOE_BATCH_EXACT;
    }
    st = moe_test_scalar_forward(&cs, &m->w, x, T, ys, capacity);
    if (check(st == MOE_OK, "%s: scalar path forward -> %s", label, moe_status_string(st))) {
        for (i = 0; i < n; i++) {
            double e = fabs((double)y[i] - (double)ys[i]);
            if (!(e <= d)) d = e;
            if (fabs((double)ys[i]) > mx) mx = fabs((double)ys[i]);
        }
        rel = mx > 0.0 ? d / mx : d;
        if (!(rel <= g_vs_scalar)) g_vs_scalar = rel;
        g_vs_scalar_n++;
        check(rel <= tol, "%s: %s path vs scalar path: max|y-y_scalar|/max|y_scalar| = %.3g > %.3g", label, moe_simd_name(), rel, tol);
    }
    free(ys);
}
#endif

/* Checks ids/weights from the library against the reference for every token. */
static void check_routing(const model *m, const float *x, int T, const int *ids, const float *w,
                          const int *rids, const double *rw, double tol_order, const char *label)
{
    const spec *s = &m->s;
    int E = s->E, k = s->k, t, j, i;
    int bad_range = -1, bad_set = -1, bad_order = -1, bad_w = -1, bad_sum = -1;
    double keys[TMAXE], worst_w = 0, worst_sum = 0;
    int tid[TMAXE];
    double tw[TMAXE];
    for (t = 0; t < T; t++) {
        const int *it = ids + (size_t)t * k;
        const int *rt = rids + (size_t)t * k;
        double mw = 0, sum = 0;
        ref_route(m, x + (size_t)t * s->dm, tid, tw, keys, 0.0);
        for (j = 0; j < k; j++) {
            if (it[j] < 0 || it[j] >= E) { if (bad_range < 0) bad_range = t; continue; }
            for (i = 0; i < j; i++) if (it[i] == it[j] && bad_range < 0) bad_range = t;
        }
        if (bad_range == t) continue;
        for (j = 0; j < k; j++) {
            int found = 0;
            for (i = 0; i < k; i++) if (rt[i] == it[j]) found = 1;
            if (!found && bad_set < 0) bad_set = t;
        }
        for (j = 0; j + 1 < k; j++) {
            double a = keys[it[j]], b = keys[it[j + 1]];
            if (a == b) { if (it[j] > it[j + 1] && bad_order < 0) bad_order = t; }
            else if (a < b && !near_tie(a, b, tol_order, s->score == MOE_SCORE_SOFTMAX_TOPK ? 1.0 : 1e-300) && bad_order < 0) bad_order = t;
        }
        if (!w || bad_set == t) continue;
        for (j = 0; j < k; j++) if (fabs(rw[(size_t)t * k + j]) > mw) mw = fabs(rw[(size_t)t * k + j]);
        for (j = 0; j < k; j++) {
            double ref = 0, d;
            for (i = 0; i < k; i++) if (rt[i] == it[j]) ref = rw[(size_t)t * k + i];
            d = fabs((double)w[(size_t)t * k + j] - ref) / (mw > 0 ? mw : 1.0);
            if (!(d <= m->wtol)) { if (bad_w < 0 || d > worst_w) { worst_w = d; bad_w = t; } }
            sum += w[(size_t)t * k + j];
        }
        if (s->norm || s->score == MOE_SCORE_SOFTMAX_TOPK) {
            double d = fabs(sum - (double)s->rscale) / (double)s->rscale;
            if (!(d <= 1e-5 + m->wtol)) { if (bad_sum < 0) { bad_sum = t; worst_sum = sum; } }
        }
    }
    check(bad_range < 0, "%s: token %d: ids out of range or repeated", label, bad_range);
    {
        int bt = bad_set < 0 ? 0 : bad_set;
        const int *it = ids + (size_t)bt * k, *rt = rids + (size_t)bt * k;
        check(bad_set < 0, "%s: token %d: selected experts differ from the reference: got {%d,%d,..} want {%d,%d,..}", label,
              bad_set, it[0], k > 1 ? it[1] : -1, rt[0], k > 1 ? rt[1] : -1);
    }
    check(bad_order < 0, "%s: token %d: ids not in descending score order (ties -> lower index)", label, bad_order);
    if (w) {
        check(bad_w < 0, "%s: token %d: routing weight off by %.3g (relative to the token's largest; tol %.3g)", label, bad_w, worst_w, m->wtol);
        if (s->norm || s->score == MOE_SCORE_SOFTMAX_TOPK)
            check(bad_sum < 0, "%s: token %d: weights sum to %.9g, expected routed_scale %.9g", label, bad_sum, worst_sum, (double)s->rscale);
    }
}

typedef struct rc_out { float *x, *y; int *ids; float *w; } rc_out;

/* Init a layer, draw x, run moe_forward_ex (+ moe_forward, moe_route), compare with the
   reference. Returns the max relative error (or -1 when the run failed). */
static double run_case(model *m, int T, int capacity, unsigned long long xseed, const char *label, rc_out *keep)
{
    const spec *s = &m->s;
    int dm = s->dm, k = s->k, i;
    size_t n = (size_t)T * dm, ws;
    moe_layer L;
    moe_status st;
    moe_run_opts opts;
    float *x, *y, *y2, *w, *w2;
    int *ids, *ids2, *rids;
    double *rw, *yr, rel = -1;
    void *work;
    unsigned char *pk = NULL;
    if (!require(m->ok, "%s: model could not be built", label)) return -1;
    st = moe_layer_init(&L, &m->cfg, &m->w);
    if (!require(st == MOE_OK, "%s: moe_layer_init -> %s", label, moe_status_string(st))) return -1;
    ws = moe_workspace_size(&L, T);
    if (!require(ws > 0, "%s: moe_workspace_size(T=%d) = 0", label, T)) return -1;
    if (s->prepack) {                 /* the tiles at an odd address: moe_prepack aligns them */
        size_t ps = moe_prepack_size(&L);
        int want = ib_kind(m, 0) || ib_kind(m, 1);   /* (no BF16 matrix in these specs) */
        if (!check(want == (ps > 0), "%s: moe_prepack_size %lu on a layer %s integer batches on this path", label, (unsigned long)ps, want ? "with" : "without"))
            return -1;
        if (ps > 0) {
            pk = (unsigned char *)xmalloc(ps + 3);
            st = moe_prepack(&L, pk + 3, ps);
            if (!require(st == MOE_OK, "%s: moe_prepack -> %s (%s)", label, moe_status_string(st), moe_layer_error(&L))) { free(pk); return -1; }
        }
    }
    x = (float *)xmalloc(n * sizeof(float));
    y = (float *)xmalloc(n * sizeof(float));
    y2 = (float *)xmalloc(n * sizeof(float));
    ids = (int *)xmalloc((size_t)T * k * sizeof(int));
    ids2 = (int *)xmalloc((size_t)T * k * sizeof(int));
    rids = (int *)xmalloc((size_t)T * k * sizeof(int));
    w = (float *)xmalloc((size_t)T * k * sizeof(float));
    w2 = (float *)xmalloc((size_t)T * k * sizeof(float));
    rw = (double *)xmalloc((size_t)T * k * sizeof(double));
    yr = (double *)xmalloc(n * sizeof(double));
    work = xmalloc(ws);
    if (!draw_x(m, x, T, xseed, m->tie_tol, rids, rw, label)) goto done;
    for (i = 0; i < (int)n; i++) y[i] = 12345.0f;
    memset(&opts, 0, sizeof opts);
    opts.capacity = capacity;
    opts.ids_out = ids;
    opts.weights_out = w;
    st = moe_forward_ex(&L, x, T, y, work, ws, &opts);
    if (!check(st == MOE_OK, "%s: moe_forward_ex -> %s", label, moe_status_string(st))) goto done;
    if (capacity == 0) {
        st = moe_forward(&L, x, T, y2, work, ws);
        check(st == MOE_OK && memcmp(y, y2, n * sizeof(float)) == 0, "%s: moe_forward (%s) differs from moe_forward_ex with ids_out", label, moe_status_string(st));
    }
    if (pk) {                         /* detached: the repacking layer's output, bit for bit */
        st = moe_prepack(&L, NULL, 0);
        if (check(st == MOE_OK, "%s: moe_prepack(NULL, 0) -> %s", label, moe_status_string(st))) {
            st = moe_forward_ex(&L, x, T, y2, work, ws, &opts);
            check(st == MOE_OK && memcmp(y, y2, n * sizeof(float)) == 0, "%s: pre-packed tiles give another output than repacking (%s)",
                  label, moe_status_string(st));
        }
    }
    st = moe_route(&L, x, T, ids2, w2, work, ws);
    check(st == MOE_OK && memcmp(ids, ids2, (size_t)T * k * sizeof(int)) == 0 && memcmp(w, w2, (size_t)T * k * sizeof(float)) == 0,
          "%s: moe_route (%s) differs from moe_forward_ex's ids_out/weights_out", label, moe_status_string(st));
    check_routing(m, x, T, ids, w, rids, rw, m->tie_tol, label);
    ref_forward(m, x, T, rids, rw, capacity, yr);
    rel = max_rel(y, yr, n);
#ifdef MOE_TEST_VS_SCALAR
    check_vs_scalar(m, x, T, capacity, y, label);
#endif
    check_ref(m, y, yr, n, run_class(m, rids, T, capacity), label);
    note("%s: rel %.3g", label, rel);
    if (keep) {
        if (keep->x) memcpy(keep->x, x, n * sizeof(float));
        if (keep->y) memcpy(keep->y, y, n * sizeof(float));
        if (keep->ids) memcpy(keep->ids, ids, (size_t)T * k * sizeof(int));
        if (keep->w) memcpy(keep->w, w, (size_t)T * k * sizeof(float));
    }
done:
    free(x); free(y); free(y2); free(ids); free(ids2); free(rids); free(w); free(w2); free(rw); free(yr); free(work); free(pk);
    return rel;
}

/* Build a spec, run it at T, free it. */
static double run_spec(const spec *s, int T, int capacity, const char *label)
{
    model *m = (model *)xmalloc(sizeof(model));
    double rel;
    model_build(m, s);
    rel = run_case(m, T, capacity, s->seed * 31u + (unsigned long long)T, label, NULL);
    model_free(m);
    free(m);
    return rel;
}

static const char *score_name(moe_score s)
{
    return s == MOE_SCORE_SOFTMAX ? "softmax" : s == MOE_SCORE_SIGMOID ? "sigmoid" : "softmax_topk";
}
static const char *act_name(const spec *s)
{
    switch (s->act) {
    case MOE_ACT_SWIGLU: return "swiglu";
    case MOE_ACT_GEGLU: return s->gelu_tanh ? "geglu-tanh" : "geglu";
    case MOE_ACT_GELU: return s->gelu_tanh ? "gelu-tanh" : "gelu";
    case MOE_ACT_RELU: return "relu";
    case MOE_ACT_SWIGLU_OAI: return "swiglu_oai";
    }
    return "?";
}

/* ---- formats of 0.2.0: K-quants, MXFP4, FP8 E4M3 ------------------------------------------ */
static void wr16le(unsigned char *p, unsigned v) { p[0] = (unsigned char)(v & 0xffu); p[1] = (unsigned char)(v >> 8); }
static int kq_nsub(moe_type t) { return t == MOE_TYPE_Q4_K || t == MOE_TYPE_Q5_K ? 8 : 16; }
/* One K-quant block, byte by byte, from its parts: f16 d and dmin, the per-sub-block scale and
   min codes (Q3_K: stored 0..63, meaning sc-32; Q6_K: int8), and the 256 codes q (Q3_K 0..7
   meaning q-4, Q6_K 0..63 meaning q-32). The places are ggml's (see kq_elem). */
static void kq_pack(moe_type t, unsigned d16, unsigned dmin16, const int *sc, const int *mn, const int *q, unsigned char *b)
{
    int i, j;
    memset(b, 0, kq_bytes(t));
    switch (t) {
    case MOE_TYPE_Q2_K:
        for (j = 0; j < 16; j++) b[j] = (unsigned char)(sc[j] | (mn[j] << 4));
        for (i = 0; i < 256; i++) b[16 + 32 * (i / 128) + i % 32] |= (unsigned char)(q[i] << (2 * ((i % 128) / 32)));
        wr16le(b + 80, d16); wr16le(b + 82, dmin16);
        break;
    case MOE_TYPE_Q3_K:
        for (i = 0; i < 256; i++) {
            b[32 + 32 * (i / 128) + i % 32] |= (unsigned char)((q[i] & 3) << (2 * ((i % 128) / 32)));
            if (q[i] & 4) b[i % 32] |= (unsigned char)(1 << (i / 32));
        }
        for (j = 0; j < 16; j++) {
            b[96 + j % 8] |= (unsigned char)((sc[j] & 15) << (4 * (j / 8)));
            b[96 + 8 + j % 4] |= (unsigned char)((sc[j] >> 4) << (2 * (j / 4)));
        }
        wr16le(b + 108, d16);
        break;
    case MOE_TYPE_Q4_K:
    case MOE_TYPE_Q5_K:
        wr16le(b, d16); wr16le(b + 2, dmin16);
        for (j = 0; j < 8; j++) {
            if (j < 4) { b[4 + j] |= (unsigned char)sc[j]; b[8 + j] |= (unsigned char)mn[j]; continue; }
            b[4 + 8 + (j - 4)] = (unsigned char)((sc[j] & 15) | ((mn[j] & 15) << 4));
            b[4 + (j - 4)] |= (unsigned char)((sc[j] >> 4) << 6);
            b[4 + j] |= (unsigned char)((mn[j] >> 4) << 6);
        }
        for (i = 0; i < 256; i++) {
            int o = t == MOE_TYPE_Q4_K ? 16 : 48;
            b[o + 32 * (i / 64) + i % 32] |= (unsigned char)((q[i] & 15) << (4 * ((i / 32) % 2)));
            if (t == MOE_TYPE_Q5_K) b[16 + i % 32] |= (unsigned char)((q[i] >> 4) << (i / 32));
        }
        break;
    default:   /* Q6_K */
        for (i = 0; i < 256; i++) {
            int h = i / 128, k = (i % 128) / 32, l = i % 32;
            b[64 * h + 32 * (k % 2) + l] |= (unsigned char)((q[i] & 15) << (4 * (k / 2)));
            b[128 + 32 * h + l] |= (unsigned char)((q[i] >> 4) << (2 * k));
        }
        for (j = 0; j < 16; j++) b[192 + j] = (unsigned char)(signed char)sc[j];
        wr16le(b + 208, d16);
        break;
    }
}
/* element i of that block by the documented formula, from the parts (not the bytes), in ggml's
   order: (d * scale) * code - dmin * min */
static double kq_formula(moe_type t, double d, double dmin, const int *sc, const int *mn, const int *q, int i)
{
    int j = i / (256 / kq_nsub(t));
    switch (t) {
    case MOE_TYPE_Q3_K: return d * (double)(sc[j] - 32) * (double)(q[i] - 4);
    case MOE_TYPE_Q6_K: return d * (double)sc[j] * (double)(q[i] - 32);
    default: return d * (double)sc[j] * (double)q[i] - dmin * (double)mn[j];
    }
}
/* the hand-worked parts of one block per K type (see the spot values in formats_new_types) */
static void kq_hand_parts(moe_type t, unsigned *d16, unsigned *dmin16, int *sc, int *mn, int *q)
{
    static const int q4sc[8] = {1, 63, 17, 40, 33, 58, 7, 49}, q4mn[8] = {0, 5, 62, 21, 48, 13, 36, 63};
    static const int q5sc[8] = {63, 2, 45, 16, 31, 50, 9, 27}, q5mn[8] = {12, 0, 33, 63, 17, 44, 6, 58};
    static const int q6sc[16] = {-128, 127, -1, 1, 64, -64, 5, -77, 100, -3, 33, -50, 17, 0, -9, 120};
    int i, j;
    for (j = 0; j < 16; j++) { sc[j] = 0; mn[j] = 0; }
    switch (t) {
    case MOE_TYPE_Q2_K:   /* d 0.5, dmin 0.25; scale (5j+3)%16, min (7j+1)%16; q (i + i/16)%4 */
        *d16 = 0x3800; *dmin16 = 0x3400;
        for (j = 0; j < 16; j++) { sc[j] = (j * 5 + 3) % 16; mn[j] = (j * 7 + 1) % 16; }
        for (i = 0; i < 256; i++) q[i] = (i + i / 16) % 4;
        break;
    case MOE_TYPE_Q3_K:   /* d 0.25; scale stored (13j+5)%64 (means -32), q (3i + i/32)%8 (means -4) */
        *d16 = 0x3400; *dmin16 = 0;
        for (j = 0; j < 16; j++) sc[j] = (j * 13 + 5) % 64;
        for (i = 0; i < 256; i++) q[i] = (i * 3 + i / 32) % 8;
        break;
    case MOE_TYPE_Q4_K:   /* d 0.5, dmin 0.25; q (7i + i/32)%16 */
        *d16 = 0x3800; *dmin16 = 0x3400;
        for (j = 0; j < 8; j++) { sc[j] = q4sc[j]; mn[j] = q4mn[j]; }
        for (i = 0; i < 256; i++) q[i] = (i * 7 + i / 32) % 16;
        break;
    case MOE_TYPE_Q5_K:   /* d 0.125, dmin 1; q (11i + 7(i/32))%32 (sub-blocks sharing qh bytes differ) */
        *d16 = 0x3000; *dmin16 = 0x3c00;
        for (j = 0; j < 8; j++) { sc[j] = q5sc[j]; mn[j] = q5mn[j]; }
        for (i = 0; i < 256; i++) q[i] = (i * 11 + 7 * (i / 32)) % 32;
        break;
    default:              /* Q6_K: d 0.0625; q (5i + i/16)%64 (means -32) */
        *d16 = 0x2c00; *dmin16 = 0;
        for (j = 0; j < 16; j++) sc[j] = q6sc[j];
        for (i = 0; i < 256; i++) q[i] = (i * 5 + i / 16) % 64;
        break;
    }
}

static const moe_type g_new_types[7] = {MOE_TYPE_Q4_K, MOE_TYPE_Q5_K, MOE_TYPE_Q6_K, MOE_TYPE_Q2_K, MOE_TYPE_Q3_K,
                                        MOE_TYPE_MXFP4, MOE_TYPE_F8_E4M3};

/* moe_quantize's largest magnitude per type (the traits' max_abs, as documented in moe.h) */
static float new_type_max_abs(moe_type t)
{
    switch (t) {
    case MOE_TYPE_Q4_K: case MOE_TYPE_Q5_K: return 65504.0f * 63.0f;
    case MOE_TYPE_Q6_K: return 65504.0f * 2560.0f;
    case MOE_TYPE_Q2_K: return 65504.0f * 15.0f;
    case MOE_TYPE_Q3_K: return 65504.0f * 128.0f;
    case MOE_TYPE_MXFP4: return FLT_MAX;
    default: return 464.0f;
    }
}

/* The finite e4m3 value nearest x, ties to the even code, |x| in (448, 464] to 448. */
static unsigned e4m3_nearest(double x)
{
    unsigned c, best = 0;
    double bd = INFINITY;
    for (c = 0; c < 0x7f; c++) {
        double v = e4m3_to_double(c), dd = fabs(fabs(x) - v);
        if (dd < bd || (dd == bd && (c & 1u) == 0)) { bd = dd; best = c; }
    }
    return best | (x < 0 || (x == 0 && signbit(x)) ? 0x80u : 0u);
}

/* Round-trip error: max |dequantize(quantize(x)) - x| / (its block's max |x|) over the blocks
   (K: 256 values with max >= 0.01, MXFP4: 32, F8: one value, relative to max(|x|, 2^-6)) of
   roundtrip_new's data. Measured (every build): q4_K 0.0664, q5_K 0.0302, q6_K 0.0157, q2_K 0.267,
   q3_K 0.224 (half a level step of the largest sub-block, 1/15, 1/31, 1/64 of the range for the
   4/5/6-bit types), mxfp4 0.248, f8_e4m3 0.0623. Bounds: about 10x the maximum for q6_K and q5_K,
   5x for q4_K, 2x for q2_K and q3_K (10x would pass a block decoded to zeros, whose error is 1);
   MXFP4 and FP8 at their format's exact worst case: 1/4 (the step from 4 to 6 times the block
   scale, against a block max of at least 4 times it; and the clip of (1.5, 2) * 2^k to 1.5 * 2^k),
   1/16 (half a step of the 3-bit mantissa). Every value is also checked to land on the nearest
   level of its block, which no bound on the error can replace. */
static double g_rt_max[7];   /* per g_new_types entry */
static int g_rt_seen = 0;
static double rt_bound(moe_type t)
{
    switch (t) {
    case MOE_TYPE_Q4_K: return 0.35;
    case MOE_TYPE_Q5_K: return 0.3;
    case MOE_TYPE_Q6_K: return 0.15;
    case MOE_TYPE_Q2_K: return 0.5;
    case MOE_TYPE_Q3_K: return 0.45;
    case MOE_TYPE_MXFP4: return 0.2501;
    default: return 0.0626;
    }
}

/* dequantize(quantize(x)) for type t on R x C values with hard blocks: every element decodes as
   the bytes say (the decoder here), every value lands on the nearest level of its block's
   grid, and the error relative to the block's max stays within rt_bound */
static void roundtrip_new(int ti)
{
    const moe_type t = g_new_types[ti];
    enum { R = 4, C = 512 };
    float *src = (float *)xmalloc(R * C * sizeof(float)), *dq = (float *)xmalloc(R * C * sizeof(float));
    size_t rs = moe_type_row_size(t, C);
    unsigned char *q = (unsigned char *)xmalloc(rs * R + 1);
    double *ref = (double *)xmalloc(R * C * sizeof(double));
    rng_t r = rng_make(77, (unsigned long long)t, 7);
    int i, b, bad_dec = -1, bad_near = -1, nan_seen = 0, blk = t == MOE_TYPE_F8_E4M3 ? 1 : t == MOE_TYPE_MXFP4 ? 32 : 256;
    double worst = 0.0, near_err = 0.0, near_best = 0.0;
    moe_status s1, s2;
    const char *tn = moe_type_name(t);
    /* 32-value chunks of U(-1,1) times 10^U(-1.5,1.5), then special 256-value stretches */
    for (b = 0; b < R * C / 32; b++) {
        double sc = pow(10.0, -1.5 + 3.0 * rng_unif(&r));
        if (t == MOE_TYPE_F8_E4M3) sc *= 8.0;
        for (i = 0; i < 32; i++) src[b * 32 + i] = (float)(rng_sym(&r) * sc);
    }
    for (i = 0; i < 256; i++) {
        src[i] = 0.0f;                                                          /* zeros */
        src[256 + i] = (float)(0.5 + 0.5 * rng_unif(&r));                       /* all positive */
        src[512 + i] = (float)(-2.0 - 3.0 * rng_unif(&r));                      /* all negative */
        src[768 + i] = i == 77 ? -9.5f : (float)(rng_sym(&r) * 0.01);          /* one spike */
        src[1024 + i] = (float)(rng_sym(&r) * 1e-6);                            /* tiny: f16 subnormal scales */
        src[1280 + i] = 0.75f;                                                  /* constant */
        src[1536 + i] = (float)((rng_sym(&r) + rng_sym(&r) + rng_sym(&r)) * (i < 128 ? 1.0 : 100.0)); /* two magnitudes */
    }
    s1 = moe_quantize(t, src, q, R, C);
    s2 = moe_dequantize(t, q, dq, R, C);
    check(s1 == MOE_OK && s2 == MOE_OK, "%s round trip: quantize %s dequantize %s", tn, moe_status_string(s1), moe_status_string(s2));
    if (s1 != MOE_OK || s2 != MOE_OK) goto done;
    for (i = 0; i < R; i++) ref_decode_row(t, q + (size_t)i * rs, C, ref + (size_t)i * C);
    for (i = 0; i < R * C; i++) {
        double x = src[i], v = dq[i], err = fabs(v - x), best = INFINITY, slack;
        if (v != v) nan_seen = 1;
        if (!same_f32(dq[i], ref[i]) && bad_dec < 0) bad_dec = i;
        if (t == MOE_TYPE_F8_E4M3) {
            double want = e4m3_to_double(e4m3_nearest(x));
            best = fabs(want - x);
            slack = 0.0;
            if (v != want && bad_near < 0) { bad_near = i; near_err = err; near_best = best; }
            continue;
        }
        if (t == MOE_TYPE_MXFP4) {
            const unsigned char *bk = q + (size_t)(i / C) * rs + (size_t)(i % C) / 32 * 17;
            unsigned c;
            for (c = 0; c < 16; c++) { double lv = e2m1_to_double(c) * e8m0_to_double(bk[0]); if (fabs(lv - x) < best) best = fabs(lv - x); }
            slack = ldexp(fabs(x), -22);
        } else {
            const unsigned char *bk = q + (size_t)(i / C) * rs + (size_t)(i % C) / 256 * kq_bytes(t);
            double dl, ml;
            int off, qmax, l;
            kq_elem(t, bk, i % 256, &dl, &ml, &off, &qmax);
            for (l = 0; l <= qmax; l++) { double lv = dl * (double)(l - off) - ml; if (fabs(lv - x) < best) best = fabs(lv - x); }
            /* the encoder divides in f32: a near-tie may go either way */
            slack = ldexp(fabs(dl) * qmax + fabs(ml) + fabs(x), -20);
        }
        if (!(err <= best + slack) && bad_near < 0) { bad_near = i; near_err = err; near_best = best; }
    }
    for (b = 0; b < R * C / blk; b++) {
        double amax = 0.0, e = 0.0;
        for (i = b * blk; i < (b + 1) * blk; i++) {
            if (fabs((double)src[i]) > amax) amax = fabs((double)src[i]);
            if (fabs((double)dq[i] - src[i]) > e) e = fabs((double)dq[i] - src[i]);
        }
        if (t == MOE_TYPE_F8_E4M3 && amax < ldexp(1.0, -6)) amax = ldexp(1.0, -6);   /* subnormals: absolute */
        if (t != MOE_TYPE_F8_E4M3 && t != MOE_TYPE_MXFP4 && amax < 1e-2) continue;   /* f16 d subnormal or 0: the levels check above */
        if (amax > 0 && e / amax > worst) worst = e / amax;
        if (amax == 0 && e > 0) worst = INFINITY;
    }
    if (!(worst <= g_rt_max[ti])) g_rt_max[ti] = worst;
    g_rt_seen = 1;
    note("%s round trip: max |error| / block max = %.3g (bound %.2g)", tn, worst, rt_bound(t));
    check(!nan_seen, "%s round trip produced NaN", tn);
    check(bad_dec < 0, "%s round trip: moe_dequantize element %d = %.9g, the bytes say %.9g", tn, bad_dec,
          bad_dec < 0 ? 0.0 : (double)dq[bad_dec], bad_dec < 0 ? 0.0 : ref[bad_dec]);
    check(bad_near < 0, "%s round trip: element %d: %.9g -> %.9g, error %.3g, the nearest level of its block is %.3g away", tn, bad_near,
          bad_near < 0 ? 0.0 : (double)src[bad_near], bad_near < 0 ? 0.0 : (double)dq[bad_near], near_err, near_best);
    check(worst <= rt_bound(t), "%s round trip: max |error| / block max = %.3g > %.2g", tn, worst, rt_bound(t));
    for (i = 0; i < 256 && dq[i] == 0.0f; i++) {}
    check(i == 256, "%s: a zero block does not decode to zeros (element %d = %g)", tn, i, i < 256 ? (double)dq[i] : 0.0);
    for (i = 1280; i < 1536 && (t == MOE_TYPE_F8_E4M3 || t == MOE_TYPE_MXFP4 || fabs((double)dq[i] - 0.75) <= 0.75 * 0.07); i++) {}
    check(i == 1536, "%s: a constant block of 0.75 decodes to %g at %d", tn, i < 1536 ? (double)dq[i] : 0.0, i);
done:
    free(src); free(dq); free(q); free(ref);
}

static void formats_new_types(void)
{
    int i, j, ti;
    /* row sizes: 256-value super-blocks (0 unless n is a multiple), MXFP4 17 bytes per 32, F8 a byte */
    {
        static const struct { moe_type t; size_t n, want; } tab[] = {
            {MOE_TYPE_Q4_K, 256, 144}, {MOE_TYPE_Q4_K, 512, 288}, {MOE_TYPE_Q4_K, 128, 0}, {MOE_TYPE_Q4_K, 257, 0}, {MOE_TYPE_Q4_K, 768, 432},
            {MOE_TYPE_Q5_K, 256, 176}, {MOE_TYPE_Q5_K, 1024, 704}, {MOE_TYPE_Q5_K, 32, 0}, {MOE_TYPE_Q5_K, 384, 0},
            {MOE_TYPE_Q6_K, 256, 210}, {MOE_TYPE_Q6_K, 512, 420}, {MOE_TYPE_Q6_K, 255, 0}, {MOE_TYPE_Q6_K, 100, 0},
            {MOE_TYPE_Q2_K, 256, 84}, {MOE_TYPE_Q2_K, 2048, 672}, {MOE_TYPE_Q2_K, 64, 0}, {MOE_TYPE_Q2_K, 1, 0},
            {MOE_TYPE_Q3_K, 256, 110}, {MOE_TYPE_Q3_K, 512, 220}, {MOE_TYPE_Q3_K, 160, 0}, {MOE_TYPE_Q3_K, 0, 0},
            {MOE_TYPE_MXFP4, 32, 17}, {MOE_TYPE_MXFP4, 64, 34}, {MOE_TYPE_MXFP4, 2880, 1530}, {MOE_TYPE_MXFP4, 16, 0}, {MOE_TYPE_MXFP4, 48, 0},
            {MOE_TYPE_F8_E4M3, 1, 1}, {MOE_TYPE_F8_E4M3, 37, 37}, {MOE_TYPE_F8_E4M3, 7168, 7168}, {MOE_TYPE_F8_E4M3, 0, 0},
        };
        for (i = 0; i < (int)(sizeof tab / sizeof tab[0]); i++) {
            size_t got = moe_type_row_size(tab[i].t, tab[i].n);
            check(got == tab[i].want, "moe_type_row_size(%s, %lu) = %lu, want %lu", moe_type_name(tab[i].t), (unsigned long)tab[i].n,
                  (unsigned long)got, (unsigned long)tab[i].want);
        }
        check(strcmp(moe_type_name(MOE_TYPE_Q4_K), "q4_K") == 0 && strcmp(moe_type_name(MOE_TYPE_MXFP4), "mxfp4") == 0 &&
              strcmp(moe_type_name(MOE_TYPE_F8_E4M3), "f8_e4m3") == 0, "moe_type_name of q4_K / mxfp4 / f8_e4m3: %s %s %s",
              moe_type_name(MOE_TYPE_Q4_K), moe_type_name(MOE_TYPE_MXFP4), moe_type_name(MOE_TYPE_F8_E4M3));
    }

    /* K-quants: one hand-worked block per type, built byte by byte from known parts; the
       expected values from the formula on the parts. Spot values worked out by hand below. */
    for (ti = 0; ti < 5; ti++) {
        moe_type t = g_new_types[ti];
        unsigned char blk[2 * 210];
        float out[512];
        double want[256];
        int sc[16], mn[16], qq[256], bad = -1, bad_self = -1;
        unsigned d16, dmin16;
        moe_status st;
        kq_hand_parts(t, &d16, &dmin16, sc, mn, qq);
        kq_pack(t, d16, dmin16, sc, mn, qq, blk);
        for (i = 0; i < 256; i++) want[i] = kq_formula(t, half_to_double(d16), half_to_double(dmin16), sc, mn, qq, i);
        {   /* the decoder written here reads the parts back from the bytes (a fixture check) */
            double back[256];
            ref_decode_row(t, blk, 256, back);
            for (i = 0; i < 256 && bad_self < 0; i++) if (back[i] != want[i]) bad_self = i;
            require(bad_self < 0, "%s hand block: the test's own decoder reads element %d as %g, the parts say %g", moe_type_name(t), bad_self,
                    bad_self < 0 ? 0.0 : back[bad_self], bad_self < 0 ? 0.0 : want[bad_self]);
        }
        st = moe_dequantize(t, blk, out, 1, 256);
        for (i = 0; st == MOE_OK && i < 256 && bad < 0; i++) if (!same_f32(out[i], want[i])) bad = i;
        check(st == MOE_OK && bad < 0, "%s hand block (%s): element %d = %.9g, want %.9g", moe_type_name(t), moe_status_string(st), bad,
              bad < 0 ? 0.0 : (double)out[bad], bad < 0 ? 0.0 : want[bad]);
        /* spot values by hand (element: scale, min, code -> value) */
        {
            int at[3];
            double v[3];
            switch (t) {
            case MOE_TYPE_Q2_K:   /* 100: sub 6 sc 1 m 11 q 2: 0.5*1*2 - 0.25*11; 255: sub 15 sc 14 m 10 q 2; 37: sub 2 sc 13 m 15 q 3 */
                at[0] = 100; v[0] = -1.75; at[1] = 255; v[1] = 11.5; at[2] = 37; v[2] = 0.5 * 13 * 3 - 0.25 * 15; break;
            case MOE_TYPE_Q3_K:   /* 200: sc 33-32 q 6-4: 0.25*1*2; 17: sc 18-32 q 3-4; 130: sc 45-32 q 2-4 */
                at[0] = 200; v[0] = 0.5; at[1] = 17; v[1] = 3.5; at[2] = 130; v[2] = -6.5; break;
            case MOE_TYPE_Q4_K:   /* 37: sc 63 m 5 q 4; 200: sc 7 m 36 q 14; 170: sc 58 m 13 q 11 */
                at[0] = 37; v[0] = 124.75; at[1] = 200; v[1] = 40.0; at[2] = 170; v[2] = 315.75; break;
            case MOE_TYPE_Q5_K:   /* 100: sc 16 m 63 q 1: 0.125*16*1 - 63; 250: sc 27 m 58 q 15; 151: sc 31 m 17 q 25 (fifth bit) */
                at[0] = 100; v[0] = -61.0; at[1] = 250; v[1] = -7.375; at[2] = 151; v[2] = 79.875; break;
            default:              /* Q6_K 0: sc -128 q 0-32: 0.0625*-128*-32; 77: sc 64 q 5-32; 255: sc 120 q 10-32 */
                at[0] = 0; v[0] = 256.0; at[1] = 77; v[1] = -108.0; at[2] = 255; v[2] = -165.0; break;
            }
            for (j = 0; j < 3; j++)
                check(st == MOE_OK && (double)out[at[j]] == v[j], "%s hand block: element %d = %.9g, worked out by hand: %.9g", moe_type_name(t), at[j],
                      (double)out[at[j]], v[j]);
        }
        /* two blocks in a row and as two rows: the second block (codes reversed) at its offset */
        {
            int q2[256];
            double want2[256];
            for (i = 0; i < 256; i++) q2[i] = qq[255 - i];
            kq_pack(t, d16, dmin16, sc, mn, q2, blk + kq_bytes(t));
            for (i = 0; i < 256; i++) want2[i] = kq_formula(t, half_to_double(d16), half_to_double(dmin16), sc, mn, q2, i);
            for (j = 0; j < 2; j++) {
                bad = -1;
                st = moe_dequantize(t, blk, out, j ? 2 : 1, j ? 256 : 512);
                for (i = 0; st == MOE_OK && i < 512 && bad < 0; i++) if (!same_f32(out[i], i < 256 ? want[i] : want2[i - 256])) bad = i;
                check(st == MOE_OK && bad < 0, "%s two hand blocks as %s (%s): element %d = %.9g", moe_type_name(t), j ? "2 rows" : "1 row",
                      moe_status_string(st), bad, bad < 0 ? 0.0 : (double)out[bad]);
            }
        }
        /* extreme f16 scales: largest, subnormal, 0, -0, negative, NaN, +-Inf: decoded as ggml
           does (f16 * code in f32), so 0 * Inf is NaN */
        {
            static const unsigned dd[][2] = {
                {0x7bff, 0x7bff}, {0x7bff, 0x0001}, {0x0001, 0x7bff}, {0x0001, 0x0001}, {0x03ff, 0x0200}, {0x0000, 0x0000},
                {0x8000, 0x0000}, {0xbc00, 0xb800}, {0xfbff, 0x3c00}, {0x7e00, 0x3c00}, {0x3c00, 0x7e00}, {0x7c00, 0x3c00},
                {0xfc00, 0x7c00}, {0x3c00, 0x7c00}, {0x0000, 0xfc00},
            };
            int c, maxed;
            for (maxed = 0; maxed < 2; maxed++)
                for (c = 0; c < (int)(sizeof dd / sizeof dd[0]); c++) {
                    int sc2[16], mn2[16], q3[256];
                    for (j = 0; j < 16; j++) { sc2[j] = sc[j]; mn2[j] = mn[j]; }
                    for (i = 0; i < 256; i++) q3[i] = qq[i];
                    if (maxed) {   /* the largest codes: scale, min and every q at their maximum */
                        for (j = 0; j < 16; j++) { sc2[j] = t == MOE_TYPE_Q6_K ? -128 : t == MOE_TYPE_Q2_K ? 15 : 63; mn2[j] = t == MOE_TYPE_Q2_K ? 15 : 63; }
                        for (i = 0; i < 256; i++) q3[i] = t == MOE_TYPE_Q2_K ? 3 : t == MOE_TYPE_Q3_K ? (i & 1 ? 7 : 0) : t == MOE_TYPE_Q4_K ? 15 : t == MOE_TYPE_Q5_K ? 31 : (i & 1 ? 63 : 0);
                    }
                    kq_pack(t, dd[c][0], dd[c][1], sc2, mn2, q3, blk);
                    st = moe_dequantize(t, blk, out, 1, 256);
                    bad = -1;
                    for (i = 0; st == MOE_OK && i < 256 && bad < 0; i++)
                        if (!same_f32(out[i], kq_formula(t, half_to_double(dd[c][0]), half_to_double(dd[c][1]), sc2, mn2, q3, i))) bad = i;
                    check(st == MOE_OK && bad < 0, "%s block with d 0x%04x dmin 0x%04x%s (%s): element %d = %.9g, want %.9g", moe_type_name(t), dd[c][0],
                          dd[c][1], maxed ? ", largest codes" : "", moe_status_string(st), bad, bad < 0 ? 0.0 : (double)out[bad],
                          bad < 0 ? 0.0 : (double)f32_of(kq_formula(t, half_to_double(dd[c][0]), half_to_double(dd[c][1]), sc2, mn2, q3, bad)));
                }
        }
        /* random bytes, every byte of the block free: the decoder here and moe_dequantize agree
           (the f16 scales drawn finite here: NaN/Inf scales are above) */
        {
            rng_t r = rng_make(31, (unsigned long long)t, 3);
            unsigned char *rb = (unsigned char *)xmalloc(8 * 210);
            double *rv = (double *)xmalloc(8 * 256 * sizeof(double));
            float *ro = (float *)xmalloc(8 * 256 * sizeof(float));
            size_t kb = kq_bytes(t);
            int o;
            for (i = 0; i < (int)(8 * kb); i++) rb[i] = (unsigned char)(rng_next(&r) & 0xff);
            for (o = 0; o < 8; o++) {   /* d, dmin finite */
                size_t at = t == MOE_TYPE_Q2_K ? 80 : t == MOE_TYPE_Q3_K ? 108 : t == MOE_TYPE_Q6_K ? 208 : 0;
                rb[o * kb + at + 1] &= 0xbb; if (t == MOE_TYPE_Q2_K || t == MOE_TYPE_Q4_K || t == MOE_TYPE_Q5_K) rb[o * kb + at + 3] &= 0xbb;
            }
            ref_decode_row(t, rb, 8 * 256, rv);
            st = moe_dequantize(t, rb, ro, 8, 256);
            bad = -1;
            for (i = 0; st == MOE_OK && i < 8 * 256 && bad < 0; i++) if (!same_f32(ro[i], rv[i])) bad = i;
            check(st == MOE_OK && bad < 0, "%s random bytes (%s): element %d = %.9g, the decoder here says %.9g", moe_type_name(t), moe_status_string(st),
                  bad, bad < 0 ? 0.0 : (double)ro[bad], bad < 0 ? 0.0 : rv[bad]);
            free(rb); free(rv); free(ro);
        }
    }

    /* FP8 E4M3: all 256 codes against the formula */
    {
        unsigned char b[256];
        float f[256];
        int bad = -1;
        moe_status st;
        for (i = 0; i < 256; i++) b[i] = (unsigned char)i;
        st = moe_dequantize(MOE_TYPE_F8_E4M3, b, f, 1, 256);
        for (i = 0; st == MOE_OK && i < 256 && bad < 0; i++) if (!same_f32(f[i], e4m3_to_double((unsigned)i))) bad = i;
        check(st == MOE_OK && bad < 0, "F8_E4M3 decode (%s): 0x%02x -> %.9g, want %.9g", moe_status_string(st), bad < 0 ? 0 : bad,
              bad < 0 ? 0.0 : (double)f[bad], bad < 0 ? 0.0 : e4m3_to_double((unsigned)bad));
        check(f[0x7f] != f[0x7f] && f[0xff] != f[0xff], "F8_E4M3: 0x7f -> %g, 0xff -> %g, want NaN", (double)f[0x7f], (double)f[0xff]);
        check(f[0x7e] == 448.0f && f[0xfe] == -448.0f, "F8_E4M3: 0x7e -> %g, 0xfe -> %g, want +-448", (double)f[0x7e], (double)f[0xfe]);
        check(f[0x01] == 0.001953125f && f[0x07] == 0.013671875f && f[0x08] == 0.015625f && f[0x81] == -0.001953125f,
              "F8_E4M3: 0x01 %g (2^-9), 0x07 %g (7*2^-9), 0x08 %g (2^-6), 0x81 %g", (double)f[1], (double)f[7], (double)f[8], (double)f[0x81]);
        check(f[0x38] == 1.0f && f[0x3c] == 1.5f && f[0x47] == 3.75f && f[0x77] == 240.0f, "F8_E4M3: 0x38 %g (1), 0x3c %g (1.5), 0x47 %g (3.75), 0x77 %g (240)",
              (double)f[0x38], (double)f[0x3c], (double)f[0x47], (double)f[0x77]);
        check(f[0x80] == 0.0f && signbit(f[0x80]) && f[0] == 0.0f && !signbit(f[0]), "F8_E4M3: 0x80 -> %g, 0x00 -> %g, want -0 and +0", (double)f[0x80], (double)f[0]);
    }
    /* FP8 encode: every finite code's value comes back as that code; midpoints round to the
       even code; (448, 464] saturates to 448; beyond, NaN and Inf: MOE_ERR_RANGE */
    {
        float v[512];
        unsigned char o[512];
        int bad = -1, n = 0;
        moe_status st;
        for (i = 0; i < 256; i++) if ((i & 0x7f) != 0x7f) v[n++] = (float)e4m3_to_double((unsigned)i);
        st = moe_quantize(MOE_TYPE_F8_E4M3, v, o, 1, (size_t)n);
        for (i = 0, j = 0; st == MOE_OK && i < 256 && bad < 0; i++) { if ((i & 0x7f) == 0x7f) continue; if (o[j++] != i) bad = i; }
        check(st == MOE_OK && bad < 0, "F8_E4M3 encode of every code's value (%s): code 0x%02x -> 0x%02x", moe_status_string(st), bad < 0 ? 0 : bad,
              bad < 0 ? 0 : (unsigned)o[j - 1]);
        n = 0;
        for (i = 0; i < 0x7e; i++) {   /* the midpoint of codes i, i+1 (exact in f32), and either side of it */
            double a = e4m3_to_double((unsigned)i), c = e4m3_to_double((unsigned)i + 1), mid = 0.5 * (a + c);
            v[n++] = (float)mid;
            v[n++] = nextafterf((float)mid, 0.0f);
            v[n++] = -nextafterf((float)mid, 1000.0f);
        }
        st = moe_quantize(MOE_TYPE_F8_E4M3, v, o, 1, (size_t)n);
        bad = -1;
        for (i = 0; st == MOE_OK && i < n && bad < 0; i++) if (o[i] != e4m3_nearest(v[i])) bad = i;
        check(st == MOE_OK && bad < 0, "F8_E4M3 encode of midpoints (%s): %.9g -> 0x%02x, want 0x%02x (nearest, ties to even)", moe_status_string(st),
              bad < 0 ? 0.0 : (double)v[bad], bad < 0 ? 0u : (unsigned)o[bad], bad < 0 ? 0u : e4m3_nearest(v[bad]));
        v[0] = 448.0f; v[1] = 456.0f; v[2] = 463.99f; v[3] = 464.0f; v[4] = -464.0f; v[5] = ldexp(1.0f, -10); v[6] = nextafterf(ldexp(1.0f, -10), 1.0f);
        v[7] = ldexp(1.0f, -11); v[8] = 3 * ldexp(1.0f, -10); v[9] = -0.0f;
        st = moe_quantize(MOE_TYPE_F8_E4M3, v, o, 1, 10);
        check(st == MOE_OK && o[0] == 0x7e && o[1] == 0x7e && o[2] == 0x7e && o[3] == 0x7e && o[4] == 0xfe,
              "F8_E4M3 encode 448, 456, 463.99, 464, -464 (%s): %02x %02x %02x %02x %02x, want 7e 7e 7e 7e fe", moe_status_string(st), o[0], o[1], o[2], o[3], o[4]);
        check(st == MOE_OK && o[5] == 0x00 && o[6] == 0x01 && o[7] == 0x00 && o[8] == 0x02 && o[9] == 0x80,
              "F8_E4M3 encode 2^-10 (tie), just above, 2^-11, 3*2^-10 (tie), -0: %02x %02x %02x %02x %02x, want 00 01 00 02 80", o[5], o[6], o[7], o[8], o[9]);
    }

    /* MXFP4: every nibble value, in both halves, under E8M0 exponents from 0 to 255. ggml's
       semantics: value = E2M1 * 2^(e-127) (e = 0: 2^-127, so 0.5 * 2^-127 = 2^-128 is exact; 255
       is no NaN but 2^128, so 0.5 and 1.5 stay finite and the rest is Inf; the code of -0 is +0) */
    {
        static const unsigned es[] = {0, 1, 2, 100, 126, 127, 128, 200, 253, 254, 255};
        unsigned char blk[2 * 17];
        float out[64];
        int k;
        for (k = 0; k < (int)(sizeof es / sizeof es[0]); k++) {
            int bad = -1;
            moe_status st;
            blk[0] = (unsigned char)es[k];
            for (j = 0; j < 16; j++) blk[1 + j] = (unsigned char)(j | ((15 - j) << 4));   /* element j: code j, 16+j: code 15-j */
            blk[17] = (unsigned char)(es[k] ^ 1u);                                          /* a second block: codes swapped */
            for (j = 0; j < 16; j++) blk[18 + j] = (unsigned char)((15 - j) | (j << 4));
            st = moe_dequantize(MOE_TYPE_MXFP4, blk, out, 1, 64);
            for (i = 0; st == MOE_OK && i < 64 && bad < 0; i++) {
                unsigned code = i < 16 ? (unsigned)i : i < 32 ? 15u - (unsigned)(i - 16) : i < 48 ? 15u - (unsigned)(i - 32) : (unsigned)(i - 48);
                if (!same_f32(out[i], e2m1_to_double(code) * e8m0_to_double(i < 32 ? es[k] : es[k] ^ 1u))) bad = i;
            }
            check(st == MOE_OK && bad < 0, "MXFP4 block e=%u (%s): element %d = %.9g, want %.9g", es[k], moe_status_string(st), bad,
                  bad < 0 ? 0.0 : (double)out[bad], bad < 0 ? 0.0 : (double)f32_of(e2m1_to_double(bad < 16 ? (unsigned)bad : bad < 32 ? 15u - (unsigned)(bad - 16) : bad < 48 ? 15u - (unsigned)(bad - 32) : (unsigned)(bad - 48)) * e8m0_to_double(bad < 32 ? es[k] : es[k] ^ 1u)));
            if (es[k] == 127)
                check(out[1] == 0.5f && out[7] == 6.0f && out[16] == -6.0f && out[24] == 6.0f && out[9] == -0.5f && out[5] == 3.0f && out[8] == 0.0f && !signbit(out[8]),
                      "MXFP4 e=127: codes 1, 7, 15, 7, 9, 5, 8 -> %g %g %g %g %g %g %g, want 0.5 6 -6 6 -0.5 3 +0", (double)out[1], (double)out[7],
                      (double)out[16], (double)out[24], (double)out[9], (double)out[5], (double)out[8]);
            if (es[k] == 0)
                check(out[1] == ldexpf(1.0f, -128) && out[7] == ldexpf(3.0f, -126) && out[14] == -ldexpf(1.0f, -125),
                      "MXFP4 e=0: codes 1, 7, 14 -> %g %g %g, want 2^-128, 6*2^-127, -4*2^-127", (double)out[1], (double)out[7], (double)out[14]);
            if (es[k] == 255)
                check(out[1] == ldexpf(1.0f, 127) && isinf(out[3]) && isinf(out[2]) && out[2] > 0 && out[9] == -ldexpf(1.0f, 127) &&
                      isinf(out[10]) && out[10] < 0 && out[0] == 0.0f && out[8] == 0.0f,
                      "MXFP4 e=255: codes 1, 3, 2, 9, 10, 0, 8 -> %g %g %g %g %g %g %g, want 2^127 Inf Inf -2^127 -Inf 0 0", (double)out[1],
                      (double)out[3], (double)out[2], (double)out[9], (double)out[10], (double)out[0], (double)out[8]);
            if (es[k] == 254)
                check(out[3] == ldexpf(1.5f, 127) && isinf(out[4]) && out[1] == ldexpf(1.0f, 126), "MXFP4 e=254: codes 3, 4, 1 -> %g %g %g, want 1.5*2^127 Inf 2^126",
                      (double)out[3], (double)out[4], (double)out[1]);
        }
    }
    /* MXFP4 encode: ties go to the smaller magnitude, past 6 * 2^(e-127) clips */
    {
        float x[32];
        unsigned char b[17];
        float back[32];
        static const float in[12] = {6.0f, 2.5f, 5.0f, 0.25f, -1.25f, -0.75f, 3.5f, 1.75f, 5.5f, 0.3f, -7.5f, -0.0f};
        static const float want[12] = {6.0f, 2.0f, 4.0f, 0.0f, -1.0f, -0.5f, 3.0f, 1.5f, 6.0f, 0.5f, -6.0f, 0.0f};
        moe_status st;
        int bad = -1;
        for (i = 0; i < 32; i++) x[i] = i < 12 ? in[i] : 0.0f;
        st = moe_quantize(MOE_TYPE_MXFP4, x, b, 1, 32);
        if (st == MOE_OK) st = moe_dequantize(MOE_TYPE_MXFP4, b, back, 1, 32);
        for (i = 0; st == MOE_OK && i < 12 && bad < 0; i++) if (back[i] != want[i]) bad = i;
        check(st == MOE_OK && b[0] == 127 && bad < 0, "MXFP4 encode (amax 7.5: e 127; ties to the smaller magnitude; 7.5 clips to 6) (%s): e %u, %g -> %g",
              moe_status_string(st), (unsigned)b[0], bad < 0 ? 0.0 : (double)in[bad], bad < 0 ? 0.0 : (double)back[bad]);
    }

    /* quantize -> dequantize round trips of every new type */
    for (ti = 0; ti < 7; ti++) roundtrip_new(ti);

    /* MOE_ERR_RANGE above each type's max_abs, and for NaN and Inf (blocks cannot hold them);
       OK at and just below it, decoding finite */
    for (ti = 0; ti < 7; ti++) {
        moe_type t = g_new_types[ti];
        int n = t == MOE_TYPE_F8_E4M3 || t == MOE_TYPE_MXFP4 ? 32 : 256, c;
        float mx = new_type_max_abs(t), *x = (float *)xmalloc((size_t)n * sizeof(float)), *back = (float *)xmalloc((size_t)n * sizeof(float));
        unsigned char *qb = (unsigned char *)xmalloc(256);
        for (c = 0; c < 10; c++) {
            moe_status st, s2 = MOE_OK;
            float v = 0.0f;
            int want_ok = 0, intact = 1, finite = 1, neg = 0;
            switch (c) {
            case 0: v = mx; want_ok = 1; break;
            case 1: v = nextafterf(mx, 0.0f); want_ok = 1; break;
            case 2: v = -mx; want_ok = 1; neg = 1; break;          /* the whole block at -mx: dmin at its largest */
            case 3: v = mx; want_ok = 1; neg = 2; break;           /* the whole block at +mx */
            case 4: v = nextafterf(mx, INFINITY); break;
            case 5: v = -nextafterf(mx, INFINITY); break;
            case 6: v = NAN; break;
            case 7: v = INFINITY; break;
            case 8: v = -INFINITY; break;
            default: v = 2.0f * mx; break;
            }
            if (c == 9 && isinf(v)) continue;   /* MXFP4: max_abs is FLT_MAX, above it is Inf (cases 4, 5) */
            for (i = 0; i < n; i++) x[i] = neg == 1 ? -mx : neg == 2 ? mx : (float)((i % 7) - 3) * 0.5f;
            x[n / 2 + 3] = v;
            memset(qb, 0x5c, 256);
            st = moe_quantize(t, x, qb, 1, (size_t)n);
            for (i = 0; i < 256; i++) if (qb[i] != 0x5c) intact = 0;
            if (want_ok) {
                s2 = moe_dequantize(t, qb, back, 1, (size_t)n);
                for (i = 0; i < n; i++) if (!isfinite(back[i])) finite = 0;
                /* MXFP4 clips amax in (1.5, 2) * 2^k to 1.5 * 2^k: FLT_MAX decodes 25 % low */
                check(st == MOE_OK && s2 == MOE_OK && finite && fabs((double)back[n / 2 + 3] - v) <= (t == MOE_TYPE_MXFP4 ? 0.26 : 0.1) * fabs((double)v),
                      "moe_quantize(%s) of a block holding %.9g%s -> %s, decodes %s, to %.9g", moe_type_name(t), (double)v,
                      neg ? " (all of it)" : "", moe_status_string(st), finite ? "finite" : "to NaN/Inf", (double)back[n / 2 + 3]);
            } else {
                check(st == MOE_ERR_RANGE && intact, "moe_quantize(%s) of a block holding %.9g -> %s (want MOE_ERR_RANGE), dst %s", moe_type_name(t),
                      (double)v, moe_status_string(st), intact ? "untouched" : "written");
            }
        }
        free(x); free(back); free(qb);
    }
    /* K types refuse rows that are not whole super-blocks; MXFP4 blocks of 32 */
    {
        float x[256];
        unsigned char qb[512];
        for (i = 0; i < 256; i++) x[i] = 0.5f;
        for (ti = 0; ti < 5; ti++)
            check(moe_quantize(g_new_types[ti], x, qb, 1, 128) == MOE_ERR_ARG && moe_dequantize(g_new_types[ti], qb, x, 1, 128) == MOE_ERR_ARG,
                  "moe_quantize/moe_dequantize(%s, 128 columns) accepted", moe_type_name(g_new_types[ti]));
        check(moe_quantize(MOE_TYPE_MXFP4, x, qb, 1, 48) == MOE_ERR_ARG, "moe_quantize(mxfp4, 48 columns) accepted");
    }
}

/* ======================================================================================== */
/*                                  group: formats                                          */
/* ======================================================================================== */
static void test_formats(void)
{
    int i, j;
    if (!group_begin("formats")) return;

    /* row sizes */
    check(moe_type_row_size(MOE_TYPE_F32, 37) == 148, "row_size(F32,37) = %lu", (unsigned long)moe_type_row_size(MOE_TYPE_F32, 37));
    check(moe_type_row_size(MOE_TYPE_F16, 37) == 74, "row_size(F16,37) = %lu", (unsigned long)moe_type_row_size(MOE_TYPE_F16, 37));
    check(moe_type_row_size(MOE_TYPE_BF16, 37) == 74, "row_size(BF16,37) = %lu", (unsigned long)moe_type_row_size(MOE_TYPE_BF16, 37));
    check(moe_type_row_size(MOE_TYPE_Q8_0, 32) == 34, "row_size(Q8_0,32) = %lu", (unsigned long)moe_type_row_size(MOE_TYPE_Q8_0, 32));
    check(moe_type_row_size(MOE_TYPE_Q8_0, 96) == 102, "row_size(Q8_0,96) = %lu", (unsigned long)moe_type_row_size(MOE_TYPE_Q8_0, 96));
    check(moe_type_row_size(MOE_TYPE_Q4_0, 32) == 18, "row_size(Q4_0,32) = %lu", (unsigned long)moe_type_row_size(MOE_TYPE_Q4_0, 32));
    check(moe_type_row_size(MOE_TYPE_Q4_0, 128) == 72, "row_size(Q4_0,128) = %lu", (unsigned long)moe_type_row_size(MOE_TYPE_Q4_0, 128));
    check(moe_type_row_size(MOE_TYPE_Q8_0, 37) == 0, "row_size(Q8_0,37) = %lu, want 0", (unsigned long)moe_type_row_size(MOE_TYPE_Q8_0, 37));
    check(moe_type_row_size(MOE_TYPE_Q8_0, 48) == 0, "row_size(Q8_0,48) = %lu, want 0", (unsigned long)moe_type_row_size(MOE_TYPE_Q8_0, 48));
    check(moe_type_row_size(MOE_TYPE_Q4_0, 16) == 0, "row_size(Q4_0,16) = %lu, want 0", (unsigned long)moe_type_row_size(MOE_TYPE_Q4_0, 16));

    /* type names: non-NULL, distinct */
    for (i = 0; i < MOE_TYPE_COUNT; i++) {
        const char *a = moe_type_name((moe_type)i);
        int ok = a != NULL && a[0] != 0;
        for (j = 0; ok && j < i; j++) ok = strcmp(a, moe_type_name((moe_type)j)) != 0;
        check(ok, "moe_type_name(%d) NULL, empty or not distinct", i);
    }

    /* simd name, kernel paths */
    {
        const char *sn = moe_simd_name();
        int p, n_sup = 0, one = -1;
#ifdef MOE_DISPATCH   /* the family of the path AUTO picks: the best supported one */
        static const moe_path order[] = { MOE_PATH_AVX512_VNNI, MOE_PATH_AVX512, MOE_PATH_AVX2_VNNI, MOE_PATH_AVX2,
                                          MOE_PATH_NEON_DOTPROD, MOE_PATH_NEON, MOE_PATH_SCALAR };
        const char *want = "scalar", *bn;
        for (p = 0; p < (int)(sizeof order / sizeof order[0]); p++)
            if (moe_path_supported(order[p])) break;
        bn = p < (int)(sizeof order / sizeof order[0]) ? moe_path_name(order[p]) : "scalar";
        want = strncmp(bn, "avx512", 6) == 0 ? "avx512" : strncmp(bn, "avx2", 4) == 0 ? "avx2" : strncmp(bn, "neon", 4) == 0 ? "neon" : "scalar";
        check(sn != NULL && strcmp(sn, want) == 0, "moe_simd_name() = \"%s\", the family of the best supported path (%s) is \"%s\"", sn ? sn : "(null)", bn, want);
#else
        check(sn != NULL && strcmp(sn, MOE_TEST_EXPECT_SIMD) == 0, "moe_simd_name() = \"%s\", this build asks for \"%s\"", sn ? sn : "(null)", MOE_TEST_EXPECT_SIMD);
#endif
        for (p = MOE_PATH_AUTO + 1; p < MOE_PATH_COUNT; p++)
            if (moe_path_supported((moe_path)p)) { n_sup++; one = p; }
        check(moe_path_supported(MOE_PATH_COUNT) == 0 && strcmp(moe_path_name(MOE_PATH_COUNT), "unknown") == 0,
              "moe_path_supported / moe_path_name(MOE_PATH_COUNT): %d, \"%s\"", moe_path_supported(MOE_PATH_COUNT), moe_path_name(MOE_PATH_COUNT));
#ifndef MOE_DISPATCH   /* a plain build: one path, of moe_simd_name()'s family */
        check(n_sup == 1 && strncmp(moe_path_name((moe_path)(one < 0 ? 0 : one)), sn, strlen(sn)) == 0,
              "plain build: %d paths supported (want 1), the last %s; moe_simd_name() %s", n_sup, moe_path_name((moe_path)(one < 0 ? 0 : one)), sn);
#else
        check(n_sup >= 1, "dispatch build: no path supported");
        (void)one;
#endif
    }

#ifdef MOE_TEST_TU2
    {
        extern const char *moe_test_tu2_simd_name(void);
        check(strcmp(moe_test_tu2_simd_name(), moe_simd_name()) == 0, "second translation unit sees moe_simd_name() = %s", moe_test_tu2_simd_name());
    }
#endif

    /* config defaults: Mixtral */
    {
        moe_config c = moe_config_default();
        check(c.score == MOE_SCORE_SOFTMAX && c.top_k == 2 && c.norm_topk == 1 && c.act == MOE_ACT_SWIGLU,
              "moe_config_default: score %d top_k %d norm_topk %d act %d (want softmax, 2, 1, swiglu)", (int)c.score, c.top_k, c.norm_topk, (int)c.act);
        check(c.path == MOE_PATH_AUTO, "moe_config_default: path %d, want MOE_PATH_AUTO", (int)c.path);
        check(c.routed_scale == 1.0f && c.n_shared == 0 && c.weight_on_input == 0 && c.n_group <= 1,
              "moe_config_default: routed_scale %g n_shared %d weight_on_input %d n_group %d", (double)c.routed_scale, c.n_shared, c.weight_on_input, c.n_group);
        check(fabs((double)c.oai_alpha - 1.702) < 1e-6 && c.oai_limit == 7.0f, "moe_config_default: oai_alpha %g oai_limit %g (want 1.702, 7)", (double)c.oai_alpha, (double)c.oai_limit);
    }

    /* F16 decode: all 65536 bit patterns against the decoder written here */
    {
        unsigned short *h = (unsigned short *)xmalloc(65536 * sizeof(unsigned short));
        float *f = (float *)xmalloc(65536 * sizeof(float));
        int bad = -1;
        moe_status st;
        for (i = 0; i < 65536; i++) h[i] = (unsigned short)i;
        le16(h, 65536);
        st = moe_dequantize(MOE_TYPE_F16, h, f, 1, 65536);
        for (i = 0; st == MOE_OK && i < 65536 && bad < 0; i++) {
            double r = half_to_double((unsigned)i);
            if (r != r) { if (f[i] == f[i]) bad = i; }
            else if ((double)f[i] != r || (signbit(f[i]) != 0) != ((i & 0x8000) != 0)) bad = i;
        }
        check(st == MOE_OK && bad < 0, "F16 decode (%s): 0x%04x -> %.9g, want %.9g", moe_status_string(st), bad < 0 ? 0 : bad,
              bad < 0 ? 0.0 : (double)f[bad], bad < 0 ? 0.0 : half_to_double((unsigned)bad));
        /* BF16 decode: all patterns */
        bad = -1;
        st = moe_dequantize(MOE_TYPE_BF16, h, f, 256, 256);
        for (i = 0; st == MOE_OK && i < 65536 && bad < 0; i++) {
            float r = bf16_to_float((unsigned)i);
            if (r != r) { if (f[i] == f[i]) bad = i; }
            else if (memcmp(&r, &f[i], sizeof r) != 0) bad = i;
        }
        check(st == MOE_OK && bad < 0, "BF16 decode (%s): 0x%04x -> %.9g, want %.9g", moe_status_string(st), bad < 0 ? 0 : bad,
              bad < 0 ? 0.0 : (double)f[bad], bad < 0 ? 0.0 : (double)bf16_to_float((unsigned)bad));
        free(h);
        free(f);
    }

    /* F16 / BF16 encode: fixed values */
    {
        static const struct { double v; unsigned h, b; } tab[] = {
            {1.0, 0x3C00, 0x3F80}, {-2.0, 0xC000, 0xC000}, {0.0, 0x0000, 0x0000}, {65504.0, 0x7BFF, 0x4780},
            {5.9604644775390625e-08, 0x0001, 0x3380}, /* 2^-24: smallest fp16 subnormal */
            {6.103515625e-05, 0x0400, 0x3880},        /* 2^-14: smallest fp16 normal */
            {1.00048828125, 0x3C00, 0x3F80},          /* 1 + 2^-11: fp16 tie, rounds to even */
            {1.00146484375, 0x3C02, 0x3F80},          /* 1 + 3*2^-11: fp16 tie, rounds to even (up) */
            {1.00390625, 0x3C04, 0x3F80},             /* 1 + 2^-8: bf16 tie, rounds to even (down) */
            {1.01171875, 0x3C0C, 0x3F82},             /* 1 + 3*2^-8: bf16 tie, rounds to even (up) */
            {2.98023223876953125e-08, 0x0000, 0x3300},/* 2^-25: fp16 tie between 0 and 2^-24: even = 0 */
            {8.94069671630859375e-08, 0x0002, 0x33C0},/* 1.5*2^-24: fp16 tie between 1 and 2 ulp: even = 2 */
            {65520.0, 0, 0x4780},                     /* fp16: would round to inf: MOE_ERR_RANGE */
            {1e6, 0, 0x4974},                         /* fp16: MOE_ERR_RANGE */
        };
        int nt = (int)(sizeof tab / sizeof tab[0]);
        for (i = 0; i < nt; i++) {
            float src = (float)tab[i].v;
            unsigned short h = 0xFFFF, b = 0xFFFF;
            moe_status s1 = moe_quantize(MOE_TYPE_F16, &src, &h, 1, 1);
            moe_status s2 = moe_quantize(MOE_TYPE_BF16, &src, &b, 1, 1);
            le16(&h, 1); le16(&b, 1);
            if (fabs(tab[i].v) > 65504.0)   /* a finite value fp16 cannot hold: refused, nothing written */
                check(s1 == MOE_ERR_RANGE && h == 0xFFFF, "F16 encode %.17g -> 0x%04x (%s), want MOE_ERR_RANGE", tab[i].v, (unsigned)h, moe_status_string(s1));
            else
                check(s1 == MOE_OK && h == tab[i].h, "F16 encode %.17g -> 0x%04x (%s), want 0x%04x", tab[i].v, (unsigned)h, moe_status_string(s1), tab[i].h);
            check(s2 == MOE_OK && b == tab[i].b, "BF16 encode %.17g -> 0x%04x (%s), want 0x%04x", tab[i].v, (unsigned)b, moe_status_string(s2), tab[i].b);
        }
        {
            float sp[4];
            unsigned short h[4], b[4];
            sp[0] = INFINITY; sp[1] = -INFINITY; sp[2] = -0.0f; sp[3] = NAN;
            moe_status s1 = moe_quantize(MOE_TYPE_F16, sp, h, 1, 4);
            moe_status s2 = moe_quantize(MOE_TYPE_BF16, sp, b, 1, 4);
            le16(h, 4); le16(b, 4);
            check(s1 == MOE_OK && s2 == MOE_OK, "F16/BF16 encode of inf, -inf, -0, NaN: %s, %s (they hold them)", moe_status_string(s1), moe_status_string(s2));
            check(h[0] == 0x7C00 && h[1] == 0xFC00 && h[2] == 0x8000, "F16 encode inf/-inf/-0 -> 0x%04x 0x%04x 0x%04x", h[0], h[1], h[2]);
            check((h[3] & 0x7C00) == 0x7C00 && (h[3] & 0x3FF) != 0, "F16 encode NaN -> 0x%04x (not a NaN)", h[3]);
            check(b[0] == 0x7F80 && b[1] == 0xFF80 && b[2] == 0x8000, "BF16 encode inf/-inf/-0 -> 0x%04x 0x%04x 0x%04x", b[0], b[1], b[2]);
            check((b[3] & 0x7F80) == 0x7F80 && (b[3] & 0x7F) != 0, "BF16 encode NaN -> 0x%04x (not a NaN)", b[3]);
        }
    }

    /* F16 / BF16 encode: random values are rounded to the nearest, ties to even */
    {
        enum { N = 4096 };
        float *src = (float *)xmalloc(N * sizeof(float));
        unsigned short *h = (unsigned short *)xmalloc(N * sizeof(unsigned short));
        unsigned short *b = (unsigned short *)xmalloc(N * sizeof(unsigned short));
        rng_t r = rng_make(5, 5, 5);
        int bad_h = -1, bad_b = -1;
        for (i = 0; i < N; i++) {
            double mag = ldexp(1.0 + rng_unif(&r), -30 + rng_int(&r, 45)); /* 2^-30 .. 2^15 */
            if (i % 7 == 0) { /* an exact fp16 tie */
                int e = -14 + rng_int(&r, 25);
                mag = ldexp((double)(1024 + rng_int(&r, 1023)) + 0.5, e - 10);
            }
            src[i] = (float)(rng_next(&r) & 1 ? -mag : mag);
        }
        moe_quantize(MOE_TYPE_F16, src, h, 1, N);
        moe_quantize(MOE_TYPE_BF16, src, b, 1, N);
        le16(h, N); le16(b, N);
        for (i = 0; i < N; i++) {
            double x = src[i], v = half_to_double(h[i]), ax = fabs(x);
            unsigned mag = h[i] & 0x7FFFu;
            int sgn_ok = ((h[i] & 0x8000u) != 0) == (x < 0);
            double up = mag < 0x7BFF ? half_to_double(mag + 1) : INFINITY;
            double dn = mag > 0 ? half_to_double(mag - 1) : -INFINITY;
            double d = fabs(ax - fabs(v));
            int ok = sgn_ok && d <= fabs(ax - up) && d <= fabs(ax - dn);
            if (ok && (d == fabs(ax - up) || d == fabs(ax - dn))) ok = (mag & 1u) == 0;
            if (!ok && bad_h < 0) bad_h = i;
        }
        for (i = 0; i < N; i++) {
            double x = src[i], v = bf16_to_float(b[i]), ax = fabs(x);
            unsigned mag = b[i] & 0x7FFFu;
            int sgn_ok = ((b[i] & 0x8000u) != 0) == (x < 0);
            double up = bf16_to_float(mag + 1), dn = mag > 0 ? (double)bf16_to_float(mag - 1) : -INFINITY;
            double d = fabs(ax - fabs(v));
            int ok = sgn_ok && d <= fabs(ax - up) && d <= fabs(ax - dn);
            if (ok && (d == fabs(ax - up) || d == fabs(ax - dn))) ok = (mag & 1u) == 0;
            if (!ok && bad_b < 0) bad_b = i;
        }
        check(bad_h < 0, "F16 encode not nearest-even: %.9g -> 0x%04x (%.9g)", bad_h < 0 ? 0.0 : (double)src[bad_h],
              bad_h < 0 ? 0u : (unsigned)h[bad_h], bad_h < 0 ? 0.0 : half_to_double(h[bad_h]));
        check(bad_b < 0, "BF16 encode not nearest-even: %.9g -> 0x%04x (%.9g)", bad_b < 0 ? 0.0 : (double)src[bad_b],
              bad_b < 0 ? 0u : (unsigned)b[bad_b], bad_b < 0 ? 0.0 : (double)bf16_to_float(b[bad_b]));
        free(src); free(h); free(b);
    }

    /* Q8_0 hand-built blocks */
    {
        unsigned char blk[68];
        float out[64];
        int bad = -1;
        moe_status st;
        blk[0] = 0x00; blk[1] = 0x38; /* d = 0.5 */
        for (i = 0; i < 32; i++) blk[2 + i] = (unsigned char)(signed char)(i - 16);
        blk[34] = 0x00; blk[35] = 0xBC; /* d = -1 */
        for (i = 0; i < 32; i++) blk[36 + i] = (unsigned char)(signed char)((i * 37) % 255 - 127);
        st = moe_dequantize(MOE_TYPE_Q8_0, blk, out, 1, 64);
        for (i = 0; i < 64 && bad < 0; i++) {
            double want = i < 32 ? (i - 16) * 0.5 : -(double)((i - 32) * 37 % 255 - 127);
            if ((double)out[i] != want) bad = i;
        }
        check(st == MOE_OK && bad < 0, "Q8_0 hand block 1x64 (%s): element %d = %.9g", moe_status_string(st), bad, bad < 0 ? 0.0 : (double)out[bad]);
        bad = -1;
        st = moe_dequantize(MOE_TYPE_Q8_0, blk, out, 2, 32); /* the same bytes as two rows */
        for (i = 0; i < 64 && bad < 0; i++) {
            double want = i < 32 ? (i - 16) * 0.5 : -(double)((i - 32) * 37 % 255 - 127);
            if ((double)out[i] != want) bad = i;
        }
        check(st == MOE_OK && bad < 0, "Q8_0 hand block 2x32 (%s): element %d", moe_status_string(st), bad);

        /* quantize exact values: amax 63.5 -> d = 0.5 exactly */
        {
            float src[32];
            unsigned char q[34];
            src[0] = 63.5f;
            for (i = 1; i < 32; i++) src[i] = (float)((i - 16) * 0.5);
            st = moe_quantize(MOE_TYPE_Q8_0, src, q, 1, 32);
            bad = -1;
            if (q[0] != 0x00 || q[1] != 0x38) bad = 100;
            if ((signed char)q[2] != 127) bad = 0;
            for (i = 1; i < 32 && bad < 0; i++) if ((signed char)q[2 + i] != i - 16) bad = i;
            check(st == MOE_OK && bad < 0, "Q8_0 quantize of exact values: %s at %d (d bytes %02x %02x)", moe_status_string(st), bad, q[0], q[1]);
            src[0] = -63.5f;
            st = moe_quantize(MOE_TYPE_Q8_0, src, q, 1, 32);
            check(st == MOE_OK && q[0] == 0x00 && q[1] == 0x38 && (signed char)q[2] == -127, "Q8_0 quantize negative amax: d bytes %02x %02x q0 %d", q[0], q[1], (signed char)q[2]);
        }
    }

    /* Q4_0 hand-built blocks */
    {
        unsigned char blk[36];
        float out[64];
        int bad = -1;
        moe_status st;
        blk[0] = 0x00; blk[1] = 0x34; /* d = 0.25 */
        for (i = 0; i < 16; i++) blk[2 + i] = (unsigned char)(((15 - i) << 4) | i);
        blk[18] = 0x00; blk[19] = 0xC2; /* d = -3 */
        for (i = 0; i < 16; i++) blk[20 + i] = (unsigned char)((((i * 5) & 15) << 4) | ((i * 3 + 1) & 15));
        st = moe_dequantize(MOE_TYPE_Q4_0, blk, out, 1, 64);
        for (i = 0; i < 64 && bad < 0; i++) {
            double want;
            if (i < 16) want = (i - 8) * 0.25;
            else if (i < 32) want = ((15 - (i - 16)) - 8) * 0.25;
            else if (i < 48) want = ((((i - 32) * 3 + 1) & 15) - 8) * -3.0;
            else want = ((((i - 48) * 5) & 15) - 8) * -3.0;
            if ((double)out[i] != want) bad = i;
        }
        check(st == MOE_OK && bad < 0, "Q4_0 hand block (%s): element %d = %.9g", moe_status_string(st), bad, bad < 0 ? 0.0 : (double)out[bad]);
    }

    /* quantize -> dequantize round trip, per block bounds; library decode == decoder here */
    {
        enum { R = 8, C = 128 };
        float *src = (float *)xmalloc(R * C * sizeof(float));
        float *dq = (float *)xmalloc(R * C * sizeof(float));
        unsigned char *q = (unsigned char *)xmalloc(R * C * sizeof(float) + 64);
        rng_t r = rng_make(9, 9, 9);
        int t, b;
        for (b = 0; b < R * C / 32; b++) {
            double sc = pow(10.0, -2.0 + 5.0 * rng_unif(&r));
            for (i = 0; i < 32; i++) src[b * 32 + i] = (float)(rng_sym(&r) * sc);
            if (b == 0) for (i = 0; i < 32; i++) src[i] = 0.0f;                      /* zero block */
            if (b == 1) for (i = 0; i < 32; i++) src[32 + i] = (float)(rng_sym(&r) * 1e-6); /* tiny */
            if (b == 2) { for (i = 0; i < 32; i++) src[64 + i] = 0.0f; src[64 + 7] = -3.0f; } /* one value */
            if (b == 3) { src[96 + 5] = -(float)sc * 2; src[96 + 9] = (float)sc * 2; }    /* +-amax */
        }
        for (t = MOE_TYPE_F16; t <= MOE_TYPE_Q4_0; t++) {
            moe_type ty = (moe_type)t;
            size_t rs = moe_type_row_size(ty, C);
            moe_status s1 = moe_quantize(ty, src, q, R, C);
            moe_status s2 = moe_dequantize(ty, q, dq, R, C);
            int bad = -1, bad_dec = -1, bad_scale = -1, nan_seen = 0;
            double bad_err = 0, bad_lim = 0;
            for (i = 0; i < R * C; i++) if (dq[i] != dq[i]) nan_seen = 1;
            if (ty == MOE_TYPE_F16 || ty == MOE_TYPE_BF16) {
                double rel = ty == MOE_TYPE_F16 ? ldexp(1.0, -11) : ldexp(1.0, -8);
                for (i = 0; i < R * C; i++) {
                    double x = src[i], err = fabs((double)dq[i] - x);
                    double lim = rel * fabs(x) + (ty == MOE_TYPE_F16 ? ldexp(1.0, -25) : 0.0);
                    if (!(err <= lim) && bad < 0) { bad = i; bad_err = err; bad_lim = lim; }
                }
            } else {
                int qmax = ty == MOE_TYPE_Q8_0 ? 127 : 8;
                int bpr = C / 32;
                for (b = 0; b < R * C / 32; b++) {
                    const unsigned char *blk = q + (size_t)(b / bpr) * rs + (size_t)(b % bpr) * (ty == MOE_TYPE_Q8_0 ? 34 : 18);
                    double d = half_to_double(rd16(blk)), amax = 0;
                    for (i = 0; i < 32; i++) if (fabs((double)src[b * 32 + i]) > amax) amax = fabs((double)src[b * 32 + i]);
                    /* the scale comes from the block's absolute max */
                    if (ty == MOE_TYPE_Q8_0) {
                        if (!(fabs(fabs(d) - amax / 127) <= ldexp(amax / 127, -11) + ldexp(1.0, -25)) && bad_scale < 0) bad_scale = b;
                    } else {
                        if (!(fabs(d) <= amax / 7 * (1 + ldexp(1.0, -10)) + ldexp(1.0, -25)) && bad_scale < 0) bad_scale = b;
                    }
                    for (i = 0; i < 32; i++) {
                        double x = src[b * 32 + i], v, err, nearest = INFINITY, lim;
                        int qq, g;
                        if (ty == MOE_TYPE_Q8_0) qq = (signed char)blk[2 + i];
                        else qq = (i < 16 ? (blk[2 + i] & 15) : (blk[2 + i - 16] >> 4)) - 8;
                        v = qq * d;
                        if ((double)dq[b * 32 + i] != v && bad_dec < 0) bad_dec = b * 32 + i;
                        err = fabs(v - x);
                        for (g = ty == MOE_TYPE_Q8_0 ? -127 : -8; g <= (ty == MOE_TYPE_Q8_0 ? 127 : 7); g++)
                            if (fabs(g * d - x) < nearest) nearest = fabs(g * d - x);
                        /* round to nearest on the block's grid, slack for d's fp16 rounding */
                        lim = nearest + qmax * fabs(d) * ldexp(1.0, -10) + 1e-30;
                        if (ty == MOE_TYPE_Q8_0) { if (lim > amax / 127 / 2 * (1 + 0.13) + ldexp(1.0, -24)) lim = amax / 127 / 2 * (1 + 0.13) + ldexp(1.0, -24); }
                        else { if (lim > amax / 8 * (1 + ldexp(1.0, -8)) + ldexp(1.0, -24)) lim = amax / 8 * (1 + ldexp(1.0, -8)) + ldexp(1.0, -24); }
                        if (amax < 1e-4) lim = amax * (1 + 1e-6); /* d underflows fp16: at worst zeros */
                        if (!(err <= lim) && bad < 0) { bad = b * 32 + i; bad_err = err; bad_lim = lim; }
                    }
                }
                check(bad_dec < 0, "%s: moe_dequantize element %d = %.9g disagrees with the block bytes", moe_type_name(ty), bad_dec, bad_dec < 0 ? 0.0 : (double)dq[bad_dec]);
                check(bad_scale < 0, "%s: block %d scale is not from the block's absolute max", moe_type_name(ty), bad_scale);
            }
            check(s1 == MOE_OK && s2 == MOE_OK, "%s round trip: quantize %s dequantize %s", moe_type_name(ty), moe_status_string(s1), moe_status_string(s2));
            check(!nan_seen, "%s round trip produced NaN (zero or tiny block?)", moe_type_name(ty));
            check(bad < 0, "%s round trip: element %d: %.9g -> %.9g, error %.3g > bound %.3g", moe_type_name(ty), bad,
                  bad < 0 ? 0.0 : (double)src[bad], bad < 0 ? 0.0 : (double)dq[bad], bad_err, bad_lim);
            check(dq[0] == 0.0f && dq[31] == 0.0f, "%s: zero block does not decode to zeros", moe_type_name(ty));
        }
        /* F32 is a copy (as little-endian bytes) */
        {
            float cp[64], le[64];
            moe_status st = moe_quantize(MOE_TYPE_F32, src, cp, 2, 32);
            le_f32(cp, 64);
            check(st == MOE_OK && memcmp(cp, src, sizeof cp) == 0, "F32 quantize is not a copy (%s)", moe_status_string(st));
            memcpy(le, src, sizeof le);
            le_f32(le, 64);
            st = moe_dequantize(MOE_TYPE_F32, le, cp, 1, 64);
            check(st == MOE_OK && memcmp(cp, src, sizeof cp) == 0, "F32 dequantize is not a copy (%s)", moe_status_string(st));
        }
        /* errors */
        check(moe_quantize(MOE_TYPE_Q8_0, src, q, 1, 40) != MOE_OK, "moe_quantize(Q8_0, 40 columns) accepted");
        check(moe_dequantize(MOE_TYPE_Q4_0, q, dq, 1, 40) != MOE_OK, "moe_dequantize(Q4_0, 40 columns) accepted");
        check(moe_quantize(MOE_TYPE_F32, NULL, q, 1, 4) == MOE_ERR_NULL, "moe_quantize(src NULL) != MOE_ERR_NULL");
        check(moe_dequantize(MOE_TYPE_F16, q, NULL, 1, 4) == MOE_ERR_NULL, "moe_dequantize(dst NULL) != MOE_ERR_NULL");
        check(moe_quantize(MOE_TYPE_COUNT, src, q, 1, 32) != MOE_OK, "moe_quantize(MOE_TYPE_COUNT) accepted");
        {
            float bad_src[32];
            int ty;
            for (ty = MOE_TYPE_Q8_0; ty <= MOE_TYPE_Q4_0; ty++)
                for (j = 0; j < 3; j++) {
                    moe_status st;
                    for (i = 0; i < 32; i++) bad_src[i] = 0.5f;
                    bad_src[17] = j == 0 ? NAN : j == 1 ? INFINITY : -INFINITY;
                    st = moe_quantize((moe_type)ty, bad_src, q, 1, 32);
                    check(st == MOE_ERR_RANGE, "moe_quantize(%s) of a block holding %s -> %s, want MOE_ERR_RANGE (blocks cannot hold it)",
                          moe_type_name((moe_type)ty), j == 0 ? "NaN" : j == 1 ? "+Inf" : "-Inf", moe_status_string(st));
                }
        }
        free(src); free(dq); free(q);
    }
    formats_new_types();
    group_end();
}

/* ======================================================================================== */
/*                           group: random layers vs float64                                */
/* ======================================================================================== */
static void test_random(void)
{
    /* T, E, k, d_model, d_ff */
    static const int rows[21][5] = {
        {1, 8, 2, 37, 53}, {2, 64, 64, 37, 37}, {7, 64, 6, 130, 100}, {64, 16, 16, 53, 37}, {513, 8, 2, 100, 53},
        {1, 64, 64, 53, 100}, {2, 3, 1, 100, 130}, {7, 1, 1, 37, 53}, {64, 64, 8, 37, 130}, {513, 64, 1, 53, 37},
        {1, 4, 3, 130, 37}, {2, 16, 5, 53, 53}, {7, 8, 8, 100, 37}, {64, 2, 2, 37, 100}, {513, 16, 4, 37, 53},
        {1, 32, 7, 100, 100}, {2, 5, 4, 130, 53}, {7, 64, 32, 53, 37}, {64, 8, 3, 100, 130}, {513, 4, 4, 37, 37},
        {1, 2, 1, 130, 130}};
    int pass, r;
    if (!group_begin("random")) return;
    for (pass = 0; pass < (g_quick ? 1 : 2); pass++)
        for (r = 0; r < 21; r++) {
            spec s = spec_default();
            char label[200];
            int T = rows[r][0], av = r % 7;
            if (g_quick && T == 513) T = 33;
            if (g_quick && T == 64) T = 16;
            s.E = rows[r][1]; s.k = rows[r][2]; s.dm = rows[r][3]; s.dff = rows[r][4];
            s.act = av == 0 ? MOE_ACT_SWIGLU : av <= 2 ? MOE_ACT_GEGLU : av <= 4 ? MOE_ACT_GELU : av == 5 ? MOE_ACT_RELU : MOE_ACT_SWIGLU_OAI;
            s.gelu_tanh = av == 2 || av == 4;
            s.score = (moe_score)((r / 7 + pass) % 3);
            s.norm = (r + pass) % 2;
            s.rscale = r % 3 == 1 ? 2.5f : 1.0f;
            if (s.act == MOE_ACT_SWIGLU_OAI && (r + pass) % 2) { s.alpha = 1.0f; s.limit = 0.5f; }
            s.n_threads = 1 + (r + pass) % 3;
            s.seed = 1000u + (unsigned)r + 100u * (unsigned)pass;
            snprintf(label, sizeof label, "T=%d E=%d k=%d d=%dx%d %s %s norm=%d scale=%g", T, s.E, s.k, s.dm, s.dff,
                     act_name(&s), score_name(s.score), s.norm, (double)s.rscale);
            run_spec(&s, T, 0, label);
        }
    group_end();
}

/* ======================================================================================== */
/*                      group: routing, options of the published models                     */
/* ======================================================================================== */
static void route_expect(model *m, int T, const int *want_ids, const double *want_w, const char *label)
{
    moe_layer L;
    moe_status st = moe_layer_init(&L, &m->cfg, &m->w);
    int k = m->s.k, t, j, bad_i = -1, bad_w = -1;
    size_t ws;
    float *x, *w;
    int *ids;
    void *work;
    rng_t r = rng_make(m->s.seed, 3, 3);
    if (!require(st == MOE_OK, "%s: init %s", label, moe_status_string(st))) return;
    ws = moe_workspace_size(&L, T);
    x = (float *)xmalloc((size_t)T * m->s.dm * sizeof(float));
    w = (float *)xmalloc((size_t)T * k * sizeof(float));
    ids = (int *)xmalloc((size_t)T * k * sizeof(int));
    work = xmalloc(ws);
    for (t = 0; t < T * m->s.dm; t++) x[t] = rng_sym(&r);
    st = moe_route(&L, x, T, ids, w, work, ws);
    for (t = 0; t < T; t++)
        for (j = 0; j < k; j++) {
            if (ids[t * k + j] != want_ids[j] && bad_i < 0) bad_i = t;
            if (want_w && !(fabs((double)w[t * k + j] - want_w[j]) <= 1e-6 * fabs(want_w[j]) + 1e-12) && bad_w < 0) bad_w = t;
        }
    check(st == MOE_OK && bad_i < 0, "%s: moe_route %s, token %d: ids %d %d %d.. want %d %d %d..", label, moe_status_string(st), bad_i,
               bad_i < 0 ? 0 : ids[bad_i * k], bad_i < 0 || k < 2 ? 0 : ids[bad_i * k + 1], bad_i < 0 || k < 3 ? 0 : ids[bad_i * k + 2],
               want_ids[0], k > 1 ? want_ids[1] : -1, k > 2 ? want_ids[2] : -1);
    if (want_w)
        check(bad_w < 0, "%s: token %d: weight %.9g want %.9g", label, bad_w, bad_w < 0 ? 0.0 : (double)w[bad_w * k], want_w[0]);
    free(x); free(w); free(ids); free(work);
}

static void test_routing(void)
{
    int i;
    if (!group_begin("routing")) return;

    /* exact ties: zero router weights -> all scores equal -> ids 0..k-1 */
    {
        static const moe_score sc[3] = {MOE_SCORE_SOFTMAX, MOE_SCORE_SIGMOID, MOE_SCORE_SOFTMAX_TOPK};
        int si, norm;
        for (si = 0; si < 3; si++)
            for (norm = 0; norm < 2; norm++) {
                spec s = spec_default();
                model *m = (model *)xmalloc(sizeof(model));
                int want[8] = {0, 1, 2, 3, 4, 5, 6, 7};
                double ww[8], wv;
                char label[120];
                s.zero_router = 1; s.E = 12; s.k = 5; s.score = sc[si]; s.norm = norm; s.rscale = 2.0f; s.seed = 40;
                if (s.score == MOE_SCORE_SOFTMAX_TOPK || norm) wv = 1.0 / 5;
                else if (s.score == MOE_SCORE_SOFTMAX) wv = 1.0 / 12;
                else wv = 0.5;
                for (i = 0; i < 8; i++) ww[i] = 2.0 * wv;
                model_build(m, &s);
                m->tie_tol = 0;
                snprintf(label, sizeof label, "all-equal scores %s norm=%d", score_name(s.score), norm);
                route_expect(m, 9, want, ww, label);
                run_case(m, 9, 0, 41, label, NULL);
                model_free(m);
                free(m);
            }
    }
    /* ties under groups: all groups tie -> the lowest groups, then the lowest experts */
    {
        int gsc;
        for (gsc = 0; gsc < 2; gsc++) {
            spec s = spec_default();
            model *m = (model *)xmalloc(sizeof(model));
            int want[6] = {0, 1, 2, 3, 4, 5};
            double ww[6];
            char label[120];
            s.zero_router = 1; s.E = 16; s.k = 6; s.n_group = 4; s.topk_group = 2; s.gsc = (moe_group_score)gsc;
            s.score = MOE_SCORE_SIGMOID; s.norm = 1; s.seed = 42;
            for (i = 0; i < 6; i++) ww[i] = 1.0 / 6;
            model_build(m, &s);
            m->tie_tol = 0;
            snprintf(label, sizeof label, "group ties %s", gsc ? "top2_sum" : "max");
            route_expect(m, 5, want, ww, label);
            run_case(m, 5, 0, 43, label, NULL);
            /* a selection bias lifts group 2; the other groups tie */
            m->sb = (float *)mal(m, 16 * sizeof(float));
            for (i = 8; i < 12; i++) m->sb[i] = 1.0f;
            m->w.selection_bias = m->sb;
            m->r_sb = to_ref(m, m->sb, 16);
            le_f32(m->sb, 16);
            {
                int want2[6] = {8, 9, 10, 11, 0, 1};
                snprintf(label, sizeof label, "group ties + selection bias %s", gsc ? "top2_sum" : "max");
                route_expect(m, 5, want2, ww, label);
                run_case(m, 5, 0, 44, label, NULL);
            }
            model_free(m);
            free(m);
        }
    }
    /* selection bias: experts 5 and 6 always selected, weights from the unbiased scores */
    {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        int want[2] = {5, 6};
        s.E = 8; s.k = 2; s.score = MOE_SCORE_SIGMOID; s.norm = 1; s.has_sb = 1; s.seed = 45;
        model_build(m, &s);
        for (i = 0; i < 8; i++) m->sb[i] = 0.0f;
        m->sb[5] = 10.0f; m->sb[6] = 10.0f;
        for (i = 0; i < 8; i++) m->r_sb[i] = m->sb[i];
        le_f32(m->sb, 8);
        {
            /* order of 5 and 6 depends on the token: check the set via run_case only */
            rc_out o;
            int T = 16, t, bad = -1;
            memset(&o, 0, sizeof o);
            o.ids = (int *)xmalloc((size_t)T * 2 * sizeof(int));
            run_case(m, T, 0, 46, "selection bias forces {5,6}", &o);
            for (t = 0; t < T; t++) {
                int a = o.ids[2 * t], b = o.ids[2 * t + 1];
                if (!((a == 5 && b == 6) || (a == 6 && b == 5)) && bad < 0) bad = t;
            }
            check(bad < 0, "selection bias forces {5,6}: token %d got %d %d", bad, bad < 0 ? 0 : o.ids[2 * bad], bad < 0 ? 0 : o.ids[2 * bad + 1]);
            free(o.ids);
        }
        (void)want;
        model_free(m);
        free(m);
    }
    /* router bias: expert 3 always first */
    {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        rc_out o;
        int T = 16, t, bad = -1;
        s.E = 8; s.k = 3; s.has_rb = 1; s.seed = 47; s.score = MOE_SCORE_SOFTMAX; s.norm = 0;
        model_build(m, &s);
        put_le(m->rb + 3, 20.0f); m->r_rb[3] = 20.0;
        memset(&o, 0, sizeof o);
        o.ids = (int *)xmalloc((size_t)T * 3 * sizeof(int));
        run_case(m, T, 0, 48, "router bias +20 on expert 3", &o);
        for (t = 0; t < T; t++) if (o.ids[3 * t] != 3 && bad < 0) bad = t;
        check(bad < 0, "router bias +20 on expert 3: token %d slot 0 = %d", bad, bad < 0 ? 0 : o.ids[3 * bad]);
        free(o.ids);
        model_free(m);
        free(m);
    }
    /* NaN in router_bias or selection_bias: "NaN ranks lowest". The NaN experts include
       expert 0, which a plain `>` scan would keep once it holds the best-so-far slot. */
    {
        int c;
        for (c = 0; c < 8; c++) {
            spec s = spec_default();
            model *m = (model *)xmalloc(sizeof(model));
            rc_out o;
            char label[160];
            int nan_e[4] = {-1, -1, -1, -1}, nn = 0, T = 24, t, j, bad = -1, in_rb = 0, last = 0;
            s.E = 8; s.k = 3; s.seed = 470u + (unsigned)c;
            switch (c) {
            case 0: s.score = MOE_SCORE_SIGMOID; s.has_rb = 1; in_rb = 1; nan_e[nn++] = 0; nan_e[nn++] = 5; break;
            case 1: s.score = MOE_SCORE_SOFTMAX_TOPK; s.has_rb = 1; in_rb = 1; s.k = 2; nan_e[nn++] = 0; break;
            case 2: s.score = MOE_SCORE_SIGMOID; s.has_sb = 1; s.norm = 1; s.rscale = 2.5f; nan_e[nn++] = 0; nan_e[nn++] = 3; break;
            case 3: s.score = MOE_SCORE_SOFTMAX; s.has_sb = 1; s.norm = 0; nan_e[nn++] = 0; break;
            case 4: /* k = E: the NaN expert is still chosen, in the last slot */
                s.E = 4; s.k = 4; s.score = MOE_SCORE_SOFTMAX; s.has_sb = 1; s.norm = 0; nan_e[nn++] = 0; last = 1; break;
            case 5: /* two NaN experts, k = E: both at the end, lower index first */
                s.E = 5; s.k = 5; s.score = MOE_SCORE_SIGMOID; s.has_sb = 1; nan_e[nn++] = 0; nan_e[nn++] = 2; last = 1; break;
            case 6: /* a whole group NaN (DeepSeek-V3 top2_sum) */
                s.E = 16; s.k = 4; s.score = MOE_SCORE_SIGMOID; s.has_sb = 1; s.n_group = 4; s.topk_group = 2;
                s.gsc = MOE_GROUP_TOP2_SUM; nan_e[nn++] = 0; nan_e[nn++] = 1; nan_e[nn++] = 2; nan_e[nn++] = 3; break;
            default: /* one NaN per group, group max */
                s.E = 16; s.k = 4; s.score = MOE_SCORE_SIGMOID; s.has_sb = 1; s.n_group = 4; s.topk_group = 2;
                nan_e[nn++] = 0; nan_e[nn++] = 4; nan_e[nn++] = 8; nan_e[nn++] = 12; break;
            }
            model_build(m, &s);
            for (j = 0; j < nn; j++) {
                if (in_rb) { put_le(m->rb + nan_e[j], NAN); m->r_rb[nan_e[j]] = NAN; }
                else { put_le(m->sb + nan_e[j], NAN); m->r_sb[nan_e[j]] = NAN; }
            }
            snprintf(label, sizeof label, "NaN in %s of expert(s) %d%s %s E=%d k=%d%s", in_rb ? "router_bias" : "selection_bias", nan_e[0],
                     nn > 1 ? ",.." : "", score_name(s.score), s.E, s.k, s.n_group > 1 ? " groups" : "");
            memset(&o, 0, sizeof o);
            o.ids = (int *)xmalloc((size_t)T * s.k * sizeof(int));
            o.w = (float *)xmalloc((size_t)T * s.k * sizeof(float));
            for (t = 0; t < T * s.k; t++) o.ids[t] = -1;
            run_case(m, T, 0, 471, label, &o);
            for (t = 0; t < T && bad < 0; t++)
                for (j = 0; j < s.k; j++) {
                    int e = o.ids[t * s.k + j], isnan_e = 0, q;
                    for (q = 0; q < nn; q++) if (nan_e[q] == e) isnan_e = 1;
                    /* without k = E: never chosen; with it: the NaN experts fill the last slots
                       in index order */
                    if (!last && isnan_e) bad = t;
                    if (last && j >= s.k - nn && e != nan_e[j - (s.k - nn)]) bad = t;
                    if (!(o.w[t * s.k + j] == o.w[t * s.k + j])) bad = t;
                }
            check(bad < 0, "%s: token %d: ids %d %d %d..: a NaN-biased expert ranked above a finite one, or a NaN weight",
                  label, bad, bad < 0 ? 0 : o.ids[bad * s.k], bad < 0 ? 0 : o.ids[bad * s.k + 1], bad < 0 || s.k < 3 ? 0 : o.ids[bad * s.k + 2]);
            free(o.ids); free(o.w);
            model_free(m);
            free(m);
        }
    }
    /* random routing settings, compared token by token */
    {
        static const moe_score sc[3] = {MOE_SCORE_SOFTMAX, MOE_SCORE_SIGMOID, MOE_SCORE_SOFTMAX_TOPK};
        int c;
        for (c = 0; c < 12; c++) {
            spec s = spec_default();
            char label[160];
            s.E = c % 2 ? 64 : 16; s.k = 1 + (c * 5) % (s.E == 64 ? 9 : 16); s.dm = 53; s.dff = 16;
            s.score = sc[c % 3]; s.norm = (c / 3) % 2; s.rscale = c % 4 == 0 ? 16.0f : 1.0f;
            s.has_rb = c % 5 == 1; s.has_sb = c % 3 != 2 && c % 4 == 1;
            s.seed = 500u + (unsigned)c;
            snprintf(label, sizeof label, "routing E=%d k=%d %s norm=%d rb=%d sb=%d scale=%g", s.E, s.k, score_name(s.score), s.norm, s.has_rb, s.has_sb, (double)s.rscale);
            run_spec(&s, g_quick ? 16 : 64, 0, label);
        }
    }
    /* group-limited routing */
    {
        int c;
        for (c = 0; c < 8; c++) {
            spec s = spec_default();
            char label[200];
            s.dm = 64; s.dff = 32; s.seed = 600u + (unsigned)c;
            switch (c) {
            case 0: /* DeepSeek-V3 */
                s.E = 32; s.n_group = 8; s.topk_group = 4; s.gsc = MOE_GROUP_TOP2_SUM; s.score = MOE_SCORE_SIGMOID;
                s.has_sb = 1; s.k = 8; s.norm = 1; s.rscale = 2.5f; break;
            case 1: /* DeepSeek-V2 */
                s.E = 16; s.n_group = 4; s.topk_group = 2; s.gsc = MOE_GROUP_MAX; s.score = MOE_SCORE_SOFTMAX;
                s.k = 4; s.norm = 0; s.rscale = 16.0f; break;
            case 2: /* one group: same as ungrouped */
                s.E = 8; s.n_group = 1; s.topk_group = 1; s.k = 3; break;
            case 3: /* groups of one expert, topk_group = k, max: same as ungrouped */
                s.E = 8; s.n_group = 8; s.topk_group = 3; s.k = 3; break;
            case 4: /* top2_sum with softmax */
                s.E = 24; s.n_group = 6; s.topk_group = 3; s.gsc = MOE_GROUP_TOP2_SUM; s.k = 5; break;
            case 5: /* every group kept */
                s.E = 16; s.n_group = 4; s.topk_group = 4; s.k = 6; s.score = MOE_SCORE_SIGMOID; break;
            case 6: /* k = whole kept groups */
                s.E = 16; s.n_group = 4; s.topk_group = 2; s.k = 8; s.gsc = MOE_GROUP_TOP2_SUM; s.score = MOE_SCORE_SIGMOID; s.has_sb = 1; break;
            default: /* one group kept */
                s.E = 64; s.n_group = 8; s.topk_group = 1; s.k = 4; break;
            }
            snprintf(label, sizeof label, "groups E=%d n_group=%d topk_group=%d %s %s k=%d sb=%d", s.E, s.n_group, s.topk_group,
                     s.gsc == MOE_GROUP_MAX ? "max" : "top2_sum", score_name(s.score), s.k, s.has_sb);
            run_spec(&s, g_quick ? 9 : 64, 0, label);
        }
    }
    /* sigmoid scores near 0, softmax with large logits */
    {
        int c;
        for (c = 0; c < 4; c++) {
            spec s = spec_default();
            model *m = (model *)xmalloc(sizeof(model));
            char label[120];
            s.E = 16; s.k = 4; s.seed = 700u + (unsigned)c;
            if (c < 2) { s.score = MOE_SCORE_SIGMOID; s.has_rb = 1; s.rb_offset = -20.0f; s.norm = c; }
            else { s.score = c == 2 ? MOE_SCORE_SOFTMAX : MOE_SCORE_SIGMOID; s.has_rb = 1; s.rb_offset = c == 2 ? 100.0f : -60.0f; s.norm = 1; }
            model_build(m, &s);
            if (c >= 2) m->tie_tol = 1e-3;
            if (c < 2) snprintf(label, sizeof label, "sigmoid scores near 0 (logits ~ -20) norm=%d", s.norm);
            else snprintf(label, sizeof label, "%s with all logits near %g", score_name(s.score), (double)s.rb_offset);
            run_case(m, 33, 0, 701, label, NULL);
            model_free(m);
            free(m);
        }
    }
    group_end();
}

/* ======================================================================================== */
/*                 group: expert forms, biases, fused, shared, capacity, presets             */
/* ======================================================================================== */
static void test_variants(void)
{
    int c;
    int Ts[3] = {1, 7, 64};
    if (!group_begin("variants")) return;
    if (g_quick) Ts[2] = 16;

    /* biases */
    for (c = 0; c < 5; c++) {
        spec s = spec_default();
        char label[160];
        s.dm = 53; s.dff = 37; s.E = 8; s.k = 3; s.seed = 800u + (unsigned)c;
        s.act = c == 0 ? MOE_ACT_SWIGLU : c == 1 ? MOE_ACT_GEGLU : c == 2 ? MOE_ACT_GELU : c == 3 ? MOE_ACT_RELU : MOE_ACT_SWIGLU_OAI;
        s.has_gb = c != 2 && c != 3; s.has_ub = 1; s.has_db = 1; s.has_rb = c % 2;
        snprintf(label, sizeof label, "biases %s gate_bias=%d up_bias=1 down_bias=1 router_bias=%d", act_name(&s), s.has_gb, s.has_rb);
        run_spec(&s, Ts[c % 3], 0, label);
        run_spec(&s, Ts[(c + 1) % 3], 0, label);
    }
    /* fused gate_up, both layouts, with and without gate_up_bias; compared with separate tensors */
    for (c = 0; c < 8; c++) {
        spec s = spec_default();
        char label[160];
        model *a = (model *)xmalloc(sizeof(model)), *b = (model *)xmalloc(sizeof(model));
        rc_out oa, ob;
        int T = Ts[c % 3], dm;
        s.dm = 37; s.dff = 53; s.E = 6; s.k = 2; s.seed = 900u + (unsigned)c;
        s.act = c < 4 ? MOE_ACT_SWIGLU : MOE_ACT_SWIGLU_OAI;
        if (c >= 6) s.act = MOE_ACT_GEGLU;
        if (s.act == MOE_ACT_SWIGLU_OAI && c == 5) s.limit = 0.4f;
        s.layout = c % 2 ? MOE_GATE_UP_INTERLEAVED : MOE_GATE_UP_HALVES;
        s.has_gb = (c / 2) % 2; s.has_ub = s.has_gb; s.has_db = s.has_gb;
        dm = s.dm;
        model_build(a, &s);
        s.fused = 1;
        model_build(b, &s);
        memset(&oa, 0, sizeof oa);
        memset(&ob, 0, sizeof ob);
        oa.y = (float *)xmalloc((size_t)T * dm * sizeof(float));
        ob.y = (float *)xmalloc((size_t)T * dm * sizeof(float));
        snprintf(label, sizeof label, "fused gate_up %s %s bias=%d T=%d", s.layout ? "interleaved" : "halves", act_name(&s), s.has_gb, T);
        run_case(b, T, 0, 901, label, &ob);
        run_case(a, T, 0, 901, "separate gate/up for the fused comparison", &oa);
        {
            double md = 0, mr = 0;
            int i;
            for (i = 0; i < T * dm; i++) {
                double d = fabs((double)oa.y[i] - ob.y[i]);
                if (!(d <= md)) md = d;
                if (fabs((double)oa.y[i]) > mr) mr = fabs((double)oa.y[i]);
            }
            check(md <= 1e-5 * mr, "%s: fused vs separate differ by %.3g (relative)", label, mr > 0 ? md / mr : md);
        }
        free(oa.y); free(ob.y);
        model_free(a); model_free(b);
        free(a); free(b);
    }
    /* SWIGLU_OAI alpha / limit */
    for (c = 0; c < 4; c++) {
        spec s = spec_default();
        char label[120];
        s.act = MOE_ACT_SWIGLU_OAI; s.E = 8; s.k = 2; s.seed = 950u + (unsigned)c;
        s.alpha = c % 2 ? 1.0f : 1.702f;
        s.limit = c < 2 ? 7.0f : 0.25f;
        snprintf(label, sizeof label, "swiglu_oai alpha=%g limit=%g", (double)s.alpha, (double)s.limit);
        run_spec(&s, 64, 0, label);
    }
    /* weight_on_input (Llama 4) */
    for (c = 0; c < 3; c++) {
        spec s = spec_default();
        char label[120];
        s.woi = 1; s.E = 16; s.seed = 960u + (unsigned)c;
        if (c == 0) { s.score = MOE_SCORE_SIGMOID; s.k = 1; s.norm = 0; s.n_shared = 1; s.dff_sh = 64; }
        else if (c == 1) { s.score = MOE_SCORE_SOFTMAX; s.k = 2; s.norm = 1; s.has_db = 1; }
        else { s.score = MOE_SCORE_SIGMOID; s.k = 3; s.norm = 0; s.act = MOE_ACT_GELU; }
        snprintf(label, sizeof label, "weight_on_input %s k=%d shared=%d", score_name(s.score), s.k, s.n_shared);
        run_spec(&s, Ts[c], 0, label);
        run_spec(&s, 64, 0, label);
    }
    /* shared experts */
    for (c = 0; c < 6; c++) {
        spec s = spec_default();
        char label[160];
        s.E = 8; s.k = 2; s.seed = 970u + (unsigned)c;
        s.n_shared = c < 3 ? 1 : 2;
        s.dff_sh = c == 4 ? 37 : 2 * s.dff;
        s.has_sgw = c % 2 == 0;
        if (c == 5) s.act = MOE_ACT_GELU;
        if (c == 2) s.act = MOE_ACT_RELU;
        snprintf(label, sizeof label, "shared n_shared=%d d_ff_shared=%d gate_w=%d %s", s.n_shared, s.dff_sh, s.has_sgw, act_name(&s));
        run_spec(&s, Ts[c % 3], 0, label);
    }
    /* capacity */
    for (c = 0; c < 5; c++) {
        spec s = spec_default();
        char label[120];
        int cap, T;
        s.E = 8; s.seed = 980u + (unsigned)c;
        switch (c) {
        case 0: s.k = 1; s.norm = 0; s.act = MOE_ACT_RELU; cap = 3; T = 64; break; /* Switch */
        case 1: s.k = 2; cap = 5; T = 64; break;
        case 2: s.k = 2; cap = 64; T = 64; break;  /* never reached */
        case 3: s.k = 3; cap = 1; T = 7; s.n_shared = 1; s.dff_sh = 32; break;
        default: s.k = 8; cap = 2; T = 9; s.score = MOE_SCORE_SIGMOID; break;
        }
        snprintf(label, sizeof label, "capacity=%d T=%d k=%d", cap, T, s.k);
        run_spec(&s, T, cap, label);
    }
    /* per-expert pointers give the same bits as stacked */
    for (c = 0; c < 4; c++) {
        spec s = spec_default();
        model *a = (model *)xmalloc(sizeof(model)), *b = (model *)xmalloc(sizeof(model));
        rc_out oa, ob;
        int T = c == 1 ? 1 : 33, n;
        char label[120];
        s.E = 8; s.k = 2; s.dm = 64; s.dff = 96; s.seed = 990u + (unsigned)c;
        s.has_gb = s.has_ub = s.has_db = c == 0;
        if (c == 1) { s.fused = 1; s.layout = MOE_GATE_UP_INTERLEAVED; s.act = MOE_ACT_SWIGLU_OAI; s.has_gb = 1; }
        if (c == 2) { s.t_gate = MOE_TYPE_Q8_0; s.t_up = MOE_TYPE_Q4_0; s.t_down = MOE_TYPE_F16; }
        if (c == 3) { s.t_gate = MOE_TYPE_BF16; s.t_up = MOE_TYPE_Q8_0; s.t_down = MOE_TYPE_Q4_0; s.n_shared = 1; s.dff_sh = 64; }
        n = T * s.dm;
        model_build(a, &s);
        s.per_expert = 1;
        model_build(b, &s);
        memset(&oa, 0, sizeof oa);
        memset(&ob, 0, sizeof ob);
        oa.y = (float *)xmalloc((size_t)n * sizeof(float));
        ob.y = (float *)xmalloc((size_t)n * sizeof(float));
        snprintf(label, sizeof label, "per-expert pointers case %d T=%d", c, T);
        run_case(a, T, 0, 991, label, &oa);
        run_case(b, T, 0, 991, label, &ob);
        check(memcmp(oa.y, ob.y, (size_t)n * sizeof(float)) == 0, "%s: output differs from stacked", label);
        free(oa.y); free(ob.y);
        model_free(a); model_free(b);
        free(a); free(b);
    }
    /* tiny and ragged shapes: vector tails, one-column rows, one-row matrices */
    for (c = 0; c < 6; c++) {
        static const int sh[6][4] = {{1, 1, 2, 1}, {2, 3, 3, 2}, {5, 1, 4, 4}, {17, 15, 5, 3}, {31, 33, 6, 6}, {3, 65, 7, 1}};
        static const int tt[3] = {1, 5, 40};
        spec s = spec_default();
        char label[120];
        int t;
        s.dm = sh[c][0]; s.dff = sh[c][1]; s.E = sh[c][2]; s.k = sh[c][3]; s.seed = 1050u + (unsigned)c;
        s.act = c % 2 ? MOE_ACT_GEGLU : MOE_ACT_SWIGLU;
        s.has_db = c % 3 == 0; s.has_gb = c % 3 == 1;
        if (c == 5) { s.n_shared = 1; s.dff_sh = 7; s.has_sgw = 1; }
        for (t = 0; t < 3; t++) {
            snprintf(label, sizeof label, "tiny d=%dx%d E=%d k=%d T=%d", s.dm, s.dff, s.E, s.k, tt[t]);
            run_spec(&s, tt[t], 0, label);
        }
    }
    /* the published models' settings */
    for (c = 0; c < 14; c++) {
        spec s = spec_default();
        const char *name = "";
        int t;
        s.seed = 1100u + (unsigned)c;
        s.dm = 64; s.dff = 32;
        switch (c) {
        case 0: name = "Mixtral"; s.E = 8; s.k = 2; break;
        case 1: name = "Qwen2-MoE"; s.E = 16; s.k = 4; s.norm = 0; s.n_shared = 1; s.dff_sh = 128; s.has_sgw = 1; break;
        case 2: name = "Qwen3-MoE"; s.E = 32; s.k = 8; s.norm = 1; break;
        case 3: name = "DeepSeek-V2"; s.E = 32; s.k = 6; s.norm = 0; s.rscale = 16.0f; s.n_group = 8; s.topk_group = 3;
            s.gsc = MOE_GROUP_MAX; s.n_shared = 2; s.dff_sh = 32; break;
        case 4: name = "DeepSeek-V3"; s.E = 64; s.k = 8; s.score = MOE_SCORE_SIGMOID; s.has_sb = 1; s.norm = 1; s.rscale = 2.5f;
            s.n_group = 8; s.topk_group = 4; s.gsc = MOE_GROUP_TOP2_SUM; s.n_shared = 1; s.dff_sh = 32; break;
        case 5: name = "gpt-oss"; s.E = 32; s.k = 4; s.score = MOE_SCORE_SOFTMAX_TOPK; s.has_rb = 1; s.act = MOE_ACT_SWIGLU_OAI;
            s.fused = 1; s.layout = MOE_GATE_UP_INTERLEAVED; s.has_gb = 1; s.has_db = 1; break;
        case 6: name = "Llama4"; s.E = 16; s.k = 1; s.score = MOE_SCORE_SIGMOID; s.norm = 0; s.woi = 1; s.n_shared = 1; s.dff_sh = 64; break;
        case 7: name = "Switch"; s.E = 8; s.k = 1; s.norm = 0; s.act = MOE_ACT_RELU; break;
        case 8: name = "OLMoE"; s.E = 64; s.k = 8; s.norm = 0; break;
        case 9: name = "Granite"; s.E = 32; s.k = 8; s.score = MOE_SCORE_SOFTMAX_TOPK; s.norm = 0; break;
        case 10: name = "Grok-1"; s.E = 8; s.k = 2; s.norm = 0; s.act = MOE_ACT_GEGLU; s.gelu_tanh = 1; break;
        case 11: name = "DBRX"; s.E = 16; s.k = 4; s.norm = 1; break;
        case 12: name = "Jamba"; s.E = 16; s.k = 2; s.norm = 0; break;
        default: name = "DeepSeek-V3 256 experts"; s.E = 256; s.k = 8; s.score = MOE_SCORE_SIGMOID; s.has_sb = 1; s.norm = 1;
            s.rscale = 2.5f; s.n_group = 8; s.topk_group = 4; s.gsc = MOE_GROUP_TOP2_SUM; s.n_shared = 1; s.dff_sh = 32;
            s.dm = 32; s.dff = 16; break;
        }
        for (t = 0; t < 3; t++) {
            char label[80];
            snprintf(label, sizeof label, "%s T=%d", name, Ts[t]);
            run_spec(&s, Ts[t], c == 7 && t == 2 ? 12 : 0, label);
        }
    }
    group_end();
}

/* Build one layer, run it at each T of Ts (n of them) against the reference. */
static void run_spec_Ts(const spec *s, const int *Ts, int n, const char *label)
{
    model *m = (model *)xmalloc(sizeof(model));
    char lab[300];
    int i;
    model_build(m, s);
    for (i = 0; i < n; i++) {
        snprintf(lab, sizeof lab, "%s T=%d", label, Ts[i]);
        run_case(m, Ts[i], 0, s->seed * 31u + (unsigned long long)Ts[i], lab, NULL);
    }
    model_free(m);
    free(m);
}
/* The newer types (K-quants, MXFP4, FP8 E4M3) in layers. Experts with more than 8 tokens
   decode them to f32 (f32 rounding against the reference on the dequantised weights); with
   1..8 tokens the K-quants and MXFP4 run the integer kernels (class q8_K/int) and FP8 its
   one-token kernel or decoded rows. K types need
   d_model, d_ff (and d_ff_shared) multiples of 256, MXFP4 of 32; FP8 takes odd sizes (the SIMD
   decoders' tails). --quick (valgrind, qemu, make check) runs fewer and smaller layers: 2 experts,
   top-1, T = 1, 5, 24, shared experts and the fused layouts for 4 of the types, 2 mixed layers. */
static void types_new(void)
{
    int Ts[3] = {1, 5, 40}, ti, lay, c;
    if (g_quick) Ts[2] = 24;   /* 2 experts, top-1: still about 12 tokens an expert, and 24 for the shared one */
    for (ti = 0; ti < 7; ti++) {
        moe_type ty = g_new_types[ti];
        spec s = spec_default();
        char label[200];
        s.E = g_quick ? 2 : 4; s.k = g_quick ? 1 : 2; s.seed = 2100u + (unsigned)ti * 10u;
        if (is_ktype(ty)) { s.dm = 256; s.dff = 256; s.dff_sh = 256; }
        else if (ty == MOE_TYPE_MXFP4) { s.dm = 256; s.dff = 160; s.dff_sh = 96; }
        else { s.dm = 200; s.dff = 136; s.dff_sh = 72; }
        s.t_router = s.t_gate = s.t_up = s.t_down = s.t_gate_up = s.t_sgate = s.t_sup = s.t_sdown = ty;
        s.n_shared = g_quick && ti % 2 ? 0 : 1; s.has_sgw = s.n_shared;
        snprintf(label, sizeof label, "all %s (router, gate, up, down%s) %dx%d", moe_type_name(ty), s.n_shared ? ", shared" : "", s.dm, s.dff);
        run_spec_Ts(&s, Ts, 3, label);
        for (lay = 0; lay < 2; lay++) {   /* fused gate_up, both layouts (--quick: one, by turns) */
            spec f = s;
            if (g_quick && ((lay + ti) % 2 || !(ti == 0 || ti >= 4))) continue;
            f.n_shared = 0; f.has_sgw = 0; f.E = g_quick ? 2 : 3;
            f.fused = 1; f.layout = lay ? MOE_GATE_UP_INTERLEAVED : MOE_GATE_UP_HALVES;
            f.act = MOE_ACT_SWIGLU_OAI; f.has_gb = 1; f.has_db = 1; f.score = MOE_SCORE_SOFTMAX_TOPK; f.has_rb = 1;
            f.seed = s.seed + 1u + (unsigned)lay;
            snprintf(label, sizeof label, "%s fused gate_up %s swiglu_oai", moe_type_name(ty), lay ? "interleaved" : "halves");
            run_spec_Ts(&f, Ts + ((lay + ti) % 2 ? 1 : 2), 1, label);   /* T = 5 or 40: each layout on both kernels */
        }
    }
    for (c = 0; c < (g_quick ? 2 : 3); c++) {   /* mixed types in one layer */
        spec s = spec_default();
        char label[240];
        s.E = g_quick ? 2 : 4; s.k = g_quick ? 1 : 2; s.dm = 256; s.dff = 256; s.seed = 2200u + (unsigned)c;
        switch (c) {
        case 0: s.t_router = MOE_TYPE_Q6_K; s.t_gate = MOE_TYPE_Q4_K; s.t_up = MOE_TYPE_Q5_K; s.t_down = MOE_TYPE_Q2_K;
            s.n_shared = 1; s.dff_sh = 256; s.t_sgate = MOE_TYPE_Q3_K; s.t_sup = MOE_TYPE_MXFP4; s.t_sdown = MOE_TYPE_F8_E4M3; break;
        case 1: s.t_router = MOE_TYPE_F8_E4M3; s.t_gate = MOE_TYPE_MXFP4; s.t_up = MOE_TYPE_Q4_0; s.t_down = MOE_TYPE_Q6_K;
            s.act = MOE_ACT_GEGLU; break;
        default: s.t_router = MOE_TYPE_BF16; s.fused = 1; s.layout = MOE_GATE_UP_INTERLEAVED; s.t_gate_up = MOE_TYPE_Q3_K;
            s.t_down = MOE_TYPE_Q8_0; s.n_shared = 1; s.dff_sh = 256; s.t_sgate = MOE_TYPE_F16; s.t_sup = MOE_TYPE_Q5_K; s.t_sdown = MOE_TYPE_Q4_K; break;
        }
        snprintf(label, sizeof label, "mixed new types case %d (router %s gate %s up %s down %s%s%s)", c, moe_type_name(s.t_router),
                 moe_type_name(s.fused ? s.t_gate_up : s.t_gate), moe_type_name(s.fused ? s.t_gate_up : s.t_up), moe_type_name(s.t_down),
                 s.n_shared ? " shared " : "", s.n_shared ? moe_type_name(s.t_sdown) : "");
        run_spec_Ts(&s, Ts, 3, label);
    }
}

/* ======================================================================================== */
/*                         group: weight types, each tensor its own                          */
/* ======================================================================================== */
static void test_types(void)
{
    int t, ti, c;
    int Ts[3] = {1, 7, 64};
    if (!group_begin("types")) return;
    if (g_quick) Ts[2] = 16;
    for (t = MOE_TYPE_F16; t <= MOE_TYPE_Q4_0; t++) {
        moe_type ty = (moe_type)t;
        for (ti = 0; ti < 3; ti++) {
            spec s = spec_default();
            char label[160];
            s.dm = 64; s.dff = 96; s.E = 8; s.k = 2; s.seed = 1200u + (unsigned)(t * 10 + ti);
            s.t_router = s.t_gate = s.t_up = s.t_down = s.t_gate_up = s.t_sgate = s.t_sup = s.t_sdown = ty;
            if (ti == 1) { s.n_shared = 1; s.dff_sh = 64; s.has_sgw = 1; s.act = MOE_ACT_GEGLU; }
            if (ti == 2) { s.fused = 1; s.layout = MOE_GATE_UP_INTERLEAVED; s.act = MOE_ACT_SWIGLU_OAI; s.has_gb = 1; s.has_db = 1;
                s.score = MOE_SCORE_SOFTMAX_TOPK; s.has_rb = 1; }
            snprintf(label, sizeof label, "all %s T=%d %s%s", moe_type_name(ty), Ts[ti], act_name(&s), ti == 1 ? " +shared" : ti == 2 ? " fused" : "");
            run_spec(&s, Ts[ti], 0, label);
            if (ti == 0) { snprintf(label, sizeof label, "all %s T=%d", moe_type_name(ty), Ts[2]); run_spec(&s, Ts[2], 0, label); }
        }
    }
    for (c = 0; c < 5; c++) {
        spec s = spec_default();
        char label[160];
        s.dm = 64; s.dff = 96; s.E = 8; s.k = 3; s.seed = 1300u + (unsigned)c;
        switch (c) {
        case 0: s.t_router = MOE_TYPE_BF16; s.t_gate = MOE_TYPE_Q8_0; s.t_up = MOE_TYPE_Q4_0; s.t_down = MOE_TYPE_F16;
            s.n_shared = 1; s.dff_sh = 32; s.t_sgate = MOE_TYPE_F16; s.t_sup = MOE_TYPE_Q8_0; s.t_sdown = MOE_TYPE_BF16; break;
        case 1: s.t_router = MOE_TYPE_Q8_0; s.t_gate = MOE_TYPE_F32; s.t_up = MOE_TYPE_BF16; s.t_down = MOE_TYPE_Q4_0; break;
        case 2: s.t_router = MOE_TYPE_F16; s.fused = 1; s.t_gate_up = MOE_TYPE_Q8_0; s.t_down = MOE_TYPE_Q8_0;
            s.act = MOE_ACT_SWIGLU_OAI; s.layout = MOE_GATE_UP_INTERLEAVED; s.has_gb = 1; s.has_db = 1; break;
        case 3: s.dm = 128; s.dff = 160; s.E = 16; s.k = 4; s.t_router = MOE_TYPE_Q4_0; s.t_gate = s.t_up = s.t_down = MOE_TYPE_Q4_0;
            s.act = MOE_ACT_GEGLU; break;
        default: s.t_router = MOE_TYPE_F32; s.t_gate = MOE_TYPE_F16; s.t_up = MOE_TYPE_F16; s.t_down = MOE_TYPE_BF16;
            s.score = MOE_SCORE_SIGMOID; s.has_sb = 1; s.n_group = 4; s.topk_group = 2; s.gsc = MOE_GROUP_TOP2_SUM; break;
        }
        for (ti = 0; ti < 3; ti++) {
            snprintf(label, sizeof label, "mixed types case %d (router %s gate %s up %s down %s) T=%d", c, moe_type_name(s.t_router),
                     moe_type_name(s.fused ? s.t_gate_up : s.t_gate), moe_type_name(s.fused ? s.t_gate_up : s.t_up), moe_type_name(s.t_down), Ts[ti]);
            run_spec(&s, Ts[ti], 0, label);
        }
    }
    types_new();
    group_end();
}

/* ======================================================================================== */
/*                                   group: errors                                          */
/* ======================================================================================== */
static float g_dummy[256];

static void expect_init(const moe_config *c, const moe_weights *w, moe_status want, const char *what)
{
    moe_layer L;
    moe_status st = moe_layer_init(&L, c, w);
    check(st == want, "%s: moe_layer_init -> %s (%d), expected %s", what, moe_status_string(st), (int)st, moe_status_string(want));
}
#define SET_INT_FIELD(field, v)                                                              \
    do {                                                                                     \
        int v_ = (v);                                                                        \
        if (sizeof(field) == sizeof(int)) memcpy(&(field), &v_, sizeof v_);                  \
    } while (0)

static void test_errors(void)
{
    spec s = spec_default();
    model *m = (model *)xmalloc(sizeof(model));
    moe_layer L, Z;
    moe_config c;
    moe_weights w;
    moe_status st;
    moe_run_opts o;
    size_t ws;
    int T = 3, i;
    float *x, *y;
    int *ids;
    float *wt;
    void *work;
    if (!group_begin("errors")) { free(m); return; }
    s.dm = 64; s.dff = 64; s.E = 4; s.k = 2; s.seed = 1400;
    model_build(m, &s);
    st = moe_layer_init(&L, &m->cfg, &m->w);
    require(st == MOE_OK, "base layer: %s", moe_status_string(st));
    ws = moe_workspace_size(&L, T);
    require(ws > 0, "base layer workspace 0");
    x = (float *)xcalloc((size_t)T * 64 * sizeof(float));
    y = (float *)xcalloc((size_t)T * 64 * sizeof(float));
    ids = (int *)xcalloc((size_t)T * 2 * sizeof(int));
    wt = (float *)xcalloc((size_t)T * 2 * sizeof(float));
    work = xcalloc(ws + 16);
    for (i = 0; i < T * 64; i++) x[i] = (float)((i % 7) - 3) * 0.1f;

    /* NULL */
    check(moe_layer_init(NULL, &m->cfg, &m->w) == MOE_ERR_NULL, "init(layer NULL) != MOE_ERR_NULL");
    check(moe_layer_init(&Z, NULL, &m->w) == MOE_ERR_NULL, "init(cfg NULL) != MOE_ERR_NULL");
    check(moe_layer_init(&Z, &m->cfg, NULL) == MOE_ERR_NULL, "init(weights NULL) != MOE_ERR_NULL");
    check(moe_forward(NULL, x, T, y, work, ws) == MOE_ERR_NULL, "forward(layer NULL) != MOE_ERR_NULL");
    check(moe_forward(&L, NULL, T, y, work, ws) == MOE_ERR_NULL, "forward(x NULL) != MOE_ERR_NULL");
    check(moe_forward(&L, x, T, NULL, work, ws) == MOE_ERR_NULL, "forward(y NULL) != MOE_ERR_NULL");
    check(moe_forward(&L, x, T, y, NULL, ws) == MOE_ERR_NULL, "forward(work NULL) != MOE_ERR_NULL");
    check(moe_route(NULL, x, T, ids, wt, work, ws) == MOE_ERR_NULL, "route(layer NULL) != MOE_ERR_NULL");
    check(moe_route(&L, NULL, T, ids, wt, work, ws) == MOE_ERR_NULL, "route(x NULL) != MOE_ERR_NULL");
    check(moe_route(&L, x, T, ids, wt, NULL, ws) == MOE_ERR_NULL, "route(work NULL) != MOE_ERR_NULL");
    memset(&o, 0, sizeof o);
    check(moe_forward_ex(&L, x, T, y, NULL, ws, &o) == MOE_ERR_NULL, "forward_ex(work NULL) != MOE_ERR_NULL");
    check(moe_workspace_size(NULL, 1) == 0, "moe_workspace_size(NULL) != 0");
    /* route with only one of ids / weights */
    {
        int *ids2 = (int *)xcalloc((size_t)T * 2 * sizeof(int));
        float *w2 = (float *)xcalloc((size_t)T * 2 * sizeof(float));
        st = moe_route(&L, x, T, ids, wt, work, ws);
        check(st == MOE_OK, "route: %s", moe_status_string(st));
        st = moe_route(&L, x, T, ids2, NULL, work, ws);
        check(st == MOE_OK && memcmp(ids, ids2, (size_t)T * 2 * sizeof(int)) == 0, "route(weights NULL): %s or different ids", moe_status_string(st));
        st = moe_route(&L, x, T, NULL, w2, work, ws);
        check(st == MOE_OK && memcmp(wt, w2, (size_t)T * 2 * sizeof(float)) == 0, "route(ids NULL): %s or different weights", moe_status_string(st));
        free(ids2); free(w2);
    }

    /* CONFIG */
    w = m->w;
    c = m->cfg; c.d_model = 0; expect_init(&c, &w, MOE_ERR_CONFIG, "d_model 0");
    c = m->cfg; c.d_model = -64; expect_init(&c, &w, MOE_ERR_CONFIG, "d_model -64");
    c = m->cfg; c.d_ff = 0; expect_init(&c, &w, MOE_ERR_CONFIG, "d_ff 0");
    c = m->cfg; c.d_ff = -1; expect_init(&c, &w, MOE_ERR_CONFIG, "d_ff -1");
    c = m->cfg; c.n_experts = 0; expect_init(&c, &w, MOE_ERR_CONFIG, "n_experts 0");
    c = m->cfg; c.n_experts = -4; expect_init(&c, &w, MOE_ERR_CONFIG, "n_experts -4");
    c = m->cfg; c.top_k = 0; expect_init(&c, &w, MOE_ERR_CONFIG, "top_k 0");
    c = m->cfg; c.top_k = -1; expect_init(&c, &w, MOE_ERR_CONFIG, "top_k -1");
    c = m->cfg; c.top_k = 5; expect_init(&c, &w, MOE_ERR_CONFIG, "top_k 5 > n_experts 4");
    c = m->cfg; SET_INT_FIELD(c.act, 99); expect_init(&c, &w, MOE_ERR_CONFIG, "act 99");
    c = m->cfg; SET_INT_FIELD(c.act, -1); expect_init(&c, &w, MOE_ERR_CONFIG, "act -1");
    c = m->cfg; SET_INT_FIELD(c.score, 3); expect_init(&c, &w, MOE_ERR_CONFIG, "score 3");
    c = m->cfg; SET_INT_FIELD(c.score, 1000); expect_init(&c, &w, MOE_ERR_CONFIG, "score 1000");
    c = m->cfg; SET_INT_FIELD(c.batch_quant, 3); expect_init(&c, &w, MOE_ERR_CONFIG, "batch_quant 3");
    c = m->cfg; SET_INT_FIELD(c.batch_bf16, 2); expect_init(&c, &w, MOE_ERR_CONFIG, "batch_bf16 2");
    c = m->cfg; SET_INT_FIELD(c.batch_bf16, -1); expect_init(&c, &w, MOE_ERR_CONFIG, "batch_bf16 -1");
    c = m->cfg; c.n_group = 2; c.topk_group = 1; SET_INT_FIELD(c.group_score, 7); expect_init(&c, &w, MOE_ERR_CONFIG, "group_score 7");
    c = m->cfg; c.n_group = 2; c.topk_group = 0; expect_init(&c, &w, MOE_ERR_CONFIG, "n_group 2 topk_group 0");
    c = m->cfg; c.n_group = 2; c.topk_group = 3; expect_init(&c, &w, MOE_ERR_CONFIG, "n_group 2 topk_group 3");
    c = m->cfg; c.n_group = 2; c.topk_group = -1; expect_init(&c, &w, MOE_ERR_CONFIG, "n_group 2 topk_group -1");
    c = m->cfg; c.n_group = 3; c.topk_group = 1; expect_init(&c, &w, MOE_ERR_CONFIG, "n_group 3 does not divide 4");
    c = m->cfg; c.n_group = 4; c.topk_group = 1; c.top_k = 2; expect_init(&c, &w, MOE_ERR_CONFIG, "topk_group*group size 1 < top_k 2");
    c = m->cfg; c.n_group = 8; c.topk_group = 8; expect_init(&c, &w, MOE_ERR_CONFIG, "n_group 8 > n_experts 4");
    c = m->cfg; c.n_threads = -1; expect_init(&c, &w, MOE_ERR_CONFIG, "n_threads -1");
    c = m->cfg; c.n_shared = -1; expect_init(&c, &w, MOE_ERR_CONFIG, "n_shared -1");
    c = m->cfg; c.n_shared = 1; c.d_ff_shared = 0; w.shared_gate.data = g_dummy; w.shared_up.data = g_dummy; w.shared_down.data = g_dummy;
    expect_init(&c, &w, MOE_ERR_CONFIG, "n_shared 1 d_ff_shared 0");
    w = m->w;

    /* WEIGHTS */
    w = m->w; w.router.data = NULL; expect_init(&m->cfg, &w, MOE_ERR_WEIGHTS, "router missing");
    w = m->w; w.up.data = NULL; expect_init(&m->cfg, &w, MOE_ERR_WEIGHTS, "up missing");
    w = m->w; w.down.data = NULL; expect_init(&m->cfg, &w, MOE_ERR_WEIGHTS, "down missing");
    w = m->w; w.gate.data = NULL; expect_init(&m->cfg, &w, MOE_ERR_WEIGHTS, "gate missing (swiglu)");
    c = m->cfg; c.act = MOE_ACT_GEGLU; w = m->w; w.gate.data = NULL; expect_init(&c, &w, MOE_ERR_WEIGHTS, "gate missing (geglu)");
    c = m->cfg; c.act = MOE_ACT_GELU; w = m->w; w.gate.data = NULL; expect_init(&c, &w, MOE_OK, "gate absent (gelu)");
    c = m->cfg; c.act = MOE_ACT_RELU; w = m->w; w.gate.data = NULL; expect_init(&c, &w, MOE_OK, "gate absent (relu)");
    c = m->cfg; c.n_shared = 1; c.d_ff_shared = 32; w = m->w; expect_init(&c, &w, MOE_ERR_WEIGHTS, "shared tensors missing");
    c = m->cfg; c.n_shared = 1; c.d_ff_shared = 32; w = m->w; w.shared_up.data = g_dummy; w.shared_down.data = g_dummy;
    expect_init(&c, &w, MOE_ERR_WEIGHTS, "shared_gate missing (swiglu)");
    w.shared_gate.data = g_dummy; expect_init(&c, &w, MOE_OK, "shared complete");
    w = m->w; SET_INT_FIELD(w.up.type, 99); expect_init(&m->cfg, &w, MOE_ERR_WEIGHTS, "up type 99");
    w = m->w; SET_INT_FIELD(w.router.type, (int)MOE_TYPE_COUNT); expect_init(&m->cfg, &w, MOE_ERR_WEIGHTS, "router type MOE_TYPE_COUNT");
    /* rows that are not a whole number of blocks */
    c = m->cfg; c.d_model = 48; w = m->w; w.router.type = MOE_TYPE_F32;
    w.gate.type = MOE_TYPE_Q8_0; expect_init(&c, &w, MOE_ERR_WEIGHTS, "Q8_0 gate with d_model 48");
    w = m->w; w.up.type = MOE_TYPE_Q4_0; expect_init(&c, &w, MOE_ERR_WEIGHTS, "Q4_0 up with d_model 48");
    w = m->w; w.router.type = MOE_TYPE_Q8_0; expect_init(&c, &w, MOE_ERR_WEIGHTS, "Q8_0 router with d_model 48");
    c = m->cfg; c.d_ff = 40; w = m->w; w.down.type = MOE_TYPE_Q4_0; expect_init(&c, &w, MOE_ERR_WEIGHTS, "Q4_0 down with d_ff 40");
    c = m->cfg; c.d_ff = 40; w = m->w; w.down.type = MOE_TYPE_Q8_0; expect_init(&c, &w, MOE_ERR_WEIGHTS, "Q8_0 down with d_ff 40");
    c = m->cfg; c.d_model = 48; w = m->w; w.gate.data = NULL; w.up.data = NULL; w.gate_up.data = g_dummy; w.gate_up.type = MOE_TYPE_Q8_0;
    expect_init(&c, &w, MOE_ERR_WEIGHTS, "Q8_0 gate_up with d_model 48");
    c = m->cfg; c.n_shared = 1; c.d_ff_shared = 40; w = m->w; w.shared_gate.data = w.shared_up.data = w.shared_down.data = g_dummy;
    w.shared_down.type = MOE_TYPE_Q8_0; expect_init(&c, &w, MOE_ERR_WEIGHTS, "Q8_0 shared_down with d_ff_shared 40");
    c = m->cfg; c.d_model = 48; w = m->w; expect_init(&c, &w, MOE_OK, "F32 with d_model 48 (control)");
    w = m->w; w.up.data = (const unsigned char *)m->w.up.data + 2; expect_init(&m->cfg, &w, MOE_ERR_ALIGN, "F32 up data not float-aligned");

    /* sizes that overflow: refused by init, or workspace 0; nothing is read at init */
    {
        const void *ptrs[64];
        moe_layer B;
        size_t w1 = 0, wbig = 0;
        for (i = 0; i < 64; i++) ptrs[i] = g_dummy;
        c = m->cfg; c.d_model = INT_MAX / 2; c.d_ff = INT_MAX / 2; c.n_experts = 64; c.top_k = 2;
        memset(&w, 0, sizeof w);
        w.router.data = w.gate.data = w.up.data = w.down.data = g_dummy;
        st = moe_layer_init(&B, &c, &w);
        if (st == MOE_OK) { w1 = moe_workspace_size(&B, 1); wbig = moe_workspace_size(&B, INT_MAX); }
        check(st != MOE_OK || w1 == 0, "d_model = d_ff = INT_MAX/2, 64 stacked experts: init OK and workspace(1) = %lu", (unsigned long)w1);
        check(st != MOE_OK || wbig == 0, "d_model = d_ff = INT_MAX/2: workspace(INT_MAX) = %lu", (unsigned long)wbig);
        /* per-expert pointers: no stacked size to overflow; the workspace must still be sane */
        c.top_k = 64;
        memset(&w, 0, sizeof w);
        w.router.data = g_dummy;
        w.gate.expert_data = w.up.expert_data = w.down.expert_data = ptrs;
        st = moe_layer_init(&B, &c, &w);
        {   /* refused, or workspace(INT_MAX) 0 and a 64-byte workspace refused */
            moe_status sf = MOE_ERR_ARG;
            wbig = 0;
            if (st == MOE_OK) {
                wbig = moe_workspace_size(&B, INT_MAX);
                (void)moe_workspace_size(&B, 1);
                sf = moe_forward(&B, x, 1, y, work, 64);
            }
            check(st != MOE_OK || (wbig == 0 && sf != MOE_OK), "INT_MAX/2 per-expert, top_k 64: init OK, workspace(INT_MAX) = %lu (want 0), forward with a 64-byte workspace -> %s",
                  (unsigned long)wbig, moe_status_string(sf));
        }
        /* many experts */
        c = m->cfg; c.n_experts = INT_MAX; c.top_k = 2;
        w = m->w;
        st = moe_layer_init(&B, &c, &w);
        wbig = st == MOE_OK ? moe_workspace_size(&B, INT_MAX) : 0;
        check(st != MOE_OK || wbig == 0, "n_experts INT_MAX: init OK and workspace(INT_MAX) = %lu, want 0", (unsigned long)wbig);
    }

    /* ARG */
    check(moe_forward(&L, x, 0, y, work, ws) == MOE_ERR_ARG, "forward(n_tokens 0) != MOE_ERR_ARG");
    check(moe_forward(&L, x, -3, y, work, ws) == MOE_ERR_ARG, "forward(n_tokens -3) != MOE_ERR_ARG");
    check(moe_route(&L, x, 0, ids, wt, work, ws) == MOE_ERR_ARG, "route(n_tokens 0) != MOE_ERR_ARG");
    check(moe_workspace_size(&L, 0) == 0, "workspace(0) != 0");
    check(moe_workspace_size(&L, -1) == 0, "workspace(-1) != 0");
    check(moe_workspace_size(&L, INT_MIN) == 0, "workspace(INT_MIN) != 0");
    memset(&o, 0, sizeof o); o.capacity = -1;
    check(moe_forward_ex(&L, x, T, y, work, ws, &o) == MOE_ERR_ARG, "capacity -1 != MOE_ERR_ARG");

    /* WORKSPACE: one byte short, output untouched; exact size works */
    for (i = 0; i < T * 64; i++) y[i] = -777.0f;
    st = moe_forward(&L, x, T, y, work, ws - 1);
    {
        int untouched = 1;
        for (i = 0; i < T * 64; i++) if (y[i] != -777.0f) untouched = 0;
        check(st == MOE_ERR_WORKSPACE, "workspace one byte short -> %s", moe_status_string(st));
        check(untouched, "workspace one byte short: y was written");
    }
    st = moe_forward(&L, x, T, y, work, 0);
    check(st == MOE_ERR_WORKSPACE, "workspace size 0 -> %s", moe_status_string(st));
    for (i = 0; i < T * 2; i++) ids[i] = -9;
    st = moe_route(&L, x, T, ids, wt, work, ws - 1);
    check(st == MOE_ERR_WORKSPACE && ids[0] == -9 && ids[T * 2 - 1] == -9, "route: workspace one byte short -> %s, ids written %d", moe_status_string(st), ids[0]);
    st = moe_forward(&L, x, T, y, work, ws);
    check(st == MOE_OK, "exact workspace -> %s", moe_status_string(st));

    /* LAYER */
    memset(&Z, 0, sizeof Z);
    check(moe_forward(&Z, x, T, y, work, ws) == MOE_ERR_LAYER, "zeroed layer: forward != MOE_ERR_LAYER");
    check(moe_route(&Z, x, T, ids, wt, work, ws) == MOE_ERR_LAYER, "zeroed layer: route != MOE_ERR_LAYER");
    check(moe_workspace_size(&Z, T) == 0, "zeroed layer: workspace != 0");
    memset(&Z, 0x5A, sizeof Z);
    check(moe_forward(&Z, x, T, y, work, ws) == MOE_ERR_LAYER, "garbage layer (0x5A): forward != MOE_ERR_LAYER");

    /* THREADS */
    memset(&o, 0, sizeof o);
    o.n_threads = L.n_threads + 1;
    st = moe_forward_ex(&L, x, T, y, work, ws, &o);
    check(st == MOE_ERR_THREADS, "opts.n_threads %d > layer's %d -> %s", o.n_threads, L.n_threads, moe_status_string(st));

    /* status strings */
    {
        int v;
        for (v = -3; v <= 40; v++) {
            moe_status sv = MOE_OK;
            const char *str;
            SET_INT_FIELD(sv, v);
            str = moe_status_string(sv);
            check(str != NULL && str[0] != 0, "moe_status_string(%d) NULL or empty", v);
        }
        for (v = 0; v <= (int)MOE_ERR_THREADS; v++) {
            int u, distinct = 1;
            for (u = 0; u < v; u++) if (strcmp(moe_status_string((moe_status)u), moe_status_string((moe_status)v)) == 0) distinct = 0;
            check(distinct, "moe_status_string(%d) repeats another code's string", v);
        }
        {
            moe_status sv = MOE_OK;
            SET_INT_FIELD(sv, INT_MAX);
            check(moe_status_string(sv) != NULL, "moe_status_string(INT_MAX) NULL");
            SET_INT_FIELD(sv, INT_MIN);
            check(moe_status_string(sv) != NULL, "moe_status_string(INT_MIN) NULL");
        }
    }
    free(x); free(y); free(ids); free(wt); free(work);
    model_free(m);
    free(m);
    group_end();
}

/* ======================================================================================== */
/*        group: hardening - regressions for the fixes of the hardening issue (0.2.0)        */
/* ======================================================================================== */
static int contains(const char *hay, const char *needle) { return hay != NULL && strstr(hay, needle) != NULL; }

/* moe_layer_init must refuse, with `want` (or one of two), and moe_layer_error must name `who` */
static void expect_refused(const moe_config *c, const moe_weights *w, moe_status want, moe_status or_want, const char *who,
                           const char *also, const char *what)
{
    moe_layer L;
    moe_status st;
    const char *msg;
    memset(&L, 0x5A, sizeof L);
    st = moe_layer_init(&L, c, w);
    msg = moe_layer_error(&L);
    check(st == want || st == or_want, "%s: moe_layer_init -> %s, expected %s", what, moe_status_string(st), moe_status_string(want));
    check(msg != NULL && contains(msg, who) && (!also || contains(msg, also)), "%s: moe_layer_error = \"%s\", should name %s%s%s", what,
          msg ? msg : "(null)", who, also ? " and " : "", also ? also : "");
    if (st != MOE_OK) check(moe_workspace_size(&L, 1) == 0, "%s: refused layer has a workspace size", what);
}

static void test_hardening(void)
{
    spec s = spec_default();
    model *m = (model *)xmalloc(sizeof(model));
    moe_layer L;
    moe_config c;
    moe_weights w;
    moe_status st;
    int i;
    const size_t big = (size_t)1 << (sizeof(size_t) * CHAR_BIT - 2);   /* 2^62 on 64-bit hosts */
    if (!group_begin("hardening")) { free(m); return; }
    s.dm = 64; s.dff = 64; s.E = 4; s.k = 2; s.seed = 1900;
    model_build(m, &s);
    if (!require(m->ok, "base model")) { model_free(m); free(m); group_end(); return; }

    /* moe_weights_default: every tensor absent, F32, halves, every bias NULL */
    {
        moe_weights d = moe_weights_default();
        const moe_tensor *ts[8];
        int bad = 0;
        ts[0] = &d.router; ts[1] = &d.gate; ts[2] = &d.up; ts[3] = &d.down; ts[4] = &d.gate_up;
        ts[5] = &d.shared_gate; ts[6] = &d.shared_up; ts[7] = &d.shared_down;
        for (i = 0; i < 8; i++) if (ts[i]->data || ts[i]->expert_data || ts[i]->type != MOE_TYPE_F32) bad = 1;
        if (d.router_bias || d.selection_bias || d.gate_bias || d.up_bias || d.gate_up_bias || d.down_bias || d.shared_gate_w) bad = 1;
        check(!bad && d.gate_up_layout == MOE_GATE_UP_HALVES, "moe_weights_default: a tensor present, a type not f32, a bias set or layout not halves");
    }

    /* moe_quantize / moe_dequantize: n_rows * n_cols * sizeof(float) overflows -> refused
       before any memory is touched (src and dst are 64 floats; dst must stay as it was) */
    {
        float src[64], dst[64];
        unsigned char q[256];
        int t, intact = 1;
        for (i = 0; i < 64; i++) src[i] = 0.25f;
        memset(q, 0x5C, sizeof q);
        for (i = 0; i < 64; i++) dst[i] = -3.0f;
        st = moe_quantize(MOE_TYPE_Q4_0, src, q, 1, big);
        for (i = 0; i < (int)sizeof q; i++) if (q[i] != 0x5C) intact = 0;
        check((st == MOE_ERR_OVERFLOW || st == MOE_ERR_ARG) && intact, "moe_quantize(Q4_0, 1 x 2^%d columns) -> %s, dst %s", (int)(sizeof(size_t) * CHAR_BIT - 2),
              moe_status_string(st), intact ? "untouched" : "written");
        st = moe_dequantize(MOE_TYPE_Q4_0, q, dst, 1, big);
        for (i = 0; i < 64; i++) if (dst[i] != -3.0f) intact = 0;
        check((st == MOE_ERR_OVERFLOW || st == MOE_ERR_ARG) && intact, "moe_dequantize(Q4_0, 1 x 2^%d columns) -> %s, dst %s", (int)(sizeof(size_t) * CHAR_BIT - 2),
              moe_status_string(st), intact ? "untouched" : "written");
        for (t = MOE_TYPE_F16; t <= MOE_TYPE_BF16; t++) {
            size_t half = (size_t)1 << (sizeof(size_t) * CHAR_BIT / 2 - 1);   /* 2^31: rows * cols = 2^62 */
            st = moe_quantize((moe_type)t, src, q, half, half);
            for (i = 0; i < (int)sizeof q; i++) if (q[i] != 0x5C) intact = 0;
            check((st == MOE_ERR_OVERFLOW || st == MOE_ERR_ARG) && intact, "moe_quantize(%s, 2^%d x 2^%d) -> %s, dst %s", moe_type_name((moe_type)t),
                  (int)(sizeof(size_t) * CHAR_BIT / 2 - 1), (int)(sizeof(size_t) * CHAR_BIT / 2 - 1), moe_status_string(st), intact ? "untouched" : "written");
            st = moe_dequantize((moe_type)t, q, dst, half, half);
            for (i = 0; i < 64; i++) if (dst[i] != -3.0f) intact = 0;
            check((st == MOE_ERR_OVERFLOW || st == MOE_ERR_ARG) && intact, "moe_dequantize(%s, 2^%d x 2^%d) -> %s, dst %s", moe_type_name((moe_type)t),
                  (int)(sizeof(size_t) * CHAR_BIT / 2 - 1), (int)(sizeof(size_t) * CHAR_BIT / 2 - 1), moe_status_string(st), intact ? "untouched" : "written");
        }
    }

    /* moe_type_row_size: 0 when the byte count overflows size_t (a wrapped product is not a size) */
    {
        size_t n1 = (size_t)0 - 32;                         /* 2^64 - 32: whole blocks, 34/32 of it wraps */
        size_t r1 = moe_type_row_size(MOE_TYPE_Q8_0, n1), r2 = moe_type_row_size(MOE_TYPE_Q4_0, n1);
        size_t r3 = moe_type_row_size(MOE_TYPE_F32, big), r4 = moe_type_row_size(MOE_TYPE_F16, big * 2);
        check(r1 == 0, "moe_type_row_size(Q8_0, SIZE_MAX - 31) = %lu, want 0", (unsigned long)r1);
        check(r2 == 0 || r2 == n1 / 32 * 18, "moe_type_row_size(Q4_0, SIZE_MAX - 31) = %lu, want 0 or %lu", (unsigned long)r2, (unsigned long)(n1 / 32 * 18));
        check(r3 == 0, "moe_type_row_size(F32, 2^%d) = %lu, want 0", (int)(sizeof(size_t) * CHAR_BIT - 2), (unsigned long)r3);
        check(r4 == 0, "moe_type_row_size(F16, 2^%d) = %lu, want 0", (int)(sizeof(size_t) * CHAR_BIT - 1), (unsigned long)r4);
        if (sizeof(size_t) >= 8) {
            /* 0xF0F0F0F0F0F0F100: n / 32 * 34 wraps to 16 in 64 bits */
            size_t n2 = (size_t)17361641481138401536ULL, r5 = moe_type_row_size(MOE_TYPE_Q8_0, n2);
            check(r5 == 0, "moe_type_row_size(Q8_0, 17361641481138401536) = %lu, want 0", (unsigned long)r5);
        }
        check(moe_type_row_size(MOE_TYPE_Q8_0, 64) == 68, "moe_type_row_size(Q8_0, 64) != 68 (control)");
    }

    /* moe_quantize: finite values the type cannot hold -> MOE_ERR_RANGE, nothing written */
    {
        static const struct { moe_type t; float v; int ok; } tab[] = {
            {MOE_TYPE_Q8_0, 9.0e6f, 0}, {MOE_TYPE_Q8_0, -8.4e6f, 0}, {MOE_TYPE_Q8_0, 8.2e6f, 1},
            {MOE_TYPE_Q4_0, 5.3e5f, 0}, {MOE_TYPE_Q4_0, -6.0e5f, 0}, {MOE_TYPE_Q4_0, 5.2e5f, 1},
            {MOE_TYPE_F16, 1.0e6f, 0}, {MOE_TYPE_F16, -65520.0f, 0}, {MOE_TYPE_F16, 65504.0f, 1}, {MOE_TYPE_F16, 65519.0f, 1},
            {MOE_TYPE_BF16, 1.0e6f, 1}, {MOE_TYPE_BF16, 3.0e38f, 1},
        };
        int nt = (int)(sizeof tab / sizeof tab[0]);
        for (i = 0; i < nt; i++) {
            float src[64];
            unsigned char q[256];
            int j, intact = 1;
            for (j = 0; j < 64; j++) src[j] = (float)(j % 5) - 2.0f;
            src[40] = tab[i].v;
            memset(q, 0x5C, sizeof q);
            st = moe_quantize(tab[i].t, src, q, 2, 32);
            for (j = 0; j < (int)sizeof q; j++) if (q[j] != 0x5C) intact = 0;
            if (tab[i].ok) {
                float back[64];
                moe_status s2 = moe_dequantize(tab[i].t, q, back, 2, 32);
                check(st == MOE_OK && s2 == MOE_OK && isfinite(back[40]) && fabs((double)back[40] - tab[i].v) <= 0.07 * fabs((double)tab[i].v),
                      "moe_quantize(%s) of a row holding %g -> %s, decodes to %g", moe_type_name(tab[i].t), (double)tab[i].v, moe_status_string(st), (double)back[40]);
            } else {
                check(st == MOE_ERR_RANGE && intact, "moe_quantize(%s) of a row holding %g -> %s (want MOE_ERR_RANGE), dst %s", moe_type_name(tab[i].t),
                      (double)tab[i].v, moe_status_string(st), intact ? "untouched" : "written");
            }
        }
    }

    /* sizes the layer cannot run are refused at init (never OK with zeros); nothing is read */
    {
        c = m->cfg; c.d_model = 1; c.d_ff = INT_MAX - 100; c.n_experts = 1; c.top_k = 1; c.act = MOE_ACT_GELU;
        w = moe_weights_default();
        w.router.data = w.up.data = w.down.data = g_dummy;
        expect_refused(&c, &w, MOE_ERR_CONFIG, MOE_ERR_OVERFLOW, "d_ff", NULL, "d_model 1, d_ff INT_MAX-100, GELU f32");
        c.d_ff = MOE_MAX_DIM + 1;
        expect_refused(&c, &w, MOE_ERR_CONFIG, MOE_ERR_OVERFLOW, "d_ff", NULL, "d_ff MOE_MAX_DIM + 1");
        c.d_ff = 4; c.d_model = MOE_MAX_DIM + 1;
        expect_refused(&c, &w, MOE_ERR_CONFIG, MOE_ERR_OVERFLOW, "d_model", NULL, "d_model MOE_MAX_DIM + 1");
        c.d_model = INT_MAX / 2; c.d_ff = INT_MAX / 2; c.n_experts = 64; c.top_k = 2;
        expect_refused(&c, &w, MOE_ERR_CONFIG, MOE_ERR_OVERFLOW, "cfg.", NULL, "d_model = d_ff = INT_MAX/2, 64 experts");
        c = m->cfg; c.n_experts = MOE_MAX_EXPERTS + 1;
        expect_refused(&c, &m->w, MOE_ERR_CONFIG, MOE_ERR_OVERFLOW, "n_experts", NULL, "n_experts MOE_MAX_EXPERTS + 1");
        c = m->cfg; c.n_experts = INT_MAX;
        expect_refused(&c, &m->w, MOE_ERR_CONFIG, MOE_ERR_OVERFLOW, "n_experts", NULL, "n_experts INT_MAX");
        c = m->cfg; c.n_shared = 1; c.d_ff_shared = MOE_MAX_DIM + 1;
        w = m->w; w.shared_gate.data = w.shared_up.data = w.shared_down.data = g_dummy;
        expect_refused(&c, &w, MOE_ERR_CONFIG, MOE_ERR_OVERFLOW, "d_ff_shared", NULL, "d_ff_shared MOE_MAX_DIM + 1");
    }

    /* n_shared 0: d_ff_shared and the shared tensors are ignored, and do not size the workspace */
    {
        static const int dffs[3] = {-7, INT_MAX, MOE_MAX_DIM + 5};
        spec q = spec_default();
        model *mq = (model *)xmalloc(sizeof(model));
        size_t w0 = 0;
        q.dm = 64; q.dff = 64; q.E = 4; q.k = 2; q.seed = 1910;
        q.t_gate = MOE_TYPE_Q8_0; q.t_up = MOE_TYPE_Q4_0; q.t_down = MOE_TYPE_Q8_0;
        model_build(mq, &q);
        st = moe_layer_init(&L, &mq->cfg, &mq->w);
        if (require(mq->ok && st == MOE_OK, "q8_0/q4_0 base layer: %s", moe_status_string(st))) w0 = moe_workspace_size(&L, 5);
        for (i = 0; i < 3; i++) {
            char label[120];
            size_t wi;
            mq->cfg.n_shared = 0; mq->cfg.d_ff_shared = dffs[i];
            mq->w.shared_up.data = g_dummy; SET_INT_FIELD(mq->w.shared_down.type, 77);
            st = moe_layer_init(&L, &mq->cfg, &mq->w);
            wi = st == MOE_OK ? moe_workspace_size(&L, 5) : 0;
            check(st == MOE_OK && wi == w0, "n_shared 0, d_ff_shared %d: init %s (\"%s\"), workspace(5) %lu, want %lu as with d_ff_shared 0", dffs[i],
                  moe_status_string(st), moe_layer_error(&L), (unsigned long)wi, (unsigned long)w0);
            snprintf(label, sizeof label, "n_shared 0, d_ff_shared %d, q8_0/q4_0 experts", dffs[i]);
            run_case(mq, 5, 0, 1911, label, NULL);
        }
        model_free(mq);
        free(mq);
    }
    /* n_group <= 1: topk_group is ignored */
    c = m->cfg; c.n_group = 1; c.topk_group = 99; expect_init(&c, &m->w, MOE_OK, "n_group 1, topk_group 99");
    c = m->cfg; c.n_group = 0; c.topk_group = -5; expect_init(&c, &m->w, MOE_OK, "n_group 0, topk_group -5");

    /* a config from {0} with only the sizes set: routed_scale 0 would zero every routed output */
    memset(&c, 0, sizeof c);
    c.d_model = 64; c.d_ff = 64; c.n_experts = 4; c.top_k = 2;
    expect_refused(&c, &m->w, MOE_ERR_CONFIG, MOE_ERR_CONFIG, "routed_scale", NULL, "config from {0} (routed_scale 0)");
    c = m->cfg; c.routed_scale = NAN; expect_refused(&c, &m->w, MOE_ERR_CONFIG, MOE_ERR_CONFIG, "routed_scale", NULL, "routed_scale NaN");

    /* ambiguous weights: gate_up with gate or up, gate_up_bias with gate_bias or up_bias */
    w = m->w; w.gate_up.data = g_dummy; expect_refused(&m->cfg, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "gate_up", NULL, "gate, up and gate_up all given");
    w = m->w; w.up.data = NULL; w.gate_up.data = g_dummy; expect_refused(&m->cfg, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "gate_up", NULL, "gate and gate_up given");
    w = m->w; w.gate.data = NULL; w.gate_up.data = g_dummy; expect_refused(&m->cfg, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "gate_up", NULL, "up and gate_up given");
    w = m->w; w.gate.data = w.up.data = NULL; w.gate_up.data = m->w.gate.data;
    w.gate_up_bias = g_dummy; w.gate_bias = g_dummy;
    c = m->cfg; c.d_ff = 32;   /* the gate tensor read as a fused [2*32][64] one */
    expect_refused(&c, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "gate_up_bias", NULL, "gate_up_bias and gate_bias given");

    /* moe_layer_error names the culprit */
    {
        const char *msg;
        c = m->cfg; c.d_model = 100; w = m->w; w.up.type = MOE_TYPE_Q4_0;
        expect_refused(&c, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "up", "32", "q4_0 up with d_model 100");
        w = m->w; w.router.data = NULL;
        expect_refused(&m->cfg, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "router", NULL, "router missing");
        st = moe_layer_init(&L, &m->cfg, &m->w);
        msg = moe_layer_error(&L);
        check(st == MOE_OK && msg != NULL && msg[0] == 0, "moe_layer_error after a successful init = \"%s\" (%s), want \"\"", msg ? msg : "(null)", moe_status_string(st));
        /* a failed init after a successful one: the layer is unusable and says why */
        c = m->cfg; c.top_k = 0;
        st = moe_layer_init(&L, &c, &m->w);
        msg = moe_layer_error(&L);
        check(st == MOE_ERR_CONFIG && contains(msg, "top_k") && moe_workspace_size(&L, 1) == 0, "top_k 0 after a good init: %s, \"%s\"", moe_status_string(st), msg ? msg : "(null)");
        msg = moe_layer_error(NULL);
        check(msg != NULL && msg[0] != 0, "moe_layer_error(NULL) is NULL or empty");
    }

    /* float arrays one byte off 4-byte alignment: MOE_ERR_ALIGN, nothing written */
    {
        size_t ws, n = 3 * 64;
        unsigned char *xb = (unsigned char *)xmalloc(n * sizeof(float) + 8), *yb = (unsigned char *)xmalloc(n * sizeof(float) + 8);
        unsigned char *ib = (unsigned char *)xmalloc(3 * 2 * sizeof(int) + 8), *wb = (unsigned char *)xmalloc(3 * 2 * sizeof(float) + 8);
        float *x = (float *)(void *)xb, *y = (float *)(void *)yb;
        const float *xo = (const float *)(const void *)(xb + 1);
        float *yo = (float *)(void *)(yb + 1);
        void *work;
        moe_run_opts o;
        int intact;
        st = moe_layer_init(&L, &m->cfg, &m->w);
        require(st == MOE_OK, "base layer %s", moe_status_string(st));
        ws = moe_workspace_size(&L, 3);
        work = xmalloc(ws);
        for (i = 0; i < (int)n; i++) x[i] = (float)(i % 9) * 0.1f - 0.4f;
        memset(yb, 0x77, n * sizeof(float) + 8);
        st = moe_forward(&L, xo, 3, y, work, ws);
        check(st == MOE_ERR_ALIGN, "moe_forward with x one byte off float alignment -> %s, want MOE_ERR_ALIGN", moe_status_string(st));
        st = moe_forward(&L, x, 3, yo, work, ws);
        intact = 1;
        for (i = 0; i < (int)(n * sizeof(float) + 8); i++) if (yb[i] != 0x77) intact = 0;
        check(st == MOE_ERR_ALIGN && intact, "moe_forward with y one byte off float alignment -> %s (want MOE_ERR_ALIGN), y %s", moe_status_string(st),
              intact ? "untouched" : "written");
        memset(&o, 0, sizeof o);
        o.ids_out = (int *)(void *)(ib + 2);
        st = moe_forward_ex(&L, x, 3, y, work, ws, &o);
        check(st == MOE_ERR_ALIGN, "moe_forward_ex with ids_out misaligned -> %s, want MOE_ERR_ALIGN", moe_status_string(st));
        memset(&o, 0, sizeof o);
        o.weights_out = (float *)(void *)(wb + 3);
        st = moe_forward_ex(&L, x, 3, y, work, ws, &o);
        check(st == MOE_ERR_ALIGN, "moe_forward_ex with weights_out misaligned -> %s, want MOE_ERR_ALIGN", moe_status_string(st));
        st = moe_route(&L, xo, 3, (int *)(void *)ib, NULL, work, ws);
        check(st == MOE_ERR_ALIGN, "moe_route with x misaligned -> %s, want MOE_ERR_ALIGN", moe_status_string(st));
        st = moe_forward(&L, x, 3, y, work, ws);
        check(st == MOE_OK, "moe_forward with aligned arrays after the refusals -> %s", moe_status_string(st));
        /* biases and f32 tensors: refused at init */
        w = m->w; w.router_bias = (const float *)(const void *)((const unsigned char *)g_dummy + 1);
        expect_refused(&m->cfg, &w, MOE_ERR_ALIGN, MOE_ERR_ALIGN, "router_bias", NULL, "router_bias misaligned");
        w = m->w; w.down_bias = (const float *)(const void *)((const unsigned char *)g_dummy + 2);
        expect_refused(&m->cfg, &w, MOE_ERR_ALIGN, MOE_ERR_ALIGN, "down_bias", NULL, "down_bias misaligned");
        w = m->w; w.up.data = (const unsigned char *)m->w.up.data + 2;
        expect_refused(&m->cfg, &w, MOE_ERR_ALIGN, MOE_ERR_ALIGN, "up", NULL, "f32 up data misaligned");
        free(xb); free(yb); free(ib); free(wb); free(work);
    }

    /* status strings: every code non-NULL, non-empty, distinct; ARG's text is generic */
    {
        int v, u, ok = 1;
        for (v = 0; v <= (int)MOE_ERR_RANGE; v++) {
            const char *a = moe_status_string((moe_status)v);
            if (!a || !a[0]) ok = 0;
            for (u = 0; ok && u < v; u++) if (strcmp(a, moe_status_string((moe_status)u)) == 0) ok = 0;
        }
        check(ok, "moe_status_string: a code 0..MOE_ERR_RANGE has a NULL, empty or repeated text");
        check(!contains(moe_status_string(MOE_ERR_ARG), "n_tokens"), "moe_status_string(MOE_ERR_ARG) = \"%s\" names one case (n_tokens)", moe_status_string(MOE_ERR_ARG));
        check(MOE_ERR_ALIGN > MOE_ERR_THREADS && MOE_ERR_RANGE > MOE_ERR_THREADS, "new status codes are not appended");
    }
    model_free(m);
    free(m);
    group_end();
}

/* ======================================================================================== */
/*          group: scales - external block scales (moe_tensor.scale, expert_scale)           */
/* ======================================================================================== */
/* A copy of split MXFP4 tensor t ([n_mat][rows][cols]) in ggml's block_mxfp4 layout: the same
   values, 17 bytes per 32 (element j < 16 in the low nibble of qs[j], 16+j in the high one). */
static void split_to_ggml(model *m, moe_tensor *t, int n_mat, int rows, int cols)
{
    size_t per = (size_t)rows * (size_t)cols, e, i;
    const void **pp = t->expert_data ? (const void **)mal(m, (size_t)n_mat * sizeof(void *)) : NULL;
    unsigned char *all = t->expert_data ? NULL : (unsigned char *)mal(m, per / 32 * 17 * (size_t)n_mat);
    for (e = 0; e < (size_t)n_mat; e++) {
        const unsigned char *nib = t->expert_data ? (const unsigned char *)t->expert_data[e] : (const unsigned char *)t->data + e * per / 2;
        const unsigned char *ev = t->expert_scale ? (const unsigned char *)t->expert_scale[e] : (const unsigned char *)t->scale + e * per / 32;
        unsigned char *o = pp ? (unsigned char *)mal(m, per / 32 * 17) : all + e * per / 32 * 17;
        for (i = 0; i < per; i++) {
            unsigned code = (unsigned)(nib[i / 2] >> (4 * (i % 2))) & 15u;
            unsigned char *b = o + i / 32 * 17;
            b[0] = ev[i / 32];
            b[1 + i % 16] = (unsigned char)(b[1 + i % 16] | (code << (4 * ((i % 32) / 16))));
        }
        if (pp) pp[e] = o;
    }
    t->data = all; t->expert_data = pp;
    t->scale = NULL; t->expert_scale = NULL; t->scale_rows = t->scale_cols = 0;
}

/* Run a layer with split MXFP4 tensors against the reference; then the same values in ggml's
   layout must give the same output, bit for bit (both decode to the same f32 panels). */
static void run_split_vs_ggml(model *m, int T, const char *label)
{
    const spec *s = &m->s;
    size_t n = (size_t)T * (size_t)s->dm, ws;
    rc_out o;
    moe_weights w;
    moe_layer L;
    moe_status st;
    float *y2;
    void *work;
    int ns = s->n_shared, gated = is_gated(s->act);
    memset(&o, 0, sizeof o);
    o.x = (float *)xmalloc(n * sizeof(float));
    o.y = (float *)xmalloc(n * sizeof(float));
    y2 = (float *)xmalloc(n * sizeof(float));
    if (run_case(m, T, 0, s->seed * 31u + (unsigned long long)T, label, &o) < 0) goto done;
    w = m->w;
#define SPLIT_GGML(f, nm, r, c) if (w.f.type == MOE_TYPE_MXFP4 && (w.f.scale || w.f.expert_scale)) split_to_ggml(m, &w.f, nm, r, c)
    SPLIT_GGML(router, 1, s->E, s->dm);
    if (s->fused) { SPLIT_GGML(gate_up, s->E, 2 * s->dff, s->dm); }
    else { if (gated) { SPLIT_GGML(gate, s->E, s->dff, s->dm); } SPLIT_GGML(up, s->E, s->dff, s->dm); }
    SPLIT_GGML(down, s->E, s->dm, s->dff);
    if (ns > 0) {
        if (gated) { SPLIT_GGML(shared_gate, ns, s->dff_sh, s->dm); }
        SPLIT_GGML(shared_up, ns, s->dff_sh, s->dm);
        SPLIT_GGML(shared_down, ns, s->dm, s->dff_sh);
    }
#undef SPLIT_GGML
    st = moe_layer_init(&L, &m->cfg, &w);
    if (!require(st == MOE_OK, "%s: ggml-layout copy: moe_layer_init -> %s (%s)", label, moe_status_string(st), moe_layer_error(&L))) goto done;
    ws = moe_workspace_size(&L, T);
    work = xmalloc(ws);
    st = moe_forward(&L, o.x, T, y2, work, ws);
    check(st == MOE_OK && memcmp(o.y, y2, n * sizeof(float)) == 0, "%s: split MXFP4 (nibbles + E8M0 scales) and ggml's block_mxfp4 of the same values give different outputs (%s)",
          label, moe_status_string(st));
    free(work);
done:
    free(o.x); free(o.y); free(y2);
}

static void test_scales(void)
{
    int Ts[3] = {1, 5, 40}, c;
    if (!group_begin("scales")) return;
    if (g_quick) Ts[2] = 24;

    /* F8_E4M3 with f32 scales: weight = e4m3(byte) * scale[r / scale_rows][c / scale_cols], the
       reference computing each weight itself. d_model 160 and d_ff 200 are not multiples of 128
       (nor of 64, and 200 not of 32): the edge blocks are partial. Rows count in the tensor as
       stored, so a fused gate_up's scales index its 2*d_ff rows (halves: the up half starts at
       row 200, in the middle of a 128-row block). */
    for (c = 0; c < 11; c++) {
        spec s = spec_default();
        char label[240];
        const char *what = "";
        s.E = g_quick ? 3 : 4; s.k = g_quick ? 1 : 2; s.dm = 160; s.dff = 200; s.seed = 2500u + (unsigned)c;
        s.t_gate = s.t_up = s.t_down = s.t_gate_up = MOE_TYPE_F8_E4M3;
        s.xscale = 1; s.xs_rows = 128; s.xs_cols = 128;
        switch (c) {
        case 0: what = "128x128 blocks, stacked"; break;
        case 1: what = "128x128 blocks, per expert (expert_scale), shared expert and router f8 too";
            s.per_expert = 1; s.n_shared = 1; s.dff_sh = 136; s.has_sgw = 1; s.t_router = s.t_sgate = s.t_sup = s.t_sdown = MOE_TYPE_F8_E4M3; break;
        case 2: what = "per row (1 x cols), stacked, router f8 too"; s.dm = 160; s.dff = 160; s.xs_rows = 1; s.xs_cols = 160; s.t_router = MOE_TYPE_F8_E4M3; break;
        case 3: what = "per row (1 x 100000: clamped to the columns), per expert"; s.xs_rows = 1; s.xs_cols = 100000; s.per_expert = 1; break;
        case 4: what = "per tensor (rows x cols), per expert"; s.dm = 160; s.dff = 160; s.xs_rows = 160; s.xs_cols = 160; s.per_expert = 1; break;
        case 5: what = "per tensor (1<<20 x 1<<20: clamped), stacked"; s.xs_rows = 1 << 20; s.xs_cols = 1 << 20; break;
        case 6: what = "32x64 blocks, stacked, geglu"; s.xs_rows = 32; s.xs_cols = 64; s.act = MOE_ACT_GEGLU; break;
        case 7: what = "fused gate_up interleaved, 128x128 blocks, per expert, swiglu_oai with biases";
            s.fused = 1; s.layout = MOE_GATE_UP_INTERLEAVED; s.per_expert = 1; s.act = MOE_ACT_SWIGLU_OAI; s.has_gb = 1; s.has_db = 1; break;
        case 8: what = "fused gate_up halves, 128x128 blocks, stacked"; s.fused = 1; s.layout = MOE_GATE_UP_HALVES; break;
        case 9: what = "fused gate_up halves, per row, per expert"; s.fused = 1; s.layout = MOE_GATE_UP_HALVES; s.xs_rows = 1; s.per_expert = 1; break;
        default: what = "fused gate_up interleaved, 3x40 blocks, stacked"; s.fused = 1; s.layout = MOE_GATE_UP_INTERLEAVED; s.xs_rows = 3; s.xs_cols = 40; break;
        }
        snprintf(label, sizeof label, "f8_e4m3 + f32 scales, %s, %dx%d", what, s.dm, s.dff);
        if (c < 2 || c == 7) run_spec_Ts(&s, Ts, 3, label);
        else run_spec_Ts(&s, Ts + (c % 2 ? 1 : 2), 1, label);
    }

    /* MXFP4 in gpt-oss's split layout (nibbles, E8M0 scale bytes): stacked and per expert, the
       fused interleaved gate_up as gpt-oss stores it; each also equal to ggml's layout */
    for (c = 0; c < 4; c++) {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        char label[240];
        const char *what = "";
        int ti;
        s.E = g_quick ? 3 : 4; s.k = g_quick ? 1 : 2; s.dm = 96; s.dff = 160; s.seed = 2600u + (unsigned)c;
        s.t_gate = s.t_up = s.t_down = s.t_gate_up = MOE_TYPE_MXFP4;
        s.xscale = 1;
        switch (c) {
        case 0: what = "stacked, scale_rows/cols 0, 0"; break;
        case 1: what = "per expert, scale_rows/cols 1, 32, shared expert and router too"; s.per_expert = 1; s.xs_rows = 1; s.xs_cols = 32;
            s.n_shared = 1; s.dff_sh = 64; s.t_router = s.t_sgate = s.t_sup = s.t_sdown = MOE_TYPE_MXFP4; break;
        case 2: what = "gpt-oss: fused gate_up interleaved, per expert, swiglu_oai, biases, softmax_topk"; s.per_expert = 1;
            s.fused = 1; s.layout = MOE_GATE_UP_INTERLEAVED; s.act = MOE_ACT_SWIGLU_OAI; s.has_gb = 1; s.has_db = 1; s.has_rb = 1;
            s.score = MOE_SCORE_SOFTMAX_TOPK; s.dm = 128; s.dff = 96; break;
        default: what = "gpt-oss: fused gate_up interleaved, stacked"; s.fused = 1; s.layout = MOE_GATE_UP_INTERLEAVED;
            s.act = MOE_ACT_SWIGLU_OAI; s.has_gb = 1; s.has_db = 1; s.has_rb = 1; s.score = MOE_SCORE_SOFTMAX_TOPK; s.dm = 128; s.dff = 96; break;
        }
        model_build(m, &s);
        for (ti = 0; ti < 3; ti++) {
            snprintf(label, sizeof label, "mxfp4 split, %s, %dx%d T=%d", what, s.dm, s.dff, Ts[ti]);
            run_split_vs_ggml(m, Ts[ti], label);
        }
        model_free(m);
        free(m);
    }

    /* refused at init, with moe_layer_error naming the tensor */
    {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        moe_config cf;
        moe_weights w;
        const void *es[4], *ed[4], *esm[4], *esn[4];
        const unsigned char *gd = (const unsigned char *)(const void *)g_dummy;
        int i;
        s.E = 4; s.k = 2; s.dm = 64; s.dff = 64; s.seed = 2700;
        model_build(m, &s);
        if (!require(m->ok, "base model")) { model_free(m); free(m); group_end(); return; }
        for (i = 0; i < 4; i++) { es[i] = g_dummy; ed[i] = g_dummy; esm[i] = g_dummy; esn[i] = g_dummy; }
        esm[2] = gd + 2;   /* one misaligned */
        esn[3] = NULL;     /* one missing */
        cf = m->cfg;
#define F8UP(wv) do { wv = m->w; wv.up.type = MOE_TYPE_F8_E4M3; wv.up.data = g_dummy; wv.up.scale = g_dummy; wv.up.scale_rows = 128; wv.up.scale_cols = 128; } while (0)
        F8UP(w);
        expect_refused(&cf, &w, MOE_OK, MOE_OK, "", NULL, "f8 up with 128x128 scales (control)");
        w = m->w; w.up.type = MOE_TYPE_Q4_0; w.up.scale = g_dummy; w.up.scale_rows = 1; w.up.scale_cols = 32;
        expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.up", "q4_0", "a scale on a Q4_0 tensor");
        w = m->w; w.down.type = MOE_TYPE_Q6_K; w.down.scale = g_dummy; w.down.scale_rows = 1; w.down.scale_cols = 1;
        expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.down", "scale", "a scale on a Q6_K tensor");
        w = m->w; w.router.scale = g_dummy; w.router.scale_rows = 1; w.router.scale_cols = 64;
        expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.router", "f32", "a scale on an f32 router");
        F8UP(w); w.up.scale = NULL; w.up.expert_scale = es;
        expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.up", "stacked", "stacked f8 data with expert_scale");
        F8UP(w); w.up.data = NULL; w.up.expert_data = ed;
        expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.up", "expert_scale", "per-expert f8 data with a stacked scale");
        F8UP(w); w.up.expert_scale = es;
        expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.up", "both", "f8 with both scale and expert_scale");
        F8UP(w); w.up.scale_rows = 0;
        expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.up", "scale_rows", "f8 scale with scale_rows 0");
        F8UP(w); w.up.scale_cols = 0;
        expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.up", "scale_cols", "f8 scale with scale_cols 0");
        F8UP(w); w.up.scale_rows = -128;
        expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.up", "scale_rows", "f8 scale with scale_rows -128");
        F8UP(w); w.up.scale = NULL;
        expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.up", "scale_rows", "scale_rows/cols 128 without a scale");
        F8UP(w); w.up.scale = gd + 2;
        expect_refused(&cf, &w, MOE_ERR_ALIGN, MOE_ERR_ALIGN, "weights.up", "aligned", "f8 f32 scale not 4-byte aligned");
        F8UP(w); w.up.data = NULL; w.up.expert_data = ed; w.up.scale = NULL; w.up.expert_scale = esm;
        expect_refused(&cf, &w, MOE_ERR_ALIGN, MOE_ERR_ALIGN, "weights.up", "aligned", "f8 expert_scale[2] not 4-byte aligned");
        F8UP(w); w.up.data = NULL; w.up.expert_data = ed; w.up.scale = NULL; w.up.expert_scale = esn;
        expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.up", "expert_scale", "f8 expert_scale[3] NULL");
        w = m->w; w.gate.data = w.up.data = NULL; w.gate_up.type = MOE_TYPE_F8_E4M3; w.gate_up.data = g_dummy;
        w.gate_up.scale = gd + 1; w.gate_up.scale_rows = w.gate_up.scale_cols = 128;
        expect_refused(&cf, &w, MOE_ERR_ALIGN, MOE_ERR_ALIGN, "weights.gate_up", NULL, "fused f8 gate_up scale not 4-byte aligned");
        {
            static const int bad[6][2] = {{1, 16}, {2, 32}, {0, 32}, {1, 0}, {32, 1}, {1, 64}};
            char what[80];
            for (i = 0; i < 6; i++) {
                w = m->w; w.down.type = MOE_TYPE_MXFP4; w.down.data = g_dummy; w.down.scale = g_dummy;
                w.down.scale_rows = bad[i][0]; w.down.scale_cols = bad[i][1];
                snprintf(what, sizeof what, "mxfp4 split with scale_rows %d, scale_cols %d", bad[i][0], bad[i][1]);
                expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.down", "mxfp4", what);
            }
            w = m->w; w.down.type = MOE_TYPE_MXFP4; w.down.data = g_dummy; w.down.scale = g_dummy; w.down.scale_rows = 1; w.down.scale_cols = 32;
            expect_refused(&cf, &w, MOE_OK, MOE_OK, "", NULL, "mxfp4 split with scale_rows 1, scale_cols 32 (control)");
            w.down.scale_rows = 0; w.down.scale_cols = 0;
            expect_refused(&cf, &w, MOE_OK, MOE_OK, "", NULL, "mxfp4 split with scale_rows 0, scale_cols 0 (control)");
            cf.d_ff = 48;   /* down's rows are d_ff = 48 values: not whole blocks of 32 */
            expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.down", "32", "mxfp4 split down with d_ff 48");
            cf = m->cfg;
        }
        w = m->w; cf.n_shared = 1; cf.d_ff_shared = 32;
        w.shared_gate.data = w.shared_up.data = w.shared_down.data = g_dummy;
        w.shared_down.type = MOE_TYPE_BF16; w.shared_down.scale = g_dummy; w.shared_down.scale_rows = w.shared_down.scale_cols = 1;
        expect_refused(&cf, &w, MOE_ERR_WEIGHTS, MOE_ERR_WEIGHTS, "weights.shared_down", "bf16", "a scale on a bf16 shared_down");
#undef F8UP
        model_free(m);
        free(m);
    }
    group_end();
}

/* ======================================================================================== */
/*                                 group: non-finite input                                  */
/* ======================================================================================== */
static void test_nonfinite(void)
{
    int c;
    if (!group_begin("nonfinite")) return;
    for (c = 0; c < 8; c++) {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        moe_layer L;
        moe_status st;
        moe_run_opts o;
        const char *name = "";
        int T = c % 2 ? 48 : 7, dm, k, v, i, j, t;
        size_t ws, n;
        float *x, *xp, *y0, *y;
        int *ids, *rids, *cids;
        double *rw;
        void *work;
        s.seed = 1500u + (unsigned)c;
        switch (c) {
        case 0: name = "softmax swiglu"; break;
        case 1: name = "sigmoid groups selection-bias (V3)"; s.E = 16; s.k = 4; s.score = MOE_SCORE_SIGMOID; s.has_sb = 1;
            s.n_group = 4; s.topk_group = 2; s.gsc = MOE_GROUP_TOP2_SUM; break;
        case 2: name = "softmax_topk swiglu_oai fused (gpt-oss)"; s.score = MOE_SCORE_SOFTMAX_TOPK; s.act = MOE_ACT_SWIGLU_OAI;
            s.fused = 1; s.layout = MOE_GATE_UP_INTERLEAVED; s.has_gb = 1; s.has_db = 1; s.has_rb = 1; break;
        case 3: name = "relu"; s.act = MOE_ACT_RELU; break;
        case 4: name = "gelu"; s.act = MOE_ACT_GELU; break;
        case 5: name = "geglu-tanh"; s.act = MOE_ACT_GEGLU; s.gelu_tanh = 1; break;
        case 6: name = "weight_on_input + shared (Llama4)"; s.score = MOE_SCORE_SIGMOID; s.k = 1; s.norm = 0; s.woi = 1;
            s.n_shared = 1; s.dff_sh = 32; break;
        default: name = "dense k=E sigmoid groups max"; s.E = 8; s.k = 8; s.score = MOE_SCORE_SIGMOID; s.n_group = 4;
            s.topk_group = 4; break;
        }
        model_build(m, &s);
        dm = s.dm; k = s.k; n = (size_t)T * dm;
        st = moe_layer_init(&L, &m->cfg, &m->w);
        if (!require(st == MOE_OK, "%s: init %s", name, moe_status_string(st))) { model_free(m); free(m); continue; }
        ws = moe_workspace_size(&L, T);
        x = (float *)xmalloc(n * sizeof(float));
        xp = (float *)xmalloc(n * sizeof(float));
        y0 = (float *)xmalloc(n * sizeof(float));
        y = (float *)xmalloc(n * sizeof(float));
        ids = (int *)xmalloc((size_t)T * k * sizeof(int));
        rids = (int *)xmalloc((size_t)T * k * sizeof(int));
        cids = (int *)xmalloc((size_t)T * k * sizeof(int));
        rw = (double *)xmalloc((size_t)T * k * sizeof(double));
        work = xmalloc(ws);
        draw_x(m, x, T, 1501, m->tie_tol, rids, rw, name);
        st = moe_forward(&L, x, T, y0, work, ws);
        check(st == MOE_OK, "%s: clean forward %s", name, moe_status_string(st));
        st = moe_route(&L, x, T, cids, NULL, work, ws);
        require(st == MOE_OK, "%s: clean route %s", name, moe_status_string(st));
        for (v = 0; v < 4; v++) {
            static const char *vn[4] = {"NaN", "+Inf", "-Inf", "all-NaN row"};
            int bad_ids = 0, nonfinite = 0, others_same = 1, diff_tok = -1, same_tok = -1, n_same = 0;
            double diff = 0, mref = 0;
            const int pt = 3;
            memcpy(xp, x, n * sizeof(float));
            if (v == 0) xp[pt * dm + 5] = NAN;
            else if (v == 1) xp[pt * dm + 5] = INFINITY;
            else if (v == 2) xp[pt * dm + 11] = -INFINITY;
            else for (i = 0; i < dm; i++) xp[pt * dm + i] = NAN;
            memset(&o, 0, sizeof o);
            o.ids_out = ids;
            for (i = 0; i < T * k; i++) ids[i] = -1;
            st = moe_forward_ex(&L, xp, T, y, work, ws, &o);
            if (!check(st == MOE_OK, "%s, %s in x: forward -> %s", name, vn[v], moe_status_string(st))) continue;
            for (t = 0; t < T; t++)
                for (j = 0; j < k; j++) {
                    int e = ids[t * k + j];
                    if (e < 0 || e >= s.E) bad_ids = 1;
                    for (i = 0; i < j; i++) if (ids[t * k + i] == e) bad_ids = 1;
                }
            for (i = 0; i < dm; i++) if (!isfinite(y[pt * dm + i])) nonfinite++;
            /* An expert whose token count is the same as in the clean run keeps its token list
               and its kernel (the poisoned token is in it both times or neither): the tokens
               that use only such experts must come out bitwise unchanged. */
            {
                int cc[TMAXE], cp[TMAXE];
                memset(cc, 0, sizeof cc);
                memset(cp, 0, sizeof cp);
                for (i = 0; i < T * k; i++) {
                    if (cids[i] >= 0 && cids[i] < s.E) cc[cids[i]]++;
                    if (ids[i] >= 0 && ids[i] < s.E) cp[ids[i]]++;
                }
                for (t = 0; t < T; t++) {
                    int same_kernels = t != pt;
                    for (j = 0; j < k && same_kernels; j++) {
                        int e = ids[t * k + j];
                        same_kernels = e >= 0 && e < s.E && e == cids[t * k + j] && cc[e] == cp[e];
                    }
                    if (!same_kernels) continue;
                    n_same++;
                    if (memcmp(y + (size_t)t * dm, y0 + (size_t)t * dm, (size_t)dm * sizeof(float)) != 0) { others_same = 0; if (same_tok < 0) same_tok = t; }
                }
            }
            for (t = 0; t < T; t++) {
                if (t == pt) continue;
                if (memcmp(y + (size_t)t * dm, y0 + (size_t)t * dm, (size_t)dm * sizeof(float)) != 0 && diff_tok < 0) diff_tok = t;
                for (i = 0; i < dm; i++) {
                    double d = fabs((double)y[t * dm + i] - y0[t * dm + i]);
                    if (!(d <= diff)) diff = d;
                    if (fabs((double)y0[t * dm + i]) > mref) mref = fabs((double)y0[t * dm + i]);
                }
            }
            check(!bad_ids, "%s, %s in x: ids out of range or repeated (token %d: %d %d)", name, vn[v], pt, ids[pt * k], k > 1 ? ids[pt * k + 1] : -1);
            if (v == 0 || v == 3)
                check(nonfinite == dm, "%s, %s in x: only %d of %d outputs of the token are non-finite", name, vn[v], nonfinite, dm);
            else
                check(nonfinite > 0, "%s, %s in x: the token's output is finite", name, vn[v]);
            /* The poisoned token's expert choice changes other experts' token counts, which
               may move an expert between the dot-product and the batched kernel: other tokens
               keep finite outputs equal to their clean ones within f32 rounding, not bitwise
               (moe.h promises bitwise equality across thread counts, not batch compositions). */
            check(others_same, "%s, T=%d, %s in token %d: token %d, whose experts kept their token counts, changed (%d such tokens)",
                  name, T, vn[v], pt, same_tok, n_same);
            note("%s, %s: %d other tokens checked bitwise", name, vn[v], n_same);
            check(mref > 0 ? diff / mref <= 1e-5 : diff == 0, "%s, T=%d, %s in token %d: other tokens' outputs changed (first differing: token %d; max change %.3g relative)",
                  name, T, vn[v], pt, diff_tok, mref > 0 ? diff / mref : diff);
            /* moe_route agrees */
            {
                int *ids2 = (int *)xmalloc((size_t)T * k * sizeof(int));
                st = moe_route(&L, xp, T, ids2, NULL, work, ws);
                check(st == MOE_OK && memcmp(ids, ids2, (size_t)T * k * sizeof(int)) == 0, "%s, %s in x: moe_route differs from ids_out", name, vn[v]);
                free(ids2);
            }
        }
        /* a single poisoned token alone */
        {
            int bad = 0, nf = 0;
            memcpy(xp, x, (size_t)dm * sizeof(float));
            xp[1] = NAN;
            memset(&o, 0, sizeof o);
            o.ids_out = ids;
            st = moe_forward_ex(&L, xp, 1, y, work, ws, &o);
            for (j = 0; j < k; j++) {
                if (ids[j] < 0 || ids[j] >= s.E) bad = 1;
                for (i = 0; i < j; i++) if (ids[i] == ids[j]) bad = 1;
            }
            for (i = 0; i < dm; i++) if (!isfinite(y[i])) nf++;
            check(st == MOE_OK && !bad && nf == dm, "%s, T=1 NaN token: %s, ids ok %d, %d/%d non-finite", name, moe_status_string(st), !bad, nf, dm);
        }
        free(x); free(xp); free(y0); free(y); free(ids); free(rids); free(cids); free(rw); free(work);
        model_free(m);
        free(m);
    }
    {   /* an FP8 NaN code (0x7f) in one down row: that output feature is NaN for every token, on
           the one-token kernel (T=1), the few-token path (T=3) and the batched one (T=40) */
        static const int Ts[3] = {1, 3, 40};
        for (c = 0; c < 3; c++) {
            spec s = spec_default();
            model *m = (model *)xmalloc(sizeof(model));
            moe_layer L;
            int T = Ts[c], t, i, bad = -1, row = 5;
            float *x, *y;
            void *work;
            s.seed = 1590u + (unsigned)c; s.E = 2; s.k = 2; s.dm = 64; s.dff = 96;
            s.t_gate = s.t_up = s.t_down = MOE_TYPE_F8_E4M3;
            model_build(m, &s);
            ((unsigned char *)(uintptr_t)m->w.down.data)[(size_t)row * (size_t)s.dff + 17] = 0x7f;   /* expert 0, row 5 */
            if (!require(moe_layer_init(&L, &m->cfg, &m->w) == MOE_OK, "fp8 NaN code: init")) { model_free(m); free(m); continue; }
            x = (float *)xmalloc((size_t)T * 64 * sizeof(float));
            y = (float *)xmalloc((size_t)T * 64 * sizeof(float));
            work = xmalloc(moe_workspace_size(&L, T));
            for (i = 0; i < T * 64; i++) x[i] = (float)sin(0.37 * i + c);
            if (require(moe_forward(&L, x, T, y, work, moe_workspace_size(&L, T)) == MOE_OK, "fp8 NaN code: forward"))
                for (t = 0; t < T; t++)
                    for (i = 0; i < 64; i++)
                        if ((i == row) != (y[t * 64 + i] != y[t * 64 + i])) bad = t * 64 + i;
            check(bad < 0, "fp8 weights with a NaN code in down row %d, T=%d: output %d (token %d feature %d) is %g", row, T,
                  bad, bad / 64, bad % 64, bad >= 0 ? (double)y[bad] : 0.0);
            free(x); free(y); free(work); model_free(m); free(m);
        }
    }
    group_end();
}

/* ======================================================================================== */
/*                                   group: memory                                          */
/* ======================================================================================== */
/* A workspace of exactly `ws` bytes starting `off` bytes (0..63) past a 64-byte boundary, with
   guard bytes on both sides. */
typedef struct guarded { unsigned char *raw, *work; size_t ws, len; } guarded;
#define GUARD_BYTE 0xA5
static void guarded_make(guarded *g, size_t ws, int off)
{
    uintptr_t a;
    g->len = ws + 256;
    g->raw = (unsigned char *)xmalloc(g->len);
    memset(g->raw, GUARD_BYTE, g->len);
    a = (uintptr_t)(g->raw + 64);
    a -= a % 64;
    g->work = (unsigned char *)a + off;
    g->ws = ws;
}
static int guarded_intact(const guarded *g)
{
    size_t b, lo = (size_t)(g->work - g->raw), hi = lo + g->ws;
    for (b = 0; b < lo; b++) if (g->raw[b] != GUARD_BYTE) return 0;
    for (b = hi; b < g->len; b++) if (g->raw[b] != GUARD_BYTE) return 0;
    return 1;
}

/* One layer at one T in an exact guarded workspace: status, guard bytes, routing and output
   against the reference. */
static void guarded_case(model *m, int T, int capacity, int off, unsigned long long xseed, const char *label)
{
    const spec *s = &m->s;
    int dm = s->dm, k = s->k;
    size_t n = (size_t)T * dm, ws;
    moe_layer L;
    moe_run_opts o;
    moe_status st;
    guarded g;
    float *x, *y, *w;
    int *ids, *rids;
    double *rw, *yr;
    if (!require(m->ok, "%s: model could not be built", label)) return;
    st = moe_layer_init(&L, &m->cfg, &m->w);
    if (!require(st == MOE_OK, "%s: init %s", label, moe_status_string(st))) return;
    ws = moe_workspace_size(&L, T);
    if (!require(ws > 0, "%s: workspace 0", label)) return;
    x = (float *)xmalloc(n * sizeof(float));
    y = (float *)xmalloc(n * sizeof(float));
    w = (float *)xmalloc((size_t)T * k * sizeof(float));
    ids = (int *)xmalloc((size_t)T * k * sizeof(int));
    rids = (int *)xmalloc((size_t)T * k * sizeof(int));
    rw = (double *)xmalloc((size_t)T * k * sizeof(double));
    yr = (double *)xmalloc(n * sizeof(double));
    if (draw_x(m, x, T, xseed, m->tie_tol, rids, rw, label)) {
        ref_forward(m, x, T, rids, rw, capacity, yr);
        guarded_make(&g, ws, off);
        memset(&o, 0, sizeof o);
        o.capacity = capacity; o.ids_out = ids; o.weights_out = w;
        st = moe_forward_ex(&L, x, T, y, g.work, ws, &o);
        if (check(st == MOE_OK, "%s: forward -> %s", label, moe_status_string(st))) {
            check(guarded_intact(&g), "%s: bytes outside the exact %lu-byte workspace (at offset %d from a 64-byte boundary) were written",
                  label, (unsigned long)ws, off);
            check_routing(m, x, T, ids, w, rids, rw, m->tie_tol, label);
            check_ref(m, y, yr, n, run_class(m, rids, T, capacity), label);
        }
        free(g.raw);
    }
    free(x); free(y); free(w); free(ids); free(rids); free(rw); free(yr);
}

/* Workspace segment sizes: every T from 1 to 17 on tiny layers, so that T*E, T*k, T*(k+S), ...
   take every residue mod 16 floats (a segment one element short then overlaps the next one:
   E = 3, T = 11 puts token 10's last logit under the first routing id). Then every work-pointer
   offset 0..63 on odd shapes, whose scratch ends with little or no slack, with guard bytes
   right after work + moe_workspace_size. */
static void memory_sweeps(void)
{
    int c, T, off;
    for (c = 0; c < 8; c++) {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        char label[160];
        int cap = 0;
        s.seed = 1650u + (unsigned)c;
        s.router_gain = 8.0f;
        switch (c) {
        case 0: s.E = 3; s.k = 1; s.dm = 8; s.dff = 5; s.norm = 0; break;   /* softmax weights see every logit */
        case 1: s.E = 5; s.k = 2; s.dm = 7; s.dff = 3; s.score = MOE_SCORE_SIGMOID; s.norm = 0; s.has_rb = 1; break;
        case 2: s.E = 7; s.k = 3; s.dm = 5; s.dff = 4; s.score = MOE_SCORE_SOFTMAX_TOPK; s.n_shared = 1; s.dff_sh = 3; s.has_sgw = 1; break;
        case 3: s.E = 9; s.k = 2; s.dm = 6; s.dff = 6; s.score = MOE_SCORE_SIGMOID; s.has_sb = 1; s.n_group = 3; s.topk_group = 2;
            s.gsc = MOE_GROUP_TOP2_SUM; s.norm = 0; break;
        case 4: s.E = 1; s.k = 1; s.dm = 3; s.dff = 2; s.act = MOE_ACT_GELU; s.has_db = 1; break;
        case 5: s.E = 3; s.k = 2; s.dm = 32; s.dff = 32; s.norm = 0; s.t_gate = MOE_TYPE_Q8_0; s.t_up = MOE_TYPE_Q4_0; s.t_down = MOE_TYPE_Q8_0; break;
        case 6: s.E = 5; s.k = 1; s.dm = 4; s.dff = 9; s.norm = 0; s.act = MOE_ACT_RELU; cap = 2; break;
        default: s.E = 6; s.k = 2; s.dm = 11; s.dff = 41; s.t_gate = s.t_up = s.t_down = MOE_TYPE_F16; s.n_group = 6; s.topk_group = 2;
            s.score = MOE_SCORE_SIGMOID; s.woi = 1; break;
        }
        model_build(m, &s);
        for (T = 1; T <= 17; T++) {
            snprintf(label, sizeof label, "workspace sweep: E=%d k=%d S=%d d=%dx%d cap=%d T=%d", s.E, s.k, s.n_shared, s.dm, s.dff, cap, T);
            guarded_case(m, T, cap, (T * 13 + c) % 64, 1660u + (unsigned)T, label);
        }
        model_free(m);
        free(m);
    }
    for (c = 0; c < 5; c++) {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        moe_layer L;
        moe_status st;
        char label[160];
        int Tc = 1 + c % 3, bad_guard = -1, bad_out = -1, bad_st = -1;
        size_t ws, n;
        float *x, *y, *y0;
        s.seed = 1680u + (unsigned)c;
        switch (c) {
        case 0: s.E = 16; s.k = 2; s.dm = 20; s.dff = 41; s.n_group = 16; s.topk_group = 2; s.score = MOE_SCORE_SIGMOID;
            s.t_router = s.t_gate = s.t_up = s.t_down = MOE_TYPE_F16; break;
        case 1: s.E = 5; s.k = 2; s.dm = 13; s.dff = 41; s.n_group = 5; s.topk_group = 2; s.t_gate = s.t_up = s.t_down = MOE_TYPE_F16; break;
        case 2: s.E = 3; s.k = 1; s.dm = 9; s.dff = 7; s.t_up = s.t_down = MOE_TYPE_BF16; s.act = MOE_ACT_GELU; break;
        case 3: s.E = 4; s.k = 2; s.dm = 32; s.dff = 64; s.t_gate = s.t_up = MOE_TYPE_Q8_0; s.t_down = MOE_TYPE_Q4_0; break;
        default: s.E = 7; s.k = 3; s.dm = 17; s.dff = 23; s.n_shared = 1; s.dff_sh = 29; s.t_sup = MOE_TYPE_F16; s.t_sgate = MOE_TYPE_BF16; break;
        }
        model_build(m, &s);
        snprintf(label, sizeof label, "work offsets 0..63: E=%d k=%d n_group=%d d=%dx%d %s T=%d", s.E, s.k, s.n_group, s.dm, s.dff,
                 moe_type_name(s.t_down), Tc);
        guarded_case(m, Tc, 0, 0, 1690, label);    /* offset 0, against the reference */
        st = moe_layer_init(&L, &m->cfg, &m->w);
        if (!require(m->ok && st == MOE_OK, "%s: init %s", label, moe_status_string(st))) { model_free(m); free(m); continue; }
        ws = moe_workspace_size(&L, Tc);
        n = (size_t)Tc * s.dm;
        x = (float *)xmalloc(n * sizeof(float));
        y = (float *)xmalloc(n * sizeof(float));
        y0 = (float *)xmalloc(n * sizeof(float));
        {
            rng_t r = rng_make(s.seed, 5, 5);
            size_t i;
            for (i = 0; i < n; i++) x[i] = rng_sym(&r);
        }
        for (off = 0; off < 64; off++) {
            guarded g;
            guarded_make(&g, ws, off);
            st = moe_forward(&L, x, Tc, off ? y : y0, g.work, ws);
            if (st != MOE_OK && bad_st < 0) bad_st = off;
            if (!guarded_intact(&g) && bad_guard < 0) bad_guard = off;
            if (off && memcmp(y, y0, n * sizeof(float)) != 0 && bad_out < 0) bad_out = off;
            free(g.raw);
        }
        check(bad_st < 0, "%s: forward failed at work offset %d", label, bad_st);
        check(bad_guard < 0, "%s: work offset %d: bytes past work + moe_workspace_size (%lu) or before work were written", label, bad_guard, (unsigned long)ws);
        check(bad_out < 0, "%s: work offset %d: output differs from offset 0", label, bad_out);
        free(x); free(y); free(y0);
        model_free(m);
        free(m);
    }
}

static void test_memory(void)
{
    int c;
    if (!group_begin("memory")) return;
    for (c = 0; c < 6; c++) {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        moe_layer L, L2;
        moe_status st;
        const char *name = "";
        int T = 7, dm, k, off, i, cap = 0, cls;
        size_t ws, n;
        float *x, *xc, *y0, *y, *xb, *yb;
        int *rids;
        double *rw, *yr;
        void *work;
        unsigned char *gb;
        s.seed = 1600u + (unsigned)c;
        s.dm = 64; s.dff = 96;
        switch (c) {
        case 0: name = "f32 T=1"; T = 1; s.w_offset = 4; break;
        case 1: name = "f32 T=64 shared biases"; T = g_quick ? 16 : 64; s.n_shared = 1; s.dff_sh = 32; s.has_sgw = 1; s.has_gb = s.has_ub = s.has_db = 1; s.w_offset = 4; break;
        case 2: name = "q8_0 T=7"; s.t_router = s.t_gate = s.t_up = s.t_down = MOE_TYPE_Q8_0; s.w_offset = 2; break;
        case 3: name = "q4_0 T=33 groups"; T = 33; s.t_gate = s.t_up = s.t_down = MOE_TYPE_Q4_0; s.E = 16; s.k = 4; s.n_group = 4; s.topk_group = 2;
            s.score = MOE_SCORE_SIGMOID; s.w_offset = 2; break;
        case 4: name = "f16/bf16 T=20 capacity 3"; T = 20; s.t_gate = MOE_TYPE_F16; s.t_up = MOE_TYPE_BF16; s.t_down = MOE_TYPE_F16; s.w_offset = 2; cap = 3; break;
        default: name = "woi shared T=9 fused"; T = 9; s.woi = 1; s.score = MOE_SCORE_SIGMOID; s.norm = 0; s.k = 1; s.n_shared = 1; s.dff_sh = 64;
            s.fused = 1; s.layout = MOE_GATE_UP_INTERLEAVED; s.w_offset = 4; break;
        }
        model_build(m, &s);
        dm = s.dm; k = s.k; n = (size_t)T * dm;
        st = moe_layer_init(&L, &m->cfg, &m->w);
        if (!require(st == MOE_OK, "%s: init %s", name, moe_status_string(st))) { model_free(m); free(m); continue; }
        ws = moe_workspace_size(&L, T);
        x = (float *)xmalloc(n * sizeof(float));
        xc = (float *)xmalloc(n * sizeof(float));
        y0 = (float *)xmalloc(n * sizeof(float));
        y = (float *)xmalloc(n * sizeof(float));
        xb = (float *)xmalloc((n + 8) * sizeof(float));
        yb = (float *)xmalloc((n + 8) * sizeof(float));
        rids = (int *)xmalloc((size_t)T * k * sizeof(int));
        rw = (double *)xmalloc((size_t)T * k * sizeof(double));
        yr = (double *)xmalloc(n * sizeof(double));
        work = xmalloc(ws);
        gb = (unsigned char *)xmalloc(ws + 128);
        draw_x(m, x, T, 1601, m->tie_tol, rids, rw, name);
        cls = run_class(m, rids, T, cap);
        ref_forward(m, x, T, rids, rw, cap, yr);
        memcpy(xc, x, n * sizeof(float));
        {
            moe_run_opts o;
            memset(&o, 0, sizeof o);
            o.capacity = cap;
            st = moe_forward_ex(&L, x, T, y0, work, ws, &o);
            if (check(st == MOE_OK, "%s: forward %s", name, moe_status_string(st))) check_ref(m, y0, yr, n, cls, name);
            check(memcmp(x, xc, n * sizeof(float)) == 0, "%s: x was modified", name);
            /* guard bytes around an exact-size workspace at offsets 0..3 */
            for (off = 0; off < 4; off++) {
                int intact = 1;
                size_t b;
                memset(gb, 0xA5, ws + 128);
                st = moe_forward_ex(&L, x, T, y, gb + 64 + off, ws, &o);
                for (b = 0; b < (size_t)(64 + off); b++) if (gb[b] != 0xA5) intact = 0;
                for (b = 64 + (size_t)off + ws; b < ws + 128; b++) if (gb[b] != 0xA5) intact = 0;
                check(st == MOE_OK, "%s: work offset %d bytes: %s", name, off, moe_status_string(st));
                check(intact, "%s: work offset %d bytes: bytes outside the %lu-byte workspace were written", name, off, (unsigned long)ws);
                check(memcmp(y, y0, n * sizeof(float)) == 0, "%s: work offset %d: output differs from offset 0", name, off);
            }
            /* moe_route inside an exact workspace */
            {
                int intact = 1;
                size_t b;
                int *ids = (int *)xmalloc((size_t)T * k * sizeof(int));
                memset(gb, 0xA5, ws + 128);
                st = moe_route(&L, x, T, ids, NULL, gb + 65, ws);
                for (b = 0; b < 65; b++) if (gb[b] != 0xA5) intact = 0;
                for (b = 65 + ws; b < ws + 128; b++) if (gb[b] != 0xA5) intact = 0;
                check(st == MOE_OK && intact, "%s: moe_route %s, guard intact %d", name, moe_status_string(st), intact);
                free(ids);
            }
            /* x and y at offsets of 1..3 floats */
            for (off = 1; off < 4; off++) {
                memcpy(xb + off, x, n * sizeof(float));
                st = moe_forward_ex(&L, xb + off, T, yb + off, work, ws, &o);
                check(st == MOE_OK && memcmp(yb + off, y0, n * sizeof(float)) == 0, "%s: x, y offset by %d floats: %s, output differs", name, off,
                      moe_status_string(st));
            }
            /* in place */
            memcpy(y, x, n * sizeof(float));
            st = moe_forward_ex(&L, y, T, y, work, ws, &o);
            check(st == MOE_OK && memcmp(y, y0, n * sizeof(float)) == 0, "%s: in place (y == x): %s, differs from out of place", name, moe_status_string(st));
            /* dirty workspace and dirty y do not leak into the result */
            memset(work, 0xFF, ws);
            for (i = 0; i < (int)n; i++) y[i] = NAN;
            st = moe_forward_ex(&L, x, T, y, work, ws, &o);
            check(st == MOE_OK && memcmp(y, y0, n * sizeof(float)) == 0, "%s: NaN-filled workspace / y changed the result", name);
            memset(work, 0x7F, ws);
            st = moe_forward_ex(&L, x, T, y, work, ws, &o);
            check(st == MOE_OK && memcmp(y, y0, n * sizeof(float)) == 0, "%s: 0x7F-filled workspace changed the result", name);
            /* a copied layer works the same */
            memcpy(&L2, &L, sizeof L);
            st = moe_forward_ex(&L2, x, T, y, work, ws, &o);
            check(st == MOE_OK && memcmp(y, y0, n * sizeof(float)) == 0, "%s: copied layer: %s or different output", name, moe_status_string(st));
            /* a bigger workspace (sized for more tokens) */
            {
                size_t wb = moe_workspace_size(&L, 2 * T + 5);
                void *big = xmalloc(wb);
                check(wb >= ws, "%s: workspace(%d) = %lu < workspace(%d) = %lu", name, 2 * T + 5, (unsigned long)wb, T, (unsigned long)ws);
                st = moe_forward_ex(&L, x, T, y, big, wb, &o);
                check(st == MOE_OK && memcmp(y, y0, n * sizeof(float)) == 0, "%s: bigger workspace: %s, output differs", name, moe_status_string(st));
                free(big);
            }
        }
        free(x); free(xc); free(y0); free(y); free(xb); free(yb); free(rids); free(rw); free(yr); free(work); free(gb);
        model_free(m);
        free(m);
    }
    memory_sweeps();
    group_end();
}

/* ======================================================================================== */
/*                                   group: threads                                         */
/* ======================================================================================== */
typedef struct serial_pool { int n_threads, calls, tasks, bad_worker; } serial_pool;
static void serial_rev_for(void *pool, moe_task_fn task, void *ctx, int n)
{
    serial_pool *p = (serial_pool *)pool;
    int i;
    p->calls++;
    for (i = n - 1; i >= 0; i--) {
        task(ctx, i, (i * 7 + p->calls) % p->n_threads);
        p->tasks++;
    }
}

#ifdef MOE_TEST_THREADS
/* threads and a mutex: POSIX threads, or Win32 threads (CreateThread, a critical section) */
#ifdef MOE_TEST_PTHREAD
#define TT_NAME "pthread"
typedef pthread_t tt_thread;
typedef pthread_mutex_t tt_mutex;
typedef struct tt_start { int unused; } tt_start;
static int tt_create(tt_thread *t, tt_start *s, void *(*fn)(void *), void *arg) { (void)s; return pthread_create(t, NULL, fn, arg) == 0; }
static void tt_join(tt_thread t) { pthread_join(t, NULL); }
static void tt_mutex_init(tt_mutex *m) { pthread_mutex_init(m, NULL); }
static void tt_lock(tt_mutex *m) { pthread_mutex_lock(m); }
static void tt_unlock(tt_mutex *m) { pthread_mutex_unlock(m); }
static void tt_mutex_destroy(tt_mutex *m) { pthread_mutex_destroy(m); }
#else
#define TT_NAME "Win32 thread"
typedef HANDLE tt_thread;
typedef CRITICAL_SECTION tt_mutex;
typedef struct tt_start { void *(*fn)(void *); void *arg; } tt_start;   /* lives until the join */
static DWORD WINAPI tt_entry(LPVOID p)
{
    tt_start *s = (tt_start *)p;
    s->fn(s->arg);
    return 0;
}
static int tt_create(tt_thread *t, tt_start *s, void *(*fn)(void *), void *arg)
{
    s->fn = fn; s->arg = arg;
    *t = CreateThread(NULL, 0, tt_entry, s, 0, NULL);
    return *t != NULL;
}
static void tt_join(tt_thread t) { WaitForSingleObject(t, INFINITE); CloseHandle(t); }
static void tt_mutex_init(tt_mutex *m) { InitializeCriticalSection(m); }
static void tt_lock(tt_mutex *m) { EnterCriticalSection(m); }
static void tt_unlock(tt_mutex *m) { LeaveCriticalSection(m); }
static void tt_mutex_destroy(tt_mutex *m) { DeleteCriticalSection(m); }
#endif
typedef struct pt_job { moe_task_fn task; void *ctx; int n, next; tt_mutex mu; } pt_job;
typedef struct pt_arg { pt_job *job; int worker; } pt_arg;
static void *pt_main(void *p)
{
    pt_arg *a = (pt_arg *)p;
    for (;;) {
        int i;
        tt_lock(&a->job->mu);
        i = a->job->next++;
        tt_unlock(&a->job->mu);
        if (i >= a->job->n) break;
        a->job->task(a->job->ctx, i, a->worker);
    }
    return NULL;
}
static void pt_parallel_for(void *pool, moe_task_fn task, void *ctx, int n)
{
    int nt = *(int *)pool, w;
    tt_thread th[16];
    tt_start ts[16];
    pt_arg args[16];
    int started[16];
    pt_job job;
    if (nt > 16) nt = 16;
    job.task = task; job.ctx = ctx; job.n = n; job.next = 0;
    tt_mutex_init(&job.mu);
    for (w = 0; w < nt; w++) { args[w].job = &job; args[w].worker = w; started[w] = 0; }
    for (w = 1; w < nt; w++) started[w] = tt_create(&th[w], &ts[w], pt_main, &args[w]);
    pt_main(&args[0]);
    for (w = 1; w < nt; w++) if (started[w]) tt_join(th[w]);
    tt_mutex_destroy(&job.mu);
}
typedef struct conc_arg { const moe_layer *L; const float *x; int T; float *y; void *work; size_t ws; moe_status st; } conc_arg;
static void *conc_main(void *p)
{
    conc_arg *a = (conc_arg *)p;
    int r;
    for (r = 0; r < 3; r++) a->st = moe_forward(a->L, a->x, a->T, a->y, a->work, a->ws);
    return NULL;
}
#else
#define TT_NAME "no thread"   /* the thread-pool checks are left out */
#endif

/* A serial pool that never uses worker 0: each parallel_for call (one per phase) goes to worker
   1 + calls % (n_workers - 1), so with 3 workers the gate/up phase always runs on one worker
   and the down phase on another; `reverse` runs the tasks last to first. */
typedef struct phase_pool { int n_workers, calls, reverse; } phase_pool;
static void phase_pool_for(void *pool, moe_task_fn task, void *ctx, int n)
{
    phase_pool *p = (phase_pool *)pool;
    int i, w = 1 + p->calls % (p->n_workers - 1);
    p->calls++;
    for (i = 0; i < n; i++) task(ctx, p->reverse ? n - 1 - i : i, w);
}

/* The per-worker cache of quantised activation rows (Q8_0/Q4_0 experts with <= 8 tokens) is
   tagged by phase and expert. A second call on the same workspace with different x must not
   reuse the rows of the first call, whichever worker holds them: each call is compared with
   the reference for its own x and bitwise with a run on a fresh workspace. */
static void qx_reuse(void)
{
    int c;
    for (c = 0; c < 4; c++) {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        moe_layer L;
        moe_status st;
        char label[160];
        int T = c < 2 ? 3 : 6, call, pool_kind, dm, k;
        size_t ws, n;
        float *x[2], *y, *yf;
        int *rids[2];
        double *rw[2], *yr[2];
        void *work, *fresh;
        s.seed = 1750u + (unsigned)c;
        s.dm = 64; s.dff = 64; s.n_threads = 3;
        if (c % 2 == 0) { s.t_gate = s.t_up = s.t_down = MOE_TYPE_Q8_0; }
        else { s.t_gate = s.t_up = s.t_down = MOE_TYPE_Q4_0; }
        if (c < 2) { s.E = 1; s.k = 1; }                      /* every unit is expert 0's */
        else { s.E = 4; s.k = 2; s.n_shared = 1; s.dff_sh = 32; s.t_sgate = s.t_sup = s.t_sdown = s.t_down; }
        model_build(m, &s);
        dm = s.dm; k = s.k; n = (size_t)T * dm;
        st = moe_layer_init(&L, &m->cfg, &m->w);
        if (!require(m->ok && st == MOE_OK, "qx reuse case %d: init %s", c, moe_status_string(st))) { model_free(m); free(m); continue; }
        ws = moe_workspace_size(&L, T);
        work = xmalloc(ws);
        fresh = xmalloc(ws);
        y = (float *)xmalloc(n * sizeof(float));
        yf = (float *)xmalloc(n * sizeof(float));
        for (call = 0; call < 2; call++) {
            x[call] = (float *)xmalloc(n * sizeof(float));
            rids[call] = (int *)xmalloc((size_t)T * k * sizeof(int));
            rw[call] = (double *)xmalloc((size_t)T * k * sizeof(double));
            yr[call] = (double *)xmalloc(n * sizeof(double));
            draw_x(m, x[call], T, 1751u + (unsigned)call, m->tie_tol, rids[call], rw[call], "qx reuse");
            ref_forward(m, x[call], T, rids[call], rw[call], 0, yr[call]);
        }
        for (pool_kind = 0; pool_kind < 3; pool_kind++) {
            phase_pool pp;
#ifdef MOE_TEST_THREADS
            int nth = 3;
#endif
            moe_run_opts o;
            memset(&pp, 0, sizeof pp);
            pp.n_workers = 3;
            memset(&o, 0, sizeof o);
            o.n_threads = 3;
            if (pool_kind == 2) {
#ifdef MOE_TEST_THREADS
                o.parallel_for = pt_parallel_for;
                o.pool = &nth;
#else
                continue;
#endif
            } else {
                o.parallel_for = phase_pool_for;
                o.pool = &pp;
            }
            memset(work, 0, ws);
            for (call = 0; call < 4; call++) {   /* x0, x1, x0, x1 on one workspace */
                int xi = call % 2;
                pp.reverse = pool_kind == 1 && call % 2 == 1;   /* the last unit of a call is the next call's first */
                snprintf(label, sizeof label, "qx reuse: %s E=%d k=%d T=%d, %s, call %d on one workspace", moe_type_name(s.t_down), s.E, k, T,
                         pool_kind == 2 ? TT_NAME " pool" : pool_kind ? "pool on workers 1-2, alternating order" : "pool on workers 1-2", call + 1);
                st = moe_forward_ex(&L, x[xi], T, y, work, ws, &o);
                if (!check(st == MOE_OK, "%s: %s", label, moe_status_string(st))) continue;
                check_ref(m, y, yr[xi], n, run_class(m, rids[xi], T, 0), label);
                memset(fresh, 0xFF, ws);
                st = moe_forward(&L, x[xi], T, yf, fresh, ws);     /* serial, worker 0 */
                check(st == MOE_OK && memcmp(y, yf, n * sizeof(float)) == 0, "%s: differs from a run on a fresh workspace", label);
            }
        }
        for (call = 0; call < 2; call++) { free(x[call]); free(rids[call]); free(rw[call]); free(yr[call]); }
        free(y); free(yf); free(work); free(fresh);
        model_free(m);
        free(m);
    }
}

static void test_threads(void)
{
    int c;
    if (!group_begin("threads")) return;
#ifdef _OPENMP
    note("OpenMP build, omp_get_max_threads() = %d", omp_get_max_threads());
#endif
    for (c = 0; c < 6; c++) {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        moe_layer L[4];
        moe_status st;
        moe_run_opts o;
        int T, nt, dm, k;
        size_t n, wsz[4];
        float *x, *y1, *y;
        int *rids;
        double *rw;
        void *work[4];
        char name[80];
        static const int Tc[6] = {1, 7, 64, 64, 2, 129};
        T = Tc[c];
        if (g_quick && T > 16) T = 16;
        s.seed = 1700u + (unsigned)c;
        s.dm = 64; s.dff = 96; s.E = 16; s.k = 4;
        if (c == 1 || c == 3) { s.t_router = s.t_gate = s.t_up = s.t_down = MOE_TYPE_Q8_0; }
        if (c == 2) { s.t_gate = s.t_up = s.t_down = MOE_TYPE_Q4_0; s.n_shared = 1; s.dff_sh = 64; s.has_sgw = 1; }
        if (c == 4) { s.t_gate = MOE_TYPE_BF16; s.t_up = MOE_TYPE_F16; s.k = 16; }
        if (c == 5) { s.n_group = 4; s.topk_group = 2; s.score = MOE_SCORE_SIGMOID; s.has_sb = 1; s.woi = c == 5 ? 0 : 1; }
        snprintf(name, sizeof name, "case %d T=%d %s", c, T, moe_type_name(s.t_gate));
        model_build(m, &s);
        dm = s.dm; k = s.k; n = (size_t)T * dm;
        x = (float *)xmalloc(n * sizeof(float));
        y1 = (float *)xmalloc(n * sizeof(float));
        y = (float *)xmalloc(n * sizeof(float));
        rids = (int *)xmalloc((size_t)T * k * sizeof(int));
        rw = (double *)xmalloc((size_t)T * k * sizeof(double));
        draw_x(m, x, T, 1701, m->tie_tol, rids, rw, name);
        for (nt = 0; nt < 4; nt++) {
            moe_config cf = m->cfg;
            cf.n_threads = nt; /* 0: all OpenMP gives, or 1 */
            st = moe_layer_init(&L[nt], &cf, &m->w);
            require(st == MOE_OK, "%s: init n_threads %d: %s", name, nt, moe_status_string(st));
            wsz[nt] = moe_workspace_size(&L[nt], T);
            work[nt] = xmalloc(wsz[nt]);
        }
        st = moe_forward(&L[1], x, T, y1, work[1], wsz[1]);
        check(st == MOE_OK, "%s: forward n_threads 1: %s", name, moe_status_string(st));
        {
            double *yr = (double *)xmalloc(n * sizeof(double));
            ref_forward(m, x, T, rids, rw, 0, yr);
            check_ref(m, y1, yr, n, run_class(m, rids, T, 0), name);
            free(yr);
        }
        for (nt = 0; nt < 4; nt++) {
            if (nt == 1) continue;
            st = moe_forward(&L[nt], x, T, y, work[nt], wsz[nt]);
            check(st == MOE_OK && memcmp(y, y1, n * sizeof(float)) == 0, "%s: n_threads %d (%s) not bitwise equal to n_threads 1", name, nt, moe_status_string(st));
        }
        /* bring-your-own pool: serial, reverse order, varying worker ids */
        {
            serial_pool sp;
            int want;
            for (want = 1; want <= 3; want++) {
                memset(&sp, 0, sizeof sp);
                sp.n_threads = want;
                memset(&o, 0, sizeof o);
                o.n_threads = want;
                o.parallel_for = serial_rev_for;
                o.pool = &sp;
                st = moe_forward_ex(&L[3], x, T, y, work[3], wsz[3], &o);
                check(st == MOE_OK && memcmp(y, y1, n * sizeof(float)) == 0, "%s: serial reverse pool with %d workers (%s): output differs", name, want, moe_status_string(st));
                note("%s: pool with %d workers: %d calls, %d tasks", name, want, sp.calls, sp.tasks);
            }
            /* opts.n_threads 0 = the layer's */
            memset(&sp, 0, sizeof sp);
            sp.n_threads = L[3].n_threads > 0 ? L[3].n_threads : 1;
            memset(&o, 0, sizeof o);
            o.parallel_for = serial_rev_for;
            o.pool = &sp;
            st = moe_forward_ex(&L[3], x, T, y, work[3], wsz[3], &o);
            check(st == MOE_OK && memcmp(y, y1, n * sizeof(float)) == 0, "%s: serial pool, opts.n_threads 0 (%s): output differs", name, moe_status_string(st));
            memset(&o, 0, sizeof o);
            o.n_threads = 4;
            o.parallel_for = serial_rev_for;
            o.pool = &sp;
            st = moe_forward_ex(&L[3], x, T, y, work[3], wsz[3], &o);
            check(st == MOE_ERR_THREADS, "%s: opts.n_threads 4 on a layer for 3 -> %s", name, moe_status_string(st));
        }
#ifdef MOE_TEST_THREADS
        {
            int nth = 3;
            memset(&o, 0, sizeof o);
            o.n_threads = 3;
            o.parallel_for = pt_parallel_for;
            o.pool = &nth;
            st = moe_forward_ex(&L[3], x, T, y, work[3], wsz[3], &o);
            check(st == MOE_OK && memcmp(y, y1, n * sizeof(float)) == 0, "%s: " TT_NAME " pool (%s): output differs", name, moe_status_string(st));
        }
        /* several threads share one layer, each with its own workspace */
        {
            conc_arg a[3];
            tt_thread th[3];
            tt_start ts[3];
            int started[3], i;
            for (i = 0; i < 3; i++) {
                a[i].L = &L[1]; a[i].x = x; a[i].T = T; a[i].ws = wsz[1];
                a[i].y = (float *)xmalloc(n * sizeof(float));
                a[i].work = xmalloc(wsz[1]);
                a[i].st = MOE_ERR_ARG;
            }
            for (i = 0; i < 3; i++) started[i] = tt_create(&th[i], &ts[i], conc_main, &a[i]);
            for (i = 0; i < 3; i++) if (started[i]) tt_join(th[i]); else conc_main(&a[i]);
            for (i = 0; i < 3; i++) {
                check(a[i].st == MOE_OK && memcmp(a[i].y, y1, n * sizeof(float)) == 0, "%s: concurrent forward %d on one layer: %s or different output", name, i, moe_status_string(a[i].st));
                free(a[i].y);
                free(a[i].work);
            }
        }
#endif
        for (nt = 0; nt < 4; nt++) free(work[nt]);
        free(x); free(y1); free(y); free(rids); free(rw);
        model_free(m);
        free(m);
    }
    qx_reuse();
    group_end();
}

#if !defined(MOE_TEST_EXTERN_IMPL) && !defined(MOE_DISPATCH)   /* white box: needs the implementation in
                                                                   this file, its internals named once */
/* ======================================================================================== */
/*     group: kernels -- the integer kernels of the Q8_K family, white box, tight bounds     */
/* ======================================================================================== */
/* The layer tests bound a K-quant/MXFP4 layer with 1..8 tokens by the activation quantiser's
   error (EC_Q8K_INT, 5e-2): far too loose to catch a kernel that drops one sub-block's min or
   reads a nibble off by one. So here the kernels themselves are checked (this file includes
   the implementation): the Q8_K quantiser against the rule it documents, then every kernel
   (moe__kdot, through moe__kgemm, on whatever path this build has) against the float64 sum
   of the dequantised row (moe_dequantize) times the quantised activations (d * q), bound
   1e-6 of the sum of |terms| (measured: below 1e-7). Rows are random bytes (every scale, min
   and code pattern; f16 d/dmin finite) and rows from moe_quantize; tokens include +-127
   codes, blocks of 0 and NaN, and MXFP4 scales 0 and 254. */
static void kern_token(rng_t *r, float *x, int K, int kind)
{
    int i;
    for (i = 0; i < K; i++) {
        double v = rng_sym(r);
        if (kind == 1) v = (i % 7 == 3) ? (i % 2 ? 1.0 : -1.0) : v * 0.999;    /* many +-127 codes */
        if (kind == 2) v *= pow(2.0, (double)(rng_int(r, 40) - 20));            /* wide range in a block */
        if (kind == 3 && i >= 256 && i < 512) v = 0.0;                           /* a zero block */
        x[i] = (float)v;
    }
}
static void kern_rand_row(rng_t *r, moe_type t, unsigned char *w, int K)
{
    size_t rb = moe_type_row_size(t, (size_t)K), i, b;
    for (i = 0; i < rb; i++) w[i] = (unsigned char)rng_next(r);
    for (b = 0; b < (size_t)K / moe__traits[t].blck; b++) {   /* finite f16 d (and dmin) */
        unsigned char *s = w + b * (rb / ((size_t)K / moe__traits[t].blck));
        size_t at = t == MOE_TYPE_Q2_K ? 80 : t == MOE_TYPE_Q3_K ? 108 : t == MOE_TYPE_Q6_K ? 208 : 0;
        if (t == MOE_TYPE_MXFP4) { s[0] = (unsigned char)(100 + rng_int(r, 50)); continue; }
        s[at + 1] &= 0x3b;                       /* exponent field < 31: finite, at most ~2^-1 .. 2^0 */
        if (t == MOE_TYPE_Q4_K || t == MOE_TYPE_Q5_K || t == MOE_TYPE_Q2_K) s[at + 3] &= 0x3b;
    }
}
/* The integer batch kernels (cfg.batch_quant = MOE_BATCH_INT), white box: a group of G tokens
   quantised by moe__ib_qpanel (one token NaN, one all zero, one tiny, the padding lanes zero),
   rows repacked by moe__ib_pack (a row count that is not a multiple of the tile: the missing rows
   must come out 0), moe__ib_tile's outputs against the float64 sum of the dequantised weights
   times the activations moe__qx_scalar gives (Q8_0: q1 + q2/256, the other types q1), at 1e-6
   of the sum of |terms|: the integer sums are exact, so only the float steps remain. Every
   integer-batch type: Q8_0, Q4_0 (rows from moe_quantize), Q4_K, Q5_K, Q6_K, Q3_K and MXFP4
   (ggml's blocks and the split gpt-oss layout with its external E8M0 bytes): rows of random
   bytes (every scale, min and code, Q6_K's scale -128 included; finite f16 d/dmin, MXFP4
   exponents 100..149) and rows from moe_quantize. The panel holds only the planes the type
   reads, or all three (the plane offsets). */
/* The tile's outputs (Q8_0, Q4_0) against the float steps on the exact int32 block sums: bit for
   bit where floats are evaluated in single precision on a little-endian host; with x87 excess
   precision (i386), and on s390x, where 1-2 ulp differences show that are not explained yet,
   within 2 ulp of the sum of |terms| per block (the panel's integers and dx are checked exactly) */
#if (defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0) || defined(__s390__)
#define IB_STEP_TOL (2.0 * FLT_EPSILON)
#else
#define IB_STEP_TOL 0.0
#endif
#ifdef MOE__IB8
#define IB_HAS_TILE(t) MOE__IBQP(t)     /* NEON's byte tiles: not Q6_K and Q3_K */
#else
#define IB_HAS_TILE(t) 1
#endif
static void test_ib_kernels(void)
{
    static const moe_type ts[9] = {MOE_TYPE_Q8_0, MOE_TYPE_Q4_0, MOE_TYPE_Q4_K, MOE_TYPE_Q5_K, MOE_TYPE_Q6_K, MOE_TYPE_Q3_K,
                                   MOE_TYPE_MXFP4, MOE_TYPE_MXFP4, MOE_TYPE_Q2_K};
    rng_t r = {0x1b0a7ull};
    int ti, ki;
    double worst = 0.0;
#if defined(MOE__IB8) && defined(__ARM_FEATURE_MATMUL_INT8) && defined(__aarch64__)
    /* a build the compiler gives i8mm runs the smmla tiles below (the aarch64-neon-i8mm configuration) */
    check(MOE__X_I8MM == 1 && MOE__IR == 8, "integer batch kernels: the compiler has i8mm but moe.h built the sdot tiles");
#endif
    for (ti = 0; ti < 9; ti++)
        for (ki = 0; ki < 3 && IB_HAS_TILE(ts[ti]); ki++) {
            moe_type t = ts[ti];
            int split = ti == 7, blck = (int)moe__traits[t].blck, kq = t == MOE_TYPE_Q8_0 || t == MOE_TYPE_Q4_0;
            int K = ki == 0 ? blck : ki == 1 ? (blck == 32 ? 13 * 32 : 3 * blck) : 2048;
            int nr = MOE__IR + 3, G = MOE__IG, n, i, row, b, wn = -1, wrow = 0, nanbad = 0, inexact = 0, pbad = 0, pn = 0, pb = 0, pl = ki == 1 ? 7 : MOE__IBPL(t);
            size_t rb = moe_type_row_size(t, (size_t)K), ntile = (size_t)(nr + MOE__IR - 1) / MOE__IR, nb32 = (size_t)K / 32;
            float *x = (float *)xmalloc((size_t)K * (size_t)G * sizeof(float)), *wd = (float *)xmalloc((size_t)K * sizeof(float));
            float *c = (float *)xmalloc((size_t)MOE__IR * (size_t)G * sizeof(float) * ntile);
            unsigned char *w = (unsigned char *)xmalloc(rb * (size_t)nr), *g = (unsigned char *)xmalloc(moe__ib_tokbytes((size_t)K, pl) * (size_t)G);
            unsigned char *pk = (unsigned char *)xmalloc(moe__ib_tilebytes(t, (size_t)K) * ntile);
            unsigned char *wsp = (unsigned char *)xmalloc(nb32 * 16 * (size_t)nr + 1), *esp = (unsigned char *)xmalloc(nb32 * (size_t)nr + 1);
            double wrel = 0.0;
            moe__matrix M;
            for (row = 0; row < nr; row++) {
                if (!kq && row % 2 == 0) { kern_rand_row(&r, t, w + (size_t)row * rb, K); continue; }
                for (i = 0; i < K; i++) wd[i] = rng_sym(&r) * (row == 1 ? 1e-3f : 2.0f) + (row == 3 ? 0.7f : 0.0f);
                if (!require(moe_quantize(t, wd, w + (size_t)row * rb, 1, (size_t)K) == MOE_OK, "ib kernels: quantize")) break;
            }
            if (split)                                 /* the gpt-oss layout of the same values */
                for (row = 0; row < nr; row++)
                    for (b = 0; b < (int)nb32; b++) {
                        const unsigned char *sq = w + (size_t)row * rb + (size_t)b * 17;
                        unsigned char *o = wsp + (size_t)row * (nb32 * 16) + (size_t)b * 16;
                        esp[(size_t)row * nb32 + (size_t)b] = sq[0];
                        for (i = 0; i < 16; i++) {
                            int v0 = 2 * i, v1 = 2 * i + 1;
                            int n0 = (sq[1 + v0 % 16] >> (4 * (v0 / 16))) & 15, n1 = (sq[1 + v1 % 16] >> (4 * (v1 / 16))) & 15;
                            o[i] = (unsigned char)(n0 | (n1 << 4));
                        }
                    }
            for (n = 0; n < G; n++)           /* token n's value k at x[k * G + n] */
                for (i = 0; i < K; i++)
                    x[(size_t)i * (size_t)G + (size_t)n] = n == 1 ? 0.0f : n == 2 ? rng_sym(&r) * 1e-20f : n >= G - 2 && G > 2 ? 0.0f
                                                         : rng_sym(&r) * (i % 7 == 0 ? 5.0f : 1.0f) + (n == 4 ? 0.5f : 0.0f);
            if (G > 3) x[(size_t)(K / 2) * (size_t)G + 3] = (float)NAN;
            moe__ib_qpanel(K, 0, K / 32, x, g, pl);
            for (n = 0; n < G; n++)                  /* the panel holds moe__qx_scalar's dx and integers */
                for (b = 0; b < K / 32; b++) {
                    float xb[32], amax = 0.0f, dx, pdx;
                    signed char q1[32], q2[32];
                    int nf = 0, s1 = 0, bad = 0;
                    int32_t c8;
                    const unsigned char *a8 = g + nb32 * (size_t)G * 8;
#ifdef MOE__IB8                                      /* q1 for either type, q2 bytes K G on */
                    const unsigned char *a16 = NULL, *w16 = NULL, *a2 = a8 + (size_t)K * (size_t)G;
                    const int h8 = (pl & 3) != 0;
#else
                    const unsigned char *a16 = a8 + ((pl & 1) ? (size_t)K * (size_t)G : 0), *a2 = NULL;
                    const unsigned char *w16 = a16 + ((pl & 2) ? 2 * (size_t)K * (size_t)G : 0);
                    const int h8 = pl & 1;
#endif
                    for (i = 0; i < 32; i++) {
                        xb[i] = x[(size_t)(32 * b + i) * (size_t)G + (size_t)n];
                        if (xb[i] != xb[i]) nf = 1; else if (fabsf(xb[i]) > amax) amax = fabsf(xb[i]);
                    }
                    dx = moe__qx_scalar(xb, q1, q2, amax, nf);
                    memcpy(&pdx, g + ((size_t)b * (size_t)G + (size_t)n) * 4, 4);
                    memcpy(&c8, g + (nb32 + (size_t)b) * (size_t)G * 4 + (size_t)n * 4, 4);
                    for (i = 0; i < 32; i++) {
                        size_t at = (((size_t)b * 8 + (size_t)(i / 4)) * (size_t)G + (size_t)n) * 4 + (size_t)(i % 4);
                        size_t at2 = ((((size_t)b * 16 + (size_t)(i / 2)) * (size_t)G + (size_t)n) * 2 + (size_t)(i % 2)) * 2;
                        int16_t v16;
                        s1 += q1[i];
                        if (h8 && (signed char)a8[at] != q1[i]) bad = 1;
                        if (a2 && (pl & 2) && (signed char)a2[at] != q2[i]) bad = 1;
                        if (a16 && (pl & 2)) { memcpy(&v16, a16 + at2, 2); if (v16 != 256 * q1[i] + q2[i]) bad = 1; }
                        if (w16 && (pl & 4)) { memcpy(&v16, w16 + at2, 2); if (v16 != q1[i]) bad = 1; }
                    }
                    if (c8 != -8 * s1 || !(pdx == dx || (pdx != pdx && dx != dx))) bad = 1;
                    if (bad && !pbad++) { pn = n; pb = b; }
                }
            check(pbad == 0, "integer batch panel K=%d planes %d (%s path): %d blocks (first: token %d block %d): dx, c8, q1, q2 or their planes differ from moe__qx_scalar's",
                  K, pl, moe_simd_name(), pbad, pn, pb);
            memset(&M, 0, sizeof M);
            M.type = t; M.cols = K; M.rows = nr; M.data = split ? wsp : w; M.row_stride = split ? nb32 * 16 : rb;
            if (split) { M.scale_kind = MOE__XS_E8M0_32; M.scale = esp; M.scale_rows = 1; M.scale_cols = 32;
                         M.scale_row_stride = nb32; M.row_mul = 1; }
            moe__ib_pack(&M, M.type, 0, 0, nr, pk);
            for (b = 0; b < (int)ntile; b++) moe__ib_tile(t, K, pk + (size_t)b * moe__ib_tilebytes(t, (size_t)K), g, pl, c + (size_t)b * MOE__IR * (size_t)G);
            for (row = 0; row < (int)ntile * MOE__IR; row++) {
                if (row < nr && !require(moe_dequantize(t, w + (size_t)row * rb, wd, 1, (size_t)K) == MOE_OK, "ib kernels: dequantize")) break;
                for (n = 0; n < G; n++) {
                    double ref = 0.0, mag = 0.0, rel, out = c[(size_t)(row / MOE__IR) * MOE__IR * (size_t)G + (size_t)(row % MOE__IR) * (size_t)G + (size_t)n];
                    float ef = 0.0f, eu = 0.0f;    /* the float steps on the exact block sums: fused, or not */
                    int bad = 0;
                    for (b = 0; b < K / 32; b++) {
                        float xb[32], amax = 0.0f, dx;
                        signed char q1[32], q2[32];
                        int nf = 0;
                        for (i = 0; i < 32; i++) {
                            xb[i] = x[(size_t)(32 * b + i) * (size_t)G + (size_t)n];
                            if (xb[i] != xb[i]) nf = 1; else if (fabsf(xb[i]) > amax) amax = fabsf(xb[i]);
                        }
                        dx = moe__qx_scalar(xb, q1, q2, amax, nf);
                        if (nf) bad = 1;
                        if (kq && !nf && row < nr) {    /* the block's int32 sum from the raw quants */
                            const unsigned char *wb = w + (size_t)row * rb + (size_t)b * (t == MOE_TYPE_Q8_0 ? 34 : 18);
                            float p = dx * moe__h2f(moe__rd16(wb)), m;
                            int32_t S = 0;
                            for (i = 0; i < 32; i++)
                                S += t == MOE_TYPE_Q8_0 ? (signed char)wb[2 + i] * (256 * q1[i] + q2[i])
                                                        : ((i < 16 ? wb[2 + i] & 15 : wb[2 + i - 16] >> 4) - 8) * q1[i];
                            ef = fmaf((float)S, p, ef);
                            m = (float)S * p;
                            eu = eu + m;
                        }
                        for (i = 0; i < 32 && !nf; i++) {
                            double a = t == MOE_TYPE_Q8_0 ? q1[i] + q2[i] / 256.0 : q1[i];
                            double v = row < nr ? (double)wd[32 * b + i] * (double)dx * a : 0.0;
                            ref += v; mag += fabs(v);
                        }
                    }
                    if (bad) { if (row < nr && out == out) nanbad = 1; continue; }     /* a NaN block: NaN */
                    if (t == MOE_TYPE_Q8_0) { ef *= 1.0f / 256.0f; eu *= 1.0f / 256.0f; }
                    if (kq && row < nr && fabs(out - ef) > IB_STEP_TOL * (K / 32) * mag && fabs(out - eu) > IB_STEP_TOL * (K / 32) * mag) inexact++;
                    rel = fabs(out - ref) / (mag > 0.0 ? mag : 1.0);
                    if (row >= nr && out != 0.0) rel = 1.0;                          /* padding rows: 0 */
                    if (!(rel <= wrel)) { wrel = rel; wn = n; wrow = row; }
                }
            }
            if (wrel > worst) worst = wrel;
            check(inexact == 0, "integer batch kernel %s K=%d planes %d (%s path): %d outputs differ from the float steps on the exact block sums",
                  moe_type_name(t), K, pl, moe_simd_name(), inexact);
            check(wrel <= 1e-6 && !nanbad, "integer batch kernel %s%s K=%d planes %d (%s path): row %d token %d: |dot - ref| / sum|terms| = %.3g > 1e-6%s",
                  moe_type_name(t), split ? " (split layout)" : "", K, pl, moe_simd_name(), wrow, wn, wrel, nanbad ? ", or a NaN token gave a number" : "");
            free(x); free(wd); free(c); free(w); free(g); free(pk); free(wsp); free(esp);
        }
    if (g_verbose) printf("integer batch kernels: worst |dot - ref| / sum|terms| = %.3g\n", worst);
}

/* The x86 repack of K-quant and MXFP4 rows (moe__ib_pack: four rows at a time by moe__ib_packk4,
   the rest of a tile row by row) writes exactly the bytes of the plain-C moe__ib_packk, byte for
   byte, tile padding included: every such type (MXFP4 in both layouts), row counts 1 .. 2 IR + 5
   (whole tiles, partial tiles with and without a group of four, the missing rows zero), K one,
   three and eight super-blocks (MXFP4 13 blocks), random bytes (finite d). The output buffer
   starts as garbage, so a byte the repack misses shows too. On the scalar path both are the
   plain C, and so on NEON (its Q4_K/Q5_K/Q2_K/MXFP4 tiles: IB_HAS_TILE). */
static void test_ib_pack_ref(void)
{
    static const moe_type ts[7] = {MOE_TYPE_Q4_K, MOE_TYPE_Q5_K, MOE_TYPE_Q6_K, MOE_TYPE_Q3_K, MOE_TYPE_MXFP4, MOE_TYPE_MXFP4, MOE_TYPE_Q2_K};
    rng_t r = {0x9ac4ull};
    int ti, ki, nr, row, bad = 0;
    for (ti = 0; ti < 7; ti++)
        for (ki = 0; ki < 3 && IB_HAS_TILE(ts[ti]); ki++) {
            moe_type t = ts[ti];
            int split = ti == 5, blck = (int)moe__traits[t].blck;
            int K = ki == 0 ? blck : ki == 1 ? (blck == 32 ? 13 * 32 : 3 * blck) : 8 * blck, nmax = 2 * MOE__IR + 5;
            size_t rb = moe_type_row_size(t, (size_t)K), tb = moe__ib_tilebytes(t, (size_t)K), nb32 = (size_t)K / 32;
            size_t ntmax = (size_t)(nmax + MOE__IR - 1) / MOE__IR, rs = split ? nb32 * 16 : rb;
            unsigned char *w = (unsigned char *)xmalloc(rb * (size_t)nmax), *es = (unsigned char *)xmalloc(nb32 * (size_t)nmax);
            unsigned char *pk = (unsigned char *)xmalloc(tb * ntmax), *ref = (unsigned char *)xmalloc(tb * ntmax);
            moe__matrix M;
            size_t i;
            for (row = 0; row < nmax; row++) kern_rand_row(&r, t, w + (size_t)row * rb, K);
            for (i = 0; i < nb32 * (size_t)nmax; i++) es[i] = (unsigned char)(100 + rng_int(&r, 50));
            memset(&M, 0, sizeof M);
            M.type = t; M.cols = K; M.rows = nmax; M.data = w; M.row_stride = rs;
            if (split) { M.scale_kind = MOE__XS_E8M0_32; M.scale = es; M.scale_rows = 1; M.scale_cols = 32;
                         M.scale_row_stride = nb32; M.row_mul = 1; }
            for (nr = 1; nr <= nmax; nr++) {
                size_t nt = (size_t)(nr + MOE__IR - 1) / MOE__IR, at;
                memset(pk, 0xa5, tb * ntmax);
                memset(ref, 0, tb * nt);
                moe__ib_pack(&M, M.type, 0, 0, nr, pk);
                for (row = 0; row < nr; row++)
                    moe__ib_packk(t, w + (size_t)row * rs, split ? es + (size_t)row * nb32 : NULL, K, row % MOE__IR, ref + (size_t)(row / MOE__IR) * tb);
                for (at = 0; at < tb * nt && pk[at] == ref[at]; at++) {}
                if (!check(at == tb * nt, "integer batch repack %s%s K=%d rows %d (%s path): byte %lu (tile %lu) is %02x, the plain-C repack's %02x",
                           moe_type_name(t), split ? " (split layout)" : "", K, nr, moe_simd_name(), (unsigned long)at, (unsigned long)(at / tb),
                           at < tb * nt ? pk[at] : 0, at < tb * nt ? ref[at] : 0)) bad = 1;
                if (bad) break;
            }
            free(w); free(es); free(pk); free(ref);
        }
}

static void test_kernels(void)
{
    static const int Ks[4] = {256, 512, 2304, 416};   /* 416 = 13 blocks of 32: MXFP4 only */
    rng_t r = {0x5eed0ull};
    int ti, ki, kind, row, i, b;
    double worst = 0.0;
    if (!group_begin("kernels")) return;
    /* the quantiser: d = amax/127, q = nearest(x * 127/amax) within 1/2 (+ rounding), bsums exact,
       the tail of a short last block zero; a NaN block gives d = NaN and q = 0 */
    for (kind = 0; kind < 4; kind++) {
        int K = kind == 3 ? 600 : 512, nb = (K + 255) / 256, bad = -1;
        float *x = (float *)xmalloc((size_t)K * sizeof(float));
        unsigned char *qx = (unsigned char *)xmalloc(MOE__QXK_BYTES(K));
        kern_token(&r, x, K, kind);
        if (kind == 2) x[300] = (float)NAN;
        moe__qxk_make(K, x, qx);
        for (b = 0; b < nb && bad < 0; b++) {
            const unsigned char *blk = qx + (size_t)b * MOE__QXK_BLK;
            const signed char *q = (const signed char *)(blk + 4);
            int n = K - 256 * b < 256 ? K - 256 * b : 256, j;
            float amax = 0.0f, d = moe__qxk_d(blk);
            int nan = 0;
            for (i = 0; i < n; i++) { if (x[256 * b + i] != x[256 * b + i]) nan = 1; else if (fabsf(x[256 * b + i]) > amax) amax = fabsf(x[256 * b + i]); }
            if (nan) { for (i = 0; i < 256; i++) if (q[i]) bad = b; if (d == d) bad = b; continue; }
            if (amax == 0.0f ? d != 0.0f : d != (float)(amax / 127.0f)) bad = b;   /* the cast: FLT_EVAL_METHOD 1 (s390x) and 2 (x87) */
            for (i = 0; i < 256; i++) {
                double e = i < n && amax > 0.0f ? fabs((double)q[i] - (double)x[256 * b + i] * 127.0 / (double)amax) : fabs((double)q[i]);
                if (!(e <= 0.5 + 1e-5) || q[i] < -127) bad = b;
            }
            for (j = 0; j < 16; j++) {
                int s = 0;
                for (i = 0; i < 16; i++) s += q[16 * j + i];
                {
                    int16_t bs;
                    memcpy(&bs, blk + 260 + 2 * j, 2);
                    if (s != bs) bad = b;
                }
            }
        }
        check(bad < 0, "Q8_K quantiser, token kind %d K=%d: block %d breaks its rule", kind, K, bad);
        free(x); free(qx);
    }
    for (ti = 0; ti < 6; ti++) {
        moe_type t = g_new_types[ti];
        for (ki = 0; ki < 4; ki++) {
            int K = Ks[ki], split;
            if (ki == 3 && t != MOE_TYPE_MXFP4) continue;
            for (split = 0; split < (t == MOE_TYPE_MXFP4 ? 2 : 1); split++) {
                size_t rb = moe_type_row_size(t, (size_t)K), nb32 = (size_t)K / 32;
                int R = 6, T = 4, wi = -1, wrow = 0;
                double wrel = 0.0;
                unsigned char *w = (unsigned char *)xmalloc(rb * (size_t)R), *wsp = (unsigned char *)xmalloc(rb * (size_t)R);
                unsigned char *esp = (unsigned char *)xmalloc(nb32 * (size_t)R + 1);
                unsigned char *qx = (unsigned char *)xmalloc(MOE__QXK_BYTES(K) * (size_t)T);
                float *x = (float *)xmalloc((size_t)K * sizeof(float)), *wd = (float *)xmalloc((size_t)K * sizeof(float));
                float out[4][8], *outp[4];
                moe__matrix M;
                for (row = 0; row < R; row++) {
                    unsigned char *wr = w + (size_t)row * rb;
                    if (row < 4) kern_rand_row(&r, t, wr, K);
                    else {
                        for (i = 0; i < K; i++) x[i] = rng_sym(&r) * (row == 5 ? 1e-3f : 3.0f);
                        if (!require(moe_quantize(t, x, wr, 1, (size_t)K) == MOE_OK, "kernels: moe_quantize %s", moe_type_name(t))) break;
                    }
                    if (t == MOE_TYPE_MXFP4 && row == 1) wr[0] = 0;                /* E8M0 0: 2^-128 */
                    if (t == MOE_TYPE_MXFP4 && row == 2) wr[17] = 254;             /* 2^126, tiny tokens below */
                }
                if (t == MOE_TYPE_MXFP4)                 /* the split gpt-oss layout of the same values */
                    for (row = 0; row < R; row++)
                        for (b = 0; b < (int)nb32; b++) {
                            const unsigned char *s = w + (size_t)row * rb + (size_t)b * 17;
                            unsigned char *o = wsp + (size_t)row * (nb32 * 16) + (size_t)b * 16;
                            esp[(size_t)row * nb32 + (size_t)b] = s[0];
                            for (i = 0; i < 16; i++) {   /* value v: ggml byte v%16, nibble v/16; split byte v/2, nibble v%2 */
                                int v0 = 2 * i, v1 = 2 * i + 1;
                                int n0 = (s[1 + v0 % 16] >> (4 * (v0 / 16))) & 15, n1 = (s[1 + v1 % 16] >> (4 * (v1 / 16))) & 15;
                                o[i] = (unsigned char)(n0 | (n1 << 4));
                            }
                        }
                for (i = 0; i < T; i++) {
                    kern_token(&r, x, K, i);
                    if (t == MOE_TYPE_MXFP4 && i == 1) { int c; for (c = 0; c < K; c++) x[c] *= 1e-30f; }
                    moe__qxk_make(K, x, qx + (size_t)i * MOE__QXK_BYTES(K));
                    outp[i] = out[i];
                }
                memset(&M, 0, sizeof M);
                M.type = t; M.cols = K; M.rows = R; M.data = split ? wsp : w; M.row_stride = split ? nb32 * 16 : rb;
                if (split) { M.scale_kind = MOE__XS_E8M0_32; M.scale = esp; M.scale_rows = 1; M.scale_cols = 32;
                             M.scale_row_stride = nb32; M.row_mul = 1; }
                moe__kgemm(&M, 0, 0, R, qx, T, outp);
                for (row = 0; row < R; row++) {
                    if (!require(moe_dequantize(t, w + (size_t)row * rb, wd, 1, (size_t)K) == MOE_OK, "kernels: dequantize")) break;
                    for (i = 0; i < T; i++) {
                        const unsigned char *xq = qx + (size_t)i * MOE__QXK_BYTES(K);
                        double ref = 0.0, mag = 0.0, rel;
                        int c;
                        for (c = 0; c < K; c++) {
                            const unsigned char *blk = xq + (size_t)(c / 256) * MOE__QXK_BLK;
                            double v = (double)wd[c] * (double)moe__qxk_d(blk) * ((const signed char *)(blk + 4))[c % 256];
                            ref += v; mag += fabs(v);
                        }
                        rel = fabs((double)out[i][row] - ref) / (mag > 0.0 ? mag : 1.0);
                        if (!(rel <= wrel)) { wrel = rel; wi = i; wrow = row; }
                    }
                }
                if (wrel > worst) worst = wrel;
                check(wrel <= 1e-6, "kernel %s%s K=%d (%s path): row %d token %d: |dot - ref| / sum|terms| = %.3g > 1e-6",
                      moe_type_name(t), split ? " (split layout)" : "", K, moe_simd_name(), wrow, wi, wrel);
                free(w); free(wsp); free(esp); free(qx); free(x); free(wd);
            }
        }
    }
    if (g_verbose) printf("kernels: worst |dot - ref| / sum|terms| = %.3g\n", worst);
    test_ib_kernels();
    test_ib_pack_ref();
    group_end();
}
#endif

/* ---- group: ibatch -- experts with more than 8 tokens on integer-batch types, both modes -------
   Layers whose expert matrices are all Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, Q3_K or MXFP4 (routed,
   shared, fused gate_up, MXFP4 with external E8M0 scales, and mixes of types as in Q4_K_M files),
   T so that the experts get 9..40 tokens each (the batched path), d_ff with a partial last unit of
   rows where the type allows it, each mode against the float64 reference within its class
   (MOE_BATCH_INT: the int classes; MOE_BATCH_EXACT: the int classes too, as experts with 1..8
   tokens still quantise), every thread count bit for bit (the threads group's rule), and a NaN
   token's row NaN, the others finite (Q2_K included). The errors per type and mode are printed
   with --verbose. */
#define IB_NT 9
/* the integer-batch types of the ibatch and prepack groups (COUNT: a Q4_K_M-like mix) and layer
   variant var of type ti: 0 plain, 1 a shared expert, 2 fused gate_up with biases, 3 GELU with
   per-expert pointers on 3 threads, 4 (MXFP4 only) external E8M0 scales. 0: no such variant.
   Leaves bq, seed and prepack to the caller. */
static const moe_type ib_types[IB_NT] = {MOE_TYPE_Q8_0, MOE_TYPE_Q4_0, MOE_TYPE_Q4_K, MOE_TYPE_Q5_K, MOE_TYPE_Q6_K,
                                         MOE_TYPE_Q3_K, MOE_TYPE_MXFP4, MOE_TYPE_Q2_K, MOE_TYPE_COUNT /* mixed */};
static const char *ib_type_name(int ti) { return ib_types[ti] == MOE_TYPE_COUNT ? "mixed" : moe_type_name(ib_types[ti]); }
static int ib_spec(int ti, int var, spec *s)
{
    moe_type t = ib_types[ti];
    int kq = t != MOE_TYPE_Q8_0 && t != MOE_TYPE_Q4_0 && t != MOE_TYPE_MXFP4;   /* blocks of 256 */
    if (t == MOE_TYPE_COUNT) { t = MOE_TYPE_Q4_K; kq = 1; }
    if (var == 4 && t != MOE_TYPE_MXFP4) return 0;   /* var 4: external E8M0 scales, MXFP4 only */
    *s = spec_default();
    s->dm = kq ? 256 : var == 1 ? 96 : 128; s->dff = kq ? (var == 2 ? 768 : 256) : var == 2 ? 224 : 160; s->E = 4; s->k = 2;
    s->t_gate = s->t_up = s->t_down = s->t_gate_up = t;
    if (ib_types[ti] == MOE_TYPE_COUNT) {             /* Q4_K_M-like: down Q6_K; var 3: every plane */
        s->t_down = MOE_TYPE_Q6_K;
        if (var == 3) { s->t_gate = MOE_TYPE_Q8_0; s->t_up = MOE_TYPE_MXFP4; s->t_down = MOE_TYPE_Q3_K; }
        if (var == 2) s->t_gate_up = MOE_TYPE_Q5_K;
    }
    if (var == 1) { s->n_shared = 1; s->dff_sh = kq ? 256 : 96; s->t_sgate = s->t_sup = s->t_sdown = t; s->has_sgw = 1; }
    if (var == 2) { s->fused = 1; s->has_db = 1; s->has_gb = 1; }
    if (var == 3) { s->act = MOE_ACT_GELU; s->per_expert = 1; s->n_threads = 3; }
    if (var == 4) { s->xscale = 1; s->xs_rows = 1; s->xs_cols = 32; }
    return 1;
}
static void test_ibatch(void)
{
    const moe_type *ts = ib_types;
    double mx[IB_NT][3];
    int ti, mode, var;
    if (!group_begin("ibatch")) return;
    memset(mx, 0, sizeof mx);
    for (ti = 0; ti < IB_NT; ti++)
        for (mode = 0; mode < 3; mode++)
            for (var = 0; var < (g_quick ? 2 : 5); var++) {
                spec s;
                char label[160];
                double rel;
                if (!ib_spec(ti, var, &s)) continue;
                if (mode == 2 && ib_types[ti] != MOE_TYPE_Q8_0 && !(ib_types[ti] == MOE_TYPE_COUNT && var == 3)) continue;   /* INT8: Q8_0 layers */
                s.bq = mode == 1 ? MOE_BATCH_EXACT : mode == 2 ? MOE_BATCH_INT8 : MOE_BATCH_INT;
                s.seed = 7 + (unsigned long long)(var * 32 + ti * 2 + mode);
                snprintf(label, sizeof label, "ibatch %s %s var %d", ib_type_name(ti), mode == 1 ? "exact" : mode == 2 ? "int8" : "int", var);
                rel = run_spec(&s, 64, 0, label);
                if (rel > mx[ti][mode]) mx[ti][mode] = rel;
            }
    /* integer-batch routed experts with a shared expert that is not one, 36 wide (not whole blocks
       of 32): the quantised hidden panels are sized by the integer-batch experts' widths only, so
       their token stride stays a multiple of 8 (sized by the shared 36 it was 45 or 117 bytes, and
       the panels' floats misaligned: UBSan in the asan-ubsan configurations; found by fuzz_forward) */
    for (var = 0; var < 16; var++) {
        spec s = spec_default();
        char label[96];
        s.dm = 128; s.dff = 32; s.E = 8; s.k = 2;           /* the shared expert is the wider */
        s.t_gate = s.t_up = s.t_down = var & 1 ? MOE_TYPE_BF16 : MOE_TYPE_Q4_0;
        s.bb = MOE_BF16_DOT;
        s.n_shared = 1; s.dff_sh = 36; s.t_sgate = s.t_sup = s.t_sdown = var & 1 ? MOE_TYPE_BF16 : MOE_TYPE_F32;
        s.seed = 91 + (unsigned long long)var;
        snprintf(label, sizeof label, "ibatch %s routed, shared expert 36 wide, seed %d", var & 1 ? "bf16 (DOT)" : "q4_0", var / 2);
        run_spec(&s, 41, 0, label);       /* 5..15 tokens an expert: few-token experts take their count of slots, unpadded */
    }
    {   /* MOE_BATCH_INT8 ran where the path has its kernel (VNNI) and is MOE_BATCH_INT's bits
           elsewhere; 1 and 3 threads give the same bits */
        spec s;
        model *m = (model *)xmalloc(sizeof(model));
        moe_layer L8, Li;
        int T = 64, i;
        ib_spec(0, 0, &s);
        s.bq = MOE_BATCH_INT8; s.n_threads = 3; s.seed = 77;
        model_build(m, &s);
        if (require(m->ok && moe_layer_init(&L8, &m->cfg, &m->w) == MOE_OK, "ibatch int8: layer")) {
            moe_config ci = m->cfg;
            size_t ws, n = (size_t)T * (size_t)s.dm;
            float *x = (float *)xmalloc(n * sizeof(float)), *y8 = (float *)xmalloc(n * sizeof(float)), *y1 = (float *)xmalloc(n * sizeof(float)), *yi = (float *)xmalloc(n * sizeof(float));
            void *work;
            moe_run_opts o;
            rng_t r = {0x88ull};
            ci.batch_quant = MOE_BATCH_INT;
            if (!require(moe_layer_init(&Li, &ci, &m->w) == MOE_OK, "ibatch int8: int layer")) { free(x); free(y8); free(y1); free(yi); model_free(m); free(m); group_end(); return; }
            ws = moe_workspace_size(&L8, T) > moe_workspace_size(&Li, T) ? moe_workspace_size(&L8, T) : moe_workspace_size(&Li, T);
            work = xmalloc(ws);
            for (i = 0; i < (int)n; i++) x[i] = rng_sym(&r);
            memset(&o, 0, sizeof o);
            o.n_threads = 1;
            if (check(moe_forward(&L8, x, T, y8, work, ws) == MOE_OK && moe_forward_ex(&L8, x, T, y1, work, ws, &o) == MOE_OK &&
                      moe_forward(&Li, x, T, yi, work, ws) == MOE_OK, "ibatch int8: forward")) {
                check(memcmp(y8, y1, n * sizeof(float)) == 0, "ibatch int8: 1 and 3 threads differ");
                if (path_has_q8b() == 1) check(memcmp(y8, yi, n * sizeof(float)) != 0, "ibatch int8 (%s): MOE_BATCH_INT8 gave MOE_BATCH_INT's bits: its kernel did not run", moe_simd_name());
                else if (path_has_q8b() == 0) check(memcmp(y8, yi, n * sizeof(float)) == 0, "ibatch int8 (%s, no VNNI): MOE_BATCH_INT8 differs from MOE_BATCH_INT", moe_simd_name());
            }
            free(x); free(y8); free(y1); free(yi); free(work);
        }
        model_free(m); free(m);
    }
    /* a NaN token, bitwise the same on 1 and 3 threads */
    for (ti = 0; ti < IB_NT - 1; ti++) {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        moe_layer L;
        int T = 48, i, t, bad = 0, kq = ts[ti] != MOE_TYPE_Q8_0 && ts[ti] != MOE_TYPE_Q4_0 && ts[ti] != MOE_TYPE_MXFP4;
        s.dm = kq ? 256 : 128; s.dff = kq ? 256 : 160; s.E = 4; s.k = 2; s.n_threads = 3;
        s.t_gate = s.t_up = s.t_down = ts[ti];
        model_build(m, &s);
        if (require(m->ok && moe_layer_init(&L, &m->cfg, &m->w) == MOE_OK, "ibatch nan: layer")) {
            size_t ws = moe_workspace_size(&L, T), n = (size_t)T * (size_t)s.dm;
            float *x = (float *)xmalloc(n * sizeof(float)), *y1 = (float *)xmalloc(n * sizeof(float)), *y3 = (float *)xmalloc(n * sizeof(float));
            void *work = xmalloc(ws);
            moe_run_opts o;
            rng_t r = {0x77ull};
            for (i = 0; i < (int)n; i++) x[i] = rng_sym(&r);
            x[5 * s.dm + 70] = (float)NAN;
            memset(&o, 0, sizeof o);
            o.n_threads = 1;
            check(moe_forward_ex(&L, x, T, y1, work, ws, &o) == MOE_OK && moe_forward(&L, x, T, y3, work, ws) == MOE_OK,
                  "ibatch nan %s: forward", moe_type_name(ts[ti]));
            for (t = 0; t < T; t++)
                for (i = 0; i < s.dm; i++) {
                    float v = y3[(size_t)t * s.dm + i];
                    if (t == 5 ? v == v : !(v == v && fabsf(v) < 1e30f)) bad = 1;
                }
            check(!bad, "ibatch nan %s: token 5's row NaN, the others finite", moe_type_name(ts[ti]));
            check(memcmp(y1, y3, n * sizeof(float)) == 0, "ibatch nan %s: 1 and 3 threads differ", moe_type_name(ts[ti]));
            free(x); free(y1); free(y3); free(work);
        }
        model_free(m); free(m);
    }
    if (g_verbose) {
        printf("ibatch: max rel error vs float64 (int / exact / int8):");
        for (ti = 0; ti < IB_NT; ti++) printf(" %s %.3g / %.3g / %.3g", ib_type_name(ti), mx[ti][0], mx[ti][1], mx[ti][2]);
        printf("\n");
    }
    group_end();
}

/* moe_prepack: the integer-batch layers of the ibatch group (every type, a Q4_K_M-like mix and
   every plane, shared expert, fused gate_up with biases, GELU with per-expert pointers and 3
   threads, MXFP4 with external E8M0 scales) run on pre-packed tiles: against the float64
   reference like the rest, and bit for bit the output the layer gives detached (run_case).
   Then the API: sizes (0 where nothing runs integer batches: EXACT mode, f32, BF16 DOT), NULL
   and bad layers, a buffer one byte short (MOE_ERR_WORKSPACE, a message with the sizes, the
   layer detached and still right), NULL with a size; repointed expert_data entries: the copy
   is stale until moe_prepack runs again. */
static void test_prepack(void)
{
    int ti, var;
    if (!group_begin("prepack")) return;
    for (ti = 0; ti < IB_NT; ti++)
        for (var = 0; var < 5; var++) {
            spec s;
            char label[160];
            if (g_quick && var != 1 && var != 3 && var != 4) continue;
            if (!ib_spec(ti, var, &s)) continue;
            s.prepack = 1;
            s.seed = 7 + (unsigned long long)(var * 32 + ti * 2);
            snprintf(label, sizeof label, "prepack %s var %d", ib_type_name(ti), var);
            run_spec(&s, 64, 0, label);
            if (ib_types[ti] == MOE_TYPE_Q8_0 || (ib_types[ti] == MOE_TYPE_COUNT && var == 3)) {   /* MOE_BATCH_INT8's byte tiles */
                s.bq = MOE_BATCH_INT8;
                snprintf(label, sizeof label, "prepack %s int8 var %d", ib_type_name(ti), var);
                run_spec(&s, 64, 0, label);
            }
        }
    /* a 36-wide f32 shared expert beside Q4_0 routed experts: only the routed ones are packed */
    {
        spec s = spec_default();
        s.dm = 128; s.dff = 32; s.E = 8; s.k = 2; s.t_gate = s.t_up = s.t_down = MOE_TYPE_Q4_0;
        s.n_shared = 1; s.dff_sh = 36; s.t_sgate = s.t_sup = s.t_sdown = MOE_TYPE_F32;
        s.prepack = 1; s.seed = 5;
        run_spec(&s, 41, 0, "prepack q4_0 routed, f32 shared expert 36 wide");
    }
    /* the API */
    {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        moe_layer L, bad;
        int i, T = 40;
        s.dm = 128; s.dff = 96; s.E = 4; s.k = 2; s.per_expert = 1; s.seed = 77;
        s.t_gate = s.t_up = s.t_down = MOE_TYPE_Q4_0;
        model_build(m, &s);
        check(moe_prepack_size(NULL) == 0 && moe_prepack(NULL, NULL, 0) == MOE_ERR_NULL, "prepack: a NULL layer");
        memset(&bad, 0, sizeof bad);
        check(moe_prepack_size(&bad) == 0 && moe_prepack(&bad, NULL, 0) == MOE_ERR_LAYER, "prepack: an uninitialised layer");
        if (require(m->ok && moe_layer_init(&L, &m->cfg, &m->w) == MOE_OK, "prepack api: layer") && !path_has_ib())
            check(moe_prepack_size(&L) == 0, "prepack: a path without integer batches (AVX-512 without BW) has nothing to pack");
        else if (m->ok) {
            size_t ps = moe_prepack_size(&L), ws = moe_workspace_size(&L, T), n = (size_t)T * (size_t)s.dm;
            float *x = (float *)xmalloc(n * sizeof(float)), *y0 = (float *)xmalloc(n * sizeof(float)), *y1 = (float *)xmalloc(n * sizeof(float));
            unsigned char *buf = (unsigned char *)xmalloc(ps + 64);
            void *work = xmalloc(ws);
            moe_status st;
            const void **tab = (const void **)(void *)m->w.gate.expert_data, *tmp;
            rng_t r = {0x99ull};
            for (i = 0; i < (int)n; i++) x[i] = rng_sym(&r);
            /* tiles: per expert ceil(rows / 8 or 4) tiles of 40 bytes a row and block (Q4_0), whole multiples of 64 */
            check(ps >= (size_t)s.E * (2u * (size_t)s.dff * (size_t)(s.dm / 32) + (size_t)s.dm * (size_t)(s.dff / 32)) * 40u &&
                  ps < 3u * (size_t)s.E * (2u * (size_t)s.dff * (size_t)(s.dm / 32) + (size_t)s.dm * (size_t)(s.dff / 32)) * 40u,
                  "prepack: size %lu for Q4_0 tiles of 40 bytes a row and block", (unsigned long)ps);
            check(moe_forward(&L, x, T, y0, work, ws) == MOE_OK, "prepack api: forward");
            st = moe_prepack(&L, buf, ps - 1);
            check(st == MOE_ERR_WORKSPACE && strstr(moe_layer_error(&L), "1 short") != NULL,
                  "prepack: a buffer one byte short -> %s, \"%s\"", moe_status_string(st), moe_layer_error(&L));
            check(moe_forward(&L, x, T, y1, work, ws) == MOE_OK && memcmp(y0, y1, n * sizeof(float)) == 0,
                  "prepack: after a short buffer the layer repacks, same output");
            st = moe_prepack(&L, NULL, ps);
            check(st == MOE_ERR_NULL && strstr(moe_layer_error(&L), "NULL") != NULL, "prepack: NULL buffer with a size -> %s", moe_status_string(st));
            st = moe_prepack(&L, buf, ps);
            check(st == MOE_OK && moe_layer_error(&L)[0] == 0, "prepack: -> %s, error \"%s\"", moe_status_string(st), moe_layer_error(&L));
            check(moe_forward(&L, x, T, y1, work, ws) == MOE_OK && memcmp(y0, y1, n * sizeof(float)) == 0, "prepack: same output pre-packed");
            /* experts 0 and 1 of gate swapped in the caller's table: the copy still holds the old ones */
            tmp = tab[0]; tab[0] = tab[1]; tab[1] = tmp;
            check(moe_forward(&L, x, T, y1, work, ws) == MOE_OK && memcmp(y0, y1, n * sizeof(float)) == 0,
                  "prepack: repointed experts, no new moe_prepack: the copy's output (stale, as documented)");
            check(moe_prepack(&L, NULL, 0) == MOE_OK && moe_forward(&L, x, T, y0, work, ws) == MOE_OK &&
                  memcmp(y0, y1, n * sizeof(float)) != 0, "prepack: repointed experts, detached: a new output");
            check(moe_prepack(&L, buf + 1, ps) == MOE_OK && moe_forward(&L, x, T, y1, work, ws) == MOE_OK &&
                  memcmp(y0, y1, n * sizeof(float)) == 0, "prepack: repointed experts, packed again: the new output");
            tmp = tab[0]; tab[0] = tab[1]; tab[1] = tmp;
            free(x); free(y0); free(y1); free(buf); free(work);
        }
        model_free(m); free(m);
    }
    /* nothing to pack: EXACT batches, f32, BF16 with MOE_BF16_DOT (read in place) */
    for (var = 0; var < 3; var++) {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        moe_layer L;
        static const char *what[3] = { "q4_0 with MOE_BATCH_EXACT", "f32", "bf16 with MOE_BF16_DOT" };
        s.dm = 128; s.dff = 96; s.E = 4; s.k = 2; s.seed = 3;
        s.t_gate = s.t_up = s.t_down = var == 0 ? MOE_TYPE_Q4_0 : var == 1 ? MOE_TYPE_F32 : MOE_TYPE_BF16;
        if (var == 0) s.bq = MOE_BATCH_EXACT;
        if (var == 2) s.bb = MOE_BF16_DOT;
        model_build(m, &s);
        if (require(m->ok && moe_layer_init(&L, &m->cfg, &m->w) == MOE_OK, "prepack %s: layer", what[var])) {
            char one = 0;
            check(moe_prepack_size(&L) == 0 && moe_prepack(&L, &one, 1) == MOE_OK, "prepack %s: nothing to pack (size %lu)", what[var], (unsigned long)moe_prepack_size(&L));
        }
        model_free(m); free(m);
    }
    group_end();
}

/* AMX tiles (cfg.batch_amx = 1; see AMX in moe.h). Every build: batch_amx out of range is
   MOE_ERR_CONFIG; where moe_amx_enable() says no (no MOE_AMX, or a CPU / OS without AMX),
   batch_amx = 1 is MOE_ERR_UNSUPPORTED naming the field, and the kernel checks below do not run
   (the line says so; tests/run.sh skips its hardware configuration by name on such CPUs). Where
   it says yes (the CPU's tiles, or MOE_AMX_EMULATE's model of them), the ibatch group's layers
   (every integer-batch type, the mixes, shared experts, fused gate_up, GELU on 3 threads,
   MXFP4's external scales), repacked and pre-packed, against the float64 reference and bit for
   bit against the same layer without AMX (the same int32 sums and float steps); the bf16dot
   group's layers against the reference and against the vdpbf16ps layer (within the class's
   bound, and not its bits: the tiles ran); a NaN token. */
static void amx_pair(const spec *sp, int T, const char *label)
{
    model *m = (model *)xmalloc(sizeof(model));
    moe_layer L;
    size_t n = (size_t)T * (size_t)sp->dm;
    float *x = (float *)xmalloc(n * sizeof(float)), *ya = (float *)xmalloc(n * sizeof(float)), *yp = (float *)xmalloc(n * sizeof(float));
    rc_out keep;
    int bf = sp->bb == MOE_BF16_DOT;
    model_build(m, sp);
    keep.x = x; keep.y = ya; keep.ids = NULL; keep.w = NULL;
    if (run_case(m, T, 0, sp->seed * 31u + (unsigned long long)T, label, &keep) >= 0) {
        moe_config c = m->cfg;
        c.batch_amx = 0;
        if (require(moe_layer_init(&L, &c, &m->w) == MOE_OK, "%s: the layer without AMX", label)) {
            size_t ws = moe_workspace_size(&L, T);
            void *work = xmalloc(ws);
            if (check(moe_forward(&L, x, T, yp, work, ws) == MOE_OK, "%s: forward without AMX", label)) {
                if (!bf) check(memcmp(ya, yp, n * sizeof(float)) == 0, "%s: AMX output differs from the vpdpbusd kernel's", label);
                else {
                    double d = 0.0, mx = 0.0;
                    size_t i;
                    for (i = 0; i < n; i++) {
                        double e = fabs((double)ya[i] - (double)yp[i]);
                        if (e > d) d = e;
                        if (fabs((double)yp[i]) > mx) mx = fabs((double)yp[i]);
                    }
                    check(memcmp(ya, yp, n * sizeof(float)) != 0 && d <= 1e-2 * mx,
                          "%s: tdpbf16ps vs vdpbf16ps: max diff %.3g of max |y| %.3g (same bits: the tiles did not run; bound 1e-2)", label, d, mx);
                    note("%s: tdpbf16ps vs vdpbf16ps rel %.3g", label, mx > 0 ? d / mx : d);
                }
            }
            free(work);
        }
    }
    free(x); free(ya); free(yp);
    model_free(m);
    free(m);
}
static void test_amx(void)
{
    int usable, ti, var, pp;
    if (!group_begin("amx")) return;
    usable = moe_amx_enable();
#if defined(MOE_AMX) && defined(MOE_AMX_EMULATE)
    check(usable == 1, "amx: the emulated tiles: moe_amx_enable() = %d", usable);
#elif !defined(MOE_AMX)
    check(usable == 0, "amx: a build without MOE_AMX: moe_amx_enable() = %d", usable);
#endif
    {
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        moe_layer L;
        moe_status st;
        s.dff = 64; s.t_gate = s.t_up = s.t_down = MOE_TYPE_Q4_0;
        model_build(m, &s);
        if (require(m->ok, "amx: model")) {
            m->cfg.batch_amx = 2;
            st = moe_layer_init(&L, &m->cfg, &m->w);
            check(st == MOE_ERR_CONFIG && strstr(moe_layer_error(&L), "cfg.batch_amx") != NULL,
                  "amx: batch_amx 2 -> %s \"%s\"", moe_status_string(st), moe_layer_error(&L));
            m->cfg.batch_amx = 1;
            st = moe_layer_init(&L, &m->cfg, &m->w);
            if (usable) check(st == MOE_OK, "amx: batch_amx 1 -> %s \"%s\"", moe_status_string(st), moe_layer_error(&L));
            else check(st == MOE_ERR_UNSUPPORTED && strstr(moe_layer_error(&L), "cfg.batch_amx") != NULL,
                       "amx: batch_amx 1 without usable tiles -> %s \"%s\"", moe_status_string(st), moe_layer_error(&L));
        }
        model_free(m); free(m);
    }
    if (!usable) {
        printf("amx: tiles not usable here (moe_amx_enable() = 0: %s): the kernel checks did not run, the refusal did\n",
#ifdef MOE_AMX
               "the CPU or OS lacks AMX"
#else
               "built without MOE_AMX"
#endif
        );
        group_end();
        return;
    }
    for (ti = 0; ti < IB_NT; ti++)
        for (var = 0; var < 5; var++)
            for (pp = 0; pp < 2; pp++) {
                spec s;
                char label[160];
                if (g_quick && var != 1 && var != 3 && var != 4) continue;
                if (!ib_spec(ti, var, &s)) continue;
                s.amx = 1; s.prepack = pp;
                s.seed = 17 + (unsigned long long)(var * 32 + ti * 2 + pp);
                snprintf(label, sizeof label, "amx %s var %d%s", ib_type_name(ti), var, pp ? " pre-packed" : "");
                amx_pair(&s, 64, label);
                if (ib_types[ti] == MOE_TYPE_Q8_0 || (ib_types[ti] == MOE_TYPE_COUNT && var == 3)) {
                    s.bq = MOE_BATCH_INT8;
                    snprintf(label, sizeof label, "amx %s int8 var %d%s", ib_type_name(ti), var, pp ? " pre-packed" : "");
                    amx_pair(&s, 64, label);
                }
            }
    for (var = 0; var < 4; var++) {
        spec s = spec_default();
        char label[96];
        s.dm = 128; s.dff = var == 2 ? 224 : 160; s.E = 4; s.k = 2;
        s.t_gate = s.t_up = s.t_down = s.t_gate_up = MOE_TYPE_BF16;
        s.bb = MOE_BF16_DOT; s.amx = 1;
        if (var == 1) { s.n_shared = 1; s.dff_sh = 96; s.t_sgate = s.t_sup = s.t_sdown = MOE_TYPE_BF16; s.has_sgw = 1; }
        if (var == 2) { s.fused = 1; s.has_db = 1; s.has_gb = 1; }
        if (var == 3) { s.act = MOE_ACT_GELU; s.per_expert = 1; s.n_threads = 3; s.t_down = MOE_TYPE_Q8_0; }
        s.seed = 191 + (unsigned long long)var;
        snprintf(label, sizeof label, "amx bf16 dot var %d", var);
        amx_pair(&s, 64, label);
    }
    {   /* a NaN token: its row NaN, the others finite */
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        moe_layer L;
        int T = 48, i, t, bad = 0;
        s.dm = 128; s.dff = 160; s.E = 4; s.k = 2; s.amx = 1;
        s.t_gate = s.t_up = MOE_TYPE_Q8_0; s.t_down = MOE_TYPE_Q4_0;
        model_build(m, &s);
        if (require(m->ok && moe_layer_init(&L, &m->cfg, &m->w) == MOE_OK, "amx nan: layer")) {
            size_t ws = moe_workspace_size(&L, T), n = (size_t)T * (size_t)s.dm;
            float *x = (float *)xmalloc(n * sizeof(float)), *y = (float *)xmalloc(n * sizeof(float));
            void *work = xmalloc(ws);
            rng_t r = {0x78ull};
            for (i = 0; i < (int)n; i++) x[i] = rng_sym(&r);
            x[7 * s.dm + 3] = (float)NAN;
            check(moe_forward(&L, x, T, y, work, ws) == MOE_OK, "amx nan: forward");
            for (t = 0; t < T; t++)
                for (i = 0; i < s.dm; i++) {
                    float v = y[(size_t)t * s.dm + i];
                    if (t == 7 ? v == v : !(v == v && fabsf(v) < 1e30f)) bad = 1;
                }
            check(!bad, "amx nan: token 7's row NaN, the others finite");
            free(x); free(y); free(work);
        }
        model_free(m); free(m);
    }
    group_end();
}

/* BF16 batches on vdpbf16ps (cfg.batch_bf16 = MOE_BF16_DOT). Layers (shared experts, fused
   gate_up, GELU, biases, a mix with Q8_0/Q4_0/Q4_K matrices in one expert, 3 threads, dims that
   are not multiples of 32: EXACT there) against the float64 reference within EC_BF16_DOT where
   the path has the kernel, EC_BF16 (exact) where not. Then: with the kernel, DOT's output differs
   from EXACT's (it ran) and equals itself on 1 and 3 threads; without it, DOT is EXACT bit for
   bit. White box where the path has it: the bf16 plane holds nearest-even bf16 of every value
   (moe__enc_bf16's) and a NaN stays NaN; the tile's sums equal the float64 sums of the bf16
   products within 1e-6 of the sum of |terms| (K = 32, 96, 2048, IR rows). */
static void test_bf16dot(void)
{
    double mx = 0.0;
    int var;
    if (!group_begin("bf16dot")) return;
    for (var = 0; var < 10; var++) {
        spec s = spec_default();
        char label[96];
        double rel;
        if (g_quick && var != 0 && var != 1 && var != 4 && var != 8 && var != 9) continue;
        s.dm = var == 6 ? 100 : 128; s.dff = var == 6 ? 72 : var == 2 ? 224 : 160; s.E = 4; s.k = 2;
        s.t_gate = s.t_up = s.t_down = s.t_gate_up = MOE_TYPE_BF16;
        s.bb = MOE_BF16_DOT;
        if (var == 1) { s.n_shared = 1; s.dff_sh = 96; s.t_sgate = s.t_sup = s.t_sdown = MOE_TYPE_BF16; s.has_sgw = 1; }
        if (var == 2) { s.fused = 1; s.has_db = 1; s.has_gb = 1; }
        if (var == 3) { s.act = MOE_ACT_GELU; s.per_expert = 1; s.n_threads = 3; }
        if (var == 4) { s.t_gate = MOE_TYPE_Q8_0; s.t_down = MOE_TYPE_Q4_0; }      /* planes 1|2|8 */
        if (var == 5) { s.dm = 256; s.dff = 256; s.t_up = MOE_TYPE_Q4_K; s.act = MOE_ACT_SWIGLU_OAI; s.has_ub = 1; }
        if (var == 7) { s.dm = 2048; s.dff = 96; s.E = 2; s.k = 1; }
        s.seed = 91 + (unsigned long long)var;
        snprintf(label, sizeof label, "bf16dot var %d", var);
        /* var 0, 8, 9: 64, 1 and 5 tokens (2..16 tokens an expert: the row kernels, 1: exact; var 9
           dims not whole blocks: the vector part and a tail) */
        if (var == 9) { s.dm = 100; s.dff = 72; }
        rel = run_spec(&s, var == 7 ? 40 : var == 8 ? 1 : var == 9 ? 5 : 64, 0, label);
        if (var != 4 && var != 5 && (var != 6 || path_has_bfdot()) && rel > mx) mx = rel;
    }
    {   /* DOT ran (or, without the kernel, is EXACT), and 1 and 3 threads agree */
        spec s = spec_default();
        model *m = (model *)xmalloc(sizeof(model));
        moe_layer L1, L2;
        int T = 64, i;
        s.dm = 128; s.dff = 160; s.E = 4; s.k = 2; s.n_threads = 3;
        s.t_gate = s.t_up = s.t_down = MOE_TYPE_BF16;
        s.bb = MOE_BF16_DOT;
        model_build(m, &s);
        if (require(m->ok && moe_layer_init(&L1, &m->cfg, &m->w) == MOE_OK, "bf16dot: layer")) {
            moe_config ce = m->cfg;
            size_t n = (size_t)T * (size_t)s.dm, ws;
            float *x = (float *)xmalloc(n * sizeof(float)), *yd = (float *)xmalloc(n * sizeof(float));
            float *yd1 = (float *)xmalloc(n * sizeof(float)), *ye = (float *)xmalloc(n * sizeof(float));
            void *work;
            moe_run_opts o;
            rng_t r = {0x5bf1ull};
            ce.batch_bf16 = MOE_BF16_EXACT;
            if (!require(moe_layer_init(&L2, &ce, &m->w) == MOE_OK, "bf16dot: exact layer")) { free(x); free(yd); free(yd1); free(ye); model_free(m); free(m); group_end(); return; }
            ws = moe_workspace_size(&L1, T);
            if (moe_workspace_size(&L2, T) > ws) ws = moe_workspace_size(&L2, T);
            work = xmalloc(ws);
            for (i = 0; i < (int)n; i++) x[i] = rng_sym(&r);
            memset(&o, 0, sizeof o);
            o.n_threads = 1;
            check(moe_forward(&L1, x, T, yd, work, ws) == MOE_OK && moe_forward_ex(&L1, x, T, yd1, work, ws, &o) == MOE_OK &&
                  moe_forward(&L2, x, T, ye, work, ws) == MOE_OK, "bf16dot: forward");
            check(memcmp(yd, yd1, n * sizeof(float)) == 0, "bf16dot: 1 and 3 threads differ");
            {   /* 64 tokens (batched tiles) and 3 (the row kernels) */
                int T3 = 3, pass;
                size_t n3 = (size_t)T3 * (size_t)s.dm;
                for (pass = 0; pass < 2; pass++) {
                    size_t nn = pass ? n3 : n;
                    if (pass && !(check(moe_forward(&L1, x, T3, yd, work, ws) == MOE_OK && moe_forward(&L2, x, T3, ye, work, ws) == MOE_OK &&
                                        moe_workspace_size(&L1, T3) <= ws, "bf16dot: forward, 3 tokens"))) break;
                    if (path_has_bfdot())
                        check(memcmp(yd, ye, nn * sizeof(float)) != 0, "bf16dot (%s path, %d tokens): MOE_BF16_DOT gave EXACT's output bit for bit: the vdpbf16ps kernel did not run",
                              moe_simd_name(), pass ? T3 : T);
                    else
                        check(memcmp(yd, ye, nn * sizeof(float)) == 0, "bf16dot (%s path, no vdpbf16ps, %d tokens): MOE_BF16_DOT differs from EXACT", moe_simd_name(), pass ? T3 : T);
                }
            }
            free(x); free(yd); free(yd1); free(ye); free(work);
        }
        model_free(m); free(m);
    }
#if defined(MOE__BFDOT) && !defined(MOE_TEST_EXTERN_IMPL) && !defined(MOE_DISPATCH)
    {
        static const int Ks[3] = {32, 96, 2048};
        rng_t r = {0xbf16ull};
        int ki, n, k, row, G = MOE__IG, pl;
        double worst = 0.0;
        for (ki = 0; ki < 3; ki++)
            for (pl = 8; pl <= 15; pl += 7) {          /* the bf16 plane alone, after all three */
                int K = Ks[ki], badr = 0, nanbad = 0;
                size_t tb = moe__ib_tokbytes((size_t)K, pl) * (size_t)G;
                float *x = (float *)xmalloc((size_t)K * (size_t)G * sizeof(float)), c[MOE__IR * MOE__IG];
                unsigned char *g = (unsigned char *)xmalloc(tb), *wb = (unsigned char *)xmalloc((size_t)K * 2 * MOE__IR);
                const unsigned char *wr[MOE__IR];
                const uint32_t *ab;
                float *wf = (float *)xmalloc((size_t)K * MOE__IR * sizeof(float));
                for (row = 0; row < MOE__IR; row++) {
                    for (k = 0; k < K; k++) wf[(size_t)row * (size_t)K + (size_t)k] = rng_sym(&r) * (row == 2 ? 1e-3f : 1.0f);
                    moe__enc_bf16(wf + (size_t)row * (size_t)K, (size_t)K, wb + (size_t)row * (size_t)K * 2);
                    moe__dec_bf16(wb + (size_t)row * (size_t)K * 2, (size_t)K, wf + (size_t)row * (size_t)K);
                    wr[row] = wb + (size_t)row * (size_t)K * 2;
                }
                for (n = 0; n < G; n++)
                    for (k = 0; k < K; k++)
                        x[(size_t)k * (size_t)G + (size_t)n] = n == 1 ? 0.0f : rng_sym(&r) * (k % 5 == 0 ? 7.0f : 1.0f) * (n == 2 ? 1e-20f : 1.0f);
                x[(size_t)(K / 2) * (size_t)G + 3] = (float)NAN;
                memset(g, 0xa5, tb);
                moe__ib_panel(K, 0, K / 32, x, g, pl);
                ab = (const uint32_t *)(const void *)(g + moe__ib_tokbytes((size_t)K, pl & 7) * (size_t)G);
                for (n = 0; n < G; n++)              /* the plane: moe__enc_bf16 of each value */
                    for (k = 0; k < K; k++) {
                        float v = x[(size_t)k * (size_t)G + (size_t)n];
                        unsigned char e[2];
                        unsigned h = (unsigned)(ab[(size_t)(k / 2) * (size_t)G + (size_t)n] >> (16 * (k % 2))) & 0xffffu;
                        moe__enc_bf16(&v, 1, e);
                        if (v != v ? (h & 0x7f80u) != 0x7f80u || (h & 0x7fu) == 0 : h != ((unsigned)e[0] | (unsigned)e[1] << 8)) badr++;
                    }
                check(badr == 0, "bf16dot plane K=%d planes %d: %d values are not their nearest-even bf16", K, pl, badr);
                moe__bf_tile(K, wr, g, pl, c);
                for (row = 0; row < MOE__IR; row++)
                    for (n = 0; n < G; n++) {
                        double ref = 0.0, mag = 0.0, out = c[row * G + n];
                        if (n == 3) { if (out == out) nanbad = 1; continue; }
                        for (k = 0; k < K; k++) {
                            unsigned char e[2];
                            float xb, v = x[(size_t)k * (size_t)G + (size_t)n];
                            double t;
                            moe__enc_bf16(&v, 1, e);
                            moe__dec_bf16(e, 1, &xb);
                            t = (double)wf[(size_t)row * (size_t)K + (size_t)k] * (double)xb;
                            ref += t; mag += fabs(t);
                        }
                        if (fabs(out - ref) > 1e-6 * (mag > 0.0 ? mag : 1.0)) badr++;
                        if (mag > 0.0 && fabs(out - ref) / mag > worst) worst = fabs(out - ref) / mag;
                    }
                check(badr == 0 && !nanbad, "bf16dot tile K=%d planes %d: %d sums off the float64 sum of the bf16 products by more than 1e-6 of sum|terms|%s",
                      K, pl, badr, nanbad ? ", or a NaN token gave a number" : "");
                free(x); free(g); free(wb); free(wf);
            }
        if (g_verbose) printf("bf16dot tile: worst |sum - ref| / sum|terms| = %.3g\n", worst);
    }
#else
    if (g_verbose) printf("bf16dot: the %s path has no vdpbf16ps kernel here: MOE_BF16_DOT runs EXACT (checked above)\n", moe_simd_name());
#endif
    if (g_verbose) printf("bf16dot: max rel error vs float64 %.3g (%s)\n", mx, path_has_bfdot() ? "vdpbf16ps" : "exact");
    group_end();
}

/* ======================================================================================== */
int main(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) g_quick = 1;
        else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) g_verbose = 1;
        else if (strcmp(argv[i], "--group") == 0 && i + 1 < argc) g_only = argv[++i];
        else if (strcmp(argv[i], "--path") == 0 && i + 1 < argc) {
            const char *n = argv[++i];
            int p;
            for (p = MOE_PATH_AUTO + 1; p < MOE_PATH_COUNT; p++)
                if (strcmp(n, moe_path_name((moe_path)p)) == 0) g_force_path = p;
            if (g_force_path < 0) { fprintf(stderr, "%s: --path %s: not a kernel path (scalar, avx2, avx2-vnni, avx512, avx512-vnni, neon, neon-dotprod)\n", argv[0], n); return 2; }
            if (!moe_path_supported((moe_path)g_force_path)) {
                fprintf(stderr, "%s: --path %s: this build lacks it or this CPU cannot run it\n", argv[0], n);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: %s [--quick] [--verbose] [--group formats|random|routing|variants|types|ibatch|bf16dot|kernels|scales|errors|hardening|nonfinite|memory|threads[,...]] [--path NAME]\n", argv[0]);
            return 2;
        }
    }
    printf("moe.h %d.%d.%d tests: simd %s%s%s%s, %s, %s%s\n", MOE_VERSION_MAJOR, MOE_VERSION_MINOR, MOE_VERSION_PATCH, moe_simd_name(),
#ifdef MOE_DISPATCH
           " (dispatch)",
#else
           "",
#endif
           g_force_path >= 0 ? ", path " : "", g_force_path >= 0 ? moe_path_name((moe_path)g_force_path) : "",
#ifdef _OPENMP
           "openmp",
#else
           "no openmp",
#endif
#ifdef __cplusplus
           "c++",
#else
           "c",
#endif
           g_quick ? ", quick" : "");
    fflush(stdout);
    test_formats();
    test_random();
    test_routing();
    test_variants();
    test_types();
    test_ibatch();
    test_prepack();
    test_bf16dot();
    test_amx();
#if !defined(MOE_TEST_EXTERN_IMPL) && !defined(MOE_DISPATCH)
    test_kernels();
#endif
    test_scales();
    test_errors();
    test_hardening();
    test_nonfinite();
    test_memory();
    test_threads();
    printf("max relative error vs float64 reference (simd %s), measured (bound):", moe_simd_name());
    for (i = 0; i < EC_COUNT; i++)
        if (g_maxrel_seen[i]) printf(" %s %.3g (%.0e)", ec_name[i], g_maxrel[i], class_bound(i));
    printf("\n");
    if (g_rt_seen) {
        printf("round trip max |error| / block max (bound):");
        for (i = 0; i < 7; i++) printf(" %s %.3g (%.3g)", moe_type_name(g_new_types[i]), g_rt_max[i], rt_bound(g_new_types[i]));
        printf("\n");
    }
    printf("%ld checks compare a layer's output with the float64 reference; %ld setup errors\n", g_refcmp, g_errors);
    if (g_only) {                         /* a misspelt or absent group must not pass as "0 failed" */
        long named = 1;
        const char *p;
        for (p = g_only; *p; p++) named += *p == ',';
        g_group = "args";
        check(g_groups_run == named, "--group %s: %ld of the %ld named groups ran in this build", g_only, g_groups_run, named);
    }
    if (g_force_path >= 0) {
        g_group = "path";
        check(g_path_inits > 0 && g_path_wrong == 0, "--path %s: %ld of %ld layers run another path", moe_path_name((moe_path)g_force_path),
              g_path_wrong, g_path_inits);
        printf("--path %s: %ld layers initialised on it, %ld on another path\n", moe_path_name((moe_path)g_force_path), g_path_inits, g_path_wrong);
    }
#ifdef MOE_TEST_VS_SCALAR
    printf("max relative difference vs the scalar path (simd %s vs %s, %ld layers): %.3g\n", moe_simd_name(),
           moe_test_scalar_simd_name(), g_vs_scalar_n, g_vs_scalar);
#endif
    printf("%ld passed, %ld failed\n", g_pass, g_fail);
    fflush(stdout);
    return g_fail ? 1 : 0;
}
