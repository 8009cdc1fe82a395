/* Integer loop: xorshift64 generator mixed into an FNV-style hash with
 * multiplies, rotates, shifts and a data-dependent branch. Register-only. */
#include "workload.h"

static inline u64 rotl(u64 x, unsigned k) { return (x << k) | (x >> (64 - k)); }

long run(long n)
{
    u64 x = 0x9E3779B97F4A7C15ul;
    u64 h = 0xcbf29ce484222325ul;
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        h = (h ^ (x & 0xff)) * 0x100000001b3ul;
        h += (h >> 29) ^ (u64)i;
        if (x & 1)
            h = rotl(h, 5);
        else
            h -= x >> 3;
    }
    return (long)h;
}
