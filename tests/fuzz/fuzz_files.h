/* fuzz_files.h - shared by fuzz_gguf.c and fuzz_safetensors.c: checks on a loaded layer.
   Every pointer the loader put in moe_weights lies inside the file buffers or the caller's mem,
   and a small layer runs a forward pass (ASan then checks every byte the kernels read). */
#ifndef FUZZ_FILES_H
#define FUZZ_FILES_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_ASSERT(c, what) do { if (!(c)) { fprintf(stderr, "FUZZ INVARIANT FAILED: %s (%s:%d)\n", what, __FILE__, __LINE__); abort(); } } while (0)

typedef struct fz_region { const unsigned char *p; size_t n; } fz_region;
static int fz_inside(const void *ptr, const fz_region *r, int nr)
{
    const unsigned char *q = (const unsigned char *)ptr;
    int i;
    for (i = 0; i < nr; i++) if (q >= r[i].p && q < r[i].p + r[i].n) return 1;
    return 0;
}
static void fz_check_tensor(const moe_tensor *t, int n, const fz_region *r, int nr)
{
    int e;
    if (t->data) FZ_ASSERT(fz_inside(t->data, r, nr), "tensor data outside the buffers");
    if (t->scale) FZ_ASSERT(fz_inside(t->scale, r, nr), "tensor scale outside the buffers");
    if (t->expert_data) {
        FZ_ASSERT(fz_inside(t->expert_data, r, nr), "pointer table outside the buffers");
        for (e = 0; e < n; e++) FZ_ASSERT(fz_inside(t->expert_data[e], r, nr), "expert pointer outside the buffers");
    }
    if (t->expert_scale)
        for (e = 0; e < n; e++) FZ_ASSERT(fz_inside(t->expert_scale[e], r, nr), "expert scale outside the buffers");
}
static void fz_check_vec(const float *v, const fz_region *r, int nr)
{
    if (v) FZ_ASSERT(fz_inside(v, r, nr), "vector outside the buffers");
}
/* checks, and a forward pass of 2 tokens when the layer is small */
static void fz_check_layer(const moe_config *c, const moe_weights *w, const fz_region *r, int nr)
{
    moe_layer L;
    moe_config cc = *c;
    size_t n, cost;
    void *work;
    float x[2 * 4096], y[2 * 4096];
    int i;
    fz_check_tensor(&w->router, 1, r, nr);
    fz_check_tensor(&w->gate, c->n_experts, r, nr);
    fz_check_tensor(&w->up, c->n_experts, r, nr);
    fz_check_tensor(&w->down, c->n_experts, r, nr);
    fz_check_tensor(&w->gate_up, c->n_experts, r, nr);
    fz_check_tensor(&w->shared_gate, c->n_shared, r, nr);
    fz_check_tensor(&w->shared_up, c->n_shared, r, nr);
    fz_check_tensor(&w->shared_down, c->n_shared, r, nr);
    fz_check_vec(w->router_bias, r, nr); fz_check_vec(w->selection_bias, r, nr);
    fz_check_vec(w->gate_bias, r, nr); fz_check_vec(w->up_bias, r, nr); fz_check_vec(w->gate_up_bias, r, nr);
    fz_check_vec(w->down_bias, r, nr); fz_check_vec(w->shared_gate_w, r, nr);
    cc.n_threads = 1;
    if (c->d_model < 1 || c->d_model > 4096) return;
    cost = (size_t)c->d_model * (size_t)c->d_ff * (size_t)c->top_k + (size_t)c->d_model * (size_t)c->n_experts +
           (size_t)c->d_model * (size_t)c->d_ff_shared * (size_t)c->n_shared;
    if (cost > ((size_t)1 << 18)) return;
    if (moe_layer_init(&L, &cc, w) != MOE_OK) return;
    n = moe_workspace_size(&L, 2);
    if (!n || n > ((size_t)1 << 26) || !(work = malloc(n))) return;
    for (i = 0; i < 2 * c->d_model; i++) x[i] = (float)((i * 7919) % 13) * 0.125f - 0.75f;
    FZ_ASSERT(moe_forward(&L, x, 2, y, work, n) == MOE_OK, "forward of a layer that moe_layer_init accepted");
    free(work);
}
#endif
