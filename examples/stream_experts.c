/* stream_experts.c - an MoE layer whose experts do not fit a memory budget, streamed from storage.

   The layer has OLMoE-1B-7B's shape (d_model 2048, d_ff 1024, 64 experts, top-8, softmax
   without renormalisation, SwiGLU) and lives in a file this program writes: a 4 KiB header, the
   f32 router, then one contiguous block per expert (gate | up | down, q4_0 by default: 3.54 MB),
   each padded to 4 KiB; 227 MB in all. Only the router stays in memory. The experts go through
   an LRU cache of B expert-sized slots in one caller buffer:

     1. route first: moe_route (the router only) gives the token's top-k experts and weights;
     2. fetch: each routed expert that is not resident is read with one pread (O_DIRECT: the
        page cache keeps no second copy, so the budget is the real memory use) into the least
        recently used slot, and the layer's moe_tensor.expert_data tables are repointed at it.
        An evicted expert's entries point at a dummy (slot 0's memory: valid, never read, since
        only routed experts run and they are all resident by now);
     3. prefetch: the router's next experts for this token (ranks k+1..k+P, the near misses) are
        read into slots by a helper thread while the layer computes: with hidden states that
        drift slowly, as real text's do, they are the likeliest newcomers in the next token's
        top-k. Real decoding cannot route the next token early (its input at this layer exists
        only once this token has gone through the whole model), so the guess uses only what is
        known now. A guess may evict only an expert unused for the last AGE tokens;
     4. compute: moe_forward_ex with route_ids / route_weights (the router is not run again).
   Every token's output is compared bit for bit with the all-resident layer's.
   T=8 (chunks of 8 tokens): when a chunk's experts outnumber the slots, the resident ones run
   first, then each missing one in turn, one expert per call (expert_begin/end) with slot_out,
   and moe_combine sums the slots: the same bits as one call on the whole layer.

   The naive baseline: the whole file mmap'ed, the OS page cache decides; cold (the file dropped
   from the page cache first with posix_fadvise(POSIX_FADV_DONTNEED)) and warm.

   Routing like a real model's: expert popularity is skewed and consecutive tokens reuse experts
   (OLMoE and Mixtral papers; see the README), modelled by a Zipf prior on the router (bias
   -s ln(rank): scores times rank^-s, s = 1, router logits of standard deviation 2) and inputs
   x_t = a x_{t-1} + sqrt(1 - a^2) noise, a = 0.8. The program prints the popularity it gets.

   Last, the same cache without an OS: a firmware-style layer whose experts come from "flash"
   through a callback, expert_rows_from_flash(e, dst), into a static arena of 4 slots.

       make stream-run                     (build and run; exits non-zero on a mismatch)
       cc -std=c99 -O2 -march=native -fopenmp -I. examples/stream_experts.c -o stream_experts -lm -lpthread
       OMP_WAIT_POLICY=passive ./stream_experts [options]
   -n TOKENS per run (256, a multiple of 8)   -o FILE the weight file (default
   /tmp/moe_stream_experts.<pid>.bin, deleted at the end unless --keep)   -t q4_0|q4_K|q8_0
   (q4_K takes ~5x longer to write)   -p P experts prefetched per token (4)   -g AGE (2)
   -s ZIPF exponent (1)   -r router logit standard deviation (2)   -a DRIFT (0.8)
   --small d_model 1024, d_ff 512 (a 4x smaller file)   --routing print the routing statistics
   only (no file). OMP_WAIT_POLICY=passive: OpenMP workers that spin while the main thread waits
   in pread take the CPU from everything else (on a busy 2-core machine, 4x slower). */
#define _GNU_SOURCE              /* O_DIRECT, mincore, posix_fadvise, pread */
#define MOE_IMPLEMENTATION
#include "../moe.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ============================================================================================
   1. The expert cache. No OS and no heap: the caller hands in every array, and experts arrive
      through a fetch callback (pread on a host, a flash driver on a microcontroller).
   ============================================================================================ */
typedef long (*expert_fetch_fn)(void *ctx, int expert, void *dst);   /* bytes read, < 0 on error */

typedef struct xcache {
    int n_experts, n_slots;
    size_t slot_bytes;               /* bytes between slots (at least one expert's block)        */
    unsigned char *arena;            /* n_slots * slot_bytes                                     */
    size_t off_up, off_down;         /* an expert's block: gate at 0, up at off_up, down at ...  */
    const void **gate, **up, **down; /* the layer's expert_data tables [n_experts]               */
    int *slot_of;                    /* [n_experts] its slot, or -1                              */
    int *owner;                      /* [n_slots] its expert, or -1                              */
    unsigned long *stamp;            /* [n_slots] step of last use: LRU order, 0 = empty         */
    unsigned char *ahead;            /* [n_slots] 1: filled by a prefetch, not used yet          */
    unsigned long clock;             /* the current step                                         */
    expert_fetch_fn fetch;
    void *fetch_ctx;
    unsigned long long hits, misses, bytes, n_prefetch, prefetch_used;
} xcache;

static void xc_point(xcache *c, int e, const unsigned char *base)
{
    c->gate[e] = base; c->up[e] = base + c->off_up; c->down[e] = base + c->off_down;
}
/* Empty cache; every table entry at the dummy (slot 0's memory: valid, never read while the
   expert is not routed). */
static void xc_reset(xcache *c)
{
    int i;
    for (i = 0; i < c->n_experts; i++) { c->slot_of[i] = -1; xc_point(c, i, c->arena); }
    for (i = 0; i < c->n_slots; i++) { c->owner[i] = -1; c->stamp[i] = 0; c->ahead[i] = 0; }
    c->clock = 1;
    c->hits = c->misses = c->bytes = c->n_prefetch = c->prefetch_used = 0;
}
/* A new step: slots used before it may be evicted, those used in it may not. */
static void xc_step(xcache *c) { c->clock++; }
/* Empty slot first, then the least recently used one last used before step `before`. */
static int xc_victim(const xcache *c, unsigned long before)
{
    int s, best = -1;
    for (s = 0; s < c->n_slots; s++)
        if (c->stamp[s] < before && (best < 0 || c->stamp[s] < c->stamp[best])) best = s;
    return best;
}
static void xc_bind(xcache *c, int e, int s)
{
    if (c->owner[s] >= 0) { c->slot_of[c->owner[s]] = -1; xc_point(c, c->owner[s], c->arena); }
    c->owner[s] = e; c->slot_of[e] = s; c->stamp[s] = c->clock; c->ahead[s] = 0;
    xc_point(c, e, c->arena + (size_t)s * c->slot_bytes);
}
static void xc_unbind(xcache *c, int s)
{
    if (c->owner[s] >= 0) { c->slot_of[c->owner[s]] = -1; xc_point(c, c->owner[s], c->arena); }
    c->owner[s] = -1; c->stamp[s] = 0; c->ahead[s] = 0;
}
/* Expert e resident for this step: 1 it was (a hit), 0 fetched now, -1 no slot or read error. */
static int xc_need(xcache *c, int e)
{
    int s = c->slot_of[e];
    long r;
    if (s >= 0) {
        c->hits++;
        if (c->ahead[s]) { c->prefetch_used++; c->ahead[s] = 0; }
        c->stamp[s] = c->clock;
        return 1;
    }
    if ((s = xc_victim(c, c->clock)) < 0) return -1;
    xc_bind(c, e, s);
    r = c->fetch(c->fetch_ctx, e, c->arena + (size_t)s * c->slot_bytes);
    if (r < 0) { xc_unbind(c, s); return -1; }
    c->misses++; c->bytes += (unsigned long long)r;
    return 0;
}
/* A slot for expert e (not resident), predicted for a later step; the caller fills it (and
   adds the bytes) before that step. Only an empty slot, or one unused for `age` steps besides
   this one, is given up for a guess; -1: none. */
static int xc_reserve(xcache *c, int e, unsigned long age)
{
    int s = xc_victim(c, c->clock > age + 1 ? c->clock - age : 1);
    if (s < 0) return -1;
    xc_bind(c, e, s);
    c->ahead[s] = 1; c->n_prefetch++;
    return s;
}

/* ============================================================================================
   2. The layer's file: header, router, experts (each block padded to 4 KiB for O_DIRECT)
   ============================================================================================ */
#define ALIGN_IO 4096u
#define MAX_PF   16
#define MAX_E    64               /* the fixed-size arrays below */
static const char MAGIC[8] = { 'M', 'O', 'E', 'X', 'S', 'T', 'R', '1' };

typedef struct shape {
    int d, f, E, k;                  /* d_model, d_ff, experts, top-k                            */
    moe_type type;
    size_t row_gu, row_dn;           /* bytes of a gate/up row (d values), of a down row (f)     */
    size_t off_up, off_down, expert_bytes, stride;
    size_t router_at, experts_at, file_size;
    float zipf, drift, sigma;        /* router prior exponent, input drift, router logit scale  */
} shape;

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

static int shape_init(shape *s, int d, int f, int E, int k, moe_type t)
{
    s->d = d; s->f = f; s->E = E; s->k = k; s->type = t;
    s->row_gu = moe_type_row_size(t, (size_t)d);
    s->row_dn = moe_type_row_size(t, (size_t)f);
    if (!s->row_gu || !s->row_dn) return -1;
    s->off_up = (size_t)f * s->row_gu;
    s->off_down = 2 * s->off_up;
    s->expert_bytes = s->off_down + (size_t)d * s->row_dn;
    s->stride = round_up(s->expert_bytes, ALIGN_IO);
    s->router_at = ALIGN_IO;
    s->experts_at = round_up(s->router_at + ((size_t)E * (size_t)d + (size_t)E) * sizeof(float), ALIGN_IO);
    s->file_size = s->experts_at + (size_t)E * s->stride;
    return 0;
}

/* Deterministic weights: a hash of (matrix, index), uniform in [-1, 1). */
static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float unif(uint64_t key, uint64_t i) { return (float)((double)(mix64(key ^ mix64(i)) >> 40) / 8388608.0 - 1.0); }

static int pwrite_all(int fd, const void *p, size_t n, size_t off)
{
    const char *b = (const char *)p;
    while (n) {
        ssize_t r = pwrite(fd, b, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        b += r; n -= (size_t)r; off += (size_t)r;
    }
    return 0;
}
static int pread_all(int fd, void *p, size_t n, size_t off)
{
    char *b = (char *)p;
    while (n) {
        ssize_t r = pread(fd, b, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        b += r; n -= (size_t)r; off += (size_t)r;
    }
    return 0;
}

/* Router rows: logits of unit-variance inputs have standard deviation sigma. Bias: the Zipf
   prior -zipf * ln(rank), rank 1..E in a fixed shuffled order (hot experts are not 0, 1, 2..). */
static void make_router(const shape *s, float *router, float *bias)
{
    int e, i, *perm = (int *)malloc((size_t)s->E * sizeof(int));
    float sc = s->sigma * sqrtf(3.0f / (float)s->d);
    for (e = 0; e < s->E; e++) perm[e] = e;
    for (e = s->E - 1; e > 0; e--) {
        int j = (int)(mix64(777u + (uint64_t)e) % (uint64_t)(e + 1)), t = perm[e];
        perm[e] = perm[j]; perm[j] = t;
    }
    for (e = 0; e < s->E; e++) {
        for (i = 0; i < s->d; i++) router[(size_t)e * (size_t)s->d + (size_t)i] = sc * unif(1000u + (uint64_t)e, (uint64_t)i);
        bias[perm[e]] = -s->zipf * logf((float)(e + 1));
    }
    free(perm);
}

static int write_layer(const shape *s, const char *path)
{
    unsigned char head[ALIGN_IO];
    float *router = (float *)malloc(((size_t)s->E * (size_t)s->d + (size_t)s->E) * sizeof(float));
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644), failed = 0, e;
    if (fd < 0 || !router) { perror(path); free(router); if (fd >= 0) close(fd); return -1; }
    memset(head, 0, sizeof head);
    memcpy(head, MAGIC, 8);
    { int32_t v[5]; v[0] = s->d; v[1] = s->f; v[2] = s->E; v[3] = s->k; v[4] = (int32_t)s->type; memcpy(head + 8, v, sizeof v); }
    make_router(s, router, router + (size_t)s->E * (size_t)s->d);
    if (pwrite_all(fd, head, sizeof head, 0) ||
        pwrite_all(fd, router, ((size_t)s->E * (size_t)s->d + (size_t)s->E) * sizeof(float), s->router_at)) failed = 1;
    free(router);
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
        float *tmp = (float *)malloc((size_t)s->d * (size_t)s->f * sizeof(float));
        unsigned char *blk = (unsigned char *)calloc(1, s->stride);
        if (!tmp || !blk) failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (e = 0; e < s->E; e++) {
            int m;
            if (failed) continue;
            for (m = 0; m < 3; m++) {   /* gate, up: [f][d], scale 1/sqrt(d); down: [d][f], 1/sqrt(f) */
                size_t i, n = (size_t)s->d * (size_t)s->f;
                float sc = sqrtf(3.0f / (float)(m < 2 ? s->d : s->f));
                uint64_t key = mix64(((uint64_t)e << 8) | (uint64_t)m);
                size_t at = m == 0 ? 0 : m == 1 ? s->off_up : s->off_down;
                for (i = 0; i < n; i++) tmp[i] = sc * unif(key, i);
                if (moe_quantize(s->type, tmp, blk + at, (size_t)(m < 2 ? s->f : s->d), (size_t)(m < 2 ? s->d : s->f)) != MOE_OK)
                    failed = 1;
            }
            if (pwrite_all(fd, blk, s->stride, s->experts_at + (size_t)e * s->stride)) failed = 1;
        }
        free(tmp); free(blk);
    }
    if (fsync(fd)) failed = 1;        /* dirty pages cannot be dropped from the page cache */
    close(fd);
    if (failed) fprintf(stderr, "stream_experts: writing %s failed\n", path);
    return failed ? -1 : 0;
}

/* ============================================================================================
   3. Host: the runs
   ============================================================================================ */
typedef struct host {
    shape s;
    const char *path;
    int fd;                          /* buffered: header, router, mmap                           */
    int fd_direct;                   /* O_DIRECT for the cache's reads (or fd: see fetch_pread)  */
    int direct;
    float *router, *bias;            /* always resident                                          */
    float *x;                        /* [n_tok][d] the hidden states reaching the layer          */
    int n_tok;
    void *work;
    size_t work_size;
} host;

typedef struct row {
    char name[48];
    double mem_mb, hit, app_mb, os_mb, tok_s;   /* app_mb, os_mb: MB read per token         */
    double pf_used;                              /* prefetched experts used before eviction   */
    int n_pf, exact;
} row;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
/* Bytes this process made the kernel fetch from storage (-1: no /proc/self/io). */
static long long os_read_bytes(void)
{
    char line[128];
    long long v = -1;
    FILE *f = fopen("/proc/self/io", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) if (sscanf(line, "read_bytes: %lld", &v) == 1) break;
    fclose(f);
    return v;
}

static int make_layer(moe_layer *L, const host *h, int top_k, const void **g, const void **u, const void **dn)
{
    moe_config cfg = moe_config_default();
    moe_weights w = moe_weights_default();
    cfg.d_model = h->s.d; cfg.d_ff = h->s.f; cfg.n_experts = h->s.E; cfg.top_k = top_k;
    cfg.act = MOE_ACT_SWIGLU; cfg.score = MOE_SCORE_SOFTMAX;
    cfg.norm_topk = 0;                                   /* OLMoE: norm_topk_prob = false */
    w.router.type = MOE_TYPE_F32; w.router.data = h->router; w.router_bias = h->bias;
    w.gate.type = w.up.type = w.down.type = h->s.type;
    w.gate.expert_data = g; w.up.expert_data = u; w.down.expert_data = dn;
    if (moe_layer_init(L, &cfg, &w) != MOE_OK) { fprintf(stderr, "stream_experts: %s\n", moe_layer_error(L)); return -1; }
    return 0;
}

/* ---- the naive baseline: the whole file mmap'ed, the page cache decides ---------------------- */
static int all_resident(const unsigned char *p, size_t n, unsigned char *vec, size_t page)
{
    size_t i, lead = (size_t)((uintptr_t)p % page), np = (n + lead + page - 1) / page;
    if (mincore((void *)(p - lead), n + lead, vec)) return 0;
    for (i = 0; i < np; i++) if (!(vec[i] & 1)) return 0;
    return 1;
}

static int mmap_run(host *h, int warm, int T, float *y, int *ids_all, row *r)
{
    const shape *s = &h->s;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), i, np = (s->file_size + page - 1) / page;
    const void **tab = (const void **)malloc(3 * (size_t)s->E * sizeof(void *));
    unsigned char *vec = (unsigned char *)malloc(np);
    int ids[8 * MAX_E], e, t, j;
    float wts[8 * MAX_E];
    unsigned long long hits = 0, uses = 0;
    long long rb0, rb1;
    double t0, t1;
    unsigned char *map;
    moe_layer L;
    if (!tab || !vec || (size_t)T * (size_t)s->k > 8 * MAX_E) { free(tab); free(vec); return -1; }
    if (!warm) posix_fadvise(h->fd, 0, 0, POSIX_FADV_DONTNEED);
    map = (unsigned char *)mmap(NULL, s->file_size, PROT_READ, MAP_PRIVATE, h->fd, 0);
    if (map == MAP_FAILED) { perror("mmap"); free(tab); free(vec); return -1; }
    if (warm) { volatile unsigned char sum = 0; for (i = 0; i < s->file_size; i += page) sum ^= map[i]; (void)sum; }
    for (e = 0; e < s->E; e++) {
        const unsigned char *b = map + s->experts_at + (size_t)e * s->stride;
        tab[e] = b; tab[s->E + e] = b + s->off_up; tab[2 * s->E + e] = b + s->off_down;
    }
    if (make_layer(&L, h, s->k, tab, tab + s->E, tab + 2 * s->E)) { munmap(map, s->file_size); free(tab); free(vec); return -1; }
    rb0 = os_read_bytes();
    t0 = now_s();
    for (t = 0; t < h->n_tok; t += T) {
        const float *xt = h->x + (size_t)t * (size_t)s->d;
        moe_run_opts o;
        /* routed here only to count what the page cache held (mincore faults nothing in) */
        if (moe_route(&L, xt, T, ids, wts, h->work, h->work_size) != MOE_OK) goto fail;
        for (j = 0; j < T * s->k; j++) {
            e = ids[j];
            uses++;
            hits += (unsigned long long)all_resident(map + s->experts_at + (size_t)e * s->stride, s->expert_bytes, vec, page);
        }
        memset(&o, 0, sizeof o);
        o.ids_out = ids_all ? ids_all + (size_t)t * (size_t)s->k : NULL;
        if (moe_forward_ex(&L, xt, T, y + (size_t)t * (size_t)s->d, h->work, h->work_size, &o) != MOE_OK) goto fail;
    }
    t1 = now_s();
    rb1 = os_read_bytes();
    r->hit = (double)hits / (double)uses;
    r->app_mb = -1;
    r->os_mb = rb0 >= 0 ? (double)(rb1 - rb0) / 1e6 / h->n_tok : -1;
    r->tok_s = h->n_tok / (t1 - t0);
    r->mem_mb = 0;
    if (!mincore(map, s->file_size, vec)) for (i = 0; i < np; i++) r->mem_mb += (vec[i] & 1) ? (double)page / 1e6 : 0.0;
    r->n_pf = 0; r->pf_used = 0;
    munmap(map, s->file_size); free(tab); free(vec);
    return 0;
fail:
    fprintf(stderr, "stream_experts: forward failed\n");
    munmap(map, s->file_size); free(tab); free(vec);
    return -1;
}

/* ---- the cache: pread into LRU slots, route first, prefetch the near misses ------------------ */
typedef struct file_src { int fd, direct; size_t experts_at, stride; } file_src;

/* One expert's block from the file. O_DIRECT bypasses the page cache; where it is refused,
   a buffered read followed by POSIX_FADV_DONTNEED keeps the page cache from holding a copy. */
static long fetch_pread(void *ctx, int e, void *dst)
{
    file_src *f = (file_src *)ctx;
    size_t off = f->experts_at + (size_t)e * f->stride;
    if (pread_all(f->fd, dst, f->stride, off)) return -1;
    if (!f->direct) posix_fadvise(f->fd, (off_t)off, (off_t)f->stride, POSIX_FADV_DONTNEED);
    return (long)f->stride;
}

typedef struct pf_job { xcache *c; int n, e[MAX_PF], s[MAX_PF]; long long bytes; int failed; } pf_job;
static void *pf_main(void *arg)
{
    pf_job *j = (pf_job *)arg;
    int i;
    for (i = 0; i < j->n; i++) {
        long r = j->c->fetch(j->c->fetch_ctx, j->e[i], j->c->arena + (size_t)j->s[i] * j->c->slot_bytes);
        if (r < 0) j->failed = 1; else j->bytes += r;
    }
    return NULL;
}

static unsigned long pf_age = 2;   /* -g */
static int cache_run(host *h, int n_slots, int n_pf, int T, float *y, row *r)
{
    const shape *s = &h->s;
    size_t E = (size_t)s->E, D = (size_t)s->d;
    int K = s->k, ids[8 * MAX_E], wids[MAX_E + MAX_PF], uniq[MAX_E], nu, t, j, q, rc = -1, mark[MAX_E];
    float wts[8 * MAX_E], *so = NULL, *coef = NULL;
    const void **tab = (const void **)malloc(3 * E * sizeof(void *));
    int *slot_of = (int *)malloc(E * sizeof(int)), *owner = (int *)malloc((size_t)n_slots * sizeof(int));
    unsigned long *stamp = (unsigned long *)malloc((size_t)n_slots * sizeof(unsigned long));
    unsigned char *ahead = (unsigned char *)malloc((size_t)n_slots), *arena = NULL;
    file_src src;
    xcache c;
    moe_layer L, W;
    long long rb0, rb1;
    double t0, t1;
    if (T * K > 8 * 64 || n_pf > MAX_PF || K + n_pf > s->E || s->E > MAX_E) return -1;
    if (posix_memalign((void **)&arena, ALIGN_IO, (size_t)n_slots * s->stride)) arena = NULL;
    so = (float *)malloc((size_t)T * (size_t)K * D * sizeof(float));
    coef = (float *)malloc((size_t)T * (size_t)K * sizeof(float));
    if (!tab || !slot_of || !owner || !stamp || !ahead || !arena || !so || !coef) goto done;
    memset(arena, 0, (size_t)n_slots * s->stride);            /* the dummy's bytes: defined */
    src.fd = h->fd_direct; src.direct = h->direct; src.experts_at = s->experts_at; src.stride = s->stride;
    c.n_experts = s->E; c.n_slots = n_slots; c.slot_bytes = s->stride; c.arena = arena;
    c.off_up = s->off_up; c.off_down = s->off_down;
    c.gate = tab; c.up = tab + E; c.down = tab + 2 * E;
    c.slot_of = slot_of; c.owner = owner; c.stamp = stamp; c.ahead = ahead;
    c.fetch = fetch_pread; c.fetch_ctx = &src;
    xc_reset(&c);
    if (make_layer(&L, h, K, c.gate, c.up, c.down)) goto done;
    if (n_pf && make_layer(&W, h, K + n_pf, c.gate, c.up, c.down)) goto done;   /* router only */
    rb0 = os_read_bytes();
    t0 = now_s();
    for (t = 0; t < h->n_tok; t += T) {
        const float *xt = h->x + (size_t)t * D;
        float *yt = y + (size_t)t * D;
        moe_run_opts o;
        pf_job job;
        pthread_t th;
        xc_step(&c);
        /* 1. route first */
        if (moe_route(&L, xt, T, ids, wts, h->work, h->work_size) != MOE_OK) goto done;
        memset(mark, 0, sizeof mark);
        for (nu = 0, j = 0; j < T * K; j++) if (!mark[ids[j]]) { mark[ids[j]] = 1; uniq[nu++] = ids[j]; }
        memset(&o, 0, sizeof o);
        o.route_ids = ids; o.route_weights = wts;
        if (nu <= n_slots) {
            /* 2. fetch the misses, 3. prefetch the near misses, 4. compute */
            for (j = 0; j < nu; j++) if (xc_need(&c, uniq[j]) < 0) goto io_error;
            job.c = &c; job.n = 0; job.bytes = 0; job.failed = 0;
            if (n_pf && T == 1) {
                if (moe_route(&W, xt, 1, wids, NULL, h->work, h->work_size) != MOE_OK) goto done;
                for (j = K; j < K + n_pf; j++) {
                    int e = wids[j], sl;
                    if (c.slot_of[e] >= 0 || (sl = xc_reserve(&c, e, pf_age)) < 0) continue;
                    job.e[job.n] = e; job.s[job.n] = sl; job.n++;
                }
            }
            if (job.n && pthread_create(&th, NULL, pf_main, &job)) { pf_main(&job); job.n = 0; }
            if (moe_forward_ex(&L, xt, T, yt, h->work, h->work_size, &o) != MOE_OK) goto done;
            if (job.n) pthread_join(th, NULL);
            if (job.failed) goto io_error;
            c.bytes += (unsigned long long)job.bytes;
        } else {
            /* A batch whose experts outnumber the slots: the resident ones first, then each
               missing one in turn, one expert per call (expert_begin/end), its slot outputs
               gathered and summed by moe_combine: the same bits as one call. */
            int order[MAX_E], no = 0;
            for (j = 0; j < nu; j++) if (c.slot_of[uniq[j]] >= 0) order[no++] = uniq[j];
            for (j = 0; j < nu; j++) if (c.slot_of[uniq[j]] < 0) order[no++] = uniq[j];
            o.skip_shared = 1; o.slot_out = so; o.slot_coef = coef;
            for (q = 0; q < no; q++) {
                if (q) xc_step(&c);
                if (xc_need(&c, order[q]) < 0) goto io_error;
                o.expert_begin = order[q]; o.expert_end = order[q] + 1;
                if (moe_forward_ex(&L, xt, T, NULL, h->work, h->work_size, &o) != MOE_OK) goto done;
            }
            if (moe_combine(&L, T, so, coef, NULL, yt) != MOE_OK) goto done;
        }
    }
    t1 = now_s();
    rb1 = os_read_bytes();
    r->hit = (double)c.hits / (double)(c.hits + c.misses);
    r->app_mb = (double)c.bytes / 1e6 / h->n_tok;
    r->os_mb = rb0 >= 0 ? (double)(rb1 - rb0) / 1e6 / h->n_tok : -1;
    r->tok_s = h->n_tok / (t1 - t0);
    r->mem_mb = (double)n_slots * (double)s->stride / 1e6;
    r->n_pf = n_pf;
    r->pf_used = c.n_prefetch ? (double)c.prefetch_used / (double)c.n_prefetch : 0.0;
    rc = 0;
    goto done;
io_error:
    fprintf(stderr, "stream_experts: reading an expert from %s failed: %s\n", h->path, strerror(errno));
done:
    free(tab); free(slot_of); free(owner); free(stamp); free(ahead); free(arena); free(so); free(coef);
    return rc;
}

/* ============================================================================================
   4. No OS: experts from flash through a callback, a static arena of FW_SLOTS experts
   ============================================================================================ */
#define FW_D      64
#define FW_F      128
#define FW_E      16
#define FW_K      2
#define FW_SLOTS  4
#define FW_TOKENS 64
#define FW_ROW_GU ((FW_D / 32) * 18)                       /* q4_0: 18 bytes per 32 values */
#define FW_ROW_DN ((FW_F / 32) * 18)
#define FW_EXPERT (2 * FW_F * FW_ROW_GU + FW_D * FW_ROW_DN)
#define FW_WORK   (96u * 1024u)

/* The flash part. On a device this is a const table linked into (external) flash, or a QSPI
   chip behind a driver; here a static image written once at start-up and only ever read
   through flash_read(), as a driver would be. */
static unsigned char fw_flash[FW_E * FW_EXPERT];
static void flash_read(uint32_t addr, void *dst, size_t n) { memcpy(dst, fw_flash + addr, n); }

/* The callback: expert e's rows (gate | up | down, q4_0) into dst. */
static long expert_rows_from_flash(void *ctx, int e, void *dst)
{
    (void)ctx;
    flash_read((uint32_t)e * FW_EXPERT, dst, FW_EXPERT);
    return FW_EXPERT;
}

/* RAM: the cache and its bookkeeping, all static (no heap). */
static union { float f; unsigned char b[FW_SLOTS * FW_EXPERT]; } fw_arena;
static int fw_slot_of[FW_E], fw_owner[FW_SLOTS];
static unsigned long fw_stamp[FW_SLOTS];
static unsigned char fw_ahead[FW_SLOTS];
static const void *fw_gate[FW_E], *fw_up[FW_E], *fw_down[FW_E];
static float fw_router[FW_E * FW_D], fw_x[FW_TOKENS * FW_D], fw_y[FW_D], fw_yref[FW_TOKENS * FW_D];
static union { double d; unsigned char b[FW_WORK]; } fw_work;

static int firmware_run(void)
{
    static float tmp[FW_F * FW_D];
    static const void *xip_g[FW_E], *xip_u[FW_E], *xip_d[FW_E];
    moe_config cfg = moe_config_default();
    moe_weights w = moe_weights_default();
    moe_layer L, X;
    xcache c;
    int e, m, t, j, ids[FW_K], bad = 0;
    float wts[FW_K];
    size_t i, ws;
    /* "flash": quantised once, as a build step would */
    for (e = 0; e < FW_E; e++)
        for (m = 0; m < 3; m++) {
            size_t rows = m < 2 ? FW_F : FW_D, cols = m < 2 ? FW_D : FW_F;
            size_t at = (size_t)e * FW_EXPERT + (m == 0 ? 0 : m == 1 ? (size_t)FW_F * FW_ROW_GU : 2u * FW_F * FW_ROW_GU);
            for (i = 0; i < rows * cols; i++) tmp[i] = sqrtf(3.0f / (float)cols) * unif(mix64(99000u + (uint64_t)e * 3 + (uint64_t)m), i);
            if (moe_quantize(MOE_TYPE_Q4_0, tmp, fw_flash + at, rows, cols) != MOE_OK) return -1;
        }
    for (i = 0; i < FW_E * FW_D; i++) fw_router[i] = 2.0f * sqrtf(3.0f / FW_D) * unif(4242u, i);
    for (i = 0; i < FW_D; i++) fw_x[i] = unif(31337u, i) * 1.7320508f;
    for (t = 1; t < FW_TOKENS; t++)      /* the same drifting inputs, x_t = 0.9 x_{t-1} + noise */
        for (i = 0; i < FW_D; i++)
            fw_x[(size_t)t * FW_D + i] = 0.9f * fw_x[(size_t)(t - 1) * FW_D + i] + 0.4359f * 1.7320508f * unif(31337u + (uint64_t)t, i);

    cfg.d_model = FW_D; cfg.d_ff = FW_F; cfg.n_experts = FW_E; cfg.top_k = FW_K; cfg.n_threads = 1;
    w.router.type = MOE_TYPE_F32; w.router.data = fw_router;
    w.gate.type = w.up.type = w.down.type = MOE_TYPE_Q4_0;
    /* reference: execute in place, every expert read straight from flash */
    for (e = 0; e < FW_E; e++) {
        xip_g[e] = fw_flash + (size_t)e * FW_EXPERT;
        xip_u[e] = (const unsigned char *)xip_g[e] + FW_F * FW_ROW_GU;
        xip_d[e] = (const unsigned char *)xip_g[e] + 2 * FW_F * FW_ROW_GU;
    }
    w.gate.expert_data = xip_g; w.up.expert_data = xip_u; w.down.expert_data = xip_d;
    if (moe_layer_init(&X, &cfg, &w) != MOE_OK) { fprintf(stderr, "firmware: %s\n", moe_layer_error(&X)); return -1; }
    ws = moe_workspace_size(&X, 1);
    if (ws == 0 || ws > FW_WORK) { fprintf(stderr, "firmware: workspace %zu > arena %u\n", ws, FW_WORK); return -1; }
    for (t = 0; t < FW_TOKENS; t++)
        if (moe_forward(&X, fw_x + (size_t)t * FW_D, 1, fw_yref + (size_t)t * FW_D, fw_work.b, FW_WORK) != MOE_OK) return -1;

    /* the cache: FW_SLOTS of FW_E experts in RAM */
    c.n_experts = FW_E; c.n_slots = FW_SLOTS; c.slot_bytes = FW_EXPERT; c.arena = fw_arena.b;
    c.off_up = (size_t)FW_F * FW_ROW_GU; c.off_down = 2u * FW_F * FW_ROW_GU;
    c.gate = fw_gate; c.up = fw_up; c.down = fw_down;
    c.slot_of = fw_slot_of; c.owner = fw_owner; c.stamp = fw_stamp; c.ahead = fw_ahead;
    c.fetch = expert_rows_from_flash; c.fetch_ctx = NULL;
    xc_reset(&c);
    w.gate.expert_data = fw_gate; w.up.expert_data = fw_up; w.down.expert_data = fw_down;
    if (moe_layer_init(&L, &cfg, &w) != MOE_OK) { fprintf(stderr, "firmware: %s\n", moe_layer_error(&L)); return -1; }
    for (t = 0; t < FW_TOKENS; t++) {
        moe_run_opts o;
        const float *xt = fw_x + (size_t)t * FW_D;
        xc_step(&c);
        if (moe_route(&L, xt, 1, ids, wts, fw_work.b, FW_WORK) != MOE_OK) return -1;
        for (j = 0; j < FW_K; j++) if (xc_need(&c, ids[j]) < 0) return -1;
        memset(&o, 0, sizeof o);
        o.route_ids = ids; o.route_weights = wts;
        if (moe_forward_ex(&L, xt, 1, fw_y, fw_work.b, FW_WORK, &o) != MOE_OK) return -1;
        if (memcmp(fw_y, fw_yref + (size_t)t * FW_D, sizeof fw_y)) bad++;
    }
    printf("firmware-style: %d experts of %u bytes in \"flash\", %d slots (%u bytes) of static RAM, top-%d,\n"
           "  %d tokens: hit rate %.2f, %.1f KB from flash per token, %s the execute-in-place layer (%s)\n",
           FW_E, (unsigned)FW_EXPERT, FW_SLOTS, (unsigned)sizeof fw_arena.b, FW_K, FW_TOKENS,
           (double)c.hits / (double)(c.hits + c.misses), (double)c.bytes / 1e3 / FW_TOKENS,
           bad ? "DIFFERS from" : "bit for bit", bad ? "MISMATCH" : "ok");
    return bad ? 1 : 0;
}

/* ============================================================================================
   5. main
   ============================================================================================ */
static const char *tmp_path;        /* the weight file, removed at exit (unless --keep) */
static void remove_tmp(void) { if (tmp_path) unlink(tmp_path); }

static void print_row(const row *r)
{
    char app[16], os[16];
    if (r->app_mb >= 0) snprintf(app, sizeof app, "%8.2f", r->app_mb); else snprintf(app, sizeof app, "%8s", "-");
    if (r->os_mb >= 0) snprintf(os, sizeof os, "%8.2f", r->os_mb); else snprintf(os, sizeof os, "%8s", "n/a");
    printf("  %-30s %8.1f %7.3f %s %s %9.1f   %s\n", r->name, r->mem_mb, r->hit, app, os, r->tok_s, r->exact ? "yes" : "NO");
}

int main(int argc, char **argv)
{
    static const int pct[3] = { 25, 50, 100 };
    host h;
    shape *s = &h.s;
    char defpath[64];
    int i, t, j, a, n_pf = 4, small = 0, keep = 0, stats_only = 0, nrow = 0, bad = 0, *ids_ref = NULL, *cnt = NULL;
    float zipf = 1.0f, drift = 0.8f, sigma = 2.0f, *y = NULL, *y_ref = NULL, *y_ref8 = NULL;
    moe_type type = MOE_TYPE_Q4_0;
    row rows[16];
    double t0;
    moe_layer L;

    memset(&h, 0, sizeof h);
    h.n_tok = 256;
    snprintf(defpath, sizeof defpath, "/tmp/moe_stream_experts.%ld.bin", (long)getpid());
    h.path = defpath;
    for (a = 1; a < argc; a++) {
        const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;
        if (!strcmp(o, "--small")) small = 1;
        else if (!strcmp(o, "--keep")) keep = 1;
        else if (!strcmp(o, "--routing")) stats_only = 1;
        else if (v && !strcmp(o, "-g")) { pf_age = (unsigned long)atol(v); a++; }
        else if (v && !strcmp(o, "-r")) { sigma = (float)atof(v); a++; }
        else if (v && !strcmp(o, "-n")) { h.n_tok = atoi(v); a++; }
        else if (v && !strcmp(o, "-o")) { h.path = v; a++; }
        else if (v && !strcmp(o, "-p")) { n_pf = atoi(v); a++; }
        else if (v && !strcmp(o, "-s")) { zipf = (float)atof(v); a++; }
        else if (v && !strcmp(o, "-a")) { drift = (float)atof(v); a++; }
        else if (v && !strcmp(o, "-t")) {
            type = !strcmp(v, "q4_0") ? MOE_TYPE_Q4_0 : !strcmp(v, "q8_0") ? MOE_TYPE_Q8_0 : !strcmp(v, "q4_K") ? MOE_TYPE_Q4_K : MOE_TYPE_COUNT;
            a++;
        } else { fprintf(stderr, "usage: %s [-n TOKENS] [-o FILE] [-t q4_0|q4_K|q8_0] [-p PREFETCH] [-g AGE] [-s ZIPF] [-r SIGMA] [-a DRIFT] [--small] [--keep] [--routing]\n", argv[0]); return 2; }
    }
    if (type == MOE_TYPE_COUNT || h.n_tok < 8 || h.n_tok % 8 || n_pf < 0 || n_pf > MAX_PF || drift < 0 || drift >= 1 || !(sigma > 0)) {
        fprintf(stderr, "stream_experts: bad option (TOKENS a multiple of 8, PREFETCH 0..%d, 0 <= DRIFT < 1, SIGMA > 0)\n", MAX_PF);
        return 2;
    }
    if (shape_init(s, small ? 1024 : 2048, small ? 512 : 1024, 64, 8, type)) return 2;
    s->zipf = zipf; s->drift = drift; s->sigma = sigma;
    printf("stream_experts: d_model %d, d_ff %d, %d experts, top-%d, %s (%s kernels)\n", s->d, s->f, s->E, s->k,
           moe_type_name(type), moe_simd_name());
    printf("  one expert %.2f MB, all experts %.1f MB, file %s (%.1f MB)\n", s->expert_bytes / 1e6,
           (double)s->E * s->stride / 1e6, h.path, s->file_size / 1e6);

    if (stats_only) {          /* --routing: the router alone, no file */
        h.router = (float *)malloc(((size_t)s->E * (size_t)s->d + (size_t)s->E) * sizeof(float));
        if (!h.router) return 1;
        h.bias = h.router + (size_t)s->E * (size_t)s->d;
        make_router(s, h.router, h.bias);
    } else {
        t0 = now_s();
        if (!keep) { tmp_path = h.path; atexit(remove_tmp); }
        if (write_layer(s, h.path)) return 1;
        printf("  wrote the file in %.1f s\n", now_s() - t0);

        /* open it as a server would: header, router (always resident), experts on demand */
        h.fd = open(h.path, O_RDONLY);
        h.fd_direct = open(h.path, O_RDONLY | O_DIRECT);
        h.direct = h.fd_direct >= 0;
        if (!h.direct) h.fd_direct = h.fd;
        h.router = (float *)malloc(((size_t)s->E * (size_t)s->d + (size_t)s->E) * sizeof(float));
        {
            unsigned char head[64];
            int32_t v[5];
            if (h.fd < 0 || !h.router || pread_all(h.fd, head, sizeof head, 0) || memcmp(head, MAGIC, 8)) { fprintf(stderr, "stream_experts: cannot read %s\n", h.path); return 1; }
            memcpy(v, head + 8, sizeof v);
            if (v[0] != s->d || v[1] != s->f || v[2] != s->E || v[3] != s->k || v[4] != (int32_t)s->type) { fprintf(stderr, "stream_experts: header mismatch\n"); return 1; }
            if (pread_all(h.fd, h.router, ((size_t)s->E * (size_t)s->d + (size_t)s->E) * sizeof(float), s->router_at)) return 1;
            h.bias = h.router + (size_t)s->E * (size_t)s->d;
        }
        if (h.direct) {   /* O_DIRECT may open and then refuse reads (some file systems): try one */
            void *p = NULL;
            if (posix_memalign(&p, ALIGN_IO, s->stride) || pread(h.fd_direct, p, s->stride, (off_t)s->experts_at) != (ssize_t)s->stride) {
                close(h.fd_direct); h.fd_direct = h.fd; h.direct = 0;
            }
            free(p);
        }
        printf("  cache reads: %s\n", h.direct ? "pread, O_DIRECT" : "pread + POSIX_FADV_DONTNEED (O_DIRECT refused)");
    }

    /* the hidden states: x_t = a x_{t-1} + sqrt(1 - a^2) n_t, unit variance per component */
    h.x = (float *)malloc((size_t)h.n_tok * (size_t)s->d * sizeof(float));
    y = (float *)malloc((size_t)h.n_tok * (size_t)s->d * sizeof(float));
    y_ref = (float *)malloc((size_t)h.n_tok * (size_t)s->d * sizeof(float));
    y_ref8 = (float *)malloc((size_t)h.n_tok * (size_t)s->d * sizeof(float));
    ids_ref = (int *)malloc((size_t)h.n_tok * (size_t)s->k * sizeof(int));
    cnt = (int *)calloc((size_t)s->E, sizeof(int));
    if (!h.x || !y || !y_ref || !y_ref8 || !ids_ref || !cnt) return 1;
    for (t = 0; t < h.n_tok; t++)
        for (i = 0; i < s->d; i++) {
            float n = 1.7320508f * unif(5555u + (uint64_t)t, (uint64_t)i);
            h.x[(size_t)t * (size_t)s->d + (size_t)i] = t ? drift * h.x[(size_t)(t - 1) * (size_t)s->d + (size_t)i] + sqrtf(1 - drift * drift) * n : n;
        }
    {   /* workspace: the layer for 8 tokens, or the prefetch router's top-(k + P) for 1 */
        static const void *dummy_tab[MAX_E];
        static const unsigned char dummy[1];
        moe_layer Wd;
        size_t w1, w2 = 0;
        for (i = 0; i < s->E; i++) dummy_tab[i] = dummy;
        if (make_layer(&L, &h, s->k, dummy_tab, dummy_tab, dummy_tab)) return 1;
        w1 = moe_workspace_size(&L, 8);
        if (n_pf && make_layer(&Wd, &h, s->k + n_pf, dummy_tab, dummy_tab, dummy_tab) == 0) w2 = moe_workspace_size(&Wd, 1);
        h.work_size = w1 > w2 ? w1 : w2;
        h.work = malloc(h.work_size);
        if (!h.work) return 1;
    }

    {   /* the routing the runs will see (the router is in memory: no expert needed) */
        int order[MAX_E], top[3] = { 8, 16, 32 };
        double share[3] = { 0, 0, 0 }, same1 = 0, same64 = 0;
        int n1 = 0, n64 = 0;
        for (t = 0; t < h.n_tok; t++)
            if (moe_route(&L, h.x + (size_t)t * (size_t)s->d, 1, ids_ref + (size_t)t * (size_t)s->k, NULL, h.work, h.work_size) != MOE_OK) return 1;
        for (i = 0; i < h.n_tok * s->k; i++) cnt[ids_ref[i]]++;
        for (i = 0; i < s->E; i++) order[i] = cnt[i];
        for (i = 1; i < s->E; i++) for (j = i; j > 0 && order[j] > order[j - 1]; j--) { int q = order[j]; order[j] = order[j - 1]; order[j - 1] = q; }
        for (j = 0; j < 3; j++) { for (i = 0; i < top[j]; i++) share[j] += order[i]; share[j] /= (double)h.n_tok * s->k; }
        for (t = 1; t < h.n_tok; t++) {
            int gap, d;
            for (gap = 1; gap <= 64; gap += 63) {
                if (t < gap) continue;
                for (i = 0, d = 0; i < s->k; i++)
                    for (j = 0; j < s->k; j++) d += ids_ref[t * s->k + i] == ids_ref[(t - gap) * s->k + j];
                if (gap == 1) { same1 += (double)d / s->k; n1++; } else { same64 += (double)d / s->k; n64++; }
            }
        }
        printf("  routing: Zipf prior s = %.2f on the router scores, router logits of sd %.1f, input drift a = %.2f\n", zipf, sigma, drift);
        printf("    share of all expert slots taken by the 8 / 16 / 32 most used experts: %.0f %% / %.0f %% / %.0f %%"
               " (uniform: 12.5 / 25 / 50 %%)\n", 100 * share[0], 100 * share[1], 100 * share[2]);
        printf("    most / least used expert: %d / %d slots of %d; experts never used: ", order[0], order[s->E - 1], h.n_tok * s->k);
        for (i = 0, j = 0; i < s->E; i++) j += cnt[i] == 0;
        printf("%d\n", j);
        printf("    a token's experts also used by the previous token: %.0f %% (by the token 64 before: %.0f %%)\n",
               100 * same1 / n1, n64 ? 100 * same64 / n64 : 0.0);
        for (t = 0, j = 0; t < h.n_tok; t += 8) {       /* distinct experts per chunk of 8 */
            int seen[MAX_E] = { 0 };
            for (i = 0; i < 8 * s->k; i++) if (!seen[ids_ref[t * s->k + i]]) { seen[ids_ref[t * s->k + i]] = 1; j++; }
        }
        printf("    a chunk of 8 consecutive tokens uses %.1f distinct experts (%d slots)\n", (double)j / (h.n_tok / 8), 8 * s->k);
    }

    if (stats_only) return 0;

    /* naive mmap: cold first (nothing of the file in the page cache), then warm: the reference */
    memset(rows, 0, sizeof rows);
    if (mmap_run(&h, 0, 1, y, NULL, &rows[nrow])) return 1;
    snprintf(rows[nrow].name, sizeof rows[nrow].name, "mmap, cold page cache");
    nrow++;
    if (mmap_run(&h, 1, 1, y_ref, NULL, &rows[nrow])) return 1;
    snprintf(rows[nrow].name, sizeof rows[nrow].name, "mmap, warm page cache");
    rows[nrow].exact = 1;
    rows[nrow - 1].exact = !memcmp(y, y_ref, (size_t)h.n_tok * (size_t)s->d * sizeof(float));
    nrow++;
    if (mmap_run(&h, 1, 8, y_ref8, NULL, &rows[nrow])) return 1;
    snprintf(rows[nrow].name, sizeof rows[nrow].name, "mmap, warm, T=8");
    rows[nrow].exact = 1;
    nrow++;
    posix_fadvise(h.fd, 0, 0, POSIX_FADV_DONTNEED);   /* the cache runs read from storage */

    for (i = 0; i < 3; i++) {
        int slots = (s->E * pct[i] + 50) / 100, p;
        for (p = 0; p < 2; p++) {
            int np = p ? n_pf : 0;
            if (p && !n_pf) continue;
            if (cache_run(&h, slots, np, 1, y, &rows[nrow])) { bad = 1; break; }
            snprintf(rows[nrow].name, sizeof rows[nrow].name, "LRU %3d %% (%2d experts)%s", pct[i], slots, np ? " + pf" : "");
            rows[nrow].exact = !memcmp(y, y_ref, (size_t)h.n_tok * (size_t)s->d * sizeof(float));
            nrow++;
        }
    }
    for (i = 0; i < 3; i++) {
        int slots = (s->E * pct[i] + 50) / 100;
        if (cache_run(&h, slots, 0, 8, y, &rows[nrow])) { bad = 1; break; }
        snprintf(rows[nrow].name, sizeof rows[nrow].name, "LRU %3d %%, T=8", pct[i]);
        rows[nrow].exact = !memcmp(y, y_ref8, (size_t)h.n_tok * (size_t)s->d * sizeof(float));
        nrow++;
    }

    printf("\n  %d tokens, one at a time unless T=8 (chunks of 8). hit: routed experts found resident\n"
           "  (T=8: each distinct expert of a chunk once); MB/token: app = what the cache read, OS =\n"
           "  /proc/self/io read_bytes (storage reads, page faults included); memory: the cache's buffer,\n"
           "  or the file's pages resident at the end (mincore) for mmap. + pf: %d near misses prefetched.\n\n", h.n_tok, n_pf);
    printf("  %-30s %8s %7s %8s %8s %9s   %s\n", "mode", "mem MB", "hit", "app MB/t", "OS MB/t", "tokens/s", "bit-exact");
    for (i = 0; i < nrow; i++) {
        print_row(&rows[i]);
        if (!rows[i].exact) bad = 1;
    }
    for (i = 0; i < nrow; i++)
        if (rows[i].n_pf) printf("  %s: %.0f %% of the prefetched experts were used before eviction\n", rows[i].name, 100 * rows[i].pf_used);
    printf("\n");

    if (firmware_run()) bad = 1;

    close(h.fd);
    if (h.direct) close(h.fd_direct);
    free(h.router); free(h.x); free(h.work); free(y); free(y_ref); free(y_ref8); free(ids_ref); free(cnt);
    if (bad) fprintf(stderr, "stream_experts: FAILED (an output differs from the all-resident layer's, or a run failed)\n");
    return bad ? 1 : 0;
}
