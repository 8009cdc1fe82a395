/* qsort and bsearch over pseudo-random integers and strings. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t lcg = 12345;
static uint32_t next(void) { return lcg = lcg * 1103515245u + 12345u; }

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum { N = 100000, S = 2000 };

int main(void) {
    static int v[N];
    for (int i = 0; i < N; i++) v[i] = (int)(next() >> 1) - (1 << 30);
    qsort(v, N, sizeof v[0], cmp_int);
    uint64_t h = 0;
    for (int i = 0; i < N; i++) {
        if (i && v[i - 1] > v[i]) {
            printf("FAIL: not sorted at %d\n", i);
            return 1;
        }
        h = h * 1000003 + (uint32_t)v[i];
    }
    printf("ints: min %d median %d max %d hash %llu\n", v[0], v[N / 2], v[N - 1],
           (unsigned long long)h);
    int key = v[N / 3];
    int *found = bsearch(&key, v, N, sizeof v[0], cmp_int);
    printf("bsearch found %d\n", found && *found == key);

    static char buf[S][16];
    static char *s[S];
    for (int i = 0; i < S; i++) {
        int len = 1 + next() % 12;
        for (int k = 0; k < len; k++) buf[i][k] = 'a' + next() % 26;
        buf[i][len] = 0;
        s[i] = buf[i];
    }
    qsort(s, S, sizeof s[0], cmp_str);
    printf("strings: first %s last %s\n", s[0], s[S - 1]);
    for (int i = 0; i < S; i += 400) printf("  s[%d]=%s\n", i, s[i]);
    return 0;
}
