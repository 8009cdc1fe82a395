/* Allocator churn: many small blocks (the brk heap) and large ones (mmap,
 * above glibc's 128 KiB threshold), realloc growth, explicit sbrk and
 * anonymous mmap/munmap; every block is filled and checked. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

enum { SLOTS = 512, ROUNDS = 20000 };

int main(void) {
    static unsigned char *slot[SLOTS];
    static size_t size[SLOTS];
    uint64_t checksum = 0, large = 0;
    for (int r = 0; r < ROUNDS; r++) {
        int i = next() % SLOTS;
        if (slot[i]) {
            for (size_t k = 0; k < size[i]; k += 97) checksum += slot[i][k] ^ (k & 0xff);
            if (slot[i][size[i] - 1] != (unsigned char)(i + size[i])) {
                printf("FAIL: block %d corrupted\n", i);
                return 1;
            }
            free(slot[i]);
            slot[i] = NULL;
            continue;
        }
        size_t n = (next() % 8 == 0) ? 128 * 1024 + next() % (512 * 1024) : 1 + next() % 2000;
        large += n > 128 * 1024;
        slot[i] = malloc(n);
        if (!slot[i]) {
            printf("FAIL: malloc(%zu)\n", n);
            return 1;
        }
        memset(slot[i], (int)(n & 0xff), n);
        slot[i][n - 1] = (unsigned char)(i + n);
        size[i] = n;
    }
    for (int i = 0; i < SLOTS; i++) free(slot[i]);

    char *grow = NULL;
    size_t len = 0;
    for (int step = 1; step <= 200; step++) {
        grow = realloc(grow, len + step * 100);
        if (!grow) return 1;
        memset(grow + len, 'a' + step % 26, step * 100);
        len += step * 100;
    }
    uint64_t g = 0;
    for (size_t k = 0; k < len; k++) g = g * 131 + (unsigned char)grow[k];
    free(grow);

    void *before = sbrk(0);
    if (sbrk(1 << 20) == (void *)-1) return 1;
    memset(before, 0x5a, 1 << 20);
    int brk_ok = sbrk(0) == (char *)before + (1 << 20);
    sbrk(-(1 << 20));

    size_t map_len = 4 << 20;
    unsigned char *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 1;
    int zero = 1;
    for (size_t k = 0; k < map_len; k += 4096) zero &= m[k] == 0;
    for (size_t k = 0; k < map_len; k += 4096) m[k] = (unsigned char)k;
    munmap(m, map_len);

    printf("rounds %d, large blocks %llu, checksum %llu\n", ROUNDS, (unsigned long long)large,
           (unsigned long long)checksum);
    printf("realloc grew to %zu bytes, hash %llu\n", len, (unsigned long long)g);
    printf("sbrk moved the break: %d\n", brk_ok);
    printf("mmap pages start zeroed: %d\n", zero);
    return 0;
}
