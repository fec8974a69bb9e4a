/* fuzz_json.c - libFuzzer target: the JSON reader of moe.h on any bytes. Checks the document;
   when it passes, walks every value (keys and strings decoded, numbers read), and uses it as a
   config.json against a small valid safetensors file and as an index.json. Invariants: a
   checked document walks without error, decoded strings are valid UTF-8 no longer than their
   source, integers read exactly. */
#define MOE_IMPLEMENTATION
#include "../../moe.h"
#include "fuzz_files.h"

static void fz_walk(const moe__js *j, size_t at, int depth)
{
    char buf[512];
    size_t it = 0, k, v, n, q, members = 0;
    moe_status s;
    double d;
    int isint;
    uint64_t u;
    FZ_ASSERT(depth <= MOE__JSON_DEPTH, "depth");
    if (j->p[at] == '{') {
        while (moe__js_next(j, at, &it, &k, &v)) {
            q = k;
            if (moe__js_str(j, &q, buf, sizeof buf, &n, &s)) {
                size_t r = 0;
                FZ_ASSERT(n < sizeof buf && buf[n] == 0, "decoded key");
                while (r < n) { size_t l = moe__utf8((const unsigned char *)buf + r, n - r); if (!l) break; r += l; }
                FZ_ASSERT(r == n || memchr(buf, 0, n), "decoded key is UTF-8");
                if (members++ < 8) (void)moe__js_get(j, at, buf, &q);     /* bounded: quadratic otherwise */
            }
            fz_walk(j, v, depth + 1);
        }
    } else if (j->p[at] == '[') {
        while (moe__js_elem(j, at, &it, &v)) fz_walk(j, v, depth + 1);
    } else if (j->p[at] == '"') {
        q = at;
        FZ_ASSERT(moe__js_str(j, &q, NULL, 0, &n, &s), "a checked string decodes");
        FZ_ASSERT(n <= q - at - 2, "decoded no longer than the source");
    } else if (j->p[at] == '-' || (j->p[at] >= '0' && j->p[at] <= '9')) {
        q = at;
        FZ_ASSERT(moe__js_num(j, &q, &d, &isint, &u) == MOE_OK, "a checked number reads");
        FZ_ASSERT(d == d && d <= 1.7976931348623157e308 && d >= -1.7976931348623157e308, "finite");
        if (isint && q - at < 16) { uint64_t e = 0; size_t i; for (i = at; i < q; i++) e = e * 10 + (uint64_t)(j->p[i] - '0'); FZ_ASSERT(e == u, "exact integer"); }
    }
}

static unsigned char g_file[1 << 16];
static size_t g_file_n;
static void fz_make_file(void)                      /* a qwen3_moe layer 0: 2 experts, d_model 32, d_ff 32, f32 */
{
    static const char *const names[] = { "model.layers.0.mlp.gate.weight", "model.layers.0.mlp.experts.0.gate_proj.weight",
        "model.layers.0.mlp.experts.0.up_proj.weight", "model.layers.0.mlp.experts.0.down_proj.weight",
        "model.layers.0.mlp.experts.1.gate_proj.weight", "model.layers.0.mlp.experts.1.up_proj.weight",
        "model.layers.0.mlp.experts.1.down_proj.weight" };
    char hdr[2048];
    size_t n = 0, off = 0, i, bytes;
    n += (size_t)snprintf(hdr, sizeof hdr, "{");
    for (i = 0; i < 7; i++) {
        bytes = i ? 32 * 32 * 4 : 2 * 32 * 4;
        n += (size_t)snprintf(hdr + n, sizeof hdr - n, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%d,32],\"data_offsets\":[%zu,%zu]}",
                              i ? "," : "", names[i], i ? 32 : 2, off, off + bytes);
        off += bytes;
    }
    hdr[n++] = '}';
    while (n % 8) hdr[n++] = ' ';
    for (i = 0; i < 8; i++) g_file[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(g_file + 8, hdr, n);
    for (i = 0; i < off; i += 4) { float v = (float)((i * 37) % 17) * 0.01f; memcpy(g_file + 8 + n + i, &v, 4); }
    g_file_n = 8 + n + off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[MOE__ERRCAP], names[256];
    moe__js j;
    moe_st st;
    moe_config c;
    moe_weights w;
    size_t need;
    const void *p;
    int n;
    static unsigned char ix[1 << 15];
    static moe_st g_st;
    char *copy = (char *)malloc(size ? size : 1);
    memcpy(copy, data, size);
    j.p = (const unsigned char *)copy; j.n = size; j.err = err;
    err[0] = 0;
    if (moe__js_check(&j) == MOE_OK) fz_walk(&j, moe__js_ws(&j, 0), 0);
    else FZ_ASSERT(err[0], "an error without a message");
    (void)moe_st_index_shards(&st, copy, size, names, sizeof names, &n);
    if (!g_file_n) {                                 /* opened once: the index is reused */
        fz_make_file();
        p = g_file;
        FZ_ASSERT(moe_st_open(&g_st, &p, &g_file_n, 1, ix, sizeof ix) == MOE_OK, "the fixed file opens");
    }
    st = g_st;
    if (moe_st_layer_mem(&st, copy, size, 0, 0, &need) == MOE_OK) {
        void *mem = malloc(need ? need : 1);
        fz_region r[2];
        FZ_ASSERT(moe_st_layer(&st, copy, size, 0, 0, &c, &w, mem, need) == MOE_OK, "layer_mem succeeded but the layer did not");
        r[0].p = g_file; r[0].n = g_file_n; r[1].p = (const unsigned char *)mem; r[1].n = need;
        fz_check_layer(&c, &w, r, 2);
        free(mem);
    }
    free(copy);
    return 0;
}
