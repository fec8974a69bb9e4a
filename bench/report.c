/* bench/report.c - the results of the run: every timing and check kept in memory, the table
   (stdout, and progress rows on stderr) and the CSV file. */
#define _GNU_SOURCE
#include "bench.h"

#include <string.h>

/* ============================================================================================
   results
   ============================================================================================ */
#define MAX_CHECKS 256
check_row g_chk[MAX_CHECKS];
int g_nchk;

void add_check(const char *layer, moe_type type, int T, const char *what, double err)
{
    if (err < 0 || g_nchk >= MAX_CHECKS) return;
    g_chk[g_nchk].layer = layer; g_chk[g_nchk].type = type; g_chk[g_nchk].T = T;
    g_chk[g_nchk].what = what; g_chk[g_nchk].err = err;
    g_nchk++;
}

#define MAX_RESULTS 1024
result g_res[MAX_RESULTS];
int g_nres;

result *add_result(const char *layer, moe_type type, int T, const char *impl, int threads,
                          timing t, double flops, double bytes)
{
    result *r;
    if (g_nres >= MAX_RESULTS) die("too many results");
    r = &g_res[g_nres++];
    r->layer = layer; r->type = type; r->T = T; r->impl = impl; r->threads = threads;
    r->t = t; r->flops = flops; r->bytes = bytes; r->bw_local = 0;
    return r;
}

const result *find_result(const char *layer, moe_type type, int T, const char *impl, int threads)
{
    int i;
    for (i = 0; i < g_nres; i++) {
        const result *r = &g_res[i];
        if (r->T == T && r->type == type && r->threads == threads && strcmp(r->layer, layer) == 0 &&
            strcmp(r->impl, impl) == 0)
            return r;
    }
    return NULL;
}

static double ratio(const result *lib, const result *other)
{
    return other && lib && lib->t.sec > 0 ? other->t.sec / lib->t.sec : 0;
}

static void fmt_ratio(char *buf, size_t n, double r)
{
    if (r <= 0) snprintf(buf, n, "%s", "-");
    else if (r >= 100) snprintf(buf, n, "%.0fx", r);
    else snprintf(buf, n, "%.2fx", r);
}

/* The ceiling of the instruction a moe.h row's kernels multiply with, at its thread count (GFLOP/s,
   or G operations/s: a product and its sum count 2, as flops do): vdpbf16ps for BF16 with
   MOE_BF16_DOT; with MOE_BATCH_INT, vpdpbusd for the 8-bit codes (Q4_0, Q4_K, Q5_K, Q2_K, MXFP4)
   and vpdpwssd for the 16-bit ones (Q8_0's 256 q1 + q2, Q6_K, Q3_K; the few-token Q8_0 kernels
   run vpdpbusd twice, the same ceiling; "moe.h-prepack" rows too); else the FMA peak of the library's path. 0: not
   measured on this CPU (no VNNI / AVX512-BF16; AMX rows: the tile peak is never measured), or not a moe.h row. */
static double row_ceiling(const result *r)
{
    int i = r->threads < 2 ? 1 : 2;
    if (strcmp(r->impl, "moe.h-bf16dot") == 0) return g_m.peak_dpbf16[i];
    if (strcmp(r->impl, "moe.h-amx") == 0) return 0;      /* the tiles' peak is not measured */
    if (strcmp(r->impl, "moe.h-int8") == 0 || strcmp(r->impl, "moe.h-int8pk") == 0) return g_m.peak_dpbusd[i];   /* Q8_0 on q1 alone (MOE_BATCH_INT8) */
    if (strcmp(r->impl, "moe.h") == 0 || strcmp(r->impl, "moe.h-prepack") == 0)
        switch (r->type) {
        case MOE_TYPE_Q4_0: case MOE_TYPE_Q4_K: case MOE_TYPE_Q5_K: case MOE_TYPE_Q2_K: case MOE_TYPE_MXFP4:
            return g_m.peak_dpbusd[i];
        case MOE_TYPE_Q8_0: case MOE_TYPE_Q6_K: case MOE_TYPE_Q3_K:
            return g_m.peak_dpwssd[i];
        default:
            break;
        }
    return strncmp(r->impl, "moe.h", 5) == 0 && strcmp(r->impl, "moe.h-scalar") != 0 ? path_peak(r->threads) : 0;
}

void print_table_header(FILE *f)
{
    fprintf(f, "%-8s %-7s %5s %2s %11s %9s %8s %7s %6s %6s %6s %9s %9s %9s %5s\n", "layer", "type", "T", "th",
           "ns/token", "GFLOP/s", "GB/s", "flop/B", "%peak", "%ceil", "%bw", "vs scalar", "vs naive", "vs BLAS", "busy");
    fprintf(f, "%s\n", "-------- ------- ----- -- ----------- --------- -------- ------- ------ ------ ------ --------- --------- --------- -----");
}

void print_row(FILE *f, const result *r)
{
    const result *sc = find_result(r->layer, r->type, r->T, "moe.h-scalar", r->threads);
    const result *nv = find_result(r->layer, r->type, r->T, "naive", r->threads);
    const result *bl = find_result(r->layer, r->type, r->T, "openblas", r->threads);
    double gf = r->flops / r->t.sec * 1e-9, gb = r->bytes / r->t.sec * 1e-9;
    double pk = path_peak(r->threads), bw = g_m.bw[2], ce = row_ceiling(r);
    char a[24], b[24], c[24], p[16], q[16], o[16], e[16];
    double oth = r->t.other;
    fmt_ratio(a, sizeof a, ratio(r, sc));
    fmt_ratio(b, sizeof b, ratio(r, nv));
    fmt_ratio(c, sizeof c, ratio(r, bl));
    if (r->T > 1 && pk > 0) snprintf(p, sizeof p, "%.1f", 100 * gf / pk); else snprintf(p, sizeof p, "-");
    if (r->T > 1 && ce > 0) snprintf(e, sizeof e, "%.1f", 100 * gf / ce); else snprintf(e, sizeof e, "-");
    if (r->T == 1 && bw > 0) snprintf(q, sizeof q, "%.1f", 100 * gb / bw); else snprintf(q, sizeof q, "-");
    /* busy: the most cores other processes took during this row's measurements (all impls) */
    if (sc && sc->t.other > oth) oth = sc->t.other;
    if (nv && nv->t.other > oth) oth = nv->t.other;
    if (bl && bl->t.other > oth) oth = bl->t.other;
    if (oth < 0) snprintf(o, sizeof o, "?"); else snprintf(o, sizeof o, "%.1f%s", oth, oth > g_time.busy_cores ? "!" : "");
    fprintf(f, "%-8s %-7s %5d %2d %11.0f %9.1f %8.1f %7.2f %6s %6s %6s %9s %9s %9s %5s\n", r->layer,
           type_label(r->type), r->T, r->threads, r->t.sec / r->T * 1e9, gf, gb, r->flops / r->bytes,
           p, e, q, a, b, c, o);
    fflush(f);
}

void write_csv(const char *path)
{
    FILE *f = fopen(path, "w");
    int i;
    if (!f) { fprintf(stderr, "bench: cannot write %s\n", path); return; }
    fprintf(f, "section,layer,weight_type,T,impl,threads,sec_per_call,ns_per_token,gflops,gbytes_per_s,"
               "flops_per_call,weight_bytes_per_call,arith_intensity,pct_fma_peak,pct_read_bw,"
               "speedup_vs_scalar,speedup_vs_naive,speedup_vs_openblas,calls_per_rep,reps,best_sec_per_call,"
               "other_cores,retries,rel_err_vs_naive,read_bw_sampled_before,pct_mode_ceiling\n");
    {   /* the peaks, on 1 thread and on 2 */
        static const char *const pname[5] = { "fma_avx2_ymm", "fma_avx512_zmm", "vnni_dpbusd_zmm", "vnni_dpwssd_zmm", "bf16_dpbf16ps_zmm" };
        const double *pv[5] = { g_m.peak_ymm, g_m.peak_zmm, g_m.peak_dpbusd, g_m.peak_dpwssd, g_m.peak_dpbf16 };
        int p, t;
        for (p = 0; p < 5; p++)
            for (t = 1; t <= 2; t++) fprintf(f, "machine,,,,%s,%d,,,%.3f,,,,,,,,,,,,,,,,,\n", pname[p], t, pv[p][t]);
    }
    fprintf(f, "machine,,,,read_bw,1,,,,%.3f,,,,,,,,,,,,,,,,\n", g_m.bw[1]);
    fprintf(f, "machine,,,,read_bw,2,,,,%.3f,,,,,,,,,,,,,,,,\n", g_m.bw[2]);
    for (i = 0; i < g_nres; i++) {
        const result *r = &g_res[i];
        int lib = strcmp(r->impl, "moe.h") == 0;
        double gf = r->flops / r->t.sec * 1e-9, gb = r->bytes / r->t.sec * 1e-9;
        double pk = strcmp(r->impl, "moe.h") == 0 ? path_peak(r->threads) : 0, ce = row_ceiling(r);
        fprintf(f, "layer,%s,%s,%d,%s,%d,%.9g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,", r->layer,
                type_label(r->type), r->T, r->impl, r->threads, r->t.sec, r->t.sec / r->T * 1e9, gf, gb,
                r->flops, r->bytes, r->flops / r->bytes);
        if (pk > 0) fprintf(f, "%.4g,", 100 * gf / pk); else fprintf(f, ",");
        if (r->T == 1 && g_m.bw[2] > 0) fprintf(f, "%.4g,", 100 * gb / g_m.bw[2]);
        else fprintf(f, ",");
        if (lib) {
            double a = ratio(r, find_result(r->layer, r->type, r->T, "moe.h-scalar", r->threads));
            double b = ratio(r, find_result(r->layer, r->type, r->T, "naive", r->threads));
            double c = ratio(r, find_result(r->layer, r->type, r->T, "openblas", r->threads));
            if (a > 0) fprintf(f, "%.4g,", a); else fprintf(f, ",");
            if (b > 0) fprintf(f, "%.4g,", b); else fprintf(f, ",");
            if (c > 0) fprintf(f, "%.4g,", c); else fprintf(f, ",");
        } else {
            fprintf(f, ",,,");
        }
        fprintf(f, "%d,%d,%.9g,%.3f,%d,,", r->t.calls, r->t.reps, r->t.best, r->t.other, r->t.retries);
        if (r->bw_local > 0) fprintf(f, "%.3f,", r->bw_local); else fprintf(f, ",");
        if (ce > 0 && r->T > 1) fprintf(f, "%.4g\n", 100 * gf / ce); else fprintf(f, "\n");
    }
    for (i = 0; i < g_nchk; i++)
        fprintf(f, "check,%s,%s,%d,%s,,,,,,,,,,,,,,,,,,,%.3g,,\n", g_chk[i].layer, type_label(g_chk[i].type), g_chk[i].T,
                g_chk[i].what, g_chk[i].err);
    fclose(f);
}
