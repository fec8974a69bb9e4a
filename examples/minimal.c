/* minimal.c - the example from moe.h's header comment, made runnable.

   One Mixtral-style MoE layer (softmax router, top-2, renormalised weights, SwiGLU experts)
   with small random f32 weights; runs a few tokens and prints the experts each token chose.

       cc -std=c99 -O2 -I. examples/minimal.c -o minimal -lm && ./minimal
*/
#define MOE_IMPLEMENTATION
#include "moe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* xorshift32: a tiny PRNG so the example needs nothing but moe.h. Uniform in [-scale, scale). */
static unsigned rng_state = 2463534242u;
static float rand_uniform(float scale) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return ((float)(rng_state >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
}
static float *random_array(size_t n, float scale) {
    float *p = (float *)malloc(n * sizeof *p);
    size_t i;
    if (p) for (i = 0; i < n; i++) p[i] = rand_uniform(scale);
    return p;
}

int main(void) {
    enum { D_MODEL = 64, D_FF = 96, N_EXPERTS = 8, N_TOKENS = 4 };
    const float s_in = 1.0f / sqrtf((float)D_MODEL), s_ff = 1.0f / sqrtf((float)D_FF);
    /* Row-major [out][in] like nn.Linear.weight, experts stacked on the first axis. */
    float *router = random_array((size_t)N_EXPERTS * D_MODEL, s_in);        /* [E][d_model]       */
    float *gate = random_array((size_t)N_EXPERTS * D_FF * D_MODEL, s_in);   /* [E][d_ff][d_model] */
    float *up = random_array((size_t)N_EXPERTS * D_FF * D_MODEL, s_in);     /* [E][d_ff][d_model] */
    float *down = random_array((size_t)N_EXPERTS * D_MODEL * D_FF, s_ff);   /* [E][d_model][d_ff] */
    float *x = random_array((size_t)N_TOKENS * D_MODEL, 1.0f);              /* [T][d_model]       */
    float y[N_TOKENS * D_MODEL];
    int t, j, rc = 1;
    void *work = NULL;

    /* --- the header's example ------------------------------------------------------------ */
    moe_config cfg = moe_config_default();          /* Mixtral semantics: softmax, top-2, renorm */
    cfg.d_model = D_MODEL; cfg.d_ff = D_FF; cfg.n_experts = N_EXPERTS;
    moe_weights w = moe_weights_default();           /* all absent; row-major [out][in], f32 */
    w.router.data = router; w.gate.data = gate; w.up.data = up; w.down.data = down;
    moe_layer layer;
    moe_status s;
    size_t n;
    if (!router || !gate || !up || !down || !x) { fprintf(stderr, "out of memory\n"); goto done; }
    s = moe_layer_init(&layer, &cfg, &w);
    if (s != MOE_OK) { fprintf(stderr, "moe_layer_init: %s\n", moe_layer_error(&layer)); goto done; }
    n = moe_workspace_size(&layer, N_TOKENS);        /* 0 means: bad layer or n_tokens */
    work = malloc(n);                                /* or a static arena: moe.h never allocates */
    if (n == 0 || !work) { fprintf(stderr, "no workspace\n"); goto done; }
    s = moe_forward(&layer, x, N_TOKENS, y, work, n);
    if (s != MOE_OK) { fprintf(stderr, "moe: %s\n", moe_status_string(s)); goto done; }
    /* -------------------------------------------------------------------------------------- */

    {   /* which experts did each token go to? moe_route runs the router only */
        int ids[N_TOKENS * 2];
        float wts[N_TOKENS * 2];
        if (cfg.top_k != 2) { fprintf(stderr, "unexpected default top_k %d\n", cfg.top_k); goto done; }
        s = moe_route(&layer, x, N_TOKENS, ids, wts, work, n);
        if (s != MOE_OK) { fprintf(stderr, "moe_route: %s\n", moe_status_string(s)); goto done; }
        printf("moe.h minimal: d_model %d, d_ff %d, %d experts, top-%d, simd %s, workspace %zu bytes\n",
               D_MODEL, D_FF, N_EXPERTS, cfg.top_k, moe_simd_name(), n);
        for (t = 0; t < N_TOKENS; t++) {
            printf("token %d: experts", t);
            for (j = 0; j < cfg.top_k; j++) printf(" %d (w %.3f)", ids[t * 2 + j], (double)wts[t * 2 + j]);
            printf("   y[0..3] = %+.4f %+.4f %+.4f %+.4f\n", (double)y[t * D_MODEL + 0],
                   (double)y[t * D_MODEL + 1], (double)y[t * D_MODEL + 2], (double)y[t * D_MODEL + 3]);
        }
    }
    rc = 0;
done:
    free(work); free(x); free(down); free(up); free(gate); free(router);
    return rc;
}
