/* bench/moe_scalar.c - moe.h built on its scalar kernels, all functions private to this file
   (MOE_STATIC), exposed to bench.c through the non-static wrappers below. The Makefile builds
   this file without -march=native, so the compiler cannot turn it into a SIMD path either. */
#define MOE_STATIC
#define MOE_SIMD_SCALAR
#undef MOE_AMX             /* (bench.mk adds it on AMX hosts: AMX needs the AVX-512 path) */
#define MOE_IMPLEMENTATION
#include "../moe.h"
#include "moe_scalar.h"

moe_status bench_scalar_layer_init(moe_layer *layer, const moe_config *cfg, const moe_weights *w)
{
    return moe_layer_init(layer, cfg, w);
}

size_t bench_scalar_workspace_size(const moe_layer *layer, int n_tokens)
{
    return moe_workspace_size(layer, n_tokens);
}

moe_status bench_scalar_forward_ex(const moe_layer *layer, const float *x, int n_tokens, float *y,
                                   void *work, size_t work_size, const moe_run_opts *opts)
{
    return moe_forward_ex(layer, x, n_tokens, y, work, work_size, opts);
}

const char *bench_scalar_simd_name(void)
{
    return moe_simd_name();
}
