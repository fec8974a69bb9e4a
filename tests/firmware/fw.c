/* fw.c - examples/noheap.c run as firmware: the same layer (f32 router, Q4_0 experts quantised
   with moe_quantize into static buffers, or Q8_0 with -DNOHEAP_Q8_0), one static arena of
   -DARENA_BYTES, moe_forward and moe_route, then the result printed in a form that a host and a
   Cortex-M print identically: every float as the hex of its bits, plus an FNV-1a checksum.

   Built twice from this one file:
     firmware (-DFW_SEMIHOSTING, with startup.c): output through Arm semihosting SYS_WRITE0,
       exit through SYS_EXIT; no stdio, no heap. qemu-system-arm -semihosting-config
       enable=on,target=native prints it (on stderr, or on the chardev named by chardev=) and
       exits with status 0, or 1 when the firmware failed.
     host (cc -DMOE_SIMD_SCALAR): prints the reference; `fw --compare FILE` judges a board's
       output against it and `fw --workspace` prints the arena size the firmware build uses.
   Both with -ffp-contract=off: the scalar kernels then do the same IEEE single-precision
   operations in the same order on both; only libm's expf may differ (tests/firmware/run.sh
   says how the comparison deals with that). Lines starting with '#' are information and not
   compared (moe_workspace_size depends a little on sizeof(size_t)). */
#include <stddef.h>

void fw_write(const char *s);       /* one NUL-terminated string, no newline added */
void fw_exit(int status);           /* 0: pass; anything else: fail. Does not return. */
void fw_assert_fail(int line);

/* noheap.c's MOE_ASSERT would spin in a loop; on a board under qemu, exit with a message */
#define MOE_ASSERT(x) ((x) ? (void)0 : fw_assert_fail(__LINE__))
#define NO_PRINTF                   /* noheap.c: no printf; this file prints */
#define NOHEAP_NO_MAIN              /* noheap.c: no main; this file has it */
#include "../../examples/noheap.c"

#ifndef FW_SEMIHOSTING
#include <stdio.h>
#include <stdlib.h>
void fw_write(const char *s) { fputs(s, stdout); }
void fw_exit(int status) { fflush(stdout); exit(status); }
#endif

/* ---- output: no printf, so that newlib and glibc cannot format anything differently ------- */
static char fw_line[128];
static size_t fw_len;

static void put_s(const char *s) {
    while (*s && fw_len + 1 < sizeof fw_line) fw_line[fw_len++] = *s++;
}
static void put_u(unsigned long v) {
    char buf[24];
    int n = 0;
    do { buf[n++] = (char)('0' + v % 10u); v /= 10u; } while (v);
    while (n && fw_len + 1 < sizeof fw_line) fw_line[fw_len++] = buf[--n];
}
static void put_i(long v) {
    if (v < 0) { put_s("-"); put_u(0ul - (unsigned long)v); } else put_u((unsigned long)v);
}
static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static void put_x(uint32_t v) {
    static const char hex[] = "0123456789abcdef";
    int i;
    for (i = 28; i >= 0; i -= 4) { char c[2]; c[0] = hex[(v >> i) & 15u]; c[1] = 0; put_s(c); }
}
static void flush_line(void) {
    fw_line[fw_len++] = '\n';
    fw_line[fw_len] = 0;
    fw_write(fw_line);
    fw_len = 0;
}

void fw_assert_fail(int line) {
    fw_len = 0;
    put_s("FAIL: MOE_ASSERT at moe.h line "); put_i(line); flush_line();
    fw_exit(2);
}

static uint32_t fnv1a(uint32_t h, uint32_t v) {
    int i;
    for (i = 0; i < 4; i++) { h ^= (v >> (8 * i)) & 0xffu; h *= 16777619u; }
    return h;
}

static void print_result(moe_status s) {
    size_t need = moe_workspace_size(&layer, N_TOKENS);
    uint32_t h = 2166136261u;
    int t, i;

    put_s("moe.h noheap layer: "); put_s(moe_type_name(EXPERT_TYPE)); put_s(" experts, d_model ");
    put_i(D_MODEL); put_s(", d_ff "); put_i(D_FF); put_s(", "); put_i(N_EXPERTS);
    put_s(" experts, top-"); put_i(TOP_K); put_s(", "); put_i(N_TOKENS); put_s(" tokens");
    flush_line();
    put_s("# kernels "); put_s(moe_simd_name()); put_s(", moe_workspace_size "); put_u((unsigned long)need);
    put_s(" bytes, static arena "); put_u((unsigned long)sizeof arena.bytes); put_s(" bytes");
    flush_line();
    if (s != MOE_OK) {
        put_s("FAIL: "); put_s(moe_status_string(s)); flush_line();
        fw_exit(1);
    }
    for (t = 0; t < N_TOKENS; t++) {
        put_s("token "); put_i(t); put_s(": experts");
        for (i = 0; i < TOP_K; i++) { put_s(" "); put_i(ids[t][i]); }
        put_s(", weights");
        for (i = 0; i < TOP_K; i++) { put_s(" "); put_x(bits_of(weights[t][i])); }
        flush_line();
        for (i = 0; i < D_MODEL; i++) {
            uint32_t b = bits_of(y[t][i]);
            h = fnv1a(h, b);
            if (i % 8 == 0) { put_s("y["); put_i(t); put_s("]["); put_i(i); put_s("]"); }
            put_s(" "); put_x(b);
            if (i % 8 == 7) flush_line();
        }
    }
    put_s("checksum fnv1a(y bits) "); put_x(h); put_s(", sum(y) ~ ");
    put_i((long)(noheap_result * 1e6f)); put_s("e-6"); flush_line();
}

#ifdef FW_SEMIHOSTING
int main(void) {
    print_result(run());
    return 0;                       /* startup.c: semihosting exit, status 0 */
}
#else
/* ---- host: the reference, and the judge of a board's output ------------------------------- */
#include <math.h>

#ifndef FW_TOL
#define FW_TOL 1e-6     /* |y_board - y_host| <= FW_TOL * max_i |y_host[t][i]|, per token t: an
                           expf 1 ulp off moves y by about 2e-7 of that (measured with every
                           expf call 1 ulp up, then down); a real fault by 1e-3 and more */
#endif
#define FW_TOL_W 1e-6   /* routing weights (in [0, 1]): absolute */

static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static long ulps(float a, float b) {    /* distance in units in the last place, same sign */
    long ia = (long)bits_of(a), ib = (long)bits_of(b);
    if (ia & 0x80000000l) ia = 0x80000000l - ia;
    if (ib & 0x80000000l) ib = 0x80000000l - ib;
    return ia > ib ? ia - ib : ib - ia;
}

/* Reads a board's output (file) and checks it against this build's own result: the first line
   and the expert ids exactly, every float within the tolerance, or bit for bit with exact != 0.
   Prints one summary line; returns 0 when it passes. */
static int compare(const char *file, int exact) {
    FILE *f = fopen(file, "r");
    char ln[512], want[128];
    int rows = 0, tokens = 0, same = 0, n = 0, bad = 0, saw_sum = 0;
    long worst_ulp = 0;
    double worst = 0.0;
    if (!f) { printf("cannot read %s\n", file); return 1; }
    fw_len = 0;
    put_s("moe.h noheap layer: "); put_s(moe_type_name(EXPERT_TYPE)); put_s(" experts, d_model ");
    put_i(D_MODEL); put_s(", d_ff "); put_i(D_FF); put_s(", "); put_i(N_EXPERTS);
    put_s(" experts, top-"); put_i(TOP_K); put_s(", "); put_i(N_TOKENS); put_s(" tokens");
    fw_line[fw_len] = 0; memcpy(want, fw_line, fw_len + 1); fw_len = 0;
    if (!fgets(ln, sizeof ln, f) || strncmp(ln, want, strlen(want)) != 0 || ln[strlen(want)] != '\n') {
        printf("first line differs: want \"%s\"\n", want);
        fclose(f);
        return 1;
    }
    while (fgets(ln, sizeof ln, f)) {
        unsigned v[8], h;
        int t, i, k, a, b, c, d;
        if (ln[0] == '#') continue;
        if (!strncmp(ln, "FAIL", 4)) { printf("board says: %s", ln); bad++; continue; }
        if (sscanf(ln, "token %d: experts %d %d, weights %x %x", &t, &a, &b, &v[0], &v[1]) == 5
            && TOP_K == 2 && t == tokens && t < N_TOKENS) {
            if (a != ids[t][0] || b != ids[t][1]) { printf("token %d: experts %d %d, host %d %d\n", t, a, b, ids[t][0], ids[t][1]); bad++; }
            for (i = 0; i < 2; i++) {
                float w = float_of((uint32_t)v[i]), r = weights[t][i];
                n++; same += bits_of(w) == bits_of(r);
                if (ulps(w, r) > worst_ulp) worst_ulp = ulps(w, r);
                if (exact ? bits_of(w) != bits_of(r) : !(fabs((double)w - (double)r) <= FW_TOL_W)) {
                    printf("token %d weight %d: %.9g, host %.9g\n", t, i, (double)w, (double)r);
                    bad++;
                }
            }
            tokens++;
        } else if (sscanf(ln, "y[%d][%d] %x %x %x %x %x %x %x %x", &t, &k, &v[0], &v[1], &v[2], &v[3],
                          &v[4], &v[5], &v[6], &v[7]) == 10 && t >= 0 && t < tokens && k == rows % (D_MODEL / 8) * 8
                   && rows / (D_MODEL / 8) == t) {
            double scale = 0.0;
            for (i = 0; i < D_MODEL; i++) if (fabs((double)y[t][i]) > scale) scale = fabs((double)y[t][i]);
            for (i = 0; i < 8; i++) {
                float yb = float_of((uint32_t)v[i]), r = y[t][k + i];
                double e = fabs((double)yb - (double)r) / (scale > 0.0 ? scale : 1.0);
                n++; same += bits_of(yb) == bits_of(r);
                if (ulps(yb, r) > worst_ulp) worst_ulp = ulps(yb, r);
                if (e > worst || e != e) worst = e;
                if (exact ? bits_of(yb) != bits_of(r) : !(e <= FW_TOL)) {
                    printf("y[%d][%d]: %.9g, host %.9g\n", t, k + i, (double)yb, (double)r);
                    bad++;
                }
            }
            rows++;
        } else if (sscanf(ln, "checksum fnv1a(y bits) %x, sum(y) ~ %de-6", &h, &c) == 2) {
            d = (int)(noheap_result * 1e6f);
            saw_sum = 1;
            if (exact && (c != d)) { printf("sum(y) %de-6, host %de-6\n", c, d); bad++; }
        } else {
            printf("unexpected line: %s", ln);
            bad++;
        }
    }
    fclose(f);
    if (tokens != N_TOKENS || rows != N_TOKENS * D_MODEL / 8 || !saw_sum) {
        printf("incomplete output: %d of %d tokens, %d of %d rows%s\n", tokens, N_TOKENS, rows,
               N_TOKENS * D_MODEL / 8, saw_sum ? "" : ", no checksum line");
        bad++;
    }
    if (same == n && !bad) printf("bit-exact (%d of %d values)\n", same, n);
    else printf("%s (%d of %d values bit-exact, worst %ld ulp, |dy| <= %.2g of the token's max |y|)\n",
                bad ? (exact ? "not bit-exact" : "not within the bound") : "within the bound", same, n,
                worst_ulp, worst);
    return bad != 0;
}

/* fw                      print the result (the reference a board's output is compared with)
   fw --workspace          print moe_workspace_size() of the layer: the build sizes the firmware's
                           arena with it (this is the scalar path; with 8-byte size_t it bounds
                           the 32-bit figure from above)
   fw --compare FILE [--exact]   check a board's output; exit status 0 when it passes */
int main(int argc, char **argv) {
    moe_status s = run();
    if (argc == 2 && !strcmp(argv[1], "--workspace")) {
        size_t need = moe_workspace_size(&layer, N_TOKENS);
        if (need == 0) { fprintf(stderr, "fw: moe_workspace_size failed\n"); return 1; }
        printf("%lu\n", (unsigned long)need);
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "--compare")) {
        if (s != MOE_OK) { printf("host run failed: %s\n", moe_status_string(s)); return 1; }
        return compare(argv[2], argc >= 4 && !strcmp(argv[3], "--exact"));
    }
    if (argc != 1) { fprintf(stderr, "usage: %s [--workspace | --compare FILE [--exact]]\n", argv[0]); return 2; }
    print_result(s);
    fw_exit(0);
    return 0;
}
#endif
