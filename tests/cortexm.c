/* cortexm.c - compile-only check that the whole implementation of moe.h builds for a bare-metal
   Cortex-M4 (no OS, single-precision FPU) with -std=c99 -Wall -Wextra -Wpedantic -Werror.
   tests/run.sh compiles it with arm-none-eabi-gcc -c; nothing here runs. */
#include <string.h>
#define MOE_IMPLEMENTATION
#include "../moe.h"

int moe_cortexm_forward(const void *router, const void *gate, const void *up, const void *down,
                        const float *x, float *y, void *work, size_t work_size);
int moe_cortexm_forward(const void *router, const void *gate, const void *up, const void *down,
                        const float *x, float *y, void *work, size_t work_size)
{
    moe_config cfg = moe_config_default();
    moe_weights w;
    moe_layer layer;
    cfg.d_model = 32; cfg.d_ff = 64; cfg.n_experts = 4; cfg.top_k = 2;
    memset(&w, 0, sizeof w);
    w.router.type = MOE_TYPE_F32; w.router.data = router;
    w.gate.type = MOE_TYPE_Q8_0;  w.gate.data = gate;
    w.up.type = MOE_TYPE_Q4_0;    w.up.data = up;
    w.down.type = MOE_TYPE_F16;   w.down.data = down;
    if (moe_layer_init(&layer, &cfg, &w) != MOE_OK) return -1;
    if (moe_workspace_size(&layer, 1) > work_size) return -2;
    return (int)moe_forward(&layer, x, 1, y, work, work_size);
}
