/* mpi_moe.c - expert parallelism over MPI with moe.h (moe.h itself stays MPI-free).

   One MoE layer of Qwen3-30B-A3B's shape (d_model 2048, 128 experts of d_ff 768, top-8,
   softmax router renormalised, SwiGLU), its experts split over the P ranks of an MPI job in
   contiguous ranges: rank r owns experts [E*r/P, E*(r+1)/P). Two ways to run it:

   decode   every rank has the same T tokens (T = 1 and 8): each routes them (the router is on
            every rank), runs the slots of its own experts (moe_run_opts.expert_begin/end; the
            shared experts, if any, on rank 0 only), and the slot outputs are brought together:
              slots    one MPI_Allreduce(SUM) of the whole slot_out array [T][k+S][d_model],
                       every slot a rank does not run holding -0.0: -0.0 + x == x exactly for
                       every float x (+0.0 would turn a -0.0 output into +0.0), so the sum is
                       the owner's value bit for bit, and moe_combine on every rank gives the
                       single-process y bit for bit;
              gather   MPI_Gatherv of only the slots each rank ran to rank 0, moe_combine
                       there (slot order: bitwise), MPI_Bcast of y (every rank needs y next);
              partial  each rank sums its own slots into a partial y (moe_forward_ex's y), one
                       MPI_Allreduce(SUM) of those: the fewest bytes, but the sum is regrouped,
                       so y equals the single-process one only to f32 rounding (checked to
                       1e-5 of max |y|, not bitwise).
   prefill  T tokens (256) split over the ranks in contiguous ranges (starting at multiples of
            4, see below). Each rank routes its own tokens, then MPI_Alltoall (token counts) and
            three MPI_Alltoallv (rows of x, their top-k ids, their weights) send each token to
            the ranks that own one of its experts; sources are received in rank order, so
            every expert sees its tokens in global token order, as in one process. Each rank
            runs its experts on what it received (route_ids/route_weights, y = NULL,
            slot_out), one MPI_Alltoallv sends the slot outputs back, and the source places
            them and calls moe_combine: y equal to one process's, bit for bit.

   Every run is checked bit for bit (partial: to 1e-5) against a single-process moe_forward on
   rank 0, which builds the whole layer once at the start for that and then frees the experts
   it does not own. The exit status is 1 if any check fails (every rank returns it, so mpirun
   does too).

   Memory per rank scales with its share: a rank quantises and holds only its own experts.
   moe_layer_init still wants a valid pointer for every expert, so the layer is given one
   pointer per expert (moe_tensor.expert_data) and every expert the rank does not own points at
   one shared block of zeros, the size of one expert's matrix. moe_layer_init only checks those
   pointers (non-NULL; 4-byte aligned for f32) and a run reads the bytes of the experts it runs
   and no others, so the zeros are never used; they only keep the layer valid.

   Shared experts (-S N; Qwen3 has none, DeepSeek 1) take every token, so where they run is a
   choice:
   - decode: rank 0 runs them (skip_shared on the others): the tokens are there already.
   - prefill: by default every rank holds a copy and runs them on its own tokens ("local",
     split by token): no bytes move for them and their compute is spread evenly, which is what
     a deployment wants (a shared expert is as big as one routed expert: cheap to copy). The
     alternative, -H rank0, sends every token to rank 0 as well (up to T rows more each way)
     and leaves all the shared compute to rank 0. moe.h promises bitwise equality when an
     expert sees all of its tokens in one call, which "rank0" satisfies; "local" gives each
     copy only a rank's tokens. It is bitwise all the same in every case tried (f32, f16, q8_0,
     q4_K, mxfp4; 4 to 128 tokens per rank) because moe.h computes each token of an expert's
     batch on its own, with the kernel chosen by the batch's size class (1, up to 8, up to a
     SIMD group, more), and the check below would report it if that ever changed.

   The router runs per source on its own tokens (prefill). moe.h's router computes tokens in
   groups of 4 (a lone token takes another kernel), so token ranges start at multiples of 4:
   then each token's logits are computed exactly as in the single-process run.

   Weights are deterministic from the seed on every rank, cheaply: a pool of 512 random rows
   for each row length is quantised once (moe_quantize), and row n of matrix m of expert e is
   pool row hash(seed, e, m, n) % 512 (quantising 600 M random values per run would take a
   minute on one core; the kernels do not care where the bytes came from).

   Per mode and P it prints, each the median over the repetitions of the maximum over ranks:
   layer ms (barrier to done, wall clock), compute ms (wall clock inside moe.h calls and the
   packing around them), cpu ms (the same, as the thread's CPU time: what other jobs on a
   shared machine cannot stretch), mpi ms (wall clock inside MPI calls, waiting for the slowest
   rank included: shared memory on one machine, not a network); then bytes/token: the bytes
   all ranks send to other ranks per layer (a rank's sends to itself are not counted) over T;
   link us: the time the busiest rank's bytes (the larger of sent and received) take on a
   100 Gb/s link (12.5 GB/s); link/cpu: that over cpu ms; rate (cpu): decode: GB/s of the
   expert weights the tokens use, prefill: GFLOP/s of the expert matmuls (6 d_model d_ff per
   token and slot), both all ranks together, over cpu ms.
   How bytes are counted: Alltoall(v) and Gatherv: exactly the send counts to other ranks;
   Bcast of n bytes: (P-1)*n from the root (flat tree); Allreduce of n bytes: 2*(P-1)/P*n per
   rank sent and received (ring: reduce-scatter + allgather, the bandwidth-optimal schedule;
   the MPI library may move more).

   Build and run (Debian: apt-get install libopenmpi-dev openmpi-bin):
       make mpi-run                     # P = 1, 2, 4 (4 with --oversubscribe), both modes
       mpirun -np 2 build/examples/mpi_moe -t q8_0 -m prefill -p 512
   Options: -t TYPE (f32 f16 bf16 q8_0 q4_0 q4_K q6_K ..., default q4_K), -m decode|prefill|both,
   -d T[,T...] decode batch sizes (1,8), -p T prefill tokens (256), -r reps (3), -s seed,
   -S shared experts (0), -H local|rank0 (prefill shared placement), -c slots|gather|partial|all
   (decode exchange, all), -D d_model,d_ff,n_experts,top_k (2048,768,128,8).
   One thread per rank (n_threads 1; no OpenMP): ranks are the parallelism.
*/
#define _POSIX_C_SOURCE 200809L     /* clock_gettime(CLOCK_THREAD_CPUTIME_ID) */
#define MOE_IMPLEMENTATION
#include "moe.h"

#include <mpi.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NPOOL 512
#define LINK_BYTES_PER_S 12.5e9            /* 100 Gb/s */
#define MAX_REPS 64

enum { DEC_SLOTS, DEC_GATHER, DEC_PARTIAL, DEC_KINDS };
static const char *const dec_name[DEC_KINDS] = { "slots", "gather", "partial" };

typedef struct opts {
    moe_type type;
    int decode, prefill;
    int dec_T[8], n_dec;
    int pre_T, reps, S, shared_rank0, dec_kinds;   /* dec_kinds: bit mask of DEC_* */
    int D, F, E, K;
    unsigned long long seed;
} opts;

typedef struct shard {
    int rank, P;
    int e_lo, e_hi;                       /* my experts */
    moe_config cfg;
    size_t mat_in, mat_out, blk;          /* bytes: gate (= up) matrix, down matrix, one expert */
    size_t smat_in, smat_out, sblk;       /* the same for a shared expert                       */
    unsigned char **blocks;               /* [E]: gate | up | down of each expert I hold, or NULL */
    unsigned char **sblocks;              /* [S]                                                  */
    unsigned char *dummy;                 /* zeros, one expert's largest matrix                  */
    float *router, *sgate_w;
    /* pointer tables: must live as long as the layer (moe_layer keeps them) */
    const void **tg, **tu, **td, **tsg, **tsu, **tsd;
    moe_layer layer;
    void *work;
    size_t work_size;
} shard;

static int g_rank;
static void die(const char *msg)
{
    fprintf(stderr, "mpi_moe (rank %d): %s\n", g_rank, msg);
    MPI_Abort(MPI_COMM_WORLD, 2);
    exit(2);
}
static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}
static void *xcalloc(size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    if (!p) die("out of memory");
    return p;
}
static void ok_or_die(moe_status s, const char *what)
{
    if (s != MOE_OK) {
        char m[200];
        snprintf(m, sizeof m, "%s: %s", what, moe_status_string(s));
        die(m);
    }
}

/* ---- deterministic data --------------------------------------------------------------- */
static unsigned long long mix64(unsigned long long z)          /* splitmix64's finaliser */
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* n values uniform in [-scale, scale) from stream (seed, stream) */
static void fill_uniform(float *v, size_t n, unsigned long long seed, unsigned long long stream, float scale)
{
    unsigned long long s = mix64(seed ^ mix64(stream));
    size_t i;
    for (i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = ((float)(s >> 40) * (1.0f / 8388608.0f) - 1.0f) * scale;
    }
}
/* NPOOL rows of `cols` values, quantised to t */
static unsigned char *make_pool(moe_type t, int cols, unsigned long long seed, unsigned long long stream)
{
    float *f = (float *)xmalloc((size_t)NPOOL * (size_t)cols * sizeof(float));
    unsigned char *q = (unsigned char *)xmalloc((size_t)NPOOL * moe_type_row_size(t, (size_t)cols));
    fill_uniform(f, (size_t)NPOOL * (size_t)cols, seed, stream, 1.7f / sqrtf((float)cols));
    ok_or_die(moe_quantize(t, f, q, NPOOL, (size_t)cols), "moe_quantize");
    free(f);
    return q;
}
/* matrix `which` (0 gate, 1 up, 2 down; +3 for shared experts) of expert e: rows from the pool */
static void fill_matrix(unsigned char *dst, const unsigned char *pool, size_t row_bytes, int rows,
                        unsigned long long seed, int e, int which)
{
    int n;
    for (n = 0; n < rows; n++) {
        unsigned long long h = mix64(seed ^ mix64(((unsigned long long)e << 24) ^ ((unsigned long long)which << 56) ^ (unsigned long long)n));
        memcpy(dst + (size_t)n * row_bytes, pool + (size_t)(h % NPOOL) * row_bytes, row_bytes);
    }
}

/* ---- the layer ------------------------------------------------------------------------ */
static void make_weights(shard *s, const opts *o, int all)
{
    const moe_config *c = &s->cfg;
    size_t rd = moe_type_row_size(o->type, (size_t)c->d_model), rf = moe_type_row_size(o->type, (size_t)c->d_ff);
    size_t rfs = c->n_shared ? moe_type_row_size(o->type, (size_t)c->d_ff_shared) : 0, big;
    unsigned char *pool_d, *pool_f, *pool_fs;
    int e, want_shared = all || s->rank == 0 || (o->prefill && !o->shared_rank0);
    if (!rd || !rf || (c->n_shared && !rfs)) die("d_model or d_ff is not a whole number of that type's blocks");
    pool_d = make_pool(o->type, c->d_model, o->seed, 1); pool_f = make_pool(o->type, c->d_ff, o->seed, 2);
    pool_fs = c->n_shared ? make_pool(o->type, c->d_ff_shared, o->seed, 3) : NULL;
    s->mat_in = (size_t)c->d_ff * rd; s->mat_out = (size_t)c->d_model * rf; s->blk = 2 * s->mat_in + s->mat_out;
    s->smat_in = (size_t)c->d_ff_shared * rd; s->smat_out = c->n_shared ? (size_t)c->d_model * rfs : 0;
    s->sblk = 2 * s->smat_in + s->smat_out;
    big = s->mat_in > s->mat_out ? s->mat_in : s->mat_out;
    if (s->smat_in > big) big = s->smat_in;
    if (s->smat_out > big) big = s->smat_out;
    s->dummy = (unsigned char *)xcalloc(big);
    s->blocks = (unsigned char **)xcalloc((size_t)c->n_experts * sizeof(unsigned char *));
    s->sblocks = (unsigned char **)xcalloc((size_t)(c->n_shared + 1) * sizeof(unsigned char *));
    for (e = 0; e < c->n_experts; e++) {
        if (!all && (e < s->e_lo || e >= s->e_hi)) continue;
        s->blocks[e] = (unsigned char *)xmalloc(s->blk);
        fill_matrix(s->blocks[e], pool_d, rd, c->d_ff, o->seed, e, 0);
        fill_matrix(s->blocks[e] + s->mat_in, pool_d, rd, c->d_ff, o->seed, e, 1);
        fill_matrix(s->blocks[e] + 2 * s->mat_in, pool_f, rf, c->d_model, o->seed, e, 2);
    }
    for (e = 0; e < c->n_shared && want_shared; e++) {
        s->sblocks[e] = (unsigned char *)xmalloc(s->sblk);
        fill_matrix(s->sblocks[e], pool_d, rd, c->d_ff_shared, o->seed, e, 3);
        fill_matrix(s->sblocks[e] + s->smat_in, pool_d, rd, c->d_ff_shared, o->seed, e, 4);
        fill_matrix(s->sblocks[e] + 2 * s->smat_in, pool_fs, rfs, c->d_model, o->seed, e, 5);
    }
    s->router = (float *)xmalloc((size_t)c->n_experts * (size_t)c->d_model * sizeof(float));
    fill_uniform(s->router, (size_t)c->n_experts * (size_t)c->d_model, o->seed, 4, 3.0f / sqrtf((float)c->d_model));
    if (c->n_shared) {
        s->sgate_w = (float *)xmalloc((size_t)c->n_shared * (size_t)c->d_model * sizeof(float));
        fill_uniform(s->sgate_w, (size_t)c->n_shared * (size_t)c->d_model, o->seed, 5, 1.0f / sqrtf((float)c->d_model));
    }
    free(pool_d); free(pool_f); free(pool_fs);
}

/* (Re)build the layer over the blocks held now: every other expert points at the zeros. */
static void build_layer(shard *s, const opts *o, int max_tokens)
{
    const moe_config *c = &s->cfg;
    moe_weights w = moe_weights_default();
    int e, E = c->n_experts, S = c->n_shared;
    size_t ws;
    if (!s->tg) {
        s->tg = (const void **)xcalloc((size_t)E * sizeof(void *)); s->tu = (const void **)xcalloc((size_t)E * sizeof(void *));
        s->td = (const void **)xcalloc((size_t)E * sizeof(void *));
        s->tsg = (const void **)xcalloc((size_t)(S + 1) * sizeof(void *)); s->tsu = (const void **)xcalloc((size_t)(S + 1) * sizeof(void *));
        s->tsd = (const void **)xcalloc((size_t)(S + 1) * sizeof(void *));
    }
    for (e = 0; e < E; e++) {
        unsigned char *b = s->blocks[e];
        s->tg[e] = b ? (const void *)b : s->dummy;
        s->tu[e] = b ? (const void *)(b + s->mat_in) : s->dummy;
        s->td[e] = b ? (const void *)(b + 2 * s->mat_in) : s->dummy;
    }
    for (e = 0; e < S; e++) {
        unsigned char *b = s->sblocks[e];
        s->tsg[e] = b ? (const void *)b : s->dummy;
        s->tsu[e] = b ? (const void *)(b + s->smat_in) : s->dummy;
        s->tsd[e] = b ? (const void *)(b + 2 * s->smat_in) : s->dummy;
    }
    w.router.type = MOE_TYPE_F32; w.router.data = s->router;
    w.gate.type = w.up.type = w.down.type = o->type;
    w.gate.expert_data = s->tg; w.up.expert_data = s->tu; w.down.expert_data = s->td;
    if (S) {
        w.shared_gate.type = w.shared_up.type = w.shared_down.type = o->type;
        w.shared_gate.expert_data = s->tsg; w.shared_up.expert_data = s->tsu; w.shared_down.expert_data = s->tsd;
        w.shared_gate_w = s->sgate_w;
    }
    if (moe_layer_init(&s->layer, c, &w) != MOE_OK) die(moe_layer_error(&s->layer));
    ws = moe_workspace_size(&s->layer, max_tokens);
    if (!ws) die("moe_workspace_size");
    if (ws > s->work_size) { free(s->work); s->work = xmalloc(ws); s->work_size = ws; }
}

/* expert range for moe_run_opts: [b, e), where (0, 0) would mean all: an empty range is (E, E) */
static void set_range(moe_run_opts *ro, int b, int e, int E)
{
    if (b == e) b = e = E;
    ro->expert_begin = b; ro->expert_end = e;
}
static int owner_of_expert(int e, int E, int P)       /* the r with E*r/P <= e < E*(r+1)/P */
{
    int r = (int)(((long long)e * P) / E);
    while (r > 0 && (long long)E * r / P > e) r--;
    while (r + 1 < P && (long long)E * (r + 1) / P <= e) r++;
    return r;
}
static int tok_lo(int r, int T, int P)               /* token ranges start at multiples of 4 */
{
    return r >= P ? T : (int)(((long long)T * r / P) / 4 * 4);
}

/* ---- timing and byte counts ------------------------------------------------------------ */
typedef struct stats {
    double layer[MAX_REPS], comp[MAX_REPS], cpu[MAX_REPS], comm[MAX_REPS];
    int n;
    double sent, recv;                     /* this rank's bytes to / from other ranks per layer */
} stats;
static double now(void) { return MPI_Wtime(); }
static double cpu_now(void)                 /* this thread's CPU time: what other jobs on the */
{                                           /* machine cannot stretch                         */
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static void mark(double *w, double *c) { *w = now(); *c = cpu_now(); }
static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(const double *v, int n)
{
    double t[MAX_REPS];
    memcpy(t, v, (size_t)n * sizeof(double));
    qsort(t, (size_t)n, sizeof(double), cmp_d);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}
static void record(stats *st, double layer, double comp, double cpu, double comm)
{
    double in[4], out[4];
    in[0] = layer; in[1] = comp; in[2] = cpu; in[3] = comm;
    MPI_Reduce(in, out, 4, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (st->n < MAX_REPS) { st->layer[st->n] = out[0]; st->comp[st->n] = out[1]; st->cpu[st->n] = out[2]; st->comm[st->n] = out[3]; st->n++; }
}
/* Allreduce of n bytes, ring model: 2 (P-1)/P n sent and received by each rank */
static double ring_bytes(double n, int P) { return 2.0 * (P - 1) / P * n; }

static void print_header(void)
{
    printf("%-7s %-8s %4s %9s %10s %8s %8s %11s %8s %9s  %-15s %s\n", "mode", "exchange", "T", "layer ms", "compute ms",
           "cpu ms", "mpi ms", "bytes/token", "link us", "link/cpu", "rate (cpu)", "check");
}
static void print_row(const char *mode, const char *ex, int T, const stats *st, double rate, const char *rate_unit,
                      const char *check)
{
    double sent = st->sent, busiest = st->sent > st->recv ? st->sent : st->recv, tot = 0, mx = 0;
    MPI_Reduce(&sent, &tot, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&busiest, &mx, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (g_rank == 0) {
        double cpu = median(st->cpu, st->n), link = mx / LINK_BYTES_PER_S;
        char r[32];
        snprintf(r, sizeof r, "%.1f %s", cpu > 0 ? rate / cpu : 0.0, rate_unit);
        printf("%-7s %-8s %4d %9.3f %10.3f %8.3f %8.3f %11.0f %8.1f %9.2e  %-15s %s\n", mode, ex, T,
               1e3 * median(st->layer, st->n), 1e3 * median(st->comp, st->n), 1e3 * cpu, 1e3 * median(st->comm, st->n),
               tot / T, 1e6 * link, cpu > 0 ? link / cpu : 0.0, r, check);
        fflush(stdout);
    }
}

/* ---- decode: every rank has the same tokens, each runs its own experts ------------------- */
static int run_decode(shard *s, const opts *o, int T, int kind, const float *x, const float *yref)
{
    const moe_config *c = &s->cfg;
    int D = c->d_model, k = c->top_k, S = c->n_shared, slots = k + S, E = c->n_experts, P = s->P, r = s->rank;
    size_t ns = (size_t)T * (size_t)slots, sd, i;
    float *so = (float *)xmalloc(ns * (size_t)D * sizeof(float)), *sor = NULL, *pk = NULL, *gbuf = NULL;
    float *sc = (float *)xmalloc(ns * sizeof(float)), *y = (float *)xmalloc((size_t)T * (size_t)D * sizeof(float));
    float *yp = (float *)xmalloc((size_t)T * (size_t)D * sizeof(float));
    int *se = (int *)xmalloc(ns * sizeof(int)), *own = (int *)xmalloc(ns * sizeof(int));
    int *cnt = (int *)xcalloc((size_t)P * sizeof(int)), *dsp = (int *)xcalloc((size_t)P * sizeof(int));
    int rep, q, fail = 0, all_fail;
    stats st;
    moe_run_opts ro;
    char chk[64];
    memset(&st, 0, sizeof st);
    for (i = 0; i < ns * (size_t)D; i++) so[i] = -0.0f;            /* the additive identity */
    memset(&ro, 0, sizeof ro);
    set_range(&ro, s->e_lo, s->e_hi, E);
    ro.skip_shared = r > 0;
    ro.slot_out = kind == DEC_PARTIAL ? NULL : so; ro.slot_coef = sc; ro.slot_expert = se;
    ro.n_threads = 1;
    /* every rank knows the whole routing, so who runs which slot: no counts to exchange */
    ok_or_die(moe_forward_ex(&s->layer, x, T, kind == DEC_PARTIAL ? yp : NULL, s->work, s->work_size, &ro), "decode run");
    for (i = 0; i < ns; i++) {
        int e = se[i];
        own[i] = e < 0 ? -1 : e < E ? owner_of_expert(e, E, P) : 0;
        if (own[i] >= 0) cnt[own[i]] += D;
    }
    for (q = 1; q < P; q++) dsp[q] = dsp[q - 1] + cnt[q - 1];
    sd = (size_t)T * (size_t)D * sizeof(float);
    if (kind == DEC_SLOTS) {
        sor = (float *)xmalloc(ns * (size_t)D * sizeof(float));
        st.sent = st.recv = ring_bytes((double)ns * D * sizeof(float), P);
    } else if (kind == DEC_GATHER) {
        pk = (float *)xmalloc((size_t)(cnt[r] ? cnt[r] : 1) * sizeof(float));
        if (r == 0) gbuf = (float *)xmalloc((size_t)(dsp[P - 1] + cnt[P - 1]) * sizeof(float));
        st.sent = r == 0 ? (double)(P - 1) * (double)sd : (double)cnt[r] * sizeof(float);
        st.recv = r == 0 ? (double)(dsp[P - 1] + cnt[P - 1] - cnt[0]) * sizeof(float) : (double)sd;
        cnt[0] = 0;                                    /* rank 0's slots are in place already */
    } else {
        st.sent = st.recv = ring_bytes((double)sd, P);
    }
    for (rep = -1; rep < o->reps; rep++) {
        double t0, t1, t2, t3, c0, c1, c2, c3, comp, cpu, comm;
        MPI_Barrier(MPI_COMM_WORLD);
        mark(&t0, &c0);
        ok_or_die(moe_forward_ex(&s->layer, x, T, kind == DEC_PARTIAL ? yp : NULL, s->work, s->work_size, &ro), "decode run");
        mark(&t1, &c1);
        if (kind == DEC_SLOTS) {
            MPI_Allreduce(so, sor, (int)(ns * (size_t)D), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            mark(&t2, &c2);
            ok_or_die(moe_combine(&s->layer, T, sor, sc, se, y), "moe_combine");
            mark(&t3, &c3);
            comp = (t1 - t0) + (t3 - t2); cpu = (c1 - c0) + (c3 - c2); comm = t2 - t1;
        } else if (kind == DEC_GATHER) {
            size_t m = 0;
            double tc, cc;
            if (r > 0)
                for (i = 0; i < ns; i++)
                    if (own[i] == r) { memcpy(pk + m, so + i * (size_t)D, (size_t)D * sizeof(float)); m += (size_t)D; }
            MPI_Gatherv(pk, r == 0 ? 0 : cnt[r], MPI_FLOAT, gbuf, cnt, dsp, MPI_FLOAT, 0, MPI_COMM_WORLD);
            mark(&t2, &c2);
            if (r == 0) {
                for (q = 1; q < P; q++) {
                    m = (size_t)dsp[q];
                    for (i = 0; i < ns; i++)
                        if (own[i] == q) { memcpy(so + i * (size_t)D, gbuf + m, (size_t)D * sizeof(float)); m += (size_t)D; }
                }
                ok_or_die(moe_combine(&s->layer, T, so, sc, se, y), "moe_combine");
            }
            mark(&t3, &c3);
            MPI_Bcast(y, T * D, MPI_FLOAT, 0, MPI_COMM_WORLD);
            mark(&tc, &cc);
            comp = (t1 - t0) + (t3 - t2); cpu = (c1 - c0) + (c3 - c2); comm = (t2 - t1) + (tc - t3);
            (void)cc;
            t3 = tc;
        } else {
            MPI_Allreduce(yp, y, T * D, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            mark(&t3, &c3);
            comp = t1 - t0; cpu = c1 - c0; comm = t3 - t1;
        }
        if (rep >= 0) record(&st, t3 - t0, comp, cpu, comm);
        if (rep == -1 || rep == o->reps - 1) {            /* check the first and the last */
            if (kind == DEC_PARTIAL) {
                double mx = 0, d = 0;
                for (i = 0; i < (size_t)T * (size_t)D; i++) {
                    mx = fmax(mx, fabs(yref[i]));
                    d = fmax(d, fabs((double)y[i] - yref[i]));
                }
                if (!(d <= 1e-5 * mx)) fail = 1;
                snprintf(chk, sizeof chk, "%s (max diff %.2g of max |y|)", fail ? "FAIL" : "ok", mx > 0 ? d / mx : d);
            } else {
                if (memcmp(y, yref, sd) != 0) fail = 1;
                snprintf(chk, sizeof chk, "%s", fail ? "FAIL (not bitwise)" : "bitwise");
            }
        }
    }
    MPI_Allreduce(&fail, &all_fail, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (all_fail && !fail) snprintf(chk, sizeof chk, "FAIL on another rank");
    {
        /* decode rate: bytes of the distinct experts the tokens use, all ranks together */
        char *used = (char *)xcalloc((size_t)E + (size_t)S);
        double bytes = 0;
        for (i = 0; i < ns; i++)
            if (se[i] >= 0 && !used[se[i]]) { used[se[i]] = 1; bytes += se[i] < E ? (double)s->blk : (double)s->sblk; }
        free(used);
        print_row("decode", dec_name[kind], T, &st, bytes / 1e9, "GB/s", chk);
    }
    free(so); free(sor); free(pk); free(gbuf); free(sc); free(y); free(yp); free(se); free(own); free(cnt); free(dsp);
    return all_fail;
}

/* ---- prefill: tokens split over ranks, all-to-all to the experts' owners and back --------- */
static int runs_slot(int j, const int *ids, int k, int S, int b, int e, int shared_here)
{
    return j < k ? ids[j] >= b && ids[j] < e : S > 0 && shared_here;
}
static int run_prefill(shard *s, const opts *o, int T, const float *xall, const float *yref)
{
    const moe_config *c = &s->cfg;
    int D = c->d_model, k = c->top_k, S = c->n_shared, slots = k + S, E = c->n_experts, P = s->P, r = s->rank;
    int lo = tok_lo(r, T, P), n = tok_lo(r + 1, T, P) - lo, shared_local = S > 0 && !o->shared_rank0;
    const float *x = xall + (size_t)lo * (size_t)D;
    size_t ns = (size_t)(n ? n : 1) * (size_t)slots;
    float *so = (float *)xmalloc(ns * (size_t)D * sizeof(float)), *sc = (float *)xmalloc(ns * sizeof(float));
    float *y = (float *)xmalloc((size_t)(n ? n : 1) * (size_t)D * sizeof(float)), *wl = (float *)xmalloc((size_t)(n ? n : 1) * (size_t)k * sizeof(float));
    int *se = (int *)xmalloc(ns * sizeof(int)), *il = (int *)xmalloc((size_t)(n ? n : 1) * (size_t)k * sizeof(int));
    /* send side: per destination, the tokens that go there (token order) */
    float *xs = (float *)xmalloc((size_t)(n ? n : 1) * (size_t)P * (size_t)D * sizeof(float));
    int *is = (int *)xmalloc((size_t)(n ? n : 1) * (size_t)P * (size_t)k * sizeof(int));
    float *wsb = (float *)xmalloc((size_t)(n ? n : 1) * (size_t)P * (size_t)k * sizeof(float));
    int *tcnt = (int *)xcalloc((size_t)P * sizeof(int)), *rcnt = (int *)xcalloc((size_t)P * sizeof(int));
    /* Alltoallv counts and displacements: [0, P) send, [P, 2P) receive; 1: rows, 2: ids and weights */
    int *c1 = (int *)xcalloc((size_t)P * 2 * sizeof(int)), *d1 = (int *)xcalloc((size_t)P * 2 * sizeof(int));
    int *c2 = (int *)xcalloc((size_t)P * 2 * sizeof(int)), *d2 = (int *)xcalloc((size_t)P * 2 * sizeof(int));
    int *bc = (int *)xcalloc((size_t)P * sizeof(int)), *bd = (int *)xcalloc((size_t)P * sizeof(int));
    int *rbc = (int *)xcalloc((size_t)P * sizeof(int)), *rbd = (int *)xcalloc((size_t)P * sizeof(int));
    float *xr = NULL, *wr = NULL, *sor = NULL, *back = NULL, *rback = NULL, *yall = NULL;
    int *ir = NULL;
    int rep, q, t, j, fail = 0, all_fail, nr = 0, *ycnt = NULL, *ydsp = NULL;
    size_t i;
    stats st;
    moe_run_opts oa, ob;
    char chk[64];
    memset(&st, 0, sizeof st);
    memset(&oa, 0, sizeof oa);
    set_range(&oa, E, E, E);                      /* no routed experts: routing, coefficients, */
    oa.skip_shared = !shared_local;               /* and the shared experts if they are local  */
    oa.ids_out = il; oa.weights_out = wl; oa.slot_out = so; oa.slot_coef = sc; oa.slot_expert = se;
    oa.n_threads = 1;
    memset(&ob, 0, sizeof ob);
    ob.n_threads = 1;

    for (rep = -1; rep < o->reps; rep++) {
        double t0, t1, t2, t3, t4, t5, u0, u1, u2, u3, u4, u5, comp, cpu, comm;
        int off, m;
        MPI_Barrier(MPI_COMM_WORLD);
        mark(&t0, &u0);
        /* 1. route my tokens (and run the shared experts on them when local) */
        if (n) ok_or_die(moe_forward_ex(&s->layer, x, n, NULL, s->work, s->work_size, &oa), "prefill: routing");
        /* pack, per destination in rank order, the tokens with a slot there */
        off = 0;
        for (q = 0; q < P; q++) {
            int b = (int)((long long)E * q / P), e = (int)((long long)E * (q + 1) / P), cnt = 0;
            for (t = 0; t < n; t++) {
                const int *id = il + (size_t)t * (size_t)k;
                int has = !shared_local && S > 0 && q == 0;
                for (j = 0; j < k && !has; j++) has = id[j] >= b && id[j] < e;
                if (!has) continue;
                memcpy(xs + (size_t)(off + cnt) * (size_t)D, x + (size_t)t * (size_t)D, (size_t)D * sizeof(float));
                memcpy(is + (size_t)(off + cnt) * (size_t)k, id, (size_t)k * sizeof(int));
                memcpy(wsb + (size_t)(off + cnt) * (size_t)k, wl + (size_t)t * (size_t)k, (size_t)k * sizeof(float));
                cnt++;
            }
            tcnt[q] = cnt; off += cnt;
        }
        mark(&t1, &u1);
        /* 2. counts, then rows, ids, weights */
        MPI_Alltoall(tcnt, 1, MPI_INT, rcnt, 1, MPI_INT, MPI_COMM_WORLD);
        for (q = 0, off = 0, nr = 0; q < P; q++) {
            c1[q] = tcnt[q] * D; d1[q] = off * D; c2[q] = tcnt[q] * k; d2[q] = off * k; off += tcnt[q];
            c1[P + q] = rcnt[q] * D; d1[P + q] = nr * D; c2[P + q] = rcnt[q] * k; d2[P + q] = nr * k; nr += rcnt[q];
        }
        if (rep == -1) {
            xr = (float *)xmalloc((size_t)(nr ? nr : 1) * (size_t)D * sizeof(float));
            ir = (int *)xmalloc((size_t)(nr ? nr : 1) * (size_t)k * sizeof(int));
            wr = (float *)xmalloc((size_t)(nr ? nr : 1) * (size_t)k * sizeof(float));
            sor = (float *)xmalloc((size_t)(nr ? nr : 1) * (size_t)slots * (size_t)D * sizeof(float));
            back = (float *)xmalloc((size_t)(nr ? nr : 1) * (size_t)slots * (size_t)D * sizeof(float));
            rback = (float *)xmalloc((size_t)(n ? n : 1) * (size_t)slots * (size_t)D * sizeof(float));
            st.sent = st.recv = (double)(P - 1) * sizeof(int);
            for (q = 0; q < P; q++)
                if (q != r) {
                    st.sent += (double)tcnt[q] * (double)(D + 2 * k) * 4.0;
                    st.recv += (double)rcnt[q] * (double)(D + 2 * k) * 4.0;
                }
        }
        MPI_Alltoallv(xs, c1, d1, MPI_FLOAT, xr, c1 + P, d1 + P, MPI_FLOAT, MPI_COMM_WORLD);
        MPI_Alltoallv(is, c2, d2, MPI_INT, ir, c2 + P, d2 + P, MPI_INT, MPI_COMM_WORLD);
        MPI_Alltoallv(wsb, c2, d2, MPI_FLOAT, wr, c2 + P, d2 + P, MPI_FLOAT, MPI_COMM_WORLD);
        mark(&t2, &u2);
        /* 3. my experts on what came: every one of my experts' tokens, in global token order */
        set_range(&ob, s->e_lo, s->e_hi, E);
        ob.skip_shared = !(S > 0 && !shared_local && r == 0);
        ob.route_ids = ir; ob.route_weights = wr; ob.slot_out = sor;
        if (nr) ok_or_die(moe_forward_ex(&s->layer, xr, nr, NULL, s->work, s->work_size, &ob), "prefill: experts");
        /* pack the slots I ran, per source */
        for (q = 0, off = 0, m = 0; q < P; q++) {
            int cnt = 0;
            for (t = 0; t < rcnt[q]; t++, m++) {
                for (j = 0; j < slots; j++)
                    if (runs_slot(j, ir + (size_t)m * (size_t)k, k, S, s->e_lo, s->e_hi, !ob.skip_shared)) {
                        memcpy(back + (size_t)(off + cnt) * (size_t)D, sor + ((size_t)m * (size_t)slots + (size_t)j) * (size_t)D, (size_t)D * sizeof(float));
                        cnt++;
                    }
            }
            bc[q] = cnt * D; bd[q] = off * D; off += cnt;
        }
        /* what comes back from each destination: the slots it ran of the tokens I sent it */
        for (q = 0, off = 0, m = 0; q < P; q++) {
            int b = (int)((long long)E * q / P), e = (int)((long long)E * (q + 1) / P), cnt = 0;
            for (t = 0; t < tcnt[q]; t++, m++)
                for (j = 0; j < slots; j++) cnt += runs_slot(j, is + (size_t)m * (size_t)k, k, S, b, e, !shared_local && q == 0);
            rbc[q] = cnt * D; rbd[q] = off * D; off += cnt;
        }
        mark(&t3, &u3);
        MPI_Alltoallv(back, bc, bd, MPI_FLOAT, rback, rbc, rbd, MPI_FLOAT, MPI_COMM_WORLD);
        mark(&t4, &u4);
        if (rep == -1)
            for (q = 0; q < P; q++)
                if (q != r) { st.sent += (double)bc[q] * 4.0; st.recv += (double)rbc[q] * 4.0; }
        /* 4. put them in place (same order as packed: destinations, their tokens, slots), combine */
        for (q = 0; q < P; q++) {
            int b = (int)((long long)E * q / P), e = (int)((long long)E * (q + 1) / P), sh = !shared_local && q == 0;
            size_t pos = (size_t)rbd[q];
            for (t = 0; t < n; t++) {
                const int *id = il + (size_t)t * (size_t)k;
                int has = sh && S > 0;
                for (j = 0; j < k && !has; j++) has = id[j] >= b && id[j] < e;
                if (!has) continue;
                for (j = 0; j < slots; j++)
                    if (runs_slot(j, id, k, S, b, e, sh)) {
                        memcpy(so + ((size_t)t * (size_t)slots + (size_t)j) * (size_t)D, rback + pos, (size_t)D * sizeof(float));
                        pos += (size_t)D;
                    }
            }
        }
        if (n) ok_or_die(moe_combine(&s->layer, n, so, sc, se, y), "moe_combine");
        mark(&t5, &u5);
        comp = (t1 - t0) + (t3 - t2) + (t5 - t4); cpu = (u1 - u0) + (u3 - u2) + (u5 - u4); comm = (t2 - t1) + (t4 - t3);
        if (rep >= 0) record(&st, t5 - t0, comp, cpu, comm);
        if (rep == -1 || rep == o->reps - 1) {            /* gather y on rank 0 and compare */
            if (!yall) {
                ycnt = (int *)xcalloc((size_t)P * sizeof(int)); ydsp = (int *)xcalloc((size_t)P * sizeof(int));
                for (q = 0; q < P; q++) { ycnt[q] = (tok_lo(q + 1, T, P) - tok_lo(q, T, P)) * D; ydsp[q] = tok_lo(q, T, P) * D; }
                yall = (float *)xmalloc((size_t)T * (size_t)D * sizeof(float));
            }
            MPI_Gatherv(y, n * D, MPI_FLOAT, yall, ycnt, ydsp, MPI_FLOAT, 0, MPI_COMM_WORLD);
            if (r == 0 && memcmp(yall, yref, (size_t)T * (size_t)D * sizeof(float)) != 0) fail = 1;
        }
    }
    MPI_Allreduce(&fail, &all_fail, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (all_fail && r == 0) {
        double mx = 0, d = 0;
        for (i = 0; i < (size_t)T * (size_t)D; i++) { mx = fmax(mx, fabs(yref[i])); d = fmax(d, fabs((double)yall[i] - yref[i])); }
        snprintf(chk, sizeof chk, "FAIL (not bitwise, max diff %.2g of max |y|)", mx > 0 ? d / mx : d);
    } else
        snprintf(chk, sizeof chk, "bitwise");
    {
        double fl = 2.0 * 3.0 * D * (double)c->d_ff * k * T + 2.0 * 3.0 * D * (double)c->d_ff_shared * S * T;
        print_row("prefill", S ? (shared_local ? "a2a/shl" : "a2a/sh0") : "a2a", T, &st, fl / 1e9, "GFLOP/s", chk);
    }
    free(so); free(sc); free(y); free(wl); free(se); free(il); free(xs); free(is); free(wsb); free(tcnt); free(rcnt);
    free(c1); free(d1); free(c2); free(d2); free(bc); free(bd); free(rbc); free(rbd);
    free(xr); free(wr); free(sor); free(back); free(rback); free(yall); free(ir); free(ycnt); free(ydsp);
    return all_fail;
}

/* ---- options ---------------------------------------------------------------------------- */
static int same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        int x = *a >= 'A' && *a <= 'Z' ? *a + 32 : *a, y = *b >= 'A' && *b <= 'Z' ? *b + 32 : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}
static void usage(void)
{
    if (g_rank == 0)
        fprintf(stderr, "usage: mpirun -np P mpi_moe [-t TYPE] [-m decode|prefill|both] [-d T,T,...] [-p T] [-r reps]\n"
                        "       [-s seed] [-S n_shared] [-H local|rank0] [-c slots|gather|partial|all] [-D d_model,d_ff,E,k]\n");
    MPI_Finalize();
    exit(2);
}
static void parse(opts *o, int argc, char **argv)
{
    int i;
    memset(o, 0, sizeof *o);
    o->type = MOE_TYPE_Q4_K; o->decode = o->prefill = 1;
    o->dec_T[0] = 1; o->dec_T[1] = 8; o->n_dec = 2;
    o->pre_T = 256; o->reps = 3; o->seed = 1234; o->dec_kinds = 7;
    o->D = 2048; o->F = 768; o->E = 128; o->K = 8;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' || !a[1] || a[2] || !v) usage();
        i++;
        switch (a[1]) {
        case 't': {
            int t;
            for (t = 0; t < MOE_TYPE_COUNT && !same_name(moe_type_name((moe_type)t), v); t++) {}
            if (t == MOE_TYPE_COUNT) usage();
            o->type = (moe_type)t;
            break;
        }
        case 'm':
            if (!strcmp(v, "decode")) o->prefill = 0;
            else if (!strcmp(v, "prefill")) o->decode = 0;
            else if (strcmp(v, "both")) usage();
            break;
        case 'd': {
            char *end;
            const char *p = v;
            o->n_dec = 0;
            while (*p && o->n_dec < 8) {
                long t = strtol(p, &end, 10);
                if (end == p || t < 1 || t > 4096) usage();
                o->dec_T[o->n_dec++] = (int)t;
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',') usage();
            }
            break;
        }
        case 'p': o->pre_T = atoi(v); if (o->pre_T < 1 || o->pre_T > 65536) usage(); break;
        case 'r': o->reps = atoi(v); if (o->reps < 1 || o->reps > MAX_REPS) usage(); break;
        case 's': o->seed = strtoull(v, NULL, 10); break;
        case 'S': o->S = atoi(v); if (o->S < 0 || o->S > 8) usage(); break;
        case 'H':
            if (!strcmp(v, "rank0")) o->shared_rank0 = 1;
            else if (strcmp(v, "local")) usage();
            break;
        case 'c':
            if (!strcmp(v, "slots")) o->dec_kinds = 1;
            else if (!strcmp(v, "gather")) o->dec_kinds = 2;
            else if (!strcmp(v, "partial")) o->dec_kinds = 4;
            else if (!strcmp(v, "all")) o->dec_kinds = 7;
            else usage();
            break;
        case 'D':
            if (sscanf(v, "%d,%d,%d,%d", &o->D, &o->F, &o->E, &o->K) != 4 || o->D < 1 || o->F < 1 || o->E < 1 ||
                o->K < 1 || o->K > o->E)
                usage();
            break;
        default: usage();
        }
    }
}

int main(int argc, char **argv)
{
    opts o;
    shard s;
    float *xd[8], *ydref[8], *xp = NULL, *ypref = NULL;
    int P, i, fail = 0, max_tok, kind;
    double t_setup = 0, held, held_max;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    parse(&o, argc, argv);
    memset(&s, 0, sizeof s);
    s.rank = g_rank; s.P = P;
    s.cfg = moe_config_default();
    s.cfg.d_model = o.D; s.cfg.d_ff = o.F; s.cfg.n_experts = o.E; s.cfg.top_k = o.K;
    s.cfg.score = MOE_SCORE_SOFTMAX; s.cfg.norm_topk = 1; s.cfg.act = MOE_ACT_SWIGLU;   /* Qwen3-MoE */
    s.cfg.n_shared = o.S; s.cfg.d_ff_shared = o.S ? o.F : 0;
    s.cfg.n_threads = 1;
    s.e_lo = (int)((long long)o.E * g_rank / P); s.e_hi = (int)((long long)o.E * (g_rank + 1) / P);
    {   /* every MPI count below is an int */
        double most = (double)(o.pre_T > 8 ? o.pre_T : 8) * (double)(o.K + o.S) * (double)o.D;
        if (most * P > INT_MAX) die("-p or the shape too large for int MPI counts");
    }
    max_tok = o.pre_T;
    for (i = 0; i < o.n_dec; i++) if (o.dec_T[i] > max_tok) max_tok = o.dec_T[i];

    /* inputs: the same on every rank */
    for (i = 0; i < o.n_dec; i++) {
        xd[i] = (float *)xmalloc((size_t)o.dec_T[i] * (size_t)o.D * sizeof(float));
        ydref[i] = (float *)xmalloc((size_t)o.dec_T[i] * (size_t)o.D * sizeof(float));
        fill_uniform(xd[i], (size_t)o.dec_T[i] * (size_t)o.D, o.seed, 100 + (unsigned long long)i, 1.0f);
    }
    if (o.prefill) {
        xp = (float *)xmalloc((size_t)o.pre_T * (size_t)o.D * sizeof(float));
        ypref = (float *)xmalloc((size_t)o.pre_T * (size_t)o.D * sizeof(float));
        fill_uniform(xp, (size_t)o.pre_T * (size_t)o.D, o.seed, 200, 1.0f);
    }

    /* the reference: rank 0 builds every expert, runs the layer in one process, then drops the
       experts it does not own */
    t_setup = now();
    make_weights(&s, &o, g_rank == 0);
    build_layer(&s, &o, max_tok);
    if (g_rank == 0) {
        for (i = 0; i < o.n_dec && o.decode; i++)
            ok_or_die(moe_forward(&s.layer, xd[i], o.dec_T[i], ydref[i], s.work, s.work_size), "reference (decode)");
        if (o.prefill) ok_or_die(moe_forward(&s.layer, xp, o.pre_T, ypref, s.work, s.work_size), "reference (prefill)");
        for (i = 0; i < o.E; i++)
            if (i < s.e_lo || i >= s.e_hi) { free(s.blocks[i]); s.blocks[i] = NULL; }
        build_layer(&s, &o, max_tok);
    }
    for (i = 0; i < o.n_dec && o.decode; i++) MPI_Bcast(ydref[i], o.dec_T[i] * o.D, MPI_FLOAT, 0, MPI_COMM_WORLD);
    t_setup = now() - t_setup;

    held = 0;
    for (i = 0; i < o.E; i++) held += s.blocks[i] ? (double)s.blk : 0;
    for (i = 0; i < o.S; i++) held += s.sblocks[i] ? (double)s.sblk : 0;
    MPI_Reduce(&held, &held_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (g_rank == 0) {
        printf("mpi_moe: P=%d, %s, d_model %d, %d experts of d_ff %d, top-%d, %d shared%s; kernels %s, 1 thread per rank\n",
               P, moe_type_name(o.type), o.D, o.E, o.F, o.K, o.S,
               o.S ? (o.shared_rank0 ? " (prefill: on rank 0)" : " (prefill: on every rank, own tokens)") : "", moe_simd_name());
        printf("  expert weights held: %.1f MB on the busiest rank, %.1f MB the whole layer (+ %.2f MB router on each);"
               " setup %.1f s (reference on rank 0)\n",
               held_max / 1e6, ((double)o.E * (double)s.blk + (double)o.S * (double)s.sblk) / 1e6,
               (double)o.E * o.D * 4 / 1e6, t_setup);
        print_header();
    }
    if (o.decode)
        for (i = 0; i < o.n_dec; i++)
            for (kind = 0; kind < DEC_KINDS; kind++)
                if (o.dec_kinds >> kind & 1) fail |= run_decode(&s, &o, o.dec_T[i], kind, xd[i], ydref[i]);
    if (o.prefill) fail |= run_prefill(&s, &o, o.pre_T, xp, ypref);
    if (g_rank == 0) printf("%s\n", fail ? "mpi_moe: FAILED: an output differs from the single-process run" : "mpi_moe: all outputs match the single-process run");

    for (i = 0; i < o.n_dec; i++) { free(xd[i]); free(ydref[i]); }
    free(xp); free(ypref);
    for (i = 0; i < o.E; i++) free(s.blocks[i]);
    for (i = 0; i < o.S; i++) free(s.sblocks[i]);
    free(s.blocks); free(s.sblocks); free(s.dummy); free(s.router); free(s.sgate_w); free(s.work);
    free((void *)s.tg); free((void *)s.tu); free((void *)s.td); free((void *)s.tsg); free((void *)s.tsu); free((void *)s.tsd);
    MPI_Finalize();
    return fail ? 1 : 0;
}
