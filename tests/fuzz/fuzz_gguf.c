/* fuzz_gguf.c - libFuzzer target: the input is a GGUF file. Opens it, walks every tensor info and
   a few keys, and loads layers 0-3; a loaded layer's pointers must lie in the file or the
   caller's memory, and a small one runs a forward pass.
       clang -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_gguf.c -lm
       ./a.out tests/fuzz/corpus/fuzz_gguf */
#define MOE_IMPLEMENTATION
#include "../../moe.h"
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    moe_gguf g;
    moe_file_tensor t;
    moe_config c;
    moe_weights w;
    fz_region r[2];
    size_t i, need, len;
    long long v;
    double d;
    const char *s;
    char key[64];
    int L;
    if (moe_gguf_open(&g, data, size) != MOE_OK) { FZ_ASSERT(g.error[0], "an error without a message"); return 0; }
    for (i = 0; i < g.n_tensors && i < 64; i++) {
        FZ_ASSERT(moe_gguf_tensor(&g, i, &t) == MOE_OK, "a tensor of an opened file");
        FZ_ASSERT(t.offset <= size && t.size <= size - t.offset && (const uint8_t *)t.data == data + t.offset, "tensor inside the file");
        FZ_ASSERT((const uint8_t *)t.name >= data && (const uint8_t *)t.name + t.name_len <= data + size, "name inside the file");
    }
    if (moe_gguf_get_str(&g, "general.name", &s, &len) == MOE_OK) FZ_ASSERT((const uint8_t *)s >= data && (const uint8_t *)s + len <= data + size, "string");
    snprintf(key, sizeof key, "%s.block_count", g.arch);
    (void)moe_gguf_get_int(&g, key, &v);
    snprintf(key, sizeof key, "%s.expert_weights_scale", g.arch);
    (void)moe_gguf_get_float(&g, key, &d);
    r[0].p = data; r[0].n = size;
    for (L = 0; L < 4; L++) {
        void *mem;
        if (moe_gguf_layer_mem(&g, L, &need) != MOE_OK) { FZ_ASSERT(g.error[0], "an error without a message"); continue; }
        if (need > ((size_t)1 << 26) || !(mem = malloc(need ? need : 1))) continue;
        if (moe_gguf_layer(&g, L, &c, &w, mem, need) == MOE_OK) {
            r[1].p = (const unsigned char *)mem; r[1].n = need;
            fz_check_layer(&c, &w, r, 2);
        } else FZ_ASSERT(0, "layer_mem succeeded but the layer did not");
        free(mem);
    }
    return 0;
}
