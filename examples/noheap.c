/* noheap.c - moe.h the firmware way: no malloc anywhere, everything in static storage.

   - Weights are generated at start-up into static arrays and quantised with moe_quantize into
     static block buffers (Q4_0 by default, -DNOHEAP_Q8_0 for Q8_0). On a device they would be
     const tables in flash, or a pointer into memory-mapped storage: moe.h reads them in place.
   - The workspace is one static arena whose size is a compile-time constant, checked at run
     time against moe_workspace_size() (the CMSIS-NN get_buffer_size pattern).
   - The library does no I/O; this file prints only on the host build (not with -DNO_PRINTF).

   Host:        cc -std=c99 -O2 -I. examples/noheap.c -o noheap -lm && ./noheap
   Cortex-M4:   arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
                -O2 -std=c99 -DNO_PRINTF --specs=nosys.specs -ffunction-sections -fdata-sections
                -Wl,--gc-sections -I. examples/noheap.c -o noheap.elf -lm     (`make firmware`)
   On emulated boards: `make firmware-run` builds this layer through tests/firmware/fw.c (which
   includes this file with -DNOHEAP_NO_MAIN and prints the result through semihosting) for
   Cortex-M0+/M4/M7/M33/M55, runs each under qemu-system-arm and compares with the host.
*/
#if defined(NO_PRINTF) && !defined(MOE_ASSERT)
/* assert() would pull newlib's stdio in to print its message; stop here instead. */
void noheap_trap(void);
void noheap_trap(void) { for (;;) { } }
#define MOE_ASSERT(x) ((x) ? (void)0 : noheap_trap())
#endif
#define MOE_IMPLEMENTATION
#include "moe.h"

#ifndef NO_PRINTF
#include <stdio.h>
#endif

/* ---- sizes: all compile-time -------------------------------------------------------------- */
#define D_MODEL   64
#define D_FF      64
#define N_EXPERTS 8
#define TOP_K     2
#define N_TOKENS  4
/* The workspace arena for N_TOKENS tokens, checked at run time against moe_workspace_size().
   Its size depends on the kernel path (a host's AVX/NEON tiles are wider than the scalar ones
   every Cortex-M uses) and a little on sizeof(size_t), so the firmware builds measure it:
   tests/firmware/firmware.mk runs this layer's moe_workspace_size() on the host with
   -DMOE_SIMD_SCALAR (an upper bound of the 32-bit figure) and passes -DARENA_BYTES=n. Without
   it: that figure rounded up to whole KiB on a 32-bit scalar build (every Cortex-M), and a
   bound for any host's SIMD tiles elsewhere (the host build prints what it needs). */
#ifndef ARENA_BYTES
#if defined(MOE_SIMD_SCALAR) && UINTPTR_MAX <= 0xffffffffu
#define ARENA_BYTES (46u * 1024u)
#else
#define ARENA_BYTES (64u * 1024u)
#endif
#endif

#ifdef NOHEAP_Q8_0
#define EXPERT_TYPE  MOE_TYPE_Q8_0
#define BLOCK_BYTES  34     /* { half d; int8 q[32]; }   */
#else
#define EXPERT_TYPE  MOE_TYPE_Q4_0
#define BLOCK_BYTES  18     /* { half d; uint8 q[16]; }  */
#endif
#define ROW_BYTES(n) (((n) / 32) * BLOCK_BYTES)

/* Quantised rows are whole 32-value blocks. */
typedef char noheap_check_dims[(D_MODEL % 32 == 0 && D_FF % 32 == 0) ? 1 : -1];

/* ---- static storage ------------------------------------------------------------------------ */
static float router[N_EXPERTS][D_MODEL];                                 /* f32 router       */
static unsigned char gate_q[N_EXPERTS * D_FF * ROW_BYTES(D_MODEL)];      /* [E][d_ff][d_model] */
static unsigned char up_q[N_EXPERTS * D_FF * ROW_BYTES(D_MODEL)];        /* [E][d_ff][d_model] */
static unsigned char down_q[N_EXPERTS * D_MODEL * ROW_BYTES(D_FF)];      /* [E][d_model][d_ff] */
static float x[N_TOKENS][D_MODEL], y[N_TOKENS][D_MODEL];
static int ids[N_TOKENS][TOP_K];
static float weights[N_TOKENS][TOP_K];
static union { unsigned char bytes[ARENA_BYTES]; double align_d; void *align_p; } arena;
static moe_layer layer;
volatile float noheap_result;   /* keeps the work observable on a target with no output */

/* ---- deterministic pseudo-random weights (xorshift32) ------------------------------------- */
static unsigned rng_state = 0x9E3779B9u;
static float rand_uniform(float scale) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return ((float)(rng_state >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
}

/* n_rows rows of n_cols random floats, quantised one row at a time through a small buffer. */
static moe_status make_quantised(unsigned char *dst, int n_rows, int n_cols, float scale) {
    static float row[D_MODEL > D_FF ? D_MODEL : D_FF];
    int r, c;
    for (r = 0; r < n_rows; r++) {
        moe_status s;
        for (c = 0; c < n_cols; c++) row[c] = rand_uniform(scale);
        s = moe_quantize(EXPERT_TYPE, row, dst + (size_t)r * ROW_BYTES(n_cols), 1, (size_t)n_cols);
        if (s != MOE_OK) return s;
    }
    return MOE_OK;
}

static moe_status run(void) {
    moe_config cfg = moe_config_default();      /* softmax, top-2, renormalised, SwiGLU */
    moe_weights w;
    moe_status s;
    size_t need;
    int e, i, t;

    for (e = 0; e < N_EXPERTS; e++)
        for (i = 0; i < D_MODEL; i++) router[e][i] = rand_uniform(0.125f);   /* 1/sqrt(64) */
    if ((s = make_quantised(gate_q, N_EXPERTS * D_FF, D_MODEL, 0.125f)) != MOE_OK) return s;
    if ((s = make_quantised(up_q, N_EXPERTS * D_FF, D_MODEL, 0.125f)) != MOE_OK) return s;
    if ((s = make_quantised(down_q, N_EXPERTS * D_MODEL, D_FF, 0.125f)) != MOE_OK) return s;
    for (t = 0; t < N_TOKENS; t++)
        for (i = 0; i < D_MODEL; i++) x[t][i] = rand_uniform(1.0f);

    cfg.d_model = D_MODEL; cfg.d_ff = D_FF; cfg.n_experts = N_EXPERTS; cfg.top_k = TOP_K;
    cfg.n_threads = 1;                          /* one core, one workspace slot */
    {   /* zero every optional field: absent biases, shared experts, fused tensors */
        unsigned char *p = (unsigned char *)&w;
        size_t k;
        for (k = 0; k < sizeof w; k++) p[k] = 0;
    }
    w.router.type = MOE_TYPE_F32; w.router.data = router;
    w.gate.type = EXPERT_TYPE;    w.gate.data = gate_q;
    w.up.type = EXPERT_TYPE;      w.up.data = up_q;
    w.down.type = EXPERT_TYPE;    w.down.data = down_q;
    if ((s = moe_layer_init(&layer, &cfg, &w)) != MOE_OK) return s;

    need = moe_workspace_size(&layer, N_TOKENS);
#ifndef NO_PRINTF
    printf("workspace: %lu bytes needed, arena %lu bytes\n", (unsigned long)need,
           (unsigned long)sizeof arena.bytes);
#endif
    if (need == 0 || need > sizeof arena.bytes) return MOE_ERR_WORKSPACE;

    if ((s = moe_forward(&layer, &x[0][0], N_TOKENS, &y[0][0], arena.bytes, sizeof arena.bytes)) != MOE_OK)
        return s;
    if ((s = moe_route(&layer, &x[0][0], N_TOKENS, &ids[0][0], &weights[0][0], arena.bytes,
                       sizeof arena.bytes)) != MOE_OK)
        return s;

    {   /* sanity: renormalised weights sum to 1, outputs finite */
        float acc = 0.0f;
        for (t = 0; t < N_TOKENS; t++) {
            float sum = 0.0f;
            for (i = 0; i < TOP_K; i++) sum += weights[t][i];
            if (!(sum > 0.999f && sum < 1.001f)) return MOE_ERR_ARG;
            for (i = 0; i < D_MODEL; i++) {
                if (!(y[t][i] - y[t][i] == 0.0f)) return MOE_ERR_ARG;   /* NaN or Inf */
                acc += y[t][i];
            }
        }
        noheap_result = acc;
    }
    return MOE_OK;
}

/* -DNOHEAP_NO_MAIN: tests/firmware/fw.c includes this file and prints the result itself. */
#ifndef NOHEAP_NO_MAIN
int main(void) {
    moe_status s = run();
#ifndef NO_PRINTF
    if (s == MOE_OK) {
        int t;
        printf("moe.h without a heap: %s experts, %d experts, top-%d, simd %s\n",
               moe_type_name(EXPERT_TYPE), N_EXPERTS, TOP_K, moe_simd_name());
        printf("static weights: router %lu + experts %lu bytes\n", (unsigned long)sizeof router,
               (unsigned long)(sizeof gate_q + sizeof up_q + sizeof down_q));
        for (t = 0; t < N_TOKENS; t++)
            printf("token %d: experts %d (w %.3f), %d (w %.3f)   y[0] = %+.4f\n", t, ids[t][0],
                   (double)weights[t][0], ids[t][1], (double)weights[t][1], (double)y[t][0]);
    } else {
        printf("noheap: failed: %s\n", moe_status_string(s));
    }
#endif
    return s == MOE_OK ? 0 : 1;
}
#endif
