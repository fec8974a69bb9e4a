/* bench/machine.c - the machine: FMA peak per SIMD width (AVX2 ymm, AVX-512 zmm) and read
   bandwidth, measured at the start and the end of the run and before every T = 1 row; the best
   value counts (noise only lowers them). */
#define _GNU_SOURCE
#include "bench.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

struct bench_machine g_m;

/* ============================================================================================
   the machine: FMA peak and read bandwidth
   ============================================================================================ */
#define FMA12(OP, M, C) \
    a0 = OP(a0, M, C); a1 = OP(a1, M, C); a2 = OP(a2, M, C); a3 = OP(a3, M, C); \
    a4 = OP(a4, M, C); a5 = OP(a5, M, C); a6 = OP(a6, M, C); a7 = OP(a7, M, C); \
    a8 = OP(a8, M, C); a9 = OP(a9, M, C); a10 = OP(a10, M, C); a11 = OP(a11, M, C);

#ifdef BENCH_AVX2
static float fma_loop_ymm(long iters, float seed)
{
    __m256 a0 = _mm256_set1_ps(seed), a1 = _mm256_set1_ps(seed + 1), a2 = _mm256_set1_ps(seed + 2);
    __m256 a3 = _mm256_set1_ps(seed + 3), a4 = _mm256_set1_ps(seed + 4), a5 = _mm256_set1_ps(seed + 5);
    __m256 a6 = _mm256_set1_ps(seed + 6), a7 = _mm256_set1_ps(seed + 7), a8 = _mm256_set1_ps(seed + 8);
    __m256 a9 = _mm256_set1_ps(seed + 9), a10 = _mm256_set1_ps(seed + 10), a11 = _mm256_set1_ps(seed + 11);
    const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    float out[8];
    long i;
    for (i = 0; i < iters; i++) { FMA12(_mm256_fmadd_ps, m, c) }
    a0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                       _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    a0 = _mm256_add_ps(a0, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    _mm256_storeu_ps(out, a0);
    return out[0] + out[7];
}
#endif
#ifdef BENCH_AVX512
static float fma_loop_zmm(long iters, float seed)
{
    __m512 a0 = _mm512_set1_ps(seed), a1 = _mm512_set1_ps(seed + 1), a2 = _mm512_set1_ps(seed + 2);
    __m512 a3 = _mm512_set1_ps(seed + 3), a4 = _mm512_set1_ps(seed + 4), a5 = _mm512_set1_ps(seed + 5);
    __m512 a6 = _mm512_set1_ps(seed + 6), a7 = _mm512_set1_ps(seed + 7), a8 = _mm512_set1_ps(seed + 8);
    __m512 a9 = _mm512_set1_ps(seed + 9), a10 = _mm512_set1_ps(seed + 10), a11 = _mm512_set1_ps(seed + 11);
    const __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    long i;
    for (i = 0; i < iters; i++) { FMA12(_mm512_fmadd_ps, m, c) }
    a0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                       _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    a0 = _mm512_add_ps(a0, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(a0);
}
#endif

/* The integer dot products of moe.h's MOE_BATCH_INT kernels on AVX-512 VNNI: vpdpbusd (Q4_0:
   u8 x s8, 4 products summed into each 32-bit lane) and vpdpwssd (Q8_0: s16 x s16, 2 products),
   12 independent chains as for the FMA peak. Their peaks are those modes' compute ceilings, in
   the same units as GFLOP/s (a product and its sum count 2 operations). */
#if defined(BENCH_AVX512) && defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define BENCH_VNNI512 1
static int dot_loop_zmm(long iters, int seed, int words)
{
    __m512i a0 = _mm512_set1_epi32(seed), a1 = _mm512_set1_epi32(seed + 1), a2 = _mm512_set1_epi32(seed + 2);
    __m512i a3 = _mm512_set1_epi32(seed + 3), a4 = _mm512_set1_epi32(seed + 4), a5 = _mm512_set1_epi32(seed + 5);
    __m512i a6 = _mm512_set1_epi32(seed + 6), a7 = _mm512_set1_epi32(seed + 7), a8 = _mm512_set1_epi32(seed + 8);
    __m512i a9 = _mm512_set1_epi32(seed + 9), a10 = _mm512_set1_epi32(seed + 10), a11 = _mm512_set1_epi32(seed + 11);
    const __m512i m = _mm512_set1_epi32(0x01030107), c = _mm512_set1_epi32(0x02ff01fe);
    long i;
    if (words) for (i = 0; i < iters; i++) { FMA12(_mm512_dpwssd_epi32, m, c) }
    else for (i = 0; i < iters; i++) { FMA12(_mm512_dpbusd_epi32, m, c) }
    a0 = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                          _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
    a0 = _mm512_add_epi32(a0, _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
    return _mm512_reduce_add_epi32(a0);
}
#endif

/* vdpbf16ps (cfg.batch_bf16 = MOE_BF16_DOT): 2 bf16 products added to each f32 lane, 4 flops */
#if defined(BENCH_AVX512) && defined(__AVX512BF16__)
#define BENCH_BF16DOT 1
static float bf16_loop_zmm(long iters, float seed)
{
    __m512 a0 = _mm512_set1_ps(seed), a1 = _mm512_set1_ps(seed + 1), a2 = _mm512_set1_ps(seed + 2);
    __m512 a3 = _mm512_set1_ps(seed + 3), a4 = _mm512_set1_ps(seed + 4), a5 = _mm512_set1_ps(seed + 5);
    __m512 a6 = _mm512_set1_ps(seed + 6), a7 = _mm512_set1_ps(seed + 7), a8 = _mm512_set1_ps(seed + 8);
    __m512 a9 = _mm512_set1_ps(seed + 9), a10 = _mm512_set1_ps(seed + 10), a11 = _mm512_set1_ps(seed + 11);
    const __m512bh m = (__m512bh)_mm512_set1_epi32(0x3f803f80), c = (__m512bh)_mm512_set1_epi32(0x33d633d6);   /* 1, 1e-7 */
    long i;
    for (i = 0; i < iters; i++) { FMA12(_mm512_dpbf16_ps, m, c) }
    a0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                       _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    a0 = _mm512_add_ps(a0, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(a0);
}
#endif

static volatile float g_sink;

/* GFLOP/s of `width` lanes x 12 FMA chains on nthreads threads; best of `reps`. 0 if the
   compiler could not build that width. `op` 0: FMA (2 flops per lane); 1, 2 (width 16 only):
   vpdpbusd (8 operations per 32-bit lane), vpdpwssd (4), in G operations per second; 3:
   vdpbf16ps (4 flops per lane). */
static double fma_peak(int width, int op, int nthreads, double seconds, int reps)
{
    long iters = 1 << 20;
    double best = 0;
    int r, retries = 0;
    const double ops = op == 1 ? 8.0 : op == 2 || op == 3 ? 4.0 : 2.0;
    if (op == 3) {
#ifndef BENCH_BF16DOT
        return 0;
#endif
        if (width != 16) return 0;
    } else if (op != 0) {
#ifndef BENCH_VNNI512
        return 0;
#endif
        if (width != 16) return 0;
    }
    if (width == 8) {
#ifndef BENCH_AVX2
        return 0;
#endif
    } else if (width == 16) {
#ifndef BENCH_AVX512
        return 0;
#endif
    } else {
        return 0;
    }
    for (r = -1; r < reps; r++) {   /* r = -1: calibrate the loop count (and warm the clocks) */
        cpu_mark m0 = cpu_now(), m1;
        double t0 = m0.t, t;
#pragma omp parallel num_threads(nthreads)
        {
            float v = 0;
#ifdef BENCH_AVX2
            if (width == 8) v = fma_loop_ymm(iters, (float)thread_id());
#endif
#ifdef BENCH_AVX512
            if (width == 16 && op == 0) v = fma_loop_zmm(iters, (float)thread_id());
#endif
#ifdef BENCH_VNNI512
            if (op == 1 || op == 2) v = (float)dot_loop_zmm(iters, thread_id(), op == 2);
#endif
#ifdef BENCH_BF16DOT
            if (op == 3) v = bf16_loop_zmm(iters, (float)thread_id());
#endif
#pragma omp critical
            g_sink = g_sink + v;
        }
        m1 = cpu_now();
        t = m1.t - t0;
        if (r < 0) {
            double scale = seconds / (t > 1e-6 ? t : 1e-6);
            iters = (long)((double)iters * scale) + 1;
            continue;
        }
        if (other_cores(m0, m1) > g_time.busy_cores && retries < 2 * reps) {   /* disturbed: again */
            retries++;
            wait_quiet();
            r--;
            continue;
        }
        {
            double gf = ops * width * 12.0 * (double)iters * nthreads / t * 1e-9;
            if (gf > best) best = gf;
        }
    }
    return best;
}

/* Read bandwidth in GB/s (1e9): nthreads sum their part of a `bytes` buffer with the widest
   vector loads, best of `reps` passes. */
static double read_bandwidth(float *buf, size_t n_floats, int nthreads, int reps)
{
    double best = 0;
    int r, retries = 0;
    for (r = 0; r < reps; r++) {
        cpu_mark m0 = cpu_now(), m1;
        double t0 = m0.t, t;
#pragma omp parallel num_threads(nthreads)
        {
            int nt = 1, id = thread_id();
            size_t per, b, e, i;
            float s = 0;
#ifdef _OPENMP
            nt = omp_get_num_threads();
#endif
            per = (n_floats / (size_t)nt) & ~(size_t)63;
            b = per * (size_t)id;
            e = id == nt - 1 ? n_floats : b + per;
            i = b;
#if defined(BENCH_AVX512)
            {
                __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
                for (; i + 64 <= e; i += 64) {
                    s0 = _mm512_add_ps(s0, _mm512_load_ps(buf + i));
                    s1 = _mm512_add_ps(s1, _mm512_load_ps(buf + i + 16));
                    s2 = _mm512_add_ps(s2, _mm512_load_ps(buf + i + 32));
                    s3 = _mm512_add_ps(s3, _mm512_load_ps(buf + i + 48));
                }
                s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
            }
#elif defined(BENCH_AVX2)
            {
                __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
                float o[8];
                for (; i + 32 <= e; i += 32) {
                    s0 = _mm256_add_ps(s0, _mm256_load_ps(buf + i));
                    s1 = _mm256_add_ps(s1, _mm256_load_ps(buf + i + 8));
                    s2 = _mm256_add_ps(s2, _mm256_load_ps(buf + i + 16));
                    s3 = _mm256_add_ps(s3, _mm256_load_ps(buf + i + 24));
                }
                _mm256_storeu_ps(o, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
                s = o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7];
            }
#endif
            {
                float t0s = 0, t1s = 0, t2s = 0, t3s = 0;
                for (; i + 4 <= e; i += 4) {
                    t0s += buf[i]; t1s += buf[i + 1]; t2s += buf[i + 2]; t3s += buf[i + 3];
                }
                for (; i < e; i++) t0s += buf[i];
                s += t0s + t1s + t2s + t3s;
            }
#pragma omp critical
            g_sink = g_sink + s;
        }
        m1 = cpu_now();
        t = m1.t - t0;
        if (other_cores(m0, m1) > g_time.busy_cores && retries < 2 * reps) {
            retries++;
            wait_quiet();
            r--;
            continue;
        }
        if ((double)n_floats * 4.0 / t * 1e-9 > best) best = (double)n_floats * 4.0 / t * 1e-9;
    }
    return best;
}

double path_peak(int threads)
{
    int i = threads < 1 ? 1 : threads > 2 ? 2 : threads;
    if (strcmp(g_m.lib_path, "avx512") == 0) return g_m.peak_zmm[i];
    if (strcmp(g_m.lib_path, "avx2") == 0) return g_m.peak_ymm[i];
    return 0;
}

static double dmax(double a, double b) { return a > b ? a : b; }

/* FMA peaks and read bandwidth; every call keeps the best value seen (noise only lowers them) */
/* Read bandwidth samples over a buffer kept for the whole run: at start, before every layer x
   type block and at the end; the best sample counts. (DRAM bandwidth is shared with whatever
   else runs on the host, which the busy column cannot see: sampling often finds the real one.) */
double sample_bandwidth(int reps)
{
    int nt2 = g_opt.nthreads;
    double now;
    if (!g_m.bwbuf) {
        long c, nch;
        g_m.bw_bytes = g_opt.quick ? ((size_t)256 << 20) : ((size_t)1 << 30);
        g_m.bwbuf = (float *)big_alloc(g_m.bw_bytes);
        nch = (long)(g_m.bw_bytes / 4 / 4096);
#pragma omp parallel for schedule(static) num_threads(nt2)
        for (c = 0; c < nch; c++) {
            size_t j;
            for (j = 0; j < 4096; j++) g_m.bwbuf[(size_t)c * 4096 + j] = (float)(j & 7) * 0.125f;
        }
    }
    g_m.bw[1] = dmax(g_m.bw[1], read_bandwidth(g_m.bwbuf, g_m.bw_bytes / 4, 1, reps));
    now = read_bandwidth(g_m.bwbuf, g_m.bw_bytes / 4, nt2, reps);
    g_m.bw[2] = dmax(g_m.bw[2], now);
    g_m.bw_samples += reps;
    return now;
}

/* FMA peaks (and a bandwidth sample); every call keeps the best value seen */
void measure_machine(void)
{
    double fs = g_opt.quick ? 0.05 : 0.25;
    int reps = g_opt.quick ? 1 : 3, nt2 = g_opt.nthreads;
    g_m.peak_ymm[1] = dmax(g_m.peak_ymm[1], fma_peak(8, 0, 1, fs, reps));
    g_m.peak_ymm[2] = dmax(g_m.peak_ymm[2], fma_peak(8, 0, nt2, fs, reps));
    g_m.peak_zmm[1] = dmax(g_m.peak_zmm[1], fma_peak(16, 0, 1, fs, reps));
    g_m.peak_zmm[2] = dmax(g_m.peak_zmm[2], fma_peak(16, 0, nt2, fs, reps));
    /* the integer modes' ceilings (MOE_BATCH_INT: Q4_0 vpdpbusd, Q8_0 vpdpwssd) */
    g_m.peak_dpbusd[1] = dmax(g_m.peak_dpbusd[1], fma_peak(16, 1, 1, fs, reps));
    g_m.peak_dpbusd[2] = dmax(g_m.peak_dpbusd[2], fma_peak(16, 1, nt2, fs, reps));
    g_m.peak_dpwssd[1] = dmax(g_m.peak_dpwssd[1], fma_peak(16, 2, 1, fs, reps));
    g_m.peak_dpwssd[2] = dmax(g_m.peak_dpwssd[2], fma_peak(16, 2, nt2, fs, reps));
    /* the BF16 dot mode's (MOE_BF16_DOT: vdpbf16ps) */
    g_m.peak_dpbf16[1] = dmax(g_m.peak_dpbf16[1], fma_peak(16, 3, 1, fs, reps));
    g_m.peak_dpbf16[2] = dmax(g_m.peak_dpbf16[2], fma_peak(16, 3, nt2, fs, reps));
    g_m.reps = reps;
    sample_bandwidth(g_opt.quick ? 2 : 5);
}

void print_machine(void)
{
    int nt2 = g_opt.nthreads;
    printf("FMA peak (12 independent FMA chains per thread, best of %d, at start and end): AVX2 ymm %.1f GFLOP/s on 1 thread, "
           "%.1f on %d; AVX-512 zmm ", g_m.reps * 2, g_m.peak_ymm[1], g_m.peak_ymm[2], nt2);
    if (g_m.peak_zmm[1] > 0) printf("%.1f on 1 thread, %.1f on %d\n", g_m.peak_zmm[1], g_m.peak_zmm[2], nt2);
    else printf("not built (no __AVX512F__)\n");
    if (g_m.peak_dpbusd[1] > 0)
        printf("integer dot-product peak (the same chains; G operations/s, a product and its sum count 2): AVX-512 VNNI "
               "vpdpbusd %.1f on 1 thread, %.1f on %d; vpdpwssd %.1f on 1 thread, %.1f on %d\n", g_m.peak_dpbusd[1],
               g_m.peak_dpbusd[2], nt2, g_m.peak_dpwssd[1], g_m.peak_dpwssd[2], nt2);
    else printf("integer dot-product peak: not built (no AVX-512 VNNI)\n");
    if (g_m.peak_dpbf16[1] > 0)
        printf("bf16 dot-product peak (vdpbf16ps, the same chains; 2 products and 2 adds per lane): %.1f GFLOP/s on 1 thread, "
               "%.1f on %d\n", g_m.peak_dpbf16[1], g_m.peak_dpbf16[2], nt2);
    else printf("bf16 dot-product peak: not built (no AVX512-BF16)\n");
    printf("read bandwidth (sum of a %.2g GiB buffer with vector loads, best of %d samples spread over the run): "
           "%.1f GB/s on 1 thread, %.1f on %d\n", (double)g_m.bw_bytes / (1 << 30), g_m.bw_samples, g_m.bw[1], g_m.bw[2], nt2);
    printf("%%peak = GFLOP/s / the FMA peak of the library's \"%s\" path at the row's thread count; "
           "%%bw = GB/s / the best %d-thread read bandwidth.\n"
           "Read bandwidth varies a lot on a shared host (samples before each T=1 row: %.0f to %.0f GB/s; CSV column\n"
           "read_bw_sampled_before), so a low %%bw can be the host's fault: compare with the naive code, timed alongside.\n",
           g_m.lib_path, nt2, g_m.bw_min_local, g_m.bw[2]);
}
