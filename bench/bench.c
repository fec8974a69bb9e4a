/* bench/bench.c - benchmark of moe.h on this machine.

   One program, one run: it measures the machine (FMA peak per SIMD width, DRAM read bandwidth),
   then times moe.h's forward pass on a Qwen3-30B-A3B-shaped and a Mixtral-shaped layer for every
   weight type (f32, f16, bf16, q8_0, q4_0, the K-quants q4_K q5_K q6_K q2_K q3_K, mxfp4 and
   f8_e4m3 with 128 x 128 block scales) and batch size, next to four baselines measured in the
   same run:
     - the library's own scalar path (bench/moe_scalar.c, compiled without -march=native),
     - a naive, ggml-style implementation (bench/baselines.c; one dot product per (row, token); for
       the K-quants, mxfp4 and f8_e4m3: a tile of rows decoded with moe_dequantize, then f32 dots),
     - OpenBLAS sgemm per expert (f32 only, when the bench was built with OpenBLAS),
     - the library on 1 thread (T=512, f32) for the thread scaling.
   Writes a table to stdout, every number to a CSV file and a roofline plot as SVG.
   See bench/README.md for how to read the output.
   This file holds the options and main; bench/bench.h lists the other parts. It is the one
   translation unit that compiles moe.h's implementation for the native path (-march=native);
   bench/moe_scalar.c holds a second, scalar and MOE_STATIC, copy. */
#define _GNU_SOURCE
#define MOE_IMPLEMENTATION
#include "bench.h"
#include "moe_scalar.h"

#include <stdlib.h>
#include <string.h>
#ifdef BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif

struct bench_opt g_opt;

static void usage(void)
{
    printf("usage: bench [--quick] [--threads N] [--only qwen3|mixtral] [--types LIST] [--all-rows]\n"
           "             [--mixtral-div N] [--wait-quiet S] [--no-scalar] [--no-naive] [--no-blas] [--csv FILE] [--svg FILE]\n"
           "  --quick        small layers, one short repetition: a smoke run\n"
           "  --types LIST   comma-separated weight types (default: all): f32,f16,bf16,q8_0,q4_0,\n"
           "                 q4_K,q5_K,q6_K,q2_K,q3_K,mxfp4,f8_e4m3\n"
           "  --all-rows     also time the K-quants, mxfp4 and f8_e4m3 on mixtral at the largest T and\n"
           "                 their scalar and naive baselines at the largest T (left out by default: slow)\n"
           "  --mixtral-div  divide the Mixtral-shaped layer's d_ff by N (default 2; 1 = full 14336)\n"
           "  --wait-quiet S on a shared machine: after a repetition disturbed by other processes, wait\n"
           "                 (S seconds in all at most; default 90, 0 with --quick) until they stop\n");
}

/* "a,b,c" -> bit mask of moe_type; names as moe_type_name gives them (case-insensitive);
   0 on an unknown name */
static unsigned parse_types(const char *s)
{
    unsigned m = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        int t, found = 0;
        for (t = 0; t < N_TYPES && n > 0; t++) {
            const char *name = type_label((moe_type)t);
            size_t j;
            if (strlen(name) != n) continue;
            for (j = 0; j < n && (s[j] | 0x20) == (name[j] | 0x20); j++) {}
            if (j == n) { m |= 1u << t; found = 1; break; }
        }
        if (n > 0 && !found) {
            fprintf(stderr, "bench: unknown type '%.*s' in --types\n", (int)n, s);
            return 0;
        }
        s += n;
        if (*s == ',') s++;
    }
    return m;
}

static void cpu_name(char *buf, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(buf, n, "unknown CPU");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && c) {
            c++;
            while (*c == ' ' || *c == '\t') c++;
            c[strcspn(c, "\n")] = 0;
            snprintf(buf, n, "%s", c);
            break;
        }
    }
    fclose(f);
}

static char *loadavg(char *buf, size_t n)
{
    FILE *f = fopen("/proc/loadavg", "r");
    snprintf(buf, n, "unknown");
    if (f) {
        if (fgets(buf, (int)n, f)) buf[strcspn(buf, "\n")] = 0;
        fclose(f);
    }
    return buf;
}

/* the batch sizes of the summaries after the table: 64 and 512 (--quick: 256, its largest) */
static int summary_T(int a) { return a == 0 ? 64 : g_opt.quick ? 256 : 512; }
/* moe.h's f32 row at T on the bench's thread count: the summaries' reference */
static const result *f32_row(const char *layer, int T) { return find_result(layer, MOE_TYPE_F32, T, "moe.h", g_opt.nthreads); }
static double gflops(const result *r) { return r->flops / r->t.sec * 1e-9; }

int main(int argc, char **argv)
{
    layer_spec specs[2];
    const char *names[2];
    int i, nl = 0;
    double t_start = now_s();
    char cpu[256], la[128];
    const char *wait_arg = NULL;

    g_opt.nthreads = 2;
    g_opt.mixtral_div = 2;
    g_opt.csv = "bench.csv";
    g_opt.svg = "roofline.svg";
    g_opt.type_mask = (1u << N_TYPES) - 1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--quick")) g_opt.quick = 1;
        else if (!strcmp(a, "--threads") && i + 1 < argc) g_opt.nthreads = atoi(argv[++i]);
        else if (!strcmp(a, "--only") && i + 1 < argc) g_opt.only = argv[++i];
        else if (!strcmp(a, "--types") && i + 1 < argc) {
            if ((g_opt.type_mask = parse_types(argv[++i])) == 0) { usage(); return 2; }
        }
        else if (!strcmp(a, "--all-rows")) g_opt.all_rows = 1;
        else if (!strcmp(a, "--mixtral-div") && i + 1 < argc) g_opt.mixtral_div = atoi(argv[++i]);
        else if (!strcmp(a, "--wait-quiet") && i + 1 < argc) wait_arg = argv[++i];
        else if (!strcmp(a, "--no-scalar")) g_opt.no_scalar = 1;
        else if (!strcmp(a, "--no-naive")) g_opt.no_naive = 1;
        else if (!strcmp(a, "--no-blas")) g_opt.no_blas = 1;
        else if (!strcmp(a, "--csv") && i + 1 < argc) g_opt.csv = argv[++i];
        else if (!strcmp(a, "--svg") && i + 1 < argc) g_opt.svg = argv[++i];
        else { usage(); return !strcmp(a, "--help") || !strcmp(a, "-h") ? 0 : 2; }
    }
    if (g_opt.nthreads < 1) g_opt.nthreads = 1;
    if (g_opt.quick) { g_time.target_s = 0.03; g_time.reps = 1; g_time.slow_s = 0.2; g_time.wait_budget_s = 0; }
    if (wait_arg) g_time.wait_budget_s = atof(wait_arg);
    if (g_opt.mixtral_div < 1 || 14336 % (g_opt.mixtral_div * 32) != 0) die("--mixtral-div must divide 448");
    h2f_init();
    selftest_kernels();
    g_m.nthreads = g_opt.nthreads;
    g_m.lib_path = moe_simd_name();
    g_m.amx = moe_amx_enable();

    cpu_name(cpu, sizeof cpu);
    printf("moe.h %d.%d.%d benchmark%s\n", MOE_VERSION_MAJOR, MOE_VERSION_MINOR, MOE_VERSION_PATCH,
           g_opt.quick ? " (--quick: small layers, 1 short repetition; numbers are indicative only)" : "");
    printf("machine: %s, %d OpenMP threads available, bench uses %d\n", cpu, max_threads(), g_opt.nthreads);
    printf("library: native path \"%s\" (this binary, -march=native), scalar path \"%s\" (bench/moe_scalar.c, no -march)\n",
           g_m.lib_path, g_opt.no_scalar ? "(off)" : bench_scalar_simd_name());
    if (g_m.amx) printf("AMX: tiles usable (cfg.batch_amx rows \"moe.h-amx\"; their ceiling, the tile peak, is not measured)\n");
    else printf("AMX: rows \"moe.h-amx\" skipped: moe_amx_enable() = 0 (%s)\n",
#ifdef MOE_AMX
                "this CPU or OS lacks AMX"
#else
                "built without MOE_AMX: bench.mk adds it where /proc/cpuinfo lists amx_tile, amx_int8 and amx_bf16"
#endif
        );
#ifdef BENCH_HAVE_OPENBLAS
    printf("OpenBLAS: %s\n", openblas_get_config());
    openblas_set_num_threads(g_opt.nthreads);
#else
    printf("OpenBLAS: not found at build time, comparison skipped\n");
    g_opt.no_blas = 1;
#endif
    fflush(stdout);

    /* ---- the machine (measured again at the end; the best of both is used) ---- */
    fprintf(stderr, "bench: measuring FMA peak and read bandwidth...\n");
    measure_machine();
    printf("load average at start: %s\n", loadavg(la, sizeof la));

    /* ---- the layers ---- */
    if (g_opt.quick) {
        specs[0].name = "qwen3"; specs[0].d_model = 512; specs[0].d_ff = 256; specs[0].n_experts = 32; specs[0].top_k = 8;
        specs[0].note = "quick: Qwen3-like routing (32 experts, top-8), d_model 512, d_ff 256";
        specs[1].name = "mixtral"; specs[1].d_model = 512; specs[1].d_ff = 1792; specs[1].n_experts = 8; specs[1].top_k = 2;
        specs[1].note = "quick: Mixtral-like routing (8 experts, top-2), d_model 512, d_ff 1792";
    } else {
        static char note[256];
        specs[0].name = "qwen3"; specs[0].d_model = 2048; specs[0].d_ff = 768; specs[0].n_experts = 128; specs[0].top_k = 8;
        specs[0].note = "Qwen3-30B-A3B-shaped: d_model 2048, d_ff 768, 128 experts, top-8, SwiGLU (real size)";
        specs[1].name = "mixtral"; specs[1].d_model = 4096; specs[1].d_ff = 14336 / g_opt.mixtral_div;
        specs[1].n_experts = 8; specs[1].top_k = 2;
        if (g_opt.mixtral_div > 1)
            snprintf(note, sizeof note, "Mixtral-shaped: d_model 4096, d_ff %d (Mixtral's 14336 / %d, to keep the bench "
                     "short; --mixtral-div 1 for full size), 8 experts, top-2, SwiGLU",
                     specs[1].d_ff, g_opt.mixtral_div);
        else
            snprintf(note, sizeof note, "Mixtral-shaped: d_model 4096, d_ff 14336, 8 experts, top-2, SwiGLU (real size)");
        specs[1].note = note;
    }
    for (i = 0; i < 2; i++) {
        if (g_opt.only && strcmp(g_opt.only, specs[i].name) != 0) continue;
        specs[nl] = specs[i];
        names[nl] = specs[nl].name;
        nl++;
    }
    printf("layers (random weights, fixed seed; router f32; all types built with moe_quantize from the same f32 weights;\n"
           "f8_e4m3 with an f32 scale per 128x128 block, max|w|/448; mxfp4 in ggml's 17-byte blocks):\n");
    for (i = 0; i < nl; i++)
        printf("  %-8s %s; f32 weights %.2f GiB\n", specs[i].name, specs[i].note,
               (double)specs[i].n_experts * 3 * specs[i].d_model * specs[i].d_ff * 4 / (1 << 30));
    printf("flops per token = 2*3*d_model*d_ff*top_k (routed experts only, router excluded). GB/s = expert weight bytes\n"
           "in their stored type touched per call / time: T=1 the k chosen experts, T>1 every expert the batch routes to.\n"
           "flop/B = the ratio of the two (arithmetic intensity). Speedups \"vs X\" = time of X / time of moe.h (>1: moe.h faster).\n"
           "T=1: %d different inputs in turn, so the expert set changes on every call; every time is the median of %d\n"
           "repetitions of enough calls to last %.2f s (a first call over %.1f s is timed alone).\n",
           64, g_time.reps, g_time.target_s, g_time.slow_s);
    printf("naive for q4_K..f8_e4m3 = decode a 16-row tile with moe_dequantize, then f32 dots (not ggml's q8 block dots).\n");
    if (!g_opt.all_rows)
        printf("q4_K..f8_e4m3 run mixtral at T=1 and 64 only, and their scalar and naive baselines are not timed at T=%d\n"
               "('-'; --all-rows times them).\n", g_opt.quick ? 256 : 512);
    printf("progress rows go to stderr; the table comes at the end, when the machine has been measured again.\n");
    fflush(stdout);
    print_table_header(stderr);
    for (i = 0; i < nl; i++) run_layer(&specs[i]);

    fprintf(stderr, "bench: measuring FMA peak and read bandwidth again...\n");
    measure_machine();
    printf("load average at end: %s (the machine is shared: a load above %d means other work competed)\n",
           loadavg(la, sizeof la), g_opt.nthreads);
    print_machine();
    printf("\n");
    print_table_header(stdout);
    for (i = 0; i < g_nres; i++) if (strcmp(g_res[i].impl, "moe.h") == 0) print_row(stdout, &g_res[i]);

    {
        int n_busy = 0, n_retry = 0;
        for (i = 0; i < g_nres; i++) {
            if (g_res[i].t.other > g_time.busy_cores) n_busy++;
            n_retry += g_res[i].t.retries;
        }
        printf("busy = the most CPU cores other processes (or the hypervisor's steal) took while that row's "
               "implementations ran;\n'!' above %.1f. %d repetitions were redone for contention; %d of %d "
               "measurements stayed contended; %.0f s spent waiting for quiet.\n", g_time.busy_cores, n_retry, n_busy, g_nres,
               g_time.waited_s);
    }
    printf("\nQ8_0/Q4_0 batches by cfg.batch_quant, GFLOP/s (time ratio to moe.h's f32 at the same T, same run):\n");
    for (i = 0; i < nl; i++) {
        int a, q;
        for (a = 0; a < 2; a++)
            for (q = 0; q < 2; q++) {
                int T = summary_T(a);
                moe_type t = q ? MOE_TYPE_Q4_0 : MOE_TYPE_Q8_0;
                const result *f = f32_row(specs[i].name, T);
                const result *n = find_result(specs[i].name, t, T, "moe.h", g_opt.nthreads);
                const result *e = find_result(specs[i].name, t, T, "moe.h-exact", g_opt.nthreads);
                if (!f || !n || !e) continue;
                printf("  %-8s %-5s T=%-4d f32 %6.1f   int %6.1f (%.2fx)   exact %6.1f (%.2fx)\n", specs[i].name, type_label(t), T,
                       gflops(f), gflops(n), f->t.sec / n->t.sec,
                       gflops(e), f->t.sec / e->t.sec);
            }
    }
    printf("\nOne token: fresh tokens (new experts each call, weights from DRAM) vs the same token every call (the same\n"
           "experts: their weights stay in the caches when they fit), GB/s of weights (%% of the best 2-thread read bandwidth):\n");
    for (i = 0; i < nl; i++) {
        int q;
        for (q = 0; q < MOE_TYPE_COUNT; q++) {
            const result *c = find_result(specs[i].name, (moe_type)q, 1, "moe.h", g_opt.nthreads);
            const result *h = find_result(specs[i].name, (moe_type)q, 1, "moe.h-hot", g_opt.nthreads);
            if (!c || !h) continue;
            printf("  %-8s %-7s fresh %5.1f (%3.0f %%)   same token %5.1f (%3.0f %%)   %.3g MB a call\n", specs[i].name,
                   type_label((moe_type)q), c->bytes / c->t.sec * 1e-9, 100.0 * c->bytes / c->t.sec * 1e-9 / g_m.bw[2],
                   h->bytes / h->t.sec * 1e-9, 100.0 * h->bytes / h->t.sec * 1e-9 / g_m.bw[2], h->bytes * 1e-6);
        }
    }
    printf("\nInteger batches with moe_prepack's tiles (made once) vs repacked a unit at a time, GFLOP/s\n"
           "(time ratios; the copy's size over the weights' in brackets):\n");
    for (i = 0; i < nl; i++) {
        int a, q;
        for (q = 0; q < MOE_TYPE_COUNT; q++)
            for (a = 0; a < 2; a++) {
                int T = summary_T(a);
                const result *f = f32_row(specs[i].name, T);
                const result *n = find_result(specs[i].name, (moe_type)q, T, "moe.h", g_opt.nthreads);
                const result *p = find_result(specs[i].name, (moe_type)q, T, "moe.h-prepack", g_opt.nthreads);
                if (!f || !n || !p) continue;
                printf("  %-8s %-7s T=%-4d repacked %6.1f (%.2fx f32)   pre-packed %6.1f (%.2fx f32, %.2fx repacked) [%.1fx]\n",
                       specs[i].name, type_label((moe_type)q), T, gflops(n), f->t.sec / n->t.sec,
                       gflops(p), f->t.sec / p->t.sec, n->t.sec / p->t.sec, p->pk_ratio);
            }
    }
    printf("\nQ8_0 batches by cfg.batch_quant, GFLOP/s (time ratio to moe.h's f32 at the same T): INT (16-bit activations,\n"
           "vpdpwssd), INT8 (8-bit, vpdpbusd; INT where the path lacks VNNI), each repacked and on moe_prepack's tiles:\n");
    for (i = 0; i < nl; i++) {
        int a;
        for (a = 0; a < 2; a++) {
            int T = summary_T(a);
            const result *f = f32_row(specs[i].name, T);
            const result *n = find_result(specs[i].name, MOE_TYPE_Q8_0, T, "moe.h", g_opt.nthreads);
            const result *p = find_result(specs[i].name, MOE_TYPE_Q8_0, T, "moe.h-prepack", g_opt.nthreads);
            const result *e = find_result(specs[i].name, MOE_TYPE_Q8_0, T, "moe.h-int8", g_opt.nthreads);
            const result *ep = find_result(specs[i].name, MOE_TYPE_Q8_0, T, "moe.h-int8pk", g_opt.nthreads);
            if (!f || !n || !e) continue;
            printf("  %-8s q8_0  T=%-4d f32 %6.1f   int %6.1f (%.2fx)", specs[i].name, T, gflops(f),
                   gflops(n), f->t.sec / n->t.sec);
            if (p) printf(" pk %6.1f (%.2fx)", gflops(p), f->t.sec / p->t.sec);
            printf("   int8 %6.1f (%.2fx)", gflops(e), f->t.sec / e->t.sec);
            if (ep) printf(" pk %6.1f (%.2fx)", gflops(ep), f->t.sec / ep->t.sec);
            printf("\n");
        }
    }
    printf("\nBF16 batches by cfg.batch_bf16, GFLOP/s (time ratio to moe.h's f32 at the same T, same run; DOT is EXACT where the path lacks vdpbf16ps):\n");
    for (i = 0; i < nl; i++) {
        int a;
        for (a = 0; a < 2; a++) {
            int T = summary_T(a);
            const result *f = f32_row(specs[i].name, T);
            const result *e = find_result(specs[i].name, MOE_TYPE_BF16, T, "moe.h", g_opt.nthreads);
            const result *d = find_result(specs[i].name, MOE_TYPE_BF16, T, "moe.h-bf16dot", g_opt.nthreads);
            if (!f || !e || !d) continue;
            printf("  %-8s bf16  T=%-4d f32 %6.1f   exact %6.1f (%.2fx)   dot %6.1f (%.2fx)\n", specs[i].name, T,
                   gflops(f), gflops(e), f->t.sec / e->t.sec,
                   gflops(d), f->t.sec / d->t.sec);
        }
    }
    if (g_m.amx) {
        printf("\nAMX tiles (cfg.batch_amx = 1) vs the vpdpbusd / vdpbf16ps kernels, GFLOP/s (time ratio to f32 at the same T):\n");
        for (i = 0; i < nl; i++) {
                int a, q;
            for (q = 0; q < MOE_TYPE_COUNT; q++)
                for (a = 0; a < 2; a++) {
                    int T = summary_T(a);
                    const result *f = f32_row(specs[i].name, T);
                    const result *n = find_result(specs[i].name, (moe_type)q, T, q == MOE_TYPE_BF16 ? "moe.h-bf16dot" : "moe.h", g_opt.nthreads);
                    const result *x = find_result(specs[i].name, (moe_type)q, T, "moe.h-amx", g_opt.nthreads);
                    if (!f || !n || !x) continue;
                    printf("  %-8s %-6s T=%-4d f32 %6.1f   vector %6.1f (%.2fx)   amx %6.1f (%.2fx)\n", specs[i].name,
                           type_label((moe_type)q), T, gflops(f), gflops(n),
                           f->t.sec / n->t.sec, gflops(x), f->t.sec / x->t.sec);
                }
        }
    }
    printf("\nthread scaling, f32, T=%d (%d threads vs 1):", g_opt.quick ? 256 : 512, g_opt.nthreads);
    for (i = 0; i < nl; i++) {
        int T = g_opt.quick ? 256 : 512;
        const result *a = f32_row(specs[i].name, T);
        const result *b = find_result(specs[i].name, MOE_TYPE_F32, T, "moe.h", 1);
        if (a && b && g_opt.nthreads > 1) printf("  %s %.2fx", specs[i].name, b->t.sec / a->t.sec);
    }
    printf("\n");
    write_csv(g_opt.csv);
    write_svg(g_opt.svg, names, nl);
    free(g_m.bwbuf);
    printf("wrote %s and %s; checks: %s; total bench time %.0f s\n", g_opt.csv, g_opt.svg,
           g_check_fail ? "SOME MISMATCH" : "all OK", now_s() - t_start);
    return 0;
}
