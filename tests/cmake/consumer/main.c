/* main.c - the consumer tests/cmake/run.sh builds against moe.h each way (CMake add_subdirectory,
   FetchContent, find_package, pkg-config). One small layer, one moe_forward; prints one line and
   exits 0 only if everything worked. EXPECT_VERSION (optional): the version expected, checked
   against the moe.h the compiler included. */
#define MOE_IMPLEMENTATION
#include <moe.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)
#define HEADER_VERSION STR(MOE_VERSION_MAJOR) "." STR(MOE_VERSION_MINOR) "." STR(MOE_VERSION_PATCH)

enum { D_MODEL = 16, D_FF = 24, N_EXPERTS = 4, N_TOKENS = 3 };

int main(void) {
    static float router[N_EXPERTS * D_MODEL], gate[N_EXPERTS * D_FF * D_MODEL],
        up[N_EXPERTS * D_FF * D_MODEL], down[N_EXPERTS * D_MODEL * D_FF], x[N_TOKENS * D_MODEL],
        y[N_TOKENS * D_MODEL];
    unsigned s = 12345u;
    moe_config cfg = moe_config_default();
    moe_weights w = moe_weights_default();
    moe_layer layer;
    moe_status st;
    void *work;
    size_t n, i;
    double sum = 0.0;
#ifdef _OPENMP
    const char *omp = ", OpenMP";
#else
    const char *omp = "";
#endif

#ifdef EXPECT_VERSION
    if (strcmp(EXPECT_VERSION, HEADER_VERSION) != 0) {
        fprintf(stderr, "consumer: expected moe %s, moe.h says %s\n", EXPECT_VERSION,
                HEADER_VERSION);
        return 1;
    }
#endif
#if defined(EXPECT_OPENMP) && !defined(_OPENMP)
    fprintf(stderr, "consumer: EXPECT_OPENMP but not compiled with OpenMP\n");
    return 1;
#endif
#define FILL(a, scale) \
    for (i = 0; i < sizeof a / sizeof a[0]; i++) { \
        s = s * 1664525u + 1013904223u; \
        a[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * (scale); \
    }
    FILL(router, 0.5f) FILL(gate, 0.5f) FILL(up, 0.5f) FILL(down, 0.4f) FILL(x, 2.0f)

    cfg.d_model = D_MODEL; cfg.d_ff = D_FF; cfg.n_experts = N_EXPERTS;
#ifdef _OPENMP
    cfg.n_threads = 2;   /* the OpenMP path, whatever the machine */
#endif
    w.router.data = router; w.gate.data = gate; w.up.data = up; w.down.data = down;
    st = moe_layer_init(&layer, &cfg, &w);
    if (st != MOE_OK) { fprintf(stderr, "consumer: moe_layer_init: %s\n", moe_layer_error(&layer)); return 1; }
    n = moe_workspace_size(&layer, N_TOKENS);
    work = n ? malloc(n) : NULL;
    if (!work) { fprintf(stderr, "consumer: no workspace\n"); return 1; }
    st = moe_forward(&layer, x, N_TOKENS, y, work, n);
    free(work);
    if (st != MOE_OK) { fprintf(stderr, "consumer: moe_forward: %s\n", moe_status_string(st)); return 1; }
    for (i = 0; i < N_TOKENS * D_MODEL; i++) {
        if (!isfinite(y[i])) { fprintf(stderr, "consumer: y[%u] not finite\n", (unsigned)i); return 1; }
        sum += fabs((double)y[i]);
    }
    if (sum == 0.0) { fprintf(stderr, "consumer: output all zero\n"); return 1; }
    printf("consumer: moe %s (%s%s), %d tokens through %d experts top-%d, sum|y| = %.4f\n",
           HEADER_VERSION, moe_simd_name(), omp, N_TOKENS, N_EXPERTS, cfg.top_k, sum);
    return 0;
}
