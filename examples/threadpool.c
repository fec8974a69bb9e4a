/* threadpool.c - bring your own thread pool.

   moe.h needs no threading library. Built without OpenMP, it runs serially unless the caller
   passes a parallel_for through moe_run_opts; this file implements one with a few pthreads:

       parallel_for(pool, task, ctx, n): run task(ctx, i, worker) for every i in [0, n) and
       return when all are done; worker < n_threads, and no two tasks that run at the same time
       share a worker number (moe.h gives each worker its own slot of the workspace).

   The pool's threads keep fixed worker numbers 1..n-1 and the calling thread is worker 0.
   The program checks that every thread count gives the same output, bit for bit, as a serial
   run (moe.h promises results that do not depend on the thread count).

       cc -std=c99 -O2 -pthread -I. examples/threadpool.c -o threadpool -lm && ./threadpool
*/
#define _POSIX_C_SOURCE 200809L
#define MOE_IMPLEMENTATION
#include "moe.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the pool ------------------------------------------------------------------------------ */
#define POOL_MAX_THREADS 64

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* a new job was posted, or quit          */
    pthread_cond_t done;        /* the last task of the job finished      */
    pthread_t threads[POOL_MAX_THREADS];
    int n_threads;              /* including the caller (worker 0)        */
    /* the current job, guarded by mu */
    moe_task_fn task;
    void *ctx;
    int n_tasks, next, finished;
    unsigned generation;
    int quit;
} pool;

typedef struct worker_arg { pool *p; int worker; } worker_arg;
static worker_arg worker_args[POOL_MAX_THREADS];

/* Claim task indices until none are left. Called with p->mu held; returns with it held. */
static void pool_drain(pool *p, int worker) {
    while (p->next < p->n_tasks) {
        int i = p->next++;
        moe_task_fn task = p->task;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        task(ctx, i, worker);
        pthread_mutex_lock(&p->mu);
        if (++p->finished == p->n_tasks) pthread_cond_signal(&p->done);
    }
}

static void *pool_thread(void *arg) {
    worker_arg *a = (worker_arg *)arg;
    pool *p = a->p;
    unsigned seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->generation == seen && !p->quit) pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        pool_drain(p, a->worker);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* The moe_parallel_for_fn. */
static void pool_parallel_for(void *pool_ptr, moe_task_fn task, void *task_ctx, int n_tasks) {
    pool *p = (pool *)pool_ptr;
    if (n_tasks <= 0) return;
    pthread_mutex_lock(&p->mu);
    p->task = task;
    p->ctx = task_ctx;
    p->n_tasks = n_tasks;
    p->next = 0;
    p->finished = 0;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pool_drain(p, 0);                                   /* the caller works too, as worker 0 */
    while (p->finished < p->n_tasks) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static int pool_start(pool *p, int n_threads) {
    int i;
    memset(p, 0, sizeof *p);
    if (n_threads < 1 || n_threads > POOL_MAX_THREADS) return -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->n_threads = n_threads;
    for (i = 1; i < n_threads; i++) {
        worker_args[i].p = p;
        worker_args[i].worker = i;
        if (pthread_create(&p->threads[i], NULL, pool_thread, &worker_args[i]) != 0) {
            p->n_threads = i;   /* the ones started so far */
            return -1;
        }
    }
    return 0;
}

static void pool_stop(pool *p) {
    int i;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
}

/* ---- random weights (xorshift32) ----------------------------------------------------------- */
static unsigned rng_state = 88172645u;
static float *random_array(size_t n, float scale) {
    float *v = (float *)malloc(n * sizeof *v);
    size_t i;
    if (!v) return NULL;
    for (i = 0; i < n; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 17;
        rng_state ^= rng_state << 5;
        v[i] = ((float)(rng_state >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
    return v;
}

int main(void) {
    enum { D_MODEL = 256, D_FF = 512, N_EXPERTS = 16, TOP_K = 4, N_TOKENS = 32, MAX_THREADS = 4 };
    const size_t D = D_MODEL, F = D_FF, E = N_EXPERTS, T = N_TOKENS;
    float *router = random_array(E * D, 1.0f / 16.0f);
    float *gate = random_array(E * F * D, 1.0f / 16.0f);
    float *up = random_array(E * F * D, 1.0f / 16.0f);
    float *down = random_array(E * D * F, 1.0f / sqrtf((float)D_FF));
    float *x = random_array(T * D, 1.0f);
    float *y_serial = (float *)malloc(T * D * sizeof(float));
    float *y = (float *)malloc(T * D * sizeof(float));
    moe_config cfg = moe_config_default();
    moe_weights w;
    moe_layer layer;
    moe_run_opts opts;
    moe_status s;
    void *work = NULL;
    size_t n_work = 0;
    int n, rc = 1;

    if (!router || !gate || !up || !down || !x || !y_serial || !y) { fprintf(stderr, "out of memory\n"); goto out; }
    cfg.d_model = D_MODEL; cfg.d_ff = D_FF; cfg.n_experts = N_EXPERTS; cfg.top_k = TOP_K;
    cfg.n_threads = MAX_THREADS;            /* the workspace gets one slot per worker */
    memset(&w, 0, sizeof w);
    w.router.data = router; w.gate.data = gate; w.up.data = up; w.down.data = down;
    if ((s = moe_layer_init(&layer, &cfg, &w)) != MOE_OK) { fprintf(stderr, "init: %s\n", moe_status_string(s)); goto out; }
    n_work = moe_workspace_size(&layer, N_TOKENS);
    if (n_work == 0 || !(work = malloc(n_work))) { fprintf(stderr, "no workspace\n"); goto out; }

    /* Serial reference: one thread, no parallel_for. */
    memset(&opts, 0, sizeof opts);
    opts.n_threads = 1;
    if ((s = moe_forward_ex(&layer, x, N_TOKENS, y_serial, work, n_work, &opts)) != MOE_OK) {
        fprintf(stderr, "serial: %s\n", moe_status_string(s));
        goto out;
    }
    printf("moe.h with a caller's thread pool: %d tokens, %d experts, top-%d, simd %s\n",
           N_TOKENS, N_EXPERTS, TOP_K, moe_simd_name());

    for (n = 1; n <= MAX_THREADS; n++) {
        pool p;
        if (pool_start(&p, n) != 0) { fprintf(stderr, "pool_start(%d) failed\n", n); pool_stop(&p); goto out; }
        memset(&opts, 0, sizeof opts);
        opts.n_threads = n;
        opts.parallel_for = pool_parallel_for;
        opts.pool = &p;
        memset(y, 0xff, T * D * sizeof(float));           /* poison: every value must be written */
        s = moe_forward_ex(&layer, x, N_TOKENS, y, work, n_work, &opts);
        pool_stop(&p);
        if (s != MOE_OK) { fprintf(stderr, "%d threads: %s\n", n, moe_status_string(s)); goto out; }
        if (memcmp(y, y_serial, T * D * sizeof(float)) != 0) {
            fprintf(stderr, "%d threads: output differs from the serial run\n", n);
            goto out;
        }
        printf("%d thread%s: y[0..2] = %+.6f %+.6f %+.6f  bitwise equal to serial\n", n,
               n == 1 ? " " : "s", (double)y[0], (double)y[1], (double)y[2]);
    }
    rc = 0;
out:
    free(work); free(y); free(y_serial); free(x); free(down); free(up); free(gate); free(router);
    return rc;
}
