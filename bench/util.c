/* bench/util.c - small utilities of the benchmark: clock, allocation, threads, a fixed-seed
   random fill, the contention measurement (CPU time other processes take) and the weight types'
   names and row sizes. */
#define _GNU_SOURCE
#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
#include <unistd.h>
#define BENCH_HAVE_RUSAGE 1
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

struct bench_time g_time = { 0.25, 3, 1.5, 0.3, 3, 90, 0 };

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sleep_s(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

void die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

cpu_mark cpu_now(void)
{
    cpu_mark m;
    memset(&m, 0, sizeof m);
    m.t = now_s();
#if defined(__linux__) && defined(BENCH_HAVE_RUSAGE)
    {
        FILE *f = fopen("/proc/stat", "r");
        unsigned long long v[8];
        struct rusage ru;
        double hz = (double)sysconf(_SC_CLK_TCK);
        if (f) {
            if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                       &v[6], &v[7]) == 8 && hz > 0) {
                m.busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / hz;
                m.ok = 1;
            }
            fclose(f);
        }
        if (getrusage(RUSAGE_SELF, &ru) == 0)
            m.self = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
        else
            m.ok = 0;
    }
#endif
    return m;
}

double other_cores(cpu_mark a, cpu_mark b)
{
    double o;
    if (!a.ok || !b.ok || b.t - a.t <= 0) return -1;
    o = ((b.busy - a.busy) - (b.self - a.self)) / (b.t - a.t);
    return o < 0 ? 0 : o;
}

/* After a contended repetition: idle (in 0.5 s probes) until other processes leave the CPUs
   alone, while the --wait-quiet budget lasts. */
void wait_quiet(void)
{
    while (g_time.waited_s < g_time.wait_budget_s) {
        cpu_mark a = cpu_now(), b;
        double o;
        sleep_s(0.5);
        b = cpu_now();
        g_time.waited_s += b.t - a.t;
        o = other_cores(a, b);
        if (o < 0 || o <= g_time.busy_cores) return;
    }
}

/* 64-byte aligned, huge pages where the kernel gives them on request (same for every
   implementation timed here), pages faulted in by the caller's first write. */
void *big_alloc(size_t bytes)
{
    void *p = NULL;
    size_t align = bytes >= ((size_t)4 << 20) ? ((size_t)2 << 20) : 64;
    if (bytes == 0) bytes = 64;
    if (posix_memalign(&p, align, bytes) != 0 || !p) {
        fprintf(stderr, "bench: out of memory allocating %.2f GiB\n", (double)bytes / (1 << 30));
        exit(1);
    }
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= ((size_t)4 << 20)) madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

int max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* splitmix64: a fixed-seed generator, filled in chunks so the result does not depend on the
   number of threads that fill it. */
uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void fill_uniform(float *p, size_t n, float scale, uint64_t seed)
{
    const size_t chunk = (size_t)1 << 16;
    long nch = (long)((n + chunk - 1) / chunk);
    long c;
#pragma omp parallel for schedule(static)
    for (c = 0; c < nch; c++) {
        uint64_t s = seed * 0x9E3779B97F4A7C15ull + (uint64_t)c * 0xD1B54A32D192ED03ull;
        size_t b = (size_t)c * chunk, e = b + chunk < n ? b + chunk : n, i;
        for (i = b; i < e; i++) {
            uint64_t r = splitmix64(&s);
            p[i] = ((float)(r >> 40) * (2.0f / 16777216.0f) - 1.0f) * scale;
        }
    }
}

/* Types added after the first five (K-quants, MXFP4, FP8): the naive baseline decodes a tile of
   weight rows with the library's public moe_dequantize and dots it with f32 activations. */
int is_new_type(moe_type t) { return (int)t >= (int)MOE_TYPE_Q4_K; }

/* naive dots q8_0/q4_0 block by block against q8_0 activations (ggml style) */
int is_q8act(moe_type t) { return t == MOE_TYPE_Q8_0 || t == MOE_TYPE_Q4_0; }

/* bytes of one row of n values; the first five types computed here (checked against
   moe_type_row_size in set_type), the others as the library states them (0: n is not whole blocks) */
size_t row_bytes(moe_type t, int n)
{
    switch (t) {
    case MOE_TYPE_F32: return (size_t)n * 4;
    case MOE_TYPE_F16: case MOE_TYPE_BF16: return (size_t)n * 2;
    case MOE_TYPE_Q8_0: return (size_t)(n / 32) * sizeof(blk_q8);
    case MOE_TYPE_Q4_0: return (size_t)(n / 32) * sizeof(blk_q4);
    default: return moe_type_row_size(t, (size_t)n);
    }
}

const char *type_label(moe_type t) { return moe_type_name(t); }
