/* gen_seeds.c - writes the hand-made seed inputs of the fuzz targets: named model shapes and
   edge cases for fuzz_forward (byte layout: the comment above fz_decode in fuzz_forward.c; a
   type byte 160 + t is moe_type t) and a few programs for fuzz_quant. Seeds only fix the header bytes; the values past them come
   from the target's PRNG. Usage (what `make fuzz-seeds` runs):
       cc -std=c99 tests/fuzz/gen_seeds.c -o gen_seeds && ./gen_seeds tests/fuzz/corpus */
#include <stdio.h>
#include <string.h>
#include "../../moe.h"      /* the moe_type values (no implementation) */

static int wrote;
static void put(const char *dir, const char *target, const char *name, const unsigned char *b, size_t n)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s/seed-%s", dir, target, name);
    f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) { fprintf(stderr, "gen_seeds: cannot write %s\n", path); if (f) fclose(f); return; }
    fclose(f);
    wrote++;
}

/* fuzz_forward header fields (see fz_decode) */
enum { DM, FF, NE, TOPK, ACT, SCORE, FA, FB, SCALE, GROUPS, TOPKG, SHARED, FFS, THREADS, TYPES,
       NTOK = TYPES + 8, CAP, WS, CALL, OAI, VM, ODD, POOL, MISC, ODDARG, HDR };
/* fz_dim: 1 + b % 40 below 128; 32; 64 (b % 4 == 3); 96, 128, 192, 256 from 248 */
#define D32 128
#define D64 131
#define D96 248
#define D128 252
#define D192 254
#define D256 255

typedef struct seed { const char *name; int set[HDR * 2]; } seed;   /* pairs: field, value; -1 ends */

int main(int argc, char **argv)
{
    static const seed fwd[] = {
        { "mixtral-f32", { DM, D32, FF, D64, NE, 7, TOPK, 1, FA, 1, NTOK, 7, -1 } },
        { "mixtral-q4_0-decode", { DM, D32, FF, D32, NE, 7, TOPK, 1, FA, 1, TYPES + 1, 4, TYPES + 2, 4, TYPES + 3, 4, NTOK, 0, -1 } },
        { "mixtral-q8_0-batch", { DM, D32, FF, D32, NE, 3, TOPK, 1, FA, 1, TYPES + 1, 3, TYPES + 2, 3, TYPES + 3, 3, NTOK, 147, -1 } },
        { "q8_0-one-expert-36-tokens", { DM, D32, FF, D32, NE, 0, TOPK, 0, TYPES + 1, 3, TYPES + 2, 3, TYPES + 3, 3, NTOK, 255, -1 } },
        { "q4_0-two-experts-32-tokens", { DM, D32, FF, D64, NE, 1, TOPK, 0, TYPES + 1, 4, TYPES + 2, 4, TYPES + 3, 4, NTOK, 251, -1 } },
        { "f32-one-expert-36-tokens", { DM, D64, FF, D32, NE, 0, TOPK, 0, NTOK, 255, -1 } },
        { "d96-one-expert", { DM, D96, FF, D96, NE, 0, TOPK, 0, TYPES + 1, 3, TYPES + 2, 4, TYPES + 3, 1, NTOK, 133, -1 } },
        { "q8_0-d128-one-token", { DM, D128, FF, D32, NE, 1, TOPK, 0, TYPES + 1, 3, TYPES + 2, 3, TYPES + 3, 3, NTOK, 0, -1 } },
        { "q4_0-d192-one-token", { DM, D192, FF, D32, NE, 0, TOPK, 0, TYPES + 1, 4, TYPES + 2, 4, TYPES + 3, 4, NTOK, 0, -1 } },
        { "q8_0-q4_0-d256-3-tokens", { DM, D256, FF, D32, NE, 0, TOPK, 0, TYPES + 1, 3, TYPES + 2, 4, TYPES + 3, 3, NTOK, 2, -1 } },
        { "f16-bf16-d256-down", { DM, D32, FF, D256, NE, 0, TOPK, 0, TYPES + 1, 1, TYPES + 2, 2, TYPES + 3, 1, NTOK, 1, -1 } },
        { "q4_K-d256", { DM, D256, FF, D256, NE, 0, TOPK, 0, TYPES + 1, 160 + MOE_TYPE_Q4_K, TYPES + 2, 160 + MOE_TYPE_Q4_K,
                         TYPES + 3, 160 + MOE_TYPE_Q4_K, NTOK, 1, -1 } },
        { "q5_K-q6_K-d256", { DM, D256, FF, D256, NE, 0, TOPK, 0, TYPES + 1, 160 + MOE_TYPE_Q5_K, TYPES + 2, 160 + MOE_TYPE_Q6_K,
                              TYPES + 3, 160 + MOE_TYPE_Q5_K, NTOK, 2, -1 } },
        { "q2_K-q3_K-d256-batch", { DM, D256, FF, D256, NE, 0, TOPK, 0, TYPES + 1, 160 + MOE_TYPE_Q2_K, TYPES + 2, 160 + MOE_TYPE_Q3_K,
                                    TYPES + 3, 160 + MOE_TYPE_Q3_K, NTOK, 255, -1 } },
        { "q6_K-router", { DM, D256, FF, 15, NE, 0, TOPK, 0, TYPES, 160 + MOE_TYPE_Q6_K, NTOK, 3, -1 } },
        { "mxfp4-gpt-oss", { DM, D32, FF, D32, NE, 7, TOPK, 3, ACT, 4, SCORE, 2, FA, 16 | 32 | 64, FB, 1 | 2 | 4,
                             TYPES + 4, 160 + MOE_TYPE_MXFP4, TYPES + 3, 160 + MOE_TYPE_MXFP4, OAI, 7, NTOK, 139, -1 } },
        { "f8_e4m3-odd-dims", { DM, 32, FF, 20, NE, 5, TOPK, 1, TYPES + 1, 160 + MOE_TYPE_F8_E4M3, TYPES + 2, 160 + MOE_TYPE_F8_E4M3,
                                TYPES + 3, 160 + MOE_TYPE_F8_E4M3, NTOK, 150, -1 } },
        { "deepseek-v3", { DM, D32, FF, 15, NE, 15, TOPK, 3, SCORE, 1, FA, 1 | 8 | 128, SCALE, 2, GROUPS, 6, TOPKG, 1,
                           SHARED, 2, FFS, D32, NTOK, 140, -1 } },
        { "deepseek-v2-max", { DM, D32, FF, 15, NE, 15, TOPK, 5, SCORE, 0, FA, 0, SCALE, 3, GROUPS, 2, TOPKG, 2,
                               SHARED, 3, FFS, 15, NTOK, 5, -1 } },
        { "gpt-oss", { DM, D32, FF, D32, NE, 7, TOPK, 3, ACT, 4, SCORE, 2, FA, 16 | 32 | 64, FB, 1 | 2 | 4, TYPES + 4, 4,
                       TYPES + 3, 4, OAI, 7, NTOK, 139, -1 } },
        { "gpt-oss-halves-f32", { DM, 31, FF, 23, NE, 5, TOPK, 1, ACT, 4, SCORE, 2, FA, 16 | 64, FB, 1 | 2 | 4, OAI, 0x37, NTOK, 6, -1 } },
        { "llama4", { DM, D32, FF, D32, NE, 7, TOPK, 0, SCORE, 1, FA, 2, SHARED, 2, FFS, D32, TYPES, 2, TYPES + 1, 2,
                      TYPES + 2, 2, TYPES + 3, 2, TYPES + 5, 2, TYPES + 6, 2, TYPES + 7, 2, NTOK, 135, -1 } },
        { "qwen2-moe", { DM, D32, FF, 15, NE, 15, TOPK, 3, FA, 0, FB, 8, SHARED, 2, FFS, D32, NTOK, 9, -1 } },
        { "olmoe-bf16", { DM, D32, FF, 7, NE, 15, TOPK, 7, FA, 0, TYPES + 1, 2, TYPES + 2, 2, TYPES + 3, 2, NTOK, 19, -1 } },
        { "bf16-dot-batch", { DM, D64, FF, D32, NE, 1, TOPK, 0, FB, 128, TYPES + 1, 2, TYPES + 2, 2, TYPES + 3, 2, NTOK, 255, -1 } },
        { "bf16-dot-few-q8_0-mix", { DM, D32, FF, D64, NE, 1, TOPK, 1, FB, 128, TYPES + 1, 2, TYPES + 2, 3, TYPES + 3, 2, NTOK, 5, -1 } },
        { "q4_K-exact-batch", { DM, D256, FF, D32, NE, 0, TOPK, 0, FB, 64, TYPES + 1, 160 + MOE_TYPE_Q4_K, TYPES + 2, 160 + MOE_TYPE_Q4_K,
                                TYPES + 3, 4, NTOK, 251, -1 } },
        { "geglu-tanh-f16-odd-dims", { DM, 32, FF, 16, NE, 4, TOPK, 1, ACT, 1, FA, 1 | 4, TYPES + 1, 1, TYPES + 2, 1,
                                       TYPES + 3, 1, NTOK, 12, -1 } },
        { "gelu-relu-per-expert", { DM, D32, FF, D32, NE, 5, TOPK, 2, ACT, 2, FB, 16 | 4 | 1, TYPES + 2, 3, TYPES + 3, 4, NTOK, 150, -1 } },
        { "relu-fused-q8_0-odd-address", { DM, D32, FF, D32, NE, 3, TOPK, 1, ACT, 3, FA, 16, FB, 32, TYPES + 4, 3,
                                           TYPES + 3, 3, TYPES, 1, NTOK, 3, -1 } },
        { "one-dim", { DM, 0, FF, 0, NE, 15, TOPK, 15, NTOK, 147, -1 } },
        { "threads-4-pool", { DM, D32, FF, D32, NE, 7, TOPK, 1, THREADS, 24, CALL, 4, POOL, 0x42, NTOK, 146, -1 } },
        { "capacity", { DM, 15, FF, 15, NE, 3, TOPK, 1, NTOK, 147, CAP, 193, -1 } },
        { "workspace-one-byte-short", { DM, D32, FF, D32, NE, 7, TOPK, 1, NTOK, 5, WS, 1, -1 } },
        { "workspace-offset", { DM, D32, FF, D32, NE, 7, TOPK, 1, NTOK, 5, WS, 2 | (7 << 4), -1 } },
        { "workspace-too-small", { DM, D32, FF, D32, NE, 7, TOPK, 1, NTOK, 5, WS, 4 | 16, -1 } },
        { "forward-in-place", { DM, D32, FF, D32, NE, 7, TOPK, 1, NTOK, 9, CALL, 1, MISC, 4, -1 } },
        { "route-only", { DM, D32, FF, D32, NE, 15, TOPK, 3, SCORE, 1, NTOK, 150, CALL, 2, -1 } },
        { "nan-inf-tokens", { DM, D32, FF, D32, NE, 7, TOPK, 1, NTOK, 7, VM, 1, -1 } },
        { "wild-weights-raw", { DM, D32, FF, D32, NE, 3, TOPK, 1, NTOK, 3, VM, 6 | 32, TYPES + 1, 131, TYPES + 2, 132,
                                TYPES + 3, 129, -1 } },
        { "wild-biases", { DM, D32, FF, D32, NE, 3, TOPK, 1, FA, 64 | 128, FB, 1 | 4, NTOK, 3, VM, 24, -1 } },
        { "routed-scale-0", { DM, D32, FF, D32, NE, 3, TOPK, 1, SCALE, 240, -1 } },
        { "q4_0-bad-cols", { DM, 32, FF, D32, NE, 3, TOPK, 1, TYPES + 2, 4, -1 } },
        { "ignored-fields", { DM, D32, FF, D32, NE, 3, TOPK, 1, ACT, 2, MISC, 3 | 8, -1 } },
        { "bad-worker", { DM, D32, FF, D32, NE, 3, TOPK, 1, THREADS, 2, POOL, 0xc0, MISC, 2, NTOK, 9, -1 } },
    };
    static const char *const odd_names[12] = { "enum", "size", "groups", "counts", "floats", "missing", "ambiguous",
                                               "expert-pointer", "misaligned", "huge-1", "huge-2", "huge-3" };
    unsigned char b[64];
    char name[64];
    size_t i;
    int k, a;
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    for (i = 0; i < sizeof fwd / sizeof fwd[0]; i++) {
        memset(b, 0, sizeof b);
        for (k = 0; fwd[i].set[k] >= 0; k += 2) b[fwd[i].set[k]] = (unsigned char)fwd[i].set[k + 1];
        put(dir, "fuzz_forward", fwd[i].name, b, HDR);
    }
    /* every odd-config kind, with a few arguments each, on a small valid f32 layer with biases */
    for (k = 0; k < 12; k++)
        for (a = 0; a < 4; a++) {
            memset(b, 0, sizeof b);
            b[DM] = D32; b[FF] = 15; b[NE] = 7; b[TOPK] = 1; b[FA] = 1 | 64 | 128 | (k == 6 && a & 1 ? 16 : 0);
            b[FB] = 1 | 4 | 8 | (a == 3 ? 16 : 0) | (k == 6 && a == 2 ? 2 : 0);
            b[SHARED] = 2; b[FFS] = 7; b[GROUPS] = a == 1 ? 2 : 0; b[NTOK] = 3;
            b[ODD] = (unsigned char)(128 + k + 12 * a); b[ODDARG] = (unsigned char)(a * 67 + 5);
            snprintf(name, sizeof name, "odd-%s-%d", odd_names[k], a);
            put(dir, "fuzz_forward", name, b, HDR);
        }
    /* fuzz_quant: op, type, value mode, then sizes/values */
    {
        static const struct { const char *name; unsigned char b[12]; size_t n; } q[] = {
            { "row-size", { 0 }, 1 },
            { "f32-2x64", { 2, 0, 0, 1, 1 }, 5 },
            { "f16-edges", { 3, 1, 0x40, 5, 2 }, 5 },
            { "bf16-wild", { 4, 2, 1, 200, 3 }, 5 },
            { "q8_0-scale-edge", { 5, 3, 0x40, 3, 4 }, 5 },
            { "q4_0-scale-edge", { 2, 4, 0xc0, 2, 1 }, 5 },
            { "q8_0-wild", { 3, 3, 1, 7, 0 }, 5 },
            { "q4_0-bad-cols", { 2, 4, 0, 170, 0 }, 5 },
            { "huge-sizes", { 1, 3, 0, 5, 6 }, 5 },
            { "huge-f32", { 1, 0, 0, 7, 13 }, 5 },
            { "dequantize-raw", { 7, 4, 2, 1, 3 }, 5 },
            { "roundtrip-raw-q8_0", { 6, 3, 0x12, 1, 3 }, 5 },
            { "null-dst", { 2, 1, 0xff, 1, 1 }, 5 },
            { "bad-type", { 2, 245, 0, 1, 1 }, 5 },
        };
        for (i = 0; i < sizeof q / sizeof q[0]; i++) put(dir, "fuzz_quant", q[i].name, q[i].b, q[i].n);
    }
    printf("%d seeds written under %s\n", wrote, dir);
    return 0;
}
