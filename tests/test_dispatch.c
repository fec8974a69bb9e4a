/* test_dispatch.c - runtime CPU dispatch (MOE_DISPATCH): every kernel path of one dispatched
   build against the static single-path build of that path, bit for bit.

   Build: this file with -DMOE_DISPATCH and no -m / -march flags, linked with one object of
   tests/dispatch_tu.c per static path (see that file for each path's flags), e.g. on x86-64:
       for p in scalar avx2 avx2_vnni avx512 avx512_vnni; do cc -c ... tests/dispatch_tu.c; done
       cc -std=c99 -O2 -DMOE_DISPATCH tests/test_dispatch.c dtu_*.o -o test_dispatch -lm
   (tests/run.sh: the dispatch-* configurations). Which static objects it expects: x86-64 the
   five x86 paths, AArch64 scalar, neon and neon-dotprod; -DMOE_DTU_NONE for none.

   Checks:
   - moe_path_name of every path; moe_config_default() sets MOE_PATH_AUTO;
   - for every path: moe_path_supported agrees with what the CPU has (/proc/cpuinfo flags on
     x86-64 Linux, AT_HWCAP on AArch64 Linux, CPUID through GCC's __builtin_cpu_supports with
     --cpuid or off Linux): a
     wrong detection fails; a path that is not supported prints a SKIP line with why (not
     built / the CPU lacks it), and forcing it is MOE_ERR_UNSUPPORTED naming "config.path";
   - each static object was compiled with exactly its path's instruction-set macros, reports
     the right moe_simd_name(), and (when the CPU runs it) accepts AUTO and its own path only;
   - AUTO picks the best supported path (avx512-vnni > avx512 > avx2-vnni > avx2 > scalar;
     neon-dotprod > neon) and gives that path's bits;
   - for every supported path, 13 weight types (f32 f16 bf16 q8_0 q4_0 q4_K q5_K q6_K q2_K
     q3_K mxfp4 f8_e4m3, and f8_e4m3 with 128x128 block scales), 4 layer families (softmax
     top-2 SwiGLU; sigmoid + groups + selection bias + shared expert with its gate; SWIGLU_OAI
     with fused interleaved gate_up, biases and softmax_topk; GELU) and T = 1, 2, 5, 9, 17, 64
     (one token, the integer few-token kernels, the batched ones): the dispatched layer forced
     to the path runs it (moe_layer_path) and its y, ids, weights and workspace size equal the
     static build's (memcmp);
   - the f32 softmax top-2 SwiGLU layer on every supported path against a float64 reference
     written here (bound 1e-5 of max|y|).
   --quick (qemu): T = 1, 9, 17 only (one token; 2 to 8 tokens per expert), and the families
   other than softmax top-2 on a third of the types each (every type still runs). --cpuid: what
   the CPU has from CPUID (GCC's __builtin_cpu_supports), not /proc/cpuinfo (for qemu-x86_64). Prints "SKIP ..." lines, "FAIL ..." lines, and as
   the last line "N passed, N failed"; exit status 1 on any failure. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1
#endif
#ifndef MOE_DISPATCH
#error "test_dispatch.c: build with -DMOE_DISPATCH"
#endif
#define MOE_IMPLEMENTATION
#include "../moe.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TD_PRINTF(a, b)
#endif

/* ---- the static objects (tests/dispatch_tu.c) ------------------------------------------------ */
#define ISA_AVX2 0x1u
#define ISA_FMA 0x2u
#define ISA_F16C 0x4u
#define ISA_AVXVNNI 0x8u
#define ISA_AVX512F 0x10u
#define ISA_AVX512BW 0x20u
#define ISA_AVX512VL 0x40u
#define ISA_AVX512DQ 0x80u
#define ISA_AVX512VNNI 0x100u
#define ISA_NEON 0x200u
#define ISA_DOTPROD 0x400u
#define ISA_OTHER 0x800u
#define ISA_AVX2SET (ISA_AVX2 | ISA_FMA | ISA_F16C)
#define ISA_AVX512SET (ISA_AVX2SET | ISA_AVX512F | ISA_AVX512BW | ISA_AVX512VL | ISA_AVX512DQ)

typedef moe_status (*dtu_run_fn)(const moe_config *cfg, const moe_weights *w, const float *x, int T, float *y, int *ids,
                                 float *wts, size_t *ws, int *path, const char **simd, char *err, size_t err_cap);
typedef unsigned (*dtu_isa_fn)(void);
typedef moe_status (*dtu_force_fn)(const moe_config *cfg, const moe_weights *w, int p, int *supported, int *path);

#define DTU_DECL(n)                                                                                                   \
    moe_status moe_dtu_##n(const moe_config *cfg, const moe_weights *w, const float *x, int T, float *y, int *ids,   \
                           float *wts, size_t *ws, int *path, const char **simd, char *err, size_t err_cap);         \
    unsigned moe_dtu_##n##_isa(void);                                                                                 \
    moe_status moe_dtu_##n##_force(const moe_config *cfg, const moe_weights *w, int p, int *supported, int *path);
#define DTU(n) moe_dtu_##n, moe_dtu_##n##_isa, moe_dtu_##n##_force

#if !defined(MOE_DTU_NONE) && (defined(__x86_64__) || defined(_M_X64))
#define TD_X86 1
#elif !defined(MOE_DTU_NONE) && defined(__aarch64__)
#define TD_ARM 1
#endif

#ifdef __cplusplus
extern "C" {
#endif
#if defined(TD_X86) || defined(TD_ARM)
DTU_DECL(scalar)
#endif
#ifdef TD_X86
DTU_DECL(avx2)
DTU_DECL(avx2_vnni)
DTU_DECL(avx512)
DTU_DECL(avx512_vnni)
#endif
#ifdef TD_ARM
DTU_DECL(neon)
DTU_DECL(neon_dotprod)
#endif
#ifdef __cplusplus
}
#endif

typedef struct pinfo {
    moe_path p;
    const char *name;        /* moe_path_name's                                            */
    const char *simd;        /* the static build's moe_simd_name()                          */
    int rank;                /* AUTO takes the highest supported rank of this architecture  */
    int built;               /* in a dispatch build for this target: 1 yes, 0 no, -1 either  */
    const char *cpu_flags;   /* what the CPU must have (/proc/cpuinfo or AT_HWCAP names)     */
    unsigned isa;            /* the static object's instruction-set macros                 */
    dtu_run_fn run;          /* the static object (NULL: none linked)                      */
    dtu_isa_fn isa_fn;
    dtu_force_fn force;
} pinfo;

#ifdef TD_X86
#define X86B 1
#else
#define X86B 0
#endif
#ifdef TD_ARM
#define ARMB 1
#define ARM_SCALAR_ISA ISA_NEON     /* AArch64's baseline has NEON on: the scalar object too */
#define SCALAR_BUILT (-1)           /* a dispatch build for AArch64 may or may not carry scalar */
#else
#define ARMB 0
#define ARM_SCALAR_ISA 0u
#define SCALAR_BUILT 1
#endif

static pinfo g_paths[] = {
#if defined(TD_X86) || defined(TD_ARM)
    { MOE_PATH_SCALAR, "scalar", "scalar", 0, SCALAR_BUILT, "", ARM_SCALAR_ISA, DTU(scalar) },
#else
    { MOE_PATH_SCALAR, "scalar", "scalar", 0, 1, "", 0, NULL, NULL, NULL },
#endif
#ifdef TD_X86
    { MOE_PATH_AVX2, "avx2", "avx2", 1, 1, "avx2 fma f16c", ISA_AVX2SET, DTU(avx2) },
    { MOE_PATH_AVX2_VNNI, "avx2-vnni", "avx2", 2, 1, "avx2 fma f16c avx_vnni", ISA_AVX2SET | ISA_AVXVNNI, DTU(avx2_vnni) },
    { MOE_PATH_AVX512, "avx512", "avx512", 3, 1, "avx512f avx512bw avx512vl avx512dq avx2 fma f16c", ISA_AVX512SET, DTU(avx512) },
    { MOE_PATH_AVX512_VNNI, "avx512-vnni", "avx512", 4, 1, "avx512f avx512bw avx512vl avx512dq avx2 fma f16c avx512_vnni",
      ISA_AVX512SET | ISA_AVX512VNNI, DTU(avx512_vnni) },
#else
    { MOE_PATH_AVX2, "avx2", "avx2", 1, 0, "avx2 fma f16c", 0, NULL, NULL, NULL },
    { MOE_PATH_AVX2_VNNI, "avx2-vnni", "avx2", 2, 0, "avx2 fma f16c avx_vnni", 0, NULL, NULL, NULL },
    { MOE_PATH_AVX512, "avx512", "avx512", 3, 0, "avx512f avx512bw avx512vl avx512dq", 0, NULL, NULL, NULL },
    { MOE_PATH_AVX512_VNNI, "avx512-vnni", "avx512", 4, 0, "avx512f avx512bw avx512vl avx512dq avx512_vnni", 0, NULL, NULL, NULL },
#endif
#ifdef TD_ARM
    { MOE_PATH_NEON, "neon", "neon", 1, 1, "asimd", ISA_NEON, DTU(neon) },
    { MOE_PATH_NEON_DOTPROD, "neon-dotprod", "neon", 2, 1, "asimd asimddp", ISA_NEON | ISA_DOTPROD, DTU(neon_dotprod) },
#else
    { MOE_PATH_NEON, "neon", "neon", 1, 0, "asimd", 0, NULL, NULL, NULL },
    { MOE_PATH_NEON_DOTPROD, "neon-dotprod", "neon", 2, 0, "asimd asimddp", 0, NULL, NULL, NULL },
#endif
};
#define N_PATHS ((int)(sizeof g_paths / sizeof g_paths[0]))

/* ---- harness ---------------------------------------------------------------------------------- */
static long g_pass, g_fail;
static int g_quick;
static int check(int ok, const char *fmt, ...) TD_PRINTF(2, 3);
static int check(int ok, const char *fmt, ...)
{
    va_list ap;
    if (ok) { g_pass++; return 1; }
    g_fail++;
    if (g_fail <= 100) {
        printf("FAIL ");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
static void *xcalloc(size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    if (!p) { fprintf(stderr, "test_dispatch: out of memory\n"); exit(2); }
    return p;
}
static unsigned long long g_rng = 0x243f6a8885a308d3ull;
static float rnd(void)   /* uniform in [-1, 1) */
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(g_rng >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* ---- what the CPU has, found without moe.h -------------------------------------------------- */
/* 1 / 0: the CPU has (or lacks) every flag of the list; -1: unknown on this host.
   x86-64 Linux: /proc/cpuinfo's flags (the kernel's view, OS support included); with --cpuid
   (qemu-x86_64 user mode, where /proc/cpuinfo is the host's) or off Linux (MinGW under wine):
   libgcc's CPUID reading, GCC only. AArch64 Linux: AT_HWCAP. */
static int g_use_cpuid;
#if defined(TD_X86) && defined(__GNUC__) && !defined(__clang__)
#define TD_HAVE_CPUID 1
static int cpu_has_cpuid(const char *flags)
{
    __builtin_cpu_init();
    if (strstr(flags, "avx2") && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return 0;
    if (strstr(flags, "avx_vnni") && !__builtin_cpu_supports("avxvnni")) return 0;
    if (strstr(flags, "avx512f") && !(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")))
        return 0;
    if (strstr(flags, "avx512_vnni") && !__builtin_cpu_supports("avx512vnni")) return 0;
    return 1;
}
#endif
#if defined(TD_X86) && defined(__linux__)
static int cpu_has_procfs(const char *flags)
{
    static char line[8192];
    static int have_line = -1;
    char want[160], *tok, *save = NULL;
    if (have_line < 0) {
        FILE *f = fopen("/proc/cpuinfo", "r");
        have_line = 0;
        if (f) {
            while (fgets(line + 1, (int)sizeof line - 2, f))
                if (strncmp(line + 1, "flags", 5) == 0) { have_line = 1; break; }
            fclose(f);
        }
        if (have_line) {   /* " flag flag ... " so each flag can be found as " name " */
            size_t n;
            line[0] = ' ';
            n = strlen(line);
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
            if (n + 2 < sizeof line) { line[n] = ' '; line[n + 1] = 0; }
            for (n = 0; line[n]; n++) if (line[n] == '\t' || line[n] == ':') line[n] = ' ';
        }
    }
    if (!have_line) return -1;
    snprintf(want, sizeof want, "%s", flags);
    for (tok = strtok_r(want, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char pat[64];
        snprintf(pat, sizeof pat, " %s ", tok);
        if (!strstr(line, pat)) return 0;
    }
    return 1;
}
#endif
static int cpu_has(const char *flags)
{
    if (!flags[0]) return 1;
#ifdef TD_HAVE_CPUID
    if (g_use_cpuid) return cpu_has_cpuid(flags);
#endif
    if (g_use_cpuid) return -1;
#if defined(TD_X86) && defined(__linux__)
    return cpu_has_procfs(flags);
#elif defined(TD_HAVE_CPUID)
    return cpu_has_cpuid(flags);
#elif defined(TD_ARM) && defined(__linux__)
    {
        unsigned long hw = getauxval(AT_HWCAP);
        if (strstr(flags, "asimd") && !(hw & (1ul << 1))) return 0;       /* HWCAP_ASIMD */
        if (strstr(flags, "asimddp") && !(hw & (1ul << 20))) return 0;    /* HWCAP_ASIMDDP */
        return 1;
    }
#else
    return -1;
#endif
}

/* ---- layers ------------------------------------------------------------------------------------ */
#define D 256
#define F 256
#define E 8
#define MAXT 64
#define MAXK 4

enum { FAM_SOFTMAX, FAM_GROUPS, FAM_OAI, FAM_GELU, N_FAM };
static const char *const fam_name[N_FAM] = {
    "softmax top-2 swiglu", "sigmoid groups+selection bias+shared", "swiglu_oai fused gate_up+biases softmax_topk",
    "gelu"};

typedef struct wtype { moe_type t; int scaled; const char *name; } wtype;
static const wtype g_types[] = {
    { MOE_TYPE_F32, 0, "f32" },     { MOE_TYPE_F16, 0, "f16" },     { MOE_TYPE_BF16, 0, "bf16" },
    { MOE_TYPE_Q8_0, 0, "q8_0" },   { MOE_TYPE_Q4_0, 0, "q4_0" },   { MOE_TYPE_Q4_K, 0, "q4_K" },
    { MOE_TYPE_Q5_K, 0, "q5_K" },   { MOE_TYPE_Q6_K, 0, "q6_K" },   { MOE_TYPE_Q2_K, 0, "q2_K" },
    { MOE_TYPE_Q3_K, 0, "q3_K" },   { MOE_TYPE_MXFP4, 0, "mxfp4" }, { MOE_TYPE_F8_E4M3, 0, "f8_e4m3" },
    { MOE_TYPE_F8_E4M3, 1, "f8_e4m3+128x128 scales" },
};
#define N_TYPES ((int)(sizeof g_types / sizeof g_types[0]))

typedef struct fixture {
    moe_config cfg;
    moe_weights w;
    void *allocs[24];
    int na;
    float *fr;           /* f32 copies for the float64 reference (FAM_SOFTMAX, f32) */
} fixture;

static void *keep(fixture *fx, void *p) { fx->allocs[fx->na++] = p; return p; }

/* a tensor of n_mat matrices rows x cols of type wt, random values times amp */
static void make_tensor(fixture *fx, moe_tensor *mt, const wtype *wt, int n_mat, int rows, int cols, float amp)
{
    size_t n = (size_t)n_mat * rows * cols, i;
    float *f = (float *)xcalloc(n * sizeof(float));
    void *q = keep(fx, xcalloc(moe_type_row_size(wt->t, (size_t)cols) * (size_t)n_mat * (size_t)rows));
    mt->type = wt->t;
    mt->data = q;
    for (i = 0; i < n; i++) f[i] = rnd() * amp;
    if (wt->scaled) {   /* e4m3 * scale, one f32 scale per 128 x 128 block */
        int br = (rows + 127) / 128, bc = (cols + 127) / 128, e, r, c;
        float *s = (float *)keep(fx, xcalloc((size_t)n_mat * br * bc * sizeof(float)));
        for (i = 0; i < (size_t)n_mat * br * bc; i++) s[i] = 0.005f + 0.01f * (rnd() * 0.5f + 0.5f);
        for (e = 0; e < n_mat; e++)
            for (r = 0; r < rows; r++)
                for (c = 0; c < cols; c++)
                    f[((size_t)e * rows + r) * cols + c] /= s[((size_t)e * br + r / 128) * bc + c / 128];
        mt->scale = s;
        mt->scale_rows = mt->scale_cols = 128;
    }
    if (moe_quantize(wt->t, f, q, (size_t)n_mat * rows, (size_t)cols) != MOE_OK) {
        fprintf(stderr, "test_dispatch: moe_quantize(%s) failed\n", wt->name);
        exit(2);
    }
    free(f);
}
static float *vec(fixture *fx, size_t n, float amp)
{
    float *v = (float *)keep(fx, xcalloc(n * sizeof(float)));
    size_t i;
    for (i = 0; i < n; i++) v[i] = rnd() * amp;
    return v;
}

static void fixture_make(fixture *fx, int fam, const wtype *wt)
{
    static const wtype f32 = { MOE_TYPE_F32, 0, "f32" };
    memset(fx, 0, sizeof *fx);
    fx->cfg = moe_config_default();
    fx->w = moe_weights_default();
    fx->cfg.d_model = D; fx->cfg.d_ff = F; fx->cfg.n_experts = E; fx->cfg.top_k = 2; fx->cfg.n_threads = 1;
    make_tensor(fx, &fx->w.router, &f32, 1, E, D, 0.3f);
    switch (fam) {
    case FAM_SOFTMAX:
        make_tensor(fx, &fx->w.gate, wt, E, F, D, 0.2f);
        make_tensor(fx, &fx->w.up, wt, E, F, D, 0.2f);
        make_tensor(fx, &fx->w.down, wt, E, D, F, 0.2f);
        break;
    case FAM_GROUPS:
        fx->cfg.score = MOE_SCORE_SIGMOID;
        fx->cfg.n_group = 4; fx->cfg.topk_group = 2; fx->cfg.group_score = MOE_GROUP_TOP2_SUM;
        fx->cfg.top_k = 3; fx->cfg.routed_scale = 2.5f;
        fx->cfg.n_shared = 1; fx->cfg.d_ff_shared = F;
        make_tensor(fx, &fx->w.gate, wt, E, F, D, 0.2f);
        make_tensor(fx, &fx->w.up, wt, E, F, D, 0.2f);
        make_tensor(fx, &fx->w.down, wt, E, D, F, 0.2f);
        make_tensor(fx, &fx->w.shared_gate, wt, 1, F, D, 0.2f);
        make_tensor(fx, &fx->w.shared_up, wt, 1, F, D, 0.2f);
        make_tensor(fx, &fx->w.shared_down, wt, 1, D, F, 0.2f);
        fx->w.selection_bias = vec(fx, E, 0.05f);
        fx->w.shared_gate_w = vec(fx, D, 0.1f);
        break;
    case FAM_OAI:
        fx->cfg.act = MOE_ACT_SWIGLU_OAI; fx->cfg.score = MOE_SCORE_SOFTMAX_TOPK; fx->cfg.top_k = 4;
        make_tensor(fx, &fx->w.gate_up, wt, E, 2 * F, D, 0.2f);
        fx->w.gate_up_layout = MOE_GATE_UP_INTERLEAVED;
        make_tensor(fx, &fx->w.down, wt, E, D, F, 0.2f);
        fx->w.router_bias = vec(fx, E, 0.5f);
        fx->w.gate_up_bias = vec(fx, (size_t)E * 2 * F, 0.5f);
        fx->w.down_bias = vec(fx, (size_t)E * D, 0.5f);
        break;
    default: /* FAM_GELU */
        fx->cfg.act = MOE_ACT_GELU; fx->cfg.norm_topk = 0;
        make_tensor(fx, &fx->w.up, wt, E, F, D, 0.2f);
        make_tensor(fx, &fx->w.down, wt, E, D, F, 0.2f);
        break;
    }
}
static void fixture_free(fixture *fx)
{
    int i;
    for (i = 0; i < fx->na; i++) free(fx->allocs[i]);
    fx->na = 0;
}

/* ---- one run of the dispatched build ----------------------------------------------------------- */
typedef struct run_out {
    moe_status st;
    int path;
    size_t ws;
    float y[MAXT * D], w[MAXT * MAXK];
    int ids[MAXT * MAXK];
    char err[128];
} run_out;

static moe_status run_dispatch(const fixture *fx, moe_path p, const float *x, int T, run_out *o)
{
    moe_config c = fx->cfg;
    moe_layer L;
    moe_run_opts opts;
    void *work;
    c.path = p;
    memset(o, 0, sizeof *o);
    o->path = -1;
    o->st = moe_layer_init(&L, &c, &fx->w);
    if (o->st != MOE_OK) {
        snprintf(o->err, sizeof o->err, "%s", moe_layer_error(&L));
        return o->st;
    }
    o->path = (int)moe_layer_path(&L);
    o->ws = moe_workspace_size(&L, T);
    work = xcalloc(o->ws);
    memset(&opts, 0, sizeof opts);
    opts.ids_out = o->ids;
    opts.weights_out = o->w;
    o->st = moe_forward_ex(&L, x, T, o->y, work, o->ws, &opts);
    free(work);
    return o->st;
}
static moe_status run_static(const pinfo *pi, const fixture *fx, const float *x, int T, run_out *o, const char **simd)
{
    memset(o, 0, sizeof *o);
    o->st = pi->run(&fx->cfg, &fx->w, x, T, o->y, o->ids, o->w, &o->ws, &o->path, simd, o->err, sizeof o->err);
    return o->st;
}

/* first index where two float arrays differ in their bits, -1 if none */
static long first_diff(const void *a, const void *b, size_t n, size_t elem)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (memcmp((const char *)a + i * elem, (const char *)b + i * elem, elem) != 0) return (long)i;
    return -1;
}

/* dispatched (path p) vs static: y, ids, weights, workspace size, bit for bit */
static void compare_runs(const char *label, const fixture *fx, int T, const run_out *d, const run_out *s)
{
    int k = fx->cfg.top_k;
    long iy = first_diff(d->y, s->y, (size_t)T * D, sizeof(float));
    long ii = first_diff(d->ids, s->ids, (size_t)T * k, sizeof(int));
    long iw = first_diff(d->w, s->w, (size_t)T * k, sizeof(float));
    check(iy < 0, "%s: y differs from the static build: first at token %ld, element %ld: dispatched %.9g, static %.9g", label,
          iy / D, iy % D, iy < 0 ? 0.0 : (double)d->y[iy], iy < 0 ? 0.0 : (double)s->y[iy]);
    check(ii < 0, "%s: ids differ from the static build: first at token %ld slot %ld: dispatched %d, static %d", label,
          ii / (k ? k : 1), ii % (k ? k : 1), ii < 0 ? 0 : d->ids[ii], ii < 0 ? 0 : s->ids[ii]);
    check(iw < 0, "%s: weights differ from the static build: first at token %ld slot %ld: dispatched %.9g, static %.9g", label,
          iw / (k ? k : 1), iw % (k ? k : 1), iw < 0 ? 0.0 : (double)d->w[iw], iw < 0 ? 0.0 : (double)s->w[iw]);
    check(d->ws == s->ws, "%s: workspace size %lu, the static build's %lu", label, (unsigned long)d->ws, (unsigned long)s->ws);
}

/* ---- float64 reference: softmax top-2, renormalised, SwiGLU, f32 weights ------------------------- */
static void ref_forward(const fixture *fx, const float *x, int T, const int *lib_ids, double *yr, int *ties)
{
    const float *wr = (const float *)fx->w.router.data, *wg = (const float *)fx->w.gate.data;
    const float *wu = (const float *)fx->w.up.data, *wd = (const float *)fx->w.down.data;
    int t, e, j, i, r;
    *ties = 0;
    for (t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * D;
        double lg[E], sc[E], mx = -1e300, sum = 0, wsum = 0, wsel[2], h[F];
        int sel[2];
        for (e = 0; e < E; e++) {
            double a = 0;
            for (i = 0; i < D; i++) a += (double)wr[(size_t)e * D + i] * xt[i];
            lg[e] = a;
            if (a > mx) mx = a;
        }
        for (e = 0; e < E; e++) { sc[e] = exp(lg[e] - mx); sum += sc[e]; }
        for (e = 0; e < E; e++) sc[e] /= sum;
        for (j = 0; j < 2; j++) {
            int best = -1;
            for (e = 0; e < E; e++) {
                if (j == 1 && e == sel[0]) continue;
                if (best < 0 || sc[e] > sc[best]) best = e;
            }
            sel[j] = best;
        }
        /* a near tie (within f32 rounding of the scores) may go either way: take the library's */
        for (j = 0; j < 2; j++)
            if (lib_ids[t * 2 + j] != sel[j] && lib_ids[t * 2 + j] >= 0 && lib_ids[t * 2 + j] < E &&
                fabs(sc[lib_ids[t * 2 + j]] - sc[sel[j]]) <= 1e-6 * sc[sel[j]]) {
                sel[j] = lib_ids[t * 2 + j];
                (*ties)++;
            }
        for (j = 0; j < 2; j++) { wsel[j] = sc[sel[j]]; wsum += wsel[j]; }
        for (i = 0; i < D; i++) yr[(size_t)t * D + i] = 0;
        for (j = 0; j < 2; j++) {
            int ex = sel[j];
            double wj = wsel[j] / wsum;
            for (r = 0; r < F; r++) {
                double g = 0, u = 0;
                const float *gr = wg + ((size_t)ex * F + r) * D, *ur = wu + ((size_t)ex * F + r) * D;
                for (i = 0; i < D; i++) { g += (double)gr[i] * xt[i]; u += (double)ur[i] * xt[i]; }
                h[r] = g / (1.0 + exp(-g)) * u;
            }
            for (i = 0; i < D; i++) {
                double a = 0;
                const float *dr = wd + ((size_t)ex * D + i) * F;
                for (r = 0; r < F; r++) a += (double)dr[r] * h[r];
                yr[(size_t)t * D + i] += wj * a;
            }
        }
    }
}

/* ---- checks ------------------------------------------------------------------------------------ */
static int g_supported[MOE_PATH_COUNT];

static void check_names(void)
{
    static const char *const want[MOE_PATH_COUNT] = { "auto", "scalar", "avx2", "avx2-vnni", "avx512", "avx512-vnni",
                                                       "neon", "neon-dotprod" };
    int p;
    moe_config c = moe_config_default();
    for (p = 0; p < MOE_PATH_COUNT; p++) {
        const char *n = moe_path_name((moe_path)p);
        check(n && strcmp(n, want[p]) == 0, "moe_path_name(%d) = \"%s\", want \"%s\"", p, n ? n : "(null)", want[p]);
    }
    {
        const char *n = moe_path_name(MOE_PATH_COUNT);
        check(n && strcmp(n, "unknown") == 0, "moe_path_name(MOE_PATH_COUNT) = \"%s\", want \"unknown\"", n ? n : "(null)");
    }
    check(c.path == MOE_PATH_AUTO, "moe_config_default().path = %d, want MOE_PATH_AUTO", (int)c.path);
    check(moe_path_supported(MOE_PATH_COUNT) == 0, "moe_path_supported(MOE_PATH_COUNT) = %d, want 0",
          moe_path_supported(MOE_PATH_COUNT));
}

/* detection, SKIP lines, forced unsupported paths, the static objects' self-description */
static void check_detection(const fixture *fx)
{
    int i, q;
    for (i = 0; i < N_PATHS; i++) {
        const pinfo *pi = &g_paths[i];
        int sup = moe_path_supported(pi->p), cpu = cpu_has(pi->cpu_flags);
        run_out *o = (run_out *)xcalloc(sizeof *o);
        g_supported[pi->p] = sup;
        check(sup == 0 || sup == 1, "moe_path_supported(%s) = %d, want 0 or 1", pi->name, sup);
        if (pi->built == 0)
            check(sup == 0, "moe_path_supported(%s) = %d: this target's dispatch build cannot have it", pi->name, sup);
        else if (pi->built == 1 && cpu >= 0)
            check(sup == cpu, "moe_path_supported(%s) = %d but the CPU %s %s (wrong detection)", pi->name, sup,
                  cpu ? "has" : "lacks some of", pi->cpu_flags);
        else if (pi->built == -1 && cpu == 0)
            check(sup == 0, "moe_path_supported(%s) = 1 but the CPU lacks some of %s", pi->name, pi->cpu_flags);
        if (!sup) {
            printf("SKIP %s: %s\n", pi->name,
                   pi->built == 0 ? "not built (not this target's path)"
                   : cpu == 0     ? "the CPU lacks it"
                   : pi->built < 0 ? "not built in this target's dispatch build"
                                  : "not supported (CPU features unknown on this host)");
            if (pi->built && cpu == 0) printf("     (needs %s)\n", pi->cpu_flags);
            run_dispatch(fx, pi->p, NULL, 1, o);
            check(o->st == MOE_ERR_UNSUPPORTED && strstr(o->err, "config.path") != NULL,
                  "cfg.path = %s (unsupported): moe_layer_init -> %s \"%s\", want MOE_ERR_UNSUPPORTED naming config.path",
                  pi->name, moe_status_string(o->st), o->err);
        }
        if (pi->isa_fn) {
            unsigned got = pi->isa_fn();
            check(got == pi->isa, "static object %s: compiled with instruction-set macros 0x%x, its path's flags give 0x%x",
                  pi->name, got, pi->isa);
        }
        if (pi->run && sup) {   /* a static build: AUTO and its own path, nothing else */
            for (q = 0; q < MOE_PATH_COUNT; q++) {
                int s2 = -1, path = -2;
                moe_status st = pi->force(&fx->cfg, &fx->w, q, &s2, &path);
                int own = q == (int)pi->p;
                if (q != MOE_PATH_AUTO)
                    check(s2 == own, "static %s build: moe_path_supported(%s) = %d, want %d", pi->name,
                          moe_path_name((moe_path)q), s2, own);
                if (q == MOE_PATH_AUTO || own)
                    check(st == MOE_OK && path == (int)pi->p, "static %s build: cfg.path = %s -> %s, path %s", pi->name,
                          moe_path_name((moe_path)q), moe_status_string(st), moe_path_name((moe_path)path));
                else
                    check(st == MOE_ERR_UNSUPPORTED, "static %s build: cfg.path = %s -> %s, want MOE_ERR_UNSUPPORTED", pi->name,
                          moe_path_name((moe_path)q), moe_status_string(st));
            }
        }
        free(o);
    }
    {   /* a path value past the enum */
        run_out *o = (run_out *)xcalloc(sizeof *o);
        run_dispatch(fx, MOE_PATH_COUNT, NULL, 1, o);
        check(o->st != MOE_OK && strstr(o->err, "config.path") != NULL,
              "cfg.path = MOE_PATH_COUNT: moe_layer_init -> %s \"%s\", want an error naming config.path",
              moe_status_string(o->st), o->err);
        free(o);
    }
}

/* AUTO: the best supported path of this architecture, and its bits */
static void check_auto(const fixture *fx, const float *x)
{
    int i, best = -1;
    run_out *a = (run_out *)xcalloc(sizeof *a), *b = (run_out *)xcalloc(sizeof *b);
    char label[160];
    for (i = 0; i < N_PATHS; i++)
        if (g_supported[g_paths[i].p] && (best < 0 || g_paths[i].rank > g_paths[best].rank)) best = i;
    if (check(best >= 0, "no path is supported, not even scalar")) {
        int T = 17;
        run_dispatch(fx, MOE_PATH_AUTO, x, T, a);
        check(a->st == MOE_OK && a->path == (int)g_paths[best].p, "AUTO: init/forward -> %s, path %s; want the best supported, %s",
              moe_status_string(a->st), moe_path_name((moe_path)a->path), g_paths[best].name);
        run_dispatch(fx, g_paths[best].p, x, T, b);
        snprintf(label, sizeof label, "AUTO vs forced %s, T=%d", g_paths[best].name, T);
        if (a->st == MOE_OK && b->st == MOE_OK) compare_runs(label, fx, T, a, b);
        printf("auto path: %s (moe_simd_name() \"%s\")\n", moe_path_name((moe_path)a->path), moe_simd_name());
    }
    free(a); free(b);
}

static const int g_Ts[] = {1, 2, 5, 9, 17, 64};
#define N_TS ((int)(sizeof g_Ts / sizeof g_Ts[0]))
static int t_on(int T) { return !g_quick || T == 1 || T == 9 || T == 17; }

/* every supported path x every type x every family x every T: dispatched == static */
static void check_paths(const float *x, long *n_cmp)
{
    int fam, ti, i, k;
    run_out *d = (run_out *)xcalloc(sizeof *d), *s = (run_out *)xcalloc(sizeof *s);
    char label[200];
    for (fam = 0; fam < N_FAM; fam++)
        for (ti = 0; ti < N_TYPES; ti++) {
            fixture fx;
            if (g_quick && fam != FAM_SOFTMAX && (ti + fam) % 3 != 0) continue;   /* --quick: a third of the types */
            fixture_make(&fx, fam, &g_types[ti]);
            for (i = 0; i < N_PATHS; i++) {
                const pinfo *pi = &g_paths[i];
                int bad_path = 0, bad_st = 0;
                if (!g_supported[pi->p] || !pi->run) continue;
                for (k = 0; k < N_TS; k++) {
                    int T = g_Ts[k];
                    const char *simd = "";
                    if (!t_on(T)) continue;
                    snprintf(label, sizeof label, "%s, %s, %s, T=%d", pi->name, g_types[ti].name, fam_name[fam], T);
                    run_dispatch(&fx, pi->p, x, T, d);
                    run_static(pi, &fx, x, T, s, &simd);
                    if (d->st != MOE_OK || s->st != MOE_OK) {
                        check(0, "%s: dispatched -> %s \"%s\", static -> %s \"%s\"", label, moe_status_string(d->st), d->err,
                              moe_status_string(s->st), s->err);
                        bad_st = 1;
                        continue;
                    }
                    if (d->path != (int)pi->p || s->path != (int)pi->p) {
                        check(0, "%s: moe_layer_path: dispatched %s, static %s, want %s", label, moe_path_name((moe_path)d->path),
                              moe_path_name((moe_path)s->path), pi->name);
                        bad_path = 1;
                    }
                    if (strcmp(simd, pi->simd) != 0) check(0, "%s: the static build's moe_simd_name() = %s, want %s", label, simd, pi->simd);
                    compare_runs(label, &fx, T, d, s);
                    (*n_cmp)++;
                }
                check(!bad_path && !bad_st, "%s, %s, %s: every run on its path", pi->name, g_types[ti].name, fam_name[fam]);
                if (fam == FAM_SOFTMAX && g_types[ti].t == MOE_TYPE_F32) {   /* the float64 reference */
                    for (k = 0; k < N_TS; k++) {
                        int T = g_Ts[k], ties = 0;
                        size_t j, n = (size_t)T * D;
                        double *yr = (double *)xcalloc(n * sizeof(double)), mx = 0, md = 0;
                        if (!t_on(T)) { free(yr); continue; }
                        run_dispatch(&fx, pi->p, x, T, d);
                        if (d->st == MOE_OK) {
                            ref_forward(&fx, x, T, d->ids, yr, &ties);
                            for (j = 0; j < n; j++) {
                                double e = fabs((double)d->y[j] - yr[j]);
                                if (fabs(yr[j]) > mx) mx = fabs(yr[j]);
                                if (!(e <= md)) md = e;
                            }
                        }
                        check(d->st == MOE_OK && md <= 1e-5 * mx,
                              "%s, f32 %s, T=%d: max|y - float64 ref| / max|ref| = %.3g > 1e-5 (%s)", pi->name, fam_name[fam], T,
                              mx > 0 ? md / mx : md, moe_status_string(d->st));
                        if (ties) printf("note: %s T=%d: %d near-tie routing choices taken from the library\n", pi->name, T, ties);
                        free(yr);
                    }
                }
            }
            fixture_free(&fx);
        }
    free(d); free(s);
}

int main(int argc, char **argv)
{
    int i, n_sup = 0;
    long n_cmp = 0;
    float *x;
    fixture fx;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) g_quick = 1;
        else if (strcmp(argv[i], "--cpuid") == 0) g_use_cpuid = 1;
        else { fprintf(stderr, "usage: %s [--quick] [--cpuid]\n", argv[0]); return 2; }
    }
    printf("moe.h dispatch tests: %s, %s%s\n",
#ifdef __cplusplus
           "c++",
#else
           "c",
#endif
#if defined(TD_X86)
           "x86-64 static objects",
#elif defined(TD_ARM)
           "aarch64 static objects",
#else
           "no static objects",
#endif
           g_quick ? ", quick" : "");
    x = (float *)xcalloc((size_t)MAXT * D * sizeof(float));
    for (i = 0; i < MAXT * D; i++) x[i] = rnd();
    check_names();
    fixture_make(&fx, FAM_SOFTMAX, &g_types[0]);
    check_detection(&fx);
    check_auto(&fx, x);
    fixture_free(&fx);
    check_paths(x, &n_cmp);
    for (i = 0; i < N_PATHS; i++) n_sup += g_supported[g_paths[i].p] && g_paths[i].run;
    printf("%ld dispatched runs compared with the static builds bit for bit, over %d paths\n", n_cmp, n_sup);
    free(x);
    printf("%ld passed, %ld failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
