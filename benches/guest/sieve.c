/* Sieve of Eratosthenes over a byte array in guest memory, n rounds with a
 * limit that varies per round; the checksum mixes the prime counts. */
#include "workload.h"

#define SIZE 32768

static u8 composite[SIZE];

long run(long n)
{
    u64 sum = 0;
    for (long r = 0; r < n; r++) {
        u64 limit = SIZE - ((u64)r & 1023);
        for (u64 i = 0; i < limit; i++)
            composite[i] = 0;
        u64 count = 0;
        for (u64 i = 2; i < limit; i++) {
            if (composite[i])
                continue;
            count++;
            for (u64 j = i * i; j < limit; j += i)
                composite[j] = 1;
        }
        sum = sum * 1000003 + count;
    }
    return (long)sum;
}
