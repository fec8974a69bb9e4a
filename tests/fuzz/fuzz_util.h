/* fuzz_util.h - helpers shared by the libFuzzer targets in tests/fuzz/ (fuzz_forward.c,
   fuzz_quant.c): a byte reader that never runs dry (past the input's end it continues with a
   PRNG seeded from the whole input, so every input is valid and deterministic), value decoders
   that reach NaN/Inf/huge/denormal floats, an independent decoder of the five weight types, and
   FZ_CHECK, which reports a broken invariant and aborts (libFuzzer then saves the input). */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <float.h>

/* Harness code that only generates data or computes references on the harness's own buffers:
   no coverage or sanitizer instrumentation (it would otherwise cost most of the run time and
   steer nothing; the library under test keeps all of it). */
#if defined(__clang__) && __clang_major__ >= 13
#define FZ_NOCOV __attribute__((no_sanitize("coverage", "address", "undefined")))
#elif defined(__GNUC__) && __GNUC__ >= 8
#define FZ_NOCOV __attribute__((no_sanitize("address", "undefined")))
#else
#define FZ_NOCOV
#endif

/* ASan keeps freed blocks in quarantine to catch use after free; moe.h allocates nothing, so a
   small quarantine is enough and saves the page faults of fresh memory on every run. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(FZ_ASAN)
#define FZ_ASAN 1
#endif
#ifdef FZ_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=16"; }
#endif

/* set by a target: prints what it was doing (the decoded config) when a check fails */
static void (*fz_on_fail)(void);

#define FZ_CHECK(cond, ...)                                                                  \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "\nFUZZ INVARIANT FAILED at %s:%d: %s\n    ", __FILE__, __LINE__, \
                    #cond);                                                                  \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
            if (fz_on_fail) fz_on_fail();                                                    \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

typedef struct fz_rd {
    const uint8_t *p;
    size_t n, i;
    uint64_t s;
} fz_rd;

FZ_NOCOV static inline void fz_init(fz_rd *r, const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;       /* FNV-1a of the whole input seeds the PRNG */
    size_t i;
    for (i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ull; }
    r->p = p; r->n = n; r->i = 0; r->s = h | 1u;
}
FZ_NOCOV static inline uint64_t fz_rng(fz_rd *r)
{
    r->s ^= r->s << 13; r->s ^= r->s >> 7; r->s ^= r->s << 17;
    return r->s;
}
FZ_NOCOV static inline unsigned fz_u8(fz_rd *r) { return r->i < r->n ? r->p[r->i++] : (unsigned)(fz_rng(r) >> 56); }
FZ_NOCOV static inline uint32_t fz_u32(fz_rd *r)
{
    uint32_t v = fz_u8(r);
    v |= (uint32_t)fz_u8(r) << 8; v |= (uint32_t)fz_u8(r) << 16; v |= (uint32_t)fz_u8(r) << 24;
    return v;
}
FZ_NOCOV static inline uint64_t fz_u64(fz_rd *r) { uint64_t lo = fz_u32(r); return lo | (uint64_t)fz_u32(r) << 32; }
FZ_NOCOV static inline float fz_bits_f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
FZ_NOCOV static inline uint32_t fz_f_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
FZ_NOCOV static inline int fz_finite(float f) { return (fz_f_bits(f) & 0x7f800000u) != 0x7f800000u; }

/* "Tame" values: finite and at most this large. Layers whose inputs, weights and biases are all
   tame cannot overflow at the sizes the fuzzers use, so their outputs must be finite. */
#define FZ_TAME 64.0f
FZ_NOCOV static inline int fz_tame(float f) { return fz_finite(f) && fabsf(f) <= FZ_TAME; }

/* one value from one byte: (c - 128) / 16 in [-8, 8); wild: the top 32 byte values pick
   specials (NaN, Inf, FLT_MAX, the f16 and block-scale limits, denormals, -0, ...) or 4 raw bytes */
FZ_NOCOV static inline float fz_value_c(fz_rd *r, int wild, unsigned c)
{
    if (wild && c >= 224) {
        static const float sp[31] = {
            0.0f, -0.0f, 1.0f, -1.0f, 1e-45f, -1e-45f, 1.17549435e-38f, 1e-30f,
            65504.0f, -65504.0f, 65519.0f, 65520.0f, -65520.0f, 1e5f, 8318975.0f, 8319008.0f,
            524032.0f, -524288.0f, 1e10f, -1e20f, 1e30f, 1e38f, FLT_MAX, -FLT_MAX,
            255.0f, -1000.0f, 3e-8f, 0.0f, 0.0f, 0.0f, 0.0f };
        if (c == 255) return fz_bits_f(fz_u32(r));
        if (c == 252) return INFINITY;
        if (c == 253) return -INFINITY;
        if (c == 254) return NAN;
        if (c == 251) return -NAN;
        return sp[c - 224];
    }
    return (float)((int)c - 128) / 16.0f;
}
FZ_NOCOV static inline float fz_value(fz_rd *r, int wild) { return fz_value_c(r, wild, fz_u8(r)); }

/* n values as fz_value gives them; past the input's end 8 bytes per PRNG step, through a table */
FZ_NOCOV static inline void fz_values(fz_rd *r, int wild, float *dst, size_t n)
{
    static float tab[256];
    size_t i = 0;
    int j;
    if (tab[0] == 0.0f) for (j = 0; j < 256; j++) tab[j] = (float)(j - 128) / 16.0f;
    for (; i < n && r->i < r->n; i++) dst[i] = fz_value(r, wild);
    while (i < n) {
        uint64_t v = fz_rng(r);
        for (j = 0; j < 8 && i < n; j++, i++, v >>= 8) {
            unsigned c = (unsigned)(v & 255u);
            dst[i] = wild && c >= 224 ? fz_value_c(r, wild, c) : tab[c];
        }
    }
}

FZ_NOCOV static inline void fz_bytes(fz_rd *r, unsigned char *dst, size_t n)
{
    size_t i = 0;
    for (; i < n && r->i < r->n; i++) dst[i] = (unsigned char)fz_u8(r);
    while (i < n) {
        uint64_t v = fz_rng(r);
        size_t j;
        for (j = 0; j < 8 && i < n; j++, i++, v >>= 8) dst[i] = (unsigned char)(v & 255u);
    }
}

/* A finding, now fixed in moe.h: moe_quantize(Q8_0) of a block whose largest magnitude is nonzero
   but below 127 * FLT_MIN made the scale's reciprocal Inf, 0 * Inf = NaN, and (int)NaN undefined
   behaviour. FZ_STRICT 1 (the default) lets such blocks through; build with -DFZ_STRICT=0 to keep
   them away again (for fuzzing an older moe.h). */
#ifndef FZ_STRICT
#define FZ_STRICT 1
#endif
FZ_NOCOV static inline int fz_q8_tiny_block(const float *x, size_t n)
{
    size_t b, i;
    for (b = 0; b + 32 <= n; b += 32) {
        float amax = 0.0f;
        for (i = b; i < b + 32; i++) if (fabsf(x[i]) > amax) amax = fabsf(x[i]);
        if (amax > 0.0f && amax < 1.4928e-36f) return 1;
    }
    return 0;
}

/* ---- an independent decoder of the weight types (ggml block layouts) --------------------- */
FZ_NOCOV static inline float fz_h2f(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31u, m = h & 1023u;
    if (e == 0) { float v = ldexpf((float)m, -24); return s ? -v : v; }
    if (e == 31) return fz_bits_f(s | 0x7f800000u | (m << 13));
    return fz_bits_f(s | ((e - 15u + 127u) << 23) | (m << 13));
}
FZ_NOCOV static inline uint16_t fz_rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* bytes of one row of n values, 0 when n is not whole blocks or the type is unknown */
static inline size_t fz_row_bytes(int type, size_t n)
{
    switch (type) {
    case 0: return n > (size_t)-1 / 4 ? 0 : 4 * n;                 /* f32  */
    case 1: case 2: return n > (size_t)-1 / 2 ? 0 : 2 * n;         /* f16, bf16 */
    case 3: return n % 32 ? 0 : n / 32 * 34;                       /* q8_0 */
    case 4: return n % 32 ? 0 : n / 32 * 18;                       /* q4_0 */
    }
    return 0;
}
/* one row of n values (n whole blocks for q8_0/q4_0) */
FZ_NOCOV static inline void fz_decode_row(int type, const unsigned char *src, size_t n, float *dst)
{
    size_t i, b;
    switch (type) {
    case 0: memcpy(dst, src, 4 * n); break;
    case 1: for (i = 0; i < n; i++) dst[i] = fz_h2f(fz_rd16(src + 2 * i)); break;
    case 2: for (i = 0; i < n; i++) dst[i] = fz_bits_f((uint32_t)fz_rd16(src + 2 * i) << 16); break;
    case 3:
        for (b = 0; b < n / 32; b++) {
            float d = fz_h2f(fz_rd16(src + 34 * b));
            for (i = 0; i < 32; i++) dst[32 * b + i] = (float)(signed char)src[34 * b + 2 + i] * d;
        }
        break;
    case 4:
        for (b = 0; b < n / 32; b++) {
            float d = fz_h2f(fz_rd16(src + 18 * b));
            for (i = 0; i < 16; i++) {
                dst[32 * b + i] = (float)((int)(src[18 * b + 2 + i] & 15) - 8) * d;
                dst[32 * b + 16 + i] = (float)((int)(src[18 * b + 2 + i] >> 4) - 8) * d;
            }
        }
        break;
    }
}

#endif
