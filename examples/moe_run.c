/* moe_run.c - run one MoE layer of a real checkpoint, straight from its files.

   Maps a GGUF file, or a safetensors checkpoint (one file, several shards, or a directory with
   config.json and *.safetensors), lists its MoE layers (architecture, shapes, types, routing
   options) and runs one of them on T tokens: the routing histogram, time per token and the
   weight bytes streamed per second.

       cc -O2 -march=native -fopenmp examples/moe_run.c -o moe_run -lm
       ./moe_run Qwen3-30B-A3B-Q4_K_M.gguf --list
       ./moe_run Qwen3-30B-A3B-Q4_K_M.gguf -l 5 -t 16
       ./moe_run ~/models/Mixtral-8x7B-v0.1/ -l 0 -t 1          (config.json + shards in the directory)
       ./moe_run -c config.json model-00001-of-00002.safetensors model-00002-of-00002.safetensors -l 3

   Options: -l LAYER (default: the first MoE layer)  -t TOKENS (1)  -x FILE (TOKENS x d_model
   float32 little-endian; default: random)  -n ITERS (10)  -j THREADS (0: all)  --list
   --transpose (allow transposed copies of experts stored [in][out]: Llama 4, gpt-oss bf16)
   --prepack (batches read moe_prepack's tiles, made once, instead of repacking per call)
   --int8 (cfg.batch_quant = MOE_BATCH_INT8: Q8_0 batches on 8-bit activations)
   --amx (cfg.batch_amx = 1 after moe_amx_enable(): AMX tiles; a build with -DMOE_AMX and the
   -mamx flags on a CPU with AMX, else it says why not) */
#define _POSIX_C_SOURCE 200809L
#define MOE_IMPLEMENTATION
#include "../moe.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 1024

typedef struct model {
    int gguf;
    moe_gguf g;
    moe_st st;
    void *index;
    const void *map[MAX_FILES];
    size_t size[MAX_FILES];
    int n_files;
    char *config;
    size_t config_len;
    unsigned flags;
    char *err;
} model;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "moe_run: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}
static const void *map_file(const char *path, size_t *size)
{
    struct stat sb;
    void *p;
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &sb) != 0) die("cannot open", path);
    *size = (size_t)sb.st_size;
    p = mmap(NULL, *size ? *size : 1, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) die("cannot map", path);
    return p;
}
static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || !(s = (char *)malloc((size_t)n + 1)) || fread(s, 1, (size_t)n, f) != (size_t)n) die("cannot read", path);
    fclose(f);
    s[n] = 0;
    *len = (size_t)n;
    return s;
}
static int ends_with(const char *s, const char *t) { size_t a = strlen(s), b = strlen(t); return a >= b && !strcmp(s + a - b, t); }
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* the shards of a directory: model.safetensors.index.json's, else every *.safetensors */
static int dir_shards(const char *dir, char **paths)
{
    char p[4096], *idx, names[1 << 16];
    size_t len;
    int n = 0, i;
    moe_st tmp;
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    if ((idx = read_text(p, &len))) {
        size_t at = 0;
        if (moe_st_index_shards(&tmp, idx, len, names, sizeof names, &n) != MOE_OK) die("bad index.json", tmp.error);
        for (i = 0; i < n && i < MAX_FILES; i++, at += strlen(names + at) + 1) {
            snprintf(p, sizeof p, "%s/%s", dir, names + at);
            paths[i] = strdup(p);
        }
        free(idx);
        return i;
    }
    {
        DIR *d = opendir(dir);
        struct dirent *e;
        if (!d) die("cannot open directory", dir);
        while ((e = readdir(d)) && n < MAX_FILES)
            if (ends_with(e->d_name, ".safetensors")) { snprintf(p, sizeof p, "%s/%s", dir, e->d_name); paths[n++] = strdup(p); }
        closedir(d);
        qsort(paths, (size_t)n, sizeof *paths, cmp_str);
    }
    return n;
}
static void open_model(model *m, char **inputs, int n_in, const char *config)
{
    char *paths[MAX_FILES], cfgpath[4096];
    struct stat sb;
    int i, n = 0;
    size_t need;
    memset(m, 0, sizeof *m);
    if (n_in == 1 && stat(inputs[0], &sb) == 0 && S_ISDIR(sb.st_mode)) {
        n = dir_shards(inputs[0], paths);
        if (!config) { snprintf(cfgpath, sizeof cfgpath, "%s/config.json", inputs[0]); config = cfgpath; }
    } else for (i = 0; i < n_in && n < MAX_FILES; i++) paths[n++] = strdup(inputs[i]);
    if (n == 0) die("no model files", NULL);
    for (i = 0; i < n; i++) m->map[i] = map_file(paths[i], &m->size[i]);
    m->n_files = n;
    if (m->size[0] >= 4 && !memcmp(m->map[0], "GGUF", 4)) {
        if (n != 1) die("give one GGUF file (split GGUF files are not read)", NULL);
        m->gguf = 1;
        m->err = m->g.error;
        if (moe_gguf_open(&m->g, m->map[0], m->size[0]) != MOE_OK) die(paths[0], m->g.error);
    } else {
        if (!config) {                               /* config.json next to the first shard */
            const char *slash = strrchr(paths[0], '/');
            snprintf(cfgpath, sizeof cfgpath, "%.*s%sconfig.json", slash ? (int)(slash - paths[0]) : 0, paths[0], slash ? "/" : "");
            config = cfgpath;
        }
        if (!(m->config = read_text(config, &m->config_len))) die("cannot read the config (-c config.json)", config);
        m->err = m->st.error;
        if (moe_st_mem_size(&m->st, m->map, m->size, n, &need) != MOE_OK) die("safetensors", m->st.error);
        if (!(m->index = malloc(need))) die("out of memory", NULL);
        if (moe_st_open(&m->st, m->map, m->size, n, m->index, need) != MOE_OK) die("safetensors", m->st.error);
    }
    printf("%s: %d file%s, %s", paths[0], n, n > 1 ? "s" : "", m->gguf ? "GGUF" : "safetensors");
    if (m->gguf) printf(" v%u, architecture %s, %zu tensors\n", m->g.version, m->g.arch, m->g.n_tensors);
    else printf(", %zu tensors, config %s\n", m->st.n_tensors, config);
    for (i = 0; i < n; i++) free(paths[i]);
}
static moe_status layer_mem(model *m, int L, size_t *need)
{
    return m->gguf ? moe_gguf_layer_mem(&m->g, L, need) : moe_st_layer_mem(&m->st, m->config, m->config_len, L, m->flags, need);
}
static moe_status load_layer(model *m, int L, moe_config *c, moe_weights *w, void **mem)
{
    size_t need = 0;
    moe_status s;
    *mem = NULL;
    if ((s = layer_mem(m, L, &need))) return s;
    if (!(*mem = malloc(need ? need : 1))) die("out of memory for the layer's tables", NULL);
    return m->gguf ? moe_gguf_layer(&m->g, L, c, w, *mem, need) : moe_st_layer(&m->st, m->config, m->config_len, L, m->flags, c, w, *mem, need);
}

/* ---- describing a layer ---- */
static const char *type_of(const moe_tensor *t) { return (t->data || t->expert_data) ? moe_type_name(t->type) : "-"; }
/* bytes of one [rows][cols] matrix of t, scales included */
static double mat_bytes(const moe_tensor *t, int rows, int cols)
{
    double b;
    if (!t->data && !t->expert_data) return 0;
    if (t->scale || t->expert_scale) {
        if (t->type == MOE_TYPE_MXFP4) return (double)rows * cols / 2 + (double)rows * cols / 32;   /* nibbles + E8M0 */
        return (double)rows * cols + 4.0 * ceil((double)rows / t->scale_rows) * ceil((double)cols / t->scale_cols);
    }
    b = (double)moe_type_row_size(t->type, (size_t)cols);
    return b * rows;
}
static double expert_bytes(const moe_config *c, const moe_weights *w)
{
    return mat_bytes(&w->gate, c->d_ff, c->d_model) + mat_bytes(&w->up, c->d_ff, c->d_model) +
           mat_bytes(&w->gate_up, 2 * c->d_ff, c->d_model) + mat_bytes(&w->down, c->d_model, c->d_ff);
}
static double shared_bytes(const moe_config *c, const moe_weights *w)
{
    return c->n_shared * (mat_bytes(&w->shared_gate, c->d_ff_shared, c->d_model) + mat_bytes(&w->shared_up, c->d_ff_shared, c->d_model) +
                          mat_bytes(&w->shared_down, c->d_model, c->d_ff_shared));
}
static void describe(int L, const moe_config *c, const moe_weights *w)
{
    static const char *const acts[] = { "swiglu", "geglu", "gelu", "relu", "swiglu_oai" };
    static const char *const scores[] = { "softmax", "sigmoid", "softmax_topk" };
    const moe_tensor *ex = (w->gate_up.data || w->gate_up.expert_data) ? &w->gate_up : &w->up;
    printf("  layer %3d  E %4d k %2d  d_model %5d d_ff %5d", L, c->n_experts, c->top_k, c->d_model, c->d_ff);
    if (c->n_shared) printf(" shared %dx%d", c->n_shared, c->d_ff_shared);
    printf("  router %s experts %s/%s%s%s", type_of(&w->router), type_of(ex), type_of(&w->down),
           ex == &w->gate_up ? (w->gate_up_layout == MOE_GATE_UP_INTERLEAVED ? " fused-interleaved" : " fused") : "",
           ex->expert_data ? " per-expert" : "");
    printf("  %s %s%s", acts[c->act], scores[c->score], c->norm_topk ? " norm" : "");
    if (c->routed_scale != 1.0f) printf(" scale %g", (double)c->routed_scale);
    if (c->n_group > 1) printf(" groups %d/%d %s", c->topk_group, c->n_group, c->group_score == MOE_GROUP_TOP2_SUM ? "top2" : "max");
    if (w->selection_bias) printf(" sel-bias");
    if (w->router_bias) printf(" router-bias");
    if (w->gate_up_bias || w->gate_bias || w->down_bias) printf(" expert-bias");
    if (w->shared_gate_w) printf(" shared-gate");
    if (c->weight_on_input) printf(" weight-on-input");
    printf("  %.4g MB/expert\n", expert_bytes(c, w) / 1e6);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    char *inputs[MAX_FILES];
    const char *config = NULL, *xfile = NULL;
    int n_in = 0, L = -1, T = 1, iters = 10, threads = 0, list = 0, i, first = -1, n_moe = 0, n_dense = 0;
    unsigned flags = 0;
    int prepack = 0, int8 = 0, amx = 0;
    void *pk = NULL;
    model m;
    moe_config c;
    moe_weights w;
    moe_layer layer;
    moe_run_opts opts;
    moe_status s;
    void *mem = NULL, *work;
    float *x, *y, *wts;
    int *ids, *hist, touched = 0;
    size_t wsz;
    double t0, dt, bytes;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "-l") && i + 1 < argc) L = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) T = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-x") && i + 1 < argc) xfile = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-j") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--list")) list = 1;
        else if (!strcmp(argv[i], "--transpose")) flags = MOE_LOAD_TRANSPOSE;
        else if (!strcmp(argv[i], "--prepack")) prepack = 1;
        else if (!strcmp(argv[i], "--int8")) int8 = 1;
        else if (!strcmp(argv[i], "--amx")) amx = 1;
        else if (argv[i][0] == '-') { fprintf(stderr, "usage: moe_run MODEL... [-c config.json] [-l LAYER] [-t TOKENS] [-x FILE] [-n ITERS] [-j THREADS] [--list] [--transpose] [--prepack] [--int8] [--amx]\n"); return 2; }
        else if (n_in < MAX_FILES) inputs[n_in++] = argv[i];
    }
    if (n_in == 0 || T < 1 || iters < 1) { fprintf(stderr, "usage: moe_run MODEL... [-c config.json] [-l LAYER] [-t TOKENS] [-x FILE] [-n ITERS] [-j THREADS] [--list] [--transpose] [--prepack] [--int8] [--amx]\n"); return 2; }
    open_model(&m, inputs, n_in, config);
    m.flags = flags;

    /* the layers: MoE ones described, dense ones counted, errors shown */
    printf("MoE layers:\n");
    for (i = 0;; i++) {
        size_t need;
        s = layer_mem(&m, i, &need);
        if (s == MOE_ERR_ARG) break;
        if (s == MOE_ERR_DENSE) { n_dense++; continue; }
        if (s != MOE_OK) { printf("  layer %3d  %s: %s\n", i, moe_status_string(s), m.err); if (i > 4096) break; continue; }
        if (first < 0) first = i;
        n_moe++;
        if (list || i == (L < 0 ? first : L)) {
            if ((s = load_layer(&m, i, &c, &w, &mem)) == MOE_OK) describe(i, &c, &w);
            else printf("  layer %3d  %s: %s\n", i, moe_status_string(s), m.err);
            free(mem); mem = NULL;
        }
    }
    printf("%d layers: %d MoE, %d dense\n", i, n_moe, n_dense);
    if (list) return 0;
    if (L < 0) L = first;
    if (L < 0) die("no MoE layer in this model", NULL);

    /* run it */
    if ((s = load_layer(&m, L, &c, &w, &mem)) != MOE_OK) die(moe_status_string(s), m.err);
    c.n_threads = threads;
    if (int8) c.batch_quant = MOE_BATCH_INT8;
    if (amx) {
        if (!moe_amx_enable()) die("--amx", "AMX tiles are not usable: this build lacks MOE_AMX (-DMOE_AMX -mamx-tile -mamx-int8 -mamx-bf16), or the CPU or OS lacks AMX");
        c.batch_amx = 1;
    }
    if ((s = moe_layer_init(&layer, &c, &w)) != MOE_OK) die("moe_layer_init", moe_layer_error(&layer));
    wsz = moe_workspace_size(&layer, T);
    if (prepack) {                      /* the integer-batch experts' tiles, made once */
        size_t n = moe_prepack_size(&layer);
        if (n == 0) printf("nothing to pre-pack: no expert of this layer runs integer batches\n");
        else {
            double tp = now_s();
            if (!(pk = malloc(n))) die("out of memory for the pre-packed tiles", NULL);
            if ((s = moe_prepack(&layer, pk, n)) != MOE_OK) die(moe_status_string(s), moe_layer_error(&layer));
            printf("pre-packed %.4g MB of tiles (%.2fx the experts' weights) in %.3f s\n", n / 1e6,
                   (double)n / ((double)c.n_experts * expert_bytes(&c, &w)), now_s() - tp);
        }
    }
    x = (float *)malloc((size_t)T * c.d_model * sizeof(float));
    y = (float *)malloc((size_t)T * c.d_model * sizeof(float));
    ids = (int *)malloc((size_t)T * c.top_k * sizeof(int));
    wts = (float *)malloc((size_t)T * c.top_k * sizeof(float));
    hist = (int *)calloc((size_t)c.n_experts, sizeof(int));
    work = malloc(wsz);
    if (!x || !y || !ids || !wts || !hist || !work) die("out of memory", NULL);
    if (xfile) {
        size_t n;
        const unsigned char *p = (const unsigned char *)map_file(xfile, &n);
        if (n < (size_t)T * c.d_model * 4) die("input file too short for TOKENS x d_model float32", xfile);
        for (i = 0; i < T * c.d_model; i++) { uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24; memcpy(&x[i], &u, 4); }
    } else {
        unsigned r = 12345u;
        for (i = 0; i < T * c.d_model; i++) {              /* sum of 4 uniforms: roughly normal */
            float v = 0;
            int k;
            for (k = 0; k < 4; k++) { r = r * 1664525u + 1013904223u; v += (float)(r >> 8) / 16777216.0f - 0.5f; }
            x[i] = v * 1.7f;
        }
    }
    memset(&opts, 0, sizeof opts);
    opts.ids_out = ids; opts.weights_out = wts;
    if ((s = moe_forward_ex(&layer, x, T, y, work, wsz, &opts)) != MOE_OK) die("moe_forward", moe_status_string(s));
    t0 = now_s();
    for (i = 0; i < iters; i++) moe_forward(&layer, x, T, y, work, wsz);
    dt = (now_s() - t0) / iters;

    for (i = 0; i < T * c.top_k; i++) hist[ids[i]]++;
    for (i = 0; i < c.n_experts; i++) touched += hist[i] > 0;
    printf("layer %d, %d token%s: routing (expert: tokens)\n", L, T, T > 1 ? "s" : "");
    for (i = 0; i < c.n_experts; i++) if (hist[i]) printf("  %4d: %-5d %.*s\n", i, hist[i], hist[i] * 60 / (T * c.top_k) + 1, "############################################################");
    printf("  %d of %d experts used; token 0 -> ", touched, c.n_experts);
    for (i = 0; i < c.top_k; i++) printf("%d (%.3f)%s", ids[i], (double)wts[i], i + 1 < c.top_k ? ", " : "\n");
    {
        double ss = 0;
        for (i = 0; i < c.d_model; i++) ss += (double)y[i] * y[i];
        uint32_t h = 2166136261u;                       /* FNV-1a of y's bytes: runs compare bit for bit */
        const unsigned char *yb = (const unsigned char *)y;
        for (i = 0; i < (int)((size_t)T * c.d_model * sizeof(float)); i++) h = (h ^ yb[i]) * 16777619u;
        printf("  |y[0]| = %.4g%s, y hash %08x\n", sqrt(ss), ss == ss ? "" : "  (non-finite)", (unsigned)h);
    }
    bytes = touched * expert_bytes(&c, &w) + shared_bytes(&c, &w) + mat_bytes(&w.router, c.n_experts, c.d_model);
    printf("%.3f ms per call, %.1f us per token, %.4g MB of weights read per call, %.2f GB/s (%s, %d thread%s)\n",
           dt * 1e3, dt * 1e6 / T, bytes / 1e6, bytes / dt / 1e9, moe_simd_name(), layer.n_threads, layer.n_threads > 1 ? "s" : "");
    free(x); free(y); free(ids); free(wts); free(hist); free(work); free(mem); free(pk); free(m.index); free(m.config);
    return 0;
}
