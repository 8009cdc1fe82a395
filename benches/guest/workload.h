/* Shared declarations for the bench workloads.
 * Each workload defines `long run(long n)`: n scales the amount of work
 * linearly and the return value is a checksum of everything computed, so
 * the emulated run can be compared with the same C compiled for the host. */
#ifndef WORKLOAD_H
#define WORKLOAD_H

typedef unsigned long u64;
typedef unsigned char u8;

long run(long n);

#endif
