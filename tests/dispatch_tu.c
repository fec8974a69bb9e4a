/* dispatch_tu.c - one static (single-path) build of moe.h, the reference a path of the
   dispatched build (MOE_DISPATCH) must equal bit for bit. tests/test_dispatch.c links one
   object of this file per kernel path, each compiled with that path's own flags and
   -DMOE_TU_NAME=<path> (scalar, avx2, avx2_vnni, avx512, avx512_vnni, neon, neon_dotprod):
       scalar       -DMOE_TU_NAME=scalar
       avx2         -DMOE_TU_NAME=avx2 -mavx2 -mfma -mf16c
       avx2_vnni    -DMOE_TU_NAME=avx2_vnni -mavx2 -mfma -mf16c -mavxvnni
       avx512       -DMOE_TU_NAME=avx512 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c
       avx512_vnni  -DMOE_TU_NAME=avx512_vnni (the avx512 flags) -mavx512vnni
       neon         -DMOE_TU_NAME=neon                       (AArch64, the default -march)
       neon_dotprod -DMOE_TU_NAME=neon_dotprod -march=armv8.2-a+dotprod
   The MOE_SIMD_* macro comes from the name (a -DMOE_SIMD_* or -DMOE_DISPATCH of the build is
   dropped), MOE_STATIC keeps the implementation private to this object. It exports, with the
   name pasted in (moe_dtu_avx2, ...):
       moe_dtu_NAME        init a layer from (cfg with path AUTO, weights), run moe_forward_ex
                           with ids_out / weights_out, return what came out
       moe_dtu_NAME_isa    the instruction-set macros the compiler had on (MOE_DTU_ISA_* bits),
                           so the test can check that this reference was built as its path says
       moe_dtu_NAME_force  the static build's answer for a forced cfg.path */
#ifndef MOE_TU_NAME
#error "dispatch_tu.c: build with -DMOE_TU_NAME=scalar|avx2|avx2_vnni|avx512|avx512_vnni|neon|neon_dotprod"
#endif
#undef MOE_DISPATCH
#undef MOE_SIMD_SCALAR
#undef MOE_SIMD_AVX2
#undef MOE_SIMD_AVX512
#undef MOE_SIMD_NEON

#define MOE_DTU_ID_scalar 1
#define MOE_DTU_ID_avx2 2
#define MOE_DTU_ID_avx2_vnni 3
#define MOE_DTU_ID_avx512 4
#define MOE_DTU_ID_avx512_vnni 5
#define MOE_DTU_ID_neon 6
#define MOE_DTU_ID_neon_dotprod 7
#define MOE_DTU_CAT_(a, b) a##b
#define MOE_DTU_CAT(a, b) MOE_DTU_CAT_(a, b)
#define MOE_DTU_ID MOE_DTU_CAT(MOE_DTU_ID_, MOE_TU_NAME)

#if MOE_DTU_ID == 1
#define MOE_SIMD_SCALAR
#elif MOE_DTU_ID == 2 || MOE_DTU_ID == 3
#define MOE_SIMD_AVX2
#elif MOE_DTU_ID == 4 || MOE_DTU_ID == 5
#define MOE_SIMD_AVX512
#elif MOE_DTU_ID == 6 || MOE_DTU_ID == 7
#define MOE_SIMD_NEON
#else
#error "dispatch_tu.c: MOE_TU_NAME is not one of scalar avx2 avx2_vnni avx512 avx512_vnni neon neon_dotprod"
#endif

#define MOE_STATIC
#define MOE_IMPLEMENTATION
#include "../moe.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* instruction-set macros of this compilation (see test_dispatch.c, which keeps the same list) */
#define MOE_DTU_ISA_AVX2 0x1u
#define MOE_DTU_ISA_FMA 0x2u
#define MOE_DTU_ISA_F16C 0x4u
#define MOE_DTU_ISA_AVXVNNI 0x8u
#define MOE_DTU_ISA_AVX512F 0x10u
#define MOE_DTU_ISA_AVX512BW 0x20u
#define MOE_DTU_ISA_AVX512VL 0x40u
#define MOE_DTU_ISA_AVX512DQ 0x80u
#define MOE_DTU_ISA_AVX512VNNI 0x100u
#define MOE_DTU_ISA_NEON 0x200u
#define MOE_DTU_ISA_DOTPROD 0x400u
#define MOE_DTU_ISA_OTHER 0x800u    /* something none of the paths' flags turn on (-march=native?) */

#define MOE_DTU_FN(suffix) MOE_DTU_CAT(MOE_DTU_CAT(moe_dtu_, MOE_TU_NAME), suffix)

#ifdef __cplusplus
extern "C" {
#endif
moe_status MOE_DTU_FN()(const moe_config *cfg, const moe_weights *w, const float *x, int T, float *y, int *ids,
                        float *wts, size_t *ws, int *path, const char **simd, char *err, size_t err_cap);
unsigned MOE_DTU_FN(_isa)(void);
moe_status MOE_DTU_FN(_force)(const moe_config *cfg, const moe_weights *w, int p, int *supported, int *path);
#ifdef __cplusplus
}
#endif

/* Init from cfg (its path replaced by AUTO: a static build runs its one path) and w, run T
   tokens. *ws: the workspace size, *path: moe_layer_path, *simd: moe_simd_name(), err: the
   layer's error after a failed init. Returns the init's status if it failed, else forward's. */
moe_status MOE_DTU_FN()(const moe_config *cfg, const moe_weights *w, const float *x, int T, float *y, int *ids,
                        float *wts, size_t *ws, int *path, const char **simd, char *err, size_t err_cap)
{
    moe_config c = *cfg;
    moe_layer L;
    moe_run_opts o;
    moe_status s;
    void *work;
    c.path = MOE_PATH_AUTO;
    *simd = moe_simd_name();
    *ws = 0;
    *path = -1;
    if (err_cap) err[0] = 0;
    s = moe_layer_init(&L, &c, w);
    if (s != MOE_OK) {
        if (err_cap) snprintf(err, err_cap, "%s", moe_layer_error(&L));
        return s;
    }
    *path = (int)moe_layer_path(&L);
    *ws = moe_workspace_size(&L, T);
    work = malloc(*ws ? *ws : 1);
    if (!work) return MOE_ERR_WORKSPACE;
    memset(&o, 0, sizeof o);
    o.ids_out = ids;
    o.weights_out = wts;
    s = moe_forward_ex(&L, x, T, y, work, *ws, &o);
    free(work);
    return s;
}

unsigned MOE_DTU_FN(_isa)(void)
{
    unsigned m = 0;
#ifdef __AVX2__
    m |= MOE_DTU_ISA_AVX2;
#endif
#ifdef __FMA__
    m |= MOE_DTU_ISA_FMA;
#endif
#ifdef __F16C__
    m |= MOE_DTU_ISA_F16C;
#endif
#ifdef __AVXVNNI__
    m |= MOE_DTU_ISA_AVXVNNI;
#endif
#ifdef __AVX512F__
    m |= MOE_DTU_ISA_AVX512F;
#endif
#ifdef __AVX512BW__
    m |= MOE_DTU_ISA_AVX512BW;
#endif
#ifdef __AVX512VL__
    m |= MOE_DTU_ISA_AVX512VL;
#endif
#ifdef __AVX512DQ__
    m |= MOE_DTU_ISA_AVX512DQ;
#endif
#ifdef __AVX512VNNI__
    m |= MOE_DTU_ISA_AVX512VNNI;
#endif
#if defined(__ARM_NEON) || defined(__ARM_NEON__)
    m |= MOE_DTU_ISA_NEON;
#endif
#ifdef __ARM_FEATURE_DOTPROD
    m |= MOE_DTU_ISA_DOTPROD;
#endif
#if defined(__AVX512CD__) || defined(__AVX512BF16__) || defined(__AVX512VBMI__) || defined(__AVX512FP16__) || \
    defined(__AVX512IFMA__) || defined(__BMI2__) || defined(__ARM_FEATURE_SVE) || defined(__ARM_FEATURE_MATMUL_INT8)
    m |= MOE_DTU_ISA_OTHER;
#endif
    return m;
}

/* The static build's answer to cfg.path = p: *supported = moe_path_supported(p), the init's
   status returned, *path = moe_layer_path after a successful init (-1 otherwise). */
moe_status MOE_DTU_FN(_force)(const moe_config *cfg, const moe_weights *w, int p, int *supported, int *path)
{
    moe_config c = *cfg;
    moe_layer L;
    moe_status s;
    c.path = (moe_path)p;
    *supported = moe_path_supported((moe_path)p);
    s = moe_layer_init(&L, &c, w);
    *path = s == MOE_OK ? (int)moe_layer_path(&L) : -1;
    return s;
}
