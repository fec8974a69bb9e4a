/* fuzz_safetensors.c - libFuzzer target: a safetensors checkpoint of 1-3 files plus its config.json.
   Input: u8 n_files-1 (mod 3), u8 layer (mod 4), u8 flags, u16 config length, the config text,
   then the files: each but the last preceded by its u32 length, the last takes the rest.
   Opens the files (the index in a heap block of exactly the size asked), walks the tensors and
   metadata, reads the shard list of the config text as if it were an index.json, and loads the
   layer; a loaded layer's pointers must lie in the files or the caller's memory, and a small
   one runs a forward pass. */
#define MOE_IMPLEMENTATION
#include "../../moe.h"
#include "fuzz_files.h"

static int has_word(const char *s, const char *w) { return strstr(s, w) != NULL; }
static uint32_t fz_rd(const uint8_t *p, int n) { uint32_t v = 0; int i; for (i = 0; i < n; i++) v |= (uint32_t)p[i] << (8 * i); return v; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const void *files[3];
    size_t sizes[3], at, need, cl, i;
    uint8_t *copy[3] = { NULL, NULL, NULL };
    int nf, L, f;
    unsigned flags;
    moe_st st;
    moe_file_tensor t;
    moe_config c;
    moe_weights w;
    fz_region r[4];
    char *cfg, names[512], out[64];
    void *ix, *mem;
    if (size < 5) return 0;
    nf = 1 + data[0] % 3; L = data[1] % 4; flags = data[2] & 1u;
    cl = fz_rd(data + 3, 2);
    at = 5;
    if (cl > size - at) cl = size - at;
    cfg = (char *)malloc(cl ? cl : 1);                 /* exact-size copies: ASan sees any overread */
    memcpy(cfg, data + at, cl);
    at += cl;
    for (f = 0; f < nf; f++) {
        size_t n = size - at;
        if (f < nf - 1) {
            if (size - at < 4) { nf = f; break; }
            n = fz_rd(data + at, 4); at += 4;
            if (n > size - at) n = size - at;
        }
        copy[f] = (uint8_t *)malloc(n ? n : 1);
        memcpy(copy[f], data + at, n);
        files[f] = copy[f]; sizes[f] = n;
        at += n;
    }
    if (moe_st_index_shards(&st, cfg, cl, names, sizeof names, &f) == MOE_OK) FZ_ASSERT(f >= 0, "shards");
    if (nf < 1 || moe_st_mem_size(&st, files, sizes, nf, &need) != MOE_OK || need > ((size_t)1 << 26)) goto done;
    ix = malloc(need);
    if (moe_st_open(&st, files, sizes, nf, ix, need) != MOE_OK) {      /* overlaps and duplicates show here */
        FZ_ASSERT(has_word(st.error, "overlap") || has_word(st.error, "twice"), "open failed after mem_size for another reason");
        free(ix);
        goto done;
    }
    for (i = 0; i < st.n_tensors && i < 64; i++) {
        FZ_ASSERT(moe_st_tensor(&st, i, &t) == MOE_OK, "a tensor of an opened file");
        FZ_ASSERT(t.file >= 0 && t.file < nf && t.offset <= sizes[t.file] && t.size <= sizes[t.file] - t.offset, "tensor inside its file");
        FZ_ASSERT(moe_st_find(&st, t.name, &t) == MOE_OK || strlen(t.name) != t.name_len, "find by its own name");
    }
    for (f = 0; f < nf; f++) (void)moe_st_metadata(&st, f, "format", out, sizeof out);
    for (f = 0; f < nf; f++) { r[f].p = copy[f]; r[f].n = sizes[f]; }
    if (moe_st_layer_mem(&st, cfg, cl, L, flags, &need) == MOE_OK && need <= ((size_t)1 << 26) && (mem = malloc(need ? need : 1))) {
        FZ_ASSERT(moe_st_layer(&st, cfg, cl, L, flags, &c, &w, mem, need) == MOE_OK, "layer_mem succeeded but the layer did not");
        r[nf].p = (const unsigned char *)mem; r[nf].n = need;
        fz_check_layer(&c, &w, r, nf + 1);
        free(mem);
    } else FZ_ASSERT(st.error[0], "an error without a message");
    free(ix);
done:
    for (f = 0; f < 3; f++) free(copy[f]);
    free(cfg);
    return 0;
}
