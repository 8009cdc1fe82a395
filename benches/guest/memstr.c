/* memcpy/strlen loop: our own word-at-a-time memcpy and a byte strlen over
 * buffers in guest memory (.bss), with pseudo-random lengths and offsets. */
#include "workload.h"

#define BUF 8192
#define MAXLEN 2048

typedef u64 __attribute__((may_alias)) word;

static u8 src[BUF];
static u8 dst[BUF];

__attribute__((noinline)) static void *my_memcpy(void *d, const void *s, u64 len)
{
    u8 *dp = d;
    const u8 *sp = s;
    /* Word copy for the bulk (unaligned words are fine on x86), bytes for the tail. */
    while (len >= 8) {
        *(word *)dp = *(const word *)sp;
        dp += 8;
        sp += 8;
        len -= 8;
    }
    while (len--)
        *dp++ = *sp++;
    return d;
}

__attribute__((noinline)) static u64 my_strlen(const u8 *s)
{
    const u8 *p = s;
    while (*p)
        p++;
    return (u64)(p - s);
}

long run(long n)
{
    u64 seed = 12345;
    u64 sum = 0;
    for (u64 i = 0; i < BUF; i++)
        src[i] = (u8)('a' + i % 26);
    for (long i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ul + 1442695040888963407ul;
        u64 len = (seed >> 33) % MAXLEN;
        u64 off = (seed >> 45) % (BUF - MAXLEN - 1);
        u8 saved = src[len];
        src[len] = 0;
        my_memcpy(dst + off, src, len + 1);
        src[len] = saved;
        u64 l = my_strlen(dst + off);
        sum = sum * 31 + l + dst[off + l / 2];
    }
    return (long)sum;
}
