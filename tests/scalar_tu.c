/* scalar_tu.c - the portable C kernel path, compiled into the same program as the path under
   test (MOE_STATIC keeps its symbols private), so test_moe.c built with -DMOE_TEST_VS_SCALAR can
   compare every layer it runs with the scalar path's answer for the same input. */
#define MOE_STATIC
#undef MOE_DISPATCH       /* a -DMOE_DISPATCH build of the test: this file stays the one scalar path */
#undef MOE_SIMD_AVX2      /* the build's -D for the path under test applies to this file too */
#undef MOE_SIMD_AVX512
#undef MOE_SIMD_NEON
#undef MOE_AMX            /* (an AMX build of the test: AMX needs the AVX-512 path) */
#define MOE_SIMD_SCALAR
#define MOE_IMPLEMENTATION
#include "../moe.h"
#include <stdlib.h>

const char *moe_test_scalar_simd_name(void);
moe_status moe_test_scalar_forward(const moe_config *cfg, const moe_weights *w, const float *x, int T, float *y,
                                   int capacity);

const char *moe_test_scalar_simd_name(void) { return moe_simd_name(); }

/* y = the scalar path's layer output for x; capacity as in moe_run_opts. */
moe_status moe_test_scalar_forward(const moe_config *cfg, const moe_weights *w, const float *x, int T, float *y,
                                   int capacity)
{
    moe_layer L;
    moe_run_opts o;
    moe_status s = moe_layer_init(&L, cfg, w);
    size_t n;
    void *work;
    if (s != MOE_OK) return s;
    n = moe_workspace_size(&L, T);
    work = malloc(n ? n : 1);
    if (!work) return MOE_ERR_WORKSPACE;
    memset(&o, 0, sizeof o);
    o.capacity = capacity;
    s = moe_forward_ex(&L, x, T, y, work, n, &o);
    free(work);
    return s;
}
