/* replay_main.c - a main() for the fuzz targets without libFuzzer: calls LLVMFuzzerTestOneInput
   once on every file named on the command line, and on every regular file in every directory
   named (not recursive; in name order, so runs are reproducible). Works with gcc and clang; build
   it with the target and a sanitizer, e.g.
       gcc -std=c99 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
           tests/fuzz/fuzz_forward.c tests/fuzz/replay_main.c -lm -o replay_forward
       ./replay_forward tests/fuzz/corpus/fuzz_forward
   A broken invariant aborts and a sanitizer report ends the process, so the last line,
   "N passed, 0 failed" (N = inputs replayed), only appears when every input passed. An
   unreadable file or directory counts as a failure; no input at all is an error. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <dirent.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0, got;
    if (!f) { fprintf(stderr, "replay: cannot open %s\n", path); return 0; }
    for (;;) {
        if (n == cap) {
            unsigned char *nb;
            cap = cap ? 2 * cap : 4096;
            nb = (unsigned char *)realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); fprintf(stderr, "replay: out of memory\n"); return 0; }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) { fclose(f); free(buf); fprintf(stderr, "replay: cannot read %s\n", path); return 0; }
    fclose(f);
    /* an exact-size copy, so ASan sees reads past the input's end */
    {
        unsigned char *exact = (unsigned char *)malloc(n ? n : 1);
        if (n) memcpy(exact, buf, n);
        free(buf);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
    }
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

int main(int argc, char **argv)
{
    long passed = 0, failed = 0;
    int i;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]); failed++; continue; }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *de;
            char **names = NULL;
            size_t nn = 0, cap = 0, j;
            if (!d) { fprintf(stderr, "replay: cannot open directory %s\n", argv[i]); failed++; continue; }
            while ((de = readdir(d)) != NULL) {
                size_t len;
                char *p;
                if (de->d_name[0] == '.') continue;
                len = strlen(argv[i]) + strlen(de->d_name) + 2;
                p = (char *)malloc(len);
                snprintf(p, len, "%s/%s", argv[i], de->d_name);
                if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) { free(p); continue; }
                if (nn == cap) { cap = cap ? 2 * cap : 64; names = (char **)realloc(names, cap * sizeof *names); }
                names[nn++] = p;
            }
            closedir(d);
            if (nn) qsort(names, nn, sizeof *names, cmp_str);
            for (j = 0; j < nn; j++) {
                if (run_file(names[j])) passed++; else failed++;
                free(names[j]);
            }
            free(names);
        } else {
            if (run_file(argv[i])) passed++; else failed++;
        }
    }
    if (passed + failed == 0) { fprintf(stderr, "usage: %s corpus-dir-or-file...\n", argv[0]); return 2; }
    printf("%ld passed, %ld failed\n", passed, failed);
    return failed ? 1 : 0;
}
