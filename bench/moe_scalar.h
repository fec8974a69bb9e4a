/* bench/moe_scalar.h - the library's portable scalar path, compiled in its own translation unit
   (bench/moe_scalar.c, built without -march=native) so the bench can time it next to the
   native SIMD path in the same binary. The moe_layer / moe_config types are the ones of moe.h. */
#ifndef BENCH_MOE_SCALAR_H
#define BENCH_MOE_SCALAR_H
#include "../moe.h"

moe_status  bench_scalar_layer_init(moe_layer *layer, const moe_config *cfg, const moe_weights *w);
size_t      bench_scalar_workspace_size(const moe_layer *layer, int n_tokens);
moe_status  bench_scalar_forward_ex(const moe_layer *layer, const float *x, int n_tokens, float *y,
                                    void *work, size_t work_size, const moe_run_opts *opts);
const char *bench_scalar_simd_name(void);

#endif
