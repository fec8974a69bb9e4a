/* fuzz_quant.c - libFuzzer target for moe_type_row_size, moe_type_name, moe_quantize and
   moe_dequantize.

   Each input is a short program of steps (until the input runs out, at most 16): a step picks
   an operation, a type (sometimes out of range) and row/column counts, small or huge (near
   SIZE_MAX, products that overflow), and fuzz values (NaN, Inf, f16/block-scale limits,
   denormals, raw bits) or raw bytes. Arrays are malloc'ed at exactly the size a valid call
   touches, sometimes at odd addresses (dst of moe_quantize and src of moe_dequantize are
   bytes), so ASan reports any access outside them. Sizes that overflow are passed with small
   real buffers: the call must refuse them by its return code before touching memory.

   Checked: moe_type_row_size against its definition (0 for n = 0, partial blocks, unknown types
   and byte counts that overflow size_t); moe_type_name never NULL; every status is the one the
   API defines (NULL, ARG, OVERFLOW, RANGE for values the type cannot hold) and valid calls
   succeed; dequantize of any bytes equals an independent decoder bit for bit; quantize of f16
   and bf16 rounds to a nearest value (NaN stays NaN, Inf stays Inf, no finite value becomes
   Inf); Q8_0 and Q4_0 bytes equal ggml's reference quantisers (transcribed below) and the round
   trip stays within the format's bound; f32 round trips bit for bit.

   Run: make fuzz-quant (or make fuzz; FUZZ_TIME=seconds). Replay a corpus without libFuzzer:
   tests/fuzz/replay.sh, or build with tests/fuzz/replay_main.c. */
#define MOE_IMPLEMENTATION
#include "../../moe.h"
#include "fuzz_util.h"

#define FZ_SMAX ((size_t)-1)
#ifndef FZ_STRICT_GGML
#define FZ_STRICT_GGML 0  /* 1: no allowance for the known q4_0 FMA contraction difference (below) */
#endif
#define FZ_MAX_VALUES 4096          /* most values a call that runs may touch */
#define FZ_NTYPES 5                 /* types this file knows: f32 f16 bf16 q8_0 q4_0 */
/* a type moe.h has but this file does not know (added after it): only generic checks */
#define FZ_OTHER(t) ((t) >= FZ_NTYPES && (t) < (int)MOE_TYPE_COUNT)

static void fz_status_ok(moe_status s, const char *where)
{
    const char *str = moe_status_string(s);
    FZ_CHECK(str != NULL, "%s: moe_status_string(%d) is NULL", where, (int)s);
    FZ_CHECK((unsigned)s <= (unsigned)MOE_ERR_RANGE, "%s: unknown status %d", where, (int)s);
}

/* ---- moe_type_row_size by its definition -------------------------------------------------- */
FZ_NOCOV static size_t fz_expect_row_size(int t, size_t n)
{
    size_t blk, bytes;
    switch (t) {
    case 0: blk = 1; bytes = 4; break;
    case 1: case 2: blk = 1; bytes = 2; break;
    case 3: blk = 32; bytes = 34; break;
    case 4: blk = 32; bytes = 18; break;
    default: return 0;
    }
    if (n == 0 || n % blk) return 0;
    if (n / blk > FZ_SMAX / bytes) return 0;
    return n / blk * bytes;
}

static size_t fz_size(fz_rd *r)
{
    static const size_t sp[16] = {
        0, 1, 31, 32, 33, FZ_SMAX, FZ_SMAX - 31, FZ_SMAX / 2 + 1, FZ_SMAX / 4 + 1, FZ_SMAX / 34 * 32 + 32,
        FZ_SMAX / 18 * 32 + 32, (size_t)1 << (sizeof(size_t) * 4), ((size_t)1 << (sizeof(size_t) * 4)) + 32,
        FZ_SMAX / 4 + 32, FZ_SMAX / 32 * 32, FZ_SMAX / 2 / 32 * 32 };
    unsigned c = fz_u8(r);
    if (c < 64) return sp[c % 16] + (c >= 48 ? 32 * (size_t)(c - 48) : 0);
    if (c < 128) return (size_t)fz_u64(r);
    if (c < 192) return 32 * (size_t)(c - 127);
    return 1 + (size_t)(c - 192) * 3;
}

/* ---- ggml's reference quantisers (ggml-quants.c, quantize_row_q8_0_ref / q4_0_ref) ---------- */
FZ_NOCOV static uint16_t fz_f2h_rne(float f)       /* IEEE round to nearest even, like _cvtss_sh */
{
    uint32_t x = fz_f_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);   /* rounds to >= 65536: Inf */
    if (ax >= 0x38800000u) {                                     /* normal half */
        uint32_t h = ((ax >> 23) - 112u) << 10 | ((ax >> 13) & 0x3ffu), rem = ax & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    {                                                            /* subnormal half: value / 2^-24 */
        double q = (double)fz_bits_f(ax) * 16777216.0, fl = floor(q);
        uint32_t h = (uint32_t)fl;
        if (q - fl > 0.5 || (q - fl == 0.5 && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
}
FZ_NOCOV static void fz_ggml_q8_0(const float *x, unsigned char *y, int fused)
{
    float amax = 0.0f, d, id;
    int j;
    (void)fused;
    for (j = 0; j < 32; j++) { float v = fabsf(x[j]); if (v > amax) amax = v; }
    d = amax / ((1 << 7) - 1);
    id = d ? 1.0f / d : 0.0f;
    y[0] = (unsigned char)(fz_f2h_rne(d) & 255u); y[1] = (unsigned char)(fz_f2h_rne(d) >> 8);
    for (j = 0; j < 32; j++) {
        float v = roundf(x[j] * id);
        y[2 + j] = v != v ? 0 : (unsigned char)(signed char)v;     /* (int)NaN: 0, as on x86 */
    }
}
FZ_NOCOV static void fz_ggml_q4_0(const float *x, unsigned char *y, int fused)
{
    float amax = 0.0f, max = 0.0f, d, id;
    int j;
    for (j = 0; j < 32; j++) { float v = x[j]; if (amax < fabsf(v)) { amax = fabsf(v); max = v; } }
    d = max / -8;
    id = d ? 1.0f / d : 0.0f;
    y[0] = (unsigned char)(fz_f2h_rne(d) & 255u); y[1] = (unsigned char)(fz_f2h_rne(d) >> 8);
    for (j = 0; j < 16; j++) {
        float x0 = x[j] * id, x1 = x[16 + j] * id;
        float v0 = fused ? fmaf(x[j], id, 8.5f) : x0 + 8.5f, v1 = fused ? fmaf(x[16 + j], id, 8.5f) : x1 + 8.5f;
        /* ggml: MIN(15, (int8_t)v). v is in [0.5, 16.5] unless 1/d overflowed (amax < 8 * FLT_MIN,
           where the f16 scale is 0 anyway and ggml's cast is undefined): then NaN -> 0, clamp */
        int xi0 = !(v0 >= 0.0f) ? 0 : v0 >= 15.0f ? 15 : (int)v0, xi1 = !(v1 >= 0.0f) ? 0 : v1 >= 15.0f ? 15 : (int)v1;
        y[2 + j] = (unsigned char)(xi0 | (xi1 << 4));
    }
}

/* is q one of the representable values nearest to x? (neighbours of the 16-bit code h) */
FZ_NOCOV static void fz_check_nearest(int type, float x, uint16_t h, size_t i)
{
    float q = type == 1 ? fz_h2f(h) : fz_bits_f((uint32_t)h << 16);
    int k;
    if (x != x) { FZ_CHECK(q != q, "%s of NaN at %zu gives %g", type == 1 ? "f16" : "bf16", i, (double)q); return; }
    if (!fz_finite(x)) { FZ_CHECK(q == x, "%s of %g at %zu gives %g", type == 1 ? "f16" : "bf16", (double)x, i, (double)q); return; }
    FZ_CHECK(fz_finite(q), "%s: finite %.9g at %zu became %g (should be MOE_ERR_RANGE)", type == 1 ? "f16" : "bf16", (double)x, i, (double)q);
    FZ_CHECK((x < 0) == ((h & 0x8000u) != 0) || x == 0.0f, "%s: sign of %g at %zu lost", type == 1 ? "f16" : "bf16", (double)x, i);
    for (k = -1; k <= 1; k += 2) {                      /* the neighbouring codes, same sign */
        uint16_t hn = (uint16_t)(h + k);
        float qn;
        if ((h & 0x7fffu) == 0 && k < 0) continue;
        if (((h ^ hn) & 0x8000u) != 0) continue;
        qn = type == 1 ? fz_h2f(hn) : fz_bits_f((uint32_t)hn << 16);
        if (!fz_finite(qn)) continue;
        FZ_CHECK(fabs((double)x - (double)q) <= fabs((double)x - (double)qn),
                 "%s: %.9g at %zu rounded to %.9g, but %.9g is nearer", type == 1 ? "f16" : "bf16", (double)x, i, (double)q, (double)qn);
    }
}

/* a type added to moe.h after this file: exact-size buffers from moe_type_row_size, known
   statuses, and a finite round trip for small finite values */
FZ_NOCOV static void fz_step_other(fz_rd *r, int type)
{
    size_t rows = 1 + fz_u8(r) % 4, cols = 1 + fz_u8(r) % 256, rb = moe_type_row_size((moe_type)type, cols), i;
    float *src, *back;
    unsigned char *q;
    moe_status s;
    if (rb == 0) {
        float f[1] = { 0 };
        unsigned char b[1];
        s = moe_quantize((moe_type)type, f, b, rows, cols);
        fz_status_ok(s, "moe_quantize");
        FZ_CHECK(s != MOE_OK, "moe_quantize(%d) accepted %zu columns, whose row size is 0", type, cols);
        return;
    }
    src = (float *)malloc(rows * cols * sizeof(float)); back = (float *)malloc(rows * cols * sizeof(float));
    q = (unsigned char *)malloc(rows * rb);
    fz_values(r, 0, src, rows * cols);
    s = moe_quantize((moe_type)type, src, q, rows, cols);
    fz_status_ok(s, "moe_quantize");
    FZ_CHECK(s == MOE_OK, "moe_quantize(%s) of small finite values: %s", moe_type_name((moe_type)type), moe_status_string(s));
    FZ_CHECK(moe_dequantize((moe_type)type, q, back, rows, cols) == MOE_OK, "moe_dequantize(%s)", moe_type_name((moe_type)type));
    for (i = 0; i < rows * cols; i++) FZ_CHECK(fz_finite(back[i]), "%s round trip of %g gives %g", moe_type_name((moe_type)type), (double)src[i], (double)back[i]);
    fz_bytes(r, q, rows * rb);
    s = moe_dequantize((moe_type)type, q, back, rows, cols);
    fz_status_ok(s, "moe_dequantize");
    FZ_CHECK(s == MOE_OK, "moe_dequantize(%s) of any bytes: %s", moe_type_name((moe_type)type), moe_status_string(s));
    free(src); free(back); free(q);
}

/* one call of moe_quantize / moe_dequantize with the status the API defines */
static void fz_step(fz_rd *r)
{
    unsigned op = fz_u8(r) % 8, tb = fz_u8(r), vm = fz_u8(r);
    int type = tb < 240 ? (int)(tb % FZ_NTYPES) : tb < 248 ? (int)(tb % 8) : tb == 248 ? -1 : (int)(0x7fffffff - (tb & 3));
    size_t rows, cols, rb, total, fbytes, i, misalign = (vm >> 4) & 3;
    int ovf, arg, null_src = vm == 0xfe, null_dst = vm == 0xff, fits, wild = (int)(vm & 1), raw = (int)(vm >> 1 & 1);
    moe_status want, s;
    if (op == 0) {                                     /* row sizes only */
        for (i = 0; i < 8; i++) {
            size_t n = fz_size(r);
            int t = (int)(fz_u8(r) % 7) - 1;
            size_t got = moe_type_row_size((moe_type)t, n);
            if (FZ_OTHER(t)) { FZ_CHECK(n != 0 || got == 0, "moe_type_row_size(%d, 0) = %zu", t, got); continue; }
            FZ_CHECK(got == fz_expect_row_size(t, n), "moe_type_row_size(%d, %zu) = %zu, expected %zu", t, n, got, fz_expect_row_size(t, n));
            FZ_CHECK(moe_type_name((moe_type)t) != NULL, "moe_type_name(%d) is NULL", t);
        }
        FZ_CHECK(moe_type_name((moe_type)(int)fz_u32(r)) != NULL, "moe_type_name NULL");
        FZ_CHECK(moe_status_string((moe_status)(int)fz_u32(r)) != NULL, "moe_status_string NULL");
        return;
    }
    if (FZ_OTHER(type)) { fz_step_other(r, type); return; }
    if (op == 1) { rows = fz_size(r); cols = fz_size(r); }            /* any sizes */
    else {                                                              /* small, mostly valid */
        unsigned c = fz_u8(r);
        rows = 1 + fz_u8(r) % 8;
        cols = c < 160 ? 32 * (size_t)(1 + c % 8) : 1 + (size_t)(c % 96);
    }
    /* what the call must return: NULL, then ARG, then OVERFLOW (RANGE: below, from the values) */
    rb = fz_expect_row_size(type, cols);
    arg = type < 0 || type >= (int)MOE_TYPE_COUNT || rows == 0 || cols == 0 || ((type == 3 || type == 4) && cols % 32);
    ovf = !arg && (rb == 0 || rows > FZ_SMAX / rb || rows > FZ_SMAX / cols || rows * cols > FZ_SMAX / sizeof(float));
    want = null_src || null_dst ? MOE_ERR_NULL : arg ? MOE_ERR_ARG : ovf ? MOE_ERR_OVERFLOW : MOE_OK;
    fits = want == MOE_OK && rows * cols <= FZ_MAX_VALUES;
    if (want == MOE_OK && !fits) return;               /* valid, but larger than the buffers here */
    total = fits ? rows * cols : 1 + fz_u8(r) % 64;    /* refused calls get small real buffers */
    fbytes = fits ? rows * rb : total;
    {
        float *src = (float *)malloc(total * sizeof(float)), *back = (float *)malloc(total * sizeof(float));
        unsigned char *qa = (unsigned char *)malloc(fbytes + misalign), *q = qa + misalign;
        unsigned char *ref = (unsigned char *)malloc(fbytes);
        /* RANGE: a finite value the type cannot hold. f16: |x| >= 65520 rounds to Inf; bf16:
           |x| >= 0x1.ffp127 rounds to Inf; q8_0/q4_0: NaN, Inf, or a block scale (amax/127,
           amax/8) that rounds to Inf in f16. Refusing a little early (from 65504 * 127 or * 8,
           as moe.h does) is allowed. */
        int range_must = 0, range_may = 0;
        float lim = type == 3 ? 65504.0f * 127.0f : type == 4 ? 65504.0f * 8.0f : type == 2 ? fz_bits_f(0x7f7f7fffu) : 65519.996f;
        double must = type == 3 ? 65520.0 * 127.0 * 1.0001 : type == 4 ? 65520.0 * 8.0 * 1.0001 : type == 2 ? (double)fz_bits_f(0x7f7f8000u) : 65520.0;
        fz_values(r, wild, src, total);
        if (fits && (type == 3 || type == 4) && (vm & 0x40)) {           /* block-scale edges */
            float e = (float)(fz_u8(r) % 16) - 8.0f;
            src[fz_u8(r) % total] = (lim + e * (type == 3 ? 1024.0f : 64.0f)) * ((vm & 0x80) ? -1.0f : 1.0f);
        }
        if (fits && type == 1 && (vm & 0x40)) src[fz_u8(r) % total] = 65504.0f + (float)(fz_u8(r) % 32) * ((vm & 0x80) ? -1.0f : 1.0f);
        if (fits && type == 2 && (vm & 0x40)) src[fz_u8(r) % total] = fz_bits_f((0x7f7f7ff8u + fz_u8(r) % 16u) | ((vm & 0x80) ? 0x80000000u : 0u));
        if (type != 0)
            for (i = 0; i < total; i++) {
                if ((type >= 3 && !fz_finite(src[i])) || (fz_finite(src[i]) && fabsf(src[i]) >= must)) range_must = 1;
                if ((type >= 3 && !fz_finite(src[i])) || (fz_finite(src[i]) && fabsf(src[i]) > lim * (type == 2 ? 1.0f : 0.9999f))) range_may = 1;
            }
        /* moe_quantize */
        if (!FZ_STRICT && type == 3 && fits && fz_q8_tiny_block(src, total)) op = 7;   /* known finding, fuzz_util.h */
        if (op != 7) {
            s = moe_quantize((moe_type)type, null_src ? NULL : src, null_dst ? NULL : (void *)q, rows, cols);
            fz_status_ok(s, "moe_quantize");
            if (want != MOE_OK)
                FZ_CHECK(s == want, "moe_quantize(%d, %zu x %zu): %s, expected %s", type, rows, cols, moe_status_string(s), moe_status_string(want));
            else {
                FZ_CHECK(s == MOE_OK || s == MOE_ERR_RANGE, "moe_quantize(%s, %zu x %zu): %s", moe_type_name((moe_type)type), rows, cols,
                         moe_status_string(s));
                FZ_CHECK(s == MOE_ERR_RANGE || !range_must, "moe_quantize(%s, %zu x %zu) accepted values it cannot hold", moe_type_name((moe_type)type),
                         rows, cols);
                FZ_CHECK(s == MOE_OK || range_may, "moe_quantize(%s, %zu x %zu) refused values it can hold (MOE_ERR_RANGE)", moe_type_name((moe_type)type),
                         rows, cols);
                if (s == MOE_OK) {
                    size_t rr, b;
                    FZ_CHECK(moe_dequantize((moe_type)type, q, back, rows, cols) == MOE_OK, "moe_dequantize after moe_quantize");
                    for (rr = 0; rr < rows; rr++) {
                        const float *x = src + rr * cols, *y = back + rr * cols;
                        const unsigned char *qr = q + rr * rb;
                        switch (type) {
                        case 0:
                            FZ_CHECK(memcmp(x, y, cols * sizeof(float)) == 0, "f32 round trip changed bits in row %zu", rr);
                            break;
                        case 1: case 2:
                            for (i = 0; i < cols; i++) fz_check_nearest(type, x[i], fz_rd16(qr + 2 * i), rr * cols + i);
                            break;
                        default:
                            for (b = 0; b < cols / 32; b++) {
                                const float *xb = x + 32 * b, *yb = y + 32 * b;
                                float amax = 0.0f, d = fz_h2f(fz_rd16(qr + (type == 3 ? 34 : 18) * b));
                                double bound;
                                (type == 3 ? fz_ggml_q8_0 : fz_ggml_q4_0)(xb, ref, 0);
#if !FZ_STRICT_GGML
                                /* Known finding (reported): moe.h's q4_0 encoder computes x * id + 8.5f in one
                                   expression, which compilers that contract to FMA (clang; gcc in GNU modes)
                                   round once, so near-integer values truncate one lower than ggml's
                                   two-step rounding. Accept that form until it is fixed. */
                                if (type == 4 && memcmp(ref, qr + 18 * b, 18) != 0) fz_ggml_q4_0(xb, ref, 1);
#endif
                                if (memcmp(ref, qr + (type == 3 ? 34 : 18) * b, type == 3 ? 34 : 18) != 0) {
                                    int z;
                                    fprintf(stderr, "block values:");
                                    for (z = 0; z < 32; z++) fprintf(stderr, " %a", (double)xb[z]);
                                    fprintf(stderr, "\nmoe.h: ");
                                    for (z = 0; z < (type == 3 ? 34 : 18); z++) fprintf(stderr, "%02x", qr[(type == 3 ? 34 : 18) * b + (size_t)z]);
                                    fprintf(stderr, "\nggml:  ");
                                    for (z = 0; z < (type == 3 ? 34 : 18); z++) fprintf(stderr, "%02x", ref[z]);
                                    fprintf(stderr, "\n");
                                }
                                FZ_CHECK(memcmp(ref, qr + (type == 3 ? 34 : 18) * b, type == 3 ? 34 : 18) == 0,
                                         "%s block %zu of row %zu differs from ggml's reference quantiser", moe_type_name((moe_type)type), b, rr);
                                for (i = 0; i < 32; i++) if (fabsf(xb[i]) > amax) amax = fabsf(xb[i]);
                                FZ_CHECK(fz_finite(d), "%s block scale %g for amax %g", moe_type_name((moe_type)type), (double)d, (double)amax);
                                /* q8_0: half a step, q4_0: a step at the top of the range; plus the f16 scale's rounding */
                                bound = (type == 3 ? amax / 254.0 + amax / 2048.0 : amax / 8.0 + amax / 256.0) + 8.0 * 127.0 * 2.98e-8 + amax * 1e-6;
                                for (i = 0; i < 32; i++)
                                    FZ_CHECK(fabs((double)yb[i] - (double)xb[i]) <= bound, "%s round trip: %.9g -> %.9g (block amax %g, bound %.3g)",
                                             moe_type_name((moe_type)type), (double)xb[i], (double)yb[i], (double)amax, bound);
                            }
                            break;
                        }
                    }
                }
            }
        }
        /* moe_dequantize of any bytes: equal to the independent decoder */
        if (op >= 6) {
            float *dec = (float *)malloc(total * sizeof(float));
            fz_bytes(r, q, fbytes);
            if (!raw && fits && type == 1) for (i = 0; i + 1 < fbytes; i += 2) q[i + 1] &= 0x7b;   /* mostly finite */
            s = moe_dequantize((moe_type)type, null_dst ? NULL : (const void *)q, null_src ? NULL : back, rows, cols);
            fz_status_ok(s, "moe_dequantize");
            FZ_CHECK(s == want, "moe_dequantize(%d, %zu x %zu): %s, expected %s", type, rows, cols, moe_status_string(s), moe_status_string(want));
            if (s == MOE_OK) {
                size_t rr;
                for (rr = 0; rr < rows; rr++) fz_decode_row(type, q + rr * rb, cols, dec + rr * cols);
                for (i = 0; i < total; i++)
                    FZ_CHECK(fz_f_bits(dec[i]) == fz_f_bits(back[i]) || (dec[i] != dec[i] && back[i] != back[i]),
                             "moe_dequantize(%s) value %zu: %.9g, expected %.9g", moe_type_name((moe_type)type), i, (double)back[i], (double)dec[i]);
            }
            free(dec);
        }
        free(src); free(back); free(qa); free(ref);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_rd r;
    int step;
    fz_init(&r, data, size);
    for (step = 0; step < 16 && (step == 0 || r.i < r.n); step++) fz_step(&r);
    return 0;
}
